//! The scale-out contract end to end: `plan` → `run-task` (any order, any number of times,
//! killed and rerun) → `commit` gives exactly what one `convert` gives; `commit` refuses
//! what does not check out, naming the task.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bsonflow"))
        .args(args)
        .output()
        .expect("bsonflow runs")
}

/// pymongo-made documents with embedded documents, arrays and binaries whose bytes look
/// like BSON lengths and type bytes: a boundary found by guessing would land inside them.
const MAKE_TRICKY: &str = r#"
import sys, bson, random, struct
path, count = sys.argv[1], int(sys.argv[2])
rnd = random.Random(1234)
with open(path, "wb") as f:
    for i in range(count):
        inner = bson.encode({"x": i, "nested": {"deep": [1, 2, {"k": "v" * rnd.randint(0, 40)}]}})
        blob = inner * rnd.randint(1, 4) + struct.pack("<i", rnd.randint(5, 400)) + bytes(rnd.randint(0, 255) for _ in range(rnd.randint(0, 300)))
        doc = {"_id": i, "embedded": bson.decode(inner), "bin": bson.Binary(blob),
               "arr": [bson.Binary(inner), {"a": rnd.random()}, "s" * rnd.randint(0, 80)],
               "n": rnd.randint(-2**40, 2**40)}
        f.write(bson.encode(doc))
"#;

struct Fixture {
    _dir: tempfile::TempDir,
    dump: PathBuf,
    work: PathBuf,
}

/// A mongodump folder: the bundled sample plus `shop.tricky` of about 3 MiB.
fn fixture() -> Option<Fixture> {
    let py = python(&["bson"])?;
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump");
    let sample = bsonflow_testkit::workspace_root().join("testdata/sample-dump");
    copy_dir(&sample, &dump);
    run_python(
        &py,
        MAKE_TRICKY,
        &[dump.join("shop/tricky.bson").to_str().unwrap(), "4000"],
    );
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    Some(Fixture {
        _dir: dir,
        dump,
        work,
    })
}

const CHUNK: &str = "96K";
const TARGET: &str = "256K";

/// `plan` of the fixture into `out` with tasks of `target` bytes; the plan's file and JSON.
fn make_plan(fx: &Fixture, out: &Path, target: &str) -> (PathBuf, serde_json::Value) {
    let o = run(&[
        "plan",
        fx.dump.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--chunk-bytes",
        CHUNK,
        "--target-bytes",
        target,
    ]);
    assert_status(&o, 0);
    let plan = fx.work.join(format!(
        "plan-{}.json",
        out.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&plan, &o.stdout).unwrap();
    (plan, serde_json::from_slice(&o.stdout).unwrap())
}

fn task(plan: &Path, k: u64) -> Output {
    run(&[
        "run-task",
        plan.to_str().unwrap(),
        "--task",
        &k.to_string(),
        "-q",
    ])
}

fn reference(fx: &Fixture) -> PathBuf {
    let out = fx.work.join("reference");
    let o = run(&[
        "convert",
        fx.dump.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--chunk-bytes",
        CHUNK,
        "-q",
    ]);
    assert_status(&o, 0);
    out
}

/// Same names (`.complete` aside), `metadata.json` byte for byte, chunks decompressed byte
/// for byte, `.complete` with the same `totalFiles`; nothing else (no `.bsonflow/`, no
/// temporary file).
fn assert_same_export(got: &Path, want: &Path) {
    let g = tree(got);
    let w = tree(want);
    assert_eq!(g.keys().collect::<Vec<_>>(), w.keys().collect::<Vec<_>>());
    for (p, bytes) in &w {
        if p.to_string_lossy().ends_with(".json.gz") {
            assert!(gunzip(&g[p]) == gunzip(bytes), "{} differs", p.display());
        } else {
            assert!(g[p] == *bytes, "{} differs", p.display());
        }
    }
    let complete = |d: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join(".complete")).unwrap()).unwrap()
    };
    assert_eq!(complete(got)["totalFiles"], complete(want)["totalFiles"]);
    assert!(!got.join(".bsonflow").exists(), ".bsonflow/ is left");
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn ids(plan: &serde_json::Value) -> Vec<u64> {
    plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn tasks_in_any_order_one_twice_then_commit_equal_one_convert() {
    let Some(fx) = fixture() else { return };
    let want = reference(&fx);
    let out = fx.work.join("out");
    let (plan_path, plan) = make_plan(&fx, &out, TARGET);
    // The same input and options give the same plan.
    let (_, again) = make_plan(&fx, &out, TARGET);
    assert_eq!(plan, again);
    let tasks = plan["tasks"].as_array().unwrap();
    assert_eq!(ids(&plan), (0..tasks.len() as u64).collect::<Vec<_>>());
    let tricky: Vec<_> = tasks.iter().filter(|t| t["ns"] == "shop.tricky").collect();
    assert!(tricky.len() >= 8, "{} ranges of shop.tricky", tricky.len());
    // Its boundaries fall mid-file, not only at file ends.
    assert!(tricky
        .iter()
        .any(|t| t["segments"][0]["start"].as_u64() != Some(0)));
    assert!(!String::from_utf8_lossy(&std::fs::read(&plan_path).unwrap()).contains("SECRET"));

    // Shuffled, one held back.
    let mut order = ids(&plan);
    order.reverse();
    order.swap(1, 3);
    let held = tricky[2]["id"].as_u64().unwrap();
    order.retain(|k| *k != held);
    order.push(order[0]); // one task twice
    for k in &order {
        assert_status(&task(&plan_path, *k), 0);
    }
    // A task never writes another task's files: the held-back task's chunks are absent.
    let first = tricky[2]["first_chunk"].as_u64().unwrap();
    let absent = out.join(format!("shop/tricky/bsonflow-shard-0.{first}.json.gz"));
    assert!(!absent.exists(), "{}", absent.display());
    // Commit before the last task: refused, naming it; nothing written.
    let o = run(&["commit", plan_path.to_str().unwrap()]);
    assert_status(&o, 1);
    assert!(
        stderr(&o).contains(&format!("task {held} (")),
        "{}",
        stderr(&o)
    );
    assert!(!out.join(".complete").exists());
    assert!(!out.join("shop/tricky/metadata.json").exists());

    assert_status(&task(&plan_path, held), 0);
    let o = run(&["commit", plan_path.to_str().unwrap()]);
    assert_status(&o, 0);
    assert_same_export(&out, &want);
    // A second commit succeeds and changes nothing.
    let before = tree(&out);
    let complete = std::fs::read(out.join(".complete")).unwrap();
    assert_status(&run(&["commit", plan_path.to_str().unwrap()]), 0);
    assert_eq!(tree(&out), before);
    assert_eq!(std::fs::read(out.join(".complete")).unwrap(), complete);
}

#[test]
fn commit_refuses_an_overlapping_range_and_a_wrong_chunk_count() {
    let Some(fx) = fixture() else { return };
    let out = fx.work.join("out2");
    let (plan_path, plan) = make_plan(&fx, &out, TARGET);
    for k in ids(&plan) {
        assert_status(&task(&plan_path, k), 0);
    }
    let tricky: Vec<u64> = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["ns"] == "shop.tricky")
        .map(|t| t["id"].as_u64().unwrap())
        .collect();
    let manifest = |k: u64| out.join(format!(".bsonflow/tasks/{k}.json"));
    let edit = |k: u64, f: &dyn Fn(&mut serde_json::Value)| {
        let original = std::fs::read(manifest(k)).unwrap();
        let mut m: serde_json::Value = serde_json::from_slice(&original).unwrap();
        f(&mut m);
        std::fs::write(manifest(k), serde_json::to_vec(&m).unwrap()).unwrap();
        original
    };
    let refused = |what: &str, k: u64| {
        let before = tree(&out);
        let o = run(&["commit", plan_path.to_str().unwrap()]);
        assert_status(&o, 1);
        assert!(
            stderr(&o).contains(&format!("task {k}")),
            "{what}: {}",
            stderr(&o)
        );
        assert!(!out.join(".complete").exists(), "{what}");
        assert_eq!(tree(&out), before, "{what}: something changed");
    };
    // An overlapping range: task 2 of the collection says it started 100 bytes earlier.
    let k = tricky[2];
    let original = edit(k, &|m| {
        let s = &mut m["segments"][0]["start"];
        *s = (s.as_u64().unwrap() - 100).into();
    });
    refused("overlap", k);
    std::fs::write(manifest(k), original).unwrap();
    // A manifest with a wrong chunk count.
    let k = tricky[1];
    let original = edit(k, &|m| {
        m["collections"][0]["files"].as_array_mut().unwrap().pop();
    });
    refused("chunk count", k);
    std::fs::write(manifest(k), original).unwrap();
    // A missing task.
    let k = tricky[3];
    let original = std::fs::read(manifest(k)).unwrap();
    std::fs::remove_file(manifest(k)).unwrap();
    refused("missing", k);
    std::fs::write(manifest(k), original).unwrap();
    // Untouched, it commits.
    assert_status(&run(&["commit", plan_path.to_str().unwrap()]), 0);
}

#[test]
fn a_task_killed_mid_chunk_and_rerun_gives_the_same_export() {
    let Some(fx) = fixture() else { return };
    // A collection large enough that killing its task lands mid-write.
    let py = python(&["bson"]).unwrap();
    run_python(
        &py,
        MAKE_TRICKY,
        &[fx.dump.join("shop/tricky.bson").to_str().unwrap(), "40000"],
    );
    let want = reference(&fx);
    let out = fx.work.join("out3");
    let (plan_path, plan) = make_plan(&fx, &out, "64M");
    let big = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["ns"] == "shop.tricky")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bsonflow"))
        .args([
            "run-task",
            plan_path.to_str().unwrap(),
            "--task",
            &big.to_string(),
            "-q",
            "-j",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let dir = out.join("shop/tricky");
    let started = Instant::now();
    let mut killed_mid_write = false;
    while started.elapsed() < Duration::from_secs(60) {
        let files: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        if files.iter().any(|f| f.ends_with(".json.gz")) {
            killed_mid_write = child.try_wait().unwrap().is_none();
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        killed_mid_write,
        "the task finished before it could be killed"
    );
    assert!(!out.join(format!(".bsonflow/tasks/{big}.json")).exists());
    for k in ids(&plan) {
        assert_status(&task(&plan_path, k), 0);
    }
    assert_status(&run(&["commit", plan_path.to_str().unwrap()]), 0);
    assert_same_export(&out, &want);
}

#[test]
fn plan_tasks_and_commit_from_s3_to_s3() {
    let Some(fx) = fixture() else { return };
    let Some(s) = bsonflow_testkit::s3::S3Server::start() else {
        return;
    };
    copy_dir(&fx.dump, &s.bucket("backups").join("dump"));
    let lake = s.bucket("lake");
    let want = reference(&fx);
    let endpoint = s.endpoint();
    let with_keys = |args: &[&str]| -> Output {
        bsonflow_without_credentials()
            .args(args)
            .env("AWS_ACCESS_KEY_ID", &s.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &s.secret_key)
            .output()
            .unwrap()
    };
    let o = with_keys(&[
        "plan",
        "s3://backups/dump/",
        "--out",
        "s3://lake/x/",
        "--chunk-bytes",
        CHUNK,
        "--target-bytes",
        TARGET,
        "--endpoint",
        &endpoint,
    ]);
    assert_status(&o, 0);
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        !text.contains(&s.secret_key) && !text.contains(&s.access_key),
        "credentials in the plan"
    );
    let plan_path = fx.work.join("s3plan.json");
    std::fs::write(&plan_path, &o.stdout).unwrap();
    let plan: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut order = ids(&plan);
    order.reverse();
    for k in order {
        let o = with_keys(&[
            "run-task",
            plan_path.to_str().unwrap(),
            "--task",
            &k.to_string(),
            "-q",
        ]);
        assert_status(&o, 0);
    }
    assert_status(&with_keys(&["commit", plan_path.to_str().unwrap()]), 0);
    // s3s-fs keeps empty folders on its disk; objects are what count: none may be left.
    let left = lake.join("x/.bsonflow");
    if left.exists() {
        assert!(
            bsonflow_testkit::s3::objects_under(&left).is_empty(),
            "manifests left"
        );
        std::fs::remove_dir_all(&left).unwrap();
    }
    assert_same_export(&lake.join("x"), &want);
    assert!(s.open_uploads().is_empty());
}

/// The shards of one cluster: `plan` over two named mongodump folders gives tasks over both;
/// run in reverse order and committed, they give exactly what one `convert` of both gives.
#[test]
fn a_plan_over_two_shards_commits_the_convert_of_both() {
    let Some(fx) = fixture() else { return };
    let py = python(&["bson"]).unwrap();
    let other = fx.work.join("dump-rsB");
    copy_dir(&fx.dump, &other);
    run_python(
        &py,
        MAKE_TRICKY,
        &[other.join("shop/tricky.bson").to_str().unwrap(), "2500"],
    );
    let a = format!("rsA={}", fx.dump.display());
    let b = format!("rsB={}", other.display());
    let want = fx.work.join("both-convert");
    let o = run(&[
        "convert",
        "--shard",
        &a,
        "--shard",
        &b,
        "--out",
        want.to_str().unwrap(),
        "--chunk-bytes",
        CHUNK,
        "--quiet",
    ]);
    assert_status(&o, 0);

    let out = fx.work.join("both-tasks");
    let o = run(&[
        "plan",
        "--shard",
        &a,
        "--shard",
        &b,
        "--out",
        out.to_str().unwrap(),
        "--chunk-bytes",
        CHUNK,
        "--target-bytes",
        TARGET,
    ]);
    assert_status(&o, 0);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let plan_path = fx.work.join("both-plan.json");
    std::fs::write(&plan_path, &o.stdout).unwrap();
    let inputs: Vec<_> = plan["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["input"].as_u64().unwrap())
        .collect();
    assert!(inputs.contains(&0) && inputs.contains(&1), "{inputs:?}");
    assert_eq!(plan["inputs"][1]["shard"], "rsB");
    for k in ids(&plan).into_iter().rev() {
        assert_status(&task(&plan_path, k), 0);
    }
    let o = run(&["commit", plan_path.to_str().unwrap()]);
    assert_status(&o, 0);
    assert_same_export(&out, &want);
    assert!(std::fs::read_dir(out.join("shop/tricky"))
        .unwrap()
        .any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("rsB.1.")));

    // An unnamed logical input among several is refused, naming it.
    let o = run(&[
        "plan",
        fx.dump.to_str().unwrap(),
        "--shard",
        &b,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("--shard NAME="), "{}", stderr(&o));
}
