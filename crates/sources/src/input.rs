//! Where the streaming readers get their bytes, and the stage they share.
//!
//! - [`Input`]: a named stream of raw bytes with its size when known. Today it is a local
//!   file ([`Input::open`]) or any `Read` ([`Input::from_reader`]); an object in object
//!   storage read by ranged GETs is one more constructor, and the tar, mongodump-archive and
//!   single-file readers take it unchanged.
//! - `PackedInput`: counts the raw bytes, recognises the compression by its magic bytes,
//!   and moves decompression onto its own thread ([`ReadAhead`]) so that it overlaps with
//!   parsing on the calling thread.
//! - [`StreamPosition`]: where something happened, in the decompressed stream and in the
//!   raw input, for error messages.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bsonflow_model::{DocumentSink, Failure, FailureKind, Namespace, Progress};

use crate::compression::{self, Compression, CountingReader, ReadAhead};

/// A named stream of raw input bytes (possibly compressed), read once from front to back.
pub struct Input {
    label: Arc<str>,
    size: Option<u64>,
    reader: Box<dyn Read + Send>,
}

/// An input that cannot be opened.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct OpenError {
    /// The file.
    pub path: PathBuf,
    /// What the system said.
    #[source]
    pub source: io::Error,
}

impl Input {
    /// The local file at `path`, named by its path.
    pub fn open(path: &Path) -> Result<Input, OpenError> {
        let err = |source| OpenError {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(err)?;
        let size = file.metadata().map_err(err)?.len();
        Ok(Input {
            label: path.display().to_string().into(),
            size: Some(size),
            reader: Box::new(file),
        })
    }

    /// Any byte stream; `label` names it in errors, `size` (raw bytes) drives progress.
    pub fn from_reader<R: Read + Send + 'static>(
        reader: R,
        label: impl Into<String>,
        size: Option<u64>,
    ) -> Input {
        Input {
            label: label.into().into(),
            size,
            reader: Box::new(reader),
        }
    }

    /// The name used in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The raw size in bytes, when known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Name, size and stream.
    pub(crate) fn into_parts(self) -> (Arc<str>, Option<u64>, Box<dyn Read + Send>) {
        (self.label, self.size, self.reader)
    }
}

/// What a reader's error says of itself in the run's ledger: the namespace it concerns, if
/// any, and its kind. [`record`](Self::record) is the one way a reader reports an error that
/// stopped it.
pub(crate) trait ReadError: fmt::Display {
    /// The namespace the error concerns, if any.
    fn namespace(&self) -> Option<&Namespace>;

    /// How the error counts.
    fn kind(&self) -> FailureKind;

    /// Records the error in `sink`'s ledger.
    fn record<S: DocumentSink>(&self, sink: &S) {
        sink.fail(
            self.namespace(),
            Failure::new(self.kind(), self.to_string()),
        );
    }
}

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
