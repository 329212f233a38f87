//! COMPRESS=DEFLATE (RFC 4978): after `OK DEFLATE active` both directions carry
//! raw DEFLATE (RFC 1951, no zlib header), inside TLS when TLS is on. Each batch
//! of responses ends with a sync flush so the client can decode all of it at once.
//!
//! Inflating is bounded by the room the framer gives each read, so a small
//! compressed input that expands enormously is read a piece at a time under the
//! framer's usual limits, never all at once.
//!
//! A compressor holds some 200 KiB of tables, ten times what an idle session
//! needs otherwise. It is made on the first write and let go once the connection
//! has been quiet for [`REST_AFTER`].

use super::session::{Res, Session};
use crate::net::Stream;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use imap_codec::imap_types::extensions::compress::CompressionAlgorithm;
use imap_codec::imap_types::response::Code;
use std::io;
use std::time::Duration;

/// How long a connection is quiet before its compressor is let go.
pub const REST_AFTER: Duration = Duration::from_secs(2);

/// Compressed bytes read from the socket at a time.
const READ_CHUNK: usize = 4096;
/// Plain bytes deflated, and compressed bytes written, at a time.
const WRITE_CHUNK: usize = 32 * 1024;
/// Compressed input that yields nothing until more arrives is a partial block;
/// this much of it without a byte of output is not DEFLATE.
const MAX_STALLED_INPUT: usize = 64 * 1024;

/// The two DEFLATE streams of a connection.
pub struct Deflate {
    inflater: Decompress,
    /// Made on the first write after a rest.
    deflater: Option<Compress>,
    /// Compressed bytes received and not inflated yet, from `consumed` on.
    pending: Vec<u8>,
    consumed: usize,
    /// Compressed output, reused between writes.
    out: Vec<u8>,
}

impl Deflate {
    /// `received` is what the client sent after the COMPRESS command, already
    /// compressed.
    fn new(received: Vec<u8>) -> Box<Deflate> {
        Box::new(Deflate {
            inflater: Decompress::new(false),
            deflater: None,
            pending: received,
            consumed: 0,
            out: Vec::new(),
        })
    }

    /// Inflates pending input into `buf`'s spare room; returns the bytes added.
    fn inflate_into(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        if buf.len() == buf.capacity() {
            buf.reserve(READ_CHUNK);
        }
        let (before_in, before_out) = (self.inflater.total_in(), self.inflater.total_out());
        let status = self
            .inflater
            .decompress_vec(&self.pending[self.consumed..], buf, FlushDecompress::None)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.consumed += (self.inflater.total_in() - before_in) as usize;
        let produced = (self.inflater.total_out() - before_out) as usize;
        if status == Status::StreamEnd && produced == 0 {
            // The client ended its stream: nothing more can come.
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(produced)
    }

    /// Reads and inflates until at least one byte lands in `buf`; 0 when the
    /// client closed. Cancel-safe: received bytes wait in `pending`.
    async fn read_into(&mut self, stream: &mut Stream, buf: &mut Vec<u8>) -> io::Result<usize> {
        loop {
            // Even with all input consumed the inflater may hold output that did
            // not fit last time.
            let produced = self.inflate_into(buf)?;
            if produced > 0 {
                return Ok(produced);
            }
            self.pending.drain(..self.consumed);
            self.consumed = 0;
            if self.pending.len() > MAX_STALLED_INPUT {
                return Err(io::ErrorKind::InvalidData.into());
            }
            self.pending.reserve(READ_CHUNK);
            if stream.read_into(&mut self.pending).await? == 0 {
                return Ok(0);
            }
        }
    }

    /// Deflates `bytes`, ending with a sync flush, and writes them.
    async fn write_all(&mut self, stream: &mut Stream, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let mut chunks = bytes.chunks(WRITE_CHUNK).peekable();
        while let Some(chunk) = chunks.next() {
            let last = chunks.peek().is_none();
            self.deflate(chunk, if last { FlushCompress::Sync } else { FlushCompress::None })?;
            if last || self.out.len() >= WRITE_CHUNK {
                stream.write_all(&self.out).await?;
                self.out.clear();
            }
        }
        if self.out.capacity() > 2 * WRITE_CHUNK {
            self.out = Vec::new();
        }
        Ok(())
    }

    fn deflate(&mut self, input: &[u8], flush: FlushCompress) -> io::Result<()> {
        let deflater = self
            .deflater
            .get_or_insert_with(|| Compress::new(Compression::default(), false));
        deflate_into(deflater, &mut self.out, input, flush)
    }

    /// Drops the compressor and its buffer. Its last output ended with a sync
    /// flush, so the client has every byte; a new compressor refers back only to
    /// what it sent itself, which the client's inflater still holds.
    fn rest(&mut self) {
        self.deflater = None;
        self.out = Vec::new();
        crate::alloc::return_free_memory();
    }
}

fn deflate_into(deflater: &mut Compress, out: &mut Vec<u8>, mut input: &[u8], flush: FlushCompress) -> io::Result<()> {
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(WRITE_CHUNK);
        }
        let before = deflater.total_in();
        deflater
            .compress_vec(input, out, flush)
            .map_err(|e| io::Error::other(e.to_string()))?;
        input = &input[(deflater.total_in() - before) as usize..];
        // A flush is complete once a call leaves output room unused.
        let room_left = out.len() < out.capacity();
        if input.is_empty() && (room_left || flush == FlushCompress::None) {
            return Ok(());
        }
    }
}

/// Reads client bytes into `buf`, inflating them once COMPRESS is active.
pub async fn read_input(
    stream: &mut Stream,
    deflate: &mut Option<Box<Deflate>>,
    buf: &mut Vec<u8>,
) -> io::Result<usize> {
    match deflate {
        Some(d) => d.read_into(stream, buf).await,
        None => stream.read_into(buf).await,
    }
}

/// Writes responses, deflated once COMPRESS is active.
pub async fn write_output(stream: &mut Stream, deflate: &mut Option<Box<Deflate>>, bytes: &[u8]) -> io::Result<()> {
    match deflate {
        Some(d) => d.write_all(stream, bytes).await,
        None => stream.write_all(bytes).await,
    }
}

impl Session {
    /// Whether a compressor is held that a quiet spell should release.
    pub fn compressor_held(&self) -> bool {
        self.deflate.as_ref().is_some_and(|d| d.deflater.is_some())
    }

    /// Lets the compressor go (see the module comment).
    pub fn rest_compressor(&mut self) {
        if let Some(d) = self.deflate.as_mut() {
            d.rest();
        }
    }

    /// RFC 4978 3. The OK goes out uncompressed; everything after it is DEFLATE.
    pub async fn cmd_compress(&mut self, tag: &str, algorithm: CompressionAlgorithm) -> Res {
        if self.deflate.is_some() {
            self.out
                .no(tag, Some(Code::CompressionActive), "DEFLATE is already active");
            return Ok(());
        }
        if algorithm != CompressionAlgorithm::Deflate {
            self.out
                .no(tag, Some(super::response::code("CANNOT")), "Only DEFLATE is supported");
            return Ok(());
        }
        self.out.ok(tag, None, "DEFLATE active");
        self.flush().await?;
        // Whatever the client pipelined after the command was sent compressed.
        let received = self.framer.take_unread();
        self.deflate = Some(Deflate::new(received));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflated(plain: &[u8]) -> Vec<u8> {
        let mut c = Compress::new(Compression::fast(), false);
        let mut out = Vec::with_capacity(plain.len() + 1024);
        c.compress_vec(plain, &mut out, FlushCompress::Sync).unwrap();
        out
    }

    #[test]
    fn inflates_a_piece_at_a_time_within_the_room_given() {
        // 1 MiB of one byte compresses to about a kilobyte: a small bomb.
        let bomb = deflated(&vec![b'a'; 1 << 20]);
        assert!(bomb.len() < 8 * 1024);
        let mut d = Deflate::new(bomb);
        let mut buf = Vec::with_capacity(4096);
        let n = d.inflate_into(&mut buf).unwrap();
        assert_eq!((n, buf.len()), (4096, 4096), "no more than the room given");
        let mut total = n;
        while d.consumed < d.pending.len() || total < 1 << 20 {
            buf.clear();
            let n = d.inflate_into(&mut buf).unwrap();
            assert!(n <= 4096);
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, 1 << 20);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut d = Deflate::new(vec![0xff; 64]);
        let mut buf = Vec::with_capacity(4096);
        assert!(d.inflate_into(&mut buf).is_err());
    }

    #[test]
    fn sync_flushed_output_decodes_completely() {
        let mut d = Deflate::new(Vec::new());
        let plain: Vec<u8> = (0..200_000u32)
            .flat_map(|n| format!("* {n} FETCH (FLAGS (\\Seen))\r\n").into_bytes())
            .collect();
        d.deflate(&plain, FlushCompress::Sync).unwrap();
        let mut inflater = Decompress::new(false);
        let mut back = Vec::with_capacity(plain.len() + 16);
        inflater
            .decompress_vec(&d.out, &mut back, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(back, plain, "everything deflated so far decodes without more input");
    }
}
