//! Tars of BSON sets, built by tools we did not write (Python's `tarfile`, `gzip` and
//! `zstandard`; GNU `tar`, `gzip` and `zstd`), from folders whose documents come from
//! pymongo: each read must equal `folder::scan` + `BsonSet::read_into` of the folder. Then
//! corrupt and hostile variants.

#[path = "common/archived_sets.rs"]
mod archived_sets;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use archived_sets::{
    assert_same_export, compression_of, container_of, corrupt_count, document_count, outcome,
    read_folder, Failed,
};
use bsonflow_model::{FailureKind, Progress, ReadOptions, ReadReport};
use bsonflow_sources::input::Input;
use bsonflow_sources::layers::compression::Compression;
use bsonflow_sources::tar_set::{self, IgnoreReason};
use bsonflow_testkit::{python, run_python, skip, MemorySink};
use serde_json::{json, Value};

const SETS: &str = include_str!("common/make_bson_sets.py");
const TARS: &str = include_str!("common/make_tars.py");

/// The two BSON sets, written by pymongo into a temporary folder.
struct Sets {
    dir: tempfile::TempDir,
    py: PathBuf,
    counts: BTreeMap<String, u64>,
}

/// One tar built by `make_tars.py`, with tarfile's own listing of its members.
struct Built {
    path: PathBuf,
    members: Vec<Value>,
}

impl Built {
    /// (header offset, data offset, size) of the member whose name ends with `suffix`.
    fn member(&self, suffix: &str) -> (usize, usize, usize) {
        let m = self
            .members
            .iter()
            .find(|m| m["name"].as_str().unwrap().ends_with(suffix))
            .unwrap_or_else(|| panic!("no member {suffix}"));
        let n = |k: &str| m[k].as_u64().unwrap() as usize;
        (n("header"), n("data"), n("size"))
    }
}

impl Sets {
    fn new() -> Option<Sets> {
        let py = python(&["bson"])?;
        let dir = tempfile::tempdir().unwrap();
        let out = run_python(&py, SETS, &[dir.path().to_str().unwrap()]);
        let counts = serde_json::from_slice(&out).unwrap();
        Some(Sets { dir, py, counts })
    }

    fn mongo(&self) -> PathBuf {
        self.dir.path().join("mongo").join("dump")
    }

    fn cloud(&self) -> PathBuf {
        self.dir.path().join("cloud")
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Builds tars from specs (see make_tars.py); `src` and `out` are filled in.
    fn tars(&self, src: &Path, specs: Vec<Value>) -> Vec<Built> {
        let specs: Vec<Value> = specs
            .into_iter()
            .map(|mut s| {
                let out = self.out(s["out"].as_str().unwrap());
                s["out"] = json!(out);
                s["src"] = json!(src);
                s
            })
            .collect();
        let out = run_python(&self.py, TARS, &[&serde_json::to_string(&specs).unwrap()]);
        let built: Vec<Value> = serde_json::from_slice(&out).unwrap();
        built
            .into_iter()
            .map(|b| Built {
                path: PathBuf::from(b["out"].as_str().unwrap()),
                members: b["members"].as_array().unwrap().clone(),
            })
            .collect()
    }
}

fn options(spill: &Path) -> ReadOptions {
    ReadOptions {
        spill_dir: Some(spill.to_path_buf()),
        ..ReadOptions::default()
    }
}

/// Reads a tar file into `sink`: the report when it was read to its end without a failure,
/// else the one failure recorded (see [`outcome`]).
fn read(path: &Path, opts: &ReadOptions, sink: &MemorySink) -> Result<ReadReport, Failed> {
    let progress = Progress::new();
    let input = Input::open(path).unwrap_or_else(|e| panic!("{e}"));
    let r = outcome(tar_set::read_into(input, sink, &progress, opts), sink);
    if let Ok(report) = &r {
        let size = std::fs::metadata(path).unwrap().len();
        assert_eq!(progress.total(), size);
        assert_eq!(progress.consumed(), size, "progress reaches the file size");
        assert_eq!(report.input_bytes, size);
    }
    r
}

fn read_bytes(bytes: Vec<u8>, sink: &MemorySink) -> Result<ReadReport, Failed> {
    let spill = tempfile::tempdir().unwrap();
    let size = bytes.len() as u64;
    let input = Input::from_reader(Cursor::new(bytes), "test.tar", Some(size));
    outcome(
        tar_set::read_into(input, sink, &Progress::new(), &options(spill.path())),
        sink,
    )
}

/// The reasons (as the report spells them) of the ignored members whose name ends with
/// `suffix`.
fn ignored_with(report: &ReadReport, suffix: &str) -> Vec<String> {
    report
        .ignored
        .iter()
        .filter(|m| m.what.ends_with(suffix))
        .map(|m| m.why.clone())
        .collect()
}

/// How the report spells `reason`.
fn why(reason: IgnoreReason) -> [String; 1] {
    [reason.to_string()]
}

/// Ignored members, listed and unlisted.
fn ignored_count(report: &ReadReport) -> u64 {
    report.ignored.len() as u64 + report.ignored_unlisted
}

/// The count at the start of the one note about `topic` (0 when there is none). Such a
/// note must contain `phrase`, so that a new wording fails here instead of reading as 0.
fn counted_in_note(report: &ReadReport, topic: &str, phrase: &str) -> u64 {
    let about: Vec<&String> = report.notes.iter().filter(|n| n.contains(topic)).collect();
    match about[..] {
        [] => 0,
        [note] => {
            assert!(
                note.contains(phrase),
                "a note in an unknown wording: {note}"
            );
            note.split(' ')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a note without a count: {note}"))
        }
        _ => panic!("two notes about {topic:?}: {:?}", report.notes),
    }
}

/// Cloud parts that waited in spill files, and their size as the note spells it (`None`
/// when nothing was spilled).
fn spilled(report: &ReadReport) -> (u64, Option<String>) {
    const PHRASE: &str = " cloud parts (";
    let parts = counted_in_note(report, "spill", PHRASE);
    let size = report.notes.iter().find(|n| n.contains("spill")).map(|n| {
        let (_, rest) = n.split_once(PHRASE).unwrap();
        let size = rest.split_once(')').map(|(size, _)| size);
        size.unwrap_or_else(|| panic!("no size in {n}")).to_string()
    });
    (parts, size)
}

/// Members cut short at a corrupt document that the sink accepted.
fn corrupt_members(report: &ReadReport) -> u64 {
    counted_in_note(
        report,
        "corrupt",
        " members were cut short at a corrupt document",
    )
}

fn zstandard() -> bool {
    python(&["zstandard"]).is_some()
}

/// Reads each built tar and compares it with the folder's read.
fn check_all(
    sets: &Sets,
    built: &[Built],
    expected: &MemorySink,
    compressions: &[Compression],
    max_open: usize,
) -> Vec<ReadReport> {
    let spill = sets.out("spill").join("nested");
    let mut reports = Vec::new();
    for (b, c) in built.iter().zip(compressions) {
        let what = b.path.file_name().unwrap().to_string_lossy().into_owned();
        let sink = MemorySink::new();
        let mut opts = options(&spill);
        opts.max_open_writers = max_open;
        let report = read(&b.path, &opts, &sink).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        assert_same_export(&sink, expected, &what);
        assert_eq!(compression_of(&report), *c, "{what}");
        assert!(
            container_of(&report).starts_with("tar, "),
            "{what}: {report:?}"
        );
        assert_eq!(report.documents as usize, document_count(&sink), "{what}");
        let finished = sink.collections().values().filter(|c| c.finished).count();
        assert_eq!(finished, expected.collections().len(), "{what}: exported");
        assert_eq!(
            sink.skipped().len(),
            expected.skipped().len(),
            "{what}: skipped"
        );
        assert!(!spill.exists(), "{what}: the spill folder is removed");
        reports.push(report);
    }
    reports
}

#[test]
fn mongodump_folder_tarred_by_python_tarfile() {
    let Some(sets) = Sets::new() else {
        return;
    };
    let expected = read_folder(&sets.mongo());
    assert_eq!(expected.collection("shop.orders").documents.len(), 1200);
    assert_eq!(expected.collection("shop.gzipped").documents.len(), 200);
    assert!(expected.collection("same.same").metadata.uuid.is_some());
    let mut specs = vec![
        json!({"out": "m-ustar.tar", "format": "ustar", "prefix": "dump", "order": "sorted"}),
        json!({"out": "m-gnu.tgz", "format": "gnu", "prefix": "", "order": "shuffle:1",
               "compress": "gzip", "links": true}),
        json!({"out": "m-gnu-multi.tgz", "format": "gnu", "prefix": "dump", "order": "reverse",
               "compress": "gzip-multi"}),
    ];
    let mut kinds = vec![Compression::None, Compression::Gzip, Compression::Gzip];
    if zstandard() {
        specs.push(
            json!({"out": "m-pax.tar.zst", "format": "pax", "prefix": "backup/2024/dump",
                          "order": "shuffle:2", "compress": "zstd", "dirs": true}),
        );
        kinds.push(Compression::Zstd);
    }
    let built = sets.tars(&sets.mongo(), specs);
    let reports = check_all(&sets, &built, &expected, &kinds, 32);
    for r in &reports {
        assert_eq!(
            ignored_with(r, "README.txt"),
            why(IgnoreReason::NotInLayout)
        );
        assert_eq!(
            ignored_with(r, "shop/notes.txt"),
            why(IgnoreReason::NotInLayout)
        );
        assert_eq!(
            spilled(r),
            (0, None),
            "nothing to reorder in a mongodump layout"
        );
    }
    // Links and devices are listed, never followed.
    let links = &reports[1];
    assert_eq!(
        ignored_with(links, "shop/link.bson"),
        why(IgnoreReason::SymbolicLink {
            target: "orders.bson".into()
        })
    );
    assert_eq!(
        ignored_with(links, "shop/hard.bson"),
        why(IgnoreReason::HardLink {
            target: "shop/orders.bson".into()
        })
    );
    assert_eq!(
        ignored_with(links, "fifo"),
        why(IgnoreReason::Special("FIFO"))
    );
    assert_eq!(ignored_count(links), 6);
}

#[test]
fn cloud_download_tarred_by_python_tarfile_in_any_order() {
    let Some(sets) = Sets::new() else {
        return;
    };
    let expected = read_folder(&sets.cloud());
    assert_eq!(expected.collection("app.events").documents.len(), 1100);
    assert_eq!(expected.collection("app.logs").documents.len(), 200);
    assert_eq!(expected.collection("app.ordered").documents.len(), 186);
    let mut specs = vec![
        // Name order: events_10_part0 before events_2_part0, ordered_0_part10 before _part2,
        // and metadata after the data of its collection.
        json!({"out": "c-gnu.tar", "format": "gnu", "prefix": "", "order": "sorted"}),
        json!({"out": "c-pax.tgz", "format": "pax", "prefix": "x/y", "order": "shuffle:3",
               "compress": "gzip"}),
        json!({"out": "c-gnu-rev.tgz", "format": "gnu", "prefix": "", "order": "reverse",
               "compress": "gzip-multi", "dirs": true}),
        json!({"out": "c-pax-5.tar", "format": "pax", "prefix": "", "order": "shuffle:5"}),
    ];
    let mut kinds = vec![
        Compression::None,
        Compression::Gzip,
        Compression::Gzip,
        Compression::None,
    ];
    if zstandard() {
        specs.push(
            json!({"out": "c-pax.tar.zst", "format": "pax", "prefix": "", "order": "shuffle:4",
                          "compress": "zstd"}),
        );
        kinds.push(Compression::Zstd);
    }
    let built = sets.tars(&sets.cloud(), specs);
    let reports = check_all(&sets, &built, &expected, &kinds, 32);
    for r in &reports {
        // app.logs has no part (0, 0): its parts wait for the end of the tar.
        let (parts, size) = spilled(r);
        assert!(parts >= 2, "{r:?}");
        let size = size.unwrap();
        assert!(!size.starts_with("0 "), "spilled bytes: {size}");
    }
    // In name order only the parts after a gap wait: events (10,0) and (2,0), logs (1,0)
    // and (1,1), ordered (0,10) and (0,11); ordered (0,2) .. (0,9) stream and release them.
    assert_eq!(spilled(&reports[0]).0, 6);

    // Writers capped: collections beyond the cap wait whole in spill files; none open at
    // all: everything waits. (`ReadOptions::max_open_writers` 0 now reads as 1.)
    for cap in [1, 0] {
        let r = check_all(&sets, &built[1..2], &expected, &kinds[1..2], cap);
        assert!(spilled(&r[0]).0 > spilled(&reports[1]).0, "cap {cap}");
    }
}

fn have_tool(name: &str, version_arg: &str, expect: &str) -> bool {
    let ok = Command::new(name)
        .arg(version_arg)
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains(expect));
    ok || skip::<()>(&format!("`{name}` ({expect}) is not installed")).is_some()
}

fn sh(script: &str) {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tars_made_by_gnu_tar_gzip_and_zstd() {
    let Some(sets) = Sets::new() else {
        return;
    };
    if !have_tool("tar", "--version", "GNU tar") || !have_tool("gzip", "--version", "gzip") {
        return;
    }
    let root = sets.dir.path().display().to_string();
    let mongo = read_folder(&sets.mongo());
    let cloud = read_folder(&sets.cloud());
    sh(&format!("tar -czf {root}/a.tgz -C {root}/mongo dump"));
    // Multi-member gzip: two `gzip` outputs concatenated.
    sh(&format!(
        "tar -cf {root}/b.tar -C {root}/cloud . && head -c 30000 {root}/b.tar | gzip -c > {root}/b.tgz \
         && tail -c +30001 {root}/b.tar | gzip -c >> {root}/b.tgz"
    ));
    let mut cases = vec![
        ("a.tgz", &mongo, Compression::Gzip),
        ("b.tar", &cloud, Compression::None),
        ("b.tgz", &cloud, Compression::Gzip),
    ];
    if have_tool("zstd", "--version", "Zstandard") {
        sh(&format!(
            "tar --zstd -cf {root}/c.tar.zst -C {root}/cloud ."
        ));
        sh(&format!(
            "tar --format=posix -cf - -C {root}/mongo dump | zstd -q -19 -c > {root}/d.zst"
        ));
        cases.push(("c.tar.zst", &cloud, Compression::Zstd));
        cases.push(("d.zst", &mongo, Compression::Zstd));
    }
    let spill = sets.out("spill");
    for (file, expected, kind) in cases {
        let sink = MemorySink::new();
        let report = read(&sets.out(file), &options(&spill), &sink)
            .unwrap_or_else(|e| panic!("{file}: {e:?}"));
        assert_same_export(&sink, expected, file);
        assert_eq!(compression_of(&report), kind, "{file}");
        assert!(!spill.exists());
    }
}

#[test]
fn cut_and_corrupted_tars_fail_with_member_and_offset() {
    let Some(sets) = Sets::new() else {
        return;
    };
    let built = sets.tars(
        &sets.mongo(),
        vec![
            json!({"out": "plain.tar", "format": "gnu", "prefix": "dump", "order": "sorted"}),
            json!({"out": "packed.tgz", "format": "gnu", "prefix": "dump", "order": "sorted",
                   "compress": "gzip"}),
        ],
    );
    let plain = std::fs::read(&built[0].path).unwrap();
    let (_, orders, orders_len) = built[0].member("shop/orders.bson");

    // Cut inside a member that is being read: the member and the offset are named.
    for cut in [
        orders + 1,
        orders + 3,
        orders + orders_len / 2,
        orders + orders_len - 1,
    ] {
        let sink = MemorySink::new();
        match read_bytes(plain[..cut].to_vec(), &sink) {
            Err(e) if e.message.contains(" of its content; ") => {
                let text = &e.message;
                assert!(
                    text.starts_with("test.tar: member dump/shop/orders.bson: "),
                    "{text}"
                );
                assert!(text.contains(&format!("byte {cut}")), "cut {cut}: {text}");
                assert!(text.contains("the input ends inside this member"), "{text}");
                assert_eq!(e.kind, FailureKind::Corrupt, "cut {cut}: {text}");
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // Cut inside a header, and exactly between two members (no end-of-archive block).
    let (next_header, _, _) = built[0].member("shop/system.js.bson");
    let sink = MemorySink::new();
    match read_bytes(plain[..next_header + 100].to_vec(), &sink) {
        Err(e)
            if e.message
                .starts_with("test.tar: reading the tar header after member ")
                && e.message.contains(&format!(" at byte {next_header}: ")) => {}
        other => panic!("{other:?}"),
    }
    let sink = MemorySink::new();
    match read_bytes(plain[..next_header].to_vec(), &sink) {
        Err(e) if e.message.starts_with("test.tar: the input ends at byte ") => {
            assert!(e.message.contains("truncated"), "{e:?}");
            assert_eq!(e.kind, FailureKind::Corrupt, "{e:?}");
        }
        other => panic!("{other:?}"),
    }
    // Cut inside a member the sink skips (admin): the tar reader's skip reports it.
    let (_, admin, admin_len) = built[0].member("admin/system.users.bson");
    let sink = MemorySink::new();
    match read_bytes(plain[..admin + admin_len / 2].to_vec(), &sink) {
        Err(e)
            if e.message
                .starts_with("test.tar: reading the tar header after member ")
                && e.message.contains("admin/system.users.bson") => {}
        other => panic!("{other:?}"),
    }
    // Cut inside a metadata member.
    let (_, meta, _) = built[0].member("shop/orders.metadata.json");
    let sink = MemorySink::new();
    match read_bytes(plain[..meta + 10].to_vec(), &sink) {
        Err(e)
            if e.message.starts_with("test.tar: member ")
                && e.message.contains(" of its content; ") =>
        {
            let member = e.message["test.tar: member ".len()..]
                .split_once(": ")
                .unwrap()
                .0;
            assert!(member.ends_with("orders.metadata.json"), "{e:?}");
            assert_eq!(e.kind, FailureKind::Corrupt, "{e:?}");
        }
        other => panic!("{other:?}"),
    }

    // A broken header checksum.
    let (header, _, _) = built[0].member("shop/customers.bson");
    let mut bytes = plain.clone();
    bytes[header + 20] ^= 0x01;
    let sink = MemorySink::new();
    match read_bytes(bytes, &sink) {
        Err(e)
            if e.message
                .starts_with("test.tar: reading the tar header after member ") =>
        {
            assert!(e.message.contains("checksum"), "{e:?}");
            assert!(e.message.contains(&format!("byte {header}")), "{e:?}");
        }
        other => panic!("{other:?}"),
    }

    // gzip: cut short, a flipped byte in the deflate data, a wrong CRC-32 in the trailer.
    let gz = std::fs::read(&built[1].path).unwrap();
    for cut in [gz.len() / 4, gz.len() / 2, gz.len() - 5] {
        let sink = MemorySink::new();
        let e = read_bytes(gz[..cut].to_vec(), &sink).expect_err("cut gzip");
        let text = &e.message;
        assert!(text.contains("compressed bytes read"), "{text}");
        assert_eq!(e.kind, FailureKind::Corrupt, "gzip cut at {cut}: {text}");
    }
    let mut bytes = gz.clone();
    bytes[gz.len() / 2] ^= 0x10;
    // Either the gzip CRC or a document's framing (the decoded bytes are garbage) stops it.
    read_bytes(bytes, &MemorySink::new()).expect_err("flipped gzip byte");
    let mut bytes = gz.clone();
    let n = bytes.len();
    bytes[n - 6] ^= 0xff;
    match read_bytes(bytes, &MemorySink::new()) {
        Err(e)
            if e.message
                .starts_with("test.tar: after the end of the tar, at ") =>
        {
            assert!(e.message.contains("checksum"), "{e:?}");
            assert_eq!(e.kind, FailureKind::Corrupt, "{e:?}");
        }
        other => panic!("{other:?}"),
    }

    // Not a tar at all (by content, whatever the name).
    match read_bytes(
        b"just some text, long enough to not be a header".repeat(20),
        &MemorySink::new(),
    ) {
        Err(e) if e.message.starts_with("test.tar: not a tar archive ") => {
            let compression = Compression::None.name();
            assert!(
                e.message.contains(&format!("(its {compression} content ")),
                "{e:?}"
            );
            assert_eq!(e.kind, FailureKind::Corrupt, "{e:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_names_duplicates_and_non_bson_members() {
    let Some(sets) = Sets::new() else {
        return;
    };
    let expected = read_folder(&sets.mongo());
    let orders = "shop/orders.bson";
    let built = sets.tars(
        &sets.mongo(),
        vec![
            json!({"out": "hostile.tar", "format": "pax", "prefix": "dump", "order": "shuffle:9",
                   "extra": [["../evil/x.bson", orders, null],
                             ["/abs/shop/orders.bson", orders, null],
                             ["dump/../../escape/y.bson", orders, null],
                             ["dump/shop/../../z/w.metadata.json", null, "{}"]]}),
            json!({"out": "dup.tar", "format": "gnu", "prefix": "dump", "order": "sorted",
                   "extra": [["dump/shop/orders.bson", orders, null]]}),
            json!({"out": "notbson.tar", "format": "gnu", "prefix": "dump", "order": "sorted",
                   "extra": [["dump/shop/notbson.bson", null, "this is a text file, not BSON"]]}),
        ],
    );
    // `..` and absolute names are ignored with their reason and never read as data.
    let sink = MemorySink::new();
    let report = read(&built[0].path, &options(&sets.out("spill")), &sink).unwrap();
    assert_same_export(&sink, &expected, "hostile names");
    assert_eq!(
        ignored_with(&report, "evil/x.bson"),
        why(IgnoreReason::ParentComponent)
    );
    assert_eq!(
        ignored_with(&report, "escape/y.bson"),
        why(IgnoreReason::ParentComponent)
    );
    assert_eq!(
        ignored_with(&report, "w.metadata.json"),
        why(IgnoreReason::ParentComponent)
    );
    assert_eq!(
        ignored_with(&report, "/abs/shop/orders.bson"),
        why(IgnoreReason::AbsolutePath)
    );

    // The same member twice.
    match read(
        &built[1].path,
        &options(&sets.out("spill")),
        &MemorySink::new(),
    ) {
        Err(e) if e.kind == FailureKind::Namespace => {
            assert_eq!(e.ns_text().as_deref(), Some("shop.orders"));
            assert_eq!(
                e.message,
                format!(
                    "{}: shop.orders is given twice: dump/shop/orders.bson and dump/shop/orders.bson",
                    built[1].path.display()
                )
            );
        }
        other => panic!("{other:?}"),
    }

    // A member that is not BSON: the sink decides. By default the collection fails …
    match read(
        &built[2].path,
        &options(&sets.out("spill")),
        &MemorySink::new(),
    ) {
        Err(e) if e.kind == FailureKind::Incomplete => {
            assert_eq!(e.ns_text().as_deref(), Some("shop.notbson"));
            let text = &e.message;
            assert!(text.contains("shop.notbson"), "{text}");
            assert!(text.contains("dump/shop/notbson.bson"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // … a sink that skips corrupt data records it and everything else is exported.
    let sink = MemorySink::skipping_corrupt();
    let report = read(&built[2].path, &options(&sets.out("spill")), &sink).unwrap();
    assert_eq!(corrupt_members(&report), 1);
    assert_eq!(corrupt_count(&sink), 1);
    let bad = sink.collection("shop.notbson");
    assert!(bad.documents.is_empty() && bad.finished);
    assert_eq!(bad.corrupt.len(), 1);
    assert!(bad.corrupt[0].0.starts_with("dump/shop/notbson.bson in "));
    assert_eq!(
        sink.collection("shop.orders").documents,
        expected.collection("shop.orders").documents
    );
}

#[test]
fn counts_match_the_generator() {
    let Some(sets) = Sets::new() else {
        return;
    };
    // The reference exports hold what pymongo wrote (exported namespaces only).
    let mongo = read_folder(&sets.mongo());
    let cloud = read_folder(&sets.cloud());
    for (name, n) in &sets.counts {
        let in_set = mongo
            .collections()
            .into_iter()
            .chain(cloud.collections())
            .find(|(ns, _)| &ns.to_string() == name);
        if let Some((_, c)) = in_set {
            assert_eq!(c.documents.len() as u64, *n, "{name}");
        }
    }
    assert_eq!(document_count(&mongo), 1200 + 300 + 200 + 7 + 50 + 20 + 3);
    assert_eq!(document_count(&cloud), 1100 + 300 + 200 + 180 + 186 + 15);
    let skipped: Vec<String> = mongo
        .skipped()
        .iter()
        .map(|(ns, r)| format!("{ns}: {r}"))
        .collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
}

/// A BSON file with a hole (a 1 MiB binary of zeros that was never written).
const SPARSE: &str = r#"
import bson, os, sys
d = os.path.join(sys.argv[1], "sparse", "db")
os.makedirs(d, exist_ok=True)
doc = bson.encode({"_id": 1, "b": bson.Binary(b"\0" * (1 << 20))})
start = len(doc) - 1 - (1 << 20)
with open(os.path.join(d, "holes.bson"), "wb") as f:
    f.write(doc[:start])
    f.seek(start + (1 << 20))
    f.write(doc[-1:])
    f.write(bson.encode({"_id": 2, "after": "the hole"}))
"#;

#[test]
fn gnu_sparse_members_are_read_and_pax_sparse_members_refused() {
    let Some(sets) = Sets::new() else {
        return;
    };
    if !have_tool("tar", "--version", "GNU tar") {
        return;
    }
    let root = sets.dir.path().display().to_string();
    run_python(&sets.py, SPARSE, &[&root]);
    let expected = read_folder(&sets.out("sparse"));
    assert_eq!(expected.collection("db.holes").documents.len(), 2);
    sh(&format!(
        "tar --sparse --format=gnu -cf {root}/gnu-sparse.tar -C {root} sparse \
         && tar --sparse --format=posix -cf {root}/pax-sparse.tar -C {root} sparse"
    ));
    let gnu = std::fs::read(sets.out("gnu-sparse.tar")).unwrap();
    // Headers: sparse/, sparse/db/, then the file; type flag at byte 156 of its header.
    let file_header = gnu
        .chunks(512)
        .position(|h| h.starts_with(b"sparse/db/holes.bson"))
        .unwrap();
    if gnu[file_header * 512 + 156] != b'S' {
        skip::<()>("the file system reports no holes, so GNU tar wrote no sparse member");
        return;
    }
    let sink = MemorySink::new();
    read(
        &sets.out("gnu-sparse.tar"),
        &options(&sets.out("spill")),
        &sink,
    )
    .unwrap();
    assert_same_export(&sink, &expected, "GNU sparse member");
    match read(
        &sets.out("pax-sparse.tar"),
        &options(&sets.out("spill")),
        &MemorySink::new(),
    ) {
        Err(e) if e.kind == FailureKind::Unsupported => {
            assert!(e.message.contains("sparse"), "{e:?}")
        }
        other => panic!("{other:?}"),
    }
}
