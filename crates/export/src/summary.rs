//! What a run wrote, skipped and failed: the material of the end-of-run summary.

use bsonflow_model::{Failure, Namespace, ReadReport, SkipReason};

/// A document that failed validation and was skipped (`--skip-corrupt`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptDocument {
    /// The file, member or segment it came from.
    pub origin: String,
    /// Byte offset in `origin` of the problem.
    pub offset: u64,
    /// What is wrong: the validation error, followed by the offset of the document it was
    /// found in, or the reader's description of a span that does not frame a document.
    pub detail: String,
}

/// One exported collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CollectionSummary {
    /// The collection. Always `Some` in a [`RunSummary`]; an `Option` only so that the
    /// summary has a `Default`.
    pub ns: Option<Namespace>,
    /// The shard whose files these are (`<shard>` of `<shard>.<n>.json.gz`).
    pub shard: String,
    /// Documents written, one JSON line each (corrupt ones skipped are not counted).
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
    /// Where they were: every one, up to [`CORRUPT_LISTED`] per collection and shard.
    pub corrupt_examples: Vec<CorruptDocument>,
    /// From the collection's opening to its last file stored.
    pub elapsed: std::time::Duration,
    /// Orphaned documents dropped: the config server's chunk table gives them to another
    /// shard (only with [`ExportOptions::ownership`](crate::ExportOptions::ownership)).
    pub orphans: u64,
    /// The `_id`s of the first few orphans dropped, as relaxed Extended JSON.
    pub orphan_examples: Vec<String>,
}

/// How many orphans' `_id`s are kept per collection and shard.
pub const ORPHAN_EXAMPLES: usize = 10;

/// How many corrupt documents are kept by location per collection and shard (for the
/// report; the printed summary shows the first few). Beyond it they are only counted, so
/// that memory stays bounded on an input that is all damage.
pub const CORRUPT_LISTED: usize = 10_000;

/// How a run ended: the three end states a user can tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every document of the input is in the export, `.complete` written.
    Complete,
    /// `.complete` written, but data the user asked to skip was skipped (corrupt documents,
    /// collections left out by a policy); the summary lists it.
    CompleteWithSkips,
    /// No `.complete`: something could not be read or written.
    Failed,
}

/// The outcome of a whole run.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    /// Collections written in full, by namespace, then shard (a collection that several
    /// shards hold is listed once per shard).
    pub collections: Vec<CollectionSummary>,
    /// The shards written, by name (one for a run of one input).
    pub shards: Vec<String>,
    /// Where the shards holding a collection disagreed on its metadata (an index on one
    /// shard only…), one sentence each; `metadata.json` holds the union.
    pub metadata_differences: Vec<(Namespace, String)>,
    /// Namespaces not exported, with the reason.
    pub skipped: Vec<(Namespace, SkipReason)>,
    /// Collections that could not be written in full, with the failure.
    pub failed: Vec<(Namespace, Failure)>,
    /// Failures of the input as a whole (a truncated archive, a bad header), in order.
    pub input_failures: Vec<Failure>,
    /// What the reader reported: the input's format, ignored members, collections left out.
    pub read: ReadReport,
    /// Data files written, the `totalFiles` of `.complete`.
    pub total_files: u64,
    /// Whether `.complete` was written.
    pub complete_written: bool,
}

impl RunSummary {
    /// Which of the three end states the run reached.
    pub fn outcome(&self) -> Outcome {
        if !self.complete_written {
            Outcome::Failed
        } else if self.corrupt() > 0 || !self.read.left_out.is_empty() {
            Outcome::CompleteWithSkips
        } else {
            Outcome::Complete
        }
    }

    /// Every failure, of collections and of the input, in the order the summary lists them.
    pub fn failures(&self) -> impl Iterator<Item = (Option<&Namespace>, &Failure)> {
        self.failed
            .iter()
            .map(|(ns, f)| (Some(ns), f))
            .chain(self.input_failures.iter().map(|f| (None, f)))
    }

    /// Collections written in full, each counted once however many shards wrote it.
    pub fn collection_count(&self) -> usize {
        self.collections
            .iter()
            .filter_map(|c| c.ns.as_ref())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }

    /// Documents written, over the collections written in full.
    pub fn documents(&self) -> u64 {
        self.collections.iter().map(|c| c.documents).sum()
    }

    /// Documents or corrupt spans skipped, over the collections written in full.
    pub fn corrupt(&self) -> u64 {
        self.collections.iter().map(|c| c.corrupt).sum()
    }

    /// Bytes of BSON read, over the collections written in full.
    pub fn bson_bytes(&self) -> u64 {
        self.collections.iter().map(|c| c.bson_bytes).sum()
    }

    /// Bytes of Extended JSON written (before compression), over the collections written in
    /// full.
    pub fn json_bytes(&self) -> u64 {
        self.collections.iter().map(|c| c.json_bytes).sum()
    }

    /// Orphaned documents dropped, over the collections written in full.
    pub fn orphans(&self) -> u64 {
        self.collections.iter().map(|c| c.orphans).sum()
    }

    /// Bytes of gzip files written, over the collections written in full.
    pub fn gzip_bytes(&self) -> u64 {
        self.collections.iter().map(|c| c.gzip_bytes).sum()
    }
}
