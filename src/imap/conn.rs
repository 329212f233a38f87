//! The connection under a session: plain TCP or TLS, the STARTTLS upgrade, and
//! buffered writes.

use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

/// Bytes asked for per read while reading command lines.
const READ_CHUNK: usize = 4096;
/// Bytes asked for per read while a large literal is coming.
const LITERAL_CHUNK: usize = 64 * 1024;

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

    /// Reads what is available into `buf` (appending); 0 means the peer closed.
    pub async fn read_into(&mut self, buf: &mut Vec<u8>, big: bool) -> io::Result<usize> {
        let want = if big { LITERAL_CHUNK } else { READ_CHUNK };
        if buf.capacity() - buf.len() < want {
            buf.reserve(want);
        }
        match self {
            Stream::Plain(s) => s.read_buf(buf).await,
            Stream::Tls(s) => s.read_buf(buf).await,
            Stream::Gone => Ok(0),
        }
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

    /// Performs the server side of a TLS handshake on a plain stream.
    pub async fn upgrade(&mut self, acceptor: &tokio_rustls::TlsAcceptor) -> io::Result<()> {
        match std::mem::replace(self, Stream::Gone) {
            Stream::Plain(tcp) => {
                let tls = acceptor.accept(tcp).await?;
                *self = Stream::Tls(Box::new(tls));
                Ok(())
            }
            other => {
                *self = other;
                Err(io::ErrorKind::InvalidInput.into())
            }
        }
    }
}
