//! Helpers shared by the tests of the tar and mongodump-archive readers: the read a folder
//! gives (the reference), comparing two in-memory exports, and taking a reader's outcome
//! apart (report, or the one failure it recorded in the sink).

#![allow(dead_code)]

use std::path::Path;

use bsonflow_model::{FailureKind, Namespace, Progress, ReadOptions, ReadReport};
use bsonflow_sources::folder;
use bsonflow_sources::layers::compression::Compression;
use bsonflow_testkit::MemorySink;

/// `folder::scan` + `BsonSet::read_into` of `dir` into a fresh sink; the read must succeed.
pub fn read_folder(dir: &Path) -> MemorySink {
    let sink = MemorySink::new();
    let set = folder::scan(dir).unwrap_or_else(|e| panic!("scan {}: {e}", dir.display()));
    let report = set.read_into(&sink, &Progress::new(), &ReadOptions::default());
    assert!(
        sink.failures().is_empty(),
        "folder read failed: {}",
        sink.failure_text()
    );
    assert!(report.read_to_end, "folder read stopped early: {report:?}");
    sink
}

/// Both sinks received the same namespaces with the same metadata and documents (in order),
/// all finished, and skipped the same namespaces for the same reasons.
pub fn assert_same_export(actual: &MemorySink, expected: &MemorySink, what: &str) {
    let a = actual.collections();
    let e = expected.collections();
    let names = |m: &std::collections::BTreeMap<bsonflow_model::Namespace, _>| {
        m.keys().map(|n| n.to_string()).collect::<Vec<_>>()
    };
    assert_eq!(names(&a), names(&e), "{what}: exported namespaces");
    for (ns, ec) in &e {
        let ac = &a[ns];
        assert!(ac.finished, "{what}: {ns} was not finished");
        assert_eq!(ac.metadata, ec.metadata, "{what}: metadata of {ns}");
        assert_eq!(
            ac.documents.len(),
            ec.documents.len(),
            "{what}: number of documents of {ns}"
        );
        if let Some(i) = (0..ac.documents.len()).find(|&i| ac.documents[i] != ec.documents[i]) {
            panic!("{what}: document {i} of {ns} differs");
        }
        assert!(
            ac.corrupt.is_empty(),
            "{what}: corrupt spans in {ns}: {:?}",
            ac.corrupt
        );
    }
    let mut sa = actual.skipped();
    let mut se = expected.skipped();
    sa.sort_by_key(|(ns, r)| (ns.clone(), r.to_string()));
    se.sort_by_key(|(ns, r)| (ns.clone(), r.to_string()));
    assert_eq!(sa, se, "{what}: skipped namespaces");
}

/// Total documents of a sink.
pub fn document_count(sink: &MemorySink) -> usize {
    sink.collections().values().map(|c| c.documents.len()).sum()
}

/// Corrupt spans a sink accepted, over all its collections.
pub fn corrupt_count(sink: &MemorySink) -> usize {
    sink.collections().values().map(|c| c.corrupt.len()).sum()
}

/// A read that stopped early, with the one failure it recorded in the sink.
#[derive(Debug)]
pub struct Failed {
    /// The namespace the failure was recorded against (`None`: the input as a whole).
    pub ns: Option<Namespace>,
    pub kind: FailureKind,
    pub message: String,
    /// What the reader reported anyway (boxed: results stay small).
    pub report: Box<ReadReport>,
}

impl Failed {
    /// The namespace the failure names, as text.
    pub fn ns_text(&self) -> Option<String> {
        self.ns.as_ref().map(|n| n.to_string())
    }
}

/// A reader's outcome as the former `Result`: `Ok` when it read its input to the end and
/// recorded no failure; `Err` when it stopped early and recorded exactly one failure (what
/// the former error was). Anything else — a failure without stopping, or stopping without
/// saying why — is a bug of the reader, and panics.
pub fn outcome(report: ReadReport, sink: &MemorySink) -> Result<ReadReport, Failed> {
    let mut failures = sink.failures();
    match (report.read_to_end, failures.len()) {
        (true, 0) => Ok(report),
        (false, 1) => {
            let (ns, failure) = failures.pop().unwrap();
            Err(Failed {
                ns,
                kind: failure.kind,
                message: failure.message,
                report: Box::new(report),
            })
        }
        (read_to_end, _) => {
            panic!("read_to_end is {read_to_end} with failures {failures:?} (report {report:?})")
        }
    }
}

/// The compression a report's `format` names: `<name> → …` for a compressed input, no
/// arrow for a plain one.
pub fn compression_of(report: &ReadReport) -> Compression {
    match report.format.split_once(" → ") {
        None => Compression::None,
        Some((name, _)) => [Compression::Gzip, Compression::Zstd]
            .into_iter()
            .find(|c| c.name() == name)
            .unwrap_or_else(|| panic!("unknown compression in format {:?}", report.format)),
    }
}

/// The format a report names after its compression (`tar, 12 members`).
pub fn container_of(report: &ReadReport) -> &str {
    match report.format.split_once(" → ") {
        None => &report.format,
        Some((_, rest)) => rest,
    }
}
