//! Reading an export's listing back: which file each name is ([`LayoutFile`]), and the
//! checks a finished export must pass from its names and sizes alone ([`check_listing`]):
//! chunk numbers per collection and shard run `0..n` without a gap, every collection has a
//! `metadata.json`, `.complete` is there, and nothing temporary or foreign is left.

use std::collections::BTreeMap;

use bsonflow_model::Namespace;

use crate::output::MARKER;
use crate::target::is_manifest_name;

/// What a file of an export is, by its name relative to the export's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayoutFile {
    /// `.complete`.
    Complete,
    /// The bsonflow marker ([`MARKER`]).
    Marker,
    /// `<db>/<coll>/<shard>.<n>.json.gz`.
    Chunk {
        /// The collection.
        ns: Namespace,
        /// `<shard>`.
        shard: String,
        /// `<n>`.
        n: u64,
    },
    /// `<db>/<coll>/metadata.json`.
    Metadata {
        /// The collection.
        ns: Namespace,
    },
    /// `.<name>.partial`: a file whose write was interrupted.
    Temporary,
    /// `.bsonflow/tasks/<K>.json`: a scale-out task's manifest (the plan was not committed).
    Manifest,
    /// Anything else: not a name the export layout uses.
    Foreign,
}

impl LayoutFile {
    /// Tells what `rel` (`/`-separated, relative to the export's root) is.
    pub fn of(rel: &str) -> LayoutFile {
        let parts: Vec<&str> = rel.split('/').collect();
        let partial = |name: &str| name.starts_with('.') && name.ends_with(".partial");
        match parts.as_slice() {
            [".complete"] => LayoutFile::Complete,
            [name] if *name == MARKER => LayoutFile::Marker,
            [name] if partial(name) => LayoutFile::Temporary,
            [".bsonflow", "tasks", name] if is_manifest_name(name) => LayoutFile::Manifest,
            [db, coll, name] if !db.is_empty() && !coll.is_empty() => {
                let ns = Namespace::new(*db, *coll);
                if *name == "metadata.json" {
                    return LayoutFile::Metadata { ns };
                }
                if partial(name) {
                    return LayoutFile::Temporary;
                }
                match parse_chunk_name(name) {
                    Some((shard, n)) => LayoutFile::Chunk {
                        ns,
                        shard: shard.to_string(),
                        n,
                    },
                    None => LayoutFile::Foreign,
                }
            }
            _ => LayoutFile::Foreign,
        }
    }
}

/// `<shard>.<n>.json.gz` → (`<shard>`, `n`); `n` in decimal without leading zeros, as the
/// writer names chunks ([`chunk_name`](crate::chunk_name)).
fn parse_chunk_name(name: &str) -> Option<(&str, u64)> {
    let stem = name.strip_suffix(".json.gz")?;
    let (shard, n) = stem.rsplit_once('.')?;
    let canonical =
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'));
    if shard.is_empty() || !canonical {
        return None;
    }
    Some((shard, n.parse().ok()?))
}

/// A problem found in an export, with the file it concerns (relative to the export's root)
/// and the 1-based line of that file when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayoutProblem {
    /// The file, relative to the export's root.
    pub file: String,
    /// The line of `file` (a chunk's decompressed text), 1-based.
    pub line: Option<u64>,
    /// What is wrong.
    pub message: String,
}

impl LayoutProblem {
    /// A problem of `file` as a whole.
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        LayoutProblem {
            file: file.into(),
            line: None,
            message: message.into(),
        }
    }

    /// A problem at `line` of `file`.
    pub fn at_line(file: impl Into<String>, line: u64, message: impl Into<String>) -> Self {
        LayoutProblem {
            file: file.into(),
            line: Some(line),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for LayoutProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{} line {line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// One chunk file as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedChunk {
    /// Its number `n`.
    pub n: u64,
    /// Its name relative to the export's root.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
}

/// One collection of a listing: its chunks by shard (each in number order) and whether it
/// has a `metadata.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListedCollection {
    /// Chunk files by `<shard>`, in number order.
    pub shards: BTreeMap<String, Vec<ListedChunk>>,
    /// `<db>/<coll>/metadata.json`, when present.
    pub metadata: Option<String>,
}

impl ListedCollection {
    /// The chunk files in reading order: shard by shard (by name), each `0..n`.
    pub fn chunks(&self) -> impl Iterator<Item = &ListedChunk> {
        self.shards.values().flatten()
    }
}

/// An export's listing, sorted into collections, with what is wrong with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// By namespace.
    pub collections: BTreeMap<Namespace, ListedCollection>,
    /// `.complete`'s size, when present.
    pub complete: Option<u64>,
    /// Problems of names: gaps, missing files, temporary or foreign files.
    pub problems: Vec<LayoutProblem>,
}

impl Listing {
    /// The same listing with only shard `shard`'s chunk files (every collection is kept,
    /// with no chunk where that shard wrote none).
    pub fn of_shard(&self, shard: &str) -> Listing {
        let mut mine = self.clone();
        for c in mine.collections.values_mut() {
            c.shards.retain(|name, _| name == shard);
        }
        mine
    }

    /// Data files (chunks) present: what `.complete`'s `totalFiles` must say.
    pub fn data_files(&self) -> u64 {
        self.collections
            .values()
            .map(|c| c.chunks().count() as u64)
            .sum()
    }
}

/// Sorts `listing` (every file under the export's root with its size) into collections and
/// checks what names alone tell: chunk numbers per collection and shard run `0..n` without
/// a gap, every collection has a `metadata.json`, `.complete` is present, and there is no
/// temporary, manifest or foreign file.
pub fn check_listing(listing: &[(String, u64)]) -> Listing {
    let mut out = Listing::default();
    for (rel, size) in listing {
        match LayoutFile::of(rel) {
            LayoutFile::Complete => out.complete = Some(*size),
            LayoutFile::Marker => {}
            LayoutFile::Chunk { ns, shard, n } => out
                .collections
                .entry(ns)
                .or_default()
                .shards
                .entry(shard)
                .or_default()
                .push(ListedChunk {
                    n,
                    file: rel.clone(),
                    size: *size,
                }),
            LayoutFile::Metadata { ns } => {
                out.collections.entry(ns).or_default().metadata = Some(rel.clone())
            }
            LayoutFile::Temporary => out.problems.push(LayoutProblem::new(
                rel,
                "a temporary file: a write was interrupted (the export was not finished cleanly)",
            )),
            LayoutFile::Manifest => out.problems.push(LayoutProblem::new(
                rel,
                "a scale-out task's manifest: the plan was not committed (`bsonflow commit`)",
            )),
            LayoutFile::Foreign => out
                .problems
                .push(LayoutProblem::new(rel, "not a file of the export layout")),
        }
    }
    if out.complete.is_none() {
        out.problems.push(LayoutProblem::new(
            ".complete",
            "missing: the export was not finished (or its marker was removed)",
        ));
    }
    for (ns, c) in &mut out.collections {
        if c.metadata.is_none() {
            out.problems.push(LayoutProblem::new(
                crate::metadata_name(ns),
                "missing: every collection of an export has a metadata.json",
            ));
        }
        for (shard, chunks) in &mut c.shards {
            chunks.sort_by_key(|ch| ch.n);
            let mut next = 0u64;
            for ch in chunks.iter() {
                if ch.n != next {
                    let missing = match ch.n - next {
                        1 => format!("chunk {next} is missing"),
                        _ => format!("chunks {next}..={} are missing", ch.n - 1),
                    };
                    let before = match next {
                        0 => "it is the first chunk of the shard".to_string(),
                        _ => format!("the previous chunk is {shard}.{}.json.gz", next - 1),
                    };
                    out.problems.push(LayoutProblem::new(
                        &ch.file,
                        format!(
                            "out of sequence: chunk numbers run from 0 without a gap, but {before} ({missing}: {})",
                            crate::chunk_name(ns, shard, next)
                        ),
                    ));
                }
                next = ch.n + 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(names: &[&str]) -> Vec<(String, u64)> {
        names.iter().map(|n| (n.to_string(), 10)).collect()
    }

    #[test]
    fn names_are_told_apart() {
        let ns = Namespace::new("shop", "a.b");
        assert_eq!(
            LayoutFile::of("shop/a.b/atlas-x.shard-0.12.json.gz"),
            LayoutFile::Chunk {
                ns: ns.clone(),
                shard: "atlas-x.shard-0".into(),
                n: 12
            }
        );
        assert_eq!(
            LayoutFile::of("shop/a.b/metadata.json"),
            LayoutFile::Metadata { ns }
        );
        assert_eq!(LayoutFile::of(".complete"), LayoutFile::Complete);
        assert_eq!(LayoutFile::of(MARKER), LayoutFile::Marker);
        assert_eq!(
            LayoutFile::of("shop/a/.rs0.1.json.gz.partial"),
            LayoutFile::Temporary
        );
        assert_eq!(
            LayoutFile::of(".bsonflow/tasks/3.json"),
            LayoutFile::Manifest
        );
        for foreign in [
            "notes.txt",
            "shop/a/rs0.01.json.gz",
            "shop/a/rs0.x.json.gz",
            "shop/a/.0.json.gz",
            "shop/a/b/c.json.gz",
            "shop/a.bson",
        ] {
            assert_eq!(LayoutFile::of(foreign), LayoutFile::Foreign, "{foreign}");
        }
    }

    #[test]
    fn a_whole_listing_has_no_problem() {
        let l = check_listing(&listing(&[
            ".bsonflow-export",
            ".complete",
            "shop/a/rs0.0.json.gz",
            "shop/a/rs0.1.json.gz",
            "shop/a/metadata.json",
            "shop/empty/metadata.json",
        ]));
        assert_eq!(l.problems, []);
        assert_eq!(l.data_files(), 2);
        assert_eq!(l.collections.len(), 2);
    }

    #[test]
    fn gaps_missing_files_and_strays_are_named() {
        let l = check_listing(&listing(&[
            "shop/a/rs0.0.json.gz",
            "shop/a/rs0.2.json.gz",
            "shop/a/rs0.7.json.gz",
            "shop/b/rs0.1.json.gz",
            "shop/b/metadata.json",
            "shop/a/.rs0.3.json.gz.partial",
            "stray.txt",
        ]));
        let text: Vec<String> = l.problems.iter().map(|p| p.to_string()).collect();
        let has = |file: &str, words: &str| {
            assert!(
                l.problems
                    .iter()
                    .any(|p| p.file == file && p.message.contains(words)),
                "{file} / {words}: {text:#?}"
            )
        };
        has(".complete", "missing");
        has("shop/a/metadata.json", "missing");
        has("shop/a/rs0.2.json.gz", "chunk 1 is missing");
        has("shop/a/rs0.7.json.gz", "chunks 3..=6 are missing");
        has("shop/b/rs0.1.json.gz", "first chunk");
        has("shop/a/.rs0.3.json.gz.partial", "temporary");
        has("stray.txt", "not a file of the export layout");
        assert_eq!(l.problems.len(), 7, "{text:#?}");
    }
}
