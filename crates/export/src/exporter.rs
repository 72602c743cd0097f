//! The run: output folder, filter, pool and bookkeeping; the sink every reader feeds.

use std::io;
use std::path::{Path, PathBuf};

use bsonflow_ejson::Mode;
use bsonflow_model::{
    CollectionMetadata, DocumentSink, Failure, FailureKind, Namespace, ReadReport, SinkError,
    SkipReason,
};

use crate::collection::{CollectionExport, Shared};
use crate::complete::CompleteMarker;
use crate::ledger::{Ledger, Status};
use crate::names::check_name;
use crate::options::ExportOptions;
use crate::output::OutputFolder;
use crate::pool::ChunkPool;
use crate::summary::RunSummary;

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
    /// A gzip level libdeflate does not have.
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
    #[error("{}: {why}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// What is wrong with the metadata.
        why: String,
    },
}

/// Writes one export. Create it, hand `&exporter` to the readers as their
/// [`DocumentSink`], then call [`finish`](Exporter::finish).
pub struct Exporter {
    options: ExportOptions,
    pool: ChunkPool,
    ledger: Ledger,
    /// Holds the folder's lock until the run ends.
    output: OutputFolder,
    restarted: bool,
}

impl Exporter {
    /// Claims the output folder: created when absent, taken when empty, cleared when it holds
    /// an earlier bsonflow export (see [`MARKER`](crate::MARKER)), refused otherwise; and
    /// locked until the run ends.
    pub fn new(options: ExportOptions) -> Result<Self, ExportError> {
        if options.chunk_bytes == 0 {
            return Err(ExportError::ChunkBytes);
        }
        check_name(&options.shard_name).map_err(|why| ExportError::ShardName {
            name: options.shard_name.clone(),
            why,
        })?;
        let pool = ChunkPool::new(options.threads, options.gzip_level)
            .ok_or(ExportError::GzipLevel(options.gzip_level))?;
        let (output, restarted) = OutputFolder::claim(&options.out_dir)?;
        Ok(Exporter {
            options,
            pool,
            ledger: Ledger::default(),
            output,
            restarted,
        })
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
            output,
            restarted: _,
        } = self;
        // Joins the compression threads: every queued chunk is on disk after this.
        drop(pool);
        let state = ledger.into_state();
        let mut summary = RunSummary::default();
        for (ns, entry) in state.collections {
            match entry.status {
                Status::Done(c) => {
                    write_metadata(&options.out_dir, &ns, &entry.metadata)?;
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
            let path = options.out_dir.join(".complete");
            write_atomically(&path, marker.to_json(summary.total_files).as_bytes())?;
            summary.complete_written = true;
        }
        summary.read = report;
        drop(output);
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
    let path = || collection_dir(out, ns).join("metadata.json");
    let raw = doc.to_vec().map_err(|e| ExportError::Metadata {
        path: path(),
        why: e.to_string(),
    })?;
    let mut json = Vec::with_capacity(raw.len() * 2);
    bsonflow_ejson::write_document(&mut json, &raw, Mode::Canonical).map_err(|e| {
        ExportError::Metadata {
            path: path(),
            why: e.to_string(),
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
        .map_err(|source| {
            let _ = std::fs::remove_file(&temp);
            ExportError::Io {
                path: path.to_path_buf(),
                source,
            }
        })
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
        let dir = collection_dir(&self.options.out_dir, ns);
        if let Err(e) = std::fs::create_dir_all(&dir) {
            let failure = Failure::new(FailureKind::Output, format!("{}: {e}", dir.display()));
            self.ledger.fail(Some(ns), failure.clone());
            return Err(Box::new(failure));
        }
        Ok(Some(CollectionExport::new(self.shared(), ns.clone(), dir)))
    }

    fn update_metadata(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SinkError> {
        self.ledger.update_metadata(ns, meta);
        Ok(())
    }

    fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        self.ledger.fail(ns, failure);
    }
}
