#![deny(missing_docs)]

//! An offline reader of MongoDB data directories (a mongod `dbpath`): every live document of
//! every collection, read straight out of the WiredTiger files — no WiredTiger library, no
//! mongod.
//!
//! # Boundary
//!
//! This crate reads; it does not decide what to export or how to write it. It turns a data
//! directory into catalog entries ([`CatalogEntry`], carrying the
//! [`CollectionMetadata`](bsonflow_model::CollectionMetadata) of each collection) and pushes
//! raw BSON documents into a [`CollectionWriter`](bsonflow_model::CollectionWriter), the
//! interface the export writer implements. Filtering namespaces is the caller's job
//! ([`NamespaceFilter`](bsonflow_model::NamespaceFilter)); [`DataDir::collections`] lists
//! everything, system collections included. What counts as a document is the newest
//! checkpoint's view with no history-store lookup and no timestamp rollback — what the real
//! library shows when it opens a copy read-only. Journal replay, encryption and RocksDB are
//! out of scope (reported as [`Error::Unsupported`]).
//!
//! # The walk
//!
//! ```text
//! WiredTiger.turtle ──► config of file:WiredTiger.wt ──► checkpoint root
//!        (or WiredTiger.backup, which replaces both)            │
//!                                                               ▼
//!                        metadata table (WiredTiger.wt): URI → config string
//!                                                               │ file:_mdb_catalog.wt
//!                                                               ▼
//!                        MongoDB catalog: ns, ident, options, indexes, UUID
//!                                                               │ file:<ident>.wt
//!                                                               ▼
//!                        collection tree: RecordId → BSON document
//! ```
//!
//! Every tree is read the same way: take the newest checkpoint of its `file:` config
//! ([`FileInfo`](format::metadata::FileInfo)), map the file
//! ([`BlockFile`](format::block::BlockFile)), read the root block — checksum verified,
//! decompressed ([`compress`](format::compress)) — and descend through internal pages to the
//! leaves ([`Tree`](format::btree::Tree)), decoding cells ([`cell`](format::cell)) and packed
//! integers ([`intpack`](format::intpack)) on the way. Only blocks reachable from the
//! checkpoint are read: files keep freed blocks with stale pages, so they are never scanned.
//!
//! # Types
//!
//! - [`DataDir`]: [`open`](DataDir::open) a directory, list its
//!   [`collections`](DataDir::collections), [`read_into`](DataDir::read_into) a
//!   [`DocumentSink`](bsonflow_model::DocumentSink) (every collection the sink wants, in
//!   parallel, with the missing-file policy of
//!   [`ReadOptions`](bsonflow_model::ReadOptions)), read one collection into a writer
//!   ([`read_collection_into`](DataDir::read_collection_into)) or a callback
//!   ([`read_collection`](DataDir::read_collection)), get the
//!   [`replica_set_name`](DataDir::replica_set_name).
//! - [`DataDir::survey`]: what the directory holds without reading a collection — the
//!   catalog's namespaces with the counts mongod's size storer recorded
//!   ([`recorded_sizes`](DataDir::recorded_sizes), [`RecordedSize`]), for `bsonflow inspect`.
//! - [`CatalogEntry`]: namespace, ident, metadata, file path, key format.
//! - [`ReadStats`]: documents, deleted values, pages read.
//! - [`RecordKey`]: an int64 RecordId, or the key bytes of a clustered collection.
//! - [`Error`]: each variant names the file and, for damage, the byte offset of the block.
//!
//! # Modules
//!
//! [`format`](mod@format) holds the on-disk formats, one module each, bottom up (packed
//! integers, config strings, turtle, blocks, compression, pages, cells, the tree walk, the
//! metadata table, the catalog); `datadir` ties them together and `read` is the one reader
//! verb, [`DataDir::read_into`].
//!
//! # Example
//!
//! ```no_run
//! use bsonflow_wiredtiger::DataDir;
//!
//! let dir = DataDir::open(std::path::Path::new("/backups/dbpath"))?;
//! for entry in dir.collections() {
//!     match dir.read_collection(entry, |key, doc| println!("{key}: {} bytes", doc.len())) {
//!         Ok(stats) => println!("{}: {} documents", entry.ns, stats.documents),
//!         Err(e) => eprintln!("{e}"), // e.g. the collection file is missing; carry on
//!     }
//! }
//! # Ok::<(), bsonflow_wiredtiger::Error>(())
//! ```

mod datadir;
mod error;
pub mod format;
mod read;
mod survey;

pub use datadir::{DataDir, MetadataSource, RecordKey, StorageInfo, CATALOG_URI};
pub use error::Error;
pub use format::btree::ReadStats;
pub use format::catalog::CatalogEntry;
pub use survey::{RecordedSize, SIZE_STORER_URI};
