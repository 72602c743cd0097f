//! The input stage shared by the tar reader and the mongodump-archive reader: count the raw
//! bytes, recognise the compression by its magic bytes, and move decompression onto its own
//! thread ([`ReadAhead`]) so that it overlaps with parsing on the calling thread.

use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bsonflow_model::Progress;

use crate::compression::{self, Compression, CountingReader, ReadAhead};

/// Blocks of decompressed data queued between the decompression thread and the parser: with
/// [`ReadAhead::BLOCK`] (1 MiB) at most `READ_AHEAD_DEPTH + 2` MiB are in flight.
pub(crate) const READ_AHEAD_DEPTH: usize = 4;

/// Where something happened in an input stream: the offset in the (decompressed) stream the
/// parser reads, and — for a compressed input — how many compressed bytes the decompressor
/// had consumed by then (it reads ahead of the parser by at most a few MiB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamPosition {
    /// Byte offset in the decompressed stream (the tar or archive bytes).
    pub offset: u64,
    /// Compressed bytes read from the input so far; `None` for an uncompressed input.
    pub compressed: Option<u64>,
}

impl fmt::Display for StreamPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.compressed {
            None => write!(f, "byte {}", self.offset),
            Some(c) => write!(
                f,
                "byte {} of the decompressed stream ({c} compressed bytes read)",
                self.offset
            ),
        }
    }
}

/// A raw input whose decompressed bytes are produced on their own thread.
pub(crate) struct PackedInput {
    pub compression: Compression,
    /// Raw (compressed) bytes read from the input so far.
    pub compressed: Arc<AtomicU64>,
    /// The decompressed stream.
    pub reader: ReadAhead,
}

impl PackedInput {
    /// Sniffs the first bytes of `reader` (gzip, multi-member gzip, zstd or nothing) and
    /// starts the decoder on its own thread.
    pub fn open<R: Read + Send + 'static>(reader: R) -> io::Result<PackedInput> {
        let counting = CountingReader::new(reader);
        let compressed = counting.position();
        let (compression, decoded) = compression::decompress(counting)?;
        Ok(PackedInput {
            compression,
            compressed,
            reader: ReadAhead::spawn(decoded, ReadAhead::BLOCK, READ_AHEAD_DEPTH),
        })
    }

    /// A handle that turns a decompressed offset into a [`StreamPosition`].
    pub fn locator(&self) -> Locator {
        Locator {
            compressed: (self.compression != Compression::None)
                .then(|| Arc::clone(&self.compressed)),
        }
    }
}

/// Builds [`StreamPosition`]s for one input.
#[derive(Clone)]
pub(crate) struct Locator {
    compressed: Option<Arc<AtomicU64>>,
}

impl Locator {
    pub fn at(&self, offset: u64) -> StreamPosition {
        StreamPosition {
            offset,
            compressed: self.compressed.as_ref().map(|c| c.load(Ordering::Relaxed)),
        }
    }
}

/// Passes the growth of the raw-byte counter on to [`Progress`]: call [`tick`](Self::tick)
/// as often as convenient (it is one atomic load).
pub(crate) struct Ticker<'p> {
    progress: &'p Progress,
    compressed: Arc<AtomicU64>,
    reported: u64,
}

impl<'p> Ticker<'p> {
    pub fn new(progress: &'p Progress, compressed: Arc<AtomicU64>) -> Self {
        Ticker {
            progress,
            compressed,
            reported: 0,
        }
    }

    pub fn tick(&mut self) {
        let now = self.compressed.load(Ordering::Relaxed);
        if now > self.reported {
            self.progress.add(now - self.reported);
            self.reported = now;
        }
    }

    /// Raw bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.compressed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn positions_say_whether_the_input_was_compressed() {
        let plain = StreamPosition {
            offset: 7,
            compressed: None,
        };
        assert_eq!(plain.to_string(), "byte 7");
        let packed = StreamPosition {
            offset: 7,
            compressed: Some(3),
        };
        assert_eq!(
            packed.to_string(),
            "byte 7 of the decompressed stream (3 compressed bytes read)"
        );
    }

    #[test]
    fn packed_input_decompresses_and_counts() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[42u8; 100_000]).unwrap();
        let gz = enc.finish().unwrap();
        let len = gz.len() as u64;
        let mut input = PackedInput::open(io::Cursor::new(gz)).unwrap();
        assert_eq!(input.compression, Compression::Gzip);
        let mut out = Vec::new();
        input.reader.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 100_000);
        let progress = Progress::new();
        let mut ticker = Ticker::new(&progress, Arc::clone(&input.compressed));
        ticker.tick();
        assert_eq!(progress.consumed(), len);
        assert!(input.locator().at(5).compressed.is_some());
    }
}
