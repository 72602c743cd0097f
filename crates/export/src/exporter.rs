//! The run: output folder, filter, pool and bookkeeping; the sink every reader feeds.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bsonflow_ejson::Mode;
use bsonflow_model::{
    CollectionMetadata, DocumentSink, Failure, FailureKind, Namespace, ReadReport, SinkError,
    SkipReason,
};

use crate::collection::{CollectionExport, Shared};
use crate::complete::CompleteMarker;
use crate::ledger::{Entry, Ledger, State};
use crate::names::{check_name, chunk_name, collection_dir, metadata_name};
use crate::options::ExportOptions;
use crate::output::MARKER;
use crate::pool::ChunkPool;
use crate::shards::{merge_reports, on_shard, union_metadata, ShardDone, ShardExport};
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
    /// Two inputs of one run name the same shard.
    #[error("two inputs are named shard {name:?}; each shard's backup must be given once, under its own name")]
    DuplicateShard {
        /// The name given twice.
        name: String,
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
    /// The names of the shard views handed out ([`Exporter::shard`]).
    shard_names: Mutex<BTreeSet<String>>,
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
            shard_names: Mutex::new(BTreeSet::new()),
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

    /// A sink for one shard's input ([`ShardExport`]): its documents go to
    /// `<db>/<coll>/<name>.<n>.json.gz`, numbered from 0, beside other shards' files. Give
    /// every shard's [`done`](ShardExport::done) to [`finish_shards`](Exporter::finish_shards).
    /// A name already given, or one that cannot be part of a file name, is refused.
    pub fn shard(&self, name: &str) -> Result<ShardExport<'_>, ExportError> {
        check_name(name).map_err(|why| ExportError::ShardName {
            name: name.to_string(),
            why,
        })?;
        let mut names = self.shard_names.lock().unwrap_or_else(|e| e.into_inner());
        if !names.insert(name.to_string()) {
            return Err(ExportError::DuplicateShard {
                name: name.to_string(),
            });
        }
        Ok(ShardExport {
            exporter: self,
            name: name.to_string(),
            ledger: Ledger::default(),
        })
    }

    /// Opens `ns` for the shard `shard`, whose ledger is `ledger`: the filter, the checks of
    /// its names, its folder.
    pub(crate) fn open_in<'s>(
        &'s self,
        ledger: &'s Ledger,
        shard: &'s str,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<CollectionExport<'s>>, SinkError> {
        if let Err(reason) = self.options.filter.check(ns, meta) {
            ledger.skip(ns, reason);
            return Ok(None);
        }
        ledger.register(ns, meta)?;
        let bad = check_name(&ns.db)
            .map_err(|why| format!("database name {:?}: {why}", ns.db))
            .and_then(|()| {
                check_name(&ns.collection)
                    .map_err(|why| format!("collection name {:?}: {why}", ns.collection))
            });
        if let Err(why) = bad {
            let failure = Failure::new(FailureKind::Namespace, format!("{ns}: {why}"));
            ledger.fail(Some(ns), failure.clone());
            return Err(Box::new(failure));
        }
        let dir = collection_dir(ns);
        if let Err(e) = self.target.prepare_folder(&dir) {
            let failure = Failure::new(FailureKind::Output, e.to_string());
            ledger.fail(Some(ns), failure.clone());
            return Err(Box::new(failure));
        }
        let shared = Shared {
            options: &self.options,
            shard,
            pool: &self.pool,
            ledger,
        };
        Ok(Some(CollectionExport::new(shared, ns.clone())))
    }

    /// Ends a scale-out task: waits for every chunk, and returns what was written with each
    /// collection's `metadata.json` bytes — but writes neither `metadata.json` nor
    /// `.complete` (the commit does, once every task is in).
    pub fn finish_task(self, report: ReadReport) -> Result<TaskOutput, ExportError> {
        let Exporter {
            options,
            pool,
            ledger,
            ..
        } = self;
        drop(pool);
        let state = ledger.into_state();
        let mut out = TaskOutput::default();
        for (ns, entry) in state.collections {
            match entry.status.outcome() {
                Ok(mut c) => {
                    c.shard = options.shard_name.clone();
                    out.metadata
                        .push((ns.clone(), metadata_json(&ns, &entry.metadata)?));
                    out.summary.total_files += c.files;
                    out.summary.collections.push(c);
                }
                Err(f) => out.summary.failed.push((ns, f)),
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
        self.finish_all(marker, Some(report), Vec::new())
    }

    /// [`finish`](Exporter::finish) for a run of several shards ([`Exporter::shard`]): one
    /// `metadata.json` per collection from the shards that hold it (the union of their
    /// indexes, see [`union_metadata`](crate::union_metadata); what differed is listed in
    /// [`RunSummary::metadata_differences`]), and one `.complete` counting every shard's
    /// files, written only when every shard was read to its end and written in full.
    pub fn finish_shards(
        self,
        marker: &CompleteMarker,
        shards: Vec<ShardDone>,
    ) -> Result<RunSummary, ExportError> {
        self.finish_all(marker, None, shards)
    }

    /// The exporter's own sink is one more shard (named by `options.shard_name`) when
    /// `report` is given, or when it was used.
    fn finish_all(
        self,
        marker: &CompleteMarker,
        report: Option<ReadReport>,
        mut shards: Vec<ShardDone>,
    ) -> Result<RunSummary, ExportError> {
        let Exporter {
            options,
            pool,
            ledger,
            target,
            ..
        } = self;
        // Joins the compression threads: every queued chunk is stored after this.
        drop(pool);
        let own = ledger.into_state();
        if report.is_some() || !own.is_empty() {
            shards.push(ShardDone {
                name: options.shard_name.clone(),
                state: own,
                report: report.unwrap_or_else(|| ReadReport {
                    read_to_end: true,
                    ..ReadReport::default()
                }),
            });
        }
        shards.sort_by(|a, b| a.name.cmp(&b.name));
        let several = shards.len() > 1;

        let mut summary = RunSummary {
            shards: shards.iter().map(|s| s.name.clone()).collect(),
            ..RunSummary::default()
        };
        let mut by_ns: BTreeMap<Namespace, Vec<(String, Entry)>> = BTreeMap::new();
        let mut reports = Vec::new();
        for shard in shards {
            let State {
                collections,
                skipped,
                input_failures,
            } = shard.state;
            for (ns, entry) in collections {
                by_ns
                    .entry(ns)
                    .or_default()
                    .push((shard.name.clone(), entry));
            }
            for (ns, reason) in skipped {
                if !summary.skipped.iter().any(|(s, _)| *s == ns) {
                    summary.skipped.push((ns, reason));
                }
            }
            summary.input_failures.extend(
                input_failures
                    .into_iter()
                    .map(|f| on_shard(f, &shard.name, several)),
            );
            reports.push((shard.name, shard.report));
        }

        let mut written = BTreeSet::from([MARKER.to_string()]);
        for (ns, entries) in by_ns {
            let mut metadata = Vec::new();
            for (shard, entry) in entries {
                match entry.status.outcome() {
                    Ok(mut c) => {
                        written.extend((0..c.files).map(|n| chunk_name(&ns, &shard, n)));
                        summary.total_files += c.files;
                        c.shard = shard.clone();
                        summary.collections.push(c);
                        metadata.push((shard, entry.metadata));
                    }
                    Err(f) => summary
                        .failed
                        .push((ns.clone(), on_shard(f, &shard, several))),
                }
            }
            if metadata.is_empty() {
                continue;
            }
            let views: Vec<(&str, &CollectionMetadata)> =
                metadata.iter().map(|(s, m)| (s.as_str(), m)).collect();
            let (merged, differences) = union_metadata(&views);
            summary
                .metadata_differences
                .extend(differences.into_iter().map(|d| (ns.clone(), d)));
            written.insert(metadata_name(&ns));
            write_metadata(&*target, &ns, &merged)?;
        }
        summary.skipped.sort_by(|a, b| a.0.cmp(&b.0));
        let report = merge_reports(reports);
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
        self.open_in(&self.ledger, &self.options.shard_name, ns, meta)
    }

    fn update_metadata(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SinkError> {
        self.ledger.update_metadata(ns, meta);
        Ok(())
    }

    fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        self.ledger.fail(ns, failure);
    }
}
