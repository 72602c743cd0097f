//! The plan and the manifests: their schema, how a BSON set is cut into tasks, and how one
//! task is read.

use std::path::Path;

use bsonflow_model::{
    CollectionMetadata, CollectionWriter, Namespace, Progress, SinkError, SkipReason,
};
use bsonflow_sources::folder::{self, BsonSet, CollectionFiles, FolderError};
use bsonflow_sources::layers::compression::{self, Compression};
use serde::{Deserialize, Serialize};

/// The plan schema's version (2: several inputs, the shards of one cluster).
pub const PLAN_VERSION: u32 = 2;

/// What `bsonflow plan` prints: everything `run-task` and `commit` need, and no credentials.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// The input, absolute when local.
    pub input: String,
    /// The export's root (`--out`), absolute when local.
    pub out: String,
    /// `convert`'s options as given to `plan` (input and `--out` aside): `run-task` and
    /// `commit` read them as `convert` would.
    pub options: Vec<String>,
    /// `--chunk-bytes` (input BSON per chunk).
    pub chunk_bytes: u64,
    /// `--target-bytes` (input BSON per task, cut at the next chunk boundary).
    pub target_bytes: u64,
    /// `<shard>` of the data files (of the first input).
    pub shard_name: String,
    /// Every input, in the order given (`input` and `shard_name` are the first's): the
    /// shards of one cluster, each task reading one of them.
    pub inputs: Vec<PlanInput>,
    /// The tasks, ids `0..n`.
    pub tasks: Vec<Task>,
}

/// One input of a plan: a shard's backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanInput {
    /// The input, absolute when local.
    pub input: String,
    /// The `<shard>` of its files; `None` when the input names it itself at run time (a
    /// physical backup's replica set).
    pub shard: Option<String>,
}

/// How a task reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// Byte ranges of a collection's uncompressed data files, cut at chunk boundaries.
    Range,
    /// A whole collection whose files cannot be cut (compressed).
    Collection,
    /// The whole input, read as `convert` reads it (an archive, a tar, a physical backup).
    Input,
}

/// Bytes `start..end` of one data file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The file, as the input's listing names it.
    pub file: String,
    /// First byte (a document starts here).
    pub start: u64,
    /// End (a document ends here).
    pub end: u64,
    /// The file's size.
    pub size: u64,
}

/// One task of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// `0..n`.
    pub id: usize,
    /// Which of the plan's `inputs` it reads.
    #[serde(default)]
    pub input: usize,
    /// `db.coll`; `*` for an input task.
    pub ns: String,
    /// How it reads.
    pub kind: TaskKind,
    /// What it reads (range tasks; every data file whole for collection tasks; empty for an
    /// input task or an empty collection).
    pub segments: Vec<Segment>,
    /// The number of its first chunk file.
    pub first_chunk: u64,
    /// How many chunk files it writes, when the plan knows (range tasks).
    pub chunks: Option<u64>,
    /// Documents it reads, when the plan knows (range tasks).
    pub documents: Option<u64>,
    /// Input bytes it reads (BSON for range tasks, file bytes otherwise).
    pub bson_bytes: u64,
}

/// What a task wrote: `<out>/.bsonflow/tasks/<id>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`PLAN_VERSION`].
    pub version: u32,
    /// The task's id.
    pub task: usize,
    /// The segments it read (the plan's).
    pub segments: Vec<Segment>,
    /// Offset of its first and last document in their files, when it read any.
    pub first_document: Option<u64>,
    /// See `first_document`.
    pub last_document: Option<u64>,
    /// What it wrote, by collection.
    pub collections: Vec<ManifestCollection>,
}

/// One collection's files of a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCollection {
    /// `db.coll`.
    pub ns: String,
    /// Number of its first chunk file.
    pub first_chunk: u64,
    /// The `<shard>` of its file names (a physical backup's replica set for an input task).
    pub shard: String,
    /// The chunk files, in order, with their sizes.
    pub files: Vec<ManifestFile>,
    /// Documents written.
    pub documents: u64,
    /// BSON bytes read.
    pub bson_bytes: u64,
    /// The collection's `metadata.json`, as text.
    pub metadata: String,
}

/// A file written by a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Relative to the export's root.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A plan that cannot be made, or a task that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Reading the input failed.
    #[error(transparent)]
    Folder(#[from] FolderError),
    /// The plan names something the input does not have.
    #[error("{0}")]
    Mismatch(String),
}

/// The single task of an input that is read whole.
pub fn whole_input_task(bytes: u64) -> Task {
    Task {
        id: 0,
        input: 0,
        ns: "*".into(),
        kind: TaskKind::Input,
        segments: Vec::new(),
        first_chunk: 0,
        chunks: None,
        documents: None,
        bson_bytes: bytes,
    }
}

/// Cuts every collection of `set` that `wants` accepts into tasks: range tasks of about
/// `target_bytes` of BSON each, cut where a chunk of `chunk_bytes` ends.
pub fn plan_set(
    set: &BsonSet,
    chunk_bytes: u64,
    target_bytes: u64,
    wants: &dyn Fn(&Namespace, &CollectionMetadata) -> Result<(), SkipReason>,
) -> Result<Vec<Task>, PlanError> {
    let mut tasks = Vec::new();
    for files in &set.collections {
        let meta = match &files.metadata {
            Some(p) => folder::read_metadata(&*set.store, p)?,
            None => CollectionMetadata::default(),
        };
        if wants(&files.ns, &meta).is_err() {
            continue;
        }
        let cut = match compressed(set, files)? {
            true => None,
            false => cut_collection(set, files, chunk_bytes, target_bytes)?,
        };
        match cut {
            Some(mut cut) => tasks.append(&mut cut),
            None => tasks.push(Task {
                id: 0,
                input: 0,
                ns: files.ns.to_string(),
                kind: TaskKind::Collection,
                segments: whole_files(set, files)?,
                first_chunk: 0,
                chunks: None,
                documents: None,
                bson_bytes: files.data_bytes,
            }),
        }
    }
    for (i, t) in tasks.iter_mut().enumerate() {
        t.id = i;
    }
    Ok(tasks)
}

fn whole_files(set: &BsonSet, files: &CollectionFiles) -> Result<Vec<Segment>, PlanError> {
    files
        .data
        .iter()
        .map(|p| {
            let size = set.store.size(p).map_err(|source| FolderError::Io {
                path: p.clone(),
                source,
            })?;
            Ok(Segment {
                file: p.display().to_string(),
                start: 0,
                end: size,
                size,
            })
        })
        .collect()
}

/// Whether any data file of the collection is compressed (then it cannot be cut).
fn compressed(set: &BsonSet, files: &CollectionFiles) -> Result<bool, PlanError> {
    for p in &files.data {
        let io = |source| FolderError::Io {
            path: p.clone(),
            source,
        };
        let mut r = set.store.open(p).map_err(io)?;
        let head = compression::read_prefix(&mut r, 4).map_err(io)?;
        if Compression::sniff(&head) != Compression::None {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The range tasks of one collection, or `None` when a length cannot be true (the
/// collection is then read whole, and its reading reports the damage).
fn cut_collection(
    set: &BsonSet,
    files: &CollectionFiles,
    chunk_bytes: u64,
    target_bytes: u64,
) -> Result<Option<Vec<Task>>, PlanError> {
    struct Cutter {
        ns: String,
        chunk_bytes: u64,
        target_bytes: u64,
        sizes: Vec<(String, u64)>,
        tasks: Vec<Task>,
        chunk_bson: u64,
        chunk_index: u64,
        start: (usize, u64),
        first_chunk: u64,
        task_bson: u64,
        task_docs: u64,
    }
    impl Cutter {
        fn segments(&self, end: (usize, u64)) -> Vec<Segment> {
            (self.start.0..=end.0)
                .filter_map(|i| {
                    let (file, size) = &self.sizes[i];
                    let s = if i == self.start.0 { self.start.1 } else { 0 };
                    let e = if i == end.0 { end.1 } else { *size };
                    (e > s).then(|| Segment {
                        file: file.clone(),
                        start: s,
                        end: e,
                        size: *size,
                    })
                })
                .collect()
        }
        fn cut(&mut self, end: (usize, u64), chunks: u64) {
            self.tasks.push(Task {
                input: 0,
                id: 0,
                ns: self.ns.clone(),
                kind: TaskKind::Range,
                segments: self.segments(end),
                first_chunk: self.first_chunk,
                chunks: Some(chunks),
                documents: Some(self.task_docs),
                bson_bytes: self.task_bson,
            });
            self.start = end;
            self.first_chunk += chunks;
            self.task_bson = 0;
            self.task_docs = 0;
        }
        fn document(&mut self, file: usize, offset: u64, len: u64) {
            self.chunk_bson += len;
            self.task_bson += len;
            self.task_docs += 1;
            if self.chunk_bson >= self.chunk_bytes {
                self.chunk_index += 1;
                self.chunk_bson = 0;
                if self.task_bson >= self.target_bytes {
                    let chunks = self.chunk_index - self.first_chunk;
                    self.cut((file, offset + len), chunks);
                }
            }
        }
    }
    let mut sizes = Vec::new();
    for p in &files.data {
        let size = set.store.size(p).map_err(|source| FolderError::Io {
            path: p.clone(),
            source,
        })?;
        sizes.push((p.display().to_string(), size));
    }
    let mut c = Cutter {
        ns: files.ns.to_string(),
        chunk_bytes,
        target_bytes,
        sizes,
        tasks: Vec::new(),
        chunk_bson: 0,
        chunk_index: 0,
        start: (0, 0),
        first_chunk: 0,
        task_bson: 0,
        task_docs: 0,
    };
    for (i, p) in files.data.iter().enumerate() {
        let size = c.sizes[i].1;
        let io = |source| FolderError::Io {
            path: p.clone(),
            source,
        };
        let reader = set.store.open(p).map_err(io)?;
        if folder::hop_lengths(reader, size, |off, len| c.document(i, off, len)).is_err() {
            return Ok(None);
        }
    }
    let last = c.sizes.len().saturating_sub(1);
    let end = (last, c.sizes.last().map_or(0, |s| s.1));
    if c.task_docs > 0 || c.tasks.is_empty() {
        let chunks = c.chunk_index - c.first_chunk + u64::from(c.chunk_bson > 0);
        c.cut(end, chunks);
    }
    Ok(Some(c.tasks))
}

/// Feeds the documents of a range or collection task to `writer` (opened at the task's
/// first chunk), and returns the offsets of its first and last document.
pub fn read_task<W: CollectionWriter>(
    set: &BsonSet,
    task: &Task,
    writer: &mut W,
    progress: &Progress,
) -> Result<(Option<u64>, Option<u64>), PlanError> {
    let files = set
        .collections
        .iter()
        .find(|c| c.ns.to_string() == task.ns)
        .ok_or_else(|| PlanError::Mismatch(format!("the input has no collection {}", task.ns)))?;
    let ns = files.ns.clone();
    let mut marks = Marks {
        inner: writer,
        first: None,
        last: None,
    };
    for seg in &task.segments {
        let path = files
            .data
            .iter()
            .find(|p| p.display().to_string() == seg.file)
            .ok_or_else(|| {
                PlanError::Mismatch(format!(
                    "{}: not a data file of {} in the input",
                    seg.file, task.ns
                ))
            })?;
        match task.kind {
            TaskKind::Range => {
                folder::read_range_into(
                    &*set.store,
                    path,
                    &ns,
                    seg.start..seg.end,
                    &mut marks,
                    progress,
                )?;
            }
            _ => {
                folder::read_file_into(&*set.store, Path::new(path), &ns, &mut marks, progress)?;
            }
        }
    }
    Ok((marks.first, marks.last))
}

/// Notes the offsets of the first and last document written through it.
struct Marks<'w, W> {
    inner: &'w mut W,
    first: Option<u64>,
    last: Option<u64>,
}

impl<W: CollectionWriter> CollectionWriter for Marks<'_, W> {
    fn set_origin(&mut self, origin: &str) {
        self.inner.set_origin(origin);
    }

    fn write_document(&mut self, doc: &[u8], offset: u64) -> Result<(), SinkError> {
        self.first.get_or_insert(offset);
        self.last = Some(offset);
        self.inner.write_document(doc, offset)
    }

    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError> {
        self.inner.corrupt(offset, detail)
    }

    fn finish(self) -> Result<(), SinkError> {
        Ok(())
    }
}
