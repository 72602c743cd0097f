//! What a run wrote, skipped and failed: the material of the end-of-run summary.

use bsonflow_model::{Namespace, SkipReason};

/// A document that failed validation and was skipped (`--skip-corrupt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptDocument {
    /// The file, member or segment it came from.
    pub origin: String,
    /// Byte offset in `origin` of the problem.
    pub offset: u64,
    pub detail: String,
}

/// One exported collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectionSummary {
    pub ns: Option<Namespace>,
    pub documents: u64,
    /// Bytes of BSON read.
    pub bson_bytes: u64,
    /// Bytes of Extended JSON written (before compression).
    pub json_bytes: u64,
    /// Bytes of gzip files written.
    pub gzip_bytes: u64,
    /// Data files (`<shard>.<n>.json.gz`) written.
    pub files: u64,
    /// Documents or corrupt spans skipped under `--skip-corrupt`.
    pub corrupt: u64,
    /// The first few of them, with where they were.
    pub corrupt_examples: Vec<CorruptDocument>,
}

/// How many corrupt documents a summary lists by location per collection.
pub const CORRUPT_EXAMPLES: usize = 10;

/// The outcome of a whole run.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    /// Collections written in full, by namespace.
    pub collections: Vec<CollectionSummary>,
    /// Namespaces not exported, with the reason.
    pub skipped: Vec<(Namespace, SkipReason)>,
    /// Collections that could not be written in full, with the error.
    pub failed: Vec<(Namespace, String)>,
    /// Data files written, the `totalFiles` of `.complete`.
    pub total_files: u64,
    /// Whether `.complete` was written.
    pub complete_written: bool,
}

impl RunSummary {
    pub fn documents(&self) -> u64 {
        self.collections.iter().map(|c| c.documents).sum()
    }

    pub fn corrupt(&self) -> u64 {
        self.collections.iter().map(|c| c.corrupt).sum()
    }

    pub fn bson_bytes(&self) -> u64 {
        self.collections.iter().map(|c| c.bson_bytes).sum()
    }

    pub fn json_bytes(&self) -> u64 {
        self.collections.iter().map(|c| c.json_bytes).sum()
    }

    pub fn gzip_bytes(&self) -> u64 {
        self.collections.iter().map(|c| c.gzip_bytes).sum()
    }
}
