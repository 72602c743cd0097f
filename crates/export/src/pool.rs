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
//!
//! Each level goes to the fastest encoder for it ([`GzipEncoder::for_level`]): Intel's ISA-L
//! (igzip) for levels 1 and 2, where it is 1.4–2.5× as fast as libdeflate at about the same
//! size, libdeflate for level 0 (stored) and 3–12, where ISA-L has nothing as small.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender};
use isal::{Codec, CompressionLevel};
use libdeflater::{CompressionLvl, Compressor};

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
/// Members are compressed into `scratch`, kept for the thread's life, then copied into a
/// buffer of their exact size (the target may keep that one: an upload sends it as it is).
/// A fresh buffer of the worst-case size per member cost more: the allocator hands back
/// new zeroed pages each time, and the page faults on them were 4 % of the CPU time at
/// level 1 (`perf record`); the copy of the compressed bytes costs a fraction of that.
struct Encoder {
    kind: EncoderKind,
    scratch: Vec<u8>,
}

enum EncoderKind {
    Isal(CompressionLevel),
    Libdeflate(Box<Compressor>),
}

impl Encoder {
    fn new(encoder: GzipEncoder) -> Self {
        let kind = match encoder {
            GzipEncoder::Isal(l) => EncoderKind::Isal(match l {
                0 => CompressionLevel::Zero,
                1 => CompressionLevel::One,
                _ => CompressionLevel::Three,
            }),
            GzipEncoder::Libdeflate(l) => EncoderKind::Libdeflate(Box::new(Compressor::new(
                CompressionLvl::new(i32::from(l)).expect("libdeflate level 0-12"),
            ))),
        };
        Encoder {
            kind,
            scratch: Vec::new(),
        }
    }

    /// `json` as one gzip member, in a buffer of its own.
    fn gzip(&mut self, json: &[u8]) -> Result<Vec<u8>, String> {
        let n = match &mut self.kind {
            EncoderKind::Isal(level) => {
                // What a stored (uncompressed) member takes, which igzip falls back to when
                // its output would be larger: 5 bytes per 65,535-byte block, the 18-byte
                // gzip header and trailer (isal_deflate_stateless); rounded up generously.
                let bound = json.len() + json.len() / 8192 + 64;
                if self.scratch.len() < bound {
                    self.scratch.resize(bound, 0);
                }
                isal::compress_into(json, &mut self.scratch, *level, Codec::Gzip)
                    .map_err(|e| format!("gzip compression (ISA-L) failed: {e}"))?
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
        Ok(self.scratch[..n].to_vec())
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
    /// `None` when there is no such gzip level ([`GzipEncoder::for_level`]).
    pub fn new(threads: usize, level: u32, target: Arc<dyn Target>) -> Option<Self> {
        let level = GzipEncoder::for_level(level)?;
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

fn worker(queue: Receiver<MemberJob>, give_back: Sender<Vec<u8>>, level: GzipEncoder) {
    let mut encoder = Encoder::new(level);
    for job in queue {
        let json_bytes = job.json.len() as u64;
        if job.json.is_empty() {
            // A chunk's closing signal: nothing to compress.
            job.stream.deliver(job.seq, Ok(Vec::new()), job.last, 0);
            continue;
        }
        let member = encoder.gzip(&job.json);
        let _ = give_back.try_send(job.json);
        job.stream.deliver(job.seq, member, job.last, json_bytes);
    }
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
                assert_eq!(gunzip(&gz), input, "level {level}");
                if input.len() == text.len() && level > 0 {
                    assert!(gz.len() < input.len() / 4, "level {level}: {}", gz.len());
                }
            }
        }
    }
}
