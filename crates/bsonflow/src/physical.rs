//! Physical backups: unpack to a scratch data directory when needed, then read every
//! collection straight out of the WiredTiger files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use bsonflow_export::Exporter;
use bsonflow_model::{CollectionWriter, DocumentSink, Progress};
use bsonflow_sources::unpack::{self, UnpackOptions, UnpackReport};
use bsonflow_wiredtiger::DataDir;
use rayon::prelude::*;

use crate::progress::Bar;
use crate::summary::Notes;

/// A scratch folder that is removed when dropped, unless kept.
pub struct Scratch {
    pub path: PathBuf,
    keep: bool,
}

impl Scratch {
    /// `--scratch DIR` or a fresh folder next to the output folder.
    pub fn new(chosen: Option<&Path>, out: &Path, keep: bool) -> Scratch {
        let path = match chosen {
            Some(p) => p.to_path_buf(),
            None => {
                let name = out
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "export".into());
                let parent = out
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                parent.join(format!(".{name}.scratch-{}", std::process::id()))
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
            .map(|b| format!(", {:.1} MB free in {}", b as f64 / 1e6, target.display()))
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
        unpack::SpaceNeeded::Exact(b) => format!("exactly {:.1} MB", b as f64 / 1e6),
        unpack::SpaceNeeded::AtLeast(b) => format!("at least {:.1} MB", b as f64 / 1e6),
        unpack::SpaceNeeded::Unknown => "an unknown amount of disk".into(),
    }
}

/// Opens the data directory (to learn its replica-set name before the exporter exists).
pub fn open(path: &Path) -> Result<(DataDir, Option<String>)> {
    let dir = DataDir::open(path)?;
    let rs = dir.replica_set_name().ok().flatten();
    Ok((dir, rs))
}

/// Reads every collection the exporter wants, several at a time.
pub fn export(
    dir: &DataDir,
    exporter: &Exporter,
    skip_missing: bool,
    notes: &mut Notes,
    progress: &Arc<Progress>,
    quiet: bool,
) -> bool {
    let entries = dir.collections();
    let wanted_bytes: u64 = entries
        .iter()
        .filter(|e| exporter.wants(&e.ns, &e.metadata).is_ok())
        .filter_map(|e| std::fs::metadata(&e.file).ok())
        .map(|m| m.len())
        .sum();
    progress.add_total(wanted_bytes);
    let bar = Bar::start("converting", Arc::clone(progress), quiet);
    let outcomes: Vec<Outcome> = entries
        .par_iter()
        .map(|entry| {
            if exporter.wants(&entry.ns, &entry.metadata).is_ok() && !entry.file.exists() {
                let msg = format!(
                    "{}: the collection file {} is missing",
                    entry.ns,
                    entry.file.display()
                );
                if skip_missing {
                    return Outcome::MissingSkipped(msg);
                }
                exporter.record_failure(&entry.ns, msg.clone());
                return Outcome::Failed(msg);
            }
            let writer = match exporter.open(&entry.ns, &entry.metadata) {
                Ok(Some(w)) => w,
                Ok(None) => return Outcome::Done,
                Err(e) => return Outcome::Failed(e.to_string()),
            };
            let outcome = read_one(dir, entry, writer, exporter);
            if let Ok(m) = std::fs::metadata(&entry.file) {
                progress.add(m.len());
            }
            outcome
        })
        .collect();
    drop(bar);
    let mut complete = true;
    for o in outcomes {
        match o {
            Outcome::Done => {}
            Outcome::MissingSkipped(m) => notes.missing_skipped.push(m),
            Outcome::Failed(e) => {
                notes.errors.push(e);
                complete = false;
            }
        }
    }
    complete
}

enum Outcome {
    Done,
    MissingSkipped(String),
    Failed(String),
}

fn read_one(
    dir: &DataDir,
    entry: &bsonflow_wiredtiger::CatalogEntry,
    mut writer: bsonflow_export::CollectionExport<'_>,
    exporter: &Exporter,
) -> Outcome {
    match dir.export_collection(entry, &mut writer) {
        Ok(_) => match writer.finish() {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e.to_string()),
        },
        Err(e) => {
            let msg = e.to_string();
            exporter.record_failure(&entry.ns, msg.clone());
            drop(writer);
            Outcome::Failed(msg)
        }
    }
}
