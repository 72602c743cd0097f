//! The commit's checks: the plan, every task's manifest and the listing of the export agree.

use std::collections::{BTreeMap, BTreeSet};

use bsonflow_export::{chunk_name, metadata_json, metadata_name, union_metadata};
use bsonflow_model::{CollectionMetadata, Namespace};

use crate::plan::{Manifest, ManifestCollection, Plan, Segment, TaskKind};

/// What the checks established: per collection, its chunk files and `metadata.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    /// By namespace.
    pub collections: BTreeMap<Namespace, VerifiedCollection>,
}

impl Verified {
    /// Data files over all collections (`.complete`'s `totalFiles`).
    pub fn total_files(&self) -> u64 {
        self.collections
            .values()
            .map(|c| c.files.len() as u64)
            .sum()
    }

    /// Every file of the export: data files and `metadata.json`s.
    pub fn file_names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for (ns, c) in &self.collections {
            out.extend(c.files.iter().cloned());
            out.insert(metadata_name(ns));
        }
        out
    }
}

/// One collection of a verified export.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifiedCollection {
    /// Chunk files, `0..n` in order per shard, shards in name order.
    pub files: Vec<String>,
    /// `metadata.json`'s bytes: the union over the shards holding the collection.
    pub metadata: String,
    /// Documents.
    pub documents: u64,
    /// Where the shards disagreed on the metadata, one sentence each.
    pub metadata_differences: Vec<String>,
}

/// Checks `manifests` (by task id) against `plan` and `listing` (every file under the
/// export's root with its size). Problems are listed one per line, each naming its task.
pub fn verify(
    plan: &Plan,
    manifests: &BTreeMap<usize, Manifest>,
    listing: &BTreeMap<String, u64>,
) -> Result<Verified, Vec<String>> {
    let mut problems = Vec::new();
    for t in plan.tasks.iter().filter(|t| !manifests.contains_key(&t.id)) {
        problems.push(format!(
            "task {} ({}) has not finished: no manifest under .bsonflow/tasks/",
            t.id, t.ns
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    // Per collection and shard, from the manifests: what each task (by id) wrote of it.
    let mut by_ns: BTreeMap<(&str, &str), Vec<(usize, &ManifestCollection)>> = BTreeMap::new();
    for task in &plan.tasks {
        let m = &manifests[&task.id];
        if m.task != task.id {
            problems.push(format!(
                "task {}: its manifest says task {}",
                task.id, m.task
            ));
            continue;
        }
        if task.kind != TaskKind::Input && m.segments != task.segments {
            problems.push(format!(
                "task {}: read other bytes than the plan gives it ({} against {})",
                task.id,
                describe(&m.segments),
                describe(&task.segments)
            ));
        }
        if task.kind != TaskKind::Input {
            let written: Vec<_> = m.collections.iter().filter(|c| c.ns == task.ns).collect();
            let others: Vec<_> = m.collections.iter().filter(|c| c.ns != task.ns).collect();
            if !others.is_empty() {
                problems.push(format!(
                    "task {}: wrote collections other than {}",
                    task.id, task.ns
                ));
            }
            let files: u64 = written.iter().map(|c| c.files.len() as u64).sum();
            if let Some(chunks) = task.chunks {
                if files != chunks {
                    problems.push(format!(
                        "task {}: wrote {files} chunk files, the plan says {chunks}",
                        task.id
                    ));
                }
            }
            if let Some(docs) = task.documents {
                let got: u64 = written.iter().map(|c| c.documents).sum();
                if got != docs {
                    problems.push(format!(
                        "task {}: wrote {got} documents, the plan counted {docs}",
                        task.id
                    ));
                }
            }
            if written.iter().any(|c| c.first_chunk != task.first_chunk) {
                problems.push(format!(
                    "task {}: its first chunk is not number {}",
                    task.id, task.first_chunk
                ));
            }
            if written.is_empty() {
                problems.push(format!("task {}: wrote nothing for {}", task.id, task.ns));
            }
            let shard = shard_of(plan, task.input);
            if let Some(c) = written.iter().find(|c| c.shard != shard) {
                problems.push(format!(
                    "task {}: named its files for shard {}, the plan says {shard}",
                    task.id, c.shard
                ));
            }
        }
        for c in &m.collections {
            by_ns
                .entry((c.ns.as_str(), c.shard.as_str()))
                .or_default()
                .push((task.id, c));
        }
    }
    // The ranges of each collection of each input chain exactly over its files.
    let mut ranges: BTreeMap<(&str, usize), Vec<TaskRange>> = BTreeMap::new();
    for t in plan.tasks.iter().filter(|t| t.kind == TaskKind::Range) {
        ranges
            .entry((t.ns.as_str(), t.input))
            .or_default()
            .push((t.id, &manifests[&t.id].segments));
    }
    for ((ns, _), mut parts) in ranges {
        parts.sort_by_key(|(id, _)| plan.tasks[*id].first_chunk);
        let mut at: Option<(String, u64, u64)> = None;
        let mut ids = Vec::new();
        for (id, segs) in &parts {
            ids.push(*id);
            for s in segs.iter() {
                let ok = match &at {
                    None => s.start == 0,
                    Some((file, end, size)) if *file == s.file => s.start == *end,
                    Some((_, end, size)) => end == size && s.start == 0,
                };
                if !ok {
                    problems.push(format!(
                        "{ns}: task {id}'s range {}:{}..{} does not start where the previous range ended (overlap or gap)",
                        s.file, s.start, s.end
                    ));
                }
                at = Some((s.file.clone(), s.end, s.size));
            }
        }
        if let Some((file, end, size)) = &at {
            if end != size {
                problems.push(format!(
                    "{ns}: the ranges end at byte {end} of {file}, before its end ({size})"
                ));
            }
        }
    }
    // Chunk numbers 0..n per collection and shard, every file present with its size.
    let mut out = Verified::default();
    let mut metadata: BTreeMap<Namespace, Vec<(String, String)>> = BTreeMap::new();
    for ((name, shard), mut parts) in by_ns {
        let Ok(ns) = Namespace::parse(name) else {
            problems.push(format!("{name}: not a namespace (db.collection)"));
            continue;
        };
        parts.sort_by_key(|(_, c)| c.first_chunk);
        let c = out.collections.entry(ns.clone()).or_default();
        let mut shard_metadata = String::new();
        let mut next = 0u64;
        for (id, written) in parts {
            let first = written.first_chunk;
            if first != next {
                problems.push(format!(
                    "{ns} (shard {shard}): task {id} starts at chunk {first}, the chunks before end at {next} (overlap or gap)"
                ));
            }
            next = first + written.files.len() as u64;
            for (i, file) in written.files.iter().enumerate() {
                let expected = chunk_name(&ns, &written.shard, first + i as u64);
                if file.name != expected {
                    problems.push(format!(
                        "task {id}: wrote {} where {expected} was due",
                        file.name
                    ));
                }
                match listing.get(&file.name) {
                    Some(size) if *size == file.bytes => {}
                    Some(size) => problems.push(format!(
                        "task {id}: {} holds {size} bytes, its manifest says {}",
                        file.name, file.bytes
                    )),
                    None => problems.push(format!("task {id}: {} is missing", file.name)),
                }
                c.files.push(file.name.clone());
            }
            c.documents += written.documents;
            if shard_metadata.is_empty() || first == 0 {
                shard_metadata = written.metadata.clone();
            }
        }
        metadata
            .entry(ns)
            .or_default()
            .push((shard.to_string(), shard_metadata));
    }
    // One metadata.json per collection: as written when one shard holds it, else the union.
    for (ns, mut shards) in metadata {
        let c = out.collections.get_mut(&ns).expect("entered above");
        if shards.len() == 1 {
            c.metadata = shards.remove(0).1;
            continue;
        }
        let mut parsed = Vec::new();
        for (shard, text) in &shards {
            match CollectionMetadata::from_metadata_file(text) {
                Ok(m) => parsed.push((shard.as_str(), m)),
                Err(e) => problems.push(format!(
                    "{ns} (shard {shard}): its metadata.json cannot be read back: {e}"
                )),
            }
        }
        let views: Vec<(&str, &CollectionMetadata)> = parsed.iter().map(|(s, m)| (*s, m)).collect();
        let (merged, differences) = union_metadata(&views);
        match metadata_json(&ns, &merged) {
            Ok(bytes) => c.metadata = String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => problems.push(e.to_string()),
        }
        c.metadata_differences = differences;
    }
    match problems.is_empty() {
        true => Ok(out),
        false => Err(problems),
    }
}

/// A range task's id and the segments it read.
type TaskRange<'a> = (usize, &'a [Segment]);

/// The shard name the plan gives input `input`'s files; `None` (named by the input at run
/// time) accepts any.
fn shard_of(plan: &Plan, input: usize) -> String {
    match plan.inputs.get(input) {
        Some(i) => i.shard.clone().unwrap_or_default(),
        None => plan.shard_name.clone(),
    }
}

fn describe(segs: &[Segment]) -> String {
    segs.iter()
        .map(|s| format!("{}:{}..{}", s.file, s.start, s.end))
        .collect::<Vec<_>>()
        .join(", ")
}
