//! `bsonflow convert`: tell the input, open it, build the exporter, make one reader call,
//! finish and print. The readers' loops, policies and failure ledger live in the libraries.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{bail, Context, Result};
use bsonflow_ejson::Mode;
use bsonflow_export::{
    CompleteMarker, ConfigCollector, ExportOptions, Exporter, KeyValue, Ownership, RunSummary,
    ShardDone, DEFAULT_SHARD_NAME,
};
use bsonflow_model::{
    DocumentSink, Failure, FailureKind, Namespace, NamespaceFilter, NamespacePattern, Progress,
    ReadOptions, ReadReport,
};
use bsonflow_sources::detect::{self, InputKind};
use bsonflow_sources::folder::{self, BsonSet};
use bsonflow_sources::input::Input;
use bsonflow_sources::layers::compression::Compression;
use bsonflow_sources::{mongodump_archive, tar_set};
use bsonflow_wiredtiger::DataDir;

use bsonflow_cloud::Url;

use crate::cli::{AtlasPrefix, ConvertArgs, Format, InputSpec};
use crate::physical::{self, Scratch};
use crate::progress::Bar;
use crate::remote;
use crate::report::{self, InputFacts};
use crate::summary;

/// The input, opened: what the reader of each kind needs before the export starts.
pub(crate) enum Opened {
    Set(BsonSet),
    Tar(Input),
    Archive(Input),
    DataDir(DataDir),
    /// Told but not opened (a physical backup, when only its kind is wanted).
    Unopened,
}

/// One input of the run, opened, with the shard its files are named after.
struct ShardInput {
    name: String,
    /// The input as messages show it (a URL without its query string).
    shown: String,
    /// What it was told to be.
    kind: String,
    prepared: Prepared,
}

/// Detect → open → build the exporter → read → finish → print (and `--report`). Several
/// inputs are the shards of one cluster: each is read into its own shard of the one export.
pub fn run(args: ConvertArgs) -> Result<u8> {
    let started = Instant::now();
    let report_path = args.report.clone();
    let mut facts = Vec::new();
    let mut out = args.out.display().to_string();
    let result = convert(args, started, &mut facts, &mut out);
    if let Some(path) = report_path {
        let value = match &result {
            Ok((summary, code)) => {
                report::of_summary(summary, &facts, &out, started.elapsed(), *code)
            }
            Err(e) => report::of_error(&format!("{e:#}"), &facts, &out, started.elapsed()),
        };
        report::write(&path, &value)?;
    }
    result.map(|(_, code)| code)
}

fn convert(
    mut args: ConvertArgs,
    started: Instant,
    facts: &mut Vec<InputFacts>,
    shown_out: &mut String,
) -> Result<(RunSummary, u8)> {
    let specs = args.input_specs().map_err(anyhow::Error::msg)?;
    let several = specs.len() > 1;
    let threads = thread_count(&args);
    let each: Vec<ConvertArgs> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| args.for_input(spec, several.then(|| i.to_string())))
        .collect();
    let marker = build_marker(&each[0], remote::url_of(&each[0].input)?.as_ref())?;
    if let Some(kind) = args.atlas_prefix {
        args.out = args
            .out
            .join(atlas_prefix(kind, &marker, SystemTime::now())?);
        *shown_out = args.out.display().to_string();
    }
    let out_url = remote::url_of(&args.out)?;
    if let Some(url) = &out_url {
        *shown_out = url.display();
    }
    let inputs = open_shards(each, threads, several)?;
    facts.extend(inputs.iter().map(|i| InputFacts {
        input: i.shown.clone(),
        shard: i.name.clone(),
        kind: i.kind.clone(),
    }));

    let mut options = export_options(&args, threads, Some(inputs[0].name.clone()))?;
    if let Some(config) = &args.config_server {
        options.ownership = Some(Arc::new(chunk_table(&args, config, threads)?));
    }
    let exporter = match &out_url {
        None => Exporter::new(options)?,
        Some(url) => {
            let (target, restarted) = remote::claim_output(url, &args.storage)?;
            Exporter::with_target(options, target, restarted)?
        }
    };
    let description = inputs
        .iter()
        .map(|i| match several {
            true => format!("{}: {} ({})", i.name, i.shown, i.kind),
            false => format!("{} ({})", i.shown, i.kind),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let progress = Arc::new(Progress::new());
    let label = match inputs.len() {
        1 => "converting".to_string(),
        n => format!("converting {n} shards"),
    };
    let bar = Bar::start(&label, Arc::clone(&progress), args.quiet);
    let read_options = read_options(&args, out_url.is_some());
    let done = read_shards(inputs, &exporter, &progress, &read_options, threads)?;
    drop(bar);

    let summary = exporter.finish_shards(&marker, done)?;
    summary::print(&summary, &description, started.elapsed(), &args.out);
    let code = summary::exit_code(&summary);
    Ok((summary, code))
}

/// The chunk table of the config server's backup `config` (`--config-server`), read as
/// `convert` reads any input.
fn chunk_table(args: &ConvertArgs, config: &Path, threads: usize) -> Result<Ownership> {
    let spec = InputSpec {
        path: config.to_path_buf(),
        shard: None,
    };
    // Its own scratch folder, apart from the shards' (0, 1, …).
    let one = args.for_input(&spec, Some("config-server".into()));
    let url = remote::url_of(&one.input)?;
    let shown = shown_input(&one, url.as_ref());
    let (_, prepared) = open_input(&one, url.as_ref(), threads, true)?;
    let collector = ConfigCollector::default();
    let report = read_opened(
        prepared.opened,
        &collector,
        &Progress::new(),
        &read_options(&one, remote::url_of(&one.out)?.is_some()),
    );
    drop(prepared.scratch);
    let table = collector
        .into_ownership()
        .map_err(|e| anyhow::anyhow!("--config-server {shown}: {e}"))?;
    if !report.read_to_end {
        bail!("--config-server {shown}: the backup was not read to its end");
    }
    tracing::info!(
        "orphan filter: the chunk tables of {} sharded collections from {shown}",
        table.len()
    );
    Ok(table)
}

/// `exported_snapshots/<org>/<project>/<cluster>/<YYYY-MM-DDTHHmm>/<epoch seconds>`, as Atlas
/// names an export's prefix. Names are made safe as object-key segments the way Atlas says
/// it does: spaces become `_`, and anything but ASCII letters, digits and `! - _ . * ' ( )`
/// is removed (AWS's safe characters); a segment left empty, `.` or `..` is refused.
pub(crate) fn atlas_prefix(
    kind: AtlasPrefix,
    marker: &CompleteMarker,
    now: SystemTime,
) -> Result<String> {
    let (org, group, flags, kind) = match kind {
        AtlasPrefix::Names => (
            &marker.org_name,
            &marker.group_name,
            "--org-name and --group-name",
            "names",
        ),
        AtlasPrefix::Ids => (
            &marker.org_id,
            &marker.group_id,
            "--org-id and --group-id",
            "ids",
        ),
    };
    if org.is_empty() || group.is_empty() {
        bail!("--atlas-prefix {kind}: give {flags}, which fill its org and project segments");
    }
    let segment = |what: &str, text: &str| -> Result<String> {
        let safe: String = text
            .chars()
            .map(|c| if c == ' ' { '_' } else { c })
            .filter(|c| c.is_ascii_alphanumeric() || "!-_.*'()".contains(*c))
            .collect();
        if safe.is_empty() || safe == "." || safe == ".." {
            bail!(
                "--atlas-prefix: the {what} {text:?} leaves no usable path segment once made safe"
            );
        }
        Ok(safe)
    };
    let date = &marker.snapshot_initiation_date;
    let b = date.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16))
    {
        bail!("--atlas-prefix: the snapshot date {date:?} is not ISO-8601 (YYYY-MM-DDTHH:MM…)");
    }
    let epoch = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(format!(
        "exported_snapshots/{}/{}/{}/{}T{}{}/{epoch}",
        segment("org", org)?,
        segment("project", group)?,
        segment("cluster name", &marker.cluster_name)?,
        &date[0..10],
        &date[11..13],
        &date[14..16],
    ))
}

/// Tells every input before any is unpacked or written (an unnamed logical backup among
/// several is refused at once), then unpacks the physical ones and names every shard.
fn open_shards(each: Vec<ConvertArgs>, threads: usize, several: bool) -> Result<Vec<ShardInput>> {
    let mut told = Vec::new();
    for args in each {
        let url = remote::url_of(&args.input)?;
        let (kind, prepared) = open_input(&args, url.as_ref(), threads, false)?;
        let physical = matches!(prepared.opened, Opened::Unopened);
        let shown = shown_input(&args, url.as_ref());
        if several && !physical && args.shard_name.is_none() {
            return Err(unnamed_logical(&shown, &kind));
        }
        told.push((args, url, physical, shown, kind.describe(), prepared));
    }
    let mut inputs: Vec<ShardInput> = Vec::new();
    for (args, url, physical, shown, kind, prepared) in told {
        let prepared = match physical {
            true => open_input(&args, url.as_ref(), threads, true)?.1,
            false => prepared,
        };
        let name = match (args.shard_name.clone(), replica_set(&prepared.opened)) {
            (Some(name), _) | (None, Some(name)) => name,
            (None, None) if several => bail!(
                "{shown}: this data directory names no replica set (a standalone mongod?); name its shard with --shard NAME={shown}"
            ),
            (None, None) => DEFAULT_SHARD_NAME.to_string(),
        };
        if let Some(first) = inputs.iter().find(|i| i.name == name) {
            return Err(shard_given_twice(&name, &first.shown, &shown));
        }
        inputs.push(ShardInput {
            name,
            shown,
            kind,
            prepared,
        });
    }
    Ok(inputs)
}

/// The refusal of a logical backup, among several inputs, that no `--shard` names (`convert`
/// and `plan`).
pub(crate) fn unnamed_logical(shown: &str, kind: &InputKind) -> anyhow::Error {
    anyhow::anyhow!(
        "{shown}: a logical backup ({}) does not say which shard it is; name it with --shard NAME={shown} (NAME = the shard's replica-set name)",
        kind.describe()
    )
}

/// The refusal of a second input under a shard name already given (`convert` and `plan`).
pub(crate) fn shard_given_twice(name: &str, first: &str, second: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "shard {name:?} is given twice: {first} and {second}; each shard's backup must be given once, under its own name (--shard NAME=INPUT)"
    )
}

/// Reads every input into its shard of `exporter`, up to `threads` inputs at a time (they
/// share the compression pool, so memory stays bounded however many there are).
fn read_shards(
    inputs: Vec<ShardInput>,
    exporter: &Exporter,
    progress: &Progress,
    options: &ReadOptions,
    threads: usize,
) -> Result<Vec<ShardDone>> {
    let mut jobs = Vec::new();
    for input in inputs {
        let sink = exporter.shard(&input.name)?;
        jobs.push(Mutex::new(Some((input.prepared, sink))));
    }
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<ShardDone>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let Some((prepared, sink)) = job.lock().ok().and_then(|mut j| j.take()) else {
                    continue;
                };
                let Prepared {
                    opened,
                    scratch,
                    unpacked,
                } = prepared;
                let mut report = read_opened(opened, &sink, progress, options);
                report.notes.splice(0..0, unpacked);
                drop(scratch);
                let shard = sink.done(report);
                done.lock().unwrap_or_else(|e| e.into_inner()).push(shard);
            });
        }
    });
    Ok(done.into_inner().unwrap_or_else(|e| e.into_inner()))
}

/// `--threads`, else one per core; sizes rayon's global pool too (readers that fan out
/// over collections use it).
pub(crate) fn thread_count(args: &ConvertArgs) -> usize {
    let threads = args.threads.map(|t| t as usize).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    threads
}

/// The input as messages show it (a URL without its query string).
pub(crate) fn shown_input(args: &ConvertArgs, url: Option<&Url>) -> String {
    match url {
        Some(url) => url.display(),
        None => args.input.display().to_string(),
    }
}

/// Tells and opens the input, local or in object storage. With `physical` false, a physical
/// backup or data directory is told but not unpacked ([`Opened::Unopened`]).
pub(crate) fn open_input(
    args: &ConvertArgs,
    url: Option<&Url>,
    threads: usize,
    physical: bool,
) -> Result<(InputKind, Prepared)> {
    match url {
        None => {
            let kind = detect_kind(args)?;
            let is_physical = matches!(
                kind,
                InputKind::PhysicalTar(_)
                    | InputKind::Xbstream(_)
                    | InputKind::Qpress
                    | InputKind::DataDirectory
            );
            if is_physical && !physical {
                return Ok((kind, Prepared::not_opened()));
            }
            let prepared = open(args, &kind, threads)?;
            Ok((kind, prepared))
        }
        Some(url) => remote::open_input(url, args, threads, physical),
    }
}

/// A data directory names its replica set: the default shard name.
pub(crate) fn replica_set(opened: &Opened) -> Option<String> {
    match opened {
        Opened::DataDir(dir) => dir.replica_set_name().ok().flatten(),
        _ => None,
    }
}

/// The readers' options: `--skip-missing`, and where a tar reader may spill members it
/// meets out of order (`--scratch`, else beside a local `--out`, else the temp folder).
pub(crate) fn read_options(args: &ConvertArgs, remote_out: bool) -> ReadOptions {
    let spill_beside = match remote_out {
        false => parent_or_here(&args.out),
        true => std::env::temp_dir(),
    };
    ReadOptions {
        skip_missing: args.skip_missing,
        spill_dir: Some(args.scratch.clone().unwrap_or(spill_beside)),
        ..ReadOptions::default()
    }
}

/// The one reader call for the opened input.
pub(crate) fn read_opened<S: DocumentSink>(
    opened: Opened,
    sink: &S,
    progress: &Progress,
    options: &ReadOptions,
) -> ReadReport {
    match opened {
        Opened::Set(set) => set.read_into(sink, progress, options),
        Opened::Tar(input) => tar_set::read_into(input, sink, progress, options),
        Opened::Archive(input) => mongodump_archive::read_into(input, sink, progress, options),
        Opened::DataDir(dir) => dir.read_into(sink, progress, options),
        Opened::Unopened => {
            let mut report = ReadReport::default();
            let failure = Failure::new(FailureKind::Input, "the input was not opened");
            sink.fail(None, failure);
            report.read_to_end = false;
            report
        }
    }
}

/// What the input is; a file the user named as one collection's BSON (`--ns`, `--db`) is
/// read as such even when its first bytes say nothing, so that damage at its very start is
/// reported with its offset like any other.
fn detect_kind(args: &ConvertArgs) -> Result<InputKind> {
    match detect::detect(&args.input) {
        Err(detect::DetectError::Unknown { .. }) if args.ns.is_some() || args.db.is_some() => {
            Ok(InputKind::BsonFile(Compression::None))
        }
        other => Ok(other?),
    }
}

/// The input opened for its reader, with the scratch folder of a physical backup (it lives
/// until the end of the run) and what unpacking it did.
pub(crate) struct Prepared {
    pub opened: Opened,
    pub scratch: Option<Scratch>,
    pub unpacked: Option<String>,
}

impl Prepared {
    fn not_opened() -> Prepared {
        Prepared {
            opened: Opened::Unopened,
            scratch: None,
            unpacked: None,
        }
    }
}

/// Opens the input of `kind`; a physical backup is unpacked into a scratch folder first.
fn open(args: &ConvertArgs, kind: &InputKind, threads: usize) -> Result<Prepared> {
    let input = &args.input;
    let opened = match kind {
        InputKind::BsonFolder => Opened::Set(folder::scan(input)?),
        InputKind::BsonFile(_) => {
            let ns = single_file_namespace(input, args.ns.as_deref(), args.db.as_deref())?;
            Opened::Set(BsonSet::single_file(input, ns)?)
        }
        InputKind::MongodumpArchive(_) => Opened::Archive(Input::open(input)?),
        InputKind::BsonTar(_) => Opened::Tar(Input::open(input)?),
        InputKind::DataDirectory => Opened::DataDir(DataDir::open(input)?),
        InputKind::PhysicalTar(_) | InputKind::Xbstream(_) | InputKind::Qpress => {
            let s = Scratch::new(
                args.scratch.as_deref(),
                &args.out,
                args.keep_scratch,
                args.scratch_tag.as_deref(),
            );
            let report = physical::unpack_into(input, &s.path, threads, args.quiet)?;
            let unpacked = physical::describe_unpack(&report, &s.path, args.keep_scratch);
            let dir = DataDir::open(&physical::data_dir_root(&s.path))?;
            return Ok(Prepared {
                opened: Opened::DataDir(dir),
                scratch: Some(s),
                unpacked: Some(unpacked),
            });
        }
        InputKind::UnsupportedDataDirectory(why) => bail!("{}: {why}", input.display()),
    };
    Ok(Prepared {
        opened,
        scratch: None,
        unpacked: None,
    })
}

/// The exporter's settings from the command line.
pub(crate) fn export_options(
    args: &ConvertArgs,
    threads: usize,
    replica_set: Option<String>,
) -> Result<ExportOptions> {
    let mut options = ExportOptions::new(&args.out);
    options.mode = match args.format {
        Format::Canonical => Mode::Canonical,
        Format::Relaxed => Mode::Relaxed,
    };
    options.chunk_bytes = args.chunk_bytes;
    options.gzip_level = args.gzip_level;
    options.threads = threads;
    options.skip_corrupt = args.skip_corrupt;
    options.filter = namespace_filter(&args.include, &args.exclude)?;
    options.shard_name = args
        .shard_name
        .clone()
        .or(replica_set)
        .unwrap_or_else(|| DEFAULT_SHARD_NAME.to_string());
    Ok(options)
}

/// The folder that holds `path` (`.` for a bare name).
fn parent_or_here(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The filter of `--include` and `--exclude` patterns (with the built-in skip rules).
pub fn namespace_filter(include: &[String], exclude: &[String]) -> Result<NamespaceFilter> {
    let parse = |texts: &[String], flag: &str| -> Result<Vec<NamespacePattern>> {
        texts
            .iter()
            .map(|t| NamespacePattern::parse(t).with_context(|| format!("{flag} {t}")))
            .collect()
    };
    Ok(NamespaceFilter::with_patterns(
        parse(include, "--include")?,
        parse(exclude, "--exclude")?,
    ))
}

/// The namespace of a loose `.bson` file: `--ns`, else `--db` with the file name (without
/// `.bson`, `.bson.gz`, `.bson.zst`) as the collection.
pub fn single_file_namespace(path: &Path, ns: Option<&str>, db: Option<&str>) -> Result<Namespace> {
    if let Some(ns) = ns {
        return Ok(Namespace::parse(ns)?);
    }
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [".bson.gz", ".bson.zst", ".bson"]
        .iter()
        .find_map(|s| file.strip_suffix(s))
        .unwrap_or(&file);
    match db {
        Some(db) if !db.is_empty() && !stem.is_empty() => Ok(Namespace::new(db, stem)),
        _ => bail!(
            "{}: a single BSON file does not say which namespace it holds: pass --ns <db>.<collection>, or --db <db> to use `{stem}` as the collection",
            path.display()
        ),
    }
}

pub(crate) fn build_marker(args: &ConvertArgs, input_url: Option<&Url>) -> Result<CompleteMarker> {
    let m = &args.marker;
    let pairs = |items: &[String], flag: &str| -> Result<Vec<KeyValue>> {
        items
            .iter()
            .map(|t| KeyValue::parse(t).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
            .collect()
    };
    Ok(CompleteMarker {
        org_id: m.org_id.clone(),
        org_name: m.org_name.clone(),
        group_id: m.group_id.clone(),
        group_name: m.group_name.clone(),
        cluster_unique_id: m.cluster_id.clone(),
        cluster_name: m.cluster_name.clone().unwrap_or_else(|| match input_url {
            Some(url) => strip_archive_suffixes(&url.name()),
            None => default_cluster_name(&args.input),
        }),
        snapshot_initiation_date: m
            .snapshot_date
            .clone()
            .unwrap_or_else(|| iso_utc_millis(std::time::SystemTime::now())),
        labels: pairs(&m.label, "--label")?,
        custom_data: pairs(&m.custom_data, "--custom-data")?,
    })
}

/// The input's file name without its archive suffixes.
fn default_cluster_name(input: &Path) -> String {
    let name = input
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(input))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    strip_archive_suffixes(&name)
}

/// `hins1_data.ar.gz` → `hins1_data`.
fn strip_archive_suffixes(name: &str) -> String {
    let mut name = name;
    for suffix in [".gz", ".zst", ".tar", ".ar", ".xb", ".bson"] {
        name = name.strip_suffix(suffix).unwrap_or(name);
    }
    name.to_string()
}

/// `2020-04-03T05:50:29.321Z`.
fn iso_utc_millis(t: std::time::SystemTime) -> String {
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    bsonflow_ejson::iso_utc_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn marker_dates_come_from_system_time() {
        let t = UNIX_EPOCH + Duration::from_millis(1_585_893_029_321);
        assert_eq!(iso_utc_millis(t), "2020-04-03T05:50:29.321Z");
    }

    #[test]
    fn single_file_namespaces() {
        let p = Path::new("/x/orders.bson.gz");
        assert_eq!(
            single_file_namespace(p, None, Some("shop")).unwrap(),
            Namespace::new("shop", "orders")
        );
        assert_eq!(
            single_file_namespace(p, Some("a.b.c"), None).unwrap(),
            Namespace::new("a", "b.c")
        );
        let err = single_file_namespace(p, None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--ns") && err.contains("orders"), "{err}");
        assert!(single_file_namespace(p, Some("nodot"), None).is_err());
    }

    #[test]
    fn cluster_names_drop_archive_suffixes() {
        assert_eq!(
            default_cluster_name(Path::new("hins1111_data_20190710.ar.gz")),
            "hins1111_data_20190710"
        );
        assert_eq!(default_cluster_name(Path::new("backup.tar.zst")), "backup");
    }
}
