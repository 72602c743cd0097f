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
//!   A sink is also the run's one failure ledger: readers report what they could not read
//!   with [`fail`](DocumentSink::fail), as a typed [`Failure`].
//! - [`ReadOptions`] and [`ReadReport`]: what every reader's one verb,
//!   `read_into(sink, progress, options) -> ReadReport`, takes and gives back (what the input
//!   turned out to be, ignored members, collections left out by a policy, whether it was
//!   read to its end).
//! - [`frame`]: the outer frame of a BSON document (length prefix, trailing `0x00`), the
//!   check every reader applies before it hands a document to a [`CollectionWriter`].
//! - [`Census`]: a sink that counts instead of writing (documents and bytes per namespace,
//!   the filter's skip reasons, a sample of documents); `bsonflow inspect` feeds it to the
//!   readers and turns it into a [`Survey`] (each count marked with its [`Basis`]).
//! - [`Progress`]: counters a source bumps as it consumes input, read by the progress bar.
//! - [`ByteSize`]: byte counts as people read them (`268.4 MB`).
//!
//! No I/O happens here.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod census;
mod filter;
pub mod frame;
mod metadata;
mod namespace;
mod progress;
mod read;
mod sink;
mod size;
mod survey;

pub use census::{Census, Counted, Tally, SAMPLE_END};
pub use filter::{NamespaceFilter, NamespacePattern, PatternError, SkipReason};
pub use frame::{check_frame, frame_len, FrameError, MAX_DOCUMENT_BYTES};
pub use metadata::{CollectionMetadata, MetadataError};
pub use namespace::{Namespace, NamespaceError};
pub use progress::Progress;
pub use read::{Failure, FailureKind, Ignored, LeftOut, NamespaceRead, ReadOptions, ReadReport};
pub use sink::{CollectionWriter, DocumentSink, SinkError};
pub use size::ByteSize;
pub use survey::{Basis, NamespaceSurvey, Survey};
