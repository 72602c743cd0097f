//! What an input is, told by its content and layout — never by its name alone.
//!
//! | first bytes (after gzip/zstd, which are peeled first) | input |
//! | --- | --- |
//! | a tar header whose checksum is right (ustar, GNU or v7; [`is_tar_header`]) | tar: a BSON set, or a data directory when its first telling member is a WiredTiger file |
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
    /// The input could not be stat'ed, opened or read (its first bytes, or the first members
    /// of a tar); the message names the path and the I/O error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The input given to [`detect`].
        path: PathBuf,
        /// What the filesystem or the decompressor reported.
        #[source]
        source: io::Error,
    },
    /// The input's compressed content cannot be read at its start: the gzip or zstd stream
    /// is damaged within its first bytes. The message names the path, the compression, the
    /// decoder's error and how many compressed bytes were read.
    #[error("{}: its {} content cannot be read at its start (the decompressed stream fails before byte 512; {read} compressed bytes read): {source}", path.display(), compression.name())]
    Content {
        /// The input given to [`detect`].
        path: PathBuf,
        /// The compression told by the first bytes.
        compression: Compression,
        /// Compressed bytes read when the decoder failed.
        read: u64,
        /// What the decoder reported.
        #[source]
        source: io::Error,
    },
    /// The input is a file of zero bytes.
    #[error("{}: empty file", path.display())]
    Empty {
        /// The input given to [`detect`].
        path: PathBuf,
    },
    /// The content, after gzip or zstd is peeled, matches none of the forms bsonflow reads;
    /// the message names the path, the first bytes seen and the forms that are read.
    #[error("{}: not a recognised backup format ({what}, at byte 0); bsonflow reads BSON files and folders, mongodump archives, tar/tar.gz/tar.zst packages, xbstream (_qp.xb) backups and mongod data directories", path.display())]
    Unknown {
        /// The input given to [`detect`].
        path: PathBuf,
        /// The first bytes (at most 8, in hex) and the outer compression when there is one.
        what: String,
    },
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
    let open = || -> io::Result<Box<dyn Read + Send>> { Ok(Box::new(File::open(path)?)) };
    detect_stream(path, &open)
}

/// Tells what one stream of bytes is (a file, or an object in object storage) by its
/// content; `open` gives a fresh stream from its start each time it is called (it is called
/// up to three times, and each stream is read only as far as the decision needs), `label`
/// names it in errors.
pub fn detect_stream(
    label: &Path,
    open: &dyn Fn() -> io::Result<Box<dyn Read + Send>>,
) -> Result<InputKind, DetectError> {
    let path = label;
    let io_err = |source| DetectError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = open().map_err(io_err)?;
    let raw_head = compression::read_prefix(&mut file, 4).map_err(io_err)?;
    drop(file);
    if raw_head.is_empty() {
        return Err(DetectError::Empty {
            path: path.to_path_buf(),
        });
    }
    let outer = Compression::sniff(&raw_head);
    let counted = compression::CountingReader::new(open().map_err(io_err)?);
    let read = counted.position();
    let content_err = |source| DetectError::Content {
        path: path.to_path_buf(),
        compression: outer,
        read: read.load(std::sync::atomic::Ordering::Relaxed),
        source,
    };
    let (_, mut reader) = compression::decompress(counted).map_err(io_err)?;
    let head = compression::read_prefix(&mut reader, 512).map_err(|e| match outer {
        Compression::None => io_err(e),
        _ => content_err(e),
    })?;
    drop(reader);
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
        let (_, reader) = compression::decompress(open().map_err(io_err)?).map_err(io_err)?;
        return Ok(match tar_is_physical(reader) {
            true => InputKind::PhysicalTar(outer),
            false => InputKind::BsonTar(outer),
        });
    }
    if looks_like_bson(&head) {
        return Ok(InputKind::BsonFile(outer));
    }
    let mut what = if outer == Compression::None {
        format!("first bytes {:02x?}", &head[..head.len().min(8)])
    } else {
        format!(
            "{} stream whose content starts {:02x?}",
            outer.name(),
            &head[..head.len().min(8)]
        )
    };
    if head.len() == 512 && head[257..262] == *b"ustar" {
        what.push_str(
            "; it has a tar header's `ustar` mark, but the header's checksum (bytes 148..156) \
             does not match: the first tar header is damaged",
        );
    }
    Err(DetectError::Unknown {
        path: path.to_path_buf(),
        what,
    })
}

/// What a listing of files says a folder (or an object-storage prefix) is: a data directory
/// when it holds `WiredTiger.turtle`, `WiredTiger.wt` or `WiredTiger.backup` at its top, a
/// RocksDB directory (unsupported), otherwise a BSON set. `has` answers whether a path
/// relative to the folder exists.
pub fn detect_listing(has: &dyn Fn(&str) -> bool) -> InputKind {
    if has("WiredTiger.turtle") || has("WiredTiger.wt") || has("WiredTiger.backup") {
        return InputKind::DataDirectory;
    }
    let rocks = has("CURRENT") && !has("WiredTiger") || has("db/CURRENT") && !has("WiredTiger");
    if rocks {
        return InputKind::UnsupportedDataDirectory(
            "a RocksDB data directory (no WiredTiger files); bsonflow reads WiredTiger only — take a logical backup of it instead".into(),
        );
    }
    InputKind::BsonFolder
}

fn detect_folder(path: &Path) -> InputKind {
    detect_listing(&|rel| path.join(rel).exists())
}

/// A tar header block, judged as GNU tar judges one (`tar_checksum` in its `list.c`): the
/// checksum field (bytes 148..156, octal) equals the sum of the 512 bytes of the block with
/// the field itself counted as eight spaces, summed as unsigned bytes (POSIX) or as signed
/// ones (what some old tars wrote). The rule is the same for ustar, GNU and v7 headers; the
/// `ustar` magic alone is not enough (a damaged header keeps its magic, and the tar reader
/// would refuse it anyway).
///
/// The field is read as GNU tar reads it: one leading NUL and then leading white space are
/// skipped, at least one octal digit must follow, and the digits must end at the end of
/// the field, at a NUL or at white space. A block of zeros, or fewer than 512 bytes, is not
/// a header.
///
/// Every reader that sniffs a tar uses this one test: [`detect`], the tar reader
/// ([`tar_set`](crate::tar_set)) and [`unpack`](crate::unpack) (as `unpack::is_tar`).
pub fn is_tar_header(block: &[u8]) -> bool {
    const FIELD: std::ops::Range<usize> = 148..156;
    let Some(block) = block.get(..512) else {
        return false;
    };
    let Some(stored) = octal_checksum(&block[FIELD]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if FIELD.contains(&i) { b' ' } else { b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || stored == signed
}

/// The value of a tar checksum field (see [`is_tar_header`]), or `None` when it is not a
/// number.
fn octal_checksum(field: &[u8]) -> Option<i64> {
    // C's isspace(): space, \t, \n, \v, \f, \r.
    let is_space = |b: u8| matches!(b, b' ' | b'\t'..=b'\r');
    let field = field.strip_prefix(&[0]).unwrap_or(field);
    let start = field.iter().position(|&b| !is_space(b))?;
    let digits = field[start..]
        .iter()
        .take_while(|b| (b'0'..=b'7').contains(b))
        .count();
    if digits == 0 {
        return None;
    }
    match field.get(start + digits) {
        None | Some(0) => {}
        Some(&b) if is_space(b) => {}
        Some(_) => return None,
    }
    // At most eight digits: no overflow.
    let value = field[start..start + digits]
        .iter()
        .fold(0i64, |n, &d| n * 8 + i64::from(d - b'0'));
    Some(value)
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

    /// `block` with its checksum field (148..156) replaced by `field`.
    fn with_field(block: &[u8], field: &[u8]) -> Vec<u8> {
        assert_eq!(field.len(), 8, "{field:?}");
        let mut b = block[..512].to_vec();
        b[148..156].copy_from_slice(field);
        b
    }

    /// Checks one well-formed header block whose unsigned sum is `unsigned` and signed sum
    /// `signed`: accepted as written, with its checksum spelt the ways tars spell it, with the
    /// signed sum; refused when the field is not a number or a byte is damaged.
    fn check_header(what: &str, block: &[u8], unsigned: i64, signed: i64) {
        assert!(is_tar_header(block), "{what}: as written");
        for field in [
            format!("{unsigned:06o}\0 "), // POSIX, GNU tar, Python
            format!("{unsigned:07o}\0"),  // the tar crate
            format!("{unsigned:>6o}\0 "), // v7: space-padded
            format!("{unsigned:>7o} "),
            format!("{unsigned:08o}"),                   // no terminator
            format!("{:\0<8}", format!("{unsigned:o}")), // NUL-padded
            format!("\0{unsigned:06o} "),                // a leading NUL, which GNU tar skips
            format!("{signed:06o}\0 "),                  // the signed sum
        ] {
            assert!(
                is_tar_header(&with_field(block, field.as_bytes())),
                "{what}: checksum field {field:?}"
            );
        }
        for field in [
            format!("{:06o}\0 ", unsigned + 1),
            format!("{unsigned:06o}x "), // the digits are right, what follows is not
            format!("{unsigned:06o}8 "),
            format!("+{unsigned:06o} "),
            "        ".to_string(),
            "\0\0\0\0\0\0\0\0".to_string(),
        ] {
            assert!(
                !is_tar_header(&with_field(block, field.as_bytes())),
                "{what}: checksum field {field:?}"
            );
        }
        // Damage anywhere (the name, the size, the magic's neighbourhood) is caught: the
        // `ustar` magic alone does not make a header.
        for at in [0, 1, 124, 136, 156, 200, 263, 300, 511] {
            let mut bad = block[..512].to_vec();
            bad[at] ^= 0x01;
            assert!(!is_tar_header(&bad), "{what}: byte {at} flipped");
        }
        assert!(!is_tar_header(&block[..511]), "{what}: short");
        assert!(!is_tar_header(&[0u8; 512]));
    }

    /// Python's `tarfile` writes the headers; its `calc_chksums` gives both sums. The member
    /// name is not ASCII, so the signed and unsigned sums differ.
    const PY_TAR_HEADERS: &str = r#"
import io, tarfile
formats = (("ustar", tarfile.USTAR_FORMAT), ("gnu", tarfile.GNU_FORMAT), ("pax", tarfile.PAX_FORMAT))
for name, fmt in formats:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8") as tar:
        info = tarfile.TarInfo("db/collection-\u00e9t\u00e9-0.wt")
        data = b"WiredTiger page"
        info.size = len(data)
        info.mtime = 1700000000
        info.uname = "mongod"
        tar.addfile(info, io.BytesIO(data))
    block = buf.getvalue()[:512]
    unsigned, signed = tarfile.calc_chksums(block)
    print(name, block.hex(), unsigned, signed)
"#;

    /// The sum of a header's bytes taken as signed, the checksum field counted as spaces.
    fn signed_sum(block: &[u8]) -> i64 {
        block[..512]
            .iter()
            .enumerate()
            .map(|(i, &b)| match i {
                148..156 => 32,
                _ => i64::from(b as i8),
            })
            .sum()
    }

    fn unhex(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn tar_headers_from_python_tarfile() {
        let Some(python) = bsonflow_testkit::python(&["tarfile"]) else {
            return;
        };
        let out = bsonflow_testkit::run_python(&python, PY_TAR_HEADERS, &[]);
        let out = String::from_utf8(out).unwrap();
        let mut seen = Vec::new();
        for line in out.lines() {
            let [name, hex, unsigned, signed] = line.split(' ').collect::<Vec<_>>()[..] else {
                panic!("unexpected line {line:?}");
            };
            let block = unhex(hex);
            let unsigned: i64 = unsigned.parse().unwrap();
            let signed: i64 = signed.parse().unwrap();
            assert_eq!(block.len(), 512);
            // Python writes six digits, a NUL and the space left from the blank field.
            assert_eq!(block[148..156], *format!("{unsigned:06o}\0 ").as_bytes());
            if name != "pax" {
                // pax: the first block is the extended header, whose name is ASCII.
                assert_ne!(unsigned, signed, "{name}: the name has bytes over 0x7f");
            }
            check_header(&format!("Python tarfile {name}"), &block, unsigned, signed);
            seen.push(name.to_string());
        }
        assert_eq!(seen, ["ustar", "gnu", "pax"]);
    }

    /// GNU tar itself, in each of its formats (v7 has no magic at all); skipped when GNU tar
    /// is not installed.
    #[test]
    fn tar_headers_from_gnu_tar() {
        let gnu_tar = std::process::Command::new("tar")
            .arg("--version")
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains("GNU")
            });
        if !gnu_tar {
            bsonflow_testkit::skip::<()>("GNU tar is not installed");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "collection-\u{e9}t\u{e9}-0.wt",
            b"WiredTiger page",
        );
        for format in ["v7", "oldgnu", "gnu", "ustar", "posix"] {
            let out = std::process::Command::new("tar")
                .arg(format!("--format={format}"))
                .args(["--owner=0", "--group=0", "-cf", "-", "-C"])
                .arg(dir.path())
                .arg("collection-\u{e9}t\u{e9}-0.wt")
                .output()
                .unwrap();
            assert!(out.status.success(), "{format}: {:?}", out);
            let block = &out.stdout[..512];
            // GNU tar writes six digits, a NUL and the space left from the blank field.
            assert_eq!(block[154..156], [0, b' '], "{format}");
            let digits = std::str::from_utf8(&block[148..154]).unwrap();
            let unsigned = i64::from_str_radix(digits, 8).unwrap();
            let signed = signed_sum(block);
            if format == "v7" {
                assert!(block[257..263].iter().all(|&b| b == 0), "v7: no magic");
            }
            check_header(
                &format!("GNU tar --format={format}"),
                block,
                unsigned,
                signed,
            );
        }
    }

    /// The tar crate's three header kinds, through its `Builder`.
    #[test]
    fn tar_headers_from_the_tar_crate() {
        let kinds = [
            ("old", tar::Header::new_old()),
            ("gnu", tar::Header::new_gnu()),
            ("ustar", tar::Header::new_ustar()),
        ];
        for (what, mut h) in kinds {
            let mut b = tar::Builder::new(Vec::new());
            h.set_size(5);
            h.set_mode(0o644);
            b.append_data(&mut h, "db/a.wt", &[1u8, 2, 3, 4, 5][..])
                .unwrap();
            let bytes = b.into_inner().unwrap();
            let block = &bytes[..512];
            let unsigned = i64::from(h.cksum().unwrap());
            let signed = signed_sum(block);
            check_header(&format!("tar crate {what}"), block, unsigned, signed);
        }
    }
}
