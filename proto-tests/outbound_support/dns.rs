//! A tiny authoritative DNS server on loopback (UDP and TCP) answering from a
//! fixed table, so MX resolution runs for real without the internet. The wire
//! format is hickory-proto's.

use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

/// What a name has.
#[derive(Clone)]
pub enum Zone {
    /// MX records (preference, exchange; "." for a null MX).
    Mx(Vec<(u16, &'static str)>),
    A(Ipv4Addr),
}

pub struct FakeDns {
    pub addr: SocketAddr,
}

impl FakeDns {
    /// Serves `table` (lower-case names with the final dot); other names are NXDOMAIN.
    pub fn start(table: Vec<(&'static str, Zone)>) -> FakeDns {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
        let addr = udp.local_addr().unwrap();
        let tcp = TcpListener::bind(addr).expect("tcp on the same port");
        let t = table.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, peer)) = udp.recv_from(&mut buf) {
                if let Some(reply) = answer(&t, &buf[..n]) {
                    let _ = udp.send_to(&reply, peer);
                }
            }
        });
        std::thread::spawn(move || {
            for stream in tcp.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut len = [0u8; 2];
                if stream.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut query = vec![0u8; u16::from_be_bytes(len) as usize];
                if stream.read_exact(&mut query).is_err() {
                    continue;
                }
                if let Some(reply) = answer(&table, &query) {
                    let _ = stream.write_all(&(reply.len() as u16).to_be_bytes());
                    let _ = stream.write_all(&reply);
                }
            }
        });
        FakeDns { addr }
    }
}

fn answer(table: &[(&'static str, Zone)], query: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let q = query.queries().first()?.clone();
    let name = q.name().to_ascii().to_ascii_lowercase();
    let mut reply = Message::response(query.id(), query.op_code());
    reply.add_query(q.clone());
    reply.set_authoritative(true);
    reply.set_recursion_desired(query.recursion_desired());
    let known: Vec<&Zone> = table.iter().filter(|(n, _)| *n == name).map(|(_, z)| z).collect();
    if known.is_empty() {
        reply.set_response_code(ResponseCode::NXDomain);
    }
    for zone in known {
        let owner = q.name().clone();
        match (zone, q.query_type()) {
            (Zone::Mx(list), RecordType::MX) => {
                for (preference, exchange) in list {
                    let exchange = Name::from_ascii(exchange).ok()?;
                    reply.add_answer(Record::from_rdata(
                        owner.clone(),
                        60,
                        RData::MX(MX::new(*preference, exchange)),
                    ));
                }
            }
            (Zone::A(ip), RecordType::A) => {
                reply.add_answer(Record::from_rdata(owner, 60, RData::A(A(*ip))));
            }
            _ => {}
        }
    }
    reply.to_vec().ok()
}
