//! `bsonflow plan`, `run-task`, `commit`: the scale-out contract's three commands, wired
//! from `convert`'s pieces. The plan's schema, the cutting and the checks are
//! `bsonflow-scaleout`'s.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bsonflow_cloud::{Remote, RemoteTarget, Service, Url};
use bsonflow_export::{
    chunk_name, metadata_name, Exporter, LocalFolder, Target, DEFAULT_SHARD_NAME, MARKER,
};
use bsonflow_model::{CollectionMetadata, CollectionWriter, DocumentSink, Progress, ReadReport};
use bsonflow_scaleout::{
    manifest_name, plan_set, read_task, verify, whole_input_task, Manifest, ManifestCollection,
    ManifestFile, Plan, PlanInput, TaskKind, PLAN_VERSION,
};
use bsonflow_sources::folder;
use clap::Parser;

use crate::cli::{Cli, Command, CommitArgs, ConvertArgs, InputSpec, PlanArgs, RunTaskArgs};
use crate::convert::{self, Opened, Prepared};
use crate::progress::Bar;
use crate::remote;
use crate::summary::{EXIT_FAILED, EXIT_OK};

/// `bsonflow plan`: prints the plan on stdout. Several inputs (the shards of one cluster,
/// named as `convert` names them) give tasks over every input.
pub fn plan(args: PlanArgs) -> Result<u8> {
    let PlanArgs {
        convert: all,
        target_bytes,
    } = args;
    let specs = all.input_specs().map_err(anyhow::Error::msg)?;
    let several = specs.len() > 1;
    let options = options_of(&specs);
    let out = absolute(&all.out, remote::url_of(&all.out)?.is_some())?;
    let threads = convert::thread_count(&all);
    let exporter_options = convert::export_options(&all, threads, None)?;
    let mut inputs = Vec::new();
    let mut tasks = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let mut c = all.for_input(spec, several.then(|| i.to_string()));
        let input_url = remote::url_of(&c.input)?;
        if let Some(url) = &input_url {
            if url.service == Service::Http {
                bail!(
                    "{}: a plan is read on other machines and must carry no credentials, and a presigned link's signature is one; give the object as s3:// or oss:// instead",
                    url.display()
                );
            }
        }
        let input = absolute(&c.input, input_url.is_some())?;
        // Scanned as the tasks will read it: file names in the plan are absolute.
        c.input = PathBuf::from(&input);
        let (kind, prepared) = convert::open_input(&c, input_url.as_ref(), threads, false)?;
        let physical = matches!(prepared.opened, Opened::Unopened);
        let shown = convert::shown_input(&c, input_url.as_ref());
        let shard = match (c.shard_name.clone(), physical, several) {
            (Some(name), _, _) => Some(name),
            (None, true, true) => None,
            (None, false, true) => return Err(convert::unnamed_logical(&shown, &kind)),
            (None, _, false) => Some(DEFAULT_SHARD_NAME.to_string()),
        };
        if let Some(name) = &shard {
            if let Some(other) = inputs
                .iter()
                .find(|p: &&PlanInput| p.shard.as_ref() == Some(name))
            {
                return Err(convert::shard_given_twice(name, &other.input, &shown));
            }
        }
        let mut mine = match &prepared.opened {
            Opened::Set(set) => plan_set(
                set,
                c.chunk_bytes,
                target_bytes,
                &|ns, meta: &CollectionMetadata| exporter_options.filter.check(ns, meta),
            )?,
            _ => vec![whole_input_task(0)],
        };
        eprintln!(
            "bsonflow: {shown} ({}): {} task(s)",
            kind.describe(),
            mine.len()
        );
        for t in &mut mine {
            t.id += tasks.len();
            t.input = i;
        }
        tasks.append(&mut mine);
        inputs.push(PlanInput { input, shard });
    }
    let plan = Plan {
        version: PLAN_VERSION,
        input: inputs[0].input.clone(),
        out,
        options,
        chunk_bytes: all.chunk_bytes,
        target_bytes,
        shard_name: inputs[0]
            .shard
            .clone()
            .unwrap_or_else(|| DEFAULT_SHARD_NAME.to_string()),
        inputs,
        tasks,
    };
    println!("{}", serde_json::to_string_pretty(&plan)?);
    Ok(EXIT_OK)
}

/// `bsonflow run-task PLAN --task K`.
pub fn run_task(args: RunTaskArgs) -> Result<u8> {
    let started = Instant::now();
    let plan = read_plan(&args.plan)?;
    let Some(task) = plan.tasks.get(args.task).cloned() else {
        bail!(
            "{}: the plan has tasks 0..{}, not {}",
            args.plan,
            plan.tasks.len(),
            args.task
        );
    };
    let mut c = convert_args(&plan, task.input)?;
    if args.threads.is_some() {
        c.threads = args.threads;
    }
    c.quiet |= args.quiet;
    let input_url = remote::url_of(&c.input)?;
    let target = shared_target(&c)?;
    // A stale marker never covers new files.
    target.delete(".complete")?;
    let threads = convert::thread_count(&c);
    let (_, prepared) = convert::open_input(&c, input_url.as_ref(), threads, true)?;
    let Prepared {
        opened,
        scratch,
        unpacked: _,
    } = prepared;
    let options = convert::export_options(&c, threads, convert::replica_set(&opened))?;
    let exporter = Exporter::with_target(options, Arc::clone(&target), false)?;
    let progress = Arc::new(Progress::new());
    let bar = Bar::start(&format!("task {}", task.id), Arc::clone(&progress), c.quiet);
    let (report, marks) = match (task.kind, opened) {
        (TaskKind::Input, opened) => {
            let read_options = convert::read_options(&c, remote::url_of(&c.out)?.is_some());
            (
                convert::read_opened(opened, &exporter, &progress, &read_options),
                (None, None),
            )
        }
        (_, Opened::Set(set)) => {
            let files = set
                .collections
                .iter()
                .find(|f| f.ns.to_string() == task.ns)
                .with_context(|| format!("the input has no collection {}", task.ns))?;
            let meta = match &files.metadata {
                Some(p) => folder::read_metadata(&*set.store, p)?,
                None => CollectionMetadata::default(),
            };
            let mut marks = (None, None);
            let opened = exporter
                .open_at(&files.ns, &meta, task.first_chunk)
                .map_err(|e| anyhow::anyhow!("{}: {e}", files.ns))?;
            if let Some(mut writer) = opened {
                match read_task(&set, &task, &mut writer, &progress) {
                    Ok(m) => {
                        marks = m;
                        if let Err(e) = writer.finish() {
                            exporter.fail(Some(&files.ns), failure(&e.to_string()));
                        }
                    }
                    Err(e) => {
                        drop(writer);
                        exporter.fail(Some(&files.ns), failure(&e.to_string()));
                    }
                }
            }
            let report = ReadReport {
                read_to_end: true,
                ..ReadReport::default()
            };
            (report, marks)
        }
        (kind, _) => bail!(
            "task {}: a {kind:?} task of an input that is not a BSON set",
            task.id
        ),
    };
    drop(bar);
    // The `<shard>` its files were named with (a data directory's replica set, when the
    // input names one).
    let shard = exporter.options().shard_name.clone();
    let out = exporter.finish_task(report)?;
    drop(scratch);
    let summary = &out.summary;
    let failures: Vec<String> = summary
        .failed
        .iter()
        .map(|(ns, f)| format!("{ns}: {f}"))
        .chain(summary.input_failures.iter().map(|f| f.to_string()))
        .collect();
    if !failures.is_empty() || !summary.read.read_to_end {
        for f in &failures {
            eprintln!("bsonflow: error: task {}: {f}", task.id);
        }
        eprintln!(
            "bsonflow: task {} failed; its manifest was not written",
            task.id
        );
        return Ok(EXIT_FAILED);
    }
    let listing: BTreeMap<String, u64> = target.list()?.into_iter().collect();
    let metadata: BTreeMap<String, Vec<u8>> = out
        .metadata
        .iter()
        .map(|(ns, m)| (ns.to_string(), m.clone()))
        .collect();
    let mut collections = Vec::new();
    for cs in &summary.collections {
        let ns = cs
            .ns
            .as_ref()
            .expect("a written collection has its namespace");
        let first = match task.kind {
            TaskKind::Input => 0,
            _ => task.first_chunk,
        };
        let files = (first..first + cs.files)
            .map(|n| {
                let name = chunk_name(ns, &shard, n);
                let bytes = listing.get(&name).copied().unwrap_or(0);
                ManifestFile { name, bytes }
            })
            .collect();
        collections.push(ManifestCollection {
            ns: ns.to_string(),
            first_chunk: first,
            shard: shard.clone(),
            files,
            documents: cs.documents,
            bson_bytes: cs.bson_bytes,
            metadata: String::from_utf8_lossy(&metadata[&ns.to_string()]).into_owned(),
        });
    }
    let manifest = Manifest {
        version: PLAN_VERSION,
        task: task.id,
        segments: task.segments.clone(),
        first_document: marks.0,
        last_document: marks.1,
        collections,
    };
    target.put(
        &manifest_name(task.id),
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    eprintln!(
        "bsonflow: task {} ({}): {} documents, {} files, {:.2} s",
        task.id,
        task.ns,
        summary.documents(),
        summary.total_files,
        started.elapsed().as_secs_f64()
    );
    Ok(EXIT_OK)
}

fn failure(message: &str) -> bsonflow_model::Failure {
    bsonflow_model::Failure::new(bsonflow_model::FailureKind::Corrupt, message.to_string())
}

/// `bsonflow commit PLAN`.
pub fn commit(args: CommitArgs) -> Result<u8> {
    let plan = read_plan(&args.plan)?;
    let c = convert_args(&plan, 0)?;
    let target = shared_target(&c)?;
    let listing: BTreeMap<String, u64> = target.list()?.into_iter().collect();
    let mut manifests = BTreeMap::new();
    let mut unreadable = Vec::new();
    for t in &plan.tasks {
        if let Some(bytes) = target.get(&manifest_name(t.id))? {
            match serde_json::from_slice::<Manifest>(&bytes) {
                Ok(m) => {
                    manifests.insert(t.id, m);
                }
                Err(e) => {
                    unreadable.push(format!("task {}: its manifest cannot be read: {e}", t.id))
                }
            }
        }
    }
    if manifests.is_empty() && unreadable.is_empty() && listing.contains_key(".complete") {
        return already_committed(&*target, &listing);
    }
    let verified = match (unreadable.is_empty(), verify(&plan, &manifests, &listing)) {
        (true, Ok(v)) => v,
        (_, result) => {
            let mut problems = unreadable;
            if let Err(p) = result {
                problems.extend(p);
            }
            for p in &problems {
                eprintln!("bsonflow: commit: {p}");
            }
            eprintln!("bsonflow: commit refused: nothing was written or deleted, no .complete");
            return Ok(EXIT_FAILED);
        }
    };
    for (ns, coll) in &verified.collections {
        target.put(&metadata_name(ns), coll.metadata.as_bytes())?;
        for d in &coll.metadata_differences {
            println!("bsonflow: commit: shards differ: {ns}: {d} (metadata.json holds the union)");
        }
    }
    for t in &plan.tasks {
        target.delete(&manifest_name(t.id))?;
    }
    target.put(MARKER, bsonflow_export::marker_contents().as_bytes())?;
    let mut keep = verified.file_names();
    keep.insert(MARKER.to_string());
    target.remove_others(&keep)?;
    let input_url = remote::url_of(&c.input)?;
    let marker = convert::build_marker(&c, input_url.as_ref())?;
    target.put_complete(marker.to_json(verified.total_files()).as_bytes())?;
    println!(
        "bsonflow: committed {}: {} tasks, {} collections, {} documents, {} files; .complete written",
        target.describe(),
        plan.tasks.len(),
        verified.collections.len(),
        verified.collections.values().map(|c| c.documents).sum::<u64>(),
        verified.total_files()
    );
    Ok(EXIT_OK)
}

/// A second commit: `.complete` is there and the manifests are gone. Checks that the
/// marker's `totalFiles` matches the data files present, and changes nothing.
fn already_committed(target: &dyn Target, listing: &BTreeMap<String, u64>) -> Result<u8> {
    let bytes = target.get(".complete")?.unwrap_or_default();
    let marker: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}/.complete cannot be read", target.describe()))?;
    let files = listing.keys().filter(|k| k.ends_with(".json.gz")).count() as u64;
    if marker["totalFiles"].as_u64() != Some(files) {
        eprintln!(
            "bsonflow: commit: {}/.complete says {} files, {files} are there",
            target.describe(),
            marker["totalFiles"]
        );
        return Ok(EXIT_FAILED);
    }
    println!(
        "bsonflow: {} was committed already ({files} files); nothing changed",
        target.describe()
    );
    Ok(EXIT_OK)
}

/// `convert`'s options as `plan` was given them, without the inputs (positional and
/// `--shard`), `--shard-name`, `--out` and `--target-bytes`: the plan names each input and
/// its shard itself.
fn options_of(specs: &[InputSpec]) -> Vec<String> {
    // Everything after the `plan` subcommand (global options such as -v may precede it).
    let raw: Vec<String> = std::env::args()
        .skip(1)
        .skip_while(|a| a != "plan")
        .skip(1)
        .collect();
    let positional: Vec<String> = specs
        .iter()
        .filter(|s| s.shard.is_none())
        .map(|s| s.path.to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    let mut seen = 0;
    let mut i = 0;
    while i < raw.len() {
        let a = &raw[i];
        if ["--out", "-o", "--target-bytes", "--shard", "--shard-name"].contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if ["--out=", "--target-bytes=", "--shard=", "--shard-name="]
            .iter()
            .any(|p| a.starts_with(p))
        {
            i += 1;
            continue;
        }
        if seen < positional.len() && *a == positional[seen] {
            seen += 1;
            i += 1;
            continue;
        }
        out.push(a.clone());
        i += 1;
    }
    out
}

/// The path as an absolute one (local), or the URL as it is.
fn absolute(p: &Path, is_url: bool) -> Result<String> {
    if is_url {
        return Ok(p.to_string_lossy().into_owned());
    }
    let abs: PathBuf = match p.is_absolute() {
        true => p.to_path_buf(),
        false => std::env::current_dir()?.join(p),
    };
    Ok(abs.to_string_lossy().into_owned())
}

/// `convert`'s arguments from the plan, for its input `input`.
fn convert_args(plan: &Plan, input: usize) -> Result<ConvertArgs> {
    if plan.version != PLAN_VERSION {
        bail!(
            "a plan of version {}; this bsonflow reads version {PLAN_VERSION}",
            plan.version
        );
    }
    let Some(one) = plan.inputs.get(input) else {
        bail!("the plan has inputs 0..{}, not {input}", plan.inputs.len());
    };
    let mut argv = vec![
        "bsonflow".to_string(),
        "convert".to_string(),
        one.input.clone(),
        "--out".to_string(),
        plan.out.clone(),
    ];
    if let Some(shard) = &one.shard {
        argv.extend(["--shard-name".to_string(), shard.clone()]);
    }
    argv.extend(plan.options.iter().cloned());
    match Cli::try_parse_from(&argv) {
        Ok(Cli {
            command: Command::Convert(c),
            ..
        }) => c.single_input("a plan").map_err(anyhow::Error::msg),
        Ok(_) => bail!("the plan's options are not convert's"),
        Err(e) => bail!("the plan's options cannot be read: {e}"),
    }
}

/// The plan at `place` (a path, or an s3:// / oss:// URL).
fn read_plan(place: &str) -> Result<Plan> {
    let text = match Url::parse(place)? {
        None => std::fs::read_to_string(place).with_context(|| place.to_string())?,
        Some(url) => {
            let remote = Remote::connect(&url, &Default::default())?;
            let key = url.path();
            let size = remote
                .probe(&key)?
                .with_context(|| format!("{}: no such object", url.display()))?;
            let mut text = String::new();
            remote.reader(&key, size).read_to_string(&mut text)?;
            text
        }
    };
    serde_json::from_str(&text).with_context(|| format!("{place}: not a bsonflow plan"))
}

/// The export's root for a task or a commit: shared, not claimed (tasks write side by side).
fn shared_target(c: &ConvertArgs) -> Result<Arc<dyn Target>> {
    Ok(match remote::url_of(&c.out)? {
        None => Arc::new(LocalFolder::shared(&c.out)?),
        Some(url) => {
            let remote = Remote::connect(&url, &remote::connect_options(&c.storage)?)?;
            Arc::new(RemoteTarget::shared(remote))
        }
    })
}
