//! End to end: archived logical backups (tar, tar.gz, tar.zst, mongodump archives) give
//! byte-identical data files and metadata to the unpacked folder.

mod common;

use std::path::Path;

use common::*;

/// The mongodump archive writer of the sources crate's tests (written from the spec, with
/// pymongo's encoder; it also writes the same collections as a mongodump folder).
const ARCHIVE_WRITER: &str = include_str!("../../sources/tests/common/make_mongodump_archive.py");

fn folder_export(folder: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    assert_status(&convert(folder, out.path(), &["--chunk-bytes", "16K"]), 0);
    out
}

fn assert_same_export(input: &Path, expected: &Path, what: &str) {
    let out = tempfile::tempdir().unwrap();
    let o = convert(input, out.path(), &["--chunk-bytes", "16K"]);
    assert_status(&o, 0);
    let got = tree(out.path());
    let want = tree(expected);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: files"
    );
    for (path, bytes) in &want {
        assert!(got[path] == *bytes, "{what}: {} differs", path.display());
    }
    assert!(out.path().join(".complete").exists(), "{what}");
}

#[test]
fn tars_of_the_sample_give_the_folders_export() {
    let sample = testdata("sample-dump");
    let expected = folder_export(&sample);
    let work = tempfile::tempdir().unwrap();
    let parent = sample.parent().unwrap();
    // GNU tar, with the folder name as leading component; gzip and zstd.
    let mut made = 0;
    for (name, flags) in [
        ("s.tar", vec!["-cf"]),
        ("s.tar.gz", vec!["-czf"]),
        ("s.tar.zst", vec!["--zstd", "-cf"]),
    ] {
        let file = work.path().join(name);
        let mut args = flags.clone();
        args.push(file.to_str().unwrap());
        args.push("sample-dump");
        if !gnu_tar(&args, parent) {
            bsonflow_testkit::skip::<()>(&format!("GNU tar {flags:?} is not available"));
            continue;
        }
        assert_same_export(&file, expected.path(), name);
        made += 1;
    }
    assert!(made > 0 || !bsonflow_testkit::required());
}

#[test]
fn tars_with_shuffled_members_and_cloud_parts_out_of_order() {
    let Some(py) = python(&["bson"]) else { return };
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("download");
    // A cloud-layout download with parts in several (N, M) and a mongodump db beside it.
    run_python(
        &py,
        r#"
import os, sys, bson, random
root = sys.argv[1]
rng = random.Random(5)
n = 0
for coll in ["events", "clicks"]:
    d = os.path.join(root, "app", coll, "data")
    os.makedirs(d)
    for (N, M) in [(0, 0), (0, 1), (1, 0), (2, 0), (2, 1), (10, 0)]:
        with open(os.path.join(d, f"{coll}_{N}_part{M}.bson"), "wb") as f:
            for i in range(rng.randrange(0, 200)):
                f.write(bson.encode({"_id": n, "part": [N, M], "v": rng.random(), "s": "x" * rng.randrange(300)}))
                n += 1
with open(os.path.join(root, "app", "events", "events.metadata.json"), "w") as f:
    f.write('{"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"}],"uuid":"0123456789abcdef0123456789abcdef"}')
"#,
        &[root.to_str().unwrap()],
    );
    let expected = folder_export(&root);
    // Members in reverse and shuffled order (parts and metadata arrive out of order).
    let script = r#"
import sys, os, tarfile, random, gzip, io
src, out, order = sys.argv[1], sys.argv[2], sys.argv[3]
members = []
for r, _, fs in os.walk(src):
    for f in fs:
        members.append(os.path.join(r, f))
members.sort()
if order == "reverse":
    members.reverse()
else:
    random.Random(int(order)).shuffle(members)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for m in members:
        t.add(m, arcname=os.path.join("export-2026", os.path.relpath(m, os.path.dirname(src))))
with open(out, "wb") as f:
    f.write(gzip.compress(buf.getvalue()))
"#;
    for order in ["reverse", "1", "2", "3"] {
        let file = work.path().join(format!("t-{order}.tar.gz"));
        run_python(
            &py,
            script,
            &[root.to_str().unwrap(), file.to_str().unwrap(), order],
        );
        assert_same_export(&file, expected.path(), &format!("order {order}"));
    }
}

#[test]
fn mongodump_archives_give_the_folders_export() {
    let Some(py) = python(&["bson"]) else { return };
    let work = tempfile::tempdir().unwrap();
    run_python(&py, ARCHIVE_WRITER, &[work.path().to_str().unwrap()]);
    let expected = folder_export(&work.path().join("dump"));
    for name in ["plain.archive", "gzip.archive.gz"] {
        assert_same_export(&work.path().join(name), expected.path(), name);
    }
}

#[test]
fn a_truncated_archive_fails_without_a_completion_marker() {
    let Some(py) = python(&["bson"]) else { return };
    let work = tempfile::tempdir().unwrap();
    run_python(&py, ARCHIVE_WRITER, &[work.path().to_str().unwrap()]);
    for name in ["plain.archive", "gzip.archive.gz"] {
        let bytes = std::fs::read(work.path().join(name)).unwrap();
        let cut = work.path().join(format!("cut-{name}"));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let out = tempfile::tempdir().unwrap();
        let o = convert(&cut, out.path(), &[]);
        assert_status(&o, 1);
        assert!(!out.path().join(".complete").exists(), "{name}");
        let err = stderr(&o);
        assert!(err.contains(&format!("cut-{name}")), "{name}: {err}");
        assert!(
            err.contains("offset") || err.contains("byte"),
            "{name}: {err}"
        );
    }
}
