//! The scale-out contract: `plan`, `run-task`, `commit` — three commands any engine (Ray,
//! Spark, Kubernetes, AWS Batch) can run, whose outputs are deterministic.
//!
//! ```text
//! BsonSet ──plan_set (length-hop scan)──▶ Plan { tasks: [Task { ns, segments, first_chunk, chunks }] }
//! Task ──read_task (one byte range, or one collection)──▶ Exporter (first chunk number given)
//!      ──Exporter::finish_task──▶ Manifest (.bsonflow/tasks/K.json)
//! Plan + every Manifest + the listing ──verify──▶ Verified { collections } ──▶ metadata.json, .complete
//! ```
//!
//! - [`Plan`]: what `plan` prints (JSON, schema [`PLAN_VERSION`]). A BSON set of
//!   uncompressed `.bson` files is cut into **range tasks** at chunk boundaries: the chunk
//!   rule counts input BSON (see `bsonflow_export::CollectionExport`), so hopping from one
//!   document length to the next ([`bsonflow_sources::folder::hop_lengths`]) finds every
//!   boundary and each task knows its first chunk number. A collection of compressed files
//!   is one **collection task**; any other input (tar, archive, physical backup) is one
//!   **input task** read as `convert` reads it.
//! - [`read_task`]: feeds one range or collection task's documents to a writer.
//! - [`Manifest`]: what a task wrote (files, sizes, documents, its byte range, the offsets
//!   of its first and last document, the collections' `metadata.json`).
//! - [`verify`]: the commit's checks — every manifest present, ranges chaining exactly,
//!   chunk numbers `0..n` per collection and shard with every file present, document counts
//!   adding up — and each collection's `metadata.json`, the union over the shards holding it.
//! - A plan of several inputs (the shards of one cluster, [`PlanInput`]) has tasks over
//!   every input; each task names the input it reads, and its files carry that shard's name.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod plan;
mod verify;

pub use plan::{
    plan_set, read_task, whole_input_task, Manifest, ManifestCollection, ManifestFile, Plan,
    PlanError, PlanInput, Segment, Task, TaskKind, PLAN_VERSION,
};
pub use verify::{verify, Verified, VerifiedCollection};

/// Where task `id`'s manifest is written, relative to the export's root.
pub fn manifest_name(id: usize) -> String {
    format!(".bsonflow/tasks/{id}.json")
}
