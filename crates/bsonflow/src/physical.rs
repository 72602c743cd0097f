//! Physical backups: the scratch folder they are unpacked into, and the unpacking itself with
//! its progress bar and disk-space message. Reading the data directory afterwards is the
//! `wiredtiger` crate's job.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use bsonflow_model::{ByteSize, Progress};
use bsonflow_sources::unpack::{self, UnpackOptions, UnpackReport};

use crate::progress::Bar;

/// A scratch folder that is removed when dropped, unless kept.
pub struct Scratch {
    pub path: PathBuf,
    keep: bool,
}

impl Scratch {
    /// `--scratch DIR` or a fresh folder next to the output folder; one of several inputs,
    /// told by `tag` (its index, or `config-server`), gets a folder of its own (`DIR/<tag>`,
    /// `….scratch-<pid>-<tag>`).
    pub fn new(chosen: Option<&Path>, out: &Path, keep: bool, tag: Option<&str>) -> Scratch {
        let path = match chosen {
            Some(p) => match tag {
                Some(t) => p.join(t),
                None => p.to_path_buf(),
            },
            None => {
                let name = out
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "export".into());
                let parent = out
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let tag = tag.map(|t| format!("-{t}")).unwrap_or_default();
                parent.join(format!(".{name}.scratch-{}{tag}", std::process::id()))
            }
        };
        Scratch { path, keep }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Unpacks `input` into `scratch` with a progress bar.
pub fn unpack_into(
    input: &Path,
    scratch: &Path,
    threads: usize,
    quiet: bool,
) -> Result<UnpackReport> {
    // Say up front how much disk the data directory needs, as far as the archive tells.
    if let Ok(space) = unpack::space_needed(input) {
        let target = scratch
            .ancestors()
            .find(|p| p.exists())
            .unwrap_or(Path::new("."));
        let free = unpack::available_space(target)
            .map(|b| format!(", {} free in {}", ByteSize(b), target.display()))
            .unwrap_or_default();
        eprintln!(
            "bsonflow: unpacking {} into {} needs {}{free}",
            input.display(),
            scratch.display(),
            describe_space(space)
        );
    }
    let progress = Arc::new(Progress::new());
    let bar = Bar::start("unpacking", Arc::clone(&progress), quiet);
    let options = UnpackOptions {
        threads,
        ..UnpackOptions::default()
    };
    let report = unpack::unpack_file(input, scratch, &options, &progress)
        .with_context(|| format!("unpacking into {}", scratch.display()))?;
    drop(bar);
    Ok(report)
}

/// "exactly 12.3 MB", "at least 12.3 MB" or "an unknown amount of" disk.
pub fn describe_space(space: unpack::SpaceNeeded) -> String {
    match space {
        unpack::SpaceNeeded::Exact(b) => format!("exactly {}", ByteSize(b)),
        unpack::SpaceNeeded::AtLeast(b) => format!("at least {}", ByteSize(b)),
        unpack::SpaceNeeded::Unknown => "an unknown amount of disk".into(),
    }
}

/// The summary line of an unpack into `scratch`.
pub fn describe_unpack(report: &UnpackReport, scratch: &Path, kept: bool) -> String {
    format!(
        "unpacked {} ({} files, {}) into {} at {:.0} MB/s{}",
        report.format.describe(),
        report.files,
        ByteSize(report.bytes_written),
        scratch.display(),
        report.input_mb_per_s(),
        if kept { "" } else { " (removed afterwards)" }
    )
}

/// The data directory inside an unpacked physical backup: the folder itself, or — for a tar
/// made of a data directory with its own folder name in front (`tar czf b.tar.gz dbpath`) —
/// the one folder below it, a few levels down at most, that holds `WiredTiger.turtle` or
/// `WiredTiger.backup`.
pub fn data_dir_root(unpacked: &Path) -> PathBuf {
    let holds =
        |p: &Path| p.join("WiredTiger.turtle").is_file() || p.join("WiredTiger.backup").is_file();
    let mut dir = unpacked.to_path_buf();
    for _ in 0..4 {
        if holds(&dir) {
            return dir;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            break;
        };
        let entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
        match entries.as_slice() {
            [only] if only.file_type().is_ok_and(|t| t.is_dir()) => dir = only.path(),
            _ => break,
        }
    }
    unpacked.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_of_several_inputs_gets_a_scratch_folder_named_by_its_tag() {
        // `keep`: nothing is removed (none of these exists).
        let out = Path::new("/nowhere/exp");
        let s = Scratch::new(Some(Path::new("/s")), out, true, Some("config-server"));
        assert_eq!(s.path, Path::new("/s/config-server"));
        let s = Scratch::new(Some(Path::new("/s")), out, true, Some("1"));
        assert_eq!(s.path, Path::new("/s/1"));
        let s = Scratch::new(Some(Path::new("/s")), out, true, None);
        assert_eq!(s.path, Path::new("/s"));
        let s = Scratch::new(None, out, true, Some("0"));
        let pid = std::process::id();
        assert_eq!(s.path, Path::new(&format!("/nowhere/.exp.scratch-{pid}-0")));
    }
}
