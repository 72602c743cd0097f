//! `bsonflow inspect`: tell the input, open it as convert does, run the library's survey of
//! it into a counting sink (or read the data directory's catalog and size storer), convert
//! the sample in memory for an estimate, and print. Nothing is written (a physical backup
//! under `--exact` is unpacked into a temporary folder, removed afterwards).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use bsonflow_ejson::Mode;
use bsonflow_export::{convert_sample, ExportEstimate, SampleConversion};
use bsonflow_model::{Basis, ByteSize, Census, Progress, ReadOptions, Survey};
use bsonflow_sources::detect::InputKind;
use bsonflow_sources::layers::compression::Compression;
use bsonflow_sources::survey as sampling;
use bsonflow_sources::unpack;
use serde_json::{json, Value};

use crate::cli::{ConvertArgs, Format, InspectArgs};
use crate::convert::{self, Opened, Prepared};
use crate::progress::Bar;
use crate::remote;

/// Documents kept for the estimate.
const SAMPLE_DOCUMENT_BYTES: usize = 8 << 20;

pub fn run(args: InspectArgs) -> Result<u8> {
    let started = Instant::now();
    let conv = convert_args(&args);
    let url = remote::url_of(&args.input)?;
    let threads = convert::thread_count(&conv);
    let filter = convert::export_options(&conv, threads, None)?.filter;
    let shown = convert::shown_input(&conv, url.as_ref());
    let local = url.is_none();

    // A data directory on the local disk is opened in place (its catalog is cheap); any
    // other physical input is unpacked only under --exact.
    let (kind, prepared) = convert::open_input(&conv, url.as_ref(), threads, args.exact)?;
    let Prepared {
        opened,
        scratch,
        unpacked,
    } = prepared;
    let opened = match (&opened, &kind) {
        (Opened::Unopened, InputKind::DataDirectory) if local => {
            Opened::DataDir(bsonflow_wiredtiger::DataDir::open(&args.input)?)
        }
        _ => opened,
    };
    let census = Census::new(filter.clone(), false, SAMPLE_DOCUMENT_BYTES);
    let reach = sampling::reach(&kind, local, args.exact, args.sample);
    let progress = Arc::new(Progress::new());
    let bar = Bar::start("inspecting", Arc::clone(&progress), args.quiet || args.json);
    let mut survey = match opened {
        Opened::Set(set) => sampling::survey_set(&set, census, reach, &progress),
        Opened::Tar(input) | Opened::Archive(input) => {
            sampling::survey_stream(&kind, input, census, reach, &progress)
        }
        Opened::DataDir(dir) if args.exact => {
            let report = dir.read_into(&census, &progress, &ReadOptions::default());
            let mut survey = census.into_survey(report);
            survey.read.format = dir.describe();
            survey
        }
        Opened::DataDir(dir) => dir.survey(&filter, SAMPLE_DOCUMENT_BYTES),
        Opened::Unopened => packed_physical(&conv, &kind, local),
    };
    drop(bar);
    let read_seconds = started.elapsed().as_secs_f64();
    drop(scratch);
    if let Some(note) = unpacked {
        survey.read.notes.insert(0, note);
    }
    let chain = format_chain(&kind, &survey, &args.input, local);
    let mode = match args.format {
        Format::Canonical => Mode::Canonical,
        Format::Relaxed => Mode::Relaxed,
    };
    let sample = convert_sample(&survey.sample, mode, args.gzip_level).unwrap_or_default();
    let estimate = survey
        .bytes
        .and_then(|bytes| sample.extrapolate(bytes, threads));
    let reading = reading_seconds(&survey, read_seconds);
    let problems = problems(&survey);
    let report = Report {
        args: &args,
        shown: &shown,
        kind: &kind,
        chain: &chain,
        survey: &survey,
        sample: &sample,
        estimate,
        reading,
        threads,
        problems: &problems,
    };
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&report.json())?),
        false => report.print(),
    }
    for p in &problems {
        eprintln!("bsonflow: error: {p}");
    }
    Ok(match problems.is_empty() {
        true => crate::summary::EXIT_OK,
        false => crate::summary::EXIT_FAILED,
    })
}

/// The convert options inspect shares, for the functions that open an input as convert
/// does; its output folder is only where a physical backup would be unpacked (`--exact`):
/// a fresh folder in the system's temporary folder.
fn convert_args(args: &InspectArgs) -> ConvertArgs {
    let out = std::env::temp_dir().join(format!("bsonflow-inspect-{}", std::process::id()));
    let mut conv = ConvertArgs::for_reading(&args.input, &out);
    conv.format = args.format;
    conv.gzip_level = args.gzip_level;
    conv.threads = args.threads;
    conv.include = args.include.clone();
    conv.exclude = args.exclude.clone();
    conv.ns = args.ns.clone();
    conv.db = args.db.clone();
    conv.quiet = args.quiet || args.json;
    conv.storage = args.storage.clone();
    conv
}

/// A physical backup that was not unpacked (or a data directory in object storage, not
/// copied): its format, and what unpacking would tell.
fn packed_physical(conv: &ConvertArgs, kind: &InputKind, local: bool) -> Survey {
    let unknown = match kind {
        InputKind::DataDirectory => "namespaces, counts and skips: the data directory is in \
            object storage; --exact copies it into a temporary folder and reads it"
            .to_string(),
        _ => {
            let space = match local {
                true => unpack::space_needed(&conv.input)
                    .map(|s| format!(" (unpacking needs {})", crate::physical::describe_space(s)))
                    .unwrap_or_default(),
                false => String::new(),
            };
            format!(
                "namespaces, counts and skips: a physical backup keeps its catalog inside the \
                 packed data directory{space}; --exact unpacks it into a temporary folder and \
                 reads it"
            )
        }
    };
    Survey {
        unknowns: vec![unknown],
        ..Survey::default()
    }
}

/// `zstd → tar, 12 members → cloud BSON layout`: the layers the input was told to have,
/// then what the reader found.
fn format_chain(kind: &InputKind, survey: &Survey, input: &std::path::Path, local: bool) -> String {
    let packed = |c: &Compression| match c {
        Compression::None => String::new(),
        c => format!("{} → ", c.name()),
    };
    let found = &survey.read.format;
    match kind {
        InputKind::BsonFolder => format!("folder → {found}"),
        InputKind::BsonFile(c) => format!("{}BSON file", packed(c)),
        InputKind::BsonTar(_) | InputKind::MongodumpArchive(_) => found.clone(),
        InputKind::DataDirectory => found.clone(),
        InputKind::PhysicalTar(c) => {
            format!("{}tar → {}", packed(c), or_packed(found))
        }
        InputKind::Xbstream(c) => {
            let layers = match std::fs::File::open(input) {
                Ok(file) if local => sampling::xbstream_layers(file),
                _ => "xbstream",
            };
            format!("{}{layers} → {}", packed(c), or_packed(found))
        }
        InputKind::Qpress => format!("qpress → {}", or_packed(found)),
        InputKind::UnsupportedDataDirectory(why) => why.clone(),
    }
}

fn or_packed(found: &str) -> String {
    match found.is_empty() {
        true => "mongod data directory (packed; not unpacked without --exact)".into(),
        false => found.to_string(),
    }
}

/// Seconds to read the whole input, from how long this look took for the part it read.
fn reading_seconds(survey: &Survey, seconds: f64) -> Option<f64> {
    if survey.read_whole {
        return Some(seconds);
    }
    match (survey.raw_read, survey.raw_size) {
        (Some(read), Some(size)) if read > 0 => Some(seconds * size as f64 / read as f64),
        _ => None,
    }
}

/// What is wrong with the input where it was read.
fn problems(survey: &Survey) -> Vec<String> {
    let mut out = survey.failures.clone();
    out.extend(survey.namespaces.iter().filter_map(|n| n.failure.clone()));
    out
}

struct Report<'a> {
    args: &'a InspectArgs,
    shown: &'a str,
    kind: &'a InputKind,
    chain: &'a str,
    survey: &'a Survey,
    sample: &'a SampleConversion,
    estimate: Option<ExportEstimate>,
    reading: Option<f64>,
    threads: usize,
    problems: &'a [String],
}

impl Report<'_> {
    fn print(&self) {
        let s = self.survey;
        println!(
            "bsonflow inspect: {} ({})",
            self.shown,
            self.kind.describe()
        );
        println!("format: {}", self.chain);
        for note in &s.read.notes {
            println!("{note}");
        }
        if !s.namespaces.is_empty() {
            println!("namespaces:");
            let width = s
                .namespaces
                .iter()
                .map(|n| n.ns.to_string().len())
                .max()
                .unwrap_or(0);
            for n in &s.namespaces {
                let ns = n.ns.to_string();
                let docs = n
                    .documents
                    .map(|d| format!("{}{d}", approx(n.basis)))
                    .unwrap_or_else(|| "?".into());
                let bytes = n
                    .bytes
                    .map(|b| format!("{}{}", approx(n.basis), ByteSize(b)))
                    .unwrap_or_else(|| "?".into());
                let basis = match &n.skipped {
                    Some(reason) => format!("skipped: {reason}"),
                    None => n.basis.to_string(),
                };
                println!("  {ns:<width$}  {docs:>12} docs  {bytes:>12} BSON  {basis}");
            }
        }
        let exported = s.exported().count();
        match (s.documents, s.bytes) {
            (Some(d), Some(b)) => println!(
                "would export: {exported} collections, {}{d} documents, {}{} BSON ({})",
                approx(s.totals),
                approx(s.totals),
                ByteSize(b),
                s.totals
            ),
            _ => println!("would export: {exported} collections known; totals unknown"),
        }
        if s.namespaces.iter().any(|n| n.skipped.is_some()) {
            // The same lines as convert's summary.
            println!("skipped:");
            for n in &s.namespaces {
                if let Some(reason) = &n.skipped {
                    println!("  {}: {reason}", n.ns);
                }
            }
        }
        if !s.read.ignored.is_empty() {
            println!("ignored input:");
            for i in &s.read.ignored {
                println!("  {}: {}", i.what, i.why);
            }
            if s.read.ignored_unlisted > 0 {
                println!("  {} more, not listed", s.read.ignored_unlisted);
            }
        }
        match self.estimate {
            Some(e) => println!(
                "estimate (from {} sampled documents, {} BSON, converted in memory): {} JSON, \
                 {} gzip (level {}), {} of conversion on {} threads{}",
                self.sample.documents,
                ByteSize(self.sample.bson_bytes),
                ByteSize(e.json_bytes),
                ByteSize(e.gzip_bytes),
                self.args.gzip_level,
                duration(e.seconds),
                self.threads,
                self.reading
                    .map(|r| format!(", {} of reading", duration(r)))
                    .unwrap_or_default()
            ),
            None => println!("estimate: none (no documents sampled, or totals unknown)"),
        }
        if !s.unknowns.is_empty() {
            println!("not known from this look:");
            for u in &s.unknowns {
                println!("  - {u}");
            }
        }
    }

    fn json(&self) -> Value {
        let s = self.survey;
        let namespaces: Vec<Value> = s
            .namespaces
            .iter()
            .map(|n| {
                json!({
                    "ns": n.ns.to_string(),
                    "documents": n.documents,
                    "bytes": n.bytes,
                    "exact": n.basis == Basis::Exact,
                    "basis": n.basis.as_str(),
                    "skipped": n.skipped.as_ref().map(|r| r.to_string()),
                    "failure": n.failure,
                })
            })
            .collect();
        let skipped: Vec<Value> = s
            .namespaces
            .iter()
            .filter_map(|n| {
                let reason = n.skipped.as_ref()?;
                Some(json!({"ns": n.ns.to_string(), "reason": reason.to_string()}))
            })
            .collect();
        let ignored: Vec<Value> = s
            .read
            .ignored
            .iter()
            .map(|i| json!({"what": i.what, "why": i.why}))
            .collect();
        let e = self.estimate;
        json!({
            "input": self.shown,
            "kind": self.kind.describe(),
            "format_chain": self.chain,
            "notes": s.read.notes,
            "read_whole": s.read_whole,
            "raw_bytes": {"size": s.raw_size, "read": s.raw_read},
            "namespaces": namespaces,
            "totals": {
                "collections": s.exported().count(),
                "documents": s.documents,
                "bytes": s.bytes,
                "exact": s.totals == Basis::Exact,
                "basis": s.totals.as_str(),
            },
            "skipped": skipped,
            "ignored": ignored,
            "ignored_unlisted": s.read.ignored_unlisted,
            "estimates": {
                "basis": "estimate",
                "sample_documents": self.sample.documents,
                "sample_bson_bytes": self.sample.bson_bytes,
                "format": match self.args.format { Format::Canonical => "canonical", Format::Relaxed => "relaxed" },
                "gzip_level": self.args.gzip_level,
                "threads": self.threads,
                "json_bytes": e.map(|e| e.json_bytes),
                "gzip_bytes": e.map(|e| e.gzip_bytes),
                "convert_seconds": e.map(|e| round3(e.seconds)),
                "read_seconds": self.reading.map(round3),
            },
            "unknowns": s.unknowns,
            "problems": self.problems,
        })
    }
}

/// `~` before a number that is not exact.
fn approx(basis: Basis) -> &'static str {
    match basis {
        Basis::Exact => "",
        Basis::AtLeast => "≥",
        _ => "~",
    }
}

fn duration(seconds: f64) -> String {
    match seconds {
        s if s < 1.0 => "under a second".into(),
        s if s < 120.0 => format!("about {s:.0} s"),
        s if s < 7200.0 => format!("about {:.0} min", s / 60.0),
        s => format!("about {:.1} h", s / 3600.0),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
