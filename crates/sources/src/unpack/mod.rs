//! Unpacking a physical backup (a mongod data directory shipped as an archive) into a
//! directory: `*_qp.xb` (xbstream of qpress members), `.tar`, `.tar.gz`, `.tar.zst`, and a
//! bare qpress archive. The kind is told by the bytes, never by the file name.
//!
//! # The folder
//!
//! | file | what it does |
//! | --- | --- |
//! | `mod.rs` | the public API ([`unpack_file`], [`unpack`], [`UnpackOptions`], [`UnpackReport`], [`UnpackError`], [`space_needed`], [`available_space`]); counts the input, peels gzip/zstd and sniffs the container from its first bytes |
//! | `from_xbstream.rs` | xbstream chunks → members; `.qp` members through a qpress parser, `S` chunks as holes |
//! | `from_qpress.rs` | a bare qpress archive: `D`/`U` records → directories, `F` records → files |
//! | `from_tar.rs` | tar members written on the calling thread; links and devices listed, not created |
//! | `pipeline.rs` | the write side: the target directory (never following symlinks), the free-space watch, and the pipeline of decoder threads and an in-order writer thread |
//! | [`xbstream`] | the xbstream format: chunk reader, reassembly rules, writer |
//! | [`qpress`] | the qpress container: push parser, blocks, reader, writer |
//! | [`quicklz`] | the QuickLZ packet decoder (levels 1, 2 and 3) |
//!
//! How data flows, from the input to files in the scratch folder (`out`):
//!
//! ```text
//! input (a file, or any reader)
//!   ─► progress counter ─► gzip/zstd peeled (compression::decompress) ─► ReadAhead thread
//!   ─► sniff the first 512 bytes (mod.rs)
//!        ├─ XBSTCK01 ─► from_xbstream: xbstream::Reader ─► Tracker ─┬─ plain member ──────┐
//!        │                                                          └─ *.qp member        │
//!        │                                                              ─► qpress::Parser ┤
//!        ├─ qpress10 ─► from_qpress: qpress::Parser ──────────────────────────────────────┤
//!        │                                                                                ▼
//!        │      pipeline: operations numbered in stream order (mkdir, create, write, hole,
//!        │                block, close) ─► N decoder threads (QuickLZ blocks)
//!        │                ─► writer thread, in order ─► files in the scratch folder (`out`)
//!        └─ tar ─► from_tar: tar::Archive ─► files in `out`, written on the calling thread
//! ```
//!
//! **Streaming, parallel, bounded.** The input is read once. The calling thread parses
//! chunks and qpress records; QuickLZ blocks (independent by construction) go to a pool of
//! `threads` decoder threads over a bounded channel; one writer thread puts results back in
//! stream order and writes each file as its blocks complete. Every operation (create, write,
//! hole, close) carries a sequence number, so output order never depends on thread timing,
//! and at most `4 × threads` operations (each one block or one ≤ 4 MiB piece) are in flight.
//!
//! **Checks.** Every xbstream CRC-32 and every qpress Adler-32 is verified; errors name the
//! member and the archive offset of the chunk or block. A chunk's bytes are passed on only
//! once its CRC matched (chunks over 4 MiB are streamed in pieces: if a later piece fails the
//! CRC, the CRC error is the one reported).
//!
//! **Never outside `out`.** Member paths (xbstream paths, qpress names, tar names) go through
//! [`safe_path`](crate::safe_path). `out` must be empty or absent. Directories are created
//! one component at a time (an existing component must be a real directory, not a symlink)
//! and files with `O_CREAT|O_EXCL|O_NOFOLLOW`, so a second member unpacking to the same
//! path is an error ([`UnpackError::Duplicate`]), not an overwrite. Symlinks, hard links,
//! devices and FIFOs in tars are not created: they are listed in [`UnpackReport::skipped`].
//!
//! **Member rules for xbstream.** A member whose path ends in `.qp` is a single-file qpress
//! archive decoded on the fly into the path without `.qp` (what `innobackupex --decompress`,
//! i.e. `qpress -do`, does). Its one `F` record should be named after the member's basename
//! without `.qp`; when it is not, the member path wins (as with `qpress -do`) and the
//! difference is recorded in [`UnpackReport::warnings`]. `D`/`U` records, several `F`
//! records or none at all in a `.qp` member are errors ([`UnpackError::QpressLayout`]).
//! Other members are written as they are; `S` chunks leave holes (sparse files).
//!
//! **Disk space.** [`space_needed`] says, before anything is written, how much the unpacked
//! directory needs: exactly for an uncompressed tar (sum of member sizes, read from the
//! headers by seeking; headers that claim more than the file holds are damaged, and give no
//! estimate), only a lower bound for compressed tars and xbstream/qpress (the
//! unpacked size is recorded nowhere: seven eighths of the input size, since the containers
//! add little and compression only shrinks). [`unpack_file`] refuses to start when the
//! target's free space (`statvfs`) is below that plus [`UnpackOptions::space_margin`]. While
//! unpacking, free space is checked every 64 MiB written, whatever the format (a size in a
//! tar header is not trusted for it: a lying header is found when the member's bytes run
//! out, and reported as damage, not as a full disk); falling under the margin stops the
//! unpack with [`UnpackError::NoSpace`] instead of filling the disk.
//!
//! On error the partly written `out` is left as it is (the caller owns it: `convert` removes
//! its scratch directory).

use std::ffi::CString;
use std::fs::{self, File};
use std::io::{self, Cursor, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bsonflow_model::Progress;

use crate::compression::{self, Compression, ReadAhead};
use crate::input::StreamPosition;
use crate::safe_path::PathError;

mod from_qpress;
mod from_tar;
mod from_xbstream;
mod pipeline;
pub mod qpress;
pub mod quicklz;
pub mod xbstream;

use from_qpress::unpack_qpress;
use from_tar::{is_regular, unpack_tar};
use from_xbstream::unpack_xbstream;
use qpress::QpressError;
use xbstream::XbstreamError;

/// A tar header block: the one test every reader shares,
/// [`detect::is_tar_header`](crate::detect::is_tar_header) (checksum checked for ustar, GNU and
/// v7 headers alike).
pub use crate::detect::is_tar_header as is_tar;

/// How to unpack.
#[derive(Clone, Debug)]
pub struct UnpackOptions {
    /// Decoder threads for qpress blocks; 0 = one per available core.
    pub threads: usize,
    /// Check free space before and while writing.
    pub check_space: bool,
    /// Free space to keep on the target, in bytes (default 64 MiB).
    pub space_margin: u64,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            threads: 0,
            check_space: true,
            space_margin: 64 << 20,
        }
    }
}

impl UnpackOptions {
    fn worker_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
}

/// The container of a physical backup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhysicalFormat {
    /// An xbstream archive (`_qp.xb`); `.qp` members are decompressed.
    Xbstream,
    /// A tar of the data directory, compressed as said.
    Tar(Compression),
    /// A bare qpress archive (files and directories).
    Qpress,
}

impl PhysicalFormat {
    /// A short name for messages: `xbstream`, `tar`, `tar (gzip)`, `tar (zstd)` or `qpress`.
    pub fn describe(self) -> String {
        match self {
            PhysicalFormat::Xbstream => "xbstream".into(),
            PhysicalFormat::Tar(Compression::None) => "tar".into(),
            PhysicalFormat::Tar(c) => format!("tar ({})", c.name()),
            PhysicalFormat::Qpress => "qpress".into(),
        }
    }
}

/// How much disk the unpacked directory needs, as far as can be known before unpacking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpaceNeeded {
    /// The sum of the member sizes (uncompressed tar).
    Exact(u64),
    /// A lower bound (compressed tar, xbstream, qpress: the total is recorded nowhere).
    AtLeast(u64),
    /// Nothing known (a stream, or an unrecognised input).
    Unknown,
}

impl SpaceNeeded {
    /// The number of bytes known to be needed (0 when unknown).
    pub fn bytes(self) -> u64 {
        match self {
            SpaceNeeded::Exact(n) | SpaceNeeded::AtLeast(n) => n,
            SpaceNeeded::Unknown => 0,
        }
    }
}

/// A tar member that was not created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedMember {
    /// The member's name as stored in the tar (lossy UTF-8, control bytes escaped).
    pub path: String,
    /// "symlink", "hard link", "character device", …
    pub kind: &'static str,
    /// The link target, for links.
    pub target: Option<String>,
}

/// What an unpack did.
#[derive(Clone, Debug)]
pub struct UnpackReport {
    /// Regular files created.
    pub files: u64,
    /// Directories created.
    pub directories: u64,
    /// Total size of the files created (holes included).
    pub bytes_written: u64,
    /// Bytes of input consumed (compressed).
    pub input_bytes: u64,
    /// The container found in the (decompressed) input.
    pub format: PhysicalFormat,
    /// A gzip/zstd layer around the container (also in `Tar(..)`).
    pub compression: Compression,
    /// What was known about the space needed before unpacking.
    pub space: SpaceNeeded,
    /// Tar members not created (links, devices).
    pub skipped: Vec<SkippedMember>,
    /// Oddities that did not stop the unpack.
    pub warnings: Vec<String>,
    /// Wall-clock time from the first read of the input to the last file written.
    pub elapsed: Duration,
}

impl UnpackReport {
    /// Input consumed per second, in MB (10^6 bytes).
    pub fn input_mb_per_s(&self) -> f64 {
        self.input_bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Bytes written per second, in MB (10^6 bytes).
    pub fn output_mb_per_s(&self) -> f64 {
        self.bytes_written as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Why an unpack failed.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The input cannot be opened or read: at the start of the stream (while its compression
    /// and container are told), or inside a bare qpress archive. The message names the input
    /// and the I/O error.
    #[error("{label}: {source}")]
    Input {
        /// The input's name: its path for [`unpack_file`], the caller's label for [`unpack`].
        label: String,
        /// What the input or the decoder reported.
        source: io::Error,
    },
    /// Something in or of the target cannot be made: `out` cannot be listed or created, its
    /// free space cannot be queried, or a file or directory in it cannot be created or
    /// written. The message names the path.
    #[error("{}: {source}", .path.display())]
    Output {
        /// `out`, or the path in it that failed.
        path: PathBuf,
        /// What the filesystem reported.
        source: io::Error,
    },
    /// The target directory exists and is not empty; the message names it.
    #[error("{}: the target directory must be empty or absent", .0.display())]
    OutNotEmpty(PathBuf),
    /// The decompressed input starts with neither the xbstream nor the qpress magic, nor with
    /// a tar header; the message names the input and what it starts with.
    #[error("{label}: not a physical backup (expected xbstream, qpress or a tar, possibly gzip/zstd-compressed; found {found})")]
    NotPhysical {
        /// The input's name: its path for [`unpack_file`], the caller's label for [`unpack`].
        label: String,
        /// The first bytes (up to 8, in hex) and the outer compression when there is one, or
        /// `an empty input`.
        found: String,
    },
    /// The xbstream cannot be read or breaks its rules (a bad chunk, a CRC mismatch, an
    /// unsafe path, a member left unfinished …); the message names the input, then the
    /// [`XbstreamError`], which names the chunk's offset and member where it knows them.
    #[error("{label}: {source}")]
    Xbstream {
        /// The input's name: its path for [`unpack_file`], the caller's label for [`unpack`].
        label: String,
        /// What the chunk reader or the reassembly rules reported.
        source: XbstreamError,
    },
    /// The qpress data of a bare qpress archive or of a `.qp` xbstream member is damaged or
    /// cannot be decoded; the message names the input, the member and the fault.
    #[error("{label}: member {member}: {source}")]
    Qpress {
        /// The input's name: its path for [`unpack_file`], the caller's label for [`unpack`].
        label: String,
        /// The xbstream member path; for a bare qpress archive, the file being read (`-`
        /// outside any file).
        member: String,
        /// What the qpress parser or the QuickLZ decoder reported.
        source: QpressError,
    },
    /// A `.qp` xbstream member is not a single-file qpress archive: it holds directory
    /// records, more than one file record, or none. The message names the input, the member
    /// and what it holds.
    #[error("{label}: member {member}: {detail}")]
    QpressLayout {
        /// The input's name: its path for [`unpack_file`], the caller's label for [`unpack`].
        label: String,
        /// The xbstream member path.
        member: String,
        /// What the qpress stream holds instead of one file.
        detail: String,
    },
    /// A tar member's name breaks a [`safe_path`](crate::safe_path) rule (absolute, `..`,
    /// NUL, too long …); nothing is written for it. The message names the input, the member
    /// and the rule.
    #[error("{label}: tar member {member:?}: {source} (its data at {pos})")]
    UnsafeTarPath {
        /// The input's name: its path for [`unpack_file`], the caller's label for [`unpack`].
        label: String,
        /// The member's name for messages (lossy UTF-8, control bytes escaped).
        member: String,
        /// Where the member's data starts in the tar stream.
        pos: StreamPosition,
        /// The rule the name breaks.
        source: PathError,
    },
    /// The tar cannot be read to its end: a bad header, a read or decompression error, a
    /// member cut short, a damaged gzip or zstd trailer, or data after the end-of-archive
    /// marker. The message names the input, the member when the failure is inside one, and
    /// the position.
    #[error("{label}: tar{}: {source} (at {pos})", .member.as_ref().map(|m| format!(" member {m}")).unwrap_or_default())]
    Tar {
        /// The input's name: its path for [`unpack_file`], the caller's label for [`unpack`].
        label: String,
        /// The member being copied; `None` when a header could not be read.
        member: Option<String>,
        /// How far the tar stream had been read: offset in the decompressed stream, and raw
        /// bytes read for a compressed input.
        pos: StreamPosition,
        /// What the tar parser, the input or the decoder reported.
        source: io::Error,
    },
    /// A member unpacks to a path that an earlier member already created (files are created
    /// with `O_EXCL`, never overwritten); the message names the input, the member and the
    /// path.
    #[error("{label}: member {member} unpacks to {}, which another member already wrote", .path.display())]
    Duplicate {
        /// The input's name: its path for [`unpack_file`], the caller's label for [`unpack`].
        label: String,
        /// The second member, for messages.
        member: String,
        /// Where it unpacks to, relative to `out`.
        path: PathBuf,
    },
    /// Free space on the target fell below what is needed: before unpacking (see
    /// [`unpack_file`]), or at a check every 64 MiB written. The message names the directory, both numbers and the member
    /// about to be written, if any.
    #[error("not enough free space in {}: {available} bytes available, {needed} needed{}", .dir.display(), .member.as_ref().map(|m| format!(" (before {m})")).unwrap_or_default())]
    NoSpace {
        /// The target directory (`out`).
        dir: PathBuf,
        /// Bytes that had to be free: the [`space_needed`] estimate before unpacking, the
        /// tar member's size, or 0 while streaming, plus [`UnpackOptions::space_margin`].
        needed: u64,
        /// Bytes free for an unprivileged user ([`available_space`]).
        available: u64,
        /// The member about to be written; `None` for the check before unpacking.
        member: Option<String>,
    },
    /// The decoding pipeline stopped. Internal: the writer's own error is always reported
    /// instead, so callers never see this.
    #[error("unpack pipeline stopped")]
    Aborted,
}

/// How much disk unpacking `input` needs, as far as its headers tell (see the module docs).
pub fn space_needed(input: &Path) -> io::Result<SpaceNeeded> {
    let mut file = File::open(input)?;
    let size = file.metadata()?.len();
    let head = compression::read_prefix(&mut file, 512)?;
    let lower = SpaceNeeded::AtLeast(size - size / 8);
    Ok(match Compression::sniff(&head) {
        Compression::Gzip | Compression::Zstd => lower,
        Compression::None if head.starts_with(xbstream::MAGIC) => lower,
        Compression::None if head.starts_with(qpress::MAGIC) => lower,
        Compression::None if is_tar(&head) => {
            file.seek(SeekFrom::Start(0))?;
            let mut archive = tar::Archive::new(file);
            let mut total = 0u64;
            for entry in archive.entries_with_seek()? {
                let entry = entry?;
                if is_regular(entry.header().entry_type()) {
                    total += entry.size();
                }
            }
            // The members of an uncompressed tar cannot hold more than the file: headers
            // that say otherwise are damaged, and the unpack itself will say where.
            if total > size {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the tar's headers claim more bytes than the file holds",
                ));
            }
            SpaceNeeded::Exact(total)
        }
        Compression::None => SpaceNeeded::Unknown,
    })
}

/// Free bytes for an unprivileged user on the file system holding `dir` (`statvfs`).
pub fn available_space(dir: &Path) -> io::Result<u64> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `libc::statvfs` is a plain C struct of integers (and reserved integer fields),
    // for which all-zero bytes are a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call, and `&mut st` points
    // to a live, properly sized and aligned `statvfs` that the call only writes into.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

/// Unpacks a physical backup file (xbstream of `.qp` members, a qpress archive, or a
/// tar/tar.gz/tar.zst of a data directory; told by its bytes) into `out` (created if needed;
/// must be empty or absent).
pub fn unpack_file(
    input: &Path,
    out: &Path,
    options: &UnpackOptions,
    progress: &Progress,
) -> Result<UnpackReport, UnpackError> {
    let label = input.display().to_string();
    let input_err = |source| UnpackError::Input {
        label: label.clone(),
        source,
    };
    let file = File::open(input).map_err(input_err)?;
    let size = file.metadata().map_err(input_err)?.len();
    let space = space_needed(input).unwrap_or(SpaceNeeded::Unknown);
    prepare_out(out)?;
    if options.check_space {
        let available = available_space(out).map_err(|source| UnpackError::Output {
            path: out.to_path_buf(),
            source,
        })?;
        let needed = space.bytes().saturating_add(options.space_margin);
        if available < needed {
            return Err(UnpackError::NoSpace {
                dir: out.to_path_buf(),
                needed,
                available,
                member: None,
            });
        }
    }
    progress.add_total(size);
    run(Box::new(file), &label, out, options, progress, space)
}

/// Unpacks a physical backup read from `reader` (see [`unpack_file`]); `label` names the
/// input in messages. Nothing is known about the space needed beforehand: free space is only
/// checked while writing.
pub fn unpack<R: Read + Send + 'static>(
    reader: R,
    label: &str,
    out: &Path,
    options: &UnpackOptions,
    progress: &Progress,
) -> Result<UnpackReport, UnpackError> {
    prepare_out(out)?;
    run(
        Box::new(reader),
        label,
        out,
        options,
        progress,
        SpaceNeeded::Unknown,
    )
}

fn prepare_out(out: &Path) -> Result<(), UnpackError> {
    let err = |source| UnpackError::Output {
        path: out.to_path_buf(),
        source,
    };
    match fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(UnpackError::OutNotEmpty(out.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(out).map_err(err),
        Err(e) => Err(err(e)),
    }
}

/// Counts the compressed bytes read (on whichever thread reads them).
struct Counted<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Passes the count of [`Counted`] on to the caller's [`Progress`] as the parsing thread
/// reads (the count runs at most the read-ahead depth ahead of the parser).
struct ProgressSync<'p, R> {
    inner: R,
    bytes: Arc<AtomicU64>,
    progress: &'p Progress,
    reported: u64,
}

impl<R> ProgressSync<'_, R> {
    fn sync(&mut self) {
        let now = self.bytes.load(Ordering::Relaxed);
        if now > self.reported {
            self.progress.add(now - self.reported);
            self.reported = now;
        }
    }
}

impl<R: Read> Read for ProgressSync<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sync();
        Ok(n)
    }
}

/// Shared state of one unpack.
struct Ctx<'a> {
    label: String,
    out: &'a Path,
    options: &'a UnpackOptions,
    warnings: Vec<String>,
    skipped: Vec<SkippedMember>,
    /// Raw bytes read from the input, when it is compressed (for positions in messages).
    compressed: Option<Arc<AtomicU64>>,
}

impl Ctx<'_> {
    /// The position of `offset` of the decompressed stream, with the raw bytes read so far.
    fn at(&self, offset: u64) -> StreamPosition {
        StreamPosition {
            offset,
            compressed: self.compressed.as_ref().map(|c| c.load(Ordering::Relaxed)),
        }
    }
}

fn run(
    reader: Box<dyn Read + Send>,
    label: &str,
    out: &Path,
    options: &UnpackOptions,
    progress: &Progress,
    space: SpaceNeeded,
) -> Result<UnpackReport, UnpackError> {
    let started = Instant::now();
    let bytes = Arc::new(AtomicU64::new(0));
    let counted = Counted {
        inner: reader,
        bytes: Arc::clone(&bytes),
    };
    let input_err = |source| UnpackError::Input {
        label: label.to_string(),
        source,
    };
    let (compression, decompressed) = compression::decompress(counted).map_err(input_err)?;
    let mut ahead = ReadAhead::spawn(decompressed, ReadAhead::BLOCK, 4);
    let head = compression::read_prefix(&mut ahead, 512).map_err(|e| {
        input_err(io::Error::new(
            e.kind(),
            format!(
                "{e} (the decompressed stream fails before byte 512; {} compressed bytes read)",
                bytes.load(Ordering::Relaxed)
            ),
        ))
    })?;
    let mut ctx = Ctx {
        label: label.to_string(),
        out,
        options,
        warnings: Vec::new(),
        skipped: Vec::new(),
        compressed: (compression != Compression::None).then(|| Arc::clone(&bytes)),
    };
    let format;
    let stats;
    let mut stream = ProgressSync {
        inner: Cursor::new(head.clone()).chain(ahead),
        bytes: Arc::clone(&bytes),
        progress,
        reported: 0,
    };
    if head.starts_with(xbstream::MAGIC) {
        format = PhysicalFormat::Xbstream;
        stats = unpack_xbstream(&mut stream, &mut ctx)?;
    } else if head.starts_with(qpress::MAGIC) {
        format = PhysicalFormat::Qpress;
        stats = unpack_qpress(&mut stream, &mut ctx)?;
    } else if is_tar(&head) {
        format = PhysicalFormat::Tar(compression);
        stats = unpack_tar(&mut stream, &mut ctx)?;
    } else {
        let found = match compression {
            Compression::None => describe_head(&head),
            c => format!("{} data holding {}", c.name(), describe_head(&head)),
        };
        return Err(UnpackError::NotPhysical {
            label: label.to_string(),
            found,
        });
    }
    stream.sync();
    Ok(UnpackReport {
        files: stats.files,
        directories: stats.directories,
        bytes_written: stats.bytes,
        input_bytes: bytes.load(Ordering::Relaxed),
        format,
        compression,
        space,
        skipped: ctx.skipped,
        warnings: ctx.warnings,
        elapsed: started.elapsed(),
    })
}

fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "an empty input".into();
    }
    let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("bytes {}", shown.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_detection() {
        let mut header = tar::Header::new_gnu();
        header.set_path("a").unwrap();
        header.set_size(0);
        header.set_cksum();
        assert!(is_tar(header.as_bytes()));
        let mut old = tar::Header::new_old();
        old.set_path("a").unwrap();
        old.set_size(0);
        old.set_cksum();
        assert!(is_tar(old.as_bytes()));
        let mut bad = *old.as_bytes();
        bad[0] ^= 1;
        assert!(!is_tar(&bad));
        assert!(!is_tar(&[0u8; 512]));
        assert!(!is_tar(b"short"));
    }
}
