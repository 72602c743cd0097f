//! The output folder: a rerun finishes the job over an earlier export, a second run at the
//! same time is refused, and a folder that holds anything else is never touched.

use std::collections::BTreeMap;
use std::path::Path;

use bson::doc;
use bsonflow_export::{CompleteMarker, ExportError, ExportOptions, Exporter, MARKER};
use bsonflow_model::{CollectionMetadata, CollectionWriter, DocumentSink, Namespace, ReadReport};
use bsonflow_testkit::files_under;

fn options(out: &Path) -> ExportOptions {
    let mut o = ExportOptions::new(out);
    o.chunk_bytes = 2_000;
    o.threads = 2;
    o
}

fn marker() -> CompleteMarker {
    CompleteMarker {
        cluster_name: "c".into(),
        snapshot_initiation_date: "2026-01-01T00:00:00.000Z".into(),
        ..CompleteMarker::default()
    }
}

fn read_to_end() -> ReadReport {
    ReadReport {
        read_to_end: true,
        ..ReadReport::default()
    }
}

fn document(i: i32) -> Vec<u8> {
    doc! { "_id": i, "name": format!("document {i}"), "pad": "x".repeat(50) }
        .to_vec()
        .unwrap()
}

/// Writes `n` documents into `db.coll`; `finish` says whether the writer is finished.
fn write(exporter: &Exporter, coll: &str, n: i32, finish: bool) {
    let ns = Namespace::new("db", coll);
    let mut w = exporter
        .open(&ns, &CollectionMetadata::default())
        .unwrap()
        .unwrap();
    for i in 0..n {
        w.write_document(&document(i), 0).unwrap();
    }
    if finish {
        w.finish().unwrap();
    }
}

/// The export an uninterrupted run writes.
fn fresh_export(out: &Path) -> BTreeMap<String, Vec<u8>> {
    let exporter = Exporter::new(options(out)).unwrap();
    assert!(!exporter.restarted());
    write(&exporter, "a", 300, true);
    write(&exporter, "b", 10, true);
    let summary = exporter.finish(&marker(), read_to_end()).unwrap();
    assert!(summary.complete_written);
    files_under(out)
}

#[test]
fn a_rerun_over_a_partial_export_gives_the_uninterrupted_export() {
    let reference = tempfile::tempdir().unwrap();
    let expected = fresh_export(reference.path());
    assert!(expected.contains_key(MARKER) && expected.contains_key(".complete"));

    let out = tempfile::tempdir().unwrap();
    // An earlier run with more chunks in `a` and a collection the input no longer has,
    // stopped mid-way: no `.complete`, a writer dropped, and a temporary file of a chunk.
    {
        let mut o = options(out.path());
        o.chunk_bytes = 500;
        let exporter = Exporter::new(o).unwrap();
        write(&exporter, "a", 300, false);
        write(&exporter, "gone", 50, true);
        let summary = exporter.finish(&marker(), read_to_end()).unwrap();
        assert!(!summary.complete_written);
    }
    std::fs::write(
        out.path().join("db/a/.bsonflow-shard-0.99.json.gz.partial"),
        b"x",
    )
    .unwrap();
    assert!(files_under(out.path()).len() > expected.len());

    let exporter = Exporter::new(options(out.path())).unwrap();
    assert!(exporter.restarted());
    // Only the marker is left once the folder is claimed.
    assert_eq!(files_under(out.path()).keys().collect::<Vec<_>>(), [MARKER]);
    write(&exporter, "a", 300, true);
    write(&exporter, "b", 10, true);
    assert!(
        exporter
            .finish(&marker(), read_to_end())
            .unwrap()
            .complete_written
    );
    assert_eq!(files_under(out.path()), expected);
}

#[test]
fn a_rerun_over_a_complete_export_removes_complete_before_anything_else() {
    let out = tempfile::tempdir().unwrap();
    let expected = fresh_export(out.path());
    let exporter = Exporter::new(options(out.path())).unwrap();
    assert!(exporter.restarted());
    assert!(!out.path().join(".complete").exists());
    write(&exporter, "a", 300, true);
    // This run fails: the old `.complete` must not come back over the new files.
    drop(exporter);
    assert!(!out.path().join(".complete").exists());
    assert_ne!(files_under(out.path()), expected);
}

#[test]
fn a_second_run_into_the_same_folder_is_refused_while_the_first_runs() {
    let out = tempfile::tempdir().unwrap();
    let first = Exporter::new(options(out.path())).unwrap();
    write(&first, "a", 20, true);
    match Exporter::new(options(out.path())) {
        Err(ExportError::Busy { path }) => assert_eq!(path, out.path()),
        Err(e) => panic!("expected Busy, got {e}"),
        Ok(_) => panic!("a second run was let in"),
    }
    // The first run's files are untouched and it completes.
    assert!(
        first
            .finish(&marker(), read_to_end())
            .unwrap()
            .complete_written
    );
    // Once it has ended, the folder can be written again.
    let again = Exporter::new(options(out.path())).unwrap();
    assert!(again.restarted());
}

#[test]
fn a_folder_with_an_earlier_export_and_anything_else_is_not_touched() {
    let out = tempfile::tempdir().unwrap();
    fresh_export(out.path());
    // (what is added, what the refusal names)
    let cases = [
        ("notes.txt", "notes.txt"),
        ("db/readme.md", "db/readme.md"),
        ("db/a/extra.csv", "db/a/extra.csv"),
        ("db/a/sub/x", "db/a/sub"),
    ];
    for (foreign, named) in cases {
        let path = out.path().join(foreign);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"mine").unwrap();
        let before = files_under(out.path());
        match Exporter::new(options(out.path())) {
            Err(ExportError::Foreign { path: p, found }) => {
                assert_eq!(p, out.path());
                assert_eq!(found, out.path().join(named));
            }
            Err(e) => panic!("{foreign}: expected Foreign, got {e}"),
            Ok(_) => panic!("{foreign}: the folder was taken"),
        }
        assert_eq!(
            files_under(out.path()),
            before,
            "{foreign}: something was removed"
        );
        std::fs::remove_file(&path).unwrap();
        if foreign.ends_with("sub/x") {
            std::fs::remove_dir(path.parent().unwrap()).unwrap();
        }
    }
}

#[test]
fn a_folder_without_the_marker_is_refused_as_before() {
    let out = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out.path().join("db/a")).unwrap();
    std::fs::write(out.path().join("db/a/metadata.json"), b"{}").unwrap();
    assert!(matches!(
        Exporter::new(options(out.path())),
        Err(ExportError::NotEmpty { .. })
    ));
    assert!(out.path().join("db/a/metadata.json").exists());
}
