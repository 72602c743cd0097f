//! The compression pool: threads that gzip members of chunks and stream them, in order, into
//! their chunk files.
//!
//! A chunk file is a sequence of gzip members (RFC 1952: `gzip`, Python, Spark and DuckDB
//! read it as one stream), each the gzip of at most [`MEMBER_BYTES`] of JSON lines. Writers
//! hand over members through a bounded channel, so a writer waits when every thread is busy
//! and the queue is full: memory in flight is a few members per thread, whatever the chunk
//! size. Members of one chunk are compressed on any thread, in parallel; a [`ChunkStream`]
//! puts them back in order and writes each to the chunk's [`ObjectWriter`] as soon as the
//! members before it are written (on disk: a temporary file renamed when the last member is
//! in; in object storage: a multipart upload). When a chunk's last member is written, the
//! file is finished and the result goes back to the collection writer that sent it, which
//! waits for all of its own before it reports the collection finished. A chunk left without
//! its last member (the reader stopped) is aborted: nothing of it appears.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};
use libdeflater::{CompressionLvl, Compressor};

use crate::target::{ObjectWriter, Target};

/// JSON bytes per gzip member: 4 MiB. Small enough to keep memory bounded and the threads
/// busy inside one chunk, large enough that the members cost nothing measurable in size.
pub const MEMBER_BYTES: usize = 4 << 20;

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

    /// Takes member `seq` (compressed, or the compression error) and writes every member
    /// that is now next in line; finishes the file after the last one.
    fn deliver(&self, seq: u64, member: Result<Vec<u8>, String>, last: bool, json_bytes: u64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match member {
            Ok(gz) => {
                state.pending.insert(seq, (gz, last, json_bytes));
            }
            Err(e) => {
                state.error.get_or_insert(e);
                state.pending.insert(seq, (Vec::new(), last, json_bytes));
            }
        }
        loop {
            let next = state.next;
            let Some((gz, last, json)) = state.pending.remove(&next) else {
                break;
            };
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
            if last {
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
                break;
            }
        }
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

pub(crate) struct ChunkPool {
    jobs: Option<Sender<MemberJob>>,
    spare: Receiver<Vec<u8>>,
    threads: Vec<JoinHandle<()>>,
    target: Arc<dyn Target>,
}

impl ChunkPool {
    /// `None` when libdeflate has no such level.
    pub fn new(threads: usize, level: u32, target: Arc<dyn Target>) -> Option<Self> {
        let level = CompressionLvl::new(i32::try_from(level).ok()?).ok()?;
        let threads = threads.max(1);
        let (jobs, queue) = bounded::<MemberJob>(threads * 2);
        let (give_back, spare) = bounded::<Vec<u8>>(threads * 2 + 2);
        let handles = (0..threads)
            .map(|i| {
                let queue = queue.clone();
                let give_back = give_back.clone();
                std::thread::Builder::new()
                    .name(format!("bsonflow-gzip-{i}"))
                    .spawn(move || worker(queue, give_back, level))
                    .expect("spawn a compression thread")
            })
            .collect();
        Some(ChunkPool {
            jobs: Some(jobs),
            spare,
            threads: handles,
            target,
        })
    }

    /// A new chunk file `rel`, answered on `reply` when its last member is written.
    pub fn chunk(&self, rel: String, reply: Sender<ChunkDone>) -> Arc<ChunkStream> {
        ChunkStream::new(rel, Arc::clone(&self.target), reply)
    }

    /// Queues a member; blocks while the queue is full.
    pub fn submit(&self, job: MemberJob) {
        self.jobs
            .as_ref()
            .expect("pool is open")
            .send(job)
            .expect("compression threads are alive");
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
        self.jobs.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker(queue: Receiver<MemberJob>, give_back: Sender<Vec<u8>>, level: CompressionLvl) {
    let mut compressor = Compressor::new(level);
    for job in queue {
        let json_bytes = job.json.len() as u64;
        if job.json.is_empty() {
            // A chunk's closing signal: nothing to compress.
            job.stream.deliver(job.seq, Ok(Vec::new()), job.last, 0);
            continue;
        }
        // A fresh buffer each time: the target may keep it (an upload sends it as it is).
        let mut out = vec![0; compressor.gzip_compress_bound(job.json.len())];
        let member = compressor
            .gzip_compress(&job.json, &mut out)
            .map(|n| {
                out.truncate(n);
                out
            })
            .map_err(|e| format!("gzip compression failed: {e:?}"));
        let _ = give_back.try_send(job.json);
        job.stream.deliver(job.seq, member, job.last, json_bytes);
    }
}
