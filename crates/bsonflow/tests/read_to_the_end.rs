//! Every input is read to its true end: members after an early tar end-of-archive marker,
//! a damaged gzip trailer and data after the last gzip member fail the run (exit 1, no
//! `.complete`), with an error that names the input and a byte offset. Inputs are written by
//! Python's `tarfile` and `gzip`, damaged here byte by byte.

mod common;

use std::path::{Path, PathBuf};

use bsonflow_testkit::{python, run_python, shared};
use common::*;

/// Writes `tar` (a tar of the sample dump's `shop` database, made by Python's tarfile) as
/// two tars, the second holding the members the first lacks, concatenated: the first one's
/// end-of-archive marker comes before members of the input.
const TWO_TARS: &str = r#"
import io, os, sys, tarfile
src, out, compress = sys.argv[1], sys.argv[2], sys.argv[3]
files = []
for root, _, names in os.walk(src):
    for n in sorted(names):
        p = os.path.join(root, n)
        files.append((p, os.path.relpath(p, os.path.dirname(src))))
files.sort(key=lambda f: f[1])
half = len(files) // 2
blobs = []
for part in (files[:half], files[half:]):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for p, arc in part:
            t.add(p, arcname=arc)
    blobs.append(buf.getvalue())
data = b"".join(blobs)
if compress == "gz":
    import gzip
    data = gzip.compress(data, mtime=0)
elif compress == "zst":
    import zstandard
    data = zstandard.ZstdCompressor().compress(data)
open(out, "wb").write(data)
"#;

/// A tar.gz of `src` under its folder name, by Python's tarfile (mtime 0, deterministic).
const TAR_GZ: &str = r#"
import gzip, io, os, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
    t.add(src, arcname=os.path.basename(src))
open(out, "wb").write(gzip.compress(buf.getvalue(), mtime=0))
"#;

fn assert_failed_with_offset(o: &std::process::Output, out: &Path, input: &Path, what: &str) {
    assert_status(o, 1);
    assert!(!out.join(".complete").exists(), "{what}: .complete written");
    let err = stderr(o);
    assert!(
        err.contains(&input.display().to_string()),
        "{what}: the error does not name the input: {err}"
    );
    assert!(err.contains("byte "), "{what}: no byte offset: {err}");
}

#[test]
fn members_after_an_early_end_of_archive_marker_fail_the_run() {
    let Some(py) = python(&["zstandard"]) else {
        return;
    };
    let shop = testdata("sample-dump/shop");
    let work = tempfile::tempdir().unwrap();
    for compress in ["none", "gz", "zst"] {
        let input = work.path().join(format!("two-{compress}.tar"));
        run_python(
            &py,
            TWO_TARS,
            &[shop.to_str().unwrap(), input.to_str().unwrap(), compress],
        );
        let out = work.path().join(format!("out-{compress}"));
        let o = convert(&input, &out, &[]);
        assert_failed_with_offset(&o, &out, &input, compress);
        assert!(
            stderr(&o).contains("end-of-archive marker"),
            "{compress}: {}",
            stderr(&o)
        );
    }
}

/// A tar.gz of a real data directory, and the export of the folder itself.
fn physical_backup(work: &Path) -> Option<(PathBuf, PathBuf)> {
    let dbpath = shared("testdata/real-dbpaths/mongo42-products/dbpath")?;
    let py = python(&[])?;
    let packed = work.join("backup.tar.gz");
    run_python(
        &py,
        TAR_GZ,
        &[dbpath.to_str().unwrap(), packed.to_str().unwrap()],
    );
    Some((dbpath, packed))
}

/// The byte offset of the gzip trailer (CRC-32, then ISIZE) of a single-member gzip file.
fn trailer(gz: &[u8]) -> usize {
    gz.len() - 8
}

#[test]
fn a_damaged_gzip_trailer_or_data_after_it_fails_unpack_and_convert() {
    let work = tempfile::tempdir().unwrap();
    let Some((_, packed)) = physical_backup(work.path()) else {
        return;
    };
    let good = std::fs::read(&packed).unwrap();
    let t = trailer(&good);
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut crc = good.clone();
    crc[t] ^= 0x55;
    cases.push(("CRC-32", crc));
    let mut isize = good.clone();
    isize[t + 4] ^= 0x01;
    cases.push(("ISIZE", isize));
    let mut appended = good.clone();
    appended.extend_from_slice(b"not gzip at all");
    cases.push(("garbage after the last member", appended));
    for (what, bytes) in cases {
        let input = work
            .path()
            .join(format!("{}.tar.gz", what.replace(' ', "-")));
        std::fs::write(&input, &bytes).unwrap();
        // unpack: fails, and leaves nothing that looks finished.
        let dir = work
            .path()
            .join(format!("unpacked-{}", what.replace(' ', "-")));
        let o = unpack(&input, &dir);
        assert_status(&o, 1);
        assert!(
            stderr(&o).contains(&input.display().to_string()),
            "{what}: {}",
            stderr(&o)
        );
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "{what}: unpack left {} entries",
            left.len()
        );
        // convert: fails, no .complete.
        let out = work.path().join(format!("out-{}", what.replace(' ', "-")));
        let o = convert(&input, &out, &[]);
        assert_status(&o, 1);
        assert!(!out.join(".complete").exists(), "{what}");
    }
    // The intact backup still unpacks and converts.
    let out = work.path().join("out-good");
    assert_status(&convert(&packed, &out, &[]), 0);
}

#[test]
fn a_data_directory_tar_with_members_after_its_end_marker_fails_unpack() {
    let work = tempfile::tempdir().unwrap();
    let Some((dbpath, _)) = physical_backup(work.path()) else {
        return;
    };
    let Some(py) = python(&[]) else {
        return;
    };
    let input = work.path().join("two.tar.gz");
    run_python(
        &py,
        TWO_TARS,
        &[dbpath.to_str().unwrap(), input.to_str().unwrap(), "gz"],
    );
    let dir = work.path().join("unpacked");
    let o = unpack(&input, &dir);
    assert_status(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("end-of-archive marker") && err.contains("byte "),
        "{err}"
    );
    let out = work.path().join("out");
    let o = convert(&input, &out, &[]);
    assert_failed_with_offset(&o, &out, &input, "physical");
}

/// A data directory as a tar whose one member's pax header claims 1 TB (Python's tarfile
/// writes the record as given; the member's bytes are the real ones).
const LYING_PAX: &str = r#"
import gzip, io, os, sys, tarfile
src, out, compress = sys.argv[1], sys.argv[2], sys.argv[3]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name in sorted(os.listdir(src)):
        ti = t.gettarinfo(os.path.join(src, name), arcname=name)
        if not ti.isfile():
            continue
        if name == "WiredTiger.wt":
            ti.pax_headers = {"size": str(10**12)}
        with open(os.path.join(src, name), "rb") as f:
            t.addfile(ti, f)
data = buf.getvalue()
open(out, "wb").write(gzip.compress(data, mtime=0) if compress == "gz" else data)
"#;

#[test]
fn a_lying_pax_size_is_damage_not_a_full_disk() {
    let Some(dbpath) = shared("testdata/real-dbpaths/mongo42-products/dbpath") else {
        return;
    };
    let Some(py) = python(&[]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    for compress in ["none", "gz"] {
        let input = work.path().join(format!("lying-{compress}.tar"));
        run_python(
            &py,
            LYING_PAX,
            &[dbpath.to_str().unwrap(), input.to_str().unwrap(), compress],
        );
        let dir = work.path().join(format!("unpacked-{compress}"));
        let o = unpack(&input, &dir);
        assert_status(&o, 1);
        let err = stderr(&o);
        assert!(
            !err.contains("free space"),
            "{compress}: reported as a full disk: {err}"
        );
        assert!(
            err.contains("WiredTiger.wt") && err.contains("byte "),
            "{compress}: the error names neither the member nor an offset: {err}"
        );
    }
}

/// A tar of the sample dump (Python's tarfile, pax format) whose `path` record in front of a
/// member is damaged: its length digit no longer matches.
const DAMAGED_PAX: &str = r#"
import io, os, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for root, _, names in sorted(os.walk(src)):
        for n in sorted(names):
            p = os.path.join(root, n)
            ti = t.gettarinfo(p, arcname=os.path.relpath(p, os.path.dirname(src)))
            if n == "orders.bson":
                ti.pax_headers = {"comment": "x" * 20}
            with open(p, "rb") as f:
                t.addfile(ti, f)
data = bytearray(buf.getvalue())
at = data.find(b" comment=")
assert at > 0
data[at - 1] = ord("9")  # the record's length, now wrong
open(out, "wb").write(bytes(data))
"#;

/// A damaged pax record fails the run even under `--skip-corrupt`: it is damage to the
/// container, not a document that can be skipped (the tar crate alone would go on with the
/// plain header and exit 0).
#[test]
fn a_damaged_pax_record_fails_the_run_even_when_skipping_corrupt_documents() {
    let Some(py) = python(&[]) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("damaged-pax.tar");
    let shop = testdata("sample-dump/shop");
    run_python(
        &py,
        DAMAGED_PAX,
        &[shop.to_str().unwrap(), input.to_str().unwrap()],
    );
    for extra in [&[][..], &["--skip-corrupt"][..]] {
        let out = work.path().join(format!("out{}", extra.len()));
        let o = convert(&input, &out, extra);
        assert_failed_with_offset(&o, &out, &input, "damaged pax");
        assert!(stderr(&o).contains("pax record"), "{}", stderr(&o));
    }
}
