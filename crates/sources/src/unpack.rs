//! Unpacking a physical backup (a mongod data directory shipped as an archive) into a
//! directory: `*_qp.xb` (xbstream of qpress members), `.tar`, `.tar.gz`, `.tar.zst`, and a
//! bare qpress archive. The kind is told by the bytes, never by the file name.
//!
//! ```text
//! file ─► progress counter ─► gzip/zstd (compression::decompress) ─► ReadAhead thread
//!   ├─ XBSTCK01 ─► xbstream::Reader ─► Tracker ─┬─ plain member ───────────────┐
//!   │                                            └─ *.qp member ─► qpress::Parser│
//!   │                                                   blocks ─► N decoder threads ─► writer thread (in order)
//!   ├─ qpress10 ─► qpress::Parser ─► (same decoders and writer)
//!   └─ tar ─► tar::Archive ─► files written on the calling thread
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
//! [`safe_path`]. `out` must be empty or absent. Directories are created
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
//! headers by seeking), only a lower bound for compressed tars and xbstream/qpress (the
//! unpacked size is recorded nowhere: seven eighths of the input size, since the containers
//! add little and compression only shrinks). [`unpack_file`] refuses to start when the
//! target's free space (`statvfs`) is below that plus [`UnpackOptions::space_margin`]. While
//! unpacking, free space is checked before each tar member (its size is in its header) and
//! after every 64 MiB written for xbstream/qpress; falling under the margin stops the unpack
//! with [`UnpackError::NoSpace`] instead of filling the disk.
//!
//! On error the partly written `out` is left as it is (the caller owns it: `convert` removes
//! its scratch directory).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Cursor, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bsonflow_model::Progress;
use crossbeam_channel::{bounded, Receiver, Sender};

use crate::compression::{self, Compression, ReadAhead};
use crate::qpress::{self, QpressError};
use crate::quicklz;
use crate::safe_path::{self, PathError};
use crate::xbstream::{self, ChunkType, Tracked, XbstreamError};

/// Size of the pieces in which payloads are read and passed on.
const PIECE: usize = 4 << 20;
/// Free space is re-checked after this many bytes written (xbstream, qpress).
const SPACE_CHECK_INTERVAL: u64 = 64 << 20;

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
    pub format: PhysicalFormat,
    /// A gzip/zstd layer around the container (also in `Tar(..)`).
    pub compression: Compression,
    /// What was known about the space needed before unpacking.
    pub space: SpaceNeeded,
    /// Tar members not created (links, devices).
    pub skipped: Vec<SkippedMember>,
    /// Oddities that did not stop the unpack.
    pub warnings: Vec<String>,
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
    #[error("{label}: {source}")]
    Input { label: String, source: io::Error },
    #[error("{}: {source}", .path.display())]
    Output { path: PathBuf, source: io::Error },
    #[error("{}: the target directory must be empty or absent", .0.display())]
    OutNotEmpty(PathBuf),
    #[error("{label}: not a physical backup (expected xbstream, qpress or a tar, possibly gzip/zstd-compressed; found {found})")]
    NotPhysical { label: String, found: String },
    #[error("{label}: {source}")]
    Xbstream {
        label: String,
        source: XbstreamError,
    },
    #[error("{label}: member {member}: {source}")]
    Qpress {
        label: String,
        member: String,
        source: QpressError,
    },
    #[error("{label}: member {member}: {detail}")]
    QpressLayout {
        label: String,
        member: String,
        detail: String,
    },
    #[error("{label}: tar member {member:?}: {source}")]
    UnsafeTarPath {
        label: String,
        member: String,
        source: PathError,
    },
    #[error("{label}: tar{}: {source}", .member.as_ref().map(|m| format!(" member {m}")).unwrap_or_default())]
    Tar {
        label: String,
        member: Option<String>,
        source: io::Error,
    },
    #[error("{label}: member {member} unpacks to {}, which another member already wrote", .path.display())]
    Duplicate {
        label: String,
        member: String,
        path: PathBuf,
    },
    #[error("not enough free space in {}: {available} bytes available, {needed} needed{}", .dir.display(), .member.as_ref().map(|m| format!(" (before {m})")).unwrap_or_default())]
    NoSpace {
        dir: PathBuf,
        needed: u64,
        available: u64,
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
    let head = compression::read_prefix(&mut ahead, 512).map_err(input_err)?;
    let mut ctx = Ctx {
        label: label.to_string(),
        out,
        options,
        warnings: Vec::new(),
        skipped: Vec::new(),
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

/// A tar header: `ustar` at 257, or (v7) a valid header checksum.
pub fn is_tar(head: &[u8]) -> bool {
    if head.len() < 512 || head[..512].iter().all(|&b| b == 0) {
        return false;
    }
    if &head[257..262] == b"ustar" {
        return true;
    }
    let field = &head[148..156];
    let digits: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    let Ok(text) = std::str::from_utf8(&digits) else {
        return false;
    };
    let Ok(stored) = u32::from_str_radix(text, 8) else {
        return false;
    };
    let sum: u32 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    !digits.is_empty() && sum == stored
}

fn is_regular(kind: tar::EntryType) -> bool {
    matches!(
        kind,
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse
    )
}

#[derive(Default, Clone, Copy, Debug)]
struct Stats {
    files: u64,
    directories: u64,
    bytes: u64,
}

/// The target directory: creates directories and files without following symlinks.
struct OutDir {
    root: PathBuf,
    dirs: HashSet<PathBuf>,
    directories: u64,
}

impl OutDir {
    fn new(root: &Path) -> Self {
        OutDir {
            root: root.to_path_buf(),
            dirs: HashSet::new(),
            directories: 0,
        }
    }

    /// Creates `rel` and its parents (all inside the root).
    fn ensure_dir(&mut self, rel: &Path) -> io::Result<()> {
        let mut prefix = PathBuf::new();
        for part in rel.components() {
            prefix.push(part);
            if self.dirs.contains(&prefix) {
                continue;
            }
            let full = self.root.join(&prefix);
            match fs::create_dir(&full) {
                Ok(()) => self.directories += 1,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let meta = fs::symlink_metadata(&full)?;
                    if !meta.is_dir() {
                        return Err(io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "exists and is not a directory",
                        ));
                    }
                }
                Err(e) => return Err(e),
            }
            self.dirs.insert(prefix.clone());
        }
        Ok(())
    }

    /// Creates a new file at `rel` (its parents as needed); fails if anything is there.
    fn create_file(&mut self, rel: &Path) -> io::Result<File> {
        if let Some(parent) = rel.parent() {
            self.ensure_dir(parent)?;
        }
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(self.root.join(rel))
    }
}

/// Watches free space while writing (see the module docs).
struct SpaceGuard {
    dir: PathBuf,
    enabled: bool,
    margin: u64,
    since_check: u64,
}

impl SpaceGuard {
    fn new(dir: &Path, options: &UnpackOptions) -> Self {
        SpaceGuard {
            dir: dir.to_path_buf(),
            enabled: options.check_space,
            margin: options.space_margin,
            // Check at the first write.
            since_check: SPACE_CHECK_INTERVAL,
        }
    }

    fn check(&mut self, upcoming: u64, member: &str) -> Result<(), UnpackError> {
        if !self.enabled {
            return Ok(());
        }
        let available = available_space(&self.dir).map_err(|source| UnpackError::Output {
            path: self.dir.clone(),
            source,
        })?;
        let needed = upcoming.saturating_add(self.margin);
        if available < needed {
            return Err(UnpackError::NoSpace {
                dir: self.dir.clone(),
                needed,
                available,
                member: Some(member.to_string()),
            });
        }
        self.since_check = 0;
        Ok(())
    }

    /// Before writing `n` bytes of a stream whose total is unknown.
    fn before_write(&mut self, n: u64, member: &str) -> Result<(), UnpackError> {
        if self.since_check >= SPACE_CHECK_INTERVAL {
            self.check(0, member)?;
        }
        self.since_check += n;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The decode-and-write pipeline (xbstream and qpress).

enum Op {
    MkDir {
        path: PathBuf,
    },
    Create {
        file: usize,
        path: PathBuf,
        member: Arc<str>,
    },
    Write {
        file: usize,
        data: Vec<u8>,
    },
    Hole {
        file: usize,
        len: u64,
    },
    Block {
        file: usize,
        block: qpress::Block,
        member: Arc<str>,
    },
    Close {
        file: usize,
    },
}

type Sequenced = (u64, Op);

struct Pipeline {
    jobs: Option<Sender<Sequenced>>,
    /// One token per operation allowed in flight; the writer returns a token for each
    /// operation it has applied, so queued, decoding and reordered operations together
    /// never exceed the initial count.
    credits: Receiver<()>,
    seq: u64,
    workers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<Result<Stats, UnpackError>>>,
}

struct OpenFile {
    file: File,
    path: PathBuf,
    member: Arc<str>,
    pos: u64,
    written: u64,
}

impl Pipeline {
    fn start(ctx: &Ctx) -> Pipeline {
        let threads = ctx.options.worker_threads();
        let (jobs, job_rx) = bounded::<Sequenced>(2 * threads);
        let (result_tx, results) = bounded::<(u64, Result<Op, UnpackError>)>(2 * threads);
        let in_flight = 4 * threads;
        let (credit_tx, credits) = bounded::<()>(in_flight);
        for _ in 0..in_flight {
            credit_tx.send(()).expect("room for every token");
        }
        let workers = (0..threads)
            .map(|i| {
                let job_rx = job_rx.clone();
                let result_tx = result_tx.clone();
                let label = ctx.label.clone();
                std::thread::Builder::new()
                    .name(format!("bsonflow-qpress-{i}"))
                    .spawn(move || decode_worker(job_rx, result_tx, label))
                    .expect("spawn a decoder thread")
            })
            .collect();
        drop(result_tx);
        let label = ctx.label.clone();
        let out = ctx.out.to_path_buf();
        let guard = SpaceGuard::new(ctx.out, ctx.options);
        let writer = std::thread::Builder::new()
            .name("bsonflow-unpack-writer".into())
            .spawn(move || write_in_order(results, credit_tx, label, out, guard))
            .expect("spawn the writer thread");
        Pipeline {
            jobs: Some(jobs),
            credits,
            seq: 0,
            workers,
            writer: Some(writer),
        }
    }

    fn send(&mut self, op: Op) -> Result<(), UnpackError> {
        // The writer holds the only sender of tokens: when it stops, this fails.
        self.credits.recv().map_err(|_| UnpackError::Aborted)?;
        let seq = self.seq;
        self.seq += 1;
        match &self.jobs {
            Some(jobs) => jobs.send((seq, op)).map_err(|_| UnpackError::Aborted),
            None => Err(UnpackError::Aborted),
        }
    }

    /// Closes the input and waits for every thread; the writer's result.
    fn finish(mut self) -> Result<Stats, UnpackError> {
        self.jobs = None;
        for w in self.workers.drain(..) {
            if let Err(panic) = w.join() {
                std::panic::resume_unwind(panic);
            }
        }
        match self.writer.take().expect("joined once").join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Combines the parsing thread's result with the pipeline's. The pipeline's error comes
/// first (it concerns earlier data), except a CRC error of the parser, which explains any
/// decoding error that the damaged chunk caused downstream.
fn combine(
    parsed: Result<(), UnpackError>,
    written: Result<Stats, UnpackError>,
) -> Result<Stats, UnpackError> {
    match (parsed, written) {
        (Ok(()), written) => written,
        (
            Err(
                e @ UnpackError::Xbstream {
                    source: XbstreamError::Crc { .. },
                    ..
                },
            ),
            _,
        ) => Err(e),
        (Err(_), Err(w)) => Err(w),
        (Err(e), Ok(_)) => Err(e),
    }
}

fn decode_worker(
    jobs: Receiver<Sequenced>,
    results: Sender<(u64, Result<Op, UnpackError>)>,
    label: String,
) {
    let mut decoder = quicklz::Decoder::new();
    for (seq, op) in jobs.iter() {
        let result = match op {
            Op::Block {
                file,
                block,
                member,
            } => match block.decode(&mut decoder) {
                Ok(data) => Ok(Op::Write { file, data }),
                Err(source) => Err(UnpackError::Qpress {
                    label: label.clone(),
                    member: member.to_string(),
                    source,
                }),
            },
            other => Ok(other),
        };
        if results.send((seq, result)).is_err() {
            return;
        }
    }
}

fn write_in_order(
    results: Receiver<(u64, Result<Op, UnpackError>)>,
    credits: Sender<()>,
    label: String,
    out: PathBuf,
    mut guard: SpaceGuard,
) -> Result<Stats, UnpackError> {
    let mut dir = OutDir::new(&out);
    let mut files: HashMap<usize, OpenFile> = HashMap::new();
    let mut pending: BTreeMap<u64, Result<Op, UnpackError>> = BTreeMap::new();
    let mut next = 0u64;
    let mut stats = Stats::default();
    for (seq, result) in results.iter() {
        pending.insert(seq, result);
        while let Some(result) = pending.remove(&next) {
            next += 1;
            apply(
                result?, &label, &out, &mut dir, &mut files, &mut guard, &mut stats,
            )?;
            let _ = credits.try_send(());
        }
    }
    stats.directories = dir.directories;
    Ok(stats)
}

fn apply(
    op: Op,
    label: &str,
    out: &Path,
    dir: &mut OutDir,
    files: &mut HashMap<usize, OpenFile>,
    guard: &mut SpaceGuard,
    stats: &mut Stats,
) -> Result<(), UnpackError> {
    let output_err = |path: &Path, source| UnpackError::Output {
        path: out.join(path),
        source,
    };
    match op {
        Op::MkDir { path } => dir.ensure_dir(&path).map_err(|e| output_err(&path, e))?,
        Op::Create { file, path, member } => {
            let handle = dir.create_file(&path).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    UnpackError::Duplicate {
                        label: label.to_string(),
                        member: member.to_string(),
                        path: path.clone(),
                    }
                } else {
                    output_err(&path, e)
                }
            })?;
            files.insert(
                file,
                OpenFile {
                    file: handle,
                    path,
                    member,
                    pos: 0,
                    written: 0,
                },
            );
        }
        Op::Write { file, data } => {
            let f = files.get_mut(&file).expect("created before written");
            guard.before_write(data.len() as u64, &f.member)?;
            f.file
                .write_all(&data)
                .map_err(|e| output_err(&f.path, e))?;
            f.pos += data.len() as u64;
            f.written = f.pos;
        }
        Op::Hole { file, len } => {
            let f = files.get_mut(&file).expect("created before written");
            f.file
                .seek(SeekFrom::Current(len as i64))
                .map_err(|e| output_err(&f.path, e))?;
            f.pos += len;
        }
        Op::Close { file } => {
            let f = files.remove(&file).expect("created before closed");
            if f.pos > f.written {
                f.file.set_len(f.pos).map_err(|e| output_err(&f.path, e))?;
            }
            stats.files += 1;
            stats.bytes += f.pos;
        }
        Op::Block { .. } => unreachable!("blocks are decoded by the workers"),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// xbstream

enum Sink {
    Plain,
    Qp(Box<QpMember>),
}

struct QpMember {
    parser: qpress::Parser,
    /// The name the `F` record should have: the member's basename without `.qp`.
    expected_name: Vec<u8>,
    files: u32,
}

struct Member {
    sink: Sink,
    display: Arc<str>,
}

fn unpack_xbstream<R: Read>(input: R, ctx: &mut Ctx) -> Result<Stats, UnpackError> {
    let mut pipeline = Pipeline::start(ctx);
    let mut reader = xbstream::Reader::new(input);
    let parsed = xbstream_chunks(&mut reader, &mut pipeline, ctx);
    let written = pipeline.finish();
    combine(parsed, written)
}

fn xbstream_chunks<R: Read>(
    reader: &mut xbstream::Reader<R>,
    pipeline: &mut Pipeline,
    ctx: &mut Ctx,
) -> Result<(), UnpackError> {
    let label = ctx.label.clone();
    let xb_err = |source| UnpackError::Xbstream {
        label: label.clone(),
        source,
    };
    let mut tracker = xbstream::Tracker::new();
    let mut members: Vec<Member> = Vec::new();
    let mut events = Vec::new();
    while let Some(header) = reader.next_header().map_err(xb_err)? {
        let (index, new) = match tracker.chunk(&header).map_err(xb_err)? {
            Tracked::Ignored => continue,
            Tracked::Member { index, new } => (index, new),
        };
        if new {
            let rel = tracker.path(index).to_path_buf();
            let display: Arc<str> = safe_path::display_path(&rel).into();
            let raw = rel.as_os_str().as_bytes();
            let (path, sink) = match raw.strip_suffix(b".qp") {
                Some(stem) if !stem.is_empty() && !stem.ends_with(b"/") => {
                    let stem = Path::new(std::ffi::OsStr::from_bytes(stem)).to_path_buf();
                    let expected_name = stem
                        .file_name()
                        .map(|n| n.as_bytes().to_vec())
                        .unwrap_or_default();
                    let qp = QpMember {
                        parser: qpress::Parser::new(),
                        expected_name,
                        files: 0,
                    };
                    (stem, Sink::Qp(Box::new(qp)))
                }
                _ => (rel.clone(), Sink::Plain),
            };
            pipeline.send(Op::Create {
                file: index,
                path,
                member: Arc::clone(&display),
            })?;
            members.push(Member { sink, display });
        }
        let member = &mut members[index];
        match header.kind {
            ChunkType::End => {
                if let Sink::Qp(qp) = &member.sink {
                    qp.parser.finish().map_err(|source| UnpackError::Qpress {
                        label: ctx.label.clone(),
                        member: member.display.to_string(),
                        source,
                    })?;
                    if qp.files == 0 {
                        return Err(layout(ctx, member, "no file record in the qpress stream"));
                    }
                }
                pipeline.send(Op::Close { file: index })?;
            }
            ChunkType::Payload | ChunkType::Sparse => {
                let mut sparse = SparseCursor::new(&header.sparse);
                let mut at = header.payload_offset;
                loop {
                    let piece = match reader.read_payload(PIECE) {
                        Ok(Some(piece)) => piece,
                        Ok(None) => break,
                        Err(source) => return Err(xb_err(source)),
                    };
                    let len = piece.len() as u64;
                    let delivered = if header.kind == ChunkType::Sparse {
                        sparse.split(piece, at, |part| {
                            deliver(part, index, member, pipeline, &mut events, ctx)
                        })
                    } else {
                        deliver(
                            Part::Data(piece, at),
                            index,
                            member,
                            pipeline,
                            &mut events,
                            ctx,
                        )
                    };
                    if let Err(e) = delivered {
                        // Damaged data explains the error better: check the chunk's CRC.
                        if !reader.chunk_verified() {
                            reader.skip_payload().map_err(xb_err)?;
                        }
                        return Err(e);
                    }
                    at += len;
                }
                // Holes after the last payload byte.
                for part in sparse.rest(at) {
                    deliver(part, index, member, pipeline, &mut events, ctx)?;
                }
            }
            ChunkType::Unknown(_) => unreachable!("ignored by the tracker"),
        }
    }
    tracker.finish().map_err(xb_err)
}

fn layout(ctx: &Ctx, member: &Member, detail: &str) -> UnpackError {
    UnpackError::QpressLayout {
        label: ctx.label.clone(),
        member: member.display.to_string(),
        detail: detail.to_string(),
    }
}

/// A part of a member's bytes: data (with its archive offset) or a hole.
enum Part {
    Data(Vec<u8>, u64),
    Hole(u64, u64),
}

/// Spreads the payload of an `S` chunk over its sparse map.
struct SparseCursor<'a> {
    entries: std::slice::Iter<'a, xbstream::SparseEntry>,
    left: u64,
}

impl<'a> SparseCursor<'a> {
    fn new(entries: &'a [xbstream::SparseEntry]) -> Self {
        SparseCursor {
            entries: entries.iter(),
            left: 0,
        }
    }

    fn split(
        &mut self,
        piece: Vec<u8>,
        at: u64,
        mut emit: impl FnMut(Part) -> Result<(), UnpackError>,
    ) -> Result<(), UnpackError> {
        let mut done = 0usize;
        while done < piece.len() {
            if self.left == 0 {
                // The map's lengths add up to the payload length (checked by the reader).
                let entry = self.entries.next().expect("sparse map covers the payload");
                if entry.skip > 0 {
                    emit(Part::Hole(u64::from(entry.skip), at + done as u64))?;
                }
                self.left = u64::from(entry.len);
                continue;
            }
            let k = (self.left as usize).min(piece.len() - done);
            emit(Part::Data(piece[done..done + k].to_vec(), at + done as u64))?;
            done += k;
            self.left -= k as u64;
        }
        Ok(())
    }

    fn rest(self, at: u64) -> impl Iterator<Item = Part> + 'a {
        self.entries
            .filter(|e| e.skip > 0)
            .map(move |e| Part::Hole(u64::from(e.skip), at))
    }
}

fn deliver(
    part: Part,
    index: usize,
    member: &mut Member,
    pipeline: &mut Pipeline,
    events: &mut Vec<qpress::Event>,
    ctx: &mut Ctx,
) -> Result<(), UnpackError> {
    match &mut member.sink {
        Sink::Plain => match part {
            Part::Data(data, _) => pipeline.send(Op::Write { file: index, data }),
            Part::Hole(len, _) => pipeline.send(Op::Hole { file: index, len }),
        },
        Sink::Qp(qp) => {
            let qpress_err = |source| UnpackError::Qpress {
                label: ctx.label.clone(),
                member: member.display.to_string(),
                source,
            };
            match part {
                Part::Data(data, at) => qp.parser.feed(&data, at, events).map_err(qpress_err)?,
                Part::Hole(len, at) => {
                    // A hole inside a compressed member reads as zeros.
                    let zeros = vec![0u8; len.min(1 << 16) as usize];
                    let mut left = len;
                    while left > 0 {
                        let k = left.min(zeros.len() as u64) as usize;
                        qp.parser
                            .feed(&zeros[..k], at, events)
                            .map_err(qpress_err)?;
                        left -= k as u64;
                    }
                }
            }
            for event in events.drain(..) {
                match event {
                    qpress::Event::File { name, .. } => {
                        qp.files += 1;
                        if qp.files > 1 {
                            return Err(UnpackError::QpressLayout {
                                label: ctx.label.clone(),
                                member: member.display.to_string(),
                                detail: "more than one file in a .qp member".into(),
                            });
                        }
                        if name != qp.expected_name {
                            ctx.warnings.push(format!(
                                "member {}: the qpress file inside is named {:?}; unpacked under the member's name",
                                member.display,
                                safe_path::display(&name)
                            ));
                        }
                    }
                    qpress::Event::DirDown { .. } | qpress::Event::DirUp { .. } => {
                        return Err(UnpackError::QpressLayout {
                            label: ctx.label.clone(),
                            member: member.display.to_string(),
                            detail: "directory records in a .qp member".into(),
                        });
                    }
                    qpress::Event::Block(block) => pipeline.send(Op::Block {
                        file: index,
                        block,
                        member: Arc::clone(&member.display),
                    })?,
                    qpress::Event::FileEnd => {}
                }
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------
// qpress archives

fn unpack_qpress<R: Read>(input: R, ctx: &mut Ctx) -> Result<Stats, UnpackError> {
    let mut pipeline = Pipeline::start(ctx);
    let parsed = qpress_records(input, &mut pipeline, ctx);
    let written = pipeline.finish();
    combine(parsed, written)
}

fn qpress_records<R: Read>(
    mut input: R,
    pipeline: &mut Pipeline,
    ctx: &mut Ctx,
) -> Result<(), UnpackError> {
    let label = ctx.label.clone();
    let qpress_err = |member: &str, source| UnpackError::Qpress {
        label: label.clone(),
        member: member.to_string(),
        source,
    };
    let mut parser = qpress::Parser::new();
    let mut events = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut current: Option<(usize, Arc<str>)> = None;
    let mut next_file = 0usize;
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(UnpackError::Input {
                    label: ctx.label.clone(),
                    source,
                })
            }
        };
        if n == 0 {
            let member = current.as_ref().map_or("-", |c| &*c.1).to_string();
            return parser.finish().map_err(|e| qpress_err(&member, e));
        }
        let at = parser.position();
        let member = current.as_ref().map_or("-", |c| &*c.1).to_string();
        parser
            .feed(&buf[..n], at, &mut events)
            .map_err(|e| qpress_err(&member, e))?;
        for event in events.drain(..) {
            match event {
                qpress::Event::DirDown { path, .. } => pipeline.send(Op::MkDir { path })?,
                qpress::Event::DirUp { .. } => {}
                qpress::Event::File { path, .. } => {
                    let member: Arc<str> = safe_path::display_path(&path).into();
                    pipeline.send(Op::Create {
                        file: next_file,
                        path,
                        member: Arc::clone(&member),
                    })?;
                    current = Some((next_file, member));
                    next_file += 1;
                }
                qpress::Event::Block(block) => {
                    let (file, member) = current.clone().expect("blocks only inside a file");
                    pipeline.send(Op::Block {
                        file,
                        block,
                        member,
                    })?;
                }
                qpress::Event::FileEnd => {
                    let (file, _) = current.take().expect("trailer only inside a file");
                    pipeline.send(Op::Close { file })?;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// tar

fn unpack_tar<R: Read>(input: R, ctx: &mut Ctx) -> Result<Stats, UnpackError> {
    let label = ctx.label.clone();
    let tar_err = |member: Option<&str>, source| UnpackError::Tar {
        label: label.clone(),
        member: member.map(str::to_string),
        source,
    };
    let mut dir = OutDir::new(ctx.out);
    let mut guard = SpaceGuard::new(ctx.out, ctx.options);
    let mut stats = Stats::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut archive = tar::Archive::new(input);
    for entry in archive.entries().map_err(|e| tar_err(None, e))? {
        let mut entry = entry.map_err(|e| tar_err(None, e))?;
        let raw = entry.path_bytes().into_owned();
        let member = safe_path::display(&raw);
        let kind = entry.header().entry_type();
        let unsafe_path = |source| UnpackError::UnsafeTarPath {
            label: ctx.label.clone(),
            member: member.clone(),
            source,
        };
        if is_regular(kind) {
            let rel = safe_path::relative_path(&raw).map_err(unsafe_path)?;
            let size = entry.size();
            if ctx.options.check_space {
                guard.check(size, &member)?;
            }
            let mut file = dir.create_file(&rel).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    UnpackError::Duplicate {
                        label: ctx.label.clone(),
                        member: member.clone(),
                        path: rel.clone(),
                    }
                } else {
                    UnpackError::Output {
                        path: ctx.out.join(&rel),
                        source: e,
                    }
                }
            })?;
            let mut copied = 0u64;
            loop {
                let n = match entry.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(tar_err(Some(&member), e)),
                };
                file.write_all(&buf[..n])
                    .map_err(|source| UnpackError::Output {
                        path: ctx.out.join(&rel),
                        source,
                    })?;
                copied += n as u64;
            }
            if copied != size {
                return Err(tar_err(
                    Some(&member),
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("archive cut short: {copied} of {size} bytes"),
                    ),
                ));
            }
            stats.files += 1;
            stats.bytes += copied;
            continue;
        }
        let skipped = |kind: &'static str| SkippedMember {
            path: member.clone(),
            kind,
            target: None,
        };
        match kind {
            tar::EntryType::Directory => match safe_path::relative_path(&raw) {
                Ok(rel) => dir.ensure_dir(&rel).map_err(|source| UnpackError::Output {
                    path: ctx.out.join(&rel),
                    source,
                })?,
                Err(PathError::Empty) => {} // `./`: the target itself
                Err(e) => return Err(unsafe_path(e)),
            },
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| safe_path::display(&t));
                let kind = if kind == tar::EntryType::Symlink {
                    "symlink"
                } else {
                    "hard link"
                };
                ctx.skipped.push(SkippedMember {
                    target,
                    ..skipped(kind)
                });
            }
            tar::EntryType::Char => ctx.skipped.push(skipped("character device")),
            tar::EntryType::Block => ctx.skipped.push(skipped("block device")),
            tar::EntryType::Fifo => ctx.skipped.push(skipped("FIFO")),
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            _ => ctx.skipped.push(skipped("unknown tar entry type")),
        }
    }
    stats.directories = dir.directories;
    Ok(stats)
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

    #[test]
    fn sparse_cursor_spreads_payload() {
        let map = [
            xbstream::SparseEntry { skip: 2, len: 3 },
            xbstream::SparseEntry { skip: 0, len: 1 },
            xbstream::SparseEntry { skip: 5, len: 0 },
        ];
        let mut c = SparseCursor::new(&map);
        let mut parts = Vec::new();
        for (piece, at) in [(vec![1, 2], 100), (vec![3, 4], 102)] {
            c.split(piece, at, |p| {
                parts.push(match p {
                    Part::Data(d, at) => format!("D{d:?}@{at}"),
                    Part::Hole(n, _) => format!("H{n}"),
                });
                Ok(())
            })
            .unwrap();
        }
        parts.extend(c.rest(104).map(|p| match p {
            Part::Hole(n, _) => format!("H{n}"),
            Part::Data(..) => unreachable!(),
        }));
        assert_eq!(parts, ["H2", "D[1, 2]@100", "D[3]@102", "D[4]@103", "H5"]);
    }
}
