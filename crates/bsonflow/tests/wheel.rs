//! The binary as a Python wheel (README, "The binary on every node"): `pyproject.toml` has
//! maturin pack `crates/bsonflow` into a wheel (`bindings = "bin"`). This test builds that
//! wheel with maturin, installs it into a fresh venv with `pip install --no-index`, and runs
//! the installed `bsonflow`: it prints the workspace version and converts the bundled sample
//! to the very files the test build's `bsonflow` writes.
//!
//! maturin comes from PyPI into a venv kept between runs (`$BSONFLOW_CI_CACHE/wheel-venv`,
//! else `target/wheel-venv`). Without python3, its `venv` module or the network the test
//! says `SKIPPED: …` (and fails under `BSONFLOW_REQUIRE_SHARED=1`, as CI runs).
//!
//! The wheel is built with `maturin build --profile dev` into the workspace's own target
//! folder, so cargo reuses the dependencies the test build compiled rather than building
//! the release profile from scratch (about 3 minutes on a 2-core machine). Some are built
//! again all the same: `cargo test --workspace` resolves dependency features for every
//! member at once (the benches' criterion adds `serde/alloc`, sources' quicklz adds
//! `syn/default` …), maturin's `cargo rustc -p bsonflow` for bsonflow alone, so serde,
//! bson, hyper, reqwest, object_store and the workspace crates are compiled once more in
//! their `-p bsonflow` variant (about a minute, once per target folder; a few seconds
//! after that). The workspace crates are left at the dev profile's opt-level 0, which
//! compiles them in a quarter of the test profile's time.
//!
//! Cargo copies the binary it builds to `target/debug/bsonflow`, where the test build's
//! binary lives too (`CARGO_BIN_EXE_bsonflow`, run by the other tests of this crate): the
//! test keeps a hard link to the test build's binary and puts it back after the build.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use bsonflow_testkit::{skip, workspace_root};
use common::*;

#[test]
fn the_wheel_installs_a_bsonflow_that_converts_the_sample() {
    let started = Instant::now();
    let Some(python) = python_with_venv() else {
        return;
    };
    let Some(tools) = maturin_venv(&python) else {
        return;
    };
    let root = workspace_root();
    let sample = root.join("testdata/sample-dump");
    let scratch = tempfile::tempdir().unwrap();

    // The reference: the test build's own binary.
    let expected_out = scratch.path().join("expected");
    let o = convert(&sample, &expected_out, &[]);
    assert_status(&o, 0);

    let wheels = scratch.path().join("wheels");
    let t = Instant::now();
    let restore = KeepBinary::new(Path::new(env!("CARGO_BIN_EXE_bsonflow")));
    let o = Command::new(tools.join("bin/maturin"))
        .args(["build", "--profile", "dev", "--locked", "--quiet"])
        // A debug binary is ~190 MB: deflating it would take longer than the build.
        .args(["--compression-method", "stored", "--out"])
        .arg(&wheels)
        .current_dir(&root)
        .output()
        .expect("maturin runs");
    drop(restore);
    assert_ok(&o, "maturin build --profile dev");
    let build_time = t.elapsed();
    let wheel = only_wheel(&wheels);

    let t = Instant::now();
    let venv = scratch.path().join("venv");
    // A venv without pip of its own (ensurepip takes seconds): the maturin venv's pip
    // installs into it.
    let o = Command::new(&python)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .output()
        .expect("python3 -m venv runs");
    assert_ok(&o, "python3 -m venv");
    let o = Command::new(tools.join("bin/python"))
        .args(pip_quiet())
        .arg("--python")
        .arg(venv.join("bin/python"))
        .args(["install", "--no-index"])
        .arg(&wheel)
        .output()
        .expect("pip runs");
    assert_ok(&o, "pip install --no-index <wheel>");
    let install_time = t.elapsed();

    let installed = venv.join("bin/bsonflow");
    assert!(
        installed.is_file(),
        "the wheel put no {}",
        installed.display()
    );
    let o = Command::new(&installed).arg("--version").output().unwrap();
    assert_ok(&o, "bsonflow --version");
    assert_eq!(
        stdout(&o).trim(),
        format!("bsonflow {}", env!("CARGO_PKG_VERSION")),
        "the installed bsonflow's --version"
    );

    let out = scratch.path().join("from-wheel");
    let o = Command::new(&installed)
        .arg("convert")
        .arg(&sample)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    assert_status(&o, 0);
    assert!(out.join(".complete").is_file(), "no .complete");
    let (got, expected) = (tree(&out), tree(&expected_out));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the installed bsonflow wrote other files than the test build's"
    );
    for (path, bytes) in &got {
        assert!(
            *bytes == expected[path],
            "{} differs from the test build's",
            path.display()
        );
    }

    // The timings, for whoever tunes the suite (visible with --nocapture).
    println!(
        "wheel {}: maturin build {:.1?}, venv + pip install {:.1?}, whole test {:.1?}",
        wheel.file_name().unwrap().to_string_lossy(),
        build_time,
        install_time,
        started.elapsed()
    );
}

/// Keeps the file at `path` (a hard link beside it) and puts it back when dropped: cargo
/// replaces `target/debug/bsonflow` with the binary it builds for the wheel.
struct KeepBinary {
    path: PathBuf,
    kept: PathBuf,
}

impl KeepBinary {
    fn new(path: &Path) -> KeepBinary {
        let kept = path.with_file_name(format!(
            ".{}.kept-by-wheel-test-{}",
            path.file_name().unwrap().to_string_lossy(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&kept);
        std::fs::hard_link(path, &kept)
            .or_else(|_| std::fs::copy(path, &kept).map(drop))
            .unwrap_or_else(|e| panic!("cannot keep {}: {e}", path.display()));
        KeepBinary {
            path: path.to_path_buf(),
            kept,
        }
    }
}

impl Drop for KeepBinary {
    fn drop(&mut self) {
        if let Err(e) = std::fs::rename(&self.kept, &self.path) {
            let why = format!("cannot put {} back: {e}", self.path.display());
            if std::thread::panicking() {
                eprintln!("{why}");
            } else {
                panic!("{why}");
            }
        }
    }
}

/// `python3` (or `$PYTHON`) with its `venv` and `ensurepip` modules, or a skip.
fn python_with_venv() -> Option<PathBuf> {
    let python = std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&python)
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        skip(&format!(
            "{} with its venv and ensurepip modules is needed to build and install the wheel \
             (Debian: apt-get install python3-venv)",
            python.display()
        ))
    }
}

/// The venv that holds maturin, made once and kept in the cache folder. Concurrent test
/// runs that share the folder wait for each other on a lock file.
fn maturin_venv(python: &Path) -> Option<PathBuf> {
    let cache = std::env::var_os("BSONFLOW_CI_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    std::fs::create_dir_all(&cache).unwrap();
    let venv = cache.join("wheel-venv");
    let lock = File::create(cache.join("wheel-venv.lock")).unwrap();
    lock.lock().unwrap();
    let works = |venv: &Path| {
        Command::new(venv.join("bin/maturin"))
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works(&venv) {
        return Some(venv);
    }
    // Absent, or left broken (an interrupted install, a removed interpreter): start afresh.
    if venv.exists() {
        std::fs::remove_dir_all(&venv).unwrap();
    }
    let o = Command::new(python)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .expect("python3 -m venv runs");
    if !o.status.success() {
        return skip(&format!(
            "`{} -m venv {}` failed: {}",
            python.display(),
            venv.display(),
            stderr(&o).trim()
        ));
    }
    let o = Command::new(venv.join("bin/python"))
        .args(pip_quiet())
        // pip 22.3 has `--python`; maturin 1.9 `--compression-method`.
        .args(["install", "pip>=22.3", "maturin>=1.9,<2"])
        .output()
        .expect("pip runs");
    if !o.status.success() || !works(&venv) {
        let _ = std::fs::remove_dir_all(&venv);
        return skip(&format!(
            "`pip install maturin` failed (no network?): {}",
            last_lines(&stderr(&o), 5)
        ));
    }
    Some(venv)
}

fn pip_quiet() -> [&'static str; 4] {
    ["-m", "pip", "--quiet", "--disable-pip-version-check"]
}

/// The one `.whl` in `dir`.
fn only_wheel(dir: &Path) -> PathBuf {
    let wheels: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    assert_eq!(wheels.len(), 1, "maturin built {wheels:?}");
    wheels.into_iter().next().unwrap()
}

fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.trim().lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
