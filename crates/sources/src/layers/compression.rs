//! Compressed streams: recognising gzip and zstd by their first bytes and wrapping a reader
//! in the right decoder.
//!
//! Every layer here is a `Read` over a `Read`, so any container (tar, a mongodump archive, a
//! BSON stream) can sit on top. [`CountingReader`] counts the compressed bytes consumed, which
//! gives both the progress bar and the byte offset in error messages; [`ReadAhead`] moves a
//! reader (typically the decompressor) onto its own thread so that decompression overlaps
//! with the work of the caller.

use std::io::{self, BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

/// How a stream is compressed, told by its first bytes (never by a file name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Neither gzip nor zstd: the bytes are read as they are.
    None,
    /// `1f 8b`; several concatenated members are one stream.
    Gzip,
    /// `28 b5 2f fd`, or a skippable frame `5? 2a 4d 18` in front of one.
    Zstd,
}

impl Compression {
    /// Recognises the compression from the first bytes of a stream (4 are enough).
    pub fn sniff(prefix: &[u8]) -> Compression {
        match prefix {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [b0, 0x2a, 0x4d, 0x18, ..] if b0 & 0xf0 == 0x50 => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// The name used in messages and reports: `uncompressed`, `gzip` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// The most a read-ahead thread asks its reader for in one call.
const READ_PIECE: usize = 64 << 10;

/// The largest zstd window accepted, as a power of two: 2^27 bytes = 128 MiB.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// A reader of decompressed bytes.
pub type DynRead = Box<dyn Read + Send>;

/// The decoder of one [`Compression`] over a reader: the one place where a stream told by its
/// first bytes gets its decoder (whole inputs, and members inside a tar). A plain stream is
/// read as it is, without a copy through a buffer; the decoders read through one.
pub enum Decoder<R: Read> {
    /// Not compressed: the bytes as they are.
    Plain(R),
    /// gzip, every member of a multi-member stream (boxed, like zstd: their state is large).
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<R>>>),
    /// zstd, with long-distance windows up to 2 GiB.
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<R>>>),
}

impl<R: Read> Decoder<R> {
    /// The decoder of `kind` over `reader`; a compressed stream is read through a buffer of
    /// `buffer` bytes.
    pub fn new(kind: Compression, reader: R, buffer: usize) -> io::Result<Self> {
        Ok(match kind {
            Compression::None => Decoder::Plain(reader),
            Compression::Gzip => {
                let buffered = BufReader::with_capacity(buffer, reader);
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)))
            }
            Compression::Zstd => {
                let buffered = BufReader::with_capacity(buffer, reader);
                let mut decoder = zstd::stream::read::Decoder::with_buffer(buffered)?;
                // Windows up to 128 MiB, the limit of the `zstd` tool itself without
                // `--long`/`--memory`: a frame header cannot make the decoder reserve more
                // (a damaged or crafted one asked for 2 GiB). Larger windows are refused with
                // zstd's own error, which the readers report with the input and position.
                decoder.window_log_max(ZSTD_WINDOW_LOG_MAX)?;
                Decoder::Zstd(Box::new(decoder))
            }
        })
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

/// A stream whose first bytes were read to tell its compression, put back in front.
pub type Sniffed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Looks at the first bytes of `reader` and returns the compression found with a decoder of
/// the stream; a compressed stream is read through a buffer of `buffer` bytes.
pub fn sniff_decoder<R: Read>(
    mut reader: R,
    buffer: usize,
) -> io::Result<(Compression, Decoder<Sniffed<R>>)> {
    let head = read_prefix(&mut reader, 4)?;
    let kind = Compression::sniff(&head);
    let sniffed = io::Cursor::new(head).chain(reader);
    Ok((kind, Decoder::new(kind, sniffed, buffer)?))
}

/// Looks at the first bytes of `reader` and returns the compression found with a reader of
/// the decompressed stream (the reader itself when it is not compressed).
pub fn decompress<R: Read + Send + 'static>(reader: R) -> io::Result<(Compression, DynRead)> {
    let (kind, decoder) = sniff_decoder(reader, 256 * 1024)?;
    Ok((kind, Box::new(decoder)))
}

/// Reads up to `n` bytes (fewer only at the end of the stream).
pub fn read_prefix<R: Read>(reader: &mut R, n: usize) -> io::Result<Vec<u8>> {
    let mut head = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// Counts the bytes read through it; the count is shared so that other threads (a progress
/// bar) and error messages can read the position.
pub struct CountingReader<R> {
    inner: R,
    position: Arc<AtomicU64>,
}

impl<R: Read> CountingReader<R> {
    /// Counts the bytes read from `inner`, starting at 0.
    pub fn new(inner: R) -> Self {
        CountingReader {
            inner,
            position: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A handle on the number of bytes read so far.
    pub fn position(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.position)
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.position.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Runs a reader on its own thread and hands its bytes over in blocks through a bounded
/// channel: the producer (e.g. a gzip decoder) works while the consumer parses what it got.
/// Memory in flight is at most `depth + 2` blocks.
pub struct ReadAhead {
    blocks: Receiver<io::Result<Vec<u8>>>,
    recycle: Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    finished: bool,
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Default block size: large enough to amortise channel hand-offs, small enough to keep
    /// memory low.
    pub const BLOCK: usize = 1 << 20;

    /// Moves `reader` onto a thread of its own (`bsonflow-read`), which reads it in blocks of
    /// `block` bytes and queues up to `depth` of them (at least 1). A read error is handed
    /// over after the bytes read before it, and ends the stream. Panics when the thread
    /// cannot be spawned.
    pub fn spawn<R: Read + Send + 'static>(mut reader: R, block: usize, depth: usize) -> Self {
        let (tx, blocks) = bounded::<io::Result<Vec<u8>>>(depth.max(1));
        let (recycle, spare) = bounded::<Vec<u8>>(depth.max(1) + 2);
        let thread = std::thread::Builder::new()
            .name("bsonflow-read".into())
            .spawn(move || loop {
                let mut buf = spare.try_recv().unwrap_or_default();
                buf.clear();
                buf.resize(block, 0);
                let mut filled = 0;
                let result = loop {
                    if filled == buf.len() {
                        break Ok(());
                    }
                    // At most 64 KiB per call: a decoder that fails drops what it produced
                    // in that call, so smaller calls put errors near where they are.
                    let end = (filled + READ_PIECE).min(buf.len());
                    match reader.read(&mut buf[filled..end]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(filled);
                let done = filled == 0 || result.is_err();
                if filled > 0 && tx.send(Ok(buf)).is_err() {
                    return; // the consumer went away
                }
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
                if done {
                    return;
                }
            })
            .expect("spawn the read-ahead thread");
        ReadAhead {
            blocks,
            recycle,
            current: Vec::new(),
            pos: 0,
            finished: false,
            thread: Some(thread),
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ReadAhead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.current.len() && !self.finished {
            match self.blocks.recv() {
                Ok(Ok(block)) => {
                    let old = std::mem::replace(&mut self.current, block);
                    let _ = self.recycle.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.finished = true;
                    return Err(e);
                }
                Err(_) => self.finished = true,
            }
        }
        Ok(&self.current[self.pos..])
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.current.len());
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Unblock the producer (it fails to send once the receiver is gone) and wait for it.
        let (_, dead) = bounded(0);
        self.blocks = dead;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How a read error of a (possibly decompressed) stream counts: an input error when the
/// system failed to read, damaged bytes when a decoder or parser refused what it read.
pub(crate) fn io_failure_kind(e: &io::Error) -> bsonflow_model::FailureKind {
    use bsonflow_model::FailureKind;
    // An error of the system (a read that failed) has an OS error code; the decoders and the
    // tar parser report damaged or cut data without one.
    if e.raw_os_error().is_some() {
        FailureKind::Input
    } else {
        FailureKind::Corrupt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `compression` fuzz target: a zstd frame header asking for a 2 GiB window
    /// is refused instead of making the decoder reserve it.
    #[test]
    fn a_zstd_window_over_128_mib_is_refused() {
        let frame = [0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8];
        let (kind, mut reader) = decompress(io::Cursor::new(frame.to_vec())).unwrap();
        assert_eq!(kind, Compression::Zstd);
        let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("memory"), "{err}");
    }
    use std::io::Write;

    fn read_all(mut r: impl Read) -> Vec<u8> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(
            Compression::sniff(&[0x50, 0x2a, 0x4d, 0x18]),
            Compression::Zstd
        );
        assert_eq!(
            Compression::sniff(&[0x5f, 0x2a, 0x4d, 0x18]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(&[5, 0, 0, 0]), Compression::None);
        assert_eq!(Compression::sniff(&[0x1f]), Compression::None);
        assert_eq!(Compression::sniff(&[]), Compression::None);
    }

    #[test]
    fn multi_member_gzip_is_one_stream() {
        let mut data = Vec::new();
        for part in [&b"hello "[..], b"world"] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(part).unwrap();
            data.extend(enc.finish().unwrap());
        }
        let (kind, r) = decompress(io::Cursor::new(data)).unwrap();
        assert_eq!(kind, Compression::Gzip);
        assert_eq!(read_all(r), b"hello world");
    }

    #[test]
    fn zstd_and_plain() {
        let z = zstd::encode_all(&b"zstd data"[..], 3).unwrap();
        let (kind, r) = decompress(io::Cursor::new(z)).unwrap();
        assert_eq!(kind, Compression::Zstd);
        assert_eq!(read_all(r), b"zstd data");
        let (kind, r) = decompress(io::Cursor::new(b"plain".to_vec())).unwrap();
        assert_eq!(kind, Compression::None);
        assert_eq!(read_all(r), b"plain");
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[7u8; 10000]).unwrap();
        let mut data = enc.finish().unwrap();
        let n = data.len();
        data[n - 6] ^= 0xff; // inside the CRC-32 of the trailer
        let (_, mut r) = decompress(io::Cursor::new(data)).unwrap();
        let mut sink = Vec::new();
        assert!(r.read_to_end(&mut sink).is_err());
    }

    #[test]
    fn read_ahead_delivers_everything_in_order_and_errors() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let ra = ReadAhead::spawn(io::Cursor::new(data.clone()), 64 * 1024, 2);
        assert_eq!(read_all(ra), data);

        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "boom"));
                }
                let n = buf.len().min(self.0);
                buf[..n].fill(1);
                self.0 -= n;
                Ok(n)
            }
        }
        let mut ra = ReadAhead::spawn(Failing(100_000), 4096, 2);
        let mut got = Vec::new();
        let err = ra.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.to_string(), "boom");
        assert_eq!(got.len(), 100_000);
    }

    #[test]
    fn dropping_read_ahead_early_stops_the_thread() {
        let ra = ReadAhead::spawn(io::repeat(3), 4096, 2);
        drop(ra); // must not hang
    }
}
