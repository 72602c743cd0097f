//! The compression pool: threads that gzip full chunks and write them to disk.
//!
//! Writers hand over a chunk (its JSON bytes and where it goes) through a bounded channel,
//! so a writer waits when every thread is busy and the queue is full: memory in flight is at
//! most `2 × threads` chunks plus the one each open writer is filling. Each chunk is
//! compressed whole with libdeflate into a single-member gzip file and handed to the
//! [`Target`], which writes it whole (on disk: a temporary name, renamed when complete). Results go back to the writer that sent the
//! chunk, which waits for all of its own before it reports the collection finished.

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
        let workers = (0..threads)
            .map(|i| {
                let queue = queue.clone();
                let give_back = give_back.clone();
                let target = Arc::clone(&target);
                std::thread::Builder::new()
                    .name(format!("bsonflow-gzip-{i}"))
                    .spawn(move || worker(queue, give_back, level, &*target))
                    .expect("spawn a compression thread")
            })
            .collect();
        Some(ChunkPool {
            jobs: Some(jobs),
            spare,
            threads: workers,
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

fn worker(
    queue: Receiver<ChunkJob>,
    give_back: Sender<Vec<u8>>,
    level: CompressionLvl,
    target: &dyn Target,
) {
    let mut compressor = Compressor::new(level);
    let mut out = Vec::new();
    for job in queue {
        let json_bytes = job.json.len() as u64;
        out.resize(compressor.gzip_compress_bound(job.json.len()), 0);
        let result = compressor
            .gzip_compress(&job.json, &mut out)
            .map_err(|e| format!("gzip compression failed: {e:?}"))
            .and_then(|n| {
                target
                    .put(&job.rel, &out[..n])
                    .map_err(|e| e.to_string())
                    .map(|()| n as u64)
            });
        let done = match result {
            Ok(gzip_bytes) => ChunkDone {
                json_bytes,
                gzip_bytes,
                result: Ok(()),
            },
            Err(e) => ChunkDone {
                json_bytes,
                gzip_bytes: 0,
                result: Err(e),
            },
        };
        let _ = give_back.try_send(job.json);
        let _ = job.reply.send(done);
        // Large compressed buffers are kept for the next chunk; nothing else accumulates.
    }
}
