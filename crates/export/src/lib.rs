//! The Atlas snapshot-export writer: the consumer end of bsonflow's pipeline.
//!
//! ```text
//! source ──open(ns, meta)──▶ Exporter (DocumentSink) ── filter ──▶
//!        CollectionExport (CollectionWriter) ──write_document──▶ Extended JSON lines
//!        ──▶ chunk of --chunk-bytes ──▶ ChunkPool (gzip, N threads)
//!        ──▶ <db>/<coll>/<shard>.<n>.json.gz
//! Exporter::finish ──▶ <db>/<coll>/metadata.json for every collection
//!                  ──▶ .complete (only if all complete)
//! ```
//!
//! - [`Exporter`] owns the output folder, the namespace filter, the compression pool and the
//!   run's bookkeeping; it implements [`DocumentSink`](bsonflow_model::DocumentSink), so every
//!   reader (folders, tar streams, mongodump archives, WiredTiger trees) feeds it the same way.
//! - [`CollectionExport`] converts each raw document to one line of Extended JSON (canonical
//!   by default, as Atlas writes) into the current chunk; a full chunk goes to the pool, which
//!   compresses it (ISA-L or libdeflate, whichever is fastest at the level: [`GzipEncoder`])
//!   and hands it to the [`Target`]: a [`LocalFolder`] writes it
//!   under a temporary name, renamed when complete; object storage (`bsonflow-cloud`) uploads it.
//!   Chunks in flight are bounded, so memory does not grow with the input.
//! - A sharded cluster is one export from several inputs: [`Exporter::shard`] gives each
//!   input its own sink, a [`ShardExport`] (its own shard name and ledger, files numbered per
//!   shard from 0), and [`Exporter::finish_shards`] takes every [`ShardDone`]: one
//!   `metadata.json` per collection from the shards holding it ([`union_metadata`]), one
//!   `.complete` counting every shard's files, none if any shard failed. With the config
//!   server's chunk table ([`Ownership`], built by a [`ConfigCollector`] sink and set as
//!   [`ExportOptions::ownership`]), a shard's copy of a document it does not own (an orphan)
//!   is dropped and counted; [`hash64`] and [`compare`] are MongoDB's hashed-key and BSON
//!   order rules.
//! - [`Exporter::finish`] writes every `metadata.json`, then the [`CompleteMarker`] as
//!   `.complete` — only when every collection was written in full — and returns the
//!   [`RunSummary`] that the binary prints.
//!
//! - [`convert_sample`] converts a sample of documents the same way, in memory, and
//!   [`SampleConversion::extrapolate`] turns it into an [`ExportEstimate`] (`bsonflow
//!   inspect`).
//! - [`check_listing`] reads a finished export's listing back ([`LayoutFile`] tells each
//!   name): chunk numbers `0..n` per collection and shard, a `metadata.json` per collection,
//!   `.complete`, nothing temporary or foreign (`bsonflow verify` builds on it).
//!
//! Output is deterministic: the same documents give byte-identical files whatever the number
//! of threads (chunk boundaries depend only on the JSON, compression only on the level).

// `unsafe` only in `isal_ffi` (the ISA-L calls), which allows it for itself.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod collection;
mod complete;
mod estimate;
mod exporter;
mod isal_ffi;
mod layout;
mod ledger;
mod names;
mod options;
mod output;
mod ownership;
mod pool;
mod shards;
mod summary;
mod target;

pub use collection::CollectionExport;
pub use complete::{CompleteMarker, KeyValue};
pub use estimate::{convert_sample, ExportEstimate, SampleConversion};
pub use exporter::{metadata_json, ExportError, Exporter, TaskOutput};
pub use layout::{
    check_listing, LayoutFile, LayoutProblem, ListedChunk, ListedCollection, Listing,
};
pub use names::{check_name, chunk_name, collection_dir, metadata_name};
pub use options::{ExportOptions, DEFAULT_CHUNK_BYTES, DEFAULT_GZIP_LEVEL, DEFAULT_SHARD_NAME};
pub use output::{marker_contents, MARKER};
pub use ownership::{
    compare, hash64, CollectionOwnership, ConfigCollector, ConfigWriter, Ownership,
};
pub use pool::GzipEncoder;
pub use shards::{union_metadata, ShardDone, ShardExport};
pub use summary::{CollectionSummary, CorruptDocument, Outcome, RunSummary, CORRUPT_LISTED};
pub use target::{is_layout_name, LocalFolder, ObjectWriter, Target, TargetError};
