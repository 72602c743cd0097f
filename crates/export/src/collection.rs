//! One collection being written: JSON lines into chunks, chunks to the pool.

use bsonflow_model::{CollectionWriter, Failure, FailureKind, Namespace, SinkError};
use crossbeam_channel::{unbounded, Receiver, Sender};

use crate::ledger::Ledger;
use crate::options::ExportOptions;
use crate::pool::{ChunkDone, ChunkJob, ChunkPool};
use crate::summary::{CollectionSummary, CorruptDocument, CORRUPT_EXAMPLES};

/// What a collection writer needs of its exporter: the settings, the compression pool and
/// the ledger it reports to.
#[derive(Clone, Copy)]
pub(crate) struct Shared<'a> {
    pub options: &'a ExportOptions,
    pub pool: &'a ChunkPool,
    pub ledger: &'a Ledger,
}

/// The [`CollectionWriter`] of an [`Exporter`](crate::Exporter): converts each document to
/// one line of Extended JSON in the current chunk and sends full chunks to the compression
/// pool.
pub struct CollectionExport<'a> {
    shared: Shared<'a>,
    ns: Namespace,
    /// The collection's folder relative to the export's root (`shop/orders`).
    dir: String,
    origin: String,
    chunk: Vec<u8>,
    chunk_bytes: usize,
    next_index: u64,
    reply_tx: Sender<ChunkDone>,
    reply_rx: Receiver<ChunkDone>,
    outstanding: usize,
    summary: CollectionSummary,
    error: Option<Failure>,
    finished: bool,
}

impl<'a> CollectionExport<'a> {
    pub(crate) fn new(shared: Shared<'a>, ns: Namespace, dir: String) -> Self {
        let chunk_bytes = shared.options.chunk_bytes.min(usize::MAX as u64) as usize;
        let (reply_tx, reply_rx) = unbounded();
        CollectionExport {
            shared,
            summary: CollectionSummary {
                ns: Some(ns.clone()),
                ..Default::default()
            },
            ns,
            dir,
            origin: String::new(),
            chunk: Vec::new(),
            chunk_bytes,
            next_index: 0,
            reply_tx,
            reply_rx,
            outstanding: 0,
            error: None,
            finished: false,
        }
    }

    /// Sends the current chunk to the pool.
    fn flush_chunk(&mut self) {
        if self.chunk.is_empty() {
            return;
        }
        let pool = self.shared.pool;
        let capacity = self.chunk_bytes.min(64 << 20) + (64 << 10);
        let json = std::mem::replace(&mut self.chunk, pool.buffer(capacity));
        let name = format!(
            "{}.{}.json.gz",
            self.shared.options.shard_name, self.next_index
        );
        self.next_index += 1;
        pool.submit(ChunkJob {
            json,
            rel: format!("{}/{name}", self.dir),
            reply: self.reply_tx.clone(),
        });
        self.outstanding += 1;
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
        if self.summary.corrupt_examples.len() < CORRUPT_EXAMPLES {
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
        match bsonflow_ejson::write_document(&mut self.chunk, doc, self.shared.options.mode) {
            Ok(()) => {
                self.chunk.push(b'\n');
                self.summary.documents += 1;
                self.summary.bson_bytes += doc.len() as u64;
                if self.chunk.len() >= self.chunk_bytes {
                    self.flush_chunk();
                }
                Ok(())
            }
            Err(e) => self.record_corrupt(
                offset + e.offset as u64,
                format!("{} (in the document that starts at byte {offset})", e.kind),
            ),
        }
    }

    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError> {
        self.record_corrupt(offset, detail.to_string())
    }

    fn finish(mut self) -> Result<(), SinkError> {
        self.finished = true;
        if self.error.is_none() {
            self.flush_chunk();
        }
        while self.outstanding > 0 {
            let done = self.reply_rx.recv().expect("the pool answers every chunk");
            self.account(done);
        }
        if let Some(e) = self.error.take() {
            return Err(self.fail(e));
        }
        let summary = std::mem::take(&mut self.summary);
        self.shared
            .ledger
            .done(&self.ns, summary)
            .map_err(|f| Box::new(f) as SinkError)
    }
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
