//! The compression pool: threads that gzip members of chunks and stream them, in order, into
//! their chunk files.
//!
//! A chunk file is a sequence of gzip members (RFC 1952: `gzip`, Python, Spark and DuckDB
//! read it as one stream), each the gzip of at most [`MEMBER_BYTES`] of JSON lines. Writers
//! hand over members through a bounded channel of one member per thread; when it is full, the
//! writer compresses the oldest queued member itself instead of waiting (see [`ChunkPool`]),
//! so memory in flight is a few members per thread, whatever the chunk size, and `-j N` keeps
//! N threads busy. Members of one chunk are compressed on any thread, in parallel; a [`ChunkStream`]
//! puts them back in order and writes each to the chunk's [`ObjectWriter`] as soon as the
//! members before it are written (on disk: a temporary file renamed when the last member is
//! in; in object storage: a multipart upload). When a chunk's last member is written, the
//! file is finished and the result goes back to the collection writer that sent it, which
//! waits for all of its own before it reports the collection finished. A chunk left without
//! its last member (the reader stopped) is aborted: nothing of it appears.
//!
//! Each level goes to the fastest encoder for it ([`GzipEncoder::for_level`]): Intel's ISA-L
//! (igzip) for levels 1 and 2, where it is 1.4–2.5× as fast as libdeflate at about the same
//! size, libdeflate for level 0 (stored) and 3–12, where ISA-L has nothing as small.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use libdeflater::{CompressionLvl, Compressor};

use crate::isal_ffi::IsalStateless;
use crate::target::{ObjectWriter, Target};

/// JSON bytes per gzip member: 4 MiB. Small enough to keep memory bounded and the threads
/// busy inside one chunk, large enough that the members cost nothing measurable in size.
pub const MEMBER_BYTES: usize = 4 << 20;

/// The gzip encoder behind a `--gzip-level`, chosen from a table of size and speed measured on
/// bsonflow's own JSON (benches/README.md, "gzip levels"): ISA-L's igzip where it is much
/// faster at about the same size (levels 1 and 2), libdeflate everywhere else. Both write
/// standard gzip members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GzipEncoder {
    /// ISA-L's igzip at this level of its own (0-3 scale; `igzip -N` on the command line).
    Isal(u8),
    /// libdeflate at this level (0-12; `libdeflate-gzip -N`).
    Libdeflate(u8),
}

impl GzipEncoder {
    /// The encoder of `--gzip-level level`: 1 → igzip 1, 2 → igzip 3, 0 and 3–12 →
    /// libdeflate at the same level; `None` above 12.
    pub fn for_level(level: u32) -> Option<Self> {
        match level {
            1 => Some(GzipEncoder::Isal(1)),
            2 => Some(GzipEncoder::Isal(3)),
            0 | 3..=12 => Some(GzipEncoder::Libdeflate(level as u8)),
            _ => None,
        }
    }
}

impl std::fmt::Display for GzipEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GzipEncoder::Isal(l) => write!(f, "ISA-L igzip level {l}"),
            GzipEncoder::Libdeflate(l) => write!(f, "libdeflate level {l}"),
        }
    }
}

/// One thread's gzip encoder, with the buffer it compresses into.
///
/// Members are compressed into `scratch`, kept for the thread's life; the pool writes a
/// member straight from there when it is next in its chunk, and copies only one that has
/// to wait for an earlier member. A fresh buffer per member cost more: the allocator
/// handed back new pages each time and returned them to the kernel on free (`madvise`
/// plus the page faults on the next use, 4 % of the CPU time at level 1 in `perf record`).
/// ISA-L keeps its working memory (`level_buf`, its hash tables and token buffer) for the
/// thread's life for the same reason.
pub(crate) struct Encoder {
    kind: EncoderKind,
    scratch: Vec<u8>,
}

enum EncoderKind {
    Isal(IsalStateless),
    Libdeflate(Box<Compressor>),
}

impl Encoder {
    pub(crate) fn new(encoder: GzipEncoder) -> Self {
        let kind = match encoder {
            GzipEncoder::Isal(l) => EncoderKind::Isal(IsalStateless::new(l)),
            GzipEncoder::Libdeflate(l) => EncoderKind::Libdeflate(Box::new(Compressor::new(
                CompressionLvl::new(i32::from(l)).expect("libdeflate level 0-12"),
            ))),
        };
        Encoder {
            kind,
            scratch: Vec::new(),
        }
    }

    /// `json` as one gzip member, in the encoder's buffer (until the next call).
    pub(crate) fn gzip(&mut self, json: &[u8]) -> Result<&[u8], String> {
        let n = match &mut self.kind {
            EncoderKind::Isal(isal) => {
                isal.compress(json, &mut self.scratch)?;
                self.scratch.len()
            }
            EncoderKind::Libdeflate(compressor) => {
                let bound = compressor.gzip_compress_bound(json.len());
                if self.scratch.len() < bound {
                    self.scratch.resize(bound, 0);
                }
                compressor
                    .gzip_compress(json, &mut self.scratch)
                    .map_err(|e| format!("gzip compression failed: {e:?}"))?
            }
        };
        Ok(&self.scratch[..n])
    }
}

/// One member of a chunk to compress and write.
pub(crate) struct MemberJob {
    pub json: Vec<u8>,
    /// Its place in the chunk, from 0.
    pub seq: u64,
    /// Whether it is the chunk's last member.
    pub last: bool,
    pub stream: Arc<ChunkStream>,
}

/// What became of a chunk.
pub(crate) struct ChunkDone {
    pub json_bytes: u64,
    pub gzip_bytes: u64,
    pub result: Result<(), String>,
}

/// One chunk file being written: members arrive in any order and are written in order.
pub(crate) struct ChunkStream {
    /// The file's name relative to the export's root (`shop/orders/rs0.0.json.gz`).
    rel: String,
    target: Arc<dyn Target>,
    reply: Sender<ChunkDone>,
    state: Mutex<StreamState>,
}

#[derive(Default)]
struct StreamState {
    next: u64,
    pending: BTreeMap<u64, (Vec<u8>, bool, u64)>,
    writer: Option<Box<dyn ObjectWriter>>,
    error: Option<String>,
    json_bytes: u64,
    gzip_bytes: u64,
    done: bool,
}

impl ChunkStream {
    pub fn new(rel: String, target: Arc<dyn Target>, reply: Sender<ChunkDone>) -> Arc<Self> {
        Arc::new(ChunkStream {
            rel,
            target,
            reply,
            state: Mutex::new(StreamState::default()),
        })
    }

    /// Takes member `seq` (compressed, or the compression error): writes it at once when it
    /// is next in line (then every waiting member now in line), or keeps a copy of it until
    /// the members before it are written. Finishes the file after the last one.
    fn deliver(&self, seq: u64, member: Result<&[u8], String>, last: bool, json_bytes: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let gz = match member {
            Ok(gz) => gz,
            Err(e) => {
                state.error.get_or_insert(e);
                &[]
            }
        };
        if seq != state.next {
            state.pending.insert(seq, (gz.to_vec(), last, json_bytes));
            return;
        }
        if self.write_next(&mut state, gz, last, json_bytes) {
            return;
        }
        loop {
            let next = state.next;
            let Some((gz, last, json)) = state.pending.remove(&next) else {
                break;
            };
            if self.write_next(&mut state, &gz, last, json) {
                break;
            }
        }
    }

    /// Writes the member that is next in line; after the last one, finishes the file and
    /// answers the collection writer (then returns true).
    fn write_next(&self, state: &mut StreamState, gz: &[u8], last: bool, json: u64) -> bool {
        state.next += 1;
        state.json_bytes += json;
        if state.error.is_none() {
            if state.writer.is_none() {
                match self.target.create(&self.rel) {
                    Ok(w) => state.writer = Some(w),
                    Err(e) => state.error = Some(e.to_string()),
                }
            }
            let len = gz.len() as u64;
            let written = match state.writer.as_mut() {
                Some(w) if len > 0 => Some(w.write(gz)),
                _ => None,
            };
            match written {
                Some(Ok(())) => state.gzip_bytes += len,
                Some(Err(e)) => state.error = Some(e.to_string()),
                None => {}
            }
        }
        if !last {
            return false;
        }
        let writer = state.writer.take();
        let result = match (state.error.clone(), writer) {
            (None, Some(w)) => w.finish().map_err(|e| e.to_string()),
            (Some(e), w) => {
                if let Some(w) = w {
                    w.abort();
                }
                Err(e)
            }
            (None, None) => Err("no member was written".into()),
        };
        state.done = true;
        let _ = self.reply.send(ChunkDone {
            json_bytes: state.json_bytes,
            gzip_bytes: if result.is_ok() { state.gzip_bytes } else { 0 },
            result,
        });
        true
    }
}

impl Drop for ChunkStream {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        if !state.done {
            if let Some(w) = state.writer.take() {
                w.abort();
            }
        }
    }
}

/// The compression threads, and the queue of members between them and the collection
/// writers.
///
/// `threads` is every thread that converts and compresses, the writer's own included: the
/// pool starts `threads - 1` compression threads, and a writer whose member finds the queue
/// full compresses the oldest queued member itself instead of waiting (as it does while it
/// waits for its collection's last chunks). So `-j N` keeps N threads busy, and no more: with
/// a third busy thread on two cores, Linux left one core idle for milliseconds at a time
/// (`perf sched`: 6 % of the run at level 1) where two threads share two cores evenly. With
/// `threads = 1` the writer compresses every member itself.
pub(crate) struct ChunkPool {
    jobs: Option<Sender<MemberJob>>,
    /// The queue's other end, for writers that help.
    queue: Receiver<MemberJob>,
    spare: Receiver<Vec<u8>>,
    give_back: Sender<Vec<u8>>,
    /// Encoders for the writers' threads when they help (taken and put back per member).
    helpers: Mutex<Vec<Encoder>>,
    level: GzipEncoder,
    threads: Vec<JoinHandle<()>>,
    target: Arc<dyn Target>,
}

impl ChunkPool {
    /// `None` when there is no such gzip level ([`GzipEncoder::for_level`]).
    pub fn new(threads: usize, level: u32, target: Arc<dyn Target>) -> Option<Self> {
        let level = GzipEncoder::for_level(level)?;
        let threads = threads.max(1);
        let (jobs, queue) = bounded::<MemberJob>(threads);
        let (give_back, spare) = bounded::<Vec<u8>>(threads * 2 + 2);
        let handles = (1..threads)
            .map(|i| {
                let queue = queue.clone();
                let give_back = give_back.clone();
                std::thread::Builder::new()
                    .name(format!("bsonflow-gzip-{i}"))
                    .spawn(move || {
                        let mut encoder = Encoder::new(level);
                        for job in queue {
                            compress(&mut encoder, job, &give_back);
                        }
                    })
                    .expect("spawn a compression thread")
            })
            .collect();
        Some(ChunkPool {
            jobs: Some(jobs),
            queue,
            spare,
            give_back,
            helpers: Mutex::new(Vec::new()),
            level,
            threads: handles,
            target,
        })
    }

    /// A new chunk file `rel`, answered on `reply` when its last member is written.
    pub fn chunk(&self, rel: String, reply: Sender<ChunkDone>) -> Arc<ChunkStream> {
        ChunkStream::new(rel, Arc::clone(&self.target), reply)
    }

    /// Queues a member; while the queue is full, compresses queued members on this thread.
    pub fn submit(&self, mut job: MemberJob) {
        let jobs = self.jobs.as_ref().expect("pool is open");
        loop {
            match jobs.try_send(job) {
                Ok(()) => return,
                Err(TrySendError::Full(back)) => {
                    job = back;
                    self.help();
                }
                Err(TrySendError::Disconnected(_)) => unreachable!("the pool holds the queue"),
            }
        }
    }

    /// Compresses the oldest queued member on this thread; false when none is queued.
    pub fn help(&self) -> bool {
        let Ok(job) = self.queue.try_recv() else {
            return false;
        };
        let lock = || self.helpers.lock().unwrap_or_else(|p| p.into_inner());
        let mut encoder = lock().pop().unwrap_or_else(|| Encoder::new(self.level));
        compress(&mut encoder, job, &self.give_back);
        lock().push(encoder);
        true
    }

    /// An empty buffer for the next member, reusing one a compressed member gave back.
    pub fn buffer(&self, capacity: usize) -> Vec<u8> {
        match self.spare.try_recv() {
            Ok(mut b) => {
                b.clear();
                b.reserve(capacity);
                b
            }
            Err(_) => Vec::with_capacity(capacity),
        }
    }
}

impl Drop for ChunkPool {
    fn drop(&mut self) {
        // Every queued member is still compressed and stored (or its chunk aborted), with or
        // without compression threads.
        self.jobs.take();
        while self.help() {}
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Compresses one member and delivers it to its chunk; gives its JSON buffer back for reuse.
fn compress(encoder: &mut Encoder, job: MemberJob, give_back: &Sender<Vec<u8>>) {
    let json_bytes = job.json.len() as u64;
    if job.json.is_empty() {
        // A chunk's closing signal: nothing to compress.
        job.stream.deliver(job.seq, Ok(&[]), job.last, 0);
        return;
    }
    let member = encoder.gzip(&job.json);
    let _ = give_back.try_send(job.json);
    job.stream.deliver(job.seq, member, job.last, json_bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut d = flate2::bufread::GzDecoder::new(gz);
        let mut out = Vec::new();
        d.read_to_end(&mut out).unwrap();
        assert!(d.into_inner().is_empty(), "one member, nothing after it");
        out
    }

    #[test]
    fn each_level_has_its_encoder() {
        assert_eq!(GzipEncoder::for_level(0), Some(GzipEncoder::Libdeflate(0)));
        assert_eq!(GzipEncoder::for_level(1), Some(GzipEncoder::Isal(1)));
        assert_eq!(GzipEncoder::for_level(2), Some(GzipEncoder::Isal(3)));
        for level in 3..=12 {
            assert_eq!(
                GzipEncoder::for_level(level),
                Some(GzipEncoder::Libdeflate(level as u8))
            );
        }
        assert_eq!(GzipEncoder::for_level(13), None);
        assert_eq!(
            GzipEncoder::for_level(1).unwrap().to_string(),
            "ISA-L igzip level 1"
        );
    }

    #[test]
    fn every_encoder_writes_one_standard_gzip_member_even_of_incompressible_bytes() {
        // JSON-like text, and bytes from a xorshift generator (no encoder can shrink them, so
        // ISA-L falls back to stored blocks: the output buffer must be large enough for that).
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("{{\"_id\":{{\"$numberInt\":\"{i}\"}}}}\n").into_bytes())
            .collect();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..(1 << 20) + 12_345)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for level in [0, 1, 2, 3, 6, 12] {
            let mut encoder = Encoder::new(GzipEncoder::for_level(level).unwrap());
            for input in [&text[..], &noise[..], b"", b"x"] {
                let gz = encoder.gzip(input).unwrap();
                assert_eq!(gunzip(gz), input, "level {level}");
                if input.len() == text.len() && level > 0 {
                    assert!(gz.len() < input.len() / 4, "level {level}: {}", gz.len());
                }
            }
        }
    }

    #[test]
    fn a_reused_isal_stream_writes_what_a_fresh_one_writes() {
        // The encoder keeps ISA-L's stream and working memory from member to member; each
        // member must still come out as ISA-L's one-shot API writes it with fresh, zeroed
        // memory (isal-rs's `compress_into`): the same bytes, whatever came before.
        let mut x = 7u64;
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for round in 0..6u32 {
            let n = [3 << 20, 100_000, 1, 0, 2 << 20, 65_536][round as usize];
            let text: Vec<u8> = (0..)
                .flat_map(|i: u32| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    format!("{{\"n\":{i},\"r\":{},\"round\":{round}}}\n", x >> 40).into_bytes()
                })
                .take(n)
                .collect();
            inputs.push(text);
        }
        for (ours, theirs) in [
            (GzipEncoder::Isal(1), isal::CompressionLevel::One),
            (GzipEncoder::Isal(3), isal::CompressionLevel::Three),
        ] {
            let mut encoder = Encoder::new(ours);
            for input in &inputs {
                let mut fresh = vec![0; input.len() + input.len() / 8192 + 64];
                let n = isal::compress_into(input, &mut fresh, theirs, isal::Codec::Gzip).unwrap();
                let gz = encoder.gzip(input).unwrap();
                assert!(gz == &fresh[..n], "{ours}: {} bytes of input", input.len());
                assert_eq!(gunzip(gz), *input);
            }
        }
    }

    #[test]
    fn with_one_thread_the_writers_thread_compresses_every_member_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        let target: Arc<dyn Target> = Arc::new(crate::target::LocalFolder::claim(&root).unwrap());
        let pool = ChunkPool::new(1, 1, target).unwrap();
        assert!(pool.threads.is_empty(), "-j1: no compression thread");
        let (reply, answers) = crossbeam_channel::unbounded();
        let stream = pool.chunk("c.json.gz".into(), reply);
        let members: Vec<Vec<u8>> = (0..7)
            .map(|m| format!("{{\"member\":{m}}}\n").repeat(1000).into_bytes())
            .collect();
        for (seq, json) in members.iter().enumerate() {
            pool.submit(MemberJob {
                json: json.clone(),
                seq: seq as u64,
                last: seq == members.len() - 1,
                stream: Arc::clone(&stream),
            });
            // The queue holds one member per thread (here one); each later submission
            // compressed the oldest one on this thread.
            assert!(pool.queue.len() <= 1);
        }
        assert!(
            answers.try_recv().is_err(),
            "the last member is still queued"
        );
        while pool.help() {}
        let done = answers.try_recv().expect("the chunk is finished");
        assert_eq!(done.result, Ok(()));
        let gz = std::fs::read(root.join("c.json.gz")).unwrap();
        assert_eq!(done.gzip_bytes, gz.len() as u64);
        let mut d = flate2::bufread::MultiGzDecoder::new(&gz[..]);
        let mut json = Vec::new();
        d.read_to_end(&mut json).unwrap();
        assert_eq!(json, members.concat(), "members written in order");
    }

    #[test]
    fn a_pool_dropped_with_members_queued_still_writes_them() {
        for threads in [1, 3] {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("out");
            let target: Arc<dyn Target> =
                Arc::new(crate::target::LocalFolder::claim(&root).unwrap());
            let pool = ChunkPool::new(threads, 6, target).unwrap();
            let (reply, answers) = crossbeam_channel::unbounded();
            let stream = pool.chunk("c.json.gz".into(), reply);
            for seq in 0..2 {
                pool.submit(MemberJob {
                    json: b"{}\n".repeat(100),
                    seq,
                    last: seq == 1,
                    stream: Arc::clone(&stream),
                });
            }
            drop(pool);
            assert_eq!(
                answers.try_recv().map(|d| d.result),
                Ok(Ok(())),
                "{threads}"
            );
            assert!(root.join("c.json.gz").exists());
        }
    }
}
