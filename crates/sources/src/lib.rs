#![deny(missing_docs)]

//! bsonflow's input readers: everything that turns a backup file or folder into namespaces
//! of raw BSON documents pushed into a [`DocumentSink`](bsonflow_model::DocumentSink).
//!
//! # One verb
//!
//! Every reader has the same shape, `read_into(sink, progress, options) -> ReadReport`
//! ([`ReadOptions`](bsonflow_model::ReadOptions), [`ReadReport`](bsonflow_model::ReadReport)):
//! documents go to the sink, failures to the sink's ledger
//! ([`DocumentSink::fail`](bsonflow_model::DocumentSink::fail)), the rest comes back in the
//! report. One reader per input form:
//!
//! | input | entry point |
//! | --- | --- |
//! | a mongodump folder, a cloud BSON download unpacked, one loose `.bson` | [`folder::scan`] or [`BsonSet::single_file`], then [`BsonSet::read_into`] |
//! | a `.tar` / `.tar.gz` / `.tar.zst` of either layout | [`tar_set::read_into`] |
//! | a mongodump `--archive` (plain, gzip or zstd) | [`mongodump_archive::read_into`] |
//! | a physical backup (`_qp.xb`, a tar of a data directory) | [`unpack::unpack_file`] into a folder, then the `bsonflow-wiredtiger` crate's `DataDir::read_into` |
//!
//! [`survey`] runs the same readers into a counting sink for `bsonflow inspect`, reading
//! only what is cheap for each input unless asked to read everything.
//!
//! [`detect()`] tells which form an input is, from its bytes and layout. Where the bytes come
//! from is one seam per reader kind: the streaming readers take an [`Input`] (a named stream
//! of raw bytes), the folder reader a [`Store`] (files listed under a root and opened). A
//! local file and a [`LocalFolder`] are today's implementations; an object, or a prefix, in
//! object storage read by ranged GETs is one more of each, not a new reader.
//!
//! # Layers
//!
//! The readers compose through `std::io::Read`, so `.tar.zst`, `.ar.gz` and `.bson.gz` are
//! stacks of layers, not special cases. The layers are in [`layers`]: document framing
//! ([`layers::bson_stream`]), compression told by its first bytes
//! ([`layers::compression`]), what a path inside a BSON set means ([`layers::layout`]), and
//! member-name checks ([`layers::safe_path`]). [`input`] holds what the streaming readers
//! share: the decompression thread and stream positions for error messages.
//!
//! Readers never decide what is exported: they offer every namespace to the sink, which
//! applies the skip rules and records why it declined.

pub mod detect;
pub mod folder;
pub mod input;
pub mod layers;
pub mod mongodump_archive;
pub mod store;
pub mod survey;
pub mod tar_set;
pub mod unpack;

// The layers, by their short names inside the crate.
use layers::{bson_stream, compression, layout, safe_path};

pub use detect::{detect, InputKind};
pub use folder::BsonSet;
pub use input::Input;
pub use store::{LocalFolder, Store};
