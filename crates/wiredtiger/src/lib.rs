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
//! ([`metadata::FileInfo`]), map the file ([`block::BlockFile`]), read the root block —
//! checksum verified, decompressed ([`compress`]) — and descend through internal pages to the
//! leaves ([`btree::Tree`]), decoding cells ([`cell`]) and packed integers ([`intpack`]) on
//! the way. Only blocks reachable from the checkpoint are read: files keep freed blocks with
//! stale pages, so they are never scanned.
//!
//! # Types
//!
//! - [`DataDir`]: [`open`](DataDir::open) a directory, list its
//!   [`collections`](DataDir::collections), [`read_into`](DataDir::read_into)
//!   a [`DocumentSink`](bsonflow_model::DocumentSink) (every collection the sink wants, in
//!   parallel), [`read_collection_into`](DataDir::read_collection_into) one collection's writer, or [`read_collection`](DataDir::read_collection) with a callback, get the
//!   [`replica_set_name`](DataDir::replica_set_name).
//! - [`CatalogEntry`]: namespace, ident, metadata, file path, key format.
//! - [`ReadStats`]: documents, deleted values, pages read.
//! - [`RecordKey`]: an int64 RecordId, or the key bytes of a clustered collection.
//! - [`Error`]: each variant names the file and, for damage, the byte offset of the block.
//!
//! # Modules, bottom up
//!
//! [`intpack`] packed integers · [`config`] config strings · [`turtle`] the turtle and
//! hot-backup files · [`block`] descriptor, block header, CRC-32C, address and checkpoint
//! cookies · [`compress`] snappy/zstd/zlib framing · [`page`] page header · [`cell`] cells and
//! validity windows · [`btree`] the tree walk · [`metadata`] the metadata table and `file:`
//! configs · [`catalog`] `_mdb_catalog` records · `datadir` ties them together.
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

pub mod block;
pub mod btree;
pub mod catalog;
pub mod cell;
pub mod compress;
pub mod config;
mod datadir;
mod error;
pub mod intpack;
pub mod metadata;
pub mod page;
mod read;
pub mod turtle;

pub use btree::ReadStats;
pub use catalog::CatalogEntry;
pub use datadir::{DataDir, MetadataSource, RecordKey, StorageInfo, CATALOG_URI};
pub use error::Error;
