//! Where an export's files go: the one thing the writer asks of storage.
//!
//! Files are named by their path relative to the export's root, `/`-separated:
//! `shop/orders/rs0.0.json.gz`, `shop/orders/metadata.json`, `.complete`. A [`Target`] writes
//! each one whole — it appears complete or not at all — and writes `.complete` last.
//! [`LocalFolder`] is a folder on disk (temporary name, then rename); an object-storage
//! prefix is one more implementation (in `bsonflow-cloud`), and the writer takes it unchanged.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::exporter::ExportError;
use crate::output::OutputFolder;

/// A write to a [`Target`] that failed: where, and what storage said.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct TargetError {
    /// The file or object (a path, or a URL without credentials).
    pub location: String,
    /// What went wrong, in words a user can act on.
    pub message: String,
}

/// A file being written piece by piece (a chunk, one gzip member at a time). Nothing of it
/// is visible under its name until [`finish`](ObjectWriter::finish) succeeds;
/// [`abort`](ObjectWriter::abort) (or a failed write) leaves nothing behind.
pub trait ObjectWriter: Send {
    /// Appends `bytes`.
    fn write(&mut self, bytes: &[u8]) -> Result<(), TargetError>;

    /// Makes the file visible under its name, whole.
    fn finish(self: Box<Self>) -> Result<(), TargetError>;

    /// Gives the file up; best effort (a failure to clean up is logged, not returned).
    fn abort(self: Box<Self>);
}

/// Storage for one export, claimed for the run before it is handed to the
/// [`Exporter`](crate::Exporter).
pub trait Target: Send + Sync + fmt::Debug {
    /// The export's root in messages: a folder path, or a URL without credentials.
    fn describe(&self) -> String;

    /// Readies the collection folder `rel` (`shop/orders`) before its first file; storage
    /// without folders does nothing.
    fn prepare_folder(&self, rel: &str) -> Result<(), TargetError> {
        let _ = rel;
        Ok(())
    }

    /// Writes the file `rel` whole: readers see all of it or none of it. (The same as
    /// [`create`](Target::create), one write, [`finish`](ObjectWriter::finish).)
    fn put(&self, rel: &str, bytes: &[u8]) -> Result<(), TargetError> {
        let mut w = self.create(rel)?;
        match w.write(bytes) {
            Ok(()) => w.finish(),
            Err(e) => {
                w.abort();
                Err(e)
            }
        }
    }

    /// Starts writing the file `rel` piece by piece (see [`ObjectWriter`]).
    fn create(&self, rel: &str) -> Result<Box<dyn ObjectWriter>, TargetError>;

    /// Removes every file of the export layout that is not in `keep` (files an earlier,
    /// longer export left), so that the export holds exactly what this run wrote. Called
    /// after every data file and `metadata.json` is written, before `.complete`.
    fn remove_others(&self, keep: &BTreeSet<String>) -> Result<(), TargetError>;

    /// Writes `.complete`, last of all, only if no `.complete` exists (on disk: link or
    /// fail; on S3: `If-None-Match: *`); an existing one with other bytes means another run
    /// finished the export meanwhile, which is an error.
    fn put_complete(&self, bytes: &[u8]) -> Result<(), TargetError>;

    /// The bytes of the file `rel`; `None` when there is none.
    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, TargetError>;

    /// Every file under the root (relative `/`-separated names, sorted) with its size.
    fn list(&self) -> Result<Vec<(String, u64)>, TargetError>;

    /// Removes the file `rel`; one that is absent is no error.
    fn delete(&self, rel: &str) -> Result<(), TargetError>;
}

/// A folder on the local disk, claimed and locked for the run (see [`MARKER`]).
///
/// [`MARKER`]: crate::MARKER
#[derive(Debug)]
pub struct LocalFolder {
    root: PathBuf,
    /// Holds the folder's lock until the run ends (none for a shared folder).
    _claim: Option<OutputFolder>,
    restarted: bool,
}

impl LocalFolder {
    /// `root` as it is, without claiming or locking it: for the scale-out commands, whose
    /// tasks write into one export side by side (each only its own files).
    pub fn shared(root: &Path) -> Result<LocalFolder, ExportError> {
        std::fs::create_dir_all(root).map_err(|source| ExportError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        Ok(LocalFolder {
            root: root.to_path_buf(),
            _claim: None,
            restarted: false,
        })
    }

    /// Claims `root`: created when absent, taken when empty, cleared when it holds an earlier
    /// bsonflow export (`.complete` first), refused otherwise; locked until dropped.
    pub fn claim(root: &Path) -> Result<LocalFolder, ExportError> {
        let (claim, restarted) = OutputFolder::claim(root)?;
        Ok(LocalFolder {
            root: root.to_path_buf(),
            _claim: Some(claim),
            restarted,
        })
    }

    /// Whether the folder held an earlier export, which was cleared to write anew.
    pub fn restarted(&self) -> bool {
        self.restarted
    }

    fn path(&self, rel: &str) -> PathBuf {
        rel.split('/').fold(self.root.clone(), |p, c| p.join(c))
    }
}

impl Target for LocalFolder {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn prepare_folder(&self, rel: &str) -> Result<(), TargetError> {
        let dir = self.path(rel);
        std::fs::create_dir_all(&dir).map_err(|e| error(&dir, e))
    }

    fn create(&self, rel: &str) -> Result<Box<dyn ObjectWriter>, TargetError> {
        let path = self.path(rel);
        if let Some(dir) = path.parent() {
            if !dir.is_dir() {
                std::fs::create_dir_all(dir).map_err(|e| error(dir, e))?;
            }
        }
        let temp = temp_path(&path);
        let file = std::fs::File::create(&temp).map_err(|e| error(&path, e))?;
        Ok(Box::new(LocalWriter { path, temp, file }))
    }

    fn remove_others(&self, keep: &BTreeSet<String>) -> Result<(), TargetError> {
        // After a claim this finds nothing (the claim cleared any earlier export and the
        // lock kept other runs out); a shared folder may hold files of killed attempts.
        for (rel, _) in self.list()? {
            if rel != ".complete" && is_layout_name(&rel) && !keep.contains(&rel) {
                self.delete(&rel)?;
            }
        }
        Ok(())
    }

    fn put_complete(&self, bytes: &[u8]) -> Result<(), TargetError> {
        let path = self.path(".complete");
        let temp = temp_path(&path);
        std::fs::write(&temp, bytes).map_err(|e| error(&path, e))?;
        // Link or fail: never over another run's marker.
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if std::fs::read(&path).is_ok_and(|found| found == bytes) {
                    return Ok(());
                }
                Err(TargetError {
                    location: path.display().to_string(),
                    message: "another run completed this export while this one was writing; nothing was overwritten".into(),
                })
            }
            Err(e) => Err(error(&path, e)),
        }
    }

    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, TargetError> {
        let path = self.path(rel);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(error(&path, e)),
        }
    }

    fn list(&self) -> Result<Vec<(String, u64)>, TargetError> {
        fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, u64)>) -> io::Result<()> {
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = match prefix {
                    "" => name,
                    p => format!("{p}/{name}"),
                };
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    walk(&entry.path(), &rel, out)?;
                } else if kind.is_file() {
                    out.push((rel, entry.metadata()?.len()));
                }
            }
            Ok(())
        }
        let mut out = Vec::new();
        walk(&self.root, "", &mut out).map_err(|e| error(&self.root, e))?;
        out.sort();
        Ok(out)
    }

    fn delete(&self, rel: &str) -> Result<(), TargetError> {
        let path = self.path(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(error(&path, e)),
        }
        // Folders left empty go too (as in object storage, where folders do not exist).
        let mut dir = path.parent();
        while let Some(d) = dir.filter(|d| *d != self.root) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }
}

fn error(path: &Path, e: io::Error) -> TargetError {
    TargetError {
        location: path.display().to_string(),
        message: e.to_string(),
    }
}

/// A file on disk written under `.<name>.partial` and renamed when finished.
struct LocalWriter {
    path: PathBuf,
    temp: PathBuf,
    file: std::fs::File,
}

impl ObjectWriter for LocalWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        use std::io::Write;
        self.file.write_all(bytes).map_err(|e| error(&self.path, e))
    }

    fn finish(self: Box<Self>) -> Result<(), TargetError> {
        use std::io::Write;
        let LocalWriter {
            path,
            temp,
            mut file,
        } = *self;
        let result = file.flush().and_then(|()| std::fs::rename(&temp, &path));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&temp);
            return Err(error(&path, e));
        }
        Ok(())
    }

    fn abort(self: Box<Self>) {
        let _ = std::fs::remove_file(&self.temp);
    }
}

/// The temporary name of `path` while it is written: `.<name>.partial` beside it.
fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.partial"))
}

/// Whether `rel` (`/`-separated, relative to the export's root) is a name the export layout
/// uses: `.complete`, the [`MARKER`](crate::MARKER), `<db>/<coll>/metadata.json`,
/// `<db>/<coll>/*.json.gz`, and the temporary `.*.partial` files of a local export. Storage
/// that has no folders lists an earlier export by these names.
pub fn is_layout_name(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    match parts.as_slice() {
        [name] => crate::output::ours(0, name, false),
        [".bsonflow", "tasks", name] => is_manifest_name(name),
        [db, coll, name] => {
            !db.is_empty() && !coll.is_empty() && crate::output::ours(2, name, false)
        }
        _ => false,
    }
}

/// `<K>.json`: a scale-out task's manifest under `.bsonflow/tasks/`.
pub(crate) fn is_manifest_name(name: &str) -> bool {
    name.strip_suffix(".json")
        .is_some_and(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names() {
        assert!(is_layout_name(".complete"));
        assert!(is_layout_name(crate::MARKER));
        assert!(is_layout_name("shop/orders/rs0.12.json.gz"));
        assert!(is_layout_name("shop/orders/metadata.json"));
        assert!(!is_layout_name("shop/orders.bson"));
        assert!(!is_layout_name("notes.txt"));
        assert!(!is_layout_name("a/b/c/d.json.gz"));
        assert!(!is_layout_name("/orders/metadata.json"));
    }
}
