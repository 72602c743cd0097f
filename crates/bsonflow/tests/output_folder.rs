//! The output folder when things go wrong (README, "When things go wrong"): a run killed at
//! any moment is finished by a rerun into the same folder, byte for byte as an uninterrupted
//! run; a second run into a folder that another run is writing is refused at once; a full
//! disk or a read-only folder fails the run naming the path and the system's reason; files
//! that are not part of an export are never removed.
//!
//! The large input is written by pymongo's `bson` (an encoder bsonflow shares no code with)
//! and kept under `CARGO_TARGET_TMPDIR` between runs. The disk-full and read-only tests mount
//! a tmpfs / a read-only bind mount and need root (CI runs as root).

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bsonflow_testkit::{required, skip};
use common::*;

/// Chunk size for every run here: many data files per collection.
const CHUNK: [&str; 2] = ["--chunk-bytes", "1M"];

/// Writes a mongodump folder `OUT/shop/{orders,customers}.bson` + `.metadata.json`: about
/// 50 MB of BSON that takes a debug build one to two seconds to convert.
const MAKE_DUMP: &str = r#"
import datetime, json, os, random, sys
import bson
from bson import Decimal128, Int64, ObjectId
out = sys.argv[1]
rng = random.Random(20240611)
words = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango").split()
base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
shop = os.path.join(out, "shop")
os.makedirs(shop)

def oid(i):
    return ObjectId((0x65f0000000000000000000 + i).to_bytes(12, "big"))

def metadata(name, uuid, indexes):
    return json.dumps({"options": {}, "indexes": [
        {"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"}] + indexes,
        "uuid": uuid, "collectionName": name, "type": "collection"})

with open(os.path.join(shop, "orders.bson"), "wb") as f:
    for i in range(90000):
        f.write(bson.encode({
            "_id": oid(i),
            "n": i,
            "customer": {"name": " ".join(rng.choice(words) for _ in range(3)),
                         "email": "user%d@example.com" % rng.randrange(10**6),
                         "since": base + datetime.timedelta(milliseconds=rng.randrange(10**11))},
            "total": Decimal128("%d.%02d" % (rng.randrange(10**7), rng.randrange(100))),
            "weight": rng.random() * 1000,
            "count": Int64(rng.randrange(2**40)),
            "tags": [rng.choice(words) for _ in range(rng.randrange(1, 6))],
            "items": [{"sku": "SKU-%05d" % rng.randrange(10**5), "qty": rng.randrange(1, 9),
                       "price": rng.random() * 100} for _ in range(rng.randrange(1, 5))],
            "note": " ".join(rng.choice(words) for _ in range(rng.randrange(5, 30))),
            "paid": rng.random() < 0.5,
        }))
with open(os.path.join(shop, "orders.metadata.json"), "w") as f:
    f.write(metadata("orders", "0f1e2d3c4b5a69788796a5b4c3d2e1f0", [
        {"v": {"$numberInt": "2"}, "key": {"customer.email": {"$numberInt": "1"}},
         "name": "customer.email_1"}]))
with open(os.path.join(shop, "customers.bson"), "wb") as f:
    for i in range(30000):
        f.write(bson.encode({
            "_id": oid(10**6 + i),
            "name": " ".join(rng.choice(words) for _ in range(2)),
            "score": rng.random(),
            "visits": [base + datetime.timedelta(seconds=rng.randrange(10**8))
                       for _ in range(rng.randrange(0, 4))],
        }))
with open(os.path.join(shop, "customers.metadata.json"), "w") as f:
    f.write(metadata("customers", "a1b2c3d4e5f60718293a4b5c6d7e8f90", []))
"#;

/// What the heavy tests share: the large input and its export by one uninterrupted run.
struct Fixture {
    input: PathBuf,
    /// The reference export (relative path → bytes, `.complete` left out).
    reference: BTreeMap<PathBuf, Vec<u8>>,
    /// The reference run's wall time.
    wall: Duration,
}

/// Runs that convert the large input take their turn: on a shared 2-core machine, kill
/// moments measured against the reference run only mean something when runs do not overlap.
fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared fixture, built once (call with [`heavy`] held); `None` when skipped.
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture).as_ref()
}

fn build_fixture() -> Option<Fixture> {
    let input = large_input()?;
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("reference");
    let start = Instant::now();
    let o = convert(&input, &out, &CHUNK);
    let wall = start.elapsed();
    assert_status(&o, 0);
    assert!(
        out.join(".complete").is_file(),
        "the reference run wrote no .complete"
    );
    let reference = tree(&out);
    let data_files = reference
        .keys()
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .count();
    assert!(
        data_files >= 20,
        "the reference export has only {data_files} data files: {:?}",
        reference.keys().collect::<Vec<_>>()
    );
    assert!(
        !reference
            .keys()
            .any(|p| p.to_string_lossy().ends_with(".partial")),
        "the reference export holds .partial files"
    );
    assert!(reference.contains_key(Path::new("shop/orders/metadata.json")));
    assert!(reference.contains_key(Path::new("shop/customers/metadata.json")));
    eprintln!(
        "reference: {} files ({data_files} data files) in {wall:?}",
        reference.len()
    );
    Some(Fixture {
        input,
        reference,
        wall,
    })
}

/// The large mongodump folder, written by pymongo once and kept under `CARGO_TARGET_TMPDIR`
/// (named after the script, so a changed script writes a new one).
fn large_input() -> Option<PathBuf> {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    MAKE_DUMP.hash(&mut h);
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = cache.join(format!("output_folder-dump-{:016x}", h.finish()));
    if dir.join("shop/customers.metadata.json").is_file() {
        return Some(dir);
    }
    let py = python(&["bson"])?;
    std::fs::create_dir_all(cache).unwrap();
    // Written under a temporary name and renamed: a concurrent or killed writer never
    // leaves a half-written input under the final name.
    let tmp = tempfile::tempdir_in(cache).unwrap();
    let made = tmp.path().join("dump");
    run_python(&py, MAKE_DUMP, &[made.to_str().unwrap()]);
    if std::fs::rename(&made, &dir).is_err() {
        // Another test process got there first.
        assert!(dir.join("shop/customers.metadata.json").is_file());
    }
    Some(dir)
}

/// `bsonflow convert INPUT --out OUT --chunk-bytes 1M --quiet`, started and not waited for.
fn spawn_convert(input: &Path, out: &Path, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bsonflow"))
        .arg("convert")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(CHUNK)
        .arg("--quiet")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("bsonflow starts")
}

/// Asserts that `dir` holds exactly the reference export, byte for byte, with `.complete`
/// counting its data files.
fn assert_is_reference(dir: &Path, fx: &Fixture, what: &str) {
    let got = tree(dir);
    let names: Vec<_> = got.keys().collect();
    let expected: Vec<_> = fx.reference.keys().collect();
    assert_eq!(
        names, expected,
        "{what}: the files differ from the reference"
    );
    for (path, bytes) in &fx.reference {
        let g = &got[path];
        assert!(
            g == bytes,
            "{what}: {} differs from the reference ({} bytes, reference {} bytes)",
            path.display(),
            g.len(),
            bytes.len()
        );
    }
    let complete = dir.join(".complete");
    assert!(complete.is_file(), "{what}: no .complete");
    let complete: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&complete).unwrap()).unwrap();
    let data_files = fx
        .reference
        .keys()
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .count();
    assert_eq!(
        complete["totalFiles"].as_u64(),
        Some(data_files as u64),
        "{what}: .complete's totalFiles"
    );
}

/// What an interrupted or failed run left in `dir`: never `.complete` over anything but the
/// whole export, and never a file under its final name that differs from the reference (every
/// file is written as `.<name>.partial` and renamed when complete). Returns (files under
/// their final name, `.partial` files), the marker left out.
fn assert_only_whole_files(dir: &Path, fx: &Fixture, what: &str) -> (usize, usize) {
    if dir.join(".complete").exists() {
        assert_is_reference(dir, fx, &format!("{what} (.complete exists)"));
    }
    if !dir.exists() {
        return (0, 0);
    }
    let (mut whole, mut partial) = (0, 0);
    for (path, bytes) in tree(dir) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == ".bsonflow-export" {
            continue;
        }
        if name.starts_with('.') && name.ends_with(".partial") {
            partial += 1;
            continue;
        }
        whole += 1;
        let expected = fx.reference.get(&path).unwrap_or_else(|| {
            panic!(
                "{what}: {} is not a file of the export",
                dir.join(&path).display()
            )
        });
        assert!(
            &bytes == expected,
            "{what}: {} is there under its final name but is not the whole file \
             ({} bytes, reference {} bytes)",
            path.display(),
            bytes.len(),
            expected.len()
        );
    }
    (whole, partial)
}

/// A pseudo-random fraction in [0, 1) from a fixed-seed LCG (kill moments repeat run to run).
fn next_fraction(state: &mut u64) -> f64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn a_run_killed_at_any_moment_is_finished_by_a_rerun() {
    let _turn = heavy();
    let Some(fx) = fixture() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("export");

    // Right after the start, then once in each of 10–20 %, 30–40 %, … 90–100 % of the
    // reference run's wall time, at a moment drawn from a fixed seed.
    let mut seed = 0x5eed_0fb5_0f00_u64;
    let mut fractions = vec![0.0];
    for base in [0.1, 0.3, 0.5, 0.7, 0.9] {
        fractions.push(base + 0.1 * next_fraction(&mut seed));
    }
    let mut interrupted = 0;
    for (i, fraction) in fractions.iter().enumerate() {
        // Every other run starts into a folder that does not exist; the others into the
        // complete export the previous rerun left (so the kill may land while the earlier
        // export is being cleared).
        let fresh = i % 2 == 0;
        if fresh && out.exists() {
            std::fs::remove_dir_all(&out).unwrap();
        }
        let delay = fx.wall.mul_f64(*fraction);
        let what = format!(
            "kill {i} after {delay:?} ({:.0} % of {:?}, {} folder)",
            fraction * 100.0,
            fx.wall,
            if fresh { "new" } else { "reused" }
        );
        let mut child = spawn_convert(&fx.input, &out, Stdio::null());
        std::thread::sleep(delay);
        let finished_first = child.try_wait().unwrap();
        let status = match finished_first {
            Some(status) => status,
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap()
            }
        };

        let complete = out.join(".complete").exists();
        let (whole, partial) = assert_only_whole_files(&out, fx, &what);
        if complete {
            // Only a run that ended before the kill may have written `.complete`.
            assert!(
                finished_first.is_some() || status.code() == Some(0),
                "{what}: killed ({status}) but .complete exists"
            );
        } else {
            interrupted += 1;
        }
        eprintln!(
            "{what}: {status}, .complete {complete}, {whole} whole files, {partial} .partial"
        );

        let o = convert(&fx.input, &out, &CHUNK);
        assert_status(&o, 0);
        assert_is_reference(&out, fx, &format!("rerun after {what}"));
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} of {} kills interrupted a run: nothing was tested",
        fractions.len()
    );
}

#[test]
fn an_earlier_export_written_differently_leaves_no_file_behind() {
    // The runs above rewrite files of the same names; here the earlier export's files have
    // other names (shard name, chunk size), so any file not removed would show.
    let _turn = heavy();
    let Some(fx) = fixture() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("export");
    let other = [
        "--shard-name",
        "earlier-shard",
        "--chunk-bytes",
        "700K",
        "--format",
        "relaxed",
    ];

    // A complete earlier export.
    assert_status(&convert(&fx.input, &out, &other), 0);
    assert!(tree(&out)
        .keys()
        .any(|p| p.to_string_lossy().contains("earlier-shard.")));
    let o = convert(&fx.input, &out, &CHUNK);
    assert_status(&o, 0);
    assert_is_reference(&out, fx, "rerun over a complete export written differently");

    // A partial earlier export: a run with the other options, killed halfway.
    std::fs::remove_dir_all(&out).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bsonflow"))
        .arg("convert")
        .arg(&fx.input)
        .arg("--out")
        .arg(&out)
        .args(other)
        .arg("--quiet")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(fx.wall / 2);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    let left = tree(&out);
    assert!(
        !out.join(".complete").exists()
            && left
                .keys()
                .any(|p| p.to_string_lossy().contains("earlier-shard.")),
        "the killed run ({status}) left no partial export: {:?}",
        left.keys().collect::<Vec<_>>()
    );
    let o = convert(&fx.input, &out, &CHUNK);
    assert_status(&o, 0);
    assert_is_reference(&out, fx, "rerun over a partial export written differently");
}

#[test]
fn a_second_run_into_a_busy_folder_is_refused_at_once() {
    let _turn = heavy();
    let Some(fx) = fixture() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("export");
    let marker = out.join(".bsonflow-export");

    let mut a = spawn_convert(&fx.input, &out, Stdio::piped());
    // The marker's line is written once run A holds the lock (in a new folder).
    let waited = Instant::now();
    while !std::fs::metadata(&marker).is_ok_and(|m| m.len() > 0) {
        if let Some(status) = a.try_wait().unwrap() {
            panic!("run A ended ({status}) before its marker was seen");
        }
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "run A wrote no marker"
        );
        std::thread::sleep(Duration::from_millis(2));
    }

    let started = Instant::now();
    let b = convert(&fx.input, &out, &CHUNK);
    let took = started.elapsed();
    let a_running = a.try_wait().unwrap().is_none();
    assert_status(&b, 1);
    let text = stderr(&b);
    assert!(
        text.contains("another bsonflow run is writing into this folder"),
        "{text}"
    );
    assert!(text.contains(out.to_str().unwrap()), "{text}");
    assert!(
        took < Duration::from_secs(3) && a_running,
        "run B took {took:?} to be refused; run A still running: {a_running} \
         (the reference run takes {:?})",
        fx.wall
    );

    let a = a.wait_with_output().unwrap();
    assert_status(&a, 0);
    assert_is_reference(&out, fx, "run A after run B was refused");
    eprintln!("run B refused in {took:?}");
}

/// True when running as root; else prints why the test is skipped.
fn root(what: &str) -> bool {
    // SAFETY: geteuid takes no arguments, cannot fail and touches no memory of ours.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {what} needs root (mount); CI runs as root"
    );
    false
}

/// Runs `mount ARGS…`; `Err` with the reason when it cannot.
fn mount(args: &[&OsStr]) -> Result<(), String> {
    let o = Command::new("mount")
        .args(args)
        .output()
        .map_err(|e| format!("mount cannot be run: {e}"))?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mount {:?} failed ({}): {}",
            args,
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// Skips a test whose mount could not be made; fails instead under
/// `BSONFLOW_REQUIRE_SHARED=1` (only root gets this far, and CI runs as root).
fn mount_failed(why: String) {
    assert!(
        !required(),
        "BSONFLOW_REQUIRE_SHARED=1, running as root, but {why}"
    );
    skip::<()>(&why);
}

/// A mount point, unmounted when dropped (also when the test panics).
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

#[test]
fn a_full_disk_fails_the_run_and_a_rerun_with_room_finishes_it() {
    if !root("disk full") {
        return;
    }
    let _turn = heavy();
    let Some(fx) = fixture() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let mnt = scratch.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    if let Err(why) = mount(&[
        "-t".as_ref(),
        "tmpfs".as_ref(),
        "-o".as_ref(),
        "size=2m".as_ref(),
        "tmpfs".as_ref(),
        mnt.as_os_str(),
    ]) {
        return mount_failed(why);
    }
    let _mounted = Mounted(mnt.clone());
    let out = mnt.join("export");

    let o = convert(&fx.input, &out, &CHUNK);
    assert_status(&o, 1);
    let text = stderr(&o);
    assert!(text.contains("No space left on device"), "{text}");
    let named = text
        .split_whitespace()
        .any(|w| w.starts_with(out.to_str().unwrap()));
    assert!(
        named,
        "the error names no path inside {}: {text}",
        out.display()
    );
    assert!(
        !out.join(".complete").exists(),
        "a full disk left .complete"
    );
    let (whole, partial) = assert_only_whole_files(&out, fx, "after the disk filled up");
    eprintln!("disk full: {whole} whole files, {partial} .partial left: {text}");

    // Room enough: the same command finishes the export.
    if let Err(why) = mount(&["-o".as_ref(), "remount,size=256m".as_ref(), mnt.as_os_str()]) {
        panic!("the tmpfs cannot be grown: {why}");
    }
    let o = convert(&fx.input, &out, &CHUNK);
    assert_status(&o, 0);
    assert_is_reference(&out, fx, "rerun with room after a full disk");
}

#[test]
fn a_read_only_folder_fails_the_run_and_gets_no_file() {
    if !root("read-only output") {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let ro = scratch.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    if let Err(why) = mount(&["--bind".as_ref(), ro.as_os_str(), ro.as_os_str()]) {
        return mount_failed(why);
    }
    let _mounted = Mounted(ro.clone());
    if let Err(why) = mount(&[
        "-o".as_ref(),
        "remount,ro,bind".as_ref(),
        ro.as_os_str(),
        ro.as_os_str(),
    ]) {
        return mount_failed(why);
    }
    assert!(
        std::fs::write(ro.join("probe"), b"x").is_err(),
        "the bind mount is writable"
    );

    let out = ro.join("export");
    let o = convert(&testdata("sample-dump"), &out, &[]);
    assert_status(&o, 1);
    let text = stderr(&o);
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(text.contains(out.to_str().unwrap()), "{text}");
    let left: Vec<_> = std::fs::read_dir(&ro).unwrap().collect();
    assert!(left.is_empty(), "files appeared: {left:?}");
}

#[test]
fn files_that_are_not_part_of_an_export_are_never_removed() {
    let scratch = tempfile::tempdir().unwrap();
    let sample = testdata("sample-dump");
    let outside = scratch.path().join("outside.json.gz");
    std::fs::write(&outside, b"not bsonflow's").unwrap();

    // (what the user left, where) — a file at the top, a file in a collection folder, a
    // folder inside a collection folder, and a link named like a data file.
    type Place = fn(&Path, &Path) -> PathBuf;
    let cases: [(&str, Place); 4] = [
        ("notes.txt at the top", |out, _| {
            let p = out.join("notes.txt");
            std::fs::write(&p, b"my notes").unwrap();
            p
        }),
        ("a file in a collection folder", |out, _| {
            let p = out.join("shop/orders/notes.txt");
            std::fs::write(&p, b"my notes").unwrap();
            p
        }),
        ("a folder in a collection folder", |out, _| {
            let p = out.join("shop/orders/mine");
            std::fs::create_dir(&p).unwrap();
            std::fs::write(p.join("keep.json.gz"), b"mine").unwrap();
            p
        }),
        ("a link named like a data file", |out, outside| {
            let p = out.join("shop/orders/link.0.json.gz");
            std::os::unix::fs::symlink(outside, &p).unwrap();
            p
        }),
    ];
    for (i, (what, place)) in cases.iter().enumerate() {
        let out = scratch.path().join(format!("export{i}"));
        assert_status(&convert(&sample, &out, &[]), 0);
        let foreign = place(&out, &outside);
        let before = tree(&out);
        let complete = std::fs::read(out.join(".complete")).unwrap();
        assert!(before.len() >= 5, "{what}: {before:?}");

        let o = convert(&sample, &out, &[]);
        assert_status(&o, 1);
        let text = stderr(&o);
        assert!(
            text.contains(foreign.to_str().unwrap()),
            "{what}: the error does not name {}: {text}",
            foreign.display()
        );
        assert!(text.contains("nothing was removed"), "{what}: {text}");
        assert!(
            tree(&out) == before,
            "{what}: the earlier export or the user's file changed"
        );
        assert_eq!(
            std::fs::read(out.join(".complete")).unwrap(),
            complete,
            "{what}: .complete changed"
        );
        assert_eq!(
            std::fs::read(&outside).unwrap(),
            b"not bsonflow's",
            "{what}"
        );
    }
}
