//! The one reader verb of a data directory: every collection, several at a time, into a
//! [`DocumentSink`].

use bsonflow_model::{
    CollectionWriter, DocumentSink, Failure, FailureKind, LeftOut, NamespaceRead, Progress,
    ReadOptions, ReadReport,
};
use rayon::prelude::*;

use crate::{CatalogEntry, DataDir, Error, MetadataSource};

/// What became of one collection.
enum Outcome {
    Read(NamespaceRead),
    LeftOut(LeftOut),
    Failed,
}

impl DataDir {
    /// Reads every collection the sink wants, several at a time (rayon's global pool), each
    /// from its newest checkpoint in RecordId order.
    ///
    /// A collection whose file is missing is failed in the sink's ledger, or — with
    /// [`ReadOptions::skip_missing`] — left out and listed in [`ReadReport::left_out`]. Any
    /// other error fails its collection only; the others are still read.
    pub fn read_into<S: DocumentSink>(
        &self,
        sink: &S,
        progress: &Progress,
        options: &ReadOptions,
    ) -> ReadReport {
        let entries = self.collections();
        // Each file's size, stat'ed once: the total of the wanted ones, and progress after each.
        let sizes: Vec<Option<u64>> = entries
            .iter()
            .map(|e| std::fs::metadata(&e.file).map(|m| m.len()).ok())
            .collect();
        let wanted_bytes: u64 = entries
            .iter()
            .zip(&sizes)
            .filter(|(e, _)| sink.wants(&e.ns, &e.metadata).is_ok())
            .filter_map(|(_, len)| *len)
            .sum();
        progress.add_total(wanted_bytes);
        let outcomes: Vec<Outcome> = entries
            .par_iter()
            .zip(&sizes)
            .map(|(entry, len)| {
                let outcome = self.read_one(entry, sink, options);
                progress.add(len.unwrap_or(0));
                outcome
            })
            .collect();
        let mut report = ReadReport {
            format: match self.metadata_source() {
                MetadataSource::HotBackup => "WiredTiger data directory (hot-backup copy)".into(),
                MetadataSource::Turtle(_) => "WiredTiger data directory".into(),
            },
            read_to_end: true,
            ..ReadReport::default()
        };
        for outcome in outcomes {
            match outcome {
                Outcome::Read(read) => {
                    report.documents += read.documents;
                    report.input_bytes += read.bytes;
                    report.namespaces.push(read);
                }
                Outcome::LeftOut(l) => report.left_out.push(l),
                Outcome::Failed => {}
            }
        }
        report
    }

    fn read_one<S: DocumentSink>(
        &self,
        entry: &CatalogEntry,
        sink: &S,
        options: &ReadOptions,
    ) -> Outcome {
        let ns = &entry.ns;
        if sink.wants(ns, &entry.metadata).is_ok() && !entry.file.exists() {
            let why = format!("the collection file {} is missing", entry.file.display());
            if options.skip_missing {
                return Outcome::LeftOut(LeftOut {
                    ns: ns.clone(),
                    why,
                });
            }
            sink.fail(
                Some(ns),
                Failure::new(FailureKind::Missing, format!("{ns}: {why}")),
            );
            return Outcome::Failed;
        }
        let mut writer = match sink.open(ns, &entry.metadata) {
            Ok(Some(w)) => w,
            Ok(None) => {
                return Outcome::Read(NamespaceRead {
                    ns: ns.clone(),
                    documents: 0,
                    bytes: 0,
                    checksum: None,
                })
            }
            // The sink recorded why.
            Err(_) => return Outcome::Failed,
        };
        match self.read_collection_into(entry, &mut writer) {
            Ok(stats) => match writer.finish() {
                Ok(()) => Outcome::Read(NamespaceRead {
                    ns: ns.clone(),
                    documents: stats.documents,
                    bytes: stats.document_bytes,
                    checksum: None,
                }),
                Err(_) => Outcome::Failed,
            },
            Err(e) => {
                sink.fail(Some(ns), Failure::new(failure_kind(&e), e.to_string()));
                drop(writer);
                Outcome::Failed
            }
        }
    }
}

/// How an error of this crate counts in a run's ledger.
pub(crate) fn failure_kind(e: &Error) -> FailureKind {
    match e.innermost() {
        Error::Io { .. } => FailureKind::Input,
        Error::Unsupported { .. } => FailureKind::Unsupported,
        Error::MissingCollectionFile { .. } => FailureKind::Missing,
        // The sink recorded its own failure first; this one only stands in for it.
        Error::Sink { .. } => FailureKind::Incomplete,
        _ => FailureKind::Corrupt,
    }
}
