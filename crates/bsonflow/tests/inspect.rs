//! End to end: `bsonflow inspect` counts what pymongo counts, skips what convert skips (in
//! the same words), labels what it estimates, and writes nothing.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

/// The mongodump archive writer of the sources crate's tests (written from the spec, with
/// pymongo's encoder; it also writes the same collections as a mongodump folder).
const ARCHIVE_WRITER: &str = include_str!("../../sources/tests/common/make_mongodump_archive.py");

/// pymongo's count of every `<db>/<coll>.bson` under a folder: `{ns: [documents, bytes]}`,
/// the bytes being the raw documents' own.
const PY_COUNTS: &str = r#"
import sys, os, json, bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
root = sys.argv[1]
out = {}
for db in sorted(os.listdir(root)):
    d = os.path.join(root, db)
    if not os.path.isdir(d):
        continue
    for f in sorted(os.listdir(d)):
        if f.endswith(".bson"):
            data = open(os.path.join(d, f), "rb").read()
            docs = bson.decode_all(data, CodecOptions(document_class=RawBSONDocument))
            out[db + "." + f[:-len(".bson")]] = [len(docs), sum(len(x.raw) for x in docs)]
print(json.dumps(out))
"#;

/// Python's `tarfile` packs a folder (with its name as the leading component), plain or
/// gzip'd.
const PY_TAR: &str = r#"
import sys, os, tarfile
src, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
with tarfile.open(out, mode, format=tarfile.PAX_FORMAT) as t:
    t.add(src, arcname=os.path.basename(src))
"#;

/// Writes `<root>/app/<coll>.bson` for a few collections of hard-to-compress documents (a
/// few MiB in all), plus an `admin` database.
const PY_BIG_DUMP: &str = r#"
import sys, os, bson, random
root = sys.argv[1]
rng = random.Random(14)
for db, coll, n in [("app", "events", 9000), ("app", "users", 3000), ("admin", "system.users", 2)]:
    os.makedirs(os.path.join(root, db), exist_ok=True)
    with open(os.path.join(root, db, coll + ".bson"), "wb") as f:
        for i in range(n):
            f.write(bson.encode({"_id": i, "r": rng.random(), "hex": "%064x" % rng.getrandbits(256)}))
"#;

/// Python's `jsonschema` checks a report against `docs/inspect.schema.json`.
const PY_VALIDATE: &str = r#"
import sys, json, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
jsonschema.validate(json.load(sys.stdin), schema, cls=jsonschema.Draft202012Validator)
print("valid")
"#;

/// `inspect INPUT --json EXTRA…`, exit status 0, checked against the documented schema.
fn inspect(input: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["inspect", input.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    let o = bsonflow(&args);
    assert_status(&o, 0);
    assert_matches_schema(&o.stdout);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)))
}

fn assert_matches_schema(json: &[u8]) {
    let Some(py) = python(&["jsonschema"]) else {
        return;
    };
    let schema = bsonflow_testkit::workspace_root().join("docs/inspect.schema.json");
    let mut child = Command::new(py)
        .args(["-c", PY_VALIDATE, schema.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(json).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "the report does not match docs/inspect.schema.json:\n{}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(json)
    );
}

/// `{ns: (documents, bytes)}` of the namespaces inspect says convert would export, each
/// asserted to be counted exactly.
fn exact_counts(report: &Value, what: &str) -> BTreeMap<String, (u64, u64)> {
    let mut out = BTreeMap::new();
    for n in report["namespaces"].as_array().unwrap() {
        if !n["skipped"].is_null() {
            continue;
        }
        assert_eq!(n["exact"], true, "{what}: {n}");
        assert_eq!(n["basis"], "exact", "{what}: {n}");
        out.insert(
            n["ns"].as_str().unwrap().to_string(),
            (
                n["documents"].as_u64().unwrap(),
                n["bytes"].as_u64().unwrap(),
            ),
        );
    }
    assert_eq!(report["totals"]["exact"], true, "{what}");
    assert_eq!(report["read_whole"], true, "{what}");
    out
}

/// pymongo's counts of a dump folder.
fn pymongo_counts(py: &Path, dump: &Path) -> BTreeMap<String, (u64, u64)> {
    let out = run_python(py, PY_COUNTS, &[dump.to_str().unwrap()]);
    let v: BTreeMap<String, (u64, u64)> = serde_json::from_slice(&out).unwrap();
    v
}

/// `(ns, reason)` pairs of the `skipped:` section of convert's summary.
fn converts_skips(out: &Output) -> Vec<(String, String)> {
    let text = stdout(out);
    let mut lines = text.lines().skip_while(|l| *l != "skipped:").skip(1);
    let mut skips = Vec::new();
    for line in lines.by_ref() {
        let Some(entry) = line.strip_prefix("  ") else {
            break;
        };
        let (ns, reason) = entry.split_once(": ").unwrap();
        skips.push((ns.to_string(), reason.to_string()));
    }
    skips.sort();
    skips
}

/// `(ns, reason)` pairs of inspect's `skipped` list.
fn inspects_skips(report: &Value) -> Vec<(String, String)> {
    let mut skips: Vec<(String, String)> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["ns"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    skips.sort();
    skips
}

#[test]
fn counts_equal_pymongos_on_folders_tars_and_archives() {
    let Some(py) = python(&["bson"]) else { return };
    let work = tempfile::tempdir().unwrap();
    run_python(&py, ARCHIVE_WRITER, &[work.path().to_str().unwrap()]);
    let dump = work.path().join("dump");
    let expected = pymongo_counts(&py, &dump);
    let mut inputs = vec![
        dump.clone(),
        work.path().join("plain.archive"),
        work.path().join("gzip.archive.gz"),
    ];
    for (name, mode) in [("py.tar", "w"), ("py.tar.gz", "w:gz")] {
        let file = work.path().join(name);
        run_python(
            &py,
            PY_TAR,
            &[dump.to_str().unwrap(), file.to_str().unwrap(), mode],
        );
        inputs.push(file);
    }
    if gnu_tar(&["--zstd", "-cf", "gnu.tar.zst", "dump"], work.path()) {
        inputs.push(work.path().join("gnu.tar.zst"));
    } else {
        bsonflow_testkit::skip::<()>("GNU tar with zstd is not available");
    }
    for input in &inputs {
        let what = input.file_name().unwrap().to_string_lossy();
        let report = inspect(input, &[]);
        let counted = exact_counts(&report, &what);
        assert!(counted.len() >= 4, "{what}: {counted:?}");
        for (ns, got) in &counted {
            assert_eq!(Some(got), expected.get(ns), "{what}: {ns}");
        }
        // The skipped ones are in pymongo's list too (the view has no file, so is not).
        let total: u64 = counted.values().map(|c| c.0).sum();
        assert_eq!(report["totals"]["documents"], total, "{what}");
        // The export's size is an estimate, and says so.
        assert_eq!(report["estimates"]["basis"], "estimate", "{what}");
        assert!(
            report["estimates"]["gzip_bytes"].as_u64().unwrap() > 0,
            "{what}"
        );
    }
}

#[test]
fn the_skip_list_is_converts() {
    let Some(py) = python(&["bson"]) else { return };
    let work = tempfile::tempdir().unwrap();
    run_python(&py, ARCHIVE_WRITER, &[work.path().to_str().unwrap()]);
    let tar = work.path().join("dump.tar.gz");
    run_python(
        &py,
        PY_TAR,
        &[
            work.path().join("dump").to_str().unwrap(),
            tar.to_str().unwrap(),
            "w:gz",
        ],
    );
    let inputs = [
        work.path().join("dump"),
        work.path().join("gzip.archive.gz"),
        tar,
    ];
    let patterns = ["--exclude", "shop.cust*", "--exclude", "café.*"];
    for input in &inputs {
        let what = input.file_name().unwrap().to_string_lossy();
        let out = tempfile::tempdir().unwrap();
        let o = convert(input, &out.path().join("x"), &patterns);
        assert_status(&o, 0);
        let convert_skips = converts_skips(&o);
        let report = inspect(input, &patterns);
        assert_eq!(inspects_skips(&report), convert_skips, "{what}");
        // Something of each kind was skipped: a user pattern and a built-in rule.
        assert!(
            convert_skips.iter().any(|(_, r)| r.contains("shop.cust*")),
            "{what}: {convert_skips:?}"
        );
        assert!(
            convert_skips.iter().any(|(ns, _)| ns.starts_with("admin.")),
            "{what}: {convert_skips:?}"
        );
        // And the text output lists them with convert's words.
        let o = bsonflow(&[
            "inspect",
            input.to_str().unwrap(),
            "--exclude",
            "shop.cust*",
            "--exclude",
            "café.*",
        ]);
        for (ns, reason) in &convert_skips {
            assert!(
                stdout(&o).contains(&format!("  {ns}: {reason}\n")),
                "{what}: {ns}: {reason}\n{}",
                stdout(&o)
            );
        }
    }
}

#[test]
fn a_sample_of_a_compressed_input_is_labelled_and_exact_counts_for_real() {
    let Some(py) = python(&["bson"]) else { return };
    let work = tempfile::tempdir().unwrap();
    let dump = work.path().join("big");
    run_python(&py, PY_BIG_DUMP, &[dump.to_str().unwrap()]);
    let expected = pymongo_counts(&py, &dump);
    let tar = work.path().join("big.tar.gz");
    run_python(
        &py,
        PY_TAR,
        &[dump.to_str().unwrap(), tar.to_str().unwrap(), "w:gz"],
    );
    let raw_size = std::fs::metadata(&tar).unwrap().len();
    let report = inspect(&tar, &["--sample", "64K"]);
    assert_eq!(report["read_whole"], false, "{report}");
    assert_eq!(report["totals"]["exact"], false);
    assert_eq!(report["totals"]["basis"], "estimate");
    assert_eq!(report["raw_bytes"]["size"], raw_size);
    assert!(report["raw_bytes"]["read"].as_u64().unwrap() < raw_size);
    assert!(!report["unknowns"].as_array().unwrap().is_empty());
    let chain = report["format_chain"].as_str().unwrap();
    assert!(chain.starts_with("gzip → tar"), "{chain}");
    // What it saw whole is exact; the rest is a lower bound, and labelled so.
    for n in report["namespaces"].as_array().unwrap() {
        if n["skipped"].is_null() && n["basis"] == "exact" {
            let ns = n["ns"].as_str().unwrap();
            assert_eq!(n["documents"], expected[ns].0, "{n}");
            assert_eq!(n["bytes"], expected[ns].1, "{n}");
        } else if n["skipped"].is_null() {
            assert_eq!(n["basis"], "at_least", "{n}");
            let ns = n["ns"].as_str().unwrap();
            assert!(n["documents"].as_u64().unwrap() <= expected[ns].0, "{n}");
        }
    }
    // Totals are extrapolated: within a factor of two of the truth on such even data.
    let truth: u64 = expected
        .iter()
        .filter(|(ns, _)| !ns.starts_with("admin."))
        .map(|(_, c)| c.0)
        .sum();
    let estimated = report["totals"]["documents"].as_u64().unwrap();
    assert!(
        estimated > truth / 2 && estimated < truth * 2,
        "{estimated} vs {truth}"
    );
    // The text output says which numbers are estimates.
    let o = bsonflow(&["inspect", tar.to_str().unwrap(), "--sample", "64K"]);
    assert_status(&o, 0);
    assert!(stdout(&o).contains("(estimate)"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("not known from this look:"),
        "{}",
        stdout(&o)
    );

    // --exact reads everything: pymongo's counts.
    let report = inspect(&tar, &["--exact"]);
    let counted = exact_counts(&report, "--exact");
    for (ns, got) in &counted {
        assert_eq!(Some(got), expected.get(ns), "--exact: {ns}");
    }
    assert_eq!(counted.len(), 2);
}

#[test]
fn inspect_writes_nothing() {
    let Some(py) = python(&["bson"]) else { return };
    let work = tempfile::tempdir().unwrap();
    run_python(&py, ARCHIVE_WRITER, &[work.path().to_str().unwrap()]);
    let dump = work.path().join("dump");
    let tar = work.path().join("dump.tar.gz");
    run_python(
        &py,
        PY_TAR,
        &[dump.to_str().unwrap(), tar.to_str().unwrap(), "w:gz"],
    );
    let before = files_of(work.path());
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for input in [&dump, &tar, &work.path().join("gzip.archive.gz")] {
        for extra in [&[][..], &["--exact"][..], &["--json"][..]] {
            let o = Command::new(env!("CARGO_BIN_EXE_bsonflow"))
                .arg("inspect")
                .arg(input)
                .args(extra)
                .current_dir(cwd.path())
                .env("TMPDIR", tmp.path())
                .output()
                .unwrap();
            assert_status(&o, 0);
        }
    }
    assert!(files_of(work.path()) == before, "the input changed");
    assert!(
        files_of(cwd.path()).is_empty(),
        "files in the working folder"
    );
    assert!(
        std::fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "files in the temporary folder"
    );
}

/// Every path under `dir` with its size and modification time.
fn files_of(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            out.insert(
                e.path().display().to_string(),
                (m.len(), m.modified().unwrap()),
            );
            if m.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn a_data_directory_is_told_from_its_catalog_and_size_storer() {
    let Some(dbpath) = shared("testdata/real-dbpaths/mongo42-products/dbpath") else {
        return;
    };
    let cheap = inspect(&dbpath, &[]);
    let chain = cheap["format_chain"].as_str().unwrap();
    assert!(chain.starts_with("WiredTiger data directory"), "{chain}");
    let exact = inspect(&dbpath, &["--exact"]);
    assert_eq!(inspects_skips(&cheap), inspects_skips(&exact));
    assert!(!inspects_skips(&cheap).is_empty());
    let out = tempfile::tempdir().unwrap();
    let o = convert(&dbpath, &out.path().join("x"), &[]);
    assert_status(&o, 0);
    assert_eq!(inspects_skips(&cheap), converts_skips(&o));
    let by_ns = |r: &Value| -> BTreeMap<String, Value> {
        r["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["skipped"].is_null())
            .map(|n| (n["ns"].as_str().unwrap().to_string(), n.clone()))
            .collect()
    };
    let (cheap, exact) = (by_ns(&cheap), by_ns(&exact));
    assert!(!cheap.is_empty());
    assert_eq!(
        cheap.keys().collect::<Vec<_>>(),
        exact.keys().collect::<Vec<_>>()
    );
    for (ns, c) in &cheap {
        // The size storer's counts, labelled as recorded (not exact), agree with a full
        // read of this cleanly shut down copy.
        assert_eq!(c["basis"], "recorded", "{c}");
        assert_eq!(c["exact"], false, "{c}");
        assert_eq!(exact[ns]["basis"], "exact", "{ns}");
        assert_eq!(c["documents"], exact[ns]["documents"], "{ns}");
        assert_eq!(c["bytes"], exact[ns]["bytes"], "{ns}");
    }
}

#[test]
fn a_missing_collection_file_is_a_problem_cheap_or_exact() {
    let Some(dbpath) = shared("testdata/real-dbpaths/mongo50-pokedex/dbpath") else {
        return;
    };
    for extra in [&[][..], &["--exact"][..]] {
        let mut args = vec!["inspect", dbpath.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let o = bsonflow(&args);
        assert_status(&o, 1);
        assert_matches_schema(&o.stdout);
        let report: Value = serde_json::from_slice(&o.stdout).unwrap();
        let problems = report["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 1, "{extra:?}: {problems:?}");
        assert!(
            problems[0]
                .as_str()
                .unwrap()
                .contains("pokemonsdb.pokemons: the collection file"),
            "{problems:?}"
        );
        assert!(stderr(&o).contains("is missing"), "{}", stderr(&o));
    }
}

#[test]
fn help_shows_an_example() {
    let o = Command::new(env!("CARGO_BIN_EXE_bsonflow"))
        .args(["inspect", "--help"])
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(text.contains("Examples:"), "{text}");
    assert!(text.contains("bsonflow inspect ./dump"), "{text}");
}

#[test]
fn a_physical_backup_is_unpacked_only_under_exact() {
    let Some(py) = python(&["tarfile"]) else {
        return;
    };
    let Some(dbpath) = shared("testdata/real-dbpaths/mongo42-products/dbpath") else {
        return;
    };
    // The committed _qp.xb fixture (a fake data directory) for the cheap look; a real data
    // directory tarred by Python's tarfile for the exact one.
    let xb = testdata("physical/sample_qp.xb");
    let work = tempfile::tempdir().unwrap();
    let fixture = work.path().join("dbpath.tar.gz");
    run_python(
        &py,
        PY_TAR,
        &[dbpath.to_str().unwrap(), fixture.to_str().unwrap(), "w:gz"],
    );
    let tmp = tempfile::tempdir().unwrap();
    let run = |input: &Path, extra: &[&str]| -> Value {
        let o = Command::new(env!("CARGO_BIN_EXE_bsonflow"))
            .arg("inspect")
            .arg(input)
            .args(["--json", "--quiet"])
            .args(extra)
            .env("TMPDIR", tmp.path())
            .output()
            .unwrap();
        assert_status(&o, 0);
        assert_matches_schema(&o.stdout);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    for (input, chain) in [(&xb, "xbstream → qpress → "), (&fixture, "gzip → tar → ")] {
        let cheap = run(input, &[]);
        assert!(
            cheap["format_chain"].as_str().unwrap().starts_with(chain),
            "{cheap}"
        );
        assert!(cheap["namespaces"].as_array().unwrap().is_empty());
        let unknowns = cheap["unknowns"].as_array().unwrap();
        assert!(
            unknowns[0].as_str().unwrap().contains("--exact unpacks it"),
            "{unknowns:?}"
        );
        assert_eq!(cheap["totals"]["basis"], "unknown");
    }

    let exact = run(&fixture, &["--exact"]);
    let chain = exact["format_chain"].as_str().unwrap();
    assert!(
        chain.starts_with("gzip → tar → WiredTiger data directory"),
        "{chain}"
    );
    let counted = exact_counts(&exact, "--exact");
    assert!(!counted.is_empty());
    // The scratch folder it unpacked into is gone.
    assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
    // convert exports the same collections with the same counts.
    let out = tempfile::tempdir().unwrap();
    let o = convert(&fixture, &out.path().join("x"), &[]);
    assert_status(&o, 0);
    assert_eq!(inspects_skips(&exact), converts_skips(&o));
    for (ns, (docs, _)) in &counted {
        let line = stdout(&o)
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{ns} ")))
            .unwrap_or_else(|| panic!("{ns} not in convert's summary"))
            .to_string();
        assert!(line.contains(&format!(" {docs} docs")), "{ns}: {line}");
    }
}

/// `inspect` of inputs in object storage (a real S3 server, `s3s-fs`): a prefix and an
/// archive are counted as pymongo counts them; a large compressed object is sampled, and
/// only about the sample is fetched.
#[test]
fn inputs_in_object_storage_are_counted_and_sampled() {
    let Some(py) = python(&["bson"]) else { return };
    let Some(s) = bsonflow_testkit::s3::S3Server::start() else {
        return;
    };
    let bucket = s.bucket("backups");
    let work = tempfile::tempdir().unwrap();
    run_python(&py, ARCHIVE_WRITER, &[work.path().to_str().unwrap()]);
    let dump = work.path().join("dump");
    let expected = pymongo_counts(&py, &dump);
    copy_dir(&dump, &bucket.join("dump"));
    std::fs::copy(work.path().join("gzip.archive.gz"), bucket.join("x.ar.gz")).unwrap();
    let big = work.path().join("big");
    run_python(&py, PY_BIG_DUMP, &[big.to_str().unwrap()]);
    let tar = work.path().join("big.tar.gz");
    run_python(
        &py,
        PY_TAR,
        &[big.to_str().unwrap(), tar.to_str().unwrap(), "w:gz"],
    );
    std::fs::copy(&tar, bucket.join("big.tar.gz")).unwrap();
    let tar_size = std::fs::metadata(&tar).unwrap().len();

    let run = |url: &str, extra: &[&str]| -> Value {
        let o = bsonflow_without_credentials()
            .args(["inspect", url, "--json", "--quiet", "--endpoint"])
            .arg(s.endpoint())
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", &s.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &s.secret_key)
            .output()
            .unwrap();
        assert_status(&o, 0);
        assert!(!stderr(&o).contains(&s.secret_key));
        assert_matches_schema(&o.stdout);
        serde_json::from_slice(&o.stdout).unwrap()
    };
    for url in ["s3://backups/dump/", "s3://backups/x.ar.gz"] {
        let counted = exact_counts(&run(url, &[]), url);
        assert!(counted.len() >= 4, "{url}: {counted:?}");
        for (ns, got) in &counted {
            assert_eq!(Some(got), expected.get(ns), "{url}: {ns}");
        }
    }
    let report = run("s3://backups/big.tar.gz", &["--sample", "64K"]);
    assert_eq!(report["read_whole"], false);
    assert_eq!(report["totals"]["basis"], "estimate");
    assert_eq!(report["raw_bytes"]["size"], tar_size);
    assert!(report["raw_bytes"]["read"].as_u64().unwrap() < tar_size);
}

/// A sample that ends early in a gzip'd archive still knows, from the archive's prelude,
/// every namespace and which are views or time-series: its skips are convert's (but for
/// namespaces the prelude does not name and the sample did not reach).
#[test]
fn a_cut_archive_still_skips_what_its_prelude_says() {
    let Some(py) = python(&["bson"]) else { return };
    let work = tempfile::tempdir().unwrap();
    run_python(&py, ARCHIVE_WRITER, &[work.path().to_str().unwrap()]);
    let archive = work.path().join("gzip.archive.gz");
    let report = inspect(&archive, &["--sample", "2K"]);
    assert_eq!(report["read_whole"], false, "{report}");
    let out = tempfile::tempdir().unwrap();
    let o = convert(&archive, &out.path().join("x"), &[]);
    assert_status(&o, 0);
    let all = converts_skips(&o);
    let seen = inspects_skips(&report);
    for skip in &seen {
        assert!(
            all.contains(skip),
            "{skip:?} is not among convert's {all:?}"
        );
    }
    for reason in ["view (no documents", "time-series collection"] {
        assert!(
            seen.iter().any(|(_, r)| r.starts_with(reason)),
            "{reason}: {seen:?}"
        );
    }
    // Every namespace convert writes is listed, reached or not.
    let listed: Vec<&str> = report["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["ns"].as_str().unwrap())
        .collect();
    for line in stdout(&o).lines().skip_while(|l| *l != "exported:").skip(1) {
        let Some(ns) = line
            .strip_prefix("  ")
            .and_then(|l| l.split_whitespace().next())
        else {
            break;
        };
        assert!(listed.contains(&ns), "{ns} not in {listed:?}");
    }
}
