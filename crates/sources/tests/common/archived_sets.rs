//! Helpers shared by the tests of the tar and mongodump-archive readers: the export a folder
//! gives (the reference), and comparing two in-memory exports.

#![allow(dead_code)]

use std::path::Path;

use bsonflow_model::Progress;
use bsonflow_sources::folder;
use bsonflow_testkit::MemorySink;

/// `folder::scan` + `folder::export` of `dir` into a fresh sink; the export must succeed.
pub fn folder_export(dir: &Path) -> MemorySink {
    let sink = MemorySink::new();
    let set = folder::scan(dir).unwrap_or_else(|e| panic!("scan {}: {e}", dir.display()));
    let report = folder::export(&set, &&sink, &Progress::new());
    assert!(
        report.failures.is_empty(),
        "folder export failed: {:?}",
        report.failures
    );
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
