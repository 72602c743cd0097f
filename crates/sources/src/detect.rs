//! What an input is, told by its content and layout — never by its name alone.
//!
//! | first bytes (after gzip/zstd, which are peeled first) | input |
//! | --- | --- |
//! | `ustar` at 257, or a valid v7 header checksum | tar: a BSON set, or a data directory when its first telling member is a WiredTiger file |
//! | `6d e2 99 81` | mongodump `--archive` |
//! | `XBSTCK01` | xbstream (a physical `_qp.xb` backup) |
//! | `qpress10` | a qpress archive |
//! | a plausible BSON document | a loose BSON stream |
//!
//! A folder is a data directory when it holds `WiredTiger.turtle`, `WiredTiger.wt` or
//! `WiredTiger.backup`; otherwise it is read as a BSON set.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::compression::{self, Compression};

/// The kinds of input bsonflow reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A folder of BSON files (mongodump or cloud-download layout).
    BsonFolder,
    /// A folder that is a mongod data directory (WiredTiger files).
    DataDirectory,
    /// A folder of another storage engine's files (RocksDB), which bsonflow cannot read.
    UnsupportedDataDirectory(String),
    /// One BSON stream (a `.bson` file), possibly compressed.
    BsonFile(Compression),
    /// A mongodump `--archive` stream, possibly compressed (ApsaraDB's `.ar` is gzipped).
    MongodumpArchive(Compression),
    /// A tar of a BSON set.
    BsonTar(Compression),
    /// A tar of a data directory (a physical backup of an older instance).
    PhysicalTar(Compression),
    /// An xbstream archive (a physical `_qp.xb` backup).
    Xbstream(Compression),
    /// A qpress archive.
    Qpress,
}

impl InputKind {
    /// A short description for messages.
    pub fn describe(&self) -> String {
        let wrapped = |c: &Compression, what: &str| match c {
            Compression::None => what.to_string(),
            c => format!("{what} ({})", c.name()),
        };
        match self {
            InputKind::BsonFolder => "folder of BSON files".into(),
            InputKind::DataDirectory => "mongod data directory (WiredTiger)".into(),
            InputKind::UnsupportedDataDirectory(why) => why.clone(),
            InputKind::BsonFile(c) => wrapped(c, "BSON file"),
            InputKind::MongodumpArchive(c) => wrapped(c, "mongodump archive"),
            InputKind::BsonTar(c) => wrapped(c, "tar of BSON files"),
            InputKind::PhysicalTar(c) => wrapped(c, "tar of a data directory"),
            InputKind::Xbstream(c) => wrapped(c, "xbstream physical backup"),
            InputKind::Qpress => "qpress archive".into(),
        }
    }
}

/// An input that cannot be recognised.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: empty file", path.display())]
    Empty { path: PathBuf },
    #[error("{}: not a recognised backup format ({what}); bsonflow reads BSON files and folders, mongodump archives, tar/tar.gz/tar.zst packages, xbstream (_qp.xb) backups and mongod data directories", path.display())]
    Unknown { path: PathBuf, what: String },
}

/// Tells what `path` is.
pub fn detect(path: &Path) -> Result<InputKind, DetectError> {
    let io_err = |source| DetectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Ok(detect_folder(path));
    }
    let mut file = File::open(path).map_err(io_err)?;
    let raw_head = compression::read_prefix(&mut file, 4).map_err(io_err)?;
    if raw_head.is_empty() {
        return Err(DetectError::Empty {
            path: path.to_path_buf(),
        });
    }
    let outer = Compression::sniff(&raw_head);
    let file = File::open(path).map_err(io_err)?;
    let (_, mut reader) = compression::decompress(file).map_err(io_err)?;
    let head = compression::read_prefix(&mut reader, 512).map_err(io_err)?;
    if head.starts_with(b"XBSTCK01") {
        return Ok(InputKind::Xbstream(outer));
    }
    if head.starts_with(b"qpress10") {
        return Ok(InputKind::Qpress);
    }
    if head.starts_with(&[0x6d, 0xe2, 0x99, 0x81]) {
        return Ok(InputKind::MongodumpArchive(outer));
    }
    if is_tar_header(&head) {
        let file = File::open(path).map_err(io_err)?;
        let (_, reader) = compression::decompress(file).map_err(io_err)?;
        return Ok(match tar_is_physical(reader) {
            true => InputKind::PhysicalTar(outer),
            false => InputKind::BsonTar(outer),
        });
    }
    if looks_like_bson(&head) {
        return Ok(InputKind::BsonFile(outer));
    }
    Err(DetectError::Unknown {
        path: path.to_path_buf(),
        what: if outer == Compression::None {
            format!("first bytes {:02x?}", &head[..head.len().min(8)])
        } else {
            format!(
                "{} stream whose content starts {:02x?}",
                outer.name(),
                &head[..head.len().min(8)]
            )
        },
    })
}

fn detect_folder(path: &Path) -> InputKind {
    let has = |name: &str| path.join(name).exists();
    if has("WiredTiger.turtle") || has("WiredTiger.wt") || has("WiredTiger.backup") {
        return InputKind::DataDirectory;
    }
    let rocks = has("CURRENT") && !has("WiredTiger")
        || path.join("db").join("CURRENT").exists() && !has("WiredTiger");
    if rocks {
        return InputKind::UnsupportedDataDirectory(
            "a RocksDB data directory (no WiredTiger files); bsonflow reads WiredTiger only — take a logical backup of it instead".into(),
        );
    }
    InputKind::BsonFolder
}

/// A POSIX/GNU tar header (`ustar` magic), or an old v7 header whose checksum is right.
pub fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < 512 {
        return false;
    }
    if &block[257..262] == b"ustar" {
        return true;
    }
    // v7: the checksum field (148..156, octal) equals the sum of the header bytes with the
    // field itself counted as spaces.
    let field = std::str::from_utf8(&block[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == ' ' || c == '\0'));
    let Some(Ok(stored)) = field.map(|s| u32::from_str_radix(s, 8)) else {
        return false;
    };
    let sum: u32 = block[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u32
            }
        })
        .sum();
    stored == sum && block[0] != 0
}

/// Whether the first members of a tar say it holds a data directory: decided by the first
/// member that is either a WiredTiger file or a BSON-set file.
fn tar_is_physical(reader: impl Read) -> bool {
    let mut archive = tar::Archive::new(reader);
    let Ok(entries) = archive.entries() else {
        return false;
    };
    for entry in entries.take(10_000) {
        let Ok(entry) = entry else { return false };
        let Ok(path) = entry.path() else { continue };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("WiredTiger") || name.ends_with(".wt") || name == "storage.bson" {
            return true;
        }
        if name.contains(".bson") || name.ends_with(".metadata.json") {
            return false;
        }
    }
    false
}

/// A plausible BSON document at the start: a length of at least 5 within bounds, and the
/// first element type valid (or the document empty).
fn looks_like_bson(head: &[u8]) -> bool {
    if head.len() < 5 {
        return false;
    }
    let len = i32::from_le_bytes(head[..4].try_into().unwrap());
    if len < 5 || len as usize > crate::bson_stream::MAX_DOCUMENT_BYTES {
        return false;
    }
    if (len as usize) <= head.len() && head[len as usize - 1] != 0 {
        return false;
    }
    matches!(head[4], 0x00..=0x13 | 0x7f | 0xff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn files_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let doc = [5u8, 0, 0, 0, 0];
        // Names deliberately mislead: content decides.
        let p = write(dir.path(), "x.tar.gz", &doc);
        assert_eq!(detect(&p).unwrap(), InputKind::BsonFile(Compression::None));
        let p = write(dir.path(), "y.bson", &gz(&doc));
        assert_eq!(detect(&p).unwrap(), InputKind::BsonFile(Compression::Gzip));
        let p = write(dir.path(), "a.ar", &gz(&[0x6d, 0xe2, 0x99, 0x81, 1, 2]));
        assert_eq!(
            detect(&p).unwrap(),
            InputKind::MongodumpArchive(Compression::Gzip)
        );
        let p = write(dir.path(), "b", b"XBSTCK01\0P");
        assert_eq!(detect(&p).unwrap(), InputKind::Xbstream(Compression::None));
        let p = write(dir.path(), "c", b"hello world, not a backup");
        assert!(matches!(detect(&p), Err(DetectError::Unknown { .. })));
        let p = write(dir.path(), "d", b"");
        assert!(matches!(detect(&p), Err(DetectError::Empty { .. })));
    }

    fn tar_of(members: &[&str]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for m in members {
            let mut h = tar::Header::new_gnu();
            h.set_size(5);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, m, &[5u8, 0, 0, 0, 0][..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn tars_of_bson_sets_and_of_data_directories() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "t1",
            &gz(&tar_of(&[
                "dump/shop/orders.bson",
                "dump/shop/orders.metadata.json",
            ])),
        );
        assert_eq!(detect(&p).unwrap(), InputKind::BsonTar(Compression::Gzip));
        let p = write(
            dir.path(),
            "t2",
            &zstd::encode_all(&tar_of(&["data/WiredTiger", "data/a.wt"])[..], 1).unwrap(),
        );
        assert_eq!(
            detect(&p).unwrap(),
            InputKind::PhysicalTar(Compression::Zstd)
        );
    }

    #[test]
    fn folders() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect(dir.path()).unwrap(), InputKind::BsonFolder);
        write(dir.path(), "WiredTiger.turtle", b"x");
        assert_eq!(detect(dir.path()).unwrap(), InputKind::DataDirectory);
        let rocks = tempfile::tempdir().unwrap();
        write(rocks.path(), "CURRENT", b"MANIFEST-000001\n");
        assert!(matches!(
            detect(rocks.path()).unwrap(),
            InputKind::UnsupportedDataDirectory(_)
        ));
    }
}
