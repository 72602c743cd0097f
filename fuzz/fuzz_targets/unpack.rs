//! `bsonflow_sources::unpack::unpack`: arbitrary bytes (xbstream of qpress members, bare qpress,
//! tar, each possibly gzip/zstd) unpacked into a fresh folder. Afterwards nothing may exist
//! outside that folder, and inside it only real directories and regular files with one link
//! each (no symlinks, hard links, devices or FIFOs).
//!
//! The fresh folder sits at `<scratch>/l1/l2/l3/l4/run/out`, and each level is checked to hold
//! only the next one, so a member that climbs up to five levels out is caught. Files are capped
//! at 64 MiB (see `limit_file_size`).
#![no_main]

use std::fs;
use std::io::Cursor;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use bsonflow_fuzz::{limit_file_size, scratch};
use bsonflow_model::Progress;
use bsonflow_sources::unpack::{unpack, UnpackOptions};
use libfuzzer_sys::fuzz_target;

const LEVELS: [&str; 6] = ["l1", "l2", "l3", "l4", "run", "out"];

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Walks `dir` without following anything; panics on anything but directories and regular
/// files with a single link.
fn walk(dir: &Path, root: &Path) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        assert!(path.starts_with(root), "{} outside {}", path.display(), root.display());
        let meta = fs::symlink_metadata(&path).unwrap();
        let ft = meta.file_type();
        if ft.is_dir() {
            walk(&path, root);
        } else if ft.is_file() {
            assert_eq!(meta.nlink(), 1, "{} has {} links", path.display(), meta.nlink());
        } else {
            let kind = if ft.is_symlink() {
                "a symlink"
            } else if ft.is_fifo() {
                "a FIFO"
            } else if ft.is_block_device() || ft.is_char_device() {
                "a device"
            } else {
                "a socket"
            };
            panic!("unpack created {kind}: {}", path.display());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    limit_file_size();
    let base = scratch("unpack");
    let run: PathBuf = LEVELS[..5].iter().fold(base.to_path_buf(), |p, l| p.join(l));
    let _ = fs::remove_dir_all(&run);
    fs::create_dir_all(&run).unwrap();
    let out = run.join("out");
    let options = UnpackOptions {
        threads: 2,
        ..UnpackOptions::default()
    };
    let result = unpack(
        Cursor::new(data.to_vec()),
        "fuzz",
        &out,
        &options,
        &Progress::new(),
    );
    match &result {
        Ok(report) => {
            let _ = (report.input_mb_per_s(), report.output_mb_per_s(), report.format.describe());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // Nothing next to any level of the chain.
    let mut dir = base.to_path_buf();
    for (i, level) in LEVELS.iter().enumerate() {
        let found = names(&dir);
        let expected: &[&str] = if i == 5 && found.is_empty() { &[] } else { &[level] };
        assert_eq!(found, expected, "unexpected entries in {}", dir.display());
        if found.is_empty() {
            break;
        }
        dir = dir.join(level);
    }
    if out.exists() {
        let meta = fs::symlink_metadata(&out).unwrap();
        assert!(meta.file_type().is_dir(), "out is not a directory");
        walk(&out, &out);
    }
    fs::remove_dir_all(&run).unwrap();
});
