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
    /// A file or directory could not be opened, inspected, mapped or read. The message is
    /// `<path>: <OS error>`. A missing file comes back here (`NotFound`) unless its role calls
    /// for a better variant, e.g. [`Error::MissingCatalog`] or [`Error::MissingCollectionFile`].
    #[error("{path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// The directory holds no WiredTiger metadata at all.
    #[error("{path}: not a MongoDB WiredTiger data directory: {detail}")]
    NotADataDir {
        /// The directory given to [`DataDir::open`](crate::DataDir::open).
        path: PathBuf,
        /// Why: `not a directory`, or which bootstrap files are missing.
        detail: String,
    },

    /// Something this reader deliberately does not handle: encrypted storage, a RocksDB data
    /// directory, column stores, an unknown compressor, a newer block-manager version.
    #[error("{path}: unsupported: {what}")]
    Unsupported {
        /// What holds it: the data directory (another engine), the metadata file (an encrypted
        /// or unknown-compressor `file:` entry) or the `.wt` file (block-manager version, an
        /// encrypted block, key and value formats other than a record store's).
        path: PathBuf,
        /// The unsupported feature, as a phrase, e.g. `block-manager version 1.1 (this reader
        /// knows 1.0)`.
        what: String,
    },

    /// `WiredTiger.turtle` lacks an entry or holds an unusable one.
    #[error("{path}: bad turtle file: {detail}")]
    BadTurtle {
        /// `<dbpath>/WiredTiger.turtle`.
        path: PathBuf,
        /// What is wrong: the file is missing (while `WiredTiger.wt` is there), is not UTF-8,
        /// or has no (or an empty) `file:WiredTiger.wt` entry.
        detail: String,
    },

    /// `WiredTiger.backup` (hot-backup metadata) is malformed.
    #[error("{path}: bad hot-backup metadata, line {line}: {detail}")]
    BadBackupFile {
        /// `<dbpath>/WiredTiger.backup`.
        path: PathBuf,
        /// 1-based number of the offending line (the empty key or value line, or the key line
        /// that has no value line).
        line: usize,
        /// What is wrong with the line: an empty key, a zero-length value, a missing value.
        detail: String,
    },

    /// A metadata entry (a config string) that cannot be used.
    #[error("{path}: bad metadata entry `{uri}`: {detail}")]
    BadConfig {
        /// The file the entry was read from: `WiredTiger.wt`, `WiredTiger.backup`, or
        /// `WiredTiger.turtle` for the metadata table's own entry.
        path: PathBuf,
        /// The metadata key, e.g. `file:collection-7-123.wt`.
        uri: String,
        /// What is wrong: a config-string syntax error (with its byte offset), a bad
        /// `allocation_size`, a checkpoint without `order`.
        detail: String,
    },

    /// The metadata has no entry for a file that is needed.
    #[error("{path}: the WiredTiger metadata has no entry `{uri}`")]
    MissingMetadata {
        /// The file the metadata was read from (`WiredTiger.wt` or `WiredTiger.backup`).
        path: PathBuf,
        /// The missing key, `file:<ident>.wt`.
        uri: String,
    },

    /// `_mdb_catalog.wt` (or its metadata entry) is missing.
    #[error("{path}: the MongoDB catalog is missing: {detail}")]
    MissingCatalog {
        /// `<dbpath>/_mdb_catalog.wt`.
        path: PathBuf,
        /// Which is missing: the `file:_mdb_catalog.wt` metadata entry or the file itself.
        detail: String,
    },

    /// A catalog record that cannot be understood.
    #[error("{path}: catalog record {record_id}: {detail}")]
    BadCatalog {
        /// `<dbpath>/_mdb_catalog.wt`.
        path: PathBuf,
        /// The RecordId of the catalog record.
        record_id: i64,
        /// What is wrong: an empty value or not a BSON document, a bad `md`, `options.uuid` or
        /// `md.indexes`, an unparsable namespace, an ident that is not a relative path.
        detail: String,
    },

    /// The catalog lists a collection whose `.wt` file is not in the data directory.
    #[error("{path}: the collection file is missing")]
    MissingCollectionFile {
        /// Where the file should be: `<dbpath>/<ident>.wt`.
        path: PathBuf,
    },

    /// The file does not start with a WiredTiger block-manager descriptor.
    #[error("{path}: bad magic number {found} at offset 0 (a WiredTiger file has 120897)")]
    BadMagic {
        /// The `.wt` file.
        path: PathBuf,
        /// The little-endian `u32` found at offset 0 instead of
        /// [`BLOCK_MAGIC`](crate::format::block::BLOCK_MAGIC).
        found: u32,
    },

    /// The file ends before a block the checkpoint refers to.
    #[error("{path}: truncated: {what} at offset {offset} needs {needed} bytes but the file has {file_len}")]
    Truncated {
        /// The `.wt` file.
        path: PathBuf,
        /// What was being read: `the descriptor block` or `a block`.
        what: &'static str,
        /// Byte offset of that block in the file (0 for the descriptor).
        offset: u64,
        /// Bytes the block needs from `offset` (its size, or one allocation unit for the
        /// descriptor).
        needed: u64,
        /// The file's actual length in bytes.
        file_len: u64,
    },

    /// A block whose CRC-32C (or the checksum in its header) does not match its address.
    #[error("{path}: checksum mismatch in the block at offset {offset} (size {size}): {detail}")]
    Checksum {
        /// The `.wt` file.
        path: PathBuf,
        /// Byte offset of the block in the file (0 for the descriptor).
        offset: u64,
        /// Size of the block in bytes, as its address gives it (one allocation unit for the
        /// descriptor).
        size: u32,
        /// The checksums that disagree: the address's, the block header's and the computed
        /// CRC-32C with the number of bytes it covers (for the descriptor: stored and computed).
        detail: String,
    },

    /// A block whose header or page header makes no sense.
    #[error("{path}: bad block at offset {offset}: {detail}")]
    BadBlock {
        /// The `.wt` file.
        path: PathBuf,
        /// Byte offset of the block in the file.
        offset: u64,
        /// What is wrong: a block under 64 bytes, a `disk_size` that differs from the address,
        /// a `mem_size` too small for the headers (or for the 64-byte clear prefix of a
        /// compressed page), above [`MAX_PAGE_SIZE`](crate::format::block::MAX_PAGE_SIZE), or
        /// larger than an uncompressed block.
        detail: String,
    },

    /// An address cookie (or a checkpoint cookie) that does not decode.
    #[error("{path}: bad address cookie ({context}): {detail}")]
    BadCookie {
        /// The file holding the cookie: the `.wt` file for cell addresses, the metadata file
        /// for a checkpoint's `addr`.
        path: PathBuf,
        /// Where the cookie was found: a child or overflow address (its page byte and the
        /// page's offset), or a checkpoint's `addr` (the checkpoint's name and URI).
        context: String,
        /// Which field does not decode and why: a bad packed integer, an offset or size that
        /// overflows, bad hex, a checkpoint-cookie version other than 1.
        detail: String,
    },

    /// A compressed page that does not decompress to its recorded size.
    #[error(
        "{path}: {compressor} decompression failed for the block at offset {offset}: {detail}"
    )]
    Decompress {
        /// The `.wt` file.
        path: PathBuf,
        /// Byte offset of the block in the file.
        offset: u64,
        /// The file's `block_compressor`, as [`Compressor::name`] spells it.
        ///
        /// [`Compressor::name`]: crate::format::compress::Compressor::name
        compressor: &'static str,
        /// The decompressor's message, a size other than the page header's `mem_size − 64`,
        /// or why the file's compressor cannot decode (none configured, lz4).
        detail: String,
    },

    /// A cell descriptor this reader does not know (or that cannot appear on this page).
    #[error(
        "{path}: page at offset {offset}: unknown cell type {desc:#04x} at page byte {cell_offset}"
    )]
    UnknownCell {
        /// The `.wt` file.
        path: PathBuf,
        /// Byte offset of the page's block in the file.
        offset: u64,
        /// Where the cell starts in the uncompressed page image, counted from the first byte
        /// of the page header.
        cell_offset: usize,
        /// The cell's descriptor byte.
        desc: u8,
    },

    /// A cell whose content is damaged (bad length, bad packed integer, dangling copy …).
    #[error("{path}: page at offset {offset}: bad cell at page byte {cell_offset}: {detail}")]
    BadCell {
        /// The `.wt` file.
        path: PathBuf,
        /// Byte offset of the page's block in the file.
        offset: u64,
        /// Where the cell starts in the uncompressed page image, counted from the first byte
        /// of the page header.
        cell_offset: usize,
        /// What is wrong, naming the field (e.g. `data length: packed integer truncated`).
        detail: String,
    },

    /// A page whose structure is damaged (cell count, key order, child types …).
    #[error("{path}: page at offset {offset}: {detail}")]
    BadPage {
        /// The `.wt` file.
        path: PathBuf,
        /// Byte offset of the page's block in the file; for keys out of order, the leaf that
        /// holds the later key.
        offset: u64,
        /// What is wrong, e.g. the cell count against `entries`, a page of the wrong type, keys
        /// out of order, a value cell after no key, an empty child address, a key that is not a
        /// packed RecordId, a metadata string without its NUL.
        detail: String,
    },

    /// A value that should be one BSON document but is not (only where there is no
    /// [`CollectionWriter`](bsonflow_model::CollectionWriter) to report it to).
    #[error("{path}: page at offset {offset}: record {key}: {detail}")]
    BadDocument {
        /// The collection's `.wt` file.
        path: PathBuf,
        /// Byte offset of the leaf page's block in the file.
        offset: u64,
        /// The record key as [`RecordKey`](crate::RecordKey) displays it: a decimal RecordId,
        /// or lowercase hex key bytes.
        key: String,
        /// Why the value is not a document: an empty value, or the BSON frame check's message.
        detail: String,
    },

    /// The document sink refused a document or a corrupt-span report.
    #[error("{path}: page at offset {offset}: the writer failed: {source}")]
    Sink {
        /// The collection's `.wt` file.
        path: PathBuf,
        /// Byte offset of the leaf page's block whose document or report was refused.
        offset: u64,
        /// The writer's error.
        #[source]
        source: SinkError,
    },

    /// An error while reading one collection.
    #[error("collection {ns}: {error}")]
    InCollection {
        /// The collection being read.
        ns: Namespace,
        /// What went wrong; this crate never nests the wrapper, so this is not an
        /// `InCollection`.
        error: Box<Error>,
    },
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
