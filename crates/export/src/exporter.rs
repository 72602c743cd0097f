//! The run: output folder, filter, pool and bookkeeping; the sink every reader feeds.

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bsonflow_ejson::Mode;
use bsonflow_model::{
    CollectionMetadata, DocumentSink, Failure, FailureKind, Namespace, ReadReport, SinkError,
    SkipReason,
};

use crate::collection::{CollectionExport, Shared};
use crate::complete::CompleteMarker;
use crate::ledger::{Ledger, Status};
use crate::names::{check_name, chunk_name, collection_dir, metadata_name};
use crate::options::ExportOptions;
use crate::output::MARKER;
use crate::pool::ChunkPool;
use crate::summary::RunSummary;
use crate::target::{LocalFolder, Target, TargetError};

/// Errors that stop the run as a whole (per-collection failures end up in
/// [`RunSummary::failed`]).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading or writing the output folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// The output folder holds files already, and no earlier bsonflow export.
    #[error("{}: the output folder is not empty and holds no earlier bsonflow export; choose a new or empty folder", path.display())]
    NotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// Another run holds the output folder's lock.
    #[error("{}: another bsonflow run is writing into this folder; wait for it or choose another folder", path.display())]
    Busy {
        /// The folder.
        path: PathBuf,
    },
    /// The folder holds an earlier export and something that is not part of one.
    #[error("{}: holds an earlier bsonflow export and {}, which is not part of one; nothing was removed — move it away or choose another folder", path.display(), found.display())]
    Foreign {
        /// The output folder.
        path: PathBuf,
        /// The first entry found that does not belong to an export.
        found: PathBuf,
    },
    /// A chunk size of 0 bytes.
    #[error("the chunk size must be at least 1 byte")]
    ChunkBytes,
    /// A gzip level above 12 (see [`GzipEncoder::for_level`](crate::GzipEncoder::for_level)).
    #[error("gzip level {0} is not between 0 and 12")]
    GzipLevel(u32),
    /// A shard name that cannot be part of a file name.
    #[error("shard name {name:?}: {why}")]
    ShardName {
        /// The name given.
        name: String,
        /// Why it cannot be used.
        why: String,
    },
    /// A collection's `metadata.json` cannot be written as Extended JSON.
    #[error("{path}: {why}")]
    Metadata {
        /// The file, relative to the export's root.
        path: String,
        /// What is wrong with the metadata.
        why: String,
    },
    /// Writing to the output's storage failed (a file, `.complete`, or tidying up).
    #[error(transparent)]
    Storage(#[from] TargetError),
}

/// Writes one export. Create it, hand `&exporter` to the readers as their
/// [`DocumentSink`], then call [`finish`](Exporter::finish).
pub struct Exporter {
    options: ExportOptions,
    pool: ChunkPool,
    ledger: Ledger,
    /// Where the files go; a local folder's lock is held until the run ends.
    target: Arc<dyn Target>,
    restarted: bool,
}

impl Exporter {
    /// Claims the output folder `options.out_dir` ([`LocalFolder::claim`]: created when
    /// absent, taken when empty, cleared when it holds an earlier bsonflow export — see
    /// [`MARKER`](crate::MARKER) —, refused otherwise; and locked until the run ends).
    pub fn new(options: ExportOptions) -> Result<Self, ExportError> {
        check_options(&options)?;
        let folder = LocalFolder::claim(&options.out_dir)?;
        let restarted = folder.restarted();
        Self::build(options, Arc::new(folder), restarted)
    }

    /// An export into `target`, which the caller has claimed for the run (object storage);
    /// `options.out_dir` is not used. `restarted` says whether it held an earlier export.
    pub fn with_target(
        options: ExportOptions,
        target: Arc<dyn Target>,
        restarted: bool,
    ) -> Result<Self, ExportError> {
        check_options(&options)?;
        Self::build(options, target, restarted)
    }

    fn build(
        options: ExportOptions,
        target: Arc<dyn Target>,
        restarted: bool,
    ) -> Result<Self, ExportError> {
        let pool = ChunkPool::new(options.threads, options.gzip_level, Arc::clone(&target))
            .ok_or(ExportError::GzipLevel(options.gzip_level))?;
        Ok(Exporter {
            options,
            pool,
            ledger: Ledger::default(),
            target,
            restarted,
        })
    }

    /// The output in messages: a folder path, or a URL without credentials.
    pub fn describe_output(&self) -> String {
        self.target.describe()
    }

    /// Whether the output folder held an earlier export, which was cleared to write anew.
    pub fn restarted(&self) -> bool {
        self.restarted
    }

    /// The settings this export was made with.
    pub fn options(&self) -> &ExportOptions {
        &self.options
    }

    fn shared(&self) -> Shared<'_> {
        Shared {
            options: &self.options,
            pool: &self.pool,
            ledger: &self.ledger,
        }
    }

    /// Ends a scale-out task: waits for every chunk, and returns what was written with each
    /// collection's `metadata.json` bytes — but writes neither `metadata.json` nor
    /// `.complete` (the commit does, once every task is in).
    pub fn finish_task(self, report: ReadReport) -> Result<TaskOutput, ExportError> {
        let Exporter { pool, ledger, .. } = self;
        drop(pool);
        let state = ledger.into_state();
        let mut out = TaskOutput::default();
        for (ns, entry) in state.collections {
            match entry.status {
                Status::Done(c) => {
                    out.metadata
                        .push((ns.clone(), metadata_json(&ns, &entry.metadata)?));
                    out.summary.total_files += c.files;
                    out.summary.collections.push(c);
                }
                Status::Open => out.summary.failed.push((
                    ns,
                    Failure::new(
                        FailureKind::Incomplete,
                        "reading stopped before the end of the collection",
                    ),
                )),
                Status::Failed(f) => out.summary.failed.push((ns, f)),
            }
        }
        out.summary.skipped = state.skipped;
        out.summary.input_failures = state.input_failures;
        out.summary.read = report;
        Ok(out)
    }

    /// Opens `ns` as [`DocumentSink::open`] does, with its first chunk numbered
    /// `first_chunk` (a scale-out task that starts inside a collection).
    pub fn open_at(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
        first_chunk: u64,
    ) -> Result<Option<CollectionExport<'_>>, SinkError> {
        let writer = self.open(ns, meta)?;
        Ok(writer.map(|w| w.starting_at(first_chunk)))
    }

    /// Writes every collection's `metadata.json`, then `.complete` when every collection was
    /// written in full, no failure of the input was recorded and the reader read its input to
    /// the end (`report.read_to_end`). The report is kept in the summary.
    pub fn finish(
        self,
        marker: &CompleteMarker,
        report: ReadReport,
    ) -> Result<RunSummary, ExportError> {
        let Exporter {
            options,
            pool,
            ledger,
            target,
            restarted: _,
        } = self;
        // Joins the compression threads: every queued chunk is on disk after this.
        drop(pool);
        let state = ledger.into_state();
        let mut summary = RunSummary::default();
        let mut written = BTreeSet::from([MARKER.to_string()]);
        for (ns, entry) in state.collections {
            match entry.status {
                Status::Done(c) => {
                    written.extend((0..c.files).map(|n| chunk_name(&ns, &options.shard_name, n)));
                    written.insert(metadata_name(&ns));
                    write_metadata(&*target, &ns, &entry.metadata)?;
                    summary.total_files += c.files;
                    summary.collections.push(c);
                }
                Status::Open => summary.failed.push((
                    ns,
                    Failure::new(
                        FailureKind::Incomplete,
                        "reading stopped before the end of the collection",
                    ),
                )),
                Status::Failed(f) => summary.failed.push((ns, f)),
            }
        }
        summary.skipped = state.skipped;
        summary.skipped.sort_by(|a, b| a.0.cmp(&b.0));
        summary.input_failures = state.input_failures;
        if summary.failed.is_empty() && summary.input_failures.is_empty() && report.read_to_end {
            target.remove_others(&written)?;
            target.put_complete(marker.to_json(summary.total_files).as_bytes())?;
            summary.complete_written = true;
        }
        summary.read = report;
        drop(target);
        Ok(summary)
    }
}

fn check_options(options: &ExportOptions) -> Result<(), ExportError> {
    if options.chunk_bytes == 0 {
        return Err(ExportError::ChunkBytes);
    }
    check_name(&options.shard_name).map_err(|why| ExportError::ShardName {
        name: options.shard_name.clone(),
        why,
    })
}

fn write_metadata(
    target: &dyn Target,
    ns: &Namespace,
    meta: &CollectionMetadata,
) -> Result<(), ExportError> {
    let json = metadata_json(ns, meta)?;
    Ok(target.put(&metadata_name(ns), &json)?)
}

/// The bytes of `ns`'s `metadata.json`: its options, indexes and uuid as canonical
/// Extended JSON.
pub fn metadata_json(ns: &Namespace, meta: &CollectionMetadata) -> Result<Vec<u8>, ExportError> {
    let doc = meta.export_document(&ns.collection);
    let rel = metadata_name(ns);
    let raw = doc.to_vec().map_err(|e| ExportError::Metadata {
        path: rel.clone(),
        why: e.to_string(),
    })?;
    let mut json = Vec::with_capacity(raw.len() * 2);
    bsonflow_ejson::write_document(&mut json, &raw, Mode::Canonical).map_err(|e| {
        ExportError::Metadata {
            path: rel.clone(),
            why: e.to_string(),
        }
    })?;
    Ok(json)
}

/// What one scale-out task wrote ([`Exporter::finish_task`]).
#[derive(Debug, Default)]
pub struct TaskOutput {
    /// The collections written (their `files` count the chunks this task wrote), the
    /// failures and skips, as for a whole run; `complete_written` is always false.
    pub summary: RunSummary,
    /// Each written collection's `metadata.json` bytes.
    pub metadata: Vec<(Namespace, Vec<u8>)>,
}

impl DocumentSink for Exporter {
    type Writer<'s> = CollectionExport<'s>;

    fn wants(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        self.options.filter.check(ns, meta)
    }

    fn open(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<Self::Writer<'_>>, SinkError> {
        if let Err(reason) = self.options.filter.check(ns, meta) {
            self.ledger.skip(ns, reason);
            return Ok(None);
        }
        self.ledger.register(ns, meta)?;
        let bad = check_name(&ns.db)
            .map_err(|why| format!("database name {:?}: {why}", ns.db))
            .and_then(|()| {
                check_name(&ns.collection)
                    .map_err(|why| format!("collection name {:?}: {why}", ns.collection))
            });
        if let Err(why) = bad {
            let failure = Failure::new(FailureKind::Namespace, format!("{ns}: {why}"));
            self.ledger.fail(Some(ns), failure.clone());
            return Err(Box::new(failure));
        }
        let dir = collection_dir(ns);
        if let Err(e) = self.target.prepare_folder(&dir) {
            let failure = Failure::new(FailureKind::Output, e.to_string());
            self.ledger.fail(Some(ns), failure.clone());
            return Err(Box::new(failure));
        }
        Ok(Some(CollectionExport::new(self.shared(), ns.clone())))
    }

    fn update_metadata(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SinkError> {
        self.ledger.update_metadata(ns, meta);
        Ok(())
    }

    fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        self.ledger.fail(ns, failure);
    }
}
