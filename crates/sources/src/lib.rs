//! bsonflow's input readers: everything that turns a backup file or folder into namespaces
//! of raw BSON documents pushed into a [`DocumentSink`](bsonflow_model::DocumentSink).
//!
//! One module per container format; they compose through `std::io::Read`, so `.tar.zst`,
//! `.ar.gz` and `.bson.gz` are stacks of layers, not special cases:
//!
//! - [`compression`]: gzip / zstd recognised by their first bytes, a byte-counting reader
//!   and [`ReadAhead`](compression::ReadAhead), which runs a decoder on its own thread.
//! - [`bson_stream`]: document boundaries in a run of BSON documents (mapped or streamed),
//!   pushed into a [`CollectionWriter`](bsonflow_model::CollectionWriter).
//! - [`layout`]: what a path inside a BSON set means (mongodump and ApsaraDB cloud layouts).
//! - [`folder`]: BSON sets on disk, read in parallel.
//! - [`detect`]: what an input is, from its bytes and layout.
//! - [`tar_set`]: a BSON set inside a tar / tar.gz / tar.zst stream, read in one pass.
//! - [`mongodump_archive`]: mongodump `--archive` streams (plain or gzipped, ApsaraDB's `.ar`).
//! - [`unpack`]: physical backups (`_qp.xb`, tar of a data directory) unpacked into a folder,
//!   with the format parsers only it uses:
//!   - [`unpack::xbstream`]: xbstream chunks (reader, reassembly rules, writer).
//!   - [`unpack::qpress`]: the qpress container, parsed by push so blocks decode in parallel.
//!   - [`unpack::quicklz`]: QuickLZ packet decoder (levels 1, 2 and 3).
//! - [`safe_path`]: member-path validation shared by every archive reader.
//!
//! Readers never decide what is exported: they offer every namespace to the sink, which
//! applies the skip rules and records why it declined.

pub mod bson_stream;
pub mod compression;
pub mod detect;
pub mod folder;
pub mod input;
pub mod layout;
pub mod mongodump_archive;
pub mod safe_path;
pub mod tar_set;
pub mod unpack;
