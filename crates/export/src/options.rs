//! What the user chose for the export.

use std::path::PathBuf;

use bsonflow_ejson::Mode;
use bsonflow_model::NamespaceFilter;

/// Default size of a chunk: 16 MiB of uncompressed JSON. Atlas does not document its own
/// rule; this keeps several chunks in flight on every core within a small, fixed amount of
/// memory, and a large collection still splits into enough chunks to keep all cores busy.
pub const DEFAULT_CHUNK_BYTES: u64 = 16 * 1024 * 1024;

/// gzip level of the data files: 6, gzip's own default.
pub const DEFAULT_GZIP_LEVEL: u32 = 6;

/// `<shard>` of `<shard>.<n>.json.gz` when the input does not know its replica set name.
pub const DEFAULT_SHARD_NAME: &str = "bsonflow-shard-0";

/// Settings of one export.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// The output folder (the export prefix): created if absent, must be empty if present.
    pub out_dir: PathBuf,
    pub mode: Mode,
    /// A new chunk starts once the current one holds this many bytes of JSON.
    pub chunk_bytes: u64,
    pub shard_name: String,
    pub gzip_level: u32,
    /// Compression threads (at least 1).
    pub threads: usize,
    /// Count and skip documents that fail validation instead of failing the collection.
    pub skip_corrupt: bool,
    pub filter: NamespaceFilter,
}

impl ExportOptions {
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
        }
    }
}
