//! The output folder: claimed before anything is written, locked for the run, and cleaned
//! when it holds an earlier export that a killed or failed run left behind.
//!
//! A run first makes sure the folder is its own: a new or empty folder is taken as it is;
//! a folder that holds [`MARKER`] holds an earlier bsonflow export (whole or partial), which
//! is cleared — `.complete` first, so that no marker ever covers a mix — and written anew;
//! anything else is refused. The marker file is created before any other file and stays
//! with the export; the run holds an exclusive advisory lock on it (`flock`) until it ends,
//! so a second run into the same folder is refused at once instead of mixing its files in.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::exporter::ExportError;

/// The file that marks a folder as a bsonflow export, created first.
pub const MARKER: &str = ".bsonflow-export";

/// What [`MARKER`] holds: the writer and its version, one line of JSON.
pub fn marker_contents() -> String {
    format!(
        "{{\"writer\":\"bsonflow\",\"version\":\"{}\"}}\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The claimed output folder; the lock is released when this is dropped.
#[derive(Debug)]
pub(crate) struct OutputFolder {
    _lock: File,
}

impl OutputFolder {
    /// Claims `out`: creates it when absent, takes a new or empty folder as it is, clears an
    /// earlier bsonflow export, refuses anything else. `Ok(true)` when an earlier export was
    /// cleared.
    pub fn claim(out: &Path) -> Result<(OutputFolder, bool), ExportError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ExportError::Io { path, source }
        };
        let earlier = match std::fs::read_dir(out) {
            Ok(mut entries) => match entries.next() {
                None => false,
                Some(_) if out.join(MARKER).is_file() => true,
                Some(_) => return Err(ExportError::NotEmpty { path: out.into() }),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir_all(out).map_err(io_err(out))?;
                false
            }
            Err(e) => return Err(io_err(out)(e)),
        };
        let marker = out.join(MARKER);
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&marker)
            .map_err(io_err(&marker))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(ExportError::Busy { path: out.into() })
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&marker)(e)),
        }
        if earlier {
            clear_earlier_export(out)?;
        }
        lock.set_len(0)
            .and_then(|()| lock.write_all(marker_contents().as_bytes()))
            .map_err(io_err(&marker))?;
        Ok((OutputFolder { _lock: lock }, earlier))
    }
}

/// What an earlier export may hold, by depth below the output folder.
pub(crate) fn ours(depth: usize, name: &str, is_dir: bool) -> bool {
    let partial = name.starts_with('.') && name.ends_with(".partial");
    match (depth, is_dir) {
        // `.complete`, the marker, temporary files; database folders.
        (0, false) => name == ".complete" || name == MARKER || partial,
        (0, true) => true,
        // Collection folders (and `.bsonflow/tasks` of the scale-out commands).
        (1, true) => true,
        // Data files, metadata.json and their temporary files.
        (2, false) => {
            name == "metadata.json"
                || name.ends_with(".json.gz")
                || partial
                || crate::target::is_manifest_name(name)
        }
        _ => false,
    }
}

/// Removes an earlier export: checks first that every entry belongs to an export (else
/// nothing is touched), then removes `.complete`, then everything else but the marker.
fn clear_earlier_export(out: &Path) -> Result<(), ExportError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    collect(out, 0, &mut files, &mut dirs)?;
    let complete = out.join(".complete");
    remove_file(&complete)?;
    for f in files.iter().filter(|f| **f != complete) {
        remove_file(f)?;
    }
    // Deepest first.
    for d in dirs.iter().rev() {
        std::fs::remove_dir(d).map_err(|source| ExportError::Io {
            path: d.clone(),
            source,
        })?;
    }
    Ok(())
}

fn collect(
    dir: &Path,
    depth: usize,
    files: &mut Vec<PathBuf>,
    dirs: &mut Vec<PathBuf>,
) -> Result<(), ExportError> {
    let io_err = |source| ExportError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let path = entry.path();
        // Never followed: a link is not part of an export.
        let kind = entry.file_type().map_err(io_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = kind.is_dir();
        if !(kind.is_file() || is_dir) || !ours(depth, &name, is_dir) {
            return Err(ExportError::Foreign {
                path: dir_of(dir, depth),
                found: path,
            });
        }
        if is_dir {
            dirs.push(path.clone());
            collect(&path, depth + 1, files, dirs)?;
        } else if !(depth == 0 && name == MARKER) {
            files.push(path);
        }
    }
    Ok(())
}

/// The output folder, from a folder `depth` levels below it.
fn dir_of(dir: &Path, depth: usize) -> PathBuf {
    dir.ancestors().nth(depth).unwrap_or(dir).to_path_buf()
}

fn remove_file(path: &Path) -> Result<(), ExportError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(ExportError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_an_earlier_export_may_hold() {
        assert!(ours(0, ".complete", false));
        assert!(ours(0, MARKER, false));
        assert!(ours(0, ".complete.partial", false));
        assert!(ours(0, "shop", true));
        assert!(!ours(0, "notes.txt", false));
        assert!(ours(1, "orders", true));
        assert!(!ours(1, "orders.bson", false));
        assert!(ours(2, "rs0.0.json.gz", false));
        assert!(ours(2, ".rs0.1.json.gz.partial", false));
        assert!(ours(2, "metadata.json", false));
        assert!(!ours(2, "x.csv", false));
        assert!(!ours(2, "sub", true));
        assert!(!ours(3, "anything", false));
    }
}
