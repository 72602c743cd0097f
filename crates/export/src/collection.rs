//! One collection being written: JSON lines into chunks, chunks to the pool.

use bsonflow_model::{CollectionWriter, Failure, FailureKind, Namespace, SinkError};
use std::sync::Arc;

use crossbeam_channel::{unbounded, Receiver, Sender};

use crate::ledger::Ledger;
use crate::names::chunk_name;
use crate::options::ExportOptions;
use crate::ownership::CollectionOwnership;
use crate::pool::{ChunkDone, ChunkPool, ChunkStream, MemberJob, MEMBER_BYTES};
use crate::summary::{CollectionSummary, CorruptDocument, CORRUPT_LISTED, ORPHAN_EXAMPLES};

/// What a collection writer needs of its exporter: the settings, the compression pool and
/// the ledger it reports to.
#[derive(Clone, Copy)]
pub(crate) struct Shared<'a> {
    pub options: &'a ExportOptions,
    /// `<shard>` of the files written.
    pub shard: &'a str,
    pub pool: &'a ChunkPool,
    pub ledger: &'a Ledger,
}

/// The [`CollectionWriter`] of an [`Exporter`](crate::Exporter): converts each document to
/// one line of Extended JSON in the current member of the current chunk, and sends each
/// member to the compression pool.
///
/// **The chunk rule:** a chunk ends after the document that brings it to at least
/// `chunk_bytes` of *input BSON* (the documents' own bytes). It depends on nothing but the
/// documents of the collection and where the chunk starts, so a scan that only hops from
/// one document length to the next knows every chunk boundary (the scale-out `plan` does).
/// Inside a chunk, a new gzip member starts every 4 MiB of JSON.
pub struct CollectionExport<'a> {
    shared: Shared<'a>,
    ns: Namespace,
    origin: String,
    /// JSON lines of the current member.
    member: Vec<u8>,
    /// BSON bytes in the current chunk so far.
    chunk_bson: u64,
    chunk_bytes: u64,
    /// The current chunk's stream and its next member number, once it has a document.
    stream: Option<(Arc<ChunkStream>, u64)>,
    next_index: u64,
    reply_tx: Sender<ChunkDone>,
    reply_rx: Receiver<ChunkDone>,
    outstanding: usize,
    summary: CollectionSummary,
    error: Option<Failure>,
    finished: bool,
    opened: std::time::Instant,
    /// The chunk table of this collection, when it is sharded and one was given.
    owner: Option<&'a CollectionOwnership>,
}

impl<'a> CollectionExport<'a> {
    pub(crate) fn new(shared: Shared<'a>, ns: Namespace) -> Self {
        let chunk_bytes = shared.options.chunk_bytes;
        let owner = shared.options.ownership.as_deref().and_then(|o| o.of(&ns));
        let (reply_tx, reply_rx) = unbounded();
        CollectionExport {
            shared,
            summary: CollectionSummary {
                ns: Some(ns.clone()),
                ..Default::default()
            },
            ns,
            origin: String::new(),
            member: Vec::new(),
            chunk_bson: 0,
            chunk_bytes,
            stream: None,
            next_index: 0,
            reply_tx,
            reply_rx,
            outstanding: 0,
            error: None,
            finished: false,
            opened: std::time::Instant::now(),
            owner,
        }
    }

    /// The same writer with its first chunk numbered `first_chunk`, before any document.
    pub(crate) fn starting_at(mut self, first_chunk: u64) -> Self {
        self.next_index = first_chunk;
        self
    }

    /// Sends the current member to the pool; `last` ends the chunk (an empty last member
    /// only closes the chunk: it adds no bytes).
    fn flush_member(&mut self, last: bool) {
        if self.member.is_empty() && (self.stream.is_none() || !last) {
            return;
        }
        let pool = self.shared.pool;
        let json = std::mem::replace(&mut self.member, pool.buffer(MEMBER_BYTES + (64 << 10)));
        let (stream, seq) = match self.stream.take() {
            Some(s) => s,
            None => {
                let rel = chunk_name(&self.ns, self.shared.shard, self.next_index);
                self.next_index += 1;
                self.outstanding += 1;
                (pool.chunk(rel, self.reply_tx.clone()), 0)
            }
        };
        pool.submit(MemberJob {
            json,
            seq,
            last,
            stream: Arc::clone(&stream),
        });
        if !last {
            self.stream = Some((stream, seq + 1));
        } else {
            self.chunk_bson = 0;
        }
        while let Ok(done) = self.reply_rx.try_recv() {
            self.account(done);
        }
    }

    fn account(&mut self, done: ChunkDone) {
        self.outstanding -= 1;
        match done.result {
            Ok(()) => {
                self.summary.files += 1;
                self.summary.json_bytes += done.json_bytes;
                self.summary.gzip_bytes += done.gzip_bytes;
            }
            Err(e) => {
                // Recorded at once: the reader may drop this writer without finishing it.
                let failure = Failure::new(FailureKind::Output, format!("{}: {e}", self.ns));
                self.fail(failure);
            }
        }
    }

    /// Records `failure` (the first one wins) and returns it as the reader's error.
    fn fail(&mut self, failure: Failure) -> SinkError {
        let failure = self.error.get_or_insert(failure).clone();
        self.shared.ledger.fail(Some(&self.ns), failure.clone());
        Box::new(failure)
    }

    fn record_corrupt(&mut self, offset: u64, detail: String) -> Result<(), SinkError> {
        if !self.shared.options.skip_corrupt {
            let msg = format!("{}: {} at byte {offset}: {detail}", self.ns, self.origin);
            return Err(self.fail(Failure::new(FailureKind::Corrupt, msg)));
        }
        self.summary.corrupt += 1;
        if self.summary.corrupt_examples.len() < CORRUPT_LISTED {
            self.summary.corrupt_examples.push(CorruptDocument {
                origin: self.origin.clone(),
                offset,
                detail,
            });
        }
        Ok(())
    }
}

impl CollectionWriter for CollectionExport<'_> {
    fn set_origin(&mut self, origin: &str) {
        self.origin.clear();
        self.origin.push_str(origin);
    }

    fn write_document(&mut self, doc: &[u8], offset: u64) -> Result<(), SinkError> {
        if let Some(e) = &self.error {
            return Err(Box::new(e.clone()));
        }
        if let Some(owner) = self.owner {
            if !owner.owns(self.shared.shard, doc) {
                self.summary.orphans += 1;
                if self.summary.orphan_examples.len() < ORPHAN_EXAMPLES {
                    self.summary.orphan_examples.push(id_of(doc));
                }
                return Ok(());
            }
        }
        let before = self.member.len();
        match bsonflow_ejson::write_document(&mut self.member, doc, self.shared.options.mode) {
            Ok(()) => {
                self.member.push(b'\n');
                self.summary.documents += 1;
                self.summary.bson_bytes += doc.len() as u64;
                self.chunk_bson += doc.len() as u64;
                if self.chunk_bson >= self.chunk_bytes {
                    self.flush_member(true);
                } else if self.member.len() >= MEMBER_BYTES {
                    self.flush_member(false);
                }
                Ok(())
            }
            Err(e) => {
                // Nothing of a document that fails stays in the member.
                self.member.truncate(before);
                self.record_corrupt(
                    offset + e.offset as u64,
                    format!("{} (in the document that starts at byte {offset})", e.kind),
                )
            }
        }
    }

    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError> {
        self.record_corrupt(offset, detail.to_string())
    }

    fn finish(mut self) -> Result<(), SinkError> {
        self.finished = true;
        if self.error.is_none() {
            self.flush_member(true);
        }
        // While the last chunks are compressed, this thread compresses queued members too
        // (its own or others'), and only waits when the queue is empty.
        while self.outstanding > 0 {
            let done = match self.reply_rx.try_recv() {
                Ok(done) => done,
                Err(_) if self.shared.pool.help() => continue,
                Err(_) => self.reply_rx.recv().expect("the pool answers every chunk"),
            };
            self.account(done);
        }
        if let Some(e) = self.error.take() {
            return Err(self.fail(e));
        }
        let mut summary = std::mem::take(&mut self.summary);
        summary.elapsed = self.opened.elapsed();
        self.shared
            .ledger
            .done(&self.ns, summary)
            .map_err(|f| Box::new(f) as SinkError)
    }
}

/// A document's `_id` as relaxed Extended JSON (for the list of orphans dropped).
fn id_of(doc: &[u8]) -> String {
    bson::RawDocument::from_bytes(doc)
        .ok()
        .and_then(|d| d.get("_id").ok().flatten())
        .and_then(|id| bson::Bson::try_from(id).ok())
        .map(|id| id.into_relaxed_extjson().to_string())
        .unwrap_or_else(|| "(no _id)".into())
}

impl Drop for CollectionExport<'_> {
    fn drop(&mut self) {
        if !self.finished && self.error.is_none() {
            // Chunks already queued still land (the pool answers every one); the collection
            // is failed all the same, so no `.complete` covers it.
            self.shared.ledger.fail(
                Some(&self.ns),
                Failure::new(
                    FailureKind::Incomplete,
                    format!(
                        "reading stopped before the end of the collection (last input: {})",
                        self.origin
                    ),
                ),
            );
        }
    }
}
