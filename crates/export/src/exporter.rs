//! The run: output folder, filter, pool and bookkeeping; the sink every reader feeds.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bsonflow_ejson::Mode;
use bsonflow_model::{CollectionMetadata, DocumentSink, Namespace, SinkError, SkipReason};

use crate::collection::CollectionExport;
use crate::complete::CompleteMarker;
use crate::names::check_name;
use crate::options::ExportOptions;
use crate::pool::ChunkPool;
use crate::summary::{CollectionSummary, RunSummary};

/// Errors of the run as a whole (per-collection errors end up in [`RunSummary::failed`]).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: the output folder is not empty; choose a new or empty folder", path.display())]
    NotEmpty { path: PathBuf },
    #[error("{0}")]
    Options(String),
}

pub(crate) enum Status {
    Open,
    Done(CollectionSummary),
    Failed(String),
}

struct Entry {
    metadata: CollectionMetadata,
    status: Status,
}

#[derive(Default)]
struct State {
    collections: BTreeMap<Namespace, Entry>,
    skipped: Vec<(Namespace, SkipReason)>,
}

/// Writes one export. Create it, hand `&exporter` to the readers as their
/// [`DocumentSink`], then call [`finish`](Exporter::finish).
pub struct Exporter {
    options: ExportOptions,
    pool: ChunkPool,
    state: Mutex<State>,
}

impl Exporter {
    /// Prepares the output folder: created when absent; an existing folder must be empty.
    pub fn new(options: ExportOptions) -> Result<Self, ExportError> {
        if options.chunk_bytes == 0 {
            return Err(ExportError::Options(
                "--chunk-bytes must be at least 1".into(),
            ));
        }
        check_name(&options.shard_name)
            .map_err(|why| ExportError::Options(format!("--shard-name: {why}")))?;
        let out = &options.out_dir;
        let io_err = |source| ExportError::Io {
            path: out.clone(),
            source,
        };
        match std::fs::read_dir(out) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(ExportError::NotEmpty { path: out.clone() });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(out).map_err(io_err)?
            }
            Err(e) => return Err(io_err(e)),
        }
        let pool =
            ChunkPool::new(options.threads, options.gzip_level).map_err(ExportError::Options)?;
        Ok(Exporter {
            options,
            pool,
            state: Mutex::new(State::default()),
        })
    }

    pub fn options(&self) -> &ExportOptions {
        &self.options
    }

    pub(crate) fn pool(&self) -> &ChunkPool {
        &self.pool
    }

    pub(crate) fn mode(&self) -> Mode {
        self.options.mode
    }

    /// Records how a collection writer ended.
    pub(crate) fn set_status(&self, ns: &Namespace, status: Status) {
        let mut state = self.state.lock().unwrap();
        if let Some(entry) = state.collections.get_mut(ns) {
            // A failure is never overwritten by a later report.
            if !matches!(entry.status, Status::Failed(_)) {
                entry.status = status;
            }
        }
    }

    /// Records a collection that a reader could not read (e.g. its file is missing), so
    /// that the summary lists it and no `.complete` is written. An earlier, more precise
    /// failure recorded by the collection's writer is kept.
    pub fn record_failure(&self, ns: &Namespace, error: String) {
        let mut state = self.state.lock().unwrap();
        let entry = state.collections.entry(ns.clone()).or_insert(Entry {
            metadata: CollectionMetadata::default(),
            status: Status::Open,
        });
        if !matches!(entry.status, Status::Failed(_)) {
            entry.status = Status::Failed(error);
        }
    }

    /// Whether the filter exports `ns`; used by readers that want to avoid work.
    pub fn wants(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        self.options.filter.check(ns, meta)
    }

    /// Writes every collection's `metadata.json`, then `.complete` when every collection was
    /// written in full and `inputs_complete` is true (the readers read their whole input).
    pub fn finish(
        self,
        marker: &CompleteMarker,
        inputs_complete: bool,
    ) -> Result<RunSummary, ExportError> {
        let Exporter {
            options,
            pool,
            state,
        } = self;
        // Joins the compression threads: every queued chunk is on disk after this.
        drop(pool);
        let state = state.into_inner().unwrap();
        let mut summary = RunSummary::default();
        for (ns, entry) in &state.collections {
            match &entry.status {
                Status::Done(c) => {
                    write_metadata(&options.out_dir, ns, &entry.metadata)?;
                    summary.total_files += c.files;
                    summary.collections.push(c.clone());
                }
                Status::Open => summary.failed.push((
                    ns.clone(),
                    "reading stopped before the end of the collection".into(),
                )),
                Status::Failed(e) => summary.failed.push((ns.clone(), e.clone())),
            }
        }
        summary.skipped = state.skipped;
        summary.skipped.sort_by(|a, b| a.0.cmp(&b.0));
        if summary.failed.is_empty() && inputs_complete {
            let path = options.out_dir.join(".complete");
            write_atomically(&path, marker.to_json(summary.total_files).as_bytes())?;
            summary.complete_written = true;
        }
        Ok(summary)
    }
}

/// The folder of a collection's files.
pub(crate) fn collection_dir(out: &Path, ns: &Namespace) -> PathBuf {
    out.join(&ns.db).join(&ns.collection)
}

fn write_metadata(
    out: &Path,
    ns: &Namespace,
    meta: &CollectionMetadata,
) -> Result<(), ExportError> {
    let doc = meta.export_document(&ns.collection);
    let raw = doc.to_vec().map_err(|e| ExportError::Io {
        path: collection_dir(out, ns).join("metadata.json"),
        source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
    })?;
    let mut json = Vec::with_capacity(raw.len() * 2);
    bsonflow_ejson::write_document(&mut json, &raw, Mode::Canonical).map_err(|e| {
        ExportError::Io {
            path: collection_dir(out, ns).join("metadata.json"),
            source: io::Error::new(io::ErrorKind::InvalidData, e.to_string()),
        }
    })?;
    let dir = collection_dir(out, ns);
    std::fs::create_dir_all(&dir).map_err(|source| ExportError::Io {
        path: dir.clone(),
        source,
    })?;
    write_atomically(&dir.join("metadata.json"), &json)
}

/// Writes `bytes` to a temporary sibling of `path`, then renames it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{name}.partial"));
    std::fs::write(&temp, bytes)
        .and_then(|()| std::fs::rename(&temp, path))
        .map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        })
}

impl<'a> DocumentSink for &'a Exporter {
    type Writer = CollectionExport<'a>;

    fn open(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<Self::Writer>, SinkError> {
        if let Err(reason) = self.options.filter.check(ns, meta) {
            self.state
                .lock()
                .unwrap()
                .skipped
                .push((ns.clone(), reason));
            return Ok(None);
        }
        let bad = check_name(&ns.db)
            .map_err(|why| format!("database name {:?}: {why}", ns.db))
            .and_then(|()| {
                check_name(&ns.collection)
                    .map_err(|why| format!("collection name {:?}: {why}", ns.collection))
            });
        {
            let mut state = self.state.lock().unwrap();
            if state.collections.contains_key(ns) {
                return Err(format!("{ns} appears twice in the input").into());
            }
            state.collections.insert(
                ns.clone(),
                Entry {
                    metadata: meta.clone(),
                    status: match &bad {
                        Ok(()) => Status::Open,
                        Err(why) => Status::Failed(why.clone()),
                    },
                },
            );
        }
        if let Err(why) = bad {
            return Err(format!("{ns}: {why}").into());
        }
        let dir = collection_dir(&self.options.out_dir, ns);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            let msg = format!("{}: {e}", dir.display());
            self.set_status(ns, Status::Failed(msg.clone()));
            return Err(msg.into());
        }
        Ok(Some(CollectionExport::new(self, ns.clone(), dir)))
    }

    fn update_metadata(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SinkError> {
        if let Some(entry) = self.state.lock().unwrap().collections.get_mut(ns) {
            entry.metadata = meta.clone();
        }
        Ok(())
    }
}
