//! End to end: physical backups (`_qp.xb`, `.tar.gz`, `.tar.zst`, `.tar`) unpack to
//! byte-identical data directories; unsafe members, full disks and odd `.qp` members are
//! refused with the right error.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use bsonflow_model::Progress;
use bsonflow_sources::layers::compression::Compression;
use bsonflow_sources::layers::safe_path::PathError;
use bsonflow_sources::unpack::qpress::{self, QpressError};
use bsonflow_sources::unpack::xbstream::{self, XbstreamError};
use bsonflow_sources::unpack::{
    space_needed, unpack, unpack_file, PhysicalFormat, SpaceNeeded, UnpackError, UnpackOptions,
};

const PACK_PY: &str = include_str!("../../../testdata/physical/pack.py");

fn fixtures() -> PathBuf {
    bsonflow_testkit::workspace_root().join("testdata/physical")
}

fn options(threads: usize) -> UnpackOptions {
    UnpackOptions {
        threads,
        ..UnpackOptions::default()
    }
}

/// Every regular file under `root`, by relative path.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let kind = entry.file_type().unwrap();
            assert!(!kind.is_symlink(), "no symlink is ever created");
            if kind.is_dir() {
                stack.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(root).unwrap().to_path_buf();
                files.insert(rel, fs::read(entry.path()).unwrap());
            }
        }
    }
    files
}

fn assert_same_tree(original: &Path, unpacked: &Path) {
    let want = tree(original);
    let got = tree(unpacked);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "same file list"
    );
    for (path, bytes) in &want {
        assert!(got[path] == *bytes, "{} differs", path.display());
    }
}

/// The committed fixtures (made by `pack.py` with pyquicklz): no Python needed.
#[test]
fn committed_fixtures_match_their_manifest() {
    let manifest = fs::read_to_string(fixtures().join("sample.manifest")).unwrap();
    let want: BTreeMap<PathBuf, (u32, usize)> = manifest
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let mut parts = l.splitn(3, ' ');
            let crc = u32::from_str_radix(parts.next().unwrap(), 16).unwrap();
            let size = parts.next().unwrap().parse().unwrap();
            (PathBuf::from(parts.next().unwrap()), (crc, size))
        })
        .collect();
    assert_eq!(want.len(), 11);
    for (name, format) in [
        ("sample_qp.xb", PhysicalFormat::Xbstream),
        ("sample.tar.gz", PhysicalFormat::Tar(Compression::Gzip)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let input = fixtures().join(name);
        let progress = Progress::new();
        let report = unpack_file(&input, &out, &options(2), &progress).unwrap();
        let size = fs::metadata(&input).unwrap().len();
        assert_eq!(report.format, format);
        assert_eq!(
            (progress.total(), progress.consumed(), report.input_bytes),
            (size, size, size)
        );
        assert_eq!(report.files, 11);
        let got: BTreeMap<PathBuf, (u32, usize)> = tree(&out)
            .into_iter()
            .map(|(p, b)| (p, (crc32fast::hash(&b), b.len())))
            .collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(
            report.bytes_written,
            want.values().map(|v| v.1 as u64).sum::<u64>()
        );
        assert!(report.warnings.is_empty() && report.skipped.is_empty());
    }
}

/// Each real data directory of the shared test data (MongoDB 3.6 to 8.0) packed as
/// `_qp.xb` (pyquicklz + xbstream, by `pack.py`), as `.tar.gz` (Python `tarfile`), as
/// `.tar.zst` and, when GNU tar is installed, as `tar -czf` with `./` names: every unpack
/// is byte-identical to the original.
#[test]
fn real_dbpaths_round_trip() {
    let Some(root) = bsonflow_testkit::shared("testdata/real-dbpaths") else {
        return;
    };
    let Some(python) = bsonflow_testkit::python(&["quicklz", "zstandard"]) else {
        return;
    };
    let gnu_tar = Command::new("tar")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("GNU"));
    if !gnu_tar {
        bsonflow_testkit::skip::<()>("GNU tar is not installed: the `tar -czf` variant is skipped");
    }
    let mut dbpaths: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path().join("dbpath"))
        .filter(|p| p.is_dir())
        .collect();
    dbpaths.sort();
    assert!(dbpaths.len() >= 4, "{dbpaths:?}");
    let script = |args: &[&str]| bsonflow_testkit::run_python(&python, PACK_PY, args);
    for (i, dbpath) in dbpaths.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let src = dbpath.to_str().unwrap();
        let xb = dir.path().join("backup_qp.xb");
        let tgz = dir.path().join("backup.tar.gz");
        let tzst = dir.path().join("backup.tar.zst");
        script(&["qpxb", src, xb.to_str().unwrap(), &i.to_string()]);
        script(&["targz", src, tgz.to_str().unwrap()]);
        script(&["tarzst", src, tzst.to_str().unwrap()]);
        let mut inputs = vec![
            (xb, PhysicalFormat::Xbstream),
            (tgz, PhysicalFormat::Tar(Compression::Gzip)),
            (tzst, PhysicalFormat::Tar(Compression::Zstd)),
        ];
        if gnu_tar {
            let gnu = dir.path().join("gnu.tar.gz");
            let status = Command::new("tar")
                .arg("-czf")
                .arg(&gnu)
                .arg("-C")
                .arg(dbpath)
                .arg(".")
                .status()
                .unwrap();
            assert!(status.success());
            inputs.push((gnu, PhysicalFormat::Tar(Compression::Gzip)));
        }
        for (input, format) in inputs {
            let out = dir.path().join(format!(
                "out-{}",
                input.file_name().unwrap().to_string_lossy()
            ));
            let report = unpack_file(&input, &out, &options(2), &Progress::new())
                .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            assert_eq!(report.format, format);
            assert_same_tree(dbpath, &out);
            eprintln!(
                "{} as {}: {} files, {} bytes",
                dbpath.display(),
                format.describe(),
                report.files,
                report.bytes_written
            );
        }
    }
}

fn sample(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9) | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 16 < 6 {
                x as u8
            } else {
                b"WiredTiger page "[i % 16]
            }
        })
        .collect()
}

fn qp_member(name: &[u8], data: &[u8], chunk: usize) -> Vec<u8> {
    let mut w = qpress::Writer::new(Vec::new(), chunk as u64).unwrap();
    w.whole_file(name, data, chunk, |c| {
        quicklz::compress(c, quicklz::CompressionLevel::Lvl1)
    })
    .unwrap();
    w.into_inner()
}

/// A `_qp.xb` built in Rust with level-1 packets from the `quicklz` crate (the level
/// xtrabackup writes), members interleaved, chunk sizes from 64 KiB up; unpacked with 1, 2
/// and 3 decoder threads to the same bytes.
#[test]
fn level_1_qp_xb_with_any_number_of_threads() {
    let files: Vec<(String, Vec<u8>)> = vec![
        ("WiredTiger.wt".into(), sample(700_000, 1)),
        ("db/collection-0-1.wt".into(), sample(2_500_000, 2)),
        ("db/index-1-1.wt".into(), sample(65_536, 3)),
        ("mongod.lock".into(), Vec::new()),
        ("backup-my.cnf".into(), b"[mysqld]\n".to_vec()),
    ];
    let mut w = xbstream::Writer::new(Vec::new());
    let mut streams: Vec<(Vec<u8>, Vec<u8>, usize)> = files
        .iter()
        .map(|(path, data)| {
            if path.ends_with(".cnf") {
                (path.as_bytes().to_vec(), data.clone(), 0)
            } else {
                let name = path.rsplit('/').next().unwrap().as_bytes();
                let qp = qp_member(name, data, 65536);
                (format!("{path}.qp").into_bytes(), qp, 0)
            }
        })
        .collect();
    let sizes = [65536usize, 100_000, 300_000];
    let mut turn = 0;
    while streams.iter().any(|s| s.2 <= s.1.len()) {
        for s in streams.iter_mut().filter(|s| s.2 <= s.1.len()) {
            turn += 1;
            let end = (s.2 + sizes[turn % 3]).min(s.1.len());
            if end > s.2 {
                w.payload(&s.0, s.2 as u64, &s.1[s.2..end]).unwrap();
            }
            if end == s.1.len() {
                w.end(&s.0).unwrap();
                s.2 = usize::MAX - 1;
            } else {
                s.2 = end;
            }
        }
        streams.retain(|s| s.2 != usize::MAX - 1);
    }
    let archive = w.into_inner();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("x_qp.xb");
    fs::write(&input, &archive).unwrap();
    let len = archive.len() as u64;
    assert_eq!(
        space_needed(&input).unwrap(),
        SpaceNeeded::AtLeast(len - len / 8)
    );
    for threads in [1, 2, 3] {
        let out = dir.path().join(format!("out{threads}"));
        let report = unpack_file(&input, &out, &options(threads), &Progress::new()).unwrap();
        assert_eq!(report.files, 5);
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let got = tree(&out);
        for (path, data) in &files {
            assert!(
                got[Path::new(path)] == *data,
                "{path} with {threads} threads"
            );
        }
        assert!(report.output_mb_per_s() > 0.0 && report.input_mb_per_s() > 0.0);
    }
}

fn xb_of(members: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut w = xbstream::Writer::new(Vec::new());
    for (path, data) in members {
        w.whole_file(path, data, 1000).unwrap();
    }
    w.into_inner()
}

fn unpack_bytes(
    bytes: Vec<u8>,
    out: &Path,
) -> Result<bsonflow_sources::unpack::UnpackReport, UnpackError> {
    unpack(
        std::io::Cursor::new(bytes),
        "test",
        out,
        &options(2),
        &Progress::new(),
    )
}

#[test]
fn qp_member_rules() {
    let dir = tempfile::tempdir().unwrap();
    // The inner name differs from the member's: unpacked under the member's name, with a warning.
    let qp = qp_member(b"other-name", b"payload", 65536);
    let report = unpack_bytes(xb_of(&[(b"db/real.wt.qp", &qp)]), &dir.path().join("a")).unwrap();
    assert_eq!(
        fs::read(dir.path().join("a/db/real.wt")).unwrap(),
        b"payload"
    );
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("other-name"),
        "{:?}",
        report.warnings
    );

    // Two files in one member.
    let mut two = qp_member(b"x", b"1", 65536);
    two.extend_from_slice(&qp_member(b"y", b"2", 65536)[16..]);
    let err = unpack_bytes(xb_of(&[(b"x.qp", &two)]), &dir.path().join("b")).unwrap_err();
    assert!(
        matches!(err, UnpackError::QpressLayout { ref member, .. } if member == "x.qp"),
        "{err}"
    );

    // A directory record.
    let mut w = qpress::Writer::new(Vec::new(), 65536).unwrap();
    w.dir(b"sub").unwrap();
    w.file(b"x").unwrap();
    w.end_file().unwrap();
    let err =
        unpack_bytes(xb_of(&[(b"x.qp", &w.into_inner())]), &dir.path().join("c")).unwrap_err();
    assert!(matches!(err, UnpackError::QpressLayout { .. }), "{err}");

    // An empty `.qp` member is not a qpress archive.
    let err = unpack_bytes(xb_of(&[(b"x.qp", b"")]), &dir.path().join("d")).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::Qpress {
                source: QpressError::Empty,
                ..
            }
        ),
        "{err}"
    );

    // A `.qp` member cut short.
    let qp = qp_member(b"x", &sample(10_000, 9), 4096);
    let err = unpack_bytes(
        xb_of(&[(b"x.qp", &qp[..qp.len() - 5])]),
        &dir.path().join("e"),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::Qpress {
                source: QpressError::Truncated { .. },
                ..
            }
        ),
        "{err}"
    );

    // A `.qp` member and a plain member unpacking to the same path.
    let qp = qp_member(b"x", b"1", 65536);
    let err = unpack_bytes(
        xb_of(&[(b"x", b"plain"), (b"x.qp", &qp)]),
        &dir.path().join("f"),
    )
    .unwrap_err();
    assert!(
        matches!(err, UnpackError::Duplicate { ref member, .. } if member == "x.qp"),
        "{err}"
    );
}

/// A corrupt block inside a `.qp` member (xbstream CRC intact): the error names the member
/// and the archive offset of the block.
#[test]
fn adler_error_names_member_and_archive_offset() {
    let data = sample(200_000, 4);
    let mut qp = qp_member(b"c.wt", &data, 65536);
    // Second block: find its `NEWBNEWB` after the first one.
    let first = qp.windows(8).position(|w| w == qpress::BLOCK_TAG).unwrap();
    let second = first
        + 8
        + qp[first + 8..]
            .windows(8)
            .position(|w| w == qpress::BLOCK_TAG)
            .unwrap();
    qp[second + 40] ^= 0x04;
    let mut w = xbstream::Writer::new(Vec::new());
    w.whole_file(b"other", b"unrelated", 100).unwrap();
    let start = w.position();
    w.payload(b"db/c.wt.qp", 0, &qp).unwrap();
    w.end(b"db/c.wt.qp").unwrap();
    let archive = w.into_inner();
    let payload_start = start + 34 + "db/c.wt.qp".len() as u64;
    let dir = tempfile::tempdir().unwrap();
    let err = unpack_bytes(archive, &dir.path().join("o")).unwrap_err();
    match &err {
        UnpackError::Qpress {
            member,
            source: QpressError::Adler { offset, .. },
            ..
        } => {
            assert_eq!(member, "db/c.wt.qp");
            assert_eq!(*offset, payload_start + second as u64);
        }
        other => panic!("{other}"),
    }
    assert!(err
        .to_string()
        .contains(&format!("offset {}", payload_start + second as u64)));
}

/// A raw tar header with any name (the tar crate refuses to build unsafe ones).
fn raw_header(name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    h.as_gnu_mut().unwrap().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

/// (name, type, data, link target)
type TarEntry<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);

fn tar_of(entries: &[TarEntry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, data, link) in entries {
        let h = raw_header(name, *kind, data.len() as u64, link);
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn tar_members_never_escape() {
    use tar::EntryType as T;
    let dir = tempfile::tempdir().unwrap();
    // Links, devices and FIFOs are reported, not created; a path through a skipped symlink
    // becomes a real directory inside the target.
    let tar = tar_of(&[
        (b"./", T::Directory, b"", b""),
        (b"./WiredTiger", T::Regular, b"WiredTiger\n", b""),
        (b"link", T::Symlink, b"", b"/etc"),
        (b"hard", T::Link, b"", b"WiredTiger"),
        (b"dev", T::Char, b"", b""),
        (b"fifo", T::Fifo, b"", b""),
        (b"link/passwd", T::Regular, b"not /etc/passwd", b""),
        (b"db/", T::Directory, b"", b""),
    ]);
    let out = dir.path().join("ok");
    let report = unpack_bytes(tar.clone(), &out).unwrap();
    assert_eq!(report.format, PhysicalFormat::Tar(Compression::None));
    let kinds: Vec<_> = report
        .skipped
        .iter()
        .map(|s| (s.path.as_str(), s.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("link", "symlink"),
            ("hard", "hard link"),
            ("dev", "character device"),
            ("fifo", "FIFO")
        ]
    );
    assert_eq!(report.skipped[0].target.as_deref(), Some("/etc"));
    assert_eq!(report.files, 2);
    assert!(fs::symlink_metadata(out.join("link")).unwrap().is_dir());
    assert_eq!(
        fs::read(out.join("link/passwd")).unwrap(),
        b"not /etc/passwd"
    );
    assert!(out.join("db").is_dir());

    for (i, (name, want)) in [
        (&b"../evil"[..], PathError::ParentDir),
        (b"a/../../evil", PathError::ParentDir),
        (b"/tmp/evil", PathError::Absolute),
        (b"C:\\evil", PathError::Backslash),
    ]
    .into_iter()
    .enumerate()
    {
        let tar = tar_of(&[
            (b"fine", T::Regular, b"x", b""),
            (name, T::Regular, b"evil", b""),
        ]);
        let target = dir.path().join(format!("bad{i}"));
        let err = unpack_bytes(tar, &target).unwrap_err();
        match err {
            UnpackError::UnsafeTarPath { source, .. } => assert_eq!(source, want),
            other => panic!("{other}"),
        }
    }
    assert!(!dir.path().join("evil").exists() && !Path::new("/tmp/evil").exists());

    // A long (GNU long-name) path that is unsafe is refused too.
    let mut b = tar::Builder::new(Vec::new());
    let mut long = b"x/".repeat(60);
    long.extend_from_slice(b"../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../../evil");
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_entry_type(T::Regular);
    b.append_data(&mut h, "placeholder", &b"x"[..]).unwrap();
    let mut bytes = b.into_inner().unwrap();
    // Rewrite the archive with a GNU long-name record in front.
    let mut with_long = Vec::new();
    let mut lh = raw_header(b"././@LongLink", T::GNULongName, long.len() as u64 + 1, b"");
    lh.set_cksum();
    with_long.extend_from_slice(lh.as_bytes());
    let mut name_block = long.clone();
    name_block.push(0);
    name_block.resize(name_block.len().div_ceil(512) * 512, 0);
    with_long.extend_from_slice(&name_block);
    with_long.append(&mut bytes);
    let err = unpack_bytes(with_long, &dir.path().join("long")).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::UnsafeTarPath {
                source: PathError::ParentDir,
                ..
            }
        ),
        "{err}"
    );

    // The same regular file twice.
    let tar = tar_of(&[
        (b"a", T::Regular, b"1", b""),
        (b"./a", T::Regular, b"2", b""),
    ]);
    let err = unpack_bytes(tar, &dir.path().join("dup")).unwrap_err();
    assert!(matches!(err, UnpackError::Duplicate { .. }), "{err}");

    // Cut short inside a member.
    let tar = tar_of(&[(b"a", T::Regular, &[7u8; 5000], b"")]);
    let err = unpack_bytes(tar[..3000].to_vec(), &dir.path().join("cut")).unwrap_err();
    assert!(matches!(err, UnpackError::Tar { .. }), "{err}");
}

#[test]
fn plain_and_zstd_tars_and_space_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    let files = [
        ("WiredTiger.wt", sample(100_000, 5)),
        ("db/c.wt", sample(30_000, 6)),
    ];
    for (name, data) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o600);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    let tar = b.into_inner().unwrap();
    let plain = dir.path().join("x.tar");
    fs::write(&plain, &tar).unwrap();
    assert_eq!(space_needed(&plain).unwrap(), SpaceNeeded::Exact(130_000));
    let zst = dir.path().join("x.tar.zst");
    fs::write(&zst, zstd::encode_all(&tar[..], 3).unwrap()).unwrap();
    let zst_len = fs::metadata(&zst).unwrap().len();
    assert_eq!(
        space_needed(&zst).unwrap(),
        SpaceNeeded::AtLeast(zst_len - zst_len / 8)
    );
    for (input, format) in [
        (&plain, PhysicalFormat::Tar(Compression::None)),
        (&zst, PhysicalFormat::Tar(Compression::Zstd)),
    ] {
        let out = dir.path().join(format!(
            "out-{}",
            input.file_name().unwrap().to_string_lossy()
        ));
        let report = unpack_file(input, &out, &options(2), &Progress::new()).unwrap();
        assert_eq!(report.format, format);
        for (name, data) in &files {
            assert!(fs::read(out.join(name)).unwrap() == *data);
        }
    }
    let junk = dir.path().join("junk");
    fs::write(&junk, b"\x05\x00\x00\x00\x00").unwrap();
    assert_eq!(space_needed(&junk).unwrap(), SpaceNeeded::Unknown);
}

#[test]
fn refuses_non_empty_targets_and_foreign_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("keep"), b"mine").unwrap();
    let err = unpack_file(
        &fixtures().join("sample_qp.xb"),
        &out,
        &options(2),
        &Progress::new(),
    )
    .unwrap_err();
    assert!(matches!(err, UnpackError::OutNotEmpty(_)), "{err}");
    assert_eq!(fs::read(out.join("keep")).unwrap(), b"mine");

    // An empty existing directory is fine.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    unpack_file(
        &fixtures().join("sample_qp.xb"),
        &empty,
        &options(2),
        &Progress::new(),
    )
    .unwrap();

    for (bytes, what) in [
        (
            &b"\x16\x00\x00\x00\x02a\x00\x02\x00\x00\x00b\x00\x00"[..],
            "bytes 16 00",
        ),
        (b"", "an empty input"),
    ] {
        let err = unpack_bytes(
            bytes.to_vec(),
            &dir.path().join(format!("n{}", bytes.len())),
        )
        .unwrap_err();
        assert!(
            matches!(&err, UnpackError::NotPhysical { found, .. } if found.starts_with(what)),
            "{err}"
        );
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"just text, no tar").unwrap();
    let err = unpack_bytes(gz.finish().unwrap(), &dir.path().join("gz")).unwrap_err();
    assert!(
        matches!(&err, UnpackError::NotPhysical { found, .. } if found.starts_with("gzip data")),
        "{err}"
    );
}

/// Without enough free space (simulated with a margin larger than any disk) the unpack stops
/// before writing: up front for a file, at the first write for a stream.
#[test]
fn no_space_fails_early_and_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let huge = UnpackOptions {
        threads: 2,
        check_space: true,
        space_margin: u64::MAX / 4,
    };
    for name in ["sample_qp.xb", "sample.tar.gz"] {
        let out = dir.path().join(format!("file-{name}"));
        let err = unpack_file(&fixtures().join(name), &out, &huge, &Progress::new()).unwrap_err();
        match &err {
            UnpackError::NoSpace {
                member: None,
                available,
                needed,
                ..
            } => assert!(available < needed),
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("not enough free space"));
        assert!(tree(&out).is_empty(), "nothing written");

        let out = dir.path().join(format!("stream-{name}"));
        let bytes = fs::read(fixtures().join(name)).unwrap();
        let err = unpack(
            std::io::Cursor::new(bytes),
            name,
            &out,
            &huge,
            &Progress::new(),
        )
        .unwrap_err();
        assert!(
            matches!(
                &err,
                UnpackError::NoSpace {
                    member: Some(_),
                    ..
                }
            ),
            "{err}"
        );
        assert!(tree(&out).values().all(|v| v.is_empty()), "no data written");
    }
    // With the check off, the same unpack succeeds.
    let off = UnpackOptions {
        check_space: false,
        ..huge
    };
    unpack_file(
        &fixtures().join("sample_qp.xb"),
        &dir.path().join("off"),
        &off,
        &Progress::new(),
    )
    .unwrap();
}

#[test]
fn xbstream_cut_before_an_end_chunk_is_unfinished() {
    let bytes = fs::read(fixtures().join("sample_qp.xb")).unwrap();
    // Cut right after the first chunk (a chunk boundary): that member never ends.
    let mut r = xbstream::Reader::new(&bytes[..]);
    r.next_chunk().unwrap().unwrap();
    let boundary = r.position() as usize;
    let dir = tempfile::tempdir().unwrap();
    let err = unpack_bytes(bytes[..boundary].to_vec(), &dir.path().join("o")).unwrap_err();
    assert!(
        matches!(
            &err,
            UnpackError::Xbstream {
                source: XbstreamError::Unfinished { .. },
                ..
            }
        ),
        "{err}"
    );
}
