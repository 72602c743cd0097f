//! Sharded clusters: several inputs, one per shard, give one export — each collection folder
//! holds every shard's `<shard>.<n>.json.gz`, one `metadata.json` (the union of the shards'
//! indexes) and one `.complete` counting every file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use bsonflow_testkit::{int_ids as ids, read_shard_chunks};
use common::*;

/// Writes two mongodump folders of one cluster with pymongo's `bson`: `shop.orders` split at
/// random between the shards (an index `created_-1` on rsB only), `shop.users` on both,
/// `shop.only_a` on rsA only. Prints nothing; the folders are `<root>/rsA`, `<root>/rsB`.
const TWO_SHARD_DUMPS: &str = r#"
import os, random, sys, datetime
import bson
from bson import json_util, ObjectId, Int64, Decimal128, Binary
root, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
def doc(i):
    return {"_id": ObjectId(bytes(rng.getrandbits(8) for _ in range(12))),
            "n": i, "big": Int64(rng.getrandbits(60)), "price": Decimal128(str(rng.randint(1, 10**6) / 100)),
            "when": datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=rng.randint(0, 10**8)),
            "tags": [rng.choice("abcdef") * rng.randint(1, 5) for _ in range(rng.randint(0, 4))],
            "blob": Binary(os.urandom(rng.randint(0, 40))), "x": rng.random(), "s": "é✓" * rng.randint(0, 30)}
idx = lambda key, name: {"v": 2, "key": key, "name": name}
base = [idx({"_id": 1}, "_id_"), idx({"status": 1}, "status_1")]
shards = {"rsA": {}, "rsB": {}}
orders = [doc(i) for i in range(3000)]
for d in orders:
    shards[rng.choice(["rsA", "rsB"])].setdefault("orders", []).append(d)
users = [doc(i) for i in range(200)]
shards["rsA"]["users"] = users[:120]
shards["rsB"]["users"] = users[120:]
shards["rsA"]["only_a"] = [doc(i) for i in range(50)]
meta = {"orders": {"rsA": base, "rsB": base + [idx({"created": -1}, "created_-1")]},
        "users": {"rsA": base, "rsB": base}, "only_a": {"rsA": base}}
for shard, colls in shards.items():
    os.makedirs(os.path.join(root, shard, "shop"))
    for coll, docs in colls.items():
        with open(os.path.join(root, shard, "shop", coll + ".bson"), "wb") as f:
            for d in docs:
                f.write(bson.encode(d))
        m = {"options": {}, "indexes": meta[coll][shard], "uuid": "0123456789abcdef0123456789abcd%02x" % len(coll),
             "collectionName": coll, "type": "collection"}
        with open(os.path.join(root, shard, "shop", coll + ".metadata.json"), "w") as f:
            f.write(json_util.dumps(m, json_options=json_util.CANONICAL_JSON_OPTIONS))
"#;

/// The two dump folders, or `None` (skipped) without pymongo.
fn two_shard_dumps(root: &Path) -> Option<(PathBuf, PathBuf)> {
    let py = python(&["bson"])?;
    run_python(&py, TWO_SHARD_DUMPS, &[root.to_str().unwrap(), "16"]);
    Some((root.join("rsA"), root.join("rsB")))
}

/// `bsonflow convert --shard NAME=INPUT… --out OUT EXTRA…`.
fn convert_shards(shards: &[(&str, &Path)], out: &Path, extra: &[&str]) -> Output {
    let named: Vec<String> = shards
        .iter()
        .map(|(name, input)| format!("{name}={}", input.display()))
        .collect();
    let mut args = vec!["convert"];
    for shard in &named {
        args.extend(["--shard", shard.as_str()]);
    }
    args.extend(["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    bsonflow(&args)
}

fn complete_total_files(out: &Path) -> u64 {
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(".complete")).unwrap()).unwrap();
    marker["totalFiles"].as_u64().unwrap()
}

/// Every `*.json.gz` under `dir`, relative.
fn data_files(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_keys()
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .collect()
}

fn index_names(meta_file: &Path) -> Vec<String> {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(meta_file).unwrap()).unwrap();
    meta["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn two_named_mongodump_folders_give_one_export_with_each_shards_documents_in_its_own_files() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((a, b)) = two_shard_dumps(tmp.path()) else {
        return;
    };
    let out = tmp.path().join("export");
    let o = convert_shards(&[("rsA", &a), ("rsB", &b)], &out, &["--chunk-bytes", "64K"]);
    assert_status(&o, 0);

    for coll in ["orders", "users", "only_a"] {
        let dir = out.join("shop").join(coll);
        for shard in ["rsA", "rsB"] {
            let input = tmp
                .path()
                .join(shard)
                .join("shop")
                .join(format!("{coll}.bson"));
            let got = read_shard_chunks(&dir, shard);
            if !input.exists() {
                assert!(got.is_empty(), "{coll}: files of {shard}, which lacks it");
                continue;
            }
            let want = pymongo_lines(&input, "canonical").unwrap();
            assert!(!want.is_empty());
            assert_same_lines(&got, &want, &format!("shop.{coll} on {shard}"));
        }
    }
    // Chunks are numbered per shard from 0: orders is large enough for several of each.
    let names: Vec<String> = data_files(&out)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    for first in [
        "shop/orders/rsA.0.json.gz",
        "shop/orders/rsA.1.json.gz",
        "shop/orders/rsB.0.json.gz",
        "shop/orders/rsB.1.json.gz",
    ] {
        assert!(names.iter().any(|n| n == first), "{first} in {names:?}");
    }
    assert!(!out.join("shop/only_a/rsB.0.json.gz").exists());
    assert_eq!(complete_total_files(&out), names.len() as u64);

    // One metadata.json per collection: the union of the shards' indexes, the difference said.
    assert_eq!(
        index_names(&out.join("shop/orders/metadata.json")),
        ["_id_", "status_1", "created_-1"]
    );
    assert_eq!(
        index_names(&out.join("shop/users/metadata.json")),
        ["_id_", "status_1"]
    );
    let text = stdout(&o);
    assert!(
        text.contains("shop.orders: index `created_-1` exists on shard(s) rsB only"),
        "{text}"
    );
    assert!(
        text.contains("shard rsA:") && text.contains("shard rsB:"),
        "{text}"
    );

    // The same run with the inputs in the other order writes the same bytes.
    let again = tmp.path().join("again");
    let o = convert_shards(
        &[("rsB", &b), ("rsA", &a)],
        &again,
        &["--chunk-bytes", "64K"],
    );
    assert_status(&o, 0);
    assert!(
        tree(&out) == tree(&again),
        "the order of the inputs changed the export"
    );
}

#[test]
fn unnamed_logical_inputs_and_duplicate_names_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((a, b)) = two_shard_dumps(tmp.path()) else {
        return;
    };
    let out = tmp.path().join("export");
    let (a_s, b_s) = (a.to_str().unwrap(), b.to_str().unwrap());
    let o_s = out.to_str().unwrap();

    let o = bsonflow(&["convert", a_s, b_s, "--out", o_s]);
    assert_status(&o, 1);
    let err = stderr(&o);
    assert!(err.contains(a_s) && err.contains("--shard NAME="), "{err}");
    assert!(!out.exists(), "nothing may be written");

    let o = bsonflow(&[
        "convert",
        a_s,
        "--shard",
        &format!("rsB={b_s}"),
        "--out",
        o_s,
    ]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains(a_s), "{}", stderr(&o));
    assert!(!out.exists());

    let o = bsonflow(&[
        "convert",
        "--shard",
        &format!("rs0={a_s}"),
        "--shard",
        &format!("rs0={b_s}"),
        "--out",
        o_s,
    ]);
    assert_status(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("\"rs0\" is given twice") && err.contains(a_s) && err.contains(b_s),
        "{err}"
    );
    assert!(!out.exists());

    let o = bsonflow(&[
        "convert",
        "--shard",
        &format!("rsA={a_s}"),
        "--shard",
        &format!("rsB={b_s}"),
        "--shard-name",
        "x",
        "--out",
        o_s,
    ]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("--shard-name"), "{}", stderr(&o));

    let o = bsonflow(&["convert", "--shard", "no-equals-sign", "--out", o_s]);
    assert_status(&o, 1);
    assert!(stderr(&o).contains("NAME=INPUT"), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn a_failing_shard_leaves_no_complete_and_says_which_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((a, b)) = two_shard_dumps(tmp.path()) else {
        return;
    };
    // Cut rsB's orders in the middle of a document.
    let orders = b.join("shop/orders.bson");
    let len = std::fs::metadata(&orders).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&orders)
        .unwrap();
    f.set_len(len - 7).unwrap();
    let out = tmp.path().join("export");
    let o = convert_shards(&[("rsA", &a), ("rsB", &b)], &out, &[]);
    assert_status(&o, 1);
    assert!(!out.join(".complete").exists());
    let err = stderr(&o);
    assert!(
        err.contains("shard rsB") && err.contains("orders.bson"),
        "{err}"
    );
}

/// Real data directories: `zlib-churn` (written by the real WiredTiger library as a member
/// of replica set `rs0`) names itself; two real mongod dbpaths are named on the command
/// line, one of them twice as two shards holding the same collections. Each shard's files
/// hold what the real library reads from its dbpath.
#[test]
fn data_directories_of_several_shards_give_one_export_equal_to_what_the_library_reads() {
    let (Some(churn), Some(products), Some(pokedex)) = (
        shared("testdata/generated-dbpaths/zlib-churn"),
        shared("testdata/real-dbpaths/mongo42-products"),
        shared("testdata/real-dbpaths/mongo80-ip2country"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("export");
    let o = bsonflow(&[
        "convert",
        churn.join("dbpath").to_str().unwrap(),
        "--shard",
        &format!("shard1ReplSet={}", products.join("dbpath").display()),
        "--shard",
        &format!("shard2ReplSet={}", products.join("dbpath").display()),
        "--shard",
        &format!("shard3ReplSet={}", pokedex.join("dbpath").display()),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_status(&o, 0);
    let mut compared = 0;
    for (shard, fixture) in [
        ("rs0", &churn),
        ("shard1ReplSet", &products),
        ("shard2ReplSet", &products),
        ("shard3ReplSet", &pokedex),
    ] {
        let expected = fixture.join("expected");
        for c in catalog(&expected)["collections"].as_array().unwrap() {
            let (db, coll) = (c["db"].as_str().unwrap(), c["collection"].as_str().unwrap());
            if !exported(c) || c.get("error").is_some() {
                continue;
            }
            let want: Vec<String> =
                std::fs::read_to_string(expected.join(c["file"].as_str().unwrap()))
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect();
            let dir = out.join(db).join(coll);
            let got = read_shard_chunks(&dir, shard);
            assert_same_lines(&got, &want, &format!("{db}.{coll} on {shard}"));
            assert!(dir.join("metadata.json").exists());
            compared += 1;
        }
    }
    assert!(compared >= 6, "{compared} collections compared");
    // Every data file is counted once by the one .complete; the same collections on two
    // shards share one folder.
    assert_eq!(complete_total_files(&out), data_files(&out).len() as u64);
    let shared_folder = data_files(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("shard2ReplSet."))
        .collect::<Vec<_>>();
    for p in &shared_folder {
        let twin = p.with_file_name(
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .replace("shard2ReplSet", "shard1ReplSet"),
        );
        assert!(out.join(&twin).exists(), "{} has no twin", p.display());
    }
    assert!(!shared_folder.is_empty());
}

#[test]
fn two_data_directories_naming_the_same_replica_set_are_refused() {
    let Some(churn) = shared("testdata/generated-dbpaths/zlib-churn") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy");
    copy_dir(&churn.join("dbpath"), &copy);
    let out = tmp.path().join("export");
    let o = bsonflow(&[
        "convert",
        churn.join("dbpath").to_str().unwrap(),
        copy.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_status(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("\"rs0\" is given twice") && err.contains("copy"),
        "{err}"
    );
    assert!(!out.join(".complete").exists());
}

/// `verify` of a sharded export: whole on its own and against every shard's input; a
/// document dropped from one shard's file is named with that file.
#[test]
fn verify_checks_each_shards_files_against_its_input() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((a, b)) = two_shard_dumps(tmp.path()) else {
        return;
    };
    let out = tmp.path().join("export");
    let shard_a = format!("rsA={}", a.display());
    let shard_b = format!("rsB={}", b.display());
    let o = convert_shards(&[("rsA", &a), ("rsB", &b)], &out, &["--chunk-bytes", "64K"]);
    assert_status(&o, 0);
    let verify = |extra: &[&str]| {
        let mut args = vec!["verify", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        bsonflow(&args)
    };
    assert_status(&verify(&[]), 0);
    assert_status(&verify(&["--shard", &shard_a, "--shard", &shard_b]), 0);
    // One shard's input against the whole export: the other shard's files are not its.
    let o = verify(&["--input", a.to_str().unwrap()]);
    assert_status(&o, 1);

    // Drop the third line of rsB's first orders chunk.
    use std::io::{Read, Write};
    let victim = out.join("shop/orders/rsB.0.json.gz");
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&victim).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| l)
        .collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all((kept.join("\n") + "\n").as_bytes()).unwrap();
    std::fs::write(&victim, gz.finish().unwrap()).unwrap();
    let o = verify(&["--shard", &shard_a, "--shard", &shard_b]);
    assert_status(&o, 1);
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(text.contains("rsB.0.json.gz"), "{text}");
    assert!(!text.contains("rsA.0.json.gz"), "{text}");
}

/// A config server's backup (a mongodump folder of `config`, written by pymongo as a
/// `mongos` would lay out its chunk table) and two shards holding orphans:
/// `shop.events` ranged on `{k: 1}`, `[MinKey, 100)` on shard01 (rsA) and `[100, MaxKey)`
/// on shard02 (rsB), chunks named by collection UUID as MongoDB 5.0+ does; rsA holds k
/// 0..150 and rsB k 80..200. `shop.users` hashed on `{uid: "hashed"}`, split at
/// NumberLong(0), chunks named by `ns` as before 5.0; both shards hold all 60 users.
/// `shop.plain` is unsharded, on rsA only.
const ORPHANS: &str = r#"
import os, sys, uuid
import bson
from bson import Int64, MinKey, MaxKey
from bson.binary import Binary, UuidRepresentation
root = sys.argv[1]
def write(path, docs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for d in docs:
            f.write(bson.encode(d))
ev_uuid = Binary.from_uuid(uuid.UUID(int=7), UuidRepresentation.STANDARD)
write(os.path.join(root, "cfg/config/collections.bson"), [
    {"_id": "shop.events", "key": {"k": 1}, "uuid": ev_uuid, "unique": False},
    {"_id": "shop.users", "key": {"uid": "hashed"}, "dropped": False},
    {"_id": "shop.gone", "key": {"k": 1}, "dropped": True},
])
write(os.path.join(root, "cfg/config/chunks.bson"), [
    {"_id": "c2", "uuid": ev_uuid, "min": {"k": 100}, "max": {"k": MaxKey()}, "shard": "shard02"},
    {"_id": "c1", "uuid": ev_uuid, "min": {"k": MinKey()}, "max": {"k": 100}, "shard": "shard01"},
    {"_id": "u1", "ns": "shop.users", "min": {"uid": MinKey()}, "max": {"uid": Int64(0)}, "shard": "shard01"},
    {"_id": "u2", "ns": "shop.users", "min": {"uid": Int64(0)}, "max": {"uid": MaxKey()}, "shard": "shard02"},
])
write(os.path.join(root, "cfg/config/shards.bson"), [
    {"_id": "shard01", "host": "rsA/a1:27018,a2:27018"},
    {"_id": "shard02", "host": "rsB/b1:27018"},
])
users = [{"_id": i, "uid": i} for i in range(60)]
write(os.path.join(root, "rsA/shop/events.bson"), [{"_id": k, "k": k} for k in range(0, 150)])
write(os.path.join(root, "rsB/shop/events.bson"), [{"_id": k, "k": k} for k in range(80, 200)])
write(os.path.join(root, "rsA/shop/users.bson"), users)
write(os.path.join(root, "rsB/shop/users.bson"), users)
write(os.path.join(root, "rsA/shop/plain.bson"), [{"_id": i} for i in range(5)])
"#;

#[test]
fn the_config_servers_chunk_table_drops_orphans_ranged_and_hashed() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(py) = python(&["bson"]) else { return };
    run_python(&py, ORPHANS, &[tmp.path().to_str().unwrap()]);
    let out = tmp.path().join("export");
    let report = tmp.path().join("report.json");
    let (rs_a, rs_b) = (tmp.path().join("rsA"), tmp.path().join("rsB"));
    let o = convert_shards(
        &[("rsA", &rs_a), ("rsB", &rs_b)],
        &out,
        &[
            "--config-server",
            tmp.path().join("cfg").to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_status(&o, 0);
    let events = |shard| ids(&read_shard_chunks(&out.join("shop/events"), shard));
    assert_eq!(events("rsA"), (0..100).collect::<Vec<_>>());
    assert_eq!(events("rsB"), (100..200).collect::<Vec<_>>());
    let users_a = ids(&read_shard_chunks(&out.join("shop/users"), "rsA"));
    let users_b = ids(&read_shard_chunks(&out.join("shop/users"), "rsB"));
    let mut all: Vec<i64> = users_a.iter().chain(&users_b).copied().collect();
    all.sort();
    assert_eq!(all, (0..60).collect::<Vec<_>>(), "every user exactly once");
    assert!(!users_a.is_empty() && !users_b.is_empty());
    // MongoDB's own vectors: hash(42) < 0 (shard01 = rsA), hash(0) > 0 (shard02 = rsB).
    assert!(users_a.contains(&42) && users_b.contains(&0));
    assert_eq!(
        ids(&read_shard_chunks(&out.join("shop/plain"), "rsA")).len(),
        5
    );

    let text = stdout(&o);
    assert!(text.contains("shop.events [rsA]: 50 document(s)"), "{text}");
    assert!(text.contains("shop.events [rsB]: 20 document(s)"), "{text}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["totals"]["orphans_dropped"], 50 + 20 + 60);
    let ev_b = r["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["ns"] == "shop.events" && c["shard"] == "rsB")
        .unwrap();
    assert_eq!(ev_b["orphans_dropped"], 20);
    assert_eq!(ev_b["orphan_ids"][0], "80");

    // Not a config server's backup: refused before anything is written.
    let none = tmp.path().join("refused");
    let o = convert_shards(
        &[("rsA", &rs_a)],
        &none,
        &["--config-server", rs_b.to_str().unwrap()],
    );
    assert_status(&o, 1);
    assert!(stderr(&o).contains("config.collections"), "{}", stderr(&o));
    assert!(!none.exists());
}
