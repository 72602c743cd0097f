//! Where the files of a BSON set are kept: the one thing the folder reader asks of storage.
//!
//! [`Store`] lists the files under a root and opens one; [`LocalFolder`] is a folder on
//! disk, whose uncompressed files are memory-mapped (the fast path). A prefix in object
//! storage is one more implementation — listing by prefix, reading by ranged GETs — and the
//! folder reader ([`BsonSet`](crate::BsonSet)) takes it unchanged.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// A file of a [`Store`], as its listing gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFile {
    /// Its path relative to the root, one component each.
    pub components: Vec<String>,
    /// How the store opens it and messages name it (a local path for [`LocalFolder`]).
    pub address: PathBuf,
    /// Its size in bytes.
    pub size: u64,
}

/// Files under one root, listed and read.
pub trait Store: Send + Sync + fmt::Debug {
    /// The name of the root itself: a mongodump database folder's name is a path component
    /// of its files (`shop/orders.bson` read from the folder `shop`).
    fn root_name(&self) -> io::Result<String>;

    /// Every regular file under the root, in name order at each level (so the result does
    /// not depend on the storage).
    fn list(&self) -> io::Result<Vec<StoredFile>>;

    /// The size of the file at `address`, in bytes.
    fn size(&self, address: &Path) -> io::Result<u64>;

    /// A stream of the file's bytes from its start.
    fn open(&self, address: &Path) -> io::Result<Box<dyn Read + Send>>;

    /// A stream of the file's bytes from byte `offset` (by default, read and dropped up to
    /// there; local files seek, object storage asks for ranges from there).
    fn open_at(&self, address: &Path, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        let mut r = self.open(address)?;
        let skipped = io::copy(&mut (&mut r).take(offset), &mut io::sink())?;
        if skipped < offset {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: shorter than {offset} bytes", address.display()),
            ));
        }
        Ok(r)
    }

    /// The file's bytes mapped into memory, when the store's files are local; `None` for a
    /// store that can only stream.
    fn map(&self, address: &Path) -> Option<io::Result<memmap2::Mmap>>;
}

/// A folder on the local disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFolder {
    root: PathBuf,
}

impl LocalFolder {
    /// The folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalFolder { root: root.into() }
    }
}

impl Store for LocalFolder {
    fn root_name(&self) -> io::Result<String> {
        Ok(self
            .root
            .canonicalize()?
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default())
    }

    fn list(&self) -> io::Result<Vec<StoredFile>> {
        let mut out = Vec::new();
        walk(&self.root, &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    fn size(&self, address: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(address)?.len())
    }

    fn open(&self, address: &Path) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(File::open(address)?))
    }

    fn open_at(&self, address: &Path, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        use std::io::{Seek, SeekFrom};
        let mut f = File::open(address)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(f))
    }

    fn map(&self, address: &Path) -> Option<io::Result<memmap2::Mmap>> {
        let file = match File::open(address) {
            Ok(f) => f,
            Err(e) => return Some(Err(e)),
        };
        // SAFETY: the map is read-only and private; a file truncated under us makes later
        // reads fault, which is the same risk every mmap-based reader takes on input files
        // (the README says what the user sees).
        Some(unsafe { memmap2::Mmap::map(&file) })
    }
}

/// Collects regular files under `dir` with their path components relative to the walk's
/// start, in name order.
fn walk(dir: &Path, prefix: &mut Vec<String>, out: &mut Vec<StoredFile>) -> io::Result<()> {
    let with_path = |path: &Path| {
        let path = path.to_path_buf();
        move |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(with_path(dir))?
        .collect::<Result<_, _>>()
        .map_err(with_path(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let kind = std::fs::metadata(&path).map_err(with_path(&path))?;
        prefix.push(name);
        if kind.is_dir() {
            walk(&path, prefix, out)?;
        } else if kind.is_file() {
            out.push(StoredFile {
                components: prefix.clone(),
                address: path,
                size: kind.len(),
            });
        }
        prefix.pop();
    }
    Ok(())
}
