//! The compression pool: threads that gzip full chunks, and threads that write them.
//!
//! Writers hand over a chunk (its JSON bytes and where it goes) through a bounded channel,
//! so a writer waits when every thread is busy and the queue is full: memory in flight is at
//! most `2 × threads` chunks plus the one each open writer is filling, and `2 × threads`
//! compressed chunks. Each chunk is compressed whole with libdeflate into a single-member
//! gzip file and handed to a writing thread (so that compression goes on while a chunk is
//! uploaded), which gives it to the [`Target`] to write whole (on disk: a temporary name,
//! renamed when complete). Results go back to the writer that sent the chunk, which waits
//! for all of its own before it reports the collection finished.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};
use libdeflater::{CompressionLvl, Compressor};

use crate::target::Target;

/// One chunk to compress and write.
pub(crate) struct ChunkJob {
    pub json: Vec<u8>,
    /// Its name relative to the export's root (`shop/orders/rs0.0.json.gz`).
    pub rel: String,
    pub reply: Sender<ChunkDone>,
}

/// What became of a chunk.
pub(crate) struct ChunkDone {
    pub json_bytes: u64,
    pub gzip_bytes: u64,
    pub result: Result<(), String>,
}

pub(crate) struct ChunkPool {
    jobs: Option<Sender<ChunkJob>>,
    spare: Receiver<Vec<u8>>,
    threads: Vec<JoinHandle<()>>,
}

impl ChunkPool {
    /// `None` when libdeflate has no such level.
    pub fn new(threads: usize, level: u32, target: Arc<dyn Target>) -> Option<Self> {
        let level = CompressionLvl::new(i32::try_from(level).ok()?).ok()?;
        let threads = threads.max(1);
        let (jobs, queue) = bounded::<ChunkJob>(threads);
        let (give_back, spare) = bounded::<Vec<u8>>(threads * 2 + 2);
        // Compressed chunks are written by their own threads, so compression goes on while
        // a chunk is uploaded: per thread, one compressed chunk queued and one being written.
        let (written, to_write) = bounded::<Compressed>(threads);
        let mut handles: Vec<JoinHandle<()>> = (0..threads)
            .map(|i| {
                let to_write = to_write.clone();
                let target = Arc::clone(&target);
                std::thread::Builder::new()
                    .name(format!("bsonflow-put-{i}"))
                    .spawn(move || writer(to_write, &*target))
                    .expect("spawn a writing thread")
            })
            .collect();
        handles.extend((0..threads).map(|i| {
            let queue = queue.clone();
            let give_back = give_back.clone();
            let written = written.clone();
            std::thread::Builder::new()
                .name(format!("bsonflow-gzip-{i}"))
                .spawn(move || worker(queue, give_back, level, written))
                .expect("spawn a compression thread")
        }));
        Some(ChunkPool {
            jobs: Some(jobs),
            spare,
            threads: handles,
        })
    }

    /// Queues a chunk; blocks while the queue is full.
    pub fn submit(&self, job: ChunkJob) {
        self.jobs
            .as_ref()
            .expect("pool is open")
            .send(job)
            .expect("compression threads are alive");
    }

    /// An empty buffer for the next chunk, reusing one a finished chunk gave back.
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

/// A compressed chunk on its way to the [`Target`].
struct Compressed {
    gzip: Vec<u8>,
    rel: String,
    json_bytes: u64,
    reply: Sender<ChunkDone>,
}

fn worker(
    queue: Receiver<ChunkJob>,
    give_back: Sender<Vec<u8>>,
    level: CompressionLvl,
    written: Sender<Compressed>,
) {
    let mut compressor = Compressor::new(level);
    for job in queue {
        let json_bytes = job.json.len() as u64;
        // A fresh buffer each time: the target keeps it (an upload sends it without a copy).
        let mut out = vec![0; compressor.gzip_compress_bound(job.json.len())];
        let compressed = compressor.gzip_compress(&job.json, &mut out);
        let _ = give_back.try_send(job.json);
        match compressed {
            Ok(n) => {
                out.truncate(n);
                let _ = written.send(Compressed {
                    gzip: out,
                    rel: job.rel,
                    json_bytes,
                    reply: job.reply,
                });
            }
            Err(e) => {
                let _ = job.reply.send(ChunkDone {
                    json_bytes,
                    gzip_bytes: 0,
                    result: Err(format!("gzip compression failed: {e:?}")),
                });
            }
        }
    }
}

fn writer(queue: Receiver<Compressed>, target: &dyn Target) {
    for chunk in queue {
        let gzip_bytes = chunk.gzip.len() as u64;
        let result = target
            .put_owned(&chunk.rel, chunk.gzip)
            .map_err(|e| e.to_string());
        let _ = chunk.reply.send(ChunkDone {
            json_bytes: chunk.json_bytes,
            gzip_bytes: if result.is_ok() { gzip_bytes } else { 0 },
            result,
        });
    }
}
