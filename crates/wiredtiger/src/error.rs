//! The errors of this crate: each names the file and, for damage inside a file, the byte
//! offset of the block it was found in.

use std::path::PathBuf;

use bsonflow_model::{Namespace, SinkError};

/// Everything that can go wrong while reading a data directory.
///
/// Errors of [`DataDir::read_collection_into`](crate::DataDir::read_collection_into) concern one
/// collection: they come wrapped in [`Error::InCollection`] (which names the namespace) and the
/// caller can carry on with the other collections. [`Error::innermost`] strips that wrapper.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The directory holds no WiredTiger metadata at all.
    #[error("{path}: not a MongoDB WiredTiger data directory: {detail}")]
    NotADataDir { path: PathBuf, detail: String },

    /// Something this reader deliberately does not handle: encrypted storage, a RocksDB data
    /// directory, column stores, an unknown compressor, a newer block-manager version.
    #[error("{path}: unsupported: {what}")]
    Unsupported { path: PathBuf, what: String },

    /// `WiredTiger.turtle` lacks an entry or holds an unusable one.
    #[error("{path}: bad turtle file: {detail}")]
    BadTurtle { path: PathBuf, detail: String },

    /// `WiredTiger.backup` (hot-backup metadata) is malformed.
    #[error("{path}: bad hot-backup metadata, line {line}: {detail}")]
    BadBackupFile {
        path: PathBuf,
        line: usize,
        detail: String,
    },

    /// A metadata entry (a config string) that cannot be used.
    #[error("{path}: bad metadata entry `{uri}`: {detail}")]
    BadConfig {
        path: PathBuf,
        uri: String,
        detail: String,
    },

    /// The metadata has no entry for a file that is needed.
    #[error("{path}: the WiredTiger metadata has no entry `{uri}`")]
    MissingMetadata { path: PathBuf, uri: String },

    /// `_mdb_catalog.wt` (or its metadata entry) is missing.
    #[error("{path}: the MongoDB catalog is missing: {detail}")]
    MissingCatalog { path: PathBuf, detail: String },

    /// A catalog record that cannot be understood.
    #[error("{path}: catalog record {record_id}: {detail}")]
    BadCatalog {
        path: PathBuf,
        record_id: i64,
        detail: String,
    },

    /// The catalog lists a collection whose `.wt` file is not in the data directory.
    #[error("{path}: the collection file is missing")]
    MissingCollectionFile { path: PathBuf },

    /// The file does not start with a WiredTiger block-manager descriptor.
    #[error("{path}: bad magic number {found} at offset 0 (a WiredTiger file has 120897)")]
    BadMagic { path: PathBuf, found: u32 },

    /// The file ends before a block the checkpoint refers to.
    #[error("{path}: truncated: {what} at offset {offset} needs {needed} bytes but the file has {file_len}")]
    Truncated {
        path: PathBuf,
        what: &'static str,
        offset: u64,
        needed: u64,
        file_len: u64,
    },

    /// A block whose CRC-32C (or the checksum in its header) does not match its address.
    #[error("{path}: checksum mismatch in the block at offset {offset} (size {size}): {detail}")]
    Checksum {
        path: PathBuf,
        offset: u64,
        size: u32,
        detail: String,
    },

    /// A block whose header or page header makes no sense.
    #[error("{path}: bad block at offset {offset}: {detail}")]
    BadBlock {
        path: PathBuf,
        offset: u64,
        detail: String,
    },

    /// An address cookie (or a checkpoint cookie) that does not decode.
    #[error("{path}: bad address cookie ({context}): {detail}")]
    BadCookie {
        path: PathBuf,
        context: String,
        detail: String,
    },

    /// A compressed page that does not decompress to its recorded size.
    #[error(
        "{path}: {compressor} decompression failed for the block at offset {offset}: {detail}"
    )]
    Decompress {
        path: PathBuf,
        offset: u64,
        compressor: &'static str,
        detail: String,
    },

    /// A cell descriptor this reader does not know (or that cannot appear on this page).
    #[error(
        "{path}: page at offset {offset}: unknown cell type {desc:#04x} at page byte {cell_offset}"
    )]
    UnknownCell {
        path: PathBuf,
        offset: u64,
        cell_offset: usize,
        desc: u8,
    },

    /// A cell whose content is damaged (bad length, bad packed integer, dangling copy …).
    #[error("{path}: page at offset {offset}: bad cell at page byte {cell_offset}: {detail}")]
    BadCell {
        path: PathBuf,
        offset: u64,
        cell_offset: usize,
        detail: String,
    },

    /// A page whose structure is damaged (cell count, key order, child types …).
    #[error("{path}: page at offset {offset}: {detail}")]
    BadPage {
        path: PathBuf,
        offset: u64,
        detail: String,
    },

    /// A value that should be one BSON document but is not (only where there is no
    /// [`CollectionWriter`](bsonflow_model::CollectionWriter) to report it to).
    #[error("{path}: page at offset {offset}: record {key}: {detail}")]
    BadDocument {
        path: PathBuf,
        offset: u64,
        key: String,
        detail: String,
    },

    /// The document sink refused a document or a corrupt-span report.
    #[error("{path}: page at offset {offset}: the writer failed: {source}")]
    Sink {
        path: PathBuf,
        offset: u64,
        #[source]
        source: SinkError,
    },

    /// An error while reading one collection.
    #[error("collection {ns}: {error}")]
    InCollection { ns: Namespace, error: Box<Error> },
}

impl Error {
    /// The error without its [`Error::InCollection`] wrapper.
    pub fn innermost(&self) -> &Error {
        match self {
            Error::InCollection { error, .. } => error.innermost(),
            other => other,
        }
    }

    pub(crate) fn in_collection(self, ns: &Namespace) -> Error {
        match self {
            e @ Error::InCollection { .. } => e,
            e => Error::InCollection {
                ns: ns.clone(),
                error: Box::new(e),
            },
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
