//! Using bsonflow from a pipeline: progress on a terminal and off one, the log on stderr,
//! shell completions, and an example in the `--help` of every subcommand.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// Interval of plain progress lines in these tests (the default is 5 s).
const INTERVAL_MS: &str = "100";

/// A BSON set of eight collections, 2.7 MB in all, written by pymongo: slow enough to
/// convert at gzip level 12 on one thread (a second or so) that progress, which moves as
/// each file is read, is drawn several times. `None` (skipped) without pymongo.
fn slow_input(dir: &Path) -> Option<PathBuf> {
    let py = python(&["bson"])?;
    let root = dir.join("dump");
    let script = r#"
import os, random, sys, bson
root = sys.argv[1]
os.makedirs(os.path.join(root, "bench"), exist_ok=True)
rng = random.Random(7)
words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
for c in range(8):
    with open(os.path.join(root, "bench", "events%d.bson" % c), "wb") as f:
        for i in range(1000):
            doc = {"_id": i, "kind": rng.choice(words), "score": rng.random(),
                   "tags": [rng.choice(words) for _ in range(8)],
                   "note": " ".join(rng.choice(words) for _ in range(30))}
            f.write(bson.encode(doc))
"#;
    run_python(&py, script, &[root.to_str().unwrap()]);
    Some(root)
}

fn slow_convert(input: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsonflow"));
    cmd.args([
        "convert",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--gzip-level",
        "12",
        "-j",
        "1",
        "--chunk-bytes",
        "64K",
    ])
    .args(extra)
    .env("BSONFLOW_PROGRESS_INTERVAL_MS", INTERVAL_MS)
    .env_remove("RUST_LOG");
    cmd
}

#[test]
fn off_a_terminal_progress_is_plain_periodic_lines() {
    let dir = tempfile::tempdir().unwrap();
    let Some(input) = slow_input(dir.path()) else {
        return;
    };
    let o = slow_convert(&input, &dir.path().join("out"), &[])
        .output()
        .unwrap();
    assert_status(&o, 0);
    let err = stderr(&o);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("bsonflow: converting: "))
        .collect();
    assert!(lines.len() >= 2, "expected periodic lines:\n{err}");
    for l in &lines {
        assert!(
            l.contains(" of ") && l.contains("/s") && l.contains("ETA"),
            "{l}"
        );
    }
    assert!(!err.contains('\r'), "a carriage return in {err:?}");
    assert!(!err.contains('\x1b'), "an escape code in {err:?}");

    // The lines follow the work: the first and the last say different amounts.
    let done = |l: &str| l.split(" of ").next().unwrap().to_string();
    assert_ne!(done(lines[0]), done(lines[lines.len() - 1]), "{err}");

    // --progress never prints none (--quiet is the same: see progress.rs's unit tests).
    let o = slow_convert(&input, &dir.path().join("never"), &["--progress", "never"])
        .output()
        .unwrap();
    assert_status(&o, 0);
    assert!(!stderr(&o).contains("converting:"), "{}", stderr(&o));
}

#[test]
fn on_a_terminal_the_bar_moves() {
    let dir = tempfile::tempdir().unwrap();
    let Some(input) = slow_input(dir.path()) else {
        return;
    };
    let mut cmd = slow_convert(&input, &dir.path().join("out"), &[]);
    cmd.env("TERM", "xterm-256color");
    let mut session = expectrl::Session::spawn(cmd).expect("a pseudo-terminal");
    session.set_expect_timeout(Some(std::time::Duration::from_secs(60)));
    let found = session.expect(expectrl::Eof).expect("the run ends");
    let text = String::from_utf8_lossy(found.as_bytes()).into_owned();
    // Every frame the bar drew: "converting [====>   ] 3.1 MiB/11.9 MiB …".
    let frames: Vec<&str> = text
        .split(['\r', '\n'])
        .filter(|f| f.contains("converting") && f.contains("iB/"))
        .collect();
    let positions: std::collections::BTreeSet<String> = frames
        .iter()
        .filter_map(|f| {
            let at = f.find("iB/")?;
            let start = f[..at].rfind(' ').map(|s| s + 1)?;
            let start = f[..start - 1].rfind(' ').map(|s| s + 1).unwrap_or(0);
            Some(f[start..at].to_string())
        })
        .collect();
    assert!(
        positions.len() >= 2,
        "the bar should be drawn at two positions at least, got {positions:?} in {text:?}"
    );
    assert!(text.contains('\x1b') || text.contains('\r'), "{text:?}");
    assert!(
        !text.contains("bsonflow: converting: "),
        "plain lines on a terminal: {text:?}"
    );
    assert!(text.contains(".complete written"), "{text}");
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bsonflow"));
    cmd.args(args).env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn warnings_go_to_the_log_and_verbosity_adds_steps() {
    let dir = tempfile::tempdir().unwrap();
    let sample = testdata("sample-dump");
    let convert = |out: &str, extra: &[&str], env: &[(&str, &str)]| {
        let out = dir.path().join(out);
        let mut args = vec![
            "convert",
            sample.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        run(&args, env)
    };
    // By default: warnings only, each skipped namespace among them.
    let o = convert("a", &[], &[]);
    assert_status(&o, 0);
    let err = stderr(&o);
    assert!(err.contains("WARN"), "{err}");
    assert!(
        err.contains("namespace admin.system.version skipped"),
        "{err}"
    );
    assert!(
        err.contains("namespace shop.big_orders skipped: view"),
        "{err}"
    );
    assert!(!err.contains("INFO"), "{err}");
    // The summary still says it on stdout.
    assert!(
        stdout(&o).contains("admin.system.version"),
        "{}",
        stdout(&o)
    );

    // -v: the steps too.
    let o = convert("b", &["-v"], &[]);
    assert!(stderr(&o).contains("INFO"), "{}", stderr(&o));

    // RUST_LOG decides when set.
    let o = convert("c", &[], &[("RUST_LOG", "off")]);
    assert!(!stderr(&o).contains("WARN"), "{}", stderr(&o));
    let o = convert("d", &[], &[("RUST_LOG", "bsonflow=debug")]);
    assert!(
        stderr(&o).contains("DEBUG") || stderr(&o).contains("INFO"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn plan_keeps_stdout_for_its_json_whatever_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let sample = testdata("sample-dump");
    let out = dir.path().join("out");
    let o = run(
        &[
            "-vv",
            "plan",
            sample.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_status(&o, 0);
    let plan: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the plan's JSON ({e}):\n{}", stdout(&o)));
    // The global -v before `plan` is not taken for one of convert's options.
    assert!(
        plan["options"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o != "plan"),
        "{plan}"
    );
}

#[test]
fn completions_are_valid_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = run(&["completions", shell], &[]);
        assert_status(&o, 0);
        let text = stdout(&o);
        assert!(
            text.contains("verify") && text.contains("--input"),
            "{shell}: {text}"
        );
        if shell == "bash" {
            let path = dir.path().join("bsonflow.bash");
            std::fs::write(&path, &o.stdout).unwrap();
            let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            assert!(check.status.success(), "bash -n: {}", stderr(&check));
        }
    }
    let o = run(&["completions", "tcsh"], &[]);
    assert_status(&o, 2);
}

/// The subcommands as `bsonflow --help` lists them (clap writes the list from the
/// definition, so a new subcommand is covered without touching this test).
fn subcommands() -> Vec<String> {
    let o = run(&["--help"], &[]);
    assert_status(&o, 0);
    let text = stdout(&o);
    let list = text
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands section")
        .split("\n\n")
        .next()
        .unwrap();
    list.lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_subcommand_shows_an_example() {
    let names = subcommands();
    for known in [
        "convert",
        "unpack",
        "plan",
        "run-task",
        "commit",
        "verify",
        "completions",
    ] {
        assert!(names.iter().any(|n| n == known), "{known} not in {names:?}");
    }
    for name in &names {
        let o = run(&[name, "--help"], &[]);
        assert_status(&o, 0);
        let text = stdout(&o);
        let examples = text
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("`bsonflow {name} --help` has no Examples section:\n{text}"));
        assert!(
            examples
                .lines()
                .next()
                .is_some_and(|l| l.trim_start().starts_with(&format!("bsonflow {name}"))),
            "`bsonflow {name} --help`: the first example does not run {name}:\n{examples}"
        );
    }
    let o = run(&["--help"], &[]);
    assert!(stdout(&o).contains("Examples:"), "{}", stdout(&o));
}
