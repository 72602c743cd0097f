//! What every reader takes besides its input, and what it gives back.
//!
//! One shape for all readers: `read_into(sink, progress, options) -> ReadReport`. Documents
//! go to the [`DocumentSink`](crate::DocumentSink); failures go to the sink's ledger through
//! [`DocumentSink::fail`](crate::DocumentSink::fail); what is left (what the input turned out
//! to be, what in it belongs to no collection, what a policy left out, whether the input was
//! read to its end) comes back in one [`ReadReport`].

use std::fmt;
use std::path::PathBuf;

use crate::Namespace;

/// Choices that change what a reader does, shared by every reader (each uses the ones that
/// concern its input).
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Physical backups: carry on past a collection whose data file is missing, reporting it
    /// in [`ReadReport::left_out`], instead of failing it.
    pub skip_missing: bool,
    /// Streaming readers: where data that arrives out of order may wait (e.g. cloud parts
    /// inside a tar). `None`: the system's temporary folder.
    pub spill_dir: Option<PathBuf>,
    /// Streaming readers: collections whose writers may stay open at once while their data
    /// is interleaved (each holds its unfinished chunk in memory); the data of further
    /// collections waits in spill files. At least one is always allowed (0 reads as 1).
    pub max_open_writers: usize,
}

impl ReadOptions {
    /// The default of [`max_open_writers`](Self::max_open_writers).
    pub const DEFAULT_MAX_OPEN_WRITERS: usize = 32;
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            skip_missing: false,
            spill_dir: None,
            max_open_writers: Self::DEFAULT_MAX_OPEN_WRITERS,
        }
    }
}

/// Something in the input that belongs to no collection, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ignored {
    /// A file, member or path, as the input names it.
    pub what: String,
    /// Why it is not read.
    pub why: String,
}

/// A collection left out by a policy the user chose (e.g. `skip_missing`): the export is
/// complete without it, and says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// The collection.
    pub ns: Namespace,
    /// What was missing or unreadable.
    pub why: String,
}

/// What a reader counted of one namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceRead {
    /// The namespace.
    pub ns: Namespace,
    /// Documents read (delivered to a writer, or framed and passed over when the sink
    /// declined the namespace).
    pub documents: u64,
    /// Bytes of BSON read.
    pub bytes: u64,
    /// A checksum the input carries for it and that was verified, spelled as the format
    /// spells it (`crc64 0x…` for a mongodump archive).
    pub checksum: Option<String>,
}

/// What a reader found besides the documents it delivered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// What the input is, as the reader found it: its format chain and facts worth a line in
    /// a summary (`gzip → mongodump archive from server 7.0.2 (mongodump 100.9.0)`).
    pub format: String,
    /// Further facts, one line each (parts that waited in spill files, unpacked sizes …).
    pub notes: Vec<String>,
    /// The namespaces the input holds, in the order the reader met them, with what it
    /// counted of each (whether the sink exported them or not). Empty where the reader
    /// counts only totals (the tar reader).
    pub namespaces: Vec<NamespaceRead>,
    /// Documents delivered to writers.
    pub documents: u64,
    /// Bytes of the input as stored (compressed where it is compressed) that were read.
    pub input_bytes: u64,
    /// Files, members or paths that belong to no collection.
    pub ignored: Vec<Ignored>,
    /// More ignored items than are listed in [`ignored`](Self::ignored).
    pub ignored_unlisted: u64,
    /// Collections a policy left out; the export can be complete without them.
    pub left_out: Vec<LeftOut>,
    /// The input was read to its true end. `false` when the reader stopped early; it then
    /// recorded why through [`DocumentSink::fail`](crate::DocumentSink::fail).
    pub read_to_end: bool,
}

/// What kind of thing went wrong; the message says the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The input cannot be opened or read (I/O error).
    Input,
    /// The input's bytes are damaged: a bad checksum, a bad length, a truncation, a
    /// document that is not valid BSON.
    Corrupt,
    /// A file the input refers to is absent (a collection's `.wt` file).
    Missing,
    /// The input uses something bsonflow does not read.
    Unsupported,
    /// A namespace appears twice, or its name cannot be a folder name.
    Namespace,
    /// Writing the export failed (disk full, permissions).
    Output,
    /// Reading stopped before the end of a collection without saying why.
    Incomplete,
}

/// A failure in the run's ledger: what kind, and a message that names the file, member or
/// namespace and the byte offset where there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The kind, for callers that branch on it.
    pub kind: FailureKind,
    /// The whole message, said once.
    pub message: String,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}
