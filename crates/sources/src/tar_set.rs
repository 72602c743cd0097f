//! A BSON set inside a tar stream — the ApsaraDB cloud BSON download (`.tar.zst` from the
//! console, `.tar.gz` from the API) or a tarred mongodump folder — read once, front to back,
//! without unpacking it to disk.
//!
//! The same namespaces, metadata and documents in the same order come out as
//! [`folder::scan`](crate::folder::scan) + [`BsonSet::read_into`](crate::folder::BsonSet::read_into)
//! give for the folder the tar unpacks into.
//!
//! # Pipeline
//!
//! The input's compression (gzip, multi-member gzip, zstd, or none) is told by its first
//! bytes; the decoder runs on its own thread and hands 1 MiB blocks over a bounded channel
//! ([`ReadAhead`](crate::compression::ReadAhead)). The calling thread parses tar headers
//! (ustar, GNU, pax, long names: the `tar` crate, which also verifies every header checksum)
//! and frames documents, pushing them into the collection writers, whose conversion and
//! compression run on the export pool. A member is streamed, never held whole: memory is the
//! read-ahead blocks, one document buffer, and the writers open at a time.
//!
//! # Members
//!
//! Member paths are classified with [`layout::classify`] (any number of leading folders;
//! mongodump `<db>/<coll>.bson[.gz]` + `.metadata.json`, or cloud
//! `<db>/<coll>/data/<coll>_<N>_part<M>.bson`). A member that is itself gzip or zstd is told
//! by its first bytes. Names are used for classification only — output paths are made by the
//! export writer from namespaces — and an absolute name or one with a `..` component is not
//! even classified: it is ignored and listed with its reason, like links, devices, FIFOs and
//! files outside the layout.
//!
//! What the `tar` crate (0.4) does, and what this reader adds:
//!
//! - every header's checksum is verified (a mismatch is an error);
//! - GNU long names and link names (`L`, `K`) and PAX local headers (`x`: `path`, `linkpath`,
//!   `size`) are applied to the member that follows; PAX global headers (`g`) come through
//!   as members and are skipped here;
//! - GNU sparse members (`S`) are expanded (holes read as zeros, as unpacking writes them);
//!   PAX-format sparse members (`GNU.sparse.*` keys, GNU tar `--sparse --format=posix`) are
//!   not, and the crate would hand over the raw map under a `GNUSparseFile.N/` name: they
//!   are refused with an error;
//! - symbolic and hard links, devices and FIFOs are plain entries; they are listed as
//!   ignored (a hard link carries no data in the tar and is not followed);
//! - a member cut short reads as a short member: this reader counts its bytes and turns
//!   that into an error, and the end of the stream right after a member (no end-of-archive
//!   block) is an error too.
//!
//! A file directly at the top of the tar has no database folder and is ignored. A `.bson`
//! file one level down (`dump/oplog.bson` in a tarred `mongodump --oplog` folder) is read as
//! a collection of database `dump`, exactly as a folder scan of the directory the tar
//! unpacks into reads it.
//!
//! # When collections are opened and finished
//!
//! - A mongodump `.bson` member is the whole collection: its writer is opened with the
//!   metadata seen so far, fed, and finished when the member ends.
//! - A cloud collection may get more parts until the end of the tar, so its writer is
//!   finished only there. Parts are written in `(N, M)` order: a part is streamed when it is
//!   certainly the next one (rule in [`order`]: `(0, 0)` first, then `(N, M + 1)` after
//!   `(N, M)`); any other part is copied to a spill file in the spill folder ([`ReadOptions::spill_dir`]) and
//!   written as soon as it becomes the certain successor, or at the end of the tar, in order.
//!   Spill files are created on demand and removed afterwards; disk use is bounded by the
//!   spilled parts themselves (see [`spill`]).
//! - Each idle open writer keeps its unfinished chunk in memory, so at most
//!   [`ReadOptions::max_open_writers`] cloud collections are open at once; the parts of a
//!   collection met beyond that limit all wait in spill files and the collection is written
//!   at the end, alone.
//!
//! # Metadata that arrives late
//!
//! A `.metadata.json` member may come before or after its data. Writers are opened with the
//! metadata known at that moment; at the end of the tar the final metadata of every opened
//! collection is compared with what it was opened with, and
//! [`DocumentSink::update_metadata`] is called when it differs. The sink's decision to
//! export or skip a namespace is made at open and not revisited (data never belongs to a
//! view; time-series buckets are recognised by name). A metadata member whose collection has
//! no data by the end of the tar gives an empty collection.
//!
//! The reinterpretation rule of [`folder`](crate::folder): `<db>/<coll>/<coll>.metadata.json`
//! is the metadata of cloud collection `db.coll` only if parts of `db.coll` exist; otherwise
//! it is mongodump metadata of collection `coll` in database folder `coll`. In a stream this
//! is decided when the first part of `db.coll` arrives (cloud), or at the end of the tar if
//! none did (mongodump, applied then through `update_metadata` or at open of an empty
//! collection).
//!
//! # Errors
//!
//! A cut input (inside a member or between members: the end-of-archive block is required), a
//! decompression error (bad gzip CRC, corrupt zstd frame), a bad header checksum, duplicate
//! collections and unreadable metadata stop the read: a [`TarError`] that names the archive,
//! the member or namespace, and the position
//! ([`StreamPosition`](crate::input::StreamPosition): offset in the decompressed tar stream,
//! plus compressed bytes read) goes to the sink's ledger ([`DocumentSink::fail`]), and the
//! report says the input was not read to its end. The stream is read to its very end
//! (past the end-of-archive blocks) so that a gzip trailer's CRC is always checked. Framing
//! errors inside a member go to [`CollectionWriter::corrupt`], where the sink decides.

mod member;
pub mod order;
mod report;
pub mod spill;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bsonflow_model::{
    CollectionMetadata, CollectionWriter, DocumentSink, Namespace, Progress, ReadOptions,
    ReadReport, SinkError,
};

use crate::compression::{self, Compression, CountingReader};
use crate::detect::is_tar_header;
use crate::input::{Input, Locator, PackedInput, ReadError, Ticker};
use crate::layers::tar_end::{self, AfterEnd};
use crate::layout::{self, SetEntry};
use member::{Exact, PumpError};
use order::{certainly_next, Part};
use report::TarReport;
pub use report::{IgnoreReason, IgnoredMember, TarError};
use spill::SpillStore;

/// Metadata members larger than this are refused (real ones are a few KiB).
pub const METADATA_LIMIT: u64 = 16 << 20;

/// At most this many ignored members are listed one by one in a report.
pub const IGNORED_LISTED: usize = 1000;

/// Settings of a tar read, taken from [`ReadOptions`].
#[derive(Clone, Debug)]
struct TarOptions {
    /// Where cloud parts that arrive out of order wait (a private sub-folder is created on
    /// demand and removed afterwards).
    spill_dir: PathBuf,
    /// Cloud collections whose writers may stay open at once (each holds its unfinished
    /// chunk in memory); the parts of further collections are spilled and written at the end.
    max_open_writers: usize,
}

impl TarOptions {
    fn from_read_options(options: &ReadOptions) -> Self {
        TarOptions {
            spill_dir: options.spill_dir.clone().unwrap_or_else(std::env::temp_dir),
            max_open_writers: options.max_open_writers.max(1),
        }
    }
}

/// Reads the BSON set in the tar of `input` (plain, gzip or zstd) into `sink`, to the end of
/// the raw stream.
///
/// Failures go to the sink's ledger ([`DocumentSink::fail`]), naming the archive, the
/// member or namespace and the position; the report lists ignored members and says
/// whether the input was read to its end.
pub fn read_into<S: DocumentSink>(
    input: Input,
    sink: &S,
    progress: &Progress,
    options: &ReadOptions,
) -> ReadReport {
    let (label, size, reader) = input.into_parts();
    if let Some(size) = size {
        progress.add_total(size);
    }
    let options = TarOptions::from_read_options(options);
    let (report, result) = read_tar(reader, &label, sink, &options, progress);
    let mut report = report.into_read_report();
    if let Err(e) = result {
        e.record(sink);
        report.read_to_end = false;
    }
    report
}

/// Reads a tar from `reader` (raw bytes, possibly gzip or zstd) into `sink`; `label` names it
/// in errors. The report counts what was read, also when the read stopped at an error.
fn read_tar<R: Read + Send + 'static, S: DocumentSink>(
    reader: R,
    label: &str,
    sink: &S,
    options: &TarOptions,
    progress: &Progress,
) -> (TarReport, Result<(), TarError>) {
    let archive: Arc<str> = label.into();
    let input = match PackedInput::open(reader) {
        Ok(input) => input,
        Err(source) => {
            let e = TarError::Open { archive, source };
            return (TarReport::new(Compression::None), Err(e));
        }
    };
    let locator = input.locator();
    let compression = input.compression;
    let ticker = Ticker::new(progress, Arc::clone(&input.compressed));
    let mut counted = CountingReader::new(input.reader);
    let tar_pos = counted.position();
    let head = match compression::read_prefix(&mut counted, 512) {
        Ok(head) if is_tar_header(&head) => head,
        Ok(_) => {
            let e = TarError::NotTar {
                archive,
                compression,
            };
            return (TarReport::new(compression), Err(e));
        }
        Err(source) => {
            let e = TarError::Header {
                after: None,
                archive,
                pos: locator.at(0),
                source,
            };
            return (TarReport::new(compression), Err(e));
        }
    };
    let mut run = Run {
        ctx: Ctx {
            archive: archive.clone(),
            locator: locator.clone(),
        },
        sink,
        options,
        ticker,
        colls: BTreeMap::new(),
        spill: SpillStore::new(&options.spill_dir),
        buf: Vec::new(),
        open_cloud: 0,
        report: TarReport::new(compression),
    };
    let mut tar = tar::Archive::new(io::Cursor::new(head).chain(counted));
    let result = run.read_members(&mut tar, &tar_pos).and_then(|()| {
        // Read to the very end: the end-of-archive block is followed by zero padding and
        // nothing else, and only the end of a gzip stream checks its CRC.
        let mut rest = tar.into_inner();
        let end = tar_pos.load(Ordering::Relaxed);
        match tar_end::check_after_end(&mut rest) {
            Ok(AfterEnd::Zeros(_)) => {}
            Ok(AfterEnd::Data(at)) => {
                return Err(TarError::AfterEnd {
                    archive: archive.clone(),
                    pos: locator.at(end + at),
                })
            }
            Err(source) => {
                return Err(TarError::Trailer {
                    archive: archive.clone(),
                    pos: locator.at(tar_pos.load(Ordering::Relaxed)),
                    source,
                })
            }
        }
        run.finalize()
    });
    run.ticker.tick();
    run.report.tar_bytes = tar_pos.load(Ordering::Relaxed);
    run.report.input_bytes = run.ticker.consumed();
    (run.report, result)
}

/// What names errors.
struct Ctx {
    archive: Arc<str>,
    locator: Locator,
}

impl Ctx {
    fn origin(&self, member: &str) -> String {
        format!("{member} in {}", self.archive)
    }

    fn pump_err(
        &self,
        member: &str,
        ns: &Namespace,
        data_pos: u64,
        read: u64,
        e: PumpError,
    ) -> TarError {
        match e {
            PumpError::Read { offset, source } => TarError::Member {
                archive: self.archive.clone(),
                member: member.to_string(),
                ns: Some(Box::new(ns.clone())),
                offset,
                pos: self.locator.at(data_pos + read),
                source,
            },
            PumpError::Sink(source) => self.sink_err(ns, Some(member), source),
        }
    }

    fn sink_err(&self, ns: &Namespace, member: Option<&str>, source: SinkError) -> TarError {
        TarError::Sink {
            archive: self.archive.clone(),
            ns: ns.clone(),
            member: member.map(str::to_string),
            source,
        }
    }

    fn duplicate(&self, ns: &Namespace, first: &str, second: &str) -> TarError {
        TarError::Duplicate {
            archive: self.archive.clone(),
            ns: ns.clone(),
            first: first.to_string(),
            second: second.to_string(),
        }
    }
}

/// Where a collection's writer stands.
enum Slot<W> {
    Unopened,
    Open(W),
    Declined,
    Finished,
}

/// A metadata member, parsed.
struct Found {
    meta: CollectionMetadata,
    member: String,
}

/// A cloud part waiting in a spill file.
struct Spilled {
    path: PathBuf,
    member: String,
    bytes: u64,
    /// Where its data started in the tar, for error messages.
    data_pos: u64,
}

/// The cloud parts of one collection.
#[derive(Default)]
struct Parts {
    /// Every part seen, with its member name (for duplicate errors).
    seen: BTreeMap<Part, String>,
    last_written: Option<Part>,
    waiting: BTreeMap<Part, Spilled>,
    /// Met while `max_open_writers` writers were open: everything waits for the end.
    deferred: bool,
}

/// What the tar holds for one namespace.
struct Coll<W> {
    /// `<db>/<coll>.metadata.json`.
    metadata: Option<Found>,
    /// `<db>/<coll>/<coll>.metadata.json`, whose meaning depends on parts existing.
    cloud_metadata: Option<Found>,
    /// The member of a mongodump `<db>/<coll>.bson`.
    plain: Option<String>,
    parts: Option<Parts>,
    writer: Slot<W>,
    /// The metadata the writer was opened with.
    given: Option<CollectionMetadata>,
}

impl<W> Default for Coll<W> {
    fn default() -> Self {
        Coll {
            metadata: None,
            cloud_metadata: None,
            plain: None,
            parts: None,
            writer: Slot::Unopened,
            given: None,
        }
    }
}

impl<W> Coll<W> {
    /// The metadata as things stand: a cloud collection prefers its own folder's file.
    fn current_metadata(&self) -> CollectionMetadata {
        let found = if self.parts.is_some() {
            self.cloud_metadata.as_ref().or(self.metadata.as_ref())
        } else {
            self.metadata.as_ref()
        };
        found.map(|f| f.meta.clone()).unwrap_or_default()
    }

    /// Nothing but a cloud metadata file that moved to another namespace.
    fn is_empty(&self) -> bool {
        self.metadata.is_none()
            && self.cloud_metadata.is_none()
            && self.plain.is_none()
            && self.parts.is_none()
    }
}

struct Run<'a, S: DocumentSink> {
    ctx: Ctx,
    sink: &'a S,
    options: &'a TarOptions,
    ticker: Ticker<'a>,
    colls: BTreeMap<Namespace, Coll<S::Writer<'a>>>,
    spill: SpillStore,
    /// Copy buffer for spilling.
    buf: Vec<u8>,
    /// Cloud writers open now.
    open_cloud: usize,
    report: TarReport,
}

impl<'a, S: DocumentSink> Run<'a, S> {
    fn read_members<R: Read>(
        &mut self,
        tar: &mut tar::Archive<R>,
        tar_pos: &std::sync::atomic::AtomicU64,
    ) -> Result<(), TarError> {
        // Where a failing header is: where it starts when the parser got there (a header cut
        // or damaged), else how far the stream was read (a skip that failed on the way, or
        // a size in a damaged header that points past the input); and the member before it.
        let header_err = |ctx: &Ctx, after: &Option<Box<str>>, next_header: u64, source| {
            let read = tar_pos.load(Ordering::Relaxed);
            TarError::Header {
                archive: ctx.archive.clone(),
                after: after.clone(),
                pos: ctx.locator.at(if next_header <= read {
                    next_header
                } else {
                    read
                }),
                source,
            }
        };
        let mut previous: Option<Box<str>> = None;
        let entries = tar
            .entries()
            .map_err(|e| header_err(&self.ctx, &previous, 0, e))?;
        // Where the next header starts.
        let mut next_header = 0u64;
        for entry in entries {
            let mut entry = entry.map_err(|e| header_err(&self.ctx, &previous, next_header, e))?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            tar_end::check_pax_records(&mut entry)
                .map_err(|e| header_err(&self.ctx, &previous, next_header, e))?;
            let header = entry.header();
            let stored = if header.entry_type().is_gnu_sparse() {
                header
                    .entry_size()
                    .map_err(|e| header_err(&self.ctx, &previous, next_header, e))?
            } else {
                entry.size()
            };
            let data_pos = entry.raw_file_position();
            next_header = data_pos.saturating_add(stored.div_ceil(512).saturating_mul(512));
            previous = Some(name.into());
            self.member(entry, data_pos)?;
            self.ticker.tick();
        }
        // The tar crate ends at an all-zero block, or at a clean end of the stream right
        // after a member: the latter means the input was cut between two members.
        let consumed = tar_pos.load(Ordering::Relaxed);
        if consumed < next_header + 512 {
            return Err(TarError::Truncated {
                archive: self.ctx.archive.clone(),
                pos: self.ctx.locator.at(consumed),
            });
        }
        Ok(())
    }

    fn ignore(&mut self, name: String, reason: IgnoreReason) {
        self.report.ignored_count += 1;
        if self.report.ignored.len() < IGNORED_LISTED {
            self.report.ignored.push(IgnoredMember { name, reason });
        }
    }

    fn member<R: Read>(
        &mut self,
        mut entry: tar::Entry<'_, R>,
        data_pos: u64,
    ) -> Result<(), TarError> {
        use tar::EntryType as T;
        self.report.members += 1;
        let name_bytes = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&name_bytes).into_owned();
        let link = || {
            entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default()
        };
        let kind = entry.header().entry_type();
        let reason = match kind {
            T::Directory | T::XGlobalHeader => return Ok(()),
            T::Regular | T::Continuous | T::GNUSparse => None,
            T::Symlink => Some(IgnoreReason::SymbolicLink { target: link() }),
            T::Link => Some(IgnoreReason::HardLink { target: link() }),
            T::Char => Some(IgnoreReason::Special("character device")),
            T::Block => Some(IgnoreReason::Special("block device")),
            T::Fifo => Some(IgnoreReason::Special("FIFO")),
            other => Some(IgnoreReason::OtherType(other.as_byte() as char)),
        };
        if let Some(reason) = reason {
            self.ignore(name, reason);
            return Ok(());
        }
        // An old-style directory: a regular entry whose name ends with a slash.
        if name.ends_with('/') && entry.size() == 0 {
            return Ok(());
        }
        let pax_sparse = entry
            .pax_extensions()
            .ok()
            .flatten()
            .is_some_and(|mut exts| {
                exts.any(|e| e.is_ok_and(|e| e.key_bytes().starts_with(b"GNU.sparse.")))
            });
        if pax_sparse {
            return Err(TarError::Unsupported {
                archive: self.ctx.archive.clone(),
                member: name,
                what: "PAX-format sparse files".into(),
            });
        }
        let components = match member::components(&name_bytes) {
            Ok(c) => c,
            Err(reason) => {
                self.ignore(name, reason);
                return Ok(());
            }
        };
        let Some(set_entry) = layout::classify(&components) else {
            self.ignore(name, IgnoreReason::NotInLayout);
            return Ok(());
        };
        let size = entry.size();
        let mut exact = Exact::new(&mut entry, size);
        match set_entry {
            SetEntry::Data { ns, part: None } => self.plain_data(ns, &name, &mut exact, data_pos),
            SetEntry::Data {
                ns,
                part: Some(part),
            } => self.cloud_part(ns, part, &name, &mut exact, data_pos),
            SetEntry::Metadata { ns, cloud } => {
                self.metadata(ns, cloud, &name, &mut exact, data_pos)
            }
        }
    }

    /// A mongodump `<db>/<coll>.bson`: the whole collection.
    fn plain_data<M: Read>(
        &mut self,
        ns: Namespace,
        member: &str,
        exact: &mut Exact<M>,
        data_pos: u64,
    ) -> Result<(), TarError> {
        let coll = self.colls.entry(ns.clone()).or_default();
        if let Some(first) = coll.plain.as_deref().or_else(|| {
            coll.parts
                .as_ref()
                .and_then(|p| p.seen.values().next().map(String::as_str))
        }) {
            return Err(self.ctx.duplicate(&ns, first, member));
        }
        coll.plain = Some(member.to_string());
        let meta = coll.current_metadata();
        let opened = self
            .sink
            .open(&ns, &meta)
            .map_err(|e| self.ctx.sink_err(&ns, Some(member), e))?;
        coll.given = Some(meta);
        self.report.collections += 1;
        let Some(mut writer) = opened else {
            coll.writer = Slot::Declined;
            self.report.skipped += 1;
            return Ok(()); // the tar crate skips the unread data
        };
        writer.set_origin(&self.ctx.origin(member));
        let ticker = &mut self.ticker;
        let pumped =
            member::pump(&mut *exact, &mut writer, &mut || ticker.tick()).map_err(|e| {
                self.ctx
                    .pump_err(member, &ns, data_pos, exact.consumed(), e)
            })?;
        writer
            .finish()
            .map_err(|e| self.ctx.sink_err(&ns, Some(member), e))?;
        coll.writer = Slot::Finished;
        self.report.exported += 1;
        self.report.documents += pumped.documents;
        self.report.corrupt_members += pumped.stopped_at_corruption as u64;
        Ok(())
    }

    /// A cloud part `<db>/<coll>/data/<coll>_<N>_part<M>.bson`.
    fn cloud_part<M: Read>(
        &mut self,
        ns: Namespace,
        part: Part,
        member: &str,
        exact: &mut Exact<M>,
        data_pos: u64,
    ) -> Result<(), TarError> {
        let coll = self.colls.entry(ns.clone()).or_default();
        if let Some(plain) = &coll.plain {
            return Err(self.ctx.duplicate(&ns, plain, member));
        }
        let first_part = coll.parts.is_none();
        let parts = coll.parts.get_or_insert_with(Parts::default);
        if let Some(first) = parts.seen.get(&part) {
            return Err(self.ctx.duplicate(&ns, first, member));
        }
        parts.seen.insert(part, member.to_string());

        // Open the writer at the first part met, so that a collection the sink skips is
        // never spilled — unless too many cloud writers are open already.
        if first_part {
            if self.open_cloud < self.options.max_open_writers {
                let meta = coll.current_metadata();
                let opened = self
                    .sink
                    .open(&ns, &meta)
                    .map_err(|e| self.ctx.sink_err(&ns, Some(member), e))?;
                coll.given = Some(meta);
                self.report.collections += 1;
                match opened {
                    Some(w) => {
                        coll.writer = Slot::Open(w);
                        self.open_cloud += 1;
                    }
                    None => {
                        coll.writer = Slot::Declined;
                        self.report.skipped += 1;
                    }
                }
            } else {
                coll.parts.as_mut().unwrap().deferred = true;
            }
        }
        let Coll { parts, writer, .. } = coll;
        let parts = parts.as_mut().unwrap();
        match writer {
            Slot::Declined => Ok(()),
            Slot::Open(w) if certainly_next(parts.last_written, part) => {
                w.set_origin(&self.ctx.origin(member));
                let ticker = &mut self.ticker;
                let pumped = member::pump(&mut *exact, w, &mut || ticker.tick()).map_err(|e| {
                    self.ctx
                        .pump_err(member, &ns, data_pos, exact.consumed(), e)
                })?;
                parts.last_written = Some(part);
                self.report.documents += pumped.documents;
                self.report.corrupt_members += pumped.stopped_at_corruption as u64;
                // Parts that waited for this one.
                while let Some(entry) = parts.waiting.first_entry() {
                    if !certainly_next(parts.last_written, *entry.key()) {
                        break;
                    }
                    let (p, spilled) = entry.remove_entry();
                    replay(
                        &self.ctx,
                        &mut self.ticker,
                        &mut self.report,
                        &ns,
                        spilled,
                        w,
                    )?;
                    parts.last_written = Some(p);
                }
                Ok(())
            }
            _ => {
                let spilled = spill_member(
                    &self.ctx,
                    &mut self.spill,
                    &mut self.buf,
                    member,
                    exact,
                    data_pos,
                )?;
                self.report.spilled_parts += 1;
                self.report.spilled_bytes += spilled.bytes;
                parts.waiting.insert(part, spilled);
                Ok(())
            }
        }
    }

    /// A `.metadata.json` member: recorded, applied at open or at the end.
    fn metadata<M: Read>(
        &mut self,
        ns: Namespace,
        cloud: bool,
        member: &str,
        exact: &mut Exact<M>,
        data_pos: u64,
    ) -> Result<(), TarError> {
        let read_err = |e: io::Error, exact: &Exact<M>| TarError::Member {
            archive: self.ctx.archive.clone(),
            member: member.to_string(),
            ns: None,
            offset: 0,
            pos: self.ctx.locator.at(data_pos + exact.consumed()),
            source: e,
        };
        let mut text = Vec::new();
        let result = compression::sniff_decoder(&mut *exact, 8 << 10).and_then(|(_, reader)| {
            reader
                .take(METADATA_LIMIT + 1)
                .read_to_end(&mut text)
                .map(|_| ())
        });
        result.map_err(|e| read_err(e, exact))?;
        if text.len() as u64 > METADATA_LIMIT {
            return Err(TarError::MetadataTooLarge {
                archive: self.ctx.archive.clone(),
                member: member.to_string(),
            });
        }
        let text = String::from_utf8(text)
            .map_err(|e| read_err(io::Error::new(io::ErrorKind::InvalidData, e), exact))?;
        let meta =
            CollectionMetadata::from_metadata_file(&text).map_err(|source| TarError::Metadata {
                archive: self.ctx.archive.clone(),
                member: member.to_string(),
                source,
            })?;
        let coll = self.colls.entry(ns.clone()).or_default();
        let slot = if cloud {
            &mut coll.cloud_metadata
        } else {
            &mut coll.metadata
        };
        if let Some(first) = slot {
            return Err(self.ctx.duplicate(&ns, &first.member, member));
        }
        *slot = Some(Found {
            meta,
            member: member.to_string(),
        });
        Ok(())
    }

    /// The end of the tar: place late metadata, write what waited, finish every writer, and
    /// open the collections that only had metadata.
    fn finalize(&mut self) -> Result<(), TarError> {
        if self.colls.is_empty() {
            return Err(TarError::Empty {
                archive: self.ctx.archive.clone(),
            });
        }
        // `<db>/<coll>/<coll>.metadata.json` without parts of `db.coll`: mongodump metadata
        // of collection `coll` in the database folder `coll` (as folder::scan decides).
        let moves: Vec<Namespace> = self
            .colls
            .iter()
            .filter(|(_, c)| c.parts.is_none() && c.cloud_metadata.is_some())
            .map(|(ns, _)| ns.clone())
            .collect();
        for from in moves {
            let found = self
                .colls
                .get_mut(&from)
                .and_then(|c| c.cloud_metadata.take())
                .expect("chosen above");
            let to = layout::metadata_without_parts(&from);
            let target = self.colls.entry(to.clone()).or_default();
            if let Some(first) = &target.metadata {
                return Err(self.ctx.duplicate(&to, &first.member, &found.member));
            }
            target.metadata = Some(found);
        }

        // First the open writers (finishing them frees their memory) …
        let namespaces: Vec<Namespace> = self.colls.keys().cloned().collect();
        for ns in &namespaces {
            let coll = self.colls.get_mut(ns).unwrap();
            let current = coll.current_metadata();
            if matches!(coll.writer, Slot::Open(_) | Slot::Finished)
                && coll.given.as_ref() != Some(&current)
            {
                self.sink
                    .update_metadata(ns, &current)
                    .map_err(|e| self.ctx.sink_err(ns, None, e))?;
            }
            if let Slot::Open(_) = coll.writer {
                let Slot::Open(w) = std::mem::replace(&mut coll.writer, Slot::Finished) else {
                    unreachable!()
                };
                finish_with_spills(
                    &self.ctx,
                    &mut self.ticker,
                    &mut self.report,
                    ns,
                    coll.parts.as_mut(),
                    w,
                )?;
                self.open_cloud -= 1;
                self.report.exported += 1;
            }
        }
        // … then, one at a time, the collections never opened: deferred cloud collections
        // and metadata without data (an empty collection, or a view the sink drops).
        for ns in &namespaces {
            let coll = self.colls.get_mut(ns).unwrap();
            if !matches!(coll.writer, Slot::Unopened) || coll.is_empty() {
                continue;
            }
            let meta = coll.current_metadata();
            self.report.collections += 1;
            let Some(w) = self
                .sink
                .open(ns, &meta)
                .map_err(|e| self.ctx.sink_err(ns, None, e))?
            else {
                coll.writer = Slot::Declined;
                self.report.skipped += 1;
                continue;
            };
            coll.given = Some(meta);
            finish_with_spills(
                &self.ctx,
                &mut self.ticker,
                &mut self.report,
                ns,
                coll.parts.as_mut(),
                w,
            )?;
            coll.writer = Slot::Finished;
            self.report.exported += 1;
        }
        Ok(())
    }
}

/// Copies a member's bytes into a new spill file.
fn spill_member<M: Read>(
    ctx: &Ctx,
    store: &mut SpillStore,
    buf: &mut Vec<u8>,
    member: &str,
    exact: &mut Exact<M>,
    data_pos: u64,
) -> Result<Spilled, TarError> {
    let (path, mut file) = store.create().map_err(|source| TarError::Spill {
        path: store.base().to_path_buf(),
        source,
    })?;
    buf.resize(1 << 20, 0);
    loop {
        let n = match exact.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(TarError::Member {
                    archive: ctx.archive.clone(),
                    member: member.to_string(),
                    ns: None,
                    offset: exact.consumed(),
                    pos: ctx.locator.at(data_pos + exact.consumed()),
                    source,
                })
            }
        };
        file.write_all(&buf[..n])
            .map_err(|source| TarError::Spill {
                path: path.clone(),
                source,
            })?;
    }
    Ok(Spilled {
        path,
        member: member.to_string(),
        bytes: exact.consumed(),
        data_pos,
    })
}

/// Writes a part that waited in a spill file, then deletes the file.
/// Writes every part still waiting in a spill file, in part order, then finishes the writer.
fn finish_with_spills<W: CollectionWriter>(
    ctx: &Ctx,
    ticker: &mut Ticker<'_>,
    report: &mut TarReport,
    ns: &Namespace,
    parts: Option<&mut Parts>,
    mut writer: W,
) -> Result<(), TarError> {
    if let Some(parts) = parts {
        for (_, spilled) in std::mem::take(&mut parts.waiting) {
            replay(ctx, ticker, report, ns, spilled, &mut writer)?;
        }
    }
    writer.finish().map_err(|e| ctx.sink_err(ns, None, e))
}

fn replay<W: CollectionWriter>(
    ctx: &Ctx,
    ticker: &mut Ticker<'_>,
    report: &mut TarReport,
    ns: &Namespace,
    spilled: Spilled,
    writer: &mut W,
) -> Result<(), TarError> {
    let spill_err = |source| TarError::Spill {
        path: spilled.path.clone(),
        source,
    };
    let file = File::open(&spilled.path).map_err(spill_err)?;
    let mut exact = Exact::new(io::BufReader::with_capacity(1 << 20, file), spilled.bytes);
    writer.set_origin(&ctx.origin(&spilled.member));
    let pumped = member::pump(&mut exact, writer, &mut || ticker.tick())
        .map_err(|e| ctx.pump_err(&spilled.member, ns, spilled.data_pos, exact.consumed(), e))?;
    report.documents += pumped.documents;
    report.corrupt_members += pumped.stopped_at_corruption as u64;
    let _ = std::fs::remove_file(&spilled.path);
    Ok(())
}
