//! mongodump `--archive` streams (plain, or gzipped as a whole like ApsaraDB's `.ar`), read
//! once, front to back.
//!
//! The format (`alibaba-backups.md` §8, mongo-tools `common/archive/spec.md`):
//!
//! ```text
//! magic 6d e2 99 81 | header doc | collection-metadata docs | ff ff ff ff
//! then, interleaved:  namespace header {db, collection, EOF: false} | docs | ff ff ff ff
//!                     EOF header       {db, collection, EOF: true, CRC} | ff ff ff ff
//! ```
//!
//! How this reader maps it onto a [`DocumentSink`]:
//!
//! - Decompression (gzip, multi-member gzip, zstd — told by the first bytes) runs on its own
//!   thread; the calling thread parses items and pushes documents into the writers, which
//!   convert and compress on the export pool. Memory is bounded: one item buffer (a document
//!   is at most 16 MiB), the read-ahead blocks, and the writers open at one time.
//! - The prelude's metadata records are parsed with
//!   [`CollectionMetadata::from_mongodump_json`]; the record's `type` (absent before
//!   mongo-tools 100.4) fills in the kind when the metadata text does not say it. A metadata
//!   text that is not JSON fails the run (mongorestore fails too: mongo-tools'
//!   `bad-format.archive`, where mongodump r4.2.2 wrote an index key unescaped).
//! - Each prelude record is told to the sink as it is read ([`DocumentSink::wants`], an
//!   answer without side effects for the export writer), so that a sink that only looks
//!   learns every namespace and its kind even when it stops the read early.
//! - A writer is opened at a namespace's first segment and finished at its EOF block, so
//!   several are open at once while segments interleave (as many as mongodump dumped
//!   concurrently). A namespace with an EOF block but no segment, and a prelude namespace
//!   that never appears (a view), becomes an empty collection; the sink's filter drops the
//!   views, `admin.*`, `system.*` and the oplog pseudo-namespace (`db: ""`).
//! - Time-series: the prelude record names the collection (`foo_ts`, `type: timeseries`)
//!   while the segments name `system.buckets.foo_ts`; the buckets namespace is offered with
//!   the record's metadata, and the collection itself as an empty one — both are skipped.
//! - The CRC-64/XZ (Go's `crc64.ECMA`) of every namespace's documents is checked against its
//!   EOF block, for every namespace (also those the sink skips): a mismatch fails the run.
//! - Errors name the archive, the namespace when there is one, and the position: offset in
//!   the decompressed stream plus compressed bytes consumed ([`StreamPosition`]). Bad lengths
//!   (a length that is neither the terminator nor 5..=16 MiB + 16 KiB, the bound bsondump
//!   allows), two consecutive terminators, a segment after its namespace's EOF block, an end
//!   of file anywhere but right after a terminator, a namespace whose EOF block never comes,
//!   and a prelude namespace (other than a view or time-series record) that never appears
//!   are errors. A document whose length is sound but whose last byte is not `0x00` goes to
//!   [`CollectionWriter::corrupt`]: the sink decides whether it fails the collection.
//!
//! mongorestore also accepts archives whose documents are read by their own length only;
//! this reader never tries to resynchronise after a bad length, since nothing in the format
//! marks the next block.

mod items;

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Arc;

use bson::{RawBsonRef, RawDocument};
use bsonflow_model::{
    CollectionMetadata, CollectionWriter, DocumentSink, FailureKind, MetadataError, Namespace,
    NamespaceRead, Progress, ReadOptions, ReadReport, SinkError,
};
use crc::{Crc, Digest, Table, CRC_64_XZ};

use crate::compression::Compression;
use crate::input::{Input, Locator, PackedInput, ReadError, StreamPosition, Ticker};
use bsonflow_model::FrameError;
use items::{Item, ItemError, ItemReader};

/// The first four bytes of an uncompressed mongodump archive (`0x8199e26d` little-endian).
pub const MAGIC: [u8; 4] = [0x6d, 0xe2, 0x99, 0x81];

/// The only archive format version mongodump writes.
pub const FORMAT_VERSION: &str = "0.1";

/// CRC-64/XZ, slice-by-16.
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_XZ);

/// The CRC-64 mongodump stores in an EOF block (Go's `crc64.ECMA` table = CRC-64/XZ).
pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

/// The archive's header document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ArchiveHeader {
    pub concurrent_collections: Option<i32>,
    /// `"0.1"`.
    pub format_version: String,
    pub server_version: String,
    pub tool_version: String,
}

/// What became of one namespace of the archive.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct NamespaceReport {
    pub ns: Namespace,
    /// It has a metadata record in the prelude.
    pub in_prelude: bool,
    /// The record's `type` (`collection`, `view`, `timeseries`), when given.
    pub kind: Option<String>,
    /// The record's `size` (int32 or int64); mongodump writes 0.
    pub declared_size: Option<i64>,
    pub segments: u64,
    pub documents: u64,
    pub bytes: u64,
    /// The CRC of its EOF block, checked; `None` when it had no EOF block.
    pub crc: Option<u64>,
    /// The sink accepted it (written in full when the export succeeded).
    pub exported: bool,
}

/// What an archive read counted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ArchiveReport {
    pub compression: Compression,
    pub header: ArchiveHeader,
    /// In order of first appearance: the prelude's records, then namespaces met only in
    /// segments (time-series buckets, or anything mongodump did not announce).
    pub namespaces: Vec<NamespaceReport>,
    /// Namespaces the sink accepted and that were finished.
    pub exported: usize,
    /// Namespaces the sink declined (it recorded why).
    pub skipped: usize,
    /// Documents of exported namespaces.
    pub documents: u64,
    /// Documents without their trailing `0x00` that the sink chose to skip.
    pub corrupt_documents: u64,
    /// Size of the decompressed archive.
    pub archive_bytes: u64,
    /// Raw bytes read from the input.
    pub input_bytes: u64,
}

/// An archive that cannot be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The first bytes cannot be read to tell the compression, or the decoder cannot be set
    /// up; the message names the archive and the I/O error.
    #[error("{archive}: {source}")]
    Open {
        /// The input's label ([`Input::label`]).
        archive: Arc<str>,
        /// What the input or the decoder reported.
        #[source]
        source: io::Error,
    },
    /// The decompressed stream does not start with [`MAGIC`] (nor with a cut-off piece of
    /// it, which is [`Truncated`](Self::Truncated)); the message names the archive and the
    /// bytes found.
    #[error("{archive}: not a mongodump archive: it starts with {found:02x?}, not 6d e2 99 81")]
    BadMagic {
        /// The input's label ([`Input::label`]).
        archive: Arc<str>,
        /// The first bytes of the decompressed stream: up to 4, none for an empty stream.
        found: Vec<u8>,
    },
    /// The input or its decoder failed part way (a damaged gzip or zstd stream too); the
    /// message names the archive, the position and the namespace being read, if any.
    #[error("{archive}: read error at {pos}{}: {source}", in_ns(.ns))]
    Read {
        /// The input's label ([`Input::label`]).
        archive: Arc<str>,
        /// The namespace whose segment or EOF block was being read; `None` in the prelude
        /// or between blocks.
        ns: Option<Namespace>,
        /// Where the failed read was to continue the stream.
        pos: StreamPosition,
        /// What the input or the decoder reported.
        #[source]
        source: io::Error,
    },
    /// The stream ends where the format wants more: inside the magic or an item, before the
    /// prelude's terminator, before a namespace's EOF block, or before any block of a
    /// namespace the prelude announces. The message names the archive, the position, the
    /// namespace if any and what was missing.
    #[error("{archive}: truncated at {pos}{}: {what}", in_ns(.ns))]
    Truncated {
        /// The input's label ([`Input::label`]).
        archive: Arc<str>,
        /// The namespace that was cut short; `None` when the cut is outside any namespace.
        ns: Option<Namespace>,
        /// Where the missing item starts, or the end of the stream.
        pos: StreamPosition,
        /// What was being read and what is missing.
        what: String,
    },
    /// The bytes break the format: a length that is neither the terminator nor a document
    /// length, two terminators in a row, a header or prelude record that cannot be parsed, a
    /// format version other than [`FORMAT_VERSION`], a namespace named twice in the prelude,
    /// a segment or second EOF block after a namespace's EOF block, or a document inside an
    /// EOF block. The message names the archive, the position, the namespace if any and the
    /// fault.
    #[error("{archive}: corrupt archive at {pos}{}: {what}", in_ns(.ns))]
    Corrupt {
        /// The input's label ([`Input::label`]).
        archive: Arc<str>,
        /// The namespace the faulty item belongs to, when it is known.
        ns: Option<Namespace>,
        /// Where the faulty item starts.
        pos: StreamPosition,
        /// What is wrong, and what was being read.
        what: String,
    },
    /// A namespace's documents do not give the CRC its EOF block stores ([`crc64`]); checked
    /// for every namespace, also those the sink declined. The message names the archive,
    /// the namespace, the position of the EOF block and both values.
    #[error("{archive}: CRC mismatch for namespace {ns}: its EOF block at {pos} says {expected:#018x}, its documents give {computed:#018x}")]
    Crc {
        /// The input's label ([`Input::label`]).
        archive: Arc<str>,
        /// The namespace whose documents were checked.
        ns: Namespace,
        /// Where its EOF block's header starts.
        pos: StreamPosition,
        /// The CRC-64 stored in the EOF block.
        expected: u64,
        /// The CRC-64 of the namespace's documents as read, in stream order.
        computed: u64,
    },
    /// A prelude record's metadata text is not mongodump metadata; the whole run fails, as
    /// mongorestore does. The message names the archive, the namespace and the fault.
    #[error("{archive}: metadata of {ns}: {source}")]
    Metadata {
        /// The input's label ([`Input::label`]).
        archive: Arc<str>,
        /// The namespace of the prelude record.
        ns: Namespace,
        /// Why the metadata text was refused.
        #[source]
        source: MetadataError,
    },
    /// The sink or a writer returned an error (it has recorded its own failure); the
    /// message names the archive, the namespace and the sink's message.
    #[error("{archive}: {ns}: {source}")]
    Sink {
        /// The input's label ([`Input::label`]).
        archive: Arc<str>,
        /// The namespace being opened, written or finished.
        ns: Namespace,
        /// What the sink or the writer returned.
        #[source]
        source: SinkError,
    },
}

fn in_ns(ns: &Option<Namespace>) -> String {
    match ns {
        Some(ns) => format!(" in namespace {ns}"),
        None => String::new(),
    }
}

/// Reads the mongodump archive in `input` (plain, gzip or zstd) into `sink`, to its end.
///
/// Failures go to the sink's ledger ([`DocumentSink::fail`]), naming the archive, the
/// namespace when there is one and the position; the report says whether the archive was
/// read to its end and carries every namespace's counts and verified CRC.
pub fn read_into<S: DocumentSink>(
    input: Input,
    sink: &S,
    progress: &Progress,
    _options: &ReadOptions,
) -> ReadReport {
    let (label, size, reader) = input.into_parts();
    if let Some(size) = size {
        progress.add_total(size);
    }
    let (report, result) = read_archive(reader, &label, sink, progress);
    let mut report = report.into_read_report();
    if let Err(e) = result {
        e.record(sink);
        report.read_to_end = false;
    }
    report
}

impl ArchiveReport {
    fn new(compression: Compression) -> Self {
        ArchiveReport {
            compression,
            header: ArchiveHeader::default(),
            namespaces: Vec::new(),
            exported: 0,
            skipped: 0,
            documents: 0,
            corrupt_documents: 0,
            archive_bytes: 0,
            input_bytes: 0,
        }
    }

    fn into_read_report(self) -> ReadReport {
        let or_unknown = |s: &str| {
            if s.is_empty() {
                "unknown".to_string()
            } else {
                s.to_string()
            }
        };
        let packed = match self.compression {
            Compression::None => String::new(),
            c => format!("{} → ", c.name()),
        };
        ReadReport {
            format: format!(
                "{packed}mongodump archive from server {} (mongodump {}), {} namespaces",
                or_unknown(&self.header.server_version),
                or_unknown(&self.header.tool_version),
                self.namespaces.len()
            ),
            notes: if self.corrupt_documents > 0 {
                vec![format!(
                    "{} documents without their trailing 0x00 were skipped as the sink chose",
                    self.corrupt_documents
                )]
            } else {
                Vec::new()
            },
            namespaces: self
                .namespaces
                .iter()
                .map(|n| NamespaceRead {
                    ns: n.ns.clone(),
                    documents: n.documents,
                    bytes: n.bytes,
                    checksum: n.crc.map(|c| format!("crc64 {c:#018x}")),
                })
                .collect(),
            documents: self.documents,
            input_bytes: self.input_bytes,
            ignored: Vec::new(),
            ignored_unlisted: 0,
            left_out: Vec::new(),
            read_to_end: true,
        }
    }
}

impl ReadError for ArchiveError {
    fn namespace(&self) -> Option<&Namespace> {
        match self {
            ArchiveError::Read { ns, .. }
            | ArchiveError::Truncated { ns, .. }
            | ArchiveError::Corrupt { ns, .. } => ns.as_ref(),
            ArchiveError::Crc { ns, .. }
            | ArchiveError::Metadata { ns, .. }
            | ArchiveError::Sink { ns, .. } => Some(ns),
            ArchiveError::Open { .. } | ArchiveError::BadMagic { .. } => None,
        }
    }

    fn kind(&self) -> FailureKind {
        match self {
            ArchiveError::Open { .. } => FailureKind::Input,
            ArchiveError::Read { source, .. } => crate::compression::io_failure_kind(source),
            ArchiveError::BadMagic { .. }
            | ArchiveError::Truncated { .. }
            | ArchiveError::Corrupt { .. }
            | ArchiveError::Crc { .. }
            | ArchiveError::Metadata { .. } => FailureKind::Corrupt,
            // The sink recorded its own failure first; this one only stands in for it.
            ArchiveError::Sink { .. } => FailureKind::Incomplete,
        }
    }
}

/// Reads a mongodump archive from `reader` (raw bytes, possibly gzip or zstd) into `sink`;
/// `label` names it in errors.
fn read_archive<R: Read + Send + 'static, S: DocumentSink>(
    reader: R,
    label: &str,
    sink: &S,
    progress: &Progress,
) -> (ArchiveReport, Result<(), ArchiveError>) {
    let input = match PackedInput::open(reader) {
        Ok(input) => input,
        Err(source) => {
            let e = ArchiveError::Open {
                archive: label.into(),
                source,
            };
            return (ArchiveReport::new(Compression::None), Err(e));
        }
    };
    let mut run = Run {
        archive: label.into(),
        origin: match input.compression {
            Compression::None => label.to_string(),
            c => format!("{label} ({} decompressed)", c.name()),
        },
        sink,
        locator: input.locator(),
        ticker: Ticker::new(progress, Arc::clone(&input.compressed)),
        states: Vec::new(),
        index: HashMap::new(),
        report: ArchiveReport::new(input.compression),
    };
    let mut items = ItemReader::new(input.reader);
    let result = run.read(&mut items);
    run.report.archive_bytes = items.offset();
    run.ticker.tick();
    run.report.input_bytes = run.ticker.consumed();
    let mut report = run.report;
    report.namespaces = run.states.into_iter().map(|s| s.report).collect();
    (report, result)
}

/// Where a namespace's writer stands.
enum Slot<W> {
    Unopened,
    Open(W),
    Declined,
    Finished,
}

struct NsState<W> {
    report: NamespaceReport,
    /// From the prelude.
    meta: Option<CollectionMetadata>,
    writer: Slot<W>,
    crc: Digest<'static, u64, Table<16>>,
    /// Its EOF block was read.
    ended: bool,
}

/// A parsed namespace header.
struct BlockHeader {
    ns: Namespace,
    eof: bool,
    crc: u64,
}

struct Run<'a, S: DocumentSink> {
    archive: Arc<str>,
    /// The origin given to writers: offsets are in the decompressed stream.
    origin: String,
    sink: &'a S,
    locator: Locator,
    ticker: Ticker<'a>,
    states: Vec<NsState<S::Writer<'a>>>,
    index: HashMap<Namespace, usize>,
    report: ArchiveReport,
}

impl<'a, S: DocumentSink> Run<'a, S> {
    fn pos(&self, offset: u64) -> StreamPosition {
        self.locator.at(offset)
    }

    fn corrupt(
        &self,
        offset: u64,
        ns: Option<&Namespace>,
        what: impl Into<String>,
    ) -> ArchiveError {
        ArchiveError::Corrupt {
            archive: self.archive.clone(),
            ns: ns.cloned(),
            pos: self.pos(offset),
            what: what.into(),
        }
    }

    fn truncated(
        &self,
        offset: u64,
        ns: Option<&Namespace>,
        what: impl Into<String>,
    ) -> ArchiveError {
        ArchiveError::Truncated {
            archive: self.archive.clone(),
            ns: ns.cloned(),
            pos: self.pos(offset),
            what: what.into(),
        }
    }

    fn item_error(&self, e: ItemError, ns: Option<&Namespace>, during: &str) -> ArchiveError {
        let offset = e.offset();
        match e {
            ItemError::Io { source, .. } => ArchiveError::Read {
                archive: self.archive.clone(),
                ns: ns.cloned(),
                pos: self.pos(offset),
                source,
            },
            ItemError::Truncated { .. } => self.truncated(offset, ns, format!("{during}: {e}")),
            ItemError::BadLength { .. } => self.corrupt(offset, ns, format!("{during}: {e}")),
        }
    }

    fn sink_err(&self, ns: &Namespace, source: SinkError) -> ArchiveError {
        ArchiveError::Sink {
            archive: self.archive.clone(),
            ns: ns.clone(),
            source,
        }
    }

    /// The state of `ns`, created on first sight.
    fn state(&mut self, ns: &Namespace) -> usize {
        if let Some(&i) = self.index.get(ns) {
            return i;
        }
        let i = self.states.len();
        self.states.push(NsState {
            report: NamespaceReport {
                ns: ns.clone(),
                in_prelude: false,
                kind: None,
                declared_size: None,
                segments: 0,
                documents: 0,
                bytes: 0,
                crc: None,
                exported: false,
            },
            meta: None,
            writer: Slot::Unopened,
            crc: CRC64.digest(),
            ended: false,
        });
        self.index.insert(ns.clone(), i);
        i
    }

    /// The metadata a namespace is opened with: its prelude record, or for
    /// `system.buckets.<name>` the time-series record of `<name>`.
    fn metadata_for(&self, i: usize) -> CollectionMetadata {
        let st = &self.states[i];
        if let Some(meta) = &st.meta {
            return meta.clone();
        }
        if let Some(name) = st.report.ns.collection.strip_prefix("system.buckets.") {
            let owner = Namespace::new(st.report.ns.db.clone(), name);
            if let Some(meta) = self
                .index
                .get(&owner)
                .and_then(|&j| self.states[j].meta.as_ref())
                .filter(|m| m.is_timeseries())
            {
                return meta.clone();
            }
        }
        CollectionMetadata::default()
    }

    /// Opens the writer of namespace `i` if it is not open yet.
    fn ensure_open(&mut self, i: usize) -> Result<(), ArchiveError> {
        if !matches!(self.states[i].writer, Slot::Unopened) {
            return Ok(());
        }
        let meta = self.metadata_for(i);
        let ns = self.states[i].report.ns.clone();
        match self
            .sink
            .open(&ns, &meta)
            .map_err(|e| self.sink_err(&ns, e))?
        {
            Some(mut w) => {
                w.set_origin(&self.origin);
                self.states[i].writer = Slot::Open(w);
                self.states[i].report.exported = true;
            }
            None => {
                self.states[i].writer = Slot::Declined;
                self.report.skipped += 1;
            }
        }
        Ok(())
    }

    /// Opens (if needed) and finishes the writer of namespace `i`.
    fn finish(&mut self, i: usize) -> Result<(), ArchiveError> {
        self.ensure_open(i)?;
        match std::mem::replace(&mut self.states[i].writer, Slot::Finished) {
            Slot::Open(w) => {
                let ns = self.states[i].report.ns.clone();
                w.finish().map_err(|e| self.sink_err(&ns, e))?;
                self.report.exported += 1;
                self.report.documents += self.states[i].report.documents;
            }
            other => self.states[i].writer = other,
        }
        Ok(())
    }

    fn read<R: Read>(&mut self, items: &mut ItemReader<R>) -> Result<(), ArchiveError> {
        let magic = items
            .raw(4)
            .map_err(|e| self.item_error(e, None, "reading the magic number"))?;
        if magic.len() < MAGIC.len() && MAGIC.starts_with(&magic) && !magic.is_empty() {
            return Err(self.truncated(0, None, "the stream ends inside the magic number"));
        }
        if magic != MAGIC {
            return Err(ArchiveError::BadMagic {
                archive: self.archive.clone(),
                found: magic,
            });
        }
        self.read_prelude(items)?;
        loop {
            let (offset, item) = items
                .next_item()
                .map_err(|e| self.item_error(e, None, "reading a block header"))?;
            let header = match item {
                Item::End => break,
                Item::Terminator => {
                    return Err(self.corrupt(
                        offset,
                        None,
                        "two consecutive terminators (a block without a header)",
                    ))
                }
                Item::Unterminated(_) => {
                    return Err(self.corrupt(
                        offset,
                        None,
                        "a block header that does not end with a 0x00 byte",
                    ))
                }
                Item::Document(doc) => parse_block_header(doc)
                    .map_err(|what| self.corrupt(offset, None, format!("block header: {what}")))?,
            };
            let i = self.state(&header.ns);
            let ns = header.ns;
            if self.states[i].ended {
                return Err(self.corrupt(
                    offset,
                    Some(&ns),
                    if header.eof {
                        "a second EOF block for the namespace"
                    } else {
                        "a segment after the namespace's EOF block"
                    },
                ));
            }
            if header.eof {
                self.read_eof(items, i, &ns, offset, header.crc)?;
            } else {
                self.read_segment(items, i, &ns)?;
            }
        }
        self.end(items.offset())
    }

    fn read_prelude<R: Read>(&mut self, items: &mut ItemReader<R>) -> Result<(), ArchiveError> {
        let (offset, item) = items
            .next_item()
            .map_err(|e| self.item_error(e, None, "reading the archive header"))?;
        let header = match item {
            Item::Document(doc) => parse_archive_header(doc),
            Item::End => return Err(self.truncated(offset, None, "no archive header")),
            Item::Terminator => Err("a terminator where the header should be".to_string()),
            Item::Unterminated(_) => Err("does not end with a 0x00 byte".to_string()),
        }
        .map_err(|what| self.corrupt(offset, None, format!("archive header: {what}")))?;
        if !header.format_version.is_empty() && header.format_version != FORMAT_VERSION {
            return Err(self.corrupt(
                offset,
                None,
                format!(
                    "archive format version {:?} (only {FORMAT_VERSION} exists)",
                    header.format_version
                ),
            ));
        }
        self.report.header = header;
        loop {
            let (offset, item) = items
                .next_item()
                .map_err(|e| self.item_error(e, None, "reading the prelude"))?;
            let record = match item {
                Item::Terminator => return Ok(()),
                Item::End => {
                    return Err(self.truncated(offset, None, "the prelude has no terminator"))
                }
                Item::Unterminated(_) => Err("does not end with a 0x00 byte".to_string()),
                Item::Document(doc) => parse_prelude_record(doc),
            }
            .map_err(|what| self.corrupt(offset, None, format!("prelude record: {what}")))?;
            let ns = Namespace::new(record.db, record.collection);
            if self.index.contains_key(&ns) {
                return Err(self.corrupt(offset, Some(&ns), "the prelude names it twice"));
            }
            let mut meta =
                CollectionMetadata::from_mongodump_json(&record.metadata).map_err(|source| {
                    ArchiveError::Metadata {
                        archive: self.archive.clone(),
                        ns: ns.clone(),
                        source,
                    }
                })?;
            // The record's `type` tells views and time-series apart when the metadata text
            // does not (an ordinary collection needs no kind: its metadata.json omits it).
            if meta.kind.is_none() && record.kind.as_deref() != Some("collection") {
                meta.kind = record.kind.clone();
            }
            // Tell the sink what the archive holds as soon as it is known (a sink that only
            // looks, such as `inspect`'s census, learns of views and time-series records that
            // a partial read never reaches); the answer is asked again at open.
            let _ = self.sink.wants(&ns, &meta);
            let i = self.state(&ns);
            let st = &mut self.states[i];
            st.meta = Some(meta);
            st.report.in_prelude = true;
            st.report.kind = record.kind;
            st.report.declared_size = record.size;
        }
    }

    fn read_segment<R: Read>(
        &mut self,
        items: &mut ItemReader<R>,
        i: usize,
        ns: &Namespace,
    ) -> Result<(), ArchiveError> {
        self.ensure_open(i)?;
        self.states[i].report.segments += 1;
        loop {
            let (offset, item) = items
                .next_item()
                .map_err(|e| self.item_error(e, Some(ns), "reading a document"))?;
            let st = &mut self.states[i];
            match item {
                Item::Terminator => return Ok(()),
                Item::End => {
                    return Err(self.truncated(
                        offset,
                        Some(ns),
                        "the stream ends inside a segment (no terminator)",
                    ))
                }
                Item::Document(doc) => {
                    st.crc.update(doc);
                    st.report.documents += 1;
                    st.report.bytes += doc.len() as u64;
                    if let Slot::Open(w) = &mut st.writer {
                        if let Err(e) = w.write_document(doc, offset) {
                            return Err(self.sink_err(ns, e));
                        }
                    }
                }
                Item::Unterminated(doc) => {
                    st.crc.update(doc);
                    if let Slot::Open(w) = &mut st.writer {
                        let detail = FrameError::MissingTerminator {
                            offset,
                            len: doc.len(),
                        }
                        .to_string();
                        if let Err(e) = w.corrupt(offset, &detail) {
                            return Err(self.sink_err(ns, e));
                        }
                        self.report.corrupt_documents += 1;
                    }
                }
            }
            self.ticker.tick();
        }
    }

    fn read_eof<R: Read>(
        &mut self,
        items: &mut ItemReader<R>,
        i: usize,
        ns: &Namespace,
        header_offset: u64,
        expected: u64,
    ) -> Result<(), ArchiveError> {
        let (offset, item) = items
            .next_item()
            .map_err(|e| self.item_error(e, Some(ns), "reading an EOF block"))?;
        match item {
            Item::Terminator => {}
            Item::End => {
                return Err(self.truncated(offset, Some(ns), "the EOF block has no terminator"))
            }
            Item::Document(_) | Item::Unterminated(_) => {
                return Err(self.corrupt(offset, Some(ns), "an EOF block holds a document"))
            }
        }
        let computed = std::mem::replace(&mut self.states[i].crc, CRC64.digest()).finalize();
        if computed != expected {
            return Err(ArchiveError::Crc {
                archive: self.archive.clone(),
                ns: ns.clone(),
                pos: self.pos(header_offset),
                expected,
                computed,
            });
        }
        self.states[i].ended = true;
        self.states[i].report.crc = Some(expected);
        self.finish(i)
    }

    /// The clean end of the stream: every namespace that was started must have ended; the
    /// prelude's namespaces that never appeared become empty collections.
    fn end(&mut self, offset: u64) -> Result<(), ArchiveError> {
        for st in &self.states {
            let ns = Some(&st.report.ns);
            if st.ended {
                continue;
            }
            if st.report.segments > 0 {
                return Err(self.truncated(
                    offset,
                    ns,
                    "the archive ends before the namespace's EOF block",
                ));
            }
            let optional = st
                .meta
                .as_ref()
                .is_some_and(|m| m.is_view() || m.is_timeseries());
            if st.report.in_prelude && !optional {
                return Err(self.truncated(
                    offset,
                    ns,
                    "the archive ends before any block of this namespace, which its prelude announces",
                ));
            }
        }
        for i in 0..self.states.len() {
            if !self.states[i].ended {
                self.finish(i)?;
            }
        }
        Ok(())
    }
}

fn str_field<'d>(doc: &'d RawDocument, key: &str) -> Result<Option<&'d str>, String> {
    match doc.get(key).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(RawBsonRef::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "field `{key}` is {:?}, not a string",
            other.element_type()
        )),
    }
}

fn int_field(doc: &RawDocument, key: &str) -> Result<Option<i64>, String> {
    match doc.get(key).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(RawBsonRef::Int32(v)) => Ok(Some(v as i64)),
        Some(RawBsonRef::Int64(v)) => Ok(Some(v)),
        Some(other) => Err(format!(
            "field `{key}` is {:?}, not an integer",
            other.element_type()
        )),
    }
}

fn raw_doc(doc: &[u8]) -> Result<&RawDocument, String> {
    RawDocument::from_bytes(doc).map_err(|e| format!("not a BSON document: {e}"))
}

fn parse_archive_header(doc: &[u8]) -> Result<ArchiveHeader, String> {
    let doc = raw_doc(doc)?;
    Ok(ArchiveHeader {
        concurrent_collections: int_field(doc, "concurrent_collections")?
            .map(|v| v.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
        format_version: str_field(doc, "version")?.unwrap_or_default().to_string(),
        server_version: str_field(doc, "server_version")?
            .unwrap_or_default()
            .to_string(),
        tool_version: str_field(doc, "tool_version")?
            .unwrap_or_default()
            .to_string(),
    })
}

struct PreludeRecord {
    db: String,
    collection: String,
    metadata: String,
    size: Option<i64>,
    kind: Option<String>,
}

fn parse_prelude_record(doc: &[u8]) -> Result<PreludeRecord, String> {
    let doc = raw_doc(doc)?;
    let collection = str_field(doc, "collection")?
        .filter(|c| !c.is_empty())
        .ok_or("no `collection`")?;
    Ok(PreludeRecord {
        db: str_field(doc, "db")?.unwrap_or_default().to_string(),
        collection: collection.to_string(),
        metadata: str_field(doc, "metadata")?.unwrap_or_default().to_string(),
        // `size` is Go's int: int32 when it fits, else int64. It is informative only.
        size: int_field(doc, "size").ok().flatten(),
        kind: str_field(doc, "type")?
            .filter(|t| !t.is_empty())
            .map(str::to_string),
    })
}

fn parse_block_header(doc: &[u8]) -> Result<BlockHeader, String> {
    let doc = raw_doc(doc)?;
    let collection = str_field(doc, "collection")?
        .filter(|c| !c.is_empty())
        .ok_or("no `collection`")?;
    let db = str_field(doc, "db")?.unwrap_or_default();
    let eof = match doc.get("EOF").map_err(|e| e.to_string())? {
        None => false,
        Some(RawBsonRef::Boolean(b)) => b,
        Some(other) => {
            return Err(format!(
                "field `EOF` is {:?}, not a boolean",
                other.element_type()
            ))
        }
    };
    // The CRC is a Go int64 holding the u64's bits.
    let crc = int_field(doc, "CRC")?.unwrap_or(0) as u64;
    Ok(BlockHeader {
        ns: Namespace::new(db, collection),
        eof,
        crc,
    })
}

#[cfg(test)]
mod tests;
