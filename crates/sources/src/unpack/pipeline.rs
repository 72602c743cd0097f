//! The write side: the target directory ([`OutDir`]), the free-space watch ([`SpaceGuard`])
//! and the decode-and-write pipeline of xbstream and qpress (decoder threads, one writer
//! thread applying operations in stream order).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};

use super::xbstream::XbstreamError;
use super::{available_space, qpress, quicklz, Ctx, UnpackError, UnpackOptions};

/// Free space is re-checked after this many bytes written (xbstream, qpress).
const SPACE_CHECK_INTERVAL: u64 = 64 << 20;

/// What was created.
#[derive(Default, Clone, Copy, Debug)]
pub(super) struct Stats {
    pub(super) files: u64,
    pub(super) directories: u64,
    pub(super) bytes: u64,
}

/// The target directory: creates directories and files without following symlinks.
pub(super) struct OutDir {
    root: PathBuf,
    dirs: HashSet<PathBuf>,
    pub(super) directories: u64,
}

impl OutDir {
    pub(super) fn new(root: &Path) -> Self {
        OutDir {
            root: root.to_path_buf(),
            dirs: HashSet::new(),
            directories: 0,
        }
    }

    /// Creates `rel` and its parents (all inside the root).
    pub(super) fn ensure_dir(&mut self, rel: &Path) -> io::Result<()> {
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
    pub(super) fn create_file(&mut self, rel: &Path) -> io::Result<File> {
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
pub(super) struct SpaceGuard {
    dir: PathBuf,
    enabled: bool,
    margin: u64,
    since_check: u64,
}

impl SpaceGuard {
    pub(super) fn new(dir: &Path, options: &UnpackOptions) -> Self {
        SpaceGuard {
            dir: dir.to_path_buf(),
            enabled: options.check_space,
            margin: options.space_margin,
            // Check at the first write.
            since_check: SPACE_CHECK_INTERVAL,
        }
    }

    pub(super) fn check(&mut self, upcoming: u64, member: &str) -> Result<(), UnpackError> {
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
    pub(super) fn before_write(&mut self, n: u64, member: &str) -> Result<(), UnpackError> {
        if self.since_check >= SPACE_CHECK_INTERVAL {
            self.check(0, member)?;
        }
        self.since_check += n;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The decode-and-write pipeline (xbstream and qpress).

/// One step of writing, numbered by the parsing thread.
pub(super) enum Op {
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

pub(super) struct Pipeline {
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
    pub(super) fn start(ctx: &Ctx) -> Pipeline {
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

    pub(super) fn send(&mut self, op: Op) -> Result<(), UnpackError> {
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
    pub(super) fn finish(mut self) -> Result<Stats, UnpackError> {
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
pub(super) fn combine(
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
