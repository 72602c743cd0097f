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
    /// Extended JSON flavour of the data files: canonical (what Atlas writes) or relaxed.
    pub mode: Mode,
    /// A new chunk starts once the current one holds this many bytes of JSON.
    pub chunk_bytes: u64,
    /// `<shard>` of `<shard>.<n>.json.gz`; must pass [`check_name`](crate::check_name), else
    /// [`Exporter::new`](crate::Exporter::new) returns [`ExportError::ShardName`].
    ///
    /// [`ExportError::ShardName`]: crate::ExportError::ShardName
    pub shard_name: String,
    /// gzip level of the data files, 0-12 on libdeflate's scale (6 = gzip's default); any
    /// other value makes [`Exporter::new`](crate::Exporter::new) return
    /// [`ExportError::GzipLevel`](crate::ExportError::GzipLevel).
    pub gzip_level: u32,
    /// Compression threads (at least 1).
    pub threads: usize,
    /// Count and skip documents that fail validation instead of failing the collection.
    pub skip_corrupt: bool,
    /// Which namespaces are exported: the built-in rules plus the user's patterns. Declined
    /// namespaces are listed in [`RunSummary::skipped`](crate::RunSummary::skipped).
    pub filter: NamespaceFilter,
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
        }
    }
}
