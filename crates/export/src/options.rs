//! What the user chose for the export.

use std::path::PathBuf;

use bsonflow_ejson::Mode;
use bsonflow_model::NamespaceFilter;

/// Default size of a chunk: 256 MiB of input BSON. Canonical Extended JSON is about 1.5×
/// its BSON on typical data, and gzip level 6 keeps about 18 % of that, so a chunk file is
/// about 70 MiB compressed (74 MB for the 256 MiB benchmark file): within the 64–128 MiB
/// that the lakes reading these files recommend (Snowflake 100–250 MB, Spark one task per
/// file, BigQuery up to 4 GB per gzip file), instead of a small-files problem. Memory does
/// not grow with it: a chunk is written as gzip members of 4 MiB of JSON, streamed.
pub const DEFAULT_CHUNK_BYTES: u64 = 256 * 1024 * 1024;

/// gzip level of the data files: 6, gzip's own default.
pub const DEFAULT_GZIP_LEVEL: u32 = 6;

/// `<shard>` of `<shard>.<n>.json.gz` when the input does not know its replica set name.
pub const DEFAULT_SHARD_NAME: &str = "bsonflow-shard-0";

/// Settings of one export.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The output folder (the export prefix): created if absent, must be empty if present.
    pub out_dir: PathBuf,
    /// Extended JSON flavour of the data files: canonical (what Atlas writes) or relaxed.
    pub mode: Mode,
    /// A chunk ends after the document that brings it to at least this many bytes of input
    /// BSON (see [`DEFAULT_CHUNK_BYTES`]).
    pub chunk_bytes: u64,
    /// `<shard>` of `<shard>.<n>.json.gz`; must pass [`check_name`](crate::check_name), else
    /// [`Exporter::new`](crate::Exporter::new) returns [`ExportError::ShardName`].
    ///
    /// [`ExportError::ShardName`]: crate::ExportError::ShardName
    pub shard_name: String,
    /// gzip level of the data files, 0-12 (6 = gzip's default; the encoder of each level:
    /// [`GzipEncoder::for_level`](crate::GzipEncoder::for_level)); any
    /// other value makes [`Exporter::new`](crate::Exporter::new) return
    /// [`ExportError::GzipLevel`](crate::ExportError::GzipLevel).
    pub gzip_level: u32,
    /// Threads that convert and compress (at least 1): `threads - 1` compression threads,
    /// and each reading thread compresses too whenever compression falls behind.
    pub threads: usize,
    /// Count and skip documents that fail validation instead of failing the collection.
    pub skip_corrupt: bool,
    /// Which namespaces are exported: the built-in rules plus the user's patterns. Declined
    /// namespaces are listed in [`RunSummary::skipped`](crate::RunSummary::skipped).
    pub filter: NamespaceFilter,
    /// The config server's chunk table: when given, a document of a sharded collection that
    /// the shard it is read from does not own (an orphan) is dropped and counted
    /// ([`CollectionSummary::orphans`](crate::CollectionSummary::orphans)).
    pub ownership: Option<std::sync::Arc<crate::Ownership>>,
}

impl ExportOptions {
    /// The defaults for an export into `out_dir`: canonical JSON, [`DEFAULT_CHUNK_BYTES`],
    /// [`DEFAULT_SHARD_NAME`], [`DEFAULT_GZIP_LEVEL`], one compression thread per available
    /// core, corrupt documents failing their collection, built-in filter rules only. Nothing
    /// is checked or created until [`Exporter::new`](crate::Exporter::new).
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        ExportOptions {
            out_dir: out_dir.into(),
            mode: Mode::Canonical,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            shard_name: DEFAULT_SHARD_NAME.to_string(),
            gzip_level: DEFAULT_GZIP_LEVEL,
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            skip_corrupt: false,
            filter: NamespaceFilter::new(),
            ownership: None,
        }
    }
}
