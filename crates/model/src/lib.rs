//! The vocabulary that bsonflow's producers and its consumer share.
//!
//! Data flows one way through bsonflow: **source → namespaces of raw BSON documents →
//! filter → Extended JSON → chunked gzip files → metadata.json → `.complete`**. This crate
//! holds the few types that cross the boundary between the readers (`bsonflow-sources`,
//! `bsonflow-wiredtiger`) and the writer (`bsonflow-export`), so that neither side depends on
//! the other:
//!
//! - [`Namespace`]: a `db.collection` pair, split at the first dot.
//! - [`CollectionMetadata`]: options, index specs, UUID and type of a collection, parsed from
//!   a mongodump `.metadata.json` (any of its three dialects) or built by a catalog reader.
//! - [`NamespaceFilter`] and [`SkipReason`]: the namespaces bsonflow never exports (system
//!   databases and collections, views, time-series, names with `/` …) plus the user's
//!   `--include`/`--exclude` patterns. Every skip has a reason that can be printed.
//! - [`DocumentSink`] and [`CollectionWriter`]: where a source pushes what it reads. A
//!   source asks the sink to [`open`](DocumentSink::open) a namespace (the sink may decline,
//!   recording why), then pushes raw BSON documents, each with the byte offset it was read
//!   at, and finally calls [`finish`](CollectionWriter::finish). The export writer implements
//!   these traits; tests implement them with a few lines that collect documents in memory.
//! - [`Progress`]: counters a source bumps as it consumes input, read by the progress bar.
//!
//! No I/O happens here.

#![forbid(unsafe_code)]

mod filter;
mod metadata;
mod namespace;
mod progress;
mod sink;

pub use filter::{NamespaceFilter, NamespacePattern, PatternError, SkipReason};
pub use metadata::{CollectionMetadata, MetadataError};
pub use namespace::{Namespace, NamespaceError};
pub use progress::Progress;
pub use sink::{CollectionWriter, DocumentSink, SinkError};
