//! The connection under a protocol session, shared by SMTP and IMAP: plain TCP or
//! TLS, the STARTTLS upgrade, buffered writes and prompt ACKs.

use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while upgrading.
    Gone,
}

impl Stream {
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// Reads what is available, appending to `buf` (in its spare capacity, at least
    /// some bytes); 0 means the peer closed. Asks for prompt ACKs first (see
    /// [`Stream::ack_promptly`]).
    pub async fn read_into(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.ack_promptly();
        match self {
            Stream::Plain(s) => s.read_buf(buf).await,
            Stream::Tls(s) => s.read_buf(buf).await,
            Stream::Gone => Ok(0),
        }
    }

    /// Acknowledges the peer's next segments at once instead of after the delayed-ACK
    /// timer. A client that writes one command in several small pieces without
    /// TCP_NODELAY holds the later pieces back under Nagle until our ACK comes:
    /// Python's imaplib writes a literal and its closing CRLF apart, async-imap writes
    /// tag, space, command and CRLF apart, and each such command waited 40 ms.
    /// Linux leaves quick-ACK mode by itself, so this is asked before every read.
    fn ack_promptly(&self) {
        let tcp = match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref().0,
            Stream::Gone => return,
        };
        #[cfg(target_os = "linux")]
        let _ = socket2::SockRef::from(tcp).set_tcp_quickack(true);
        #[cfg(not(target_os = "linux"))]
        let _ = tcp;
    }

    pub async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(bytes).await,
            Stream::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    pub async fn shutdown(&mut self) {
        let _ = match self {
            Stream::Plain(s) => s.shutdown().await,
            Stream::Tls(s) => s.shutdown().await,
            Stream::Gone => Ok(()),
        };
    }

    /// The server side of a TLS handshake on a plain stream.
    pub async fn upgrade(&mut self, acceptor: &tokio_rustls::TlsAcceptor) -> io::Result<()> {
        match std::mem::replace(self, Stream::Gone) {
            Stream::Plain(tcp) => {
                *self = Stream::Tls(Box::new(acceptor.accept(tcp).await?));
                Ok(())
            }
            other => {
                *self = other;
                Err(io::ErrorKind::InvalidInput.into())
            }
        }
    }
}
