//! `bsonflow verify EXPORT [--input INPUT]`: is an export whole?
//!
//! From the export alone: its listing passes [`check_listing`] (chunk numbers `0..n` per
//! collection and shard, a `metadata.json` per collection, `.complete`, nothing temporary or
//! foreign); `.complete` is JSON whose `totalFiles` is the number of data files present;
//! every `metadata.json` is an Extended JSON document naming its collection; every chunk
//! decompresses (one or more gzip members) and each of its lines is an Extended JSON
//! document, parsed by the `bson` crate (a parser bsonflow's writer shares nothing with).
//!
//! With `--input`, the input is read as `convert` reads it, into a [`DocumentSink`] whose
//! writer renders each document as `convert` would and compares it with the export's next
//! line. Per collection, a digest of the lines in order (SHA-256 over each line's SHA-256)
//! is computed on both sides, and an order-free sum of the line hashes tells a reordering
//! (same documents, other order) from a loss or an alteration; the first differences are
//! named by file and line.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use bsonflow_cloud::{Remote, RemoteTarget, Service};
use bsonflow_ejson::Mode;
use bsonflow_export::{
    check_listing, LayoutProblem, ListedChunk, ListedCollection, LocalFolder, Target,
};
use bsonflow_model::{
    CollectionMetadata, CollectionWriter, DocumentSink, Failure, Namespace, NamespaceFilter,
    Progress, SinkError, SkipReason,
};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::cli::{ConvertArgs, VerifyArgs};
use crate::convert;
use crate::progress::Bar;
use crate::remote;
use crate::summary::{EXIT_FAILED, EXIT_OK};

/// At most this many differing lines are listed per collection (all are counted).
const LISTED_PER_COLLECTION: usize = 20;

/// `bsonflow verify`.
pub fn run(args: VerifyArgs) -> Result<u8> {
    if let Some(threads) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(threads as usize)
            .build_global();
    }
    let export = ExportSource::open(&args)?;
    tracing::info!(export = %export.describe(), "verifying");
    let listed = export.list()?;
    let listing = check_listing(&listed);
    let mut report = Report {
        export: export.describe(),
        input: args.input.as_ref().map(|p| p.display().to_string()),
        problems: listing.problems.clone(),
        data_files: listing.data_files(),
        ..Report::default()
    };
    report.total_files = check_complete(&export, &listing, &mut report.problems);
    for (ns, c) in &listing.collections {
        if let Some(rel) = &c.metadata {
            check_metadata(&export, ns, rel, &mut report.problems);
        }
    }
    let progress = Arc::new(Progress::new());
    let bar = Bar::start("verifying", Arc::clone(&progress), args.quiet);
    let shards = shard_inputs(&args.shards)?;
    if !shards.is_empty() {
        report.input = Some(
            shards
                .iter()
                .map(|(n, p)| format!("{n}={}", p.display()))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    match &args.input {
        None if !shards.is_empty() => {
            for (name, input) in &shards {
                let mine = listing.of_shard(name);
                compare_with_input(
                    &args,
                    input,
                    Some(name),
                    &export,
                    &mine,
                    &progress,
                    &mut report,
                )?;
            }
            report.collections.sort_by(|a, b| a.ns.cmp(&b.ns));
        }
        None => {
            let total: u64 = listed.iter().map(|(_, size)| size).sum();
            progress.add_total(total);
            let checked: Vec<CollectionReport> = listing
                .collections
                .par_iter()
                .map(|(ns, c)| {
                    let mut lines = CollectionLines::new(&export, c, &progress);
                    while lines.next_line().is_some() {}
                    lines.into_report(ns.clone())
                })
                .collect();
            report.collections = checked;
        }
        Some(input) => compare_with_input(
            &args,
            input,
            None,
            &export,
            &listing,
            &progress,
            &mut report,
        )?,
    }
    drop(bar);
    for c in &mut report.collections {
        report.problems.append(&mut c.problems);
    }
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&report.to_json())?),
        false => report.print(),
    }
    for p in &report.problems {
        tracing::warn!("{p}");
    }
    Ok(match report.problems.is_empty() {
        true => EXIT_OK,
        false => EXIT_FAILED,
    })
}

/// `.complete`: present, JSON, an object whose `totalFiles` is the number of data files.
fn check_complete(
    export: &ExportSource,
    listing: &bsonflow_export::Listing,
    problems: &mut Vec<LayoutProblem>,
) -> Option<u64> {
    listing.complete?;
    let bytes = match export.get(".complete") {
        Ok(Some(b)) => b,
        Ok(None) => return None,
        Err(e) => {
            problems.push(LayoutProblem::new(
                ".complete",
                format!("cannot be read: {e}"),
            ));
            return None;
        }
    };
    let value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            problems.push(LayoutProblem::new(".complete", format!("not JSON: {e}")));
            return None;
        }
    };
    let total = value.get("totalFiles").and_then(|t| t.as_u64());
    match total {
        None => problems.push(LayoutProblem::new(
            ".complete",
            "has no totalFiles (a whole number)",
        )),
        Some(t) if t != listing.data_files() => problems.push(LayoutProblem::new(
            ".complete",
            format!(
                "totalFiles is {t}, but {} data files are present",
                listing.data_files()
            ),
        )),
        Some(_) => {}
    }
    total
}

/// A `metadata.json`: one Extended JSON document whose `collectionName` is the folder's,
/// with an `indexes` array and, when present, an `options` document.
fn check_metadata(
    export: &ExportSource,
    ns: &Namespace,
    rel: &str,
    problems: &mut Vec<LayoutProblem>,
) {
    let mut problem = |m: String| problems.push(LayoutProblem::new(rel, m));
    let bytes = match export.get(rel) {
        Ok(Some(b)) => b,
        Ok(None) => return problem("vanished while verifying".into()),
        Err(e) => return problem(format!("cannot be read: {e}")),
    };
    let doc = match document_of(bytes.trim_ascii_end()) {
        Ok(d) => d,
        Err(e) => return problem(e),
    };
    match doc.get_str("collectionName") {
        Ok(name) if name == ns.collection => {}
        Ok(name) => problem(format!(
            "collectionName is {name:?}, but the folder is that of {:?}",
            ns.collection
        )),
        Err(_) => problem("has no collectionName (a string)".into()),
    }
    if doc.get_array("indexes").is_err() {
        problem("has no indexes (an array)".into());
    }
    if doc.contains_key("options") && doc.get_document("options").is_err() {
        problem("options is not a document".into());
    }
}

/// One line of Extended JSON as a BSON document, parsed by the `bson` crate.
fn document_of(line: &[u8]) -> Result<bson::Document, String> {
    let value: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err(format!("a JSON {}, not a document", json_kind(&value)));
    };
    bson::Document::try_from(map).map_err(|e| format!("not Extended JSON: {e}"))
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Where the export is: a local folder or an `s3://` / `oss://` prefix.
enum ExportSource {
    Local(PathBuf, LocalFolder),
    Remote(RemoteTarget),
}

impl ExportSource {
    fn open(args: &VerifyArgs) -> Result<ExportSource> {
        match remote::url_of(&args.export)? {
            None => {
                let root = &args.export;
                if !root.is_dir() {
                    bail!("{}: not a folder", root.display());
                }
                Ok(ExportSource::Local(
                    root.clone(),
                    LocalFolder::shared(root)?,
                ))
            }
            Some(url) => {
                if url.service == Service::Http {
                    bail!(
                        "{}: an export is verified at s3://BUCKET/PREFIX or oss://BUCKET/PREFIX, not at an http(s) URL",
                        url.display()
                    );
                }
                let remote = Remote::connect(&url, &remote::connect_options(&args.storage)?)?;
                Ok(ExportSource::Remote(RemoteTarget::shared(remote)))
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            ExportSource::Local(root, _) => root.display().to_string(),
            ExportSource::Remote(t) => t.describe(),
        }
    }

    fn target(&self) -> &dyn Target {
        match self {
            ExportSource::Local(_, t) => t,
            ExportSource::Remote(t) => t,
        }
    }

    fn list(&self) -> Result<Vec<(String, u64)>> {
        Ok(self.target().list()?)
    }

    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.target().get(rel)?)
    }

    /// A streamed reader of the file `rel` of `size` bytes.
    fn reader(&self, rel: &str, size: u64) -> std::io::Result<Box<dyn Read + Send>> {
        match self {
            ExportSource::Local(root, _) => {
                let path = rel.split('/').fold(root.clone(), |p, c| p.join(c));
                Ok(Box::new(std::fs::File::open(path)?))
            }
            ExportSource::Remote(t) => Ok(Box::new(t.reader(rel, size))),
        }
    }
}

/// Counts the bytes read into the run's [`Progress`].
struct Counted<'p, R> {
    inner: R,
    progress: &'p Progress,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.add(n as u64);
        Ok(n)
    }
}

type ChunkReader<'p> = BufReader<flate2::read::MultiGzDecoder<Counted<'p, Box<dyn Read + Send>>>>;

/// The SHA-256 of one line (without its newline).
type LineHash = [u8; 32];

fn line_hash(line: &[u8]) -> LineHash {
    Sha256::digest(line).into()
}

/// What is known of one collection's lines: how many, their digest in order and their
/// order-free sum.
#[derive(Clone)]
struct LineDigest {
    count: u64,
    chain: Sha256,
    sum: u128,
}

impl Default for LineDigest {
    fn default() -> Self {
        LineDigest {
            count: 0,
            chain: Sha256::new(),
            sum: 0,
        }
    }
}

impl LineDigest {
    fn add(&mut self, h: &LineHash) {
        self.count += 1;
        self.chain.update(h);
        let mut low = [0u8; 16];
        low.copy_from_slice(&h[..16]);
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(low));
    }

    fn hex(&self) -> String {
        self.chain
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Where a line is: a chunk file and its 1-based line number.
#[derive(Clone, Debug)]
struct Position {
    file: String,
    line: u64,
}

/// The lines of one collection's chunks in reading order, each checked as it is read.
struct CollectionLines<'e> {
    export: &'e ExportSource,
    progress: &'e Progress,
    chunks: Vec<ListedChunk>,
    next_chunk: usize,
    current: Option<(String, ChunkReader<'e>, u64)>,
    /// The current line (without its newline) and its hash.
    line: Vec<u8>,
    hash: LineHash,
    digest: LineDigest,
    problems: Vec<LayoutProblem>,
    files: u64,
    /// The last line read, for "after the last line" messages.
    last: Option<Position>,
}

impl<'e> CollectionLines<'e> {
    fn new(export: &'e ExportSource, c: &ListedCollection, progress: &'e Progress) -> Self {
        let chunks: Vec<ListedChunk> = c.chunks().cloned().collect();
        CollectionLines {
            export,
            progress,
            files: chunks.len() as u64,
            chunks,
            next_chunk: 0,
            current: None,
            line: Vec::new(),
            hash: [0; 32],
            digest: LineDigest::default(),
            problems: Vec::new(),
            last: None,
        }
    }

    /// Reads the next line into `self.line`, checks it, and says where it is; `None` after
    /// the last line of the last chunk. Lines that are not documents are reported and
    /// still given (they take a document's place).
    fn next_line(&mut self) -> Option<Position> {
        loop {
            if self.current.is_none() {
                let chunk = self.chunks.get(self.next_chunk)?.clone();
                self.next_chunk += 1;
                match self.export.reader(&chunk.file, chunk.size) {
                    Ok(r) => {
                        let counted = Counted {
                            inner: r,
                            progress: self.progress,
                        };
                        let gz = flate2::read::MultiGzDecoder::new(counted);
                        self.current =
                            Some((chunk.file.clone(), BufReader::with_capacity(1 << 16, gz), 0));
                    }
                    Err(e) => {
                        self.problems.push(LayoutProblem::new(
                            &chunk.file,
                            format!("cannot be read: {e}"),
                        ));
                        continue;
                    }
                }
            }
            let (file, reader, lines) = self.current.as_mut().expect("a chunk is open");
            self.line.clear();
            match reader.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    if *lines == 0 {
                        self.problems.push(LayoutProblem::new(
                            file.as_str(),
                            "holds no document (the writer never writes an empty chunk)",
                        ));
                    }
                    self.current = None;
                }
                Ok(_) => {
                    *lines += 1;
                    let at = Position {
                        file: file.clone(),
                        line: *lines,
                    };
                    if self.line.last() == Some(&b'\n') {
                        self.line.pop();
                    } else {
                        self.problems.push(LayoutProblem::at_line(
                            file.as_str(),
                            *lines,
                            "the chunk ends inside this line (no final newline): it is truncated",
                        ));
                    }
                    if let Err(e) = document_of(&self.line) {
                        self.problems
                            .push(LayoutProblem::at_line(file.as_str(), *lines, e));
                    }
                    self.hash = line_hash(&self.line);
                    self.digest.add(&self.hash);
                    self.last = Some(at.clone());
                    return Some(at);
                }
                Err(e) => {
                    self.problems.push(LayoutProblem::new(
                        file.as_str(),
                        format!(
                            "does not decompress after line {lines}: {e} (the chunk is truncated or damaged)"
                        ),
                    ));
                    self.current = None;
                }
            }
        }
    }

    fn into_report(self, ns: Namespace) -> CollectionReport {
        CollectionReport {
            ns,
            files: self.files,
            documents: self.digest.count,
            sha256: self.digest.hex(),
            input: None,
            problems: self.problems,
        }
    }
}

/// What was found of one collection.
struct CollectionReport {
    ns: Namespace,
    files: u64,
    documents: u64,
    sha256: String,
    /// With `--input`: the input's documents and digest.
    input: Option<(u64, String)>,
    problems: Vec<LayoutProblem>,
}

/// The whole result.
#[derive(Default)]
struct Report {
    export: String,
    input: Option<String>,
    data_files: u64,
    total_files: Option<u64>,
    collections: Vec<CollectionReport>,
    /// Namespaces of the input that `convert` does not export, with the reason.
    skipped: Vec<(String, String)>,
    /// Documents of the input that `convert --skip-corrupt` skips, by namespace.
    corrupt: Vec<(String, u64)>,
    problems: Vec<LayoutProblem>,
}

impl Report {
    fn print(&self) {
        println!("bsonflow verify: {}", self.export);
        if let Some(input) = &self.input {
            println!("against: {input}");
        }
        for c in &self.collections {
            let input = match &c.input {
                Some((docs, digest)) if *docs == c.documents && *digest == c.sha256 => {
                    "; the input's documents, in order".to_string()
                }
                Some((docs, _)) => format!("; the input has {docs} documents"),
                None => String::new(),
            };
            println!(
                "  {}: {} documents in {} file{}, sha256 {}{input}",
                c.ns,
                c.documents,
                c.files,
                if c.files == 1 { "" } else { "s" },
                &c.sha256[..16]
            );
        }
        for (ns, why) in &self.skipped {
            println!("  {ns}: not exported: {why}");
        }
        for (ns, n) in &self.corrupt {
            println!(
                "  {ns}: {n} corrupt input document(s), skipped as convert --skip-corrupt does"
            );
        }
        if self.problems.is_empty() {
            println!("verify: OK: the export is whole");
        } else {
            println!("problems:");
            for p in &self.problems {
                println!("  {p}");
            }
            println!(
                "verify: FAILED: {} problem{}",
                self.problems.len(),
                if self.problems.len() == 1 { "" } else { "s" }
            );
        }
    }

    fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        json!({
            "export": self.export,
            "input": self.input,
            "ok": self.problems.is_empty(),
            "dataFiles": self.data_files,
            "totalFiles": self.total_files,
            "collections": self.collections.iter().map(|c| json!({
                "namespace": c.ns.to_string(),
                "files": c.files,
                "documents": c.documents,
                "sha256": c.sha256,
                "inputDocuments": c.input.as_ref().map(|(d, _)| *d),
                "inputSha256": c.input.as_ref().map(|(_, s)| s.clone()),
            })).collect::<Vec<_>>(),
            "skipped": self.skipped.iter().map(|(ns, why)| json!({"namespace": ns, "reason": why})).collect::<Vec<_>>(),
            "corruptInInput": self.corrupt.iter().map(|(ns, n)| json!({"namespace": ns, "documents": n})).collect::<Vec<_>>(),
            "problems": self.problems.iter().map(|p| json!({
                "file": p.file,
                "line": p.line,
                "message": p.message,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Reads the input as `convert` does and compares each collection with the export.
/// `--shard NAME=INPUT`, each name once.
fn shard_inputs(texts: &[String]) -> Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for t in texts {
        let spec = crate::cli::parse_shard(t).map_err(anyhow::Error::msg)?;
        let name = spec.shard.unwrap_or_default();
        if out.iter().any(|(n, _)| *n == name) {
            bail!("--shard: shard {name:?} is given twice");
        }
        out.push((name, spec.path));
    }
    Ok(out)
}

/// Compares the input (one shard's, when `shard` is given: `listing` then holds that
/// shard's files only) with the export, adding to `report`.
fn compare_with_input(
    args: &VerifyArgs,
    input: &Path,
    shard: Option<&str>,
    export: &ExportSource,
    listing: &bsonflow_export::Listing,
    progress: &Progress,
    report: &mut Report,
) -> Result<()> {
    let c = convert_args(args, input)?;
    let input_url = remote::url_of(&c.input)?;
    let threads = convert::thread_count(&c);
    let (kind, prepared) = convert::open_input(&c, input_url.as_ref(), threads, true)?;
    tracing::info!(input = %convert::shown_input(&c, input_url.as_ref()), kind = %kind.describe(), "reading the input");
    let filter = convert::namespace_filter(&args.include, &args.exclude)?;
    // The bar follows the input; the export's bytes are counted apart.
    let export_progress = Progress::new();
    let sink = VerifySink {
        export,
        progress: &export_progress,
        filter,
        pending: Mutex::new(listing.collections.clone()),
        state: Mutex::new(SinkState::default()),
    };
    let read = convert::read_opened(
        prepared.opened,
        &sink,
        progress,
        &convert::read_options(&c, true),
    );
    drop(prepared.scratch);
    let VerifySink { pending, state, .. } = sink;
    let mut state = state.into_inner().expect("no panic while verifying");
    // Collections of the export that the input does not have: checked, and named.
    let pending = pending.into_inner().expect("no panic while verifying");
    let leftover: Vec<CollectionReport> = pending
        .par_iter()
        // Another shard's collection: this shard has no file of it.
        .filter(|(_, c)| shard.is_none() || c.chunks().next().is_some())
        .map(|(ns, c)| {
            let mut lines = CollectionLines::new(export, c, progress);
            while lines.next_line().is_some() {}
            let mut r = lines.into_report(ns.clone());
            let whose = match shard {
                Some(name) => format!("shard {name}'s input"),
                None => "the input".to_string(),
            };
            r.problems.push(LayoutProblem::new(
                bsonflow_export::collection_dir(ns),
                format!("{ns} is in the export but not in {whose} (or it skips it)"),
            ));
            r
        })
        .collect();
    state.collections.extend(leftover);
    state.collections.sort_by(|a, b| a.ns.cmp(&b.ns));
    for f in &state.failures {
        report
            .problems
            .push(LayoutProblem::new(input.display().to_string(), f.clone()));
    }
    if !read.read_to_end && state.failures.is_empty() {
        report.problems.push(LayoutProblem::new(
            input.display().to_string(),
            "the input was not read to its end",
        ));
    }
    report.collections.append(&mut state.collections);
    report.skipped.append(&mut state.skipped);
    report.corrupt.append(&mut state.corrupt);
    Ok(())
}

/// `convert`'s options for reading `input` as `convert` reads it.
fn convert_args(args: &VerifyArgs, input: &Path) -> Result<ConvertArgs> {
    // Scratch (a physical backup) and spill files go beside a local export, else into
    // the temporary folder.
    let out = match remote::url_of(&args.export)? {
        None => args.export.clone(),
        Some(_) => std::env::temp_dir().join("bsonflow-verify"),
    };
    let mut c = ConvertArgs::for_reading(input, &out);
    c.ns = args.ns.clone();
    c.db = args.db.clone();
    c.scratch = args.scratch.clone();
    c.threads = args.threads;
    c.quiet = args.quiet;
    c.skip_missing = true;
    c.storage = args.storage.clone();
    Ok(c)
}

#[derive(Default)]
struct SinkState {
    collections: Vec<CollectionReport>,
    skipped: Vec<(String, String)>,
    corrupt: Vec<(String, u64)>,
    failures: Vec<String>,
}

/// The [`DocumentSink`] that compares what the input holds with the export.
struct VerifySink<'e> {
    export: &'e ExportSource,
    /// Bytes of the export read while comparing (the bar follows the input).
    progress: &'e Progress,
    filter: NamespaceFilter,
    /// The export's collections that the input has not opened yet.
    pending: Mutex<BTreeMap<Namespace, ListedCollection>>,
    state: Mutex<SinkState>,
}

impl DocumentSink for VerifySink<'_> {
    type Writer<'s>
        = CollectionCheck<'s>
    where
        Self: 's;

    fn wants(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        self.filter.check(ns, meta)
    }

    fn open(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<CollectionCheck<'_>>, SinkError> {
        if let Err(why) = self.filter.check(ns, meta) {
            self.state
                .lock()
                .expect("no panic while verifying")
                .skipped
                .push((ns.to_string(), why.to_string()));
            return Ok(None);
        }
        let listed = self
            .pending
            .lock()
            .expect("no panic while verifying")
            .remove(ns);
        Ok(Some(CollectionCheck::new(self, ns.clone(), listed)))
    }

    fn update_metadata(&self, _: &Namespace, _: &CollectionMetadata) -> Result<(), SinkError> {
        Ok(())
    }

    fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        let text = match ns {
            Some(ns) if !failure.message.contains(&ns.to_string()) => format!("{ns}: {failure}"),
            _ => failure.to_string(),
        };
        self.state
            .lock()
            .expect("no panic while verifying")
            .failures
            .push(text);
    }
}

/// Which flavour the export's lines are in, once a line tells.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavour {
    Unknown,
    Known(Mode),
}

/// How far ahead (in documents, on either side) a difference is looked for before it is
/// called an alteration: a document dropped, duplicated or moved by up to this many places
/// is named as such.
const WINDOW: usize = 16;
/// Differences kept per collection for pairing and naming (all are counted).
const KEPT: usize = 10_000;

/// An input document not yet matched with a line.
struct InputDoc {
    hash: LineHash,
    index: u64,
    origin: String,
}

/// An export line not yet matched with an input document.
struct ExportLine {
    hash: LineHash,
    at: Position,
}

/// Compares one collection of the input, document by document, with the export's lines:
/// both sides are queued and aligned within a window of [`WINDOW`] documents, so that a
/// dropped or duplicated document costs one message, not one per later line.
struct CollectionCheck<'s> {
    sink: &'s VerifySink<'s>,
    ns: Namespace,
    /// `None` when the export has no such collection.
    lines: Option<CollectionLines<'s>>,
    origin: String,
    flavour: Flavour,
    canonical: Vec<u8>,
    relaxed: Vec<u8>,
    input: LineDigest,
    pending_in: std::collections::VecDeque<InputDoc>,
    pending_ex: std::collections::VecDeque<ExportLine>,
    /// Export lines that match no input document where they are.
    extra: Vec<ExportLine>,
    /// Input documents that no line matches where they belong, with the line they belong
    /// at (`None`: after the export's last line).
    missing: Vec<(InputDoc, Option<Position>)>,
    /// Differences beyond [`KEPT`], counted only.
    unkept: u64,
    corrupt: u64,
    concluded: bool,
}

impl<'s> CollectionCheck<'s> {
    fn new(sink: &'s VerifySink<'s>, ns: Namespace, listed: Option<ListedCollection>) -> Self {
        CollectionCheck {
            sink,
            lines: listed.map(|c| CollectionLines::new(sink.export, &c, sink.progress)),
            ns,
            origin: String::new(),
            flavour: Flavour::Unknown,
            canonical: Vec::new(),
            relaxed: Vec::new(),
            input: LineDigest::default(),
            pending_in: Default::default(),
            pending_ex: Default::default(),
            extra: Vec::new(),
            missing: Vec::new(),
            unkept: 0,
            corrupt: 0,
            concluded: false,
        }
    }

    /// Renders `doc` in the flavour(s) still possible; `false` when `convert` would skip it.
    fn render(&mut self, doc: &[u8]) -> bool {
        self.canonical.clear();
        self.relaxed.clear();
        let modes: &[Mode] = match self.flavour {
            Flavour::Known(Mode::Canonical) => &[Mode::Canonical],
            Flavour::Known(Mode::Relaxed) => &[Mode::Relaxed],
            Flavour::Unknown => &[Mode::Canonical, Mode::Relaxed],
        };
        for &mode in modes {
            let out = match mode {
                Mode::Canonical => &mut self.canonical,
                Mode::Relaxed => &mut self.relaxed,
            };
            if bsonflow_ejson::write_document(out, doc, mode).is_err() {
                return false;
            }
        }
        true
    }

    /// Pulls export lines until `want` are queued (or the export's lines end).
    fn fill(&mut self, want: usize) {
        let Some(lines) = self.lines.as_mut() else {
            return;
        };
        while self.pending_ex.len() < want {
            match lines.next_line() {
                Some(at) => self.pending_ex.push_back(ExportLine {
                    hash: lines.hash,
                    at,
                }),
                None => break,
            }
        }
    }

    fn keep_extra(&mut self, line: ExportLine) {
        match self.extra.len() < KEPT {
            true => self.extra.push(line),
            false => self.unkept += 1,
        }
    }

    fn keep_missing(&mut self, doc: InputDoc, at: Option<Position>) {
        match self.missing.len() < KEPT {
            true => self.missing.push((doc, at)),
            false => self.unkept += 1,
        }
    }

    /// Matches the queued documents with the queued lines as far as can be told yet;
    /// `last`: the input has no more documents.
    fn align(&mut self, last: bool) {
        loop {
            self.fill(self.pending_in.len() + WINDOW);
            let (Some(e), Some(a)) = (self.pending_in.front(), self.pending_ex.front()) else {
                break;
            };
            if e.hash == a.hash {
                self.pending_in.pop_front();
                self.pending_ex.pop_front();
                continue;
            }
            if !last && self.pending_in.len() < WINDOW {
                break; // more input first
            }
            let k = self.pending_ex.iter().position(|x| x.hash == e.hash);
            let m = self.pending_in.iter().position(|x| x.hash == a.hash);
            match (k, m) {
                // Lines the input does not have here (inserted, duplicated).
                (Some(k), None) => {
                    for _ in 0..k {
                        let x = self.pending_ex.pop_front().expect("queued");
                        self.keep_extra(x);
                    }
                }
                // Input documents the export lacks here (dropped).
                (None, Some(m)) => {
                    let at = a.at.clone();
                    for _ in 0..m {
                        let d = self.pending_in.pop_front().expect("queued");
                        self.keep_missing(d, Some(at.clone()));
                    }
                }
                // Altered, or moved (swapped): one line for one document.
                _ => {
                    let d = self.pending_in.pop_front().expect("queued");
                    let x = self.pending_ex.pop_front().expect("queued");
                    self.keep_missing(d, Some(x.at.clone()));
                    self.keep_extra(x);
                }
            }
        }
        if last {
            while let Some(d) = self.pending_in.pop_front() {
                self.keep_missing(d, None);
            }
            // One line at a time: the export may hold many more lines than the input.
            loop {
                self.fill(1);
                match self.pending_ex.pop_front() {
                    Some(x) => self.keep_extra(x),
                    None => break,
                }
            }
        }
    }

    /// The differences, named by file and line: moved documents (a line holding a document
    /// that belongs elsewhere), altered ones (a line in place of a document, neither found
    /// elsewhere), extra lines and missing documents.
    fn describe_differences(&mut self) -> Vec<LayoutProblem> {
        let ns = self.ns.clone();
        let mut by_hash: BTreeMap<LineHash, Vec<usize>> = BTreeMap::new();
        for (i, (d, _)) in self.missing.iter().enumerate() {
            by_hash.entry(d.hash).or_default().push(i);
        }
        let mut used = vec![false; self.missing.len()];
        let mut out: Vec<(Position, String)> = Vec::new();
        let mut unplaced: Vec<String> = Vec::new();
        let mut lone_extra: Vec<&ExportLine> = Vec::new();
        for x in &self.extra {
            let found = by_hash
                .get_mut(&x.hash)
                .and_then(|v| v.iter().position(|i| !used[*i]).map(|p| v.remove(p)));
            match found {
                Some(i) => {
                    used[i] = true;
                    let (d, at) = &self.missing[i];
                    let belongs = match at {
                        Some(p) => format!("{} line {}", p.file, p.line),
                        None => "after the last line".into(),
                    };
                    out.push((
                        x.at.clone(),
                        format!(
                            "out of order: holds the input's document {} of {ns} ({}), which belongs at {belongs}",
                            d.index, d.origin
                        ),
                    ));
                }
                None => lone_extra.push(x),
            }
        }
        let lone_missing: Vec<&(InputDoc, Option<Position>)> = self
            .missing
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(_, m)| m)
            .collect();
        let at_key = |p: &Position| (p.file.clone(), p.line);
        let missing_at: BTreeMap<(String, u64), &InputDoc> = lone_missing
            .iter()
            .filter_map(|(d, at)| at.as_ref().map(|p| (at_key(p), d)))
            .collect();
        let mut altered_lines = std::collections::BTreeSet::new();
        for x in lone_extra {
            match missing_at.get(&at_key(&x.at)) {
                Some(d) => {
                    altered_lines.insert(at_key(&x.at));
                    out.push((
                        x.at.clone(),
                        format!(
                            "differs from the input's document {} of {ns} ({})",
                            d.index, d.origin
                        ),
                    ));
                }
                None => out.push((
                    x.at.clone(),
                    format!(
                        "a document the input does not have here (inserted or duplicated; {ns})"
                    ),
                )),
            }
        }
        for (d, at) in lone_missing {
            match at {
                Some(p) if altered_lines.contains(&at_key(p)) => {}
                Some(p) => out.push((
                    p.clone(),
                    format!(
                        "the input's document {} of {ns} ({}) is missing before this line",
                        d.index, d.origin
                    ),
                )),
                None => unplaced.push(format!(
                    "the input's document {} of {ns} ({}) is missing after the export's last line",
                    d.index, d.origin
                )),
            }
        }
        out.sort_by(|a, b| (&a.0.file, a.0.line).cmp(&(&b.0.file, b.0.line)));
        let total = out.len() + unplaced.len() + self.unkept as usize;
        let mut problems: Vec<LayoutProblem> = out
            .into_iter()
            .map(|(p, m)| LayoutProblem::at_line(p.file, p.line, m))
            .collect();
        let last_file = self
            .lines
            .as_ref()
            .and_then(|l| l.last.as_ref().map(|p| p.file.clone()))
            .unwrap_or_else(|| bsonflow_export::collection_dir(&ns));
        problems.extend(
            unplaced
                .into_iter()
                .map(|m| LayoutProblem::new(last_file.clone(), m)),
        );
        if problems.len() > LISTED_PER_COLLECTION {
            problems.truncate(LISTED_PER_COLLECTION);
            problems.push(LayoutProblem::new(
                bsonflow_export::collection_dir(&ns),
                format!(
                    "{ns}: {} more differences, not listed",
                    total - LISTED_PER_COLLECTION
                ),
            ));
        }
        problems
    }

    fn conclude(&mut self, finished: bool) {
        if self.concluded {
            return;
        }
        self.concluded = true;
        let dir = bsonflow_export::collection_dir(&self.ns);
        let mut problems = Vec::new();
        if !finished {
            problems.push(LayoutProblem::new(
                &dir,
                format!(
                    "{}: the input could not be read to the end of this collection; compared up to its document {}",
                    self.ns, self.input.count
                ),
            ));
        }
        let report = match self.lines.is_some() {
            false => {
                problems.push(LayoutProblem::new(
                    &dir,
                    format!(
                        "{} is missing from the export: the input has it ({} documents)",
                        self.ns, self.input.count
                    ),
                ));
                CollectionReport {
                    ns: self.ns.clone(),
                    files: 0,
                    documents: 0,
                    sha256: LineDigest::default().hex(),
                    input: Some((self.input.count, self.input.hex())),
                    problems,
                }
            }
            true => {
                self.align(true);
                let differences = if finished {
                    self.describe_differences()
                } else {
                    Vec::new()
                };
                let lines = self.lines.take().expect("checked above");
                let export = lines.digest.clone();
                if finished && export.count == self.input.count && export.hex() != self.input.hex()
                {
                    let why = match export.sum == self.input.sum {
                        true => "the same documents as the input, in another order",
                        false => "documents that differ from the input's",
                    };
                    problems.push(LayoutProblem::new(
                        &dir,
                        format!(
                            "{}: holds {why} (digest {} against the input's {})",
                            self.ns,
                            &export.hex()[..16],
                            &self.input.hex()[..16]
                        ),
                    ));
                } else if finished && export.count != self.input.count {
                    problems.push(LayoutProblem::new(
                        &dir,
                        format!(
                            "{}: the export holds {} documents, the input {}",
                            self.ns, export.count, self.input.count
                        ),
                    ));
                }
                problems.extend(differences);
                let mut r = lines.into_report(self.ns.clone());
                r.input = Some((self.input.count, self.input.hex()));
                // The chunks' own problems first, then the comparison's.
                r.problems.append(&mut problems);
                r
            }
        };
        let mut state = self.sink.state.lock().expect("no panic while verifying");
        if self.corrupt > 0 {
            state.corrupt.push((self.ns.to_string(), self.corrupt));
        }
        state.collections.push(report);
    }
}

impl CollectionWriter for CollectionCheck<'_> {
    fn set_origin(&mut self, origin: &str) {
        self.origin.clear();
        self.origin.push_str(origin);
    }

    fn write_document(&mut self, doc: &[u8], offset: u64) -> Result<(), SinkError> {
        if !self.render(doc) {
            // `convert --skip-corrupt` leaves it out; without it convert fails.
            self.corrupt += 1;
            return Ok(());
        }
        let index = self.input.count + 1;
        if self.lines.is_none() {
            self.input.add(&line_hash(&self.canonical));
            return Ok(());
        }
        if self.flavour == Flavour::Unknown {
            // The first line that only one flavour gives tells the export's.
            self.fill(self.pending_in.len() + WINDOW);
            let (c, r) = (line_hash(&self.canonical), line_hash(&self.relaxed));
            if c != r {
                let has = |h: &LineHash| self.pending_ex.iter().any(|x| x.hash == *h);
                match (has(&c), has(&r)) {
                    (true, false) => self.flavour = Flavour::Known(Mode::Canonical),
                    (false, true) => self.flavour = Flavour::Known(Mode::Relaxed),
                    _ => {}
                }
            }
        }
        let hash = match self.flavour {
            Flavour::Known(Mode::Relaxed) => line_hash(&self.relaxed),
            _ => line_hash(&self.canonical),
        };
        self.input.add(&hash);
        self.pending_in.push_back(InputDoc {
            hash,
            index,
            origin: format!("{} at byte {offset}", self.origin),
        });
        self.align(false);
        Ok(())
    }

    fn corrupt(&mut self, _offset: u64, _detail: &str) -> Result<(), SinkError> {
        self.corrupt += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<(), SinkError> {
        self.conclude(true);
        Ok(())
    }
}

impl Drop for CollectionCheck<'_> {
    fn drop(&mut self) {
        self.conclude(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_must_be_extended_json_documents() {
        assert!(document_of(
            br#"{"_id":{"$oid":"5f0c1a2b3c4d5e6f70819203"},"n":{"$numberInt":"1"}}"#
        )
        .is_ok());
        assert!(document_of(br#"{"a":1.5,"d":{"$date":"2020-01-01T00:00:00Z"}}"#).is_ok());
        // Field names that start with `$` but are no Extended JSON keyword are data.
        assert!(document_of(br#"{"a":{"$foo":{"$numberInt":"1"}},"$bar":"x"}"#).is_ok());
        assert!(document_of(b"[1,2]").unwrap_err().contains("array"));
        assert!(document_of(br#"{"a":"#).unwrap_err().contains("not JSON"));
        assert!(document_of(br#"{"a":{"$numberInt":"x"}}"#)
            .unwrap_err()
            .contains("Extended JSON"));
    }

    #[test]
    fn the_digest_tells_order_from_content() {
        let (a, b, c) = (line_hash(b"a"), line_hash(b"b"), line_hash(b"c"));
        let digest = |hs: &[&LineHash]| {
            let mut d = LineDigest::default();
            hs.iter().for_each(|h| d.add(h));
            d
        };
        let ab = digest(&[&a, &b]);
        let ba = digest(&[&b, &a]);
        let ac = digest(&[&a, &c]);
        assert_ne!(ab.hex(), ba.hex());
        assert_eq!(ab.sum, ba.sum);
        assert_ne!(ab.sum, ac.sum);
        assert_eq!(ab.hex(), digest(&[&a, &b]).hex());
    }
}
