//! Spill files: cloud parts that arrive before they can be written wait here.
//!
//! One file per waiting part, holding the member's bytes as they are in the tar (still
//! compressed if the member is a `.bson.gz`), in a private folder created on first use under
//! the spill folder ([`ReadOptions::spill_dir`](bsonflow_model::ReadOptions::spill_dir)) and removed with everything in it
//! when the store is dropped — after a failure too. A file is deleted as soon as its part has
//! been written. Disk use is bounded by the waiting parts themselves: at most the size of the
//! cloud-layout members of the tar.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

pub(crate) struct SpillStore {
    base: PathBuf,
    dir: Option<TempDir>,
    /// `base` did not exist and was created here: remove it too when empty.
    created_base: bool,
    next: u64,
}

impl SpillStore {
    pub fn new(base: &Path) -> Self {
        SpillStore {
            base: base.to_path_buf(),
            dir: None,
            created_base: false,
            next: 0,
        }
    }

    /// The folder of spill files, created on first use.
    fn dir(&mut self) -> io::Result<&Path> {
        if self.dir.is_none() {
            if !self.base.exists() {
                std::fs::create_dir_all(&self.base)?;
                self.created_base = true;
            }
            let dir = tempfile::Builder::new()
                .prefix(".bsonflow-spill-")
                .tempdir_in(&self.base)?;
            self.dir = Some(dir);
        }
        Ok(self.dir.as_ref().unwrap().path())
    }

    /// A new empty spill file.
    pub fn create(&mut self) -> io::Result<(PathBuf, File)> {
        let name = format!("{:08}.part", self.next);
        self.next += 1;
        let path = self.dir()?.join(name);
        let file = File::create_new(&path)?;
        Ok((path, file))
    }

    /// The path a failure should name when the folder itself cannot be made.
    pub fn base(&self) -> &Path {
        &self.base
    }
}

impl Drop for SpillStore {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
        if self.created_base {
            let _ = std::fs::remove_dir(&self.base);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn created_on_demand_and_removed_afterwards() {
        let root = tempfile::tempdir().unwrap();
        let base = root.path().join("a/b");
        let store = SpillStore::new(&base);
        drop(store);
        assert!(!base.exists(), "nothing is created when nothing spills");

        let mut store = SpillStore::new(&base);
        let (path, mut f) = store.create().unwrap();
        f.write_all(b"part").unwrap();
        assert!(path.exists());
        let (path2, _) = store.create().unwrap();
        assert_ne!(path, path2);
        drop(store);
        assert!(!path.exists());
        assert!(!base.exists());
        assert!(
            root.path().join("a").exists(),
            "only the folder it created goes"
        );
    }
}
