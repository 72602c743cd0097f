//! Test helpers shared by bsonflow's crates (a dev-dependency only).
//!
//! - [`shared`]: a path under the project's sibling folder `../shared` (test data nobody on
//!   the project wrote). When the folder is absent — a user's fresh clone — the test prints
//!   why it is skipped and returns `None`; with `BSONFLOW_REQUIRE_SHARED=1` (set by `.ci/run`)
//!   it fails instead.
//! - [`python`]: a Python interpreter that can import the given modules (pymongo's `bson`,
//!   `zstandard`, `quicklz` …), with the same skip-or-fail rule, and [`run_python`] to run a
//!   generator script.
//! - [`MemorySink`]: a [`DocumentSink`] that keeps every document in memory, for testing
//!   readers without the export writer.
//! - [`s3`]: a real S3 server (`s3s-fs`) per test, with its request log.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

pub mod s3;

use bsonflow_model::{
    CollectionMetadata, CollectionWriter, DocumentSink, Failure, Namespace, NamespaceFilter,
    SinkError, SkipReason,
};

/// The workspace root (the folder that holds `crates/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testkit sits two levels below the workspace root")
        .to_path_buf()
}

/// True when CI demands every optional input (`BSONFLOW_REQUIRE_SHARED=1`).
pub fn required() -> bool {
    std::env::var("BSONFLOW_REQUIRE_SHARED").is_ok_and(|v| v == "1")
}

/// Skips (prints the reason, returns `None`) or, under `BSONFLOW_REQUIRE_SHARED=1`, fails.
pub fn skip<T>(why: &str) -> Option<T> {
    if required() {
        panic!("BSONFLOW_REQUIRE_SHARED=1 but {why}");
    }
    // Written to the stderr handle directly, not through `eprintln!`, which the test
    // harness captures: a skip must be visible in a normal `cargo test` run.
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
    None
}

/// The `../shared` folder next to the workspace (or `$BSONFLOW_SHARED`).
pub fn shared_root() -> Option<PathBuf> {
    let root = std::env::var_os("BSONFLOW_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    if root.join("testdata").is_dir() {
        Some(root)
    } else {
        skip(&format!(
            "the shared test data is not at {} (a fresh clone has no ../shared)",
            root.display()
        ))
    }
}

/// `../shared/<rel>`, which must exist when the shared folder does.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let path = shared_root()?.join(rel);
    assert!(
        path.exists(),
        "{} is missing from the shared folder",
        path.display()
    );
    Some(path)
}

/// A `python3` that can import every module in `modules`; skips or fails otherwise.
pub fn python(modules: &[&str]) -> Option<PathBuf> {
    let exe = std::env::var_os("PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let imports = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let ok = Command::new(&exe)
        .args(["-c", &imports])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(exe)
    } else {
        skip(&format!(
            "python3 cannot import {modules:?} (pip install pymongo zstandard pyquicklz jsonschema duckdb==2.0.1)"
        ))
    }
}

/// Runs `script` with `args` under `python`; panics with its stderr when it fails.
pub fn run_python(python: &Path, script: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One collection as a [`MemorySink`] received it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryCollection {
    /// The metadata [`open`](DocumentSink::open) was given, replaced by the last
    /// [`update_metadata`](DocumentSink::update_metadata) for the namespace, if any.
    pub metadata: CollectionMetadata,
    /// The raw documents, in the order they were written.
    pub documents: Vec<Vec<u8>>,
    /// (origin, offset) of each document.
    pub positions: Vec<(String, u64)>,
    /// Corrupt spans reported by the reader: (origin, offset, detail).
    pub corrupt: Vec<(String, u64, String)>,
    /// Set by [`finish`](CollectionWriter::finish). A writer dropped unfinished leaves no
    /// collection behind, so every collection the sink returns has it `true`.
    pub finished: bool,
}

/// A [`DocumentSink`] that keeps everything in memory. It applies the built-in
/// [`NamespaceFilter`] and accepts corrupt spans only when built with `skip_corrupt`.
#[derive(Debug, Default)]
pub struct MemorySink {
    /// When true, [`corrupt`](CollectionWriter::corrupt) spans are recorded in the
    /// collection's `corrupt` and accepted; when false, the first one is an error naming the
    /// namespace, origin and offset.
    pub skip_corrupt: bool,
    filter: NamespaceFilter,
    collections: Mutex<BTreeMap<Namespace, MemoryCollection>>,
    late_metadata: Mutex<BTreeMap<Namespace, CollectionMetadata>>,
    skipped: Mutex<Vec<(Namespace, SkipReason)>>,
    failures: Mutex<Vec<(Option<Namespace>, Failure)>>,
}

impl MemorySink {
    /// A sink with the built-in filter that fails a collection on its first corrupt span.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink with the built-in filter that records corrupt spans and goes on, as the
    /// export writer does with `skip_corrupt` set in its options.
    pub fn skipping_corrupt() -> Self {
        MemorySink {
            skip_corrupt: true,
            ..Self::default()
        }
    }

    /// Every collection received, by namespace.
    pub fn collections(&self) -> BTreeMap<Namespace, MemoryCollection> {
        let mut all = self.collections.lock().unwrap().clone();
        for (ns, meta) in self.late_metadata.lock().unwrap().iter() {
            if let Some(c) = all.get_mut(ns) {
                c.metadata = meta.clone();
            }
        }
        all
    }

    /// The collection `db.coll`; panics when it was never opened.
    pub fn collection(&self, full_name: &str) -> MemoryCollection {
        let ns = Namespace::parse(full_name).unwrap();
        self.collections()
            .remove(&ns)
            .unwrap_or_else(|| panic!("{full_name} was not exported"))
    }

    /// The namespaces the filter declined, with the reason.
    pub fn skipped(&self) -> Vec<(Namespace, SkipReason)> {
        self.skipped.lock().unwrap().clone()
    }

    /// The failures readers reported through [`DocumentSink::fail`], in order.
    pub fn failures(&self) -> Vec<(Option<Namespace>, Failure)> {
        self.failures.lock().unwrap().clone()
    }

    /// The failures' messages, one string, for assertions and test output.
    pub fn failure_text(&self) -> String {
        self.failures()
            .iter()
            .map(|(_, f)| f.message.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The writer half of [`MemorySink`].
pub struct MemoryWriter<'a> {
    sink: &'a MemorySink,
    ns: Namespace,
    origin: String,
    current: MemoryCollection,
}

impl DocumentSink for MemorySink {
    type Writer<'s> = MemoryWriter<'s>;

    fn wants(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        self.filter.check(ns, meta)
    }

    fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        self.failures.lock().unwrap().push((ns.cloned(), failure));
    }

    fn open(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<Self::Writer<'_>>, SinkError> {
        if let Err(reason) = self.filter.check(ns, meta) {
            self.skipped.lock().unwrap().push((ns.clone(), reason));
            return Ok(None);
        }
        if self.collections.lock().unwrap().contains_key(ns) {
            return Err(format!("{ns} opened twice").into());
        }
        Ok(Some(MemoryWriter {
            sink: self,
            ns: ns.clone(),
            origin: String::new(),
            current: MemoryCollection {
                metadata: meta.clone(),
                ..Default::default()
            },
        }))
    }

    fn update_metadata(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SinkError> {
        self.late_metadata
            .lock()
            .unwrap()
            .insert(ns.clone(), meta.clone());
        Ok(())
    }
}

impl CollectionWriter for MemoryWriter<'_> {
    fn set_origin(&mut self, origin: &str) {
        self.origin = origin.to_string();
    }

    fn write_document(&mut self, doc: &[u8], offset: u64) -> Result<(), SinkError> {
        self.current.documents.push(doc.to_vec());
        self.current.positions.push((self.origin.clone(), offset));
        Ok(())
    }

    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError> {
        if self.sink.skip_corrupt {
            self.current
                .corrupt
                .push((self.origin.clone(), offset, detail.to_string()));
            Ok(())
        } else {
            Err(format!("{}: {} at byte {offset}: {detail}", self.ns, self.origin).into())
        }
    }

    fn finish(mut self) -> Result<(), SinkError> {
        self.current.finished = true;
        self.sink
            .collections
            .lock()
            .unwrap()
            .insert(self.ns.clone(), self.current);
        Ok(())
    }
}

/// Whether two Extended JSON texts say the same thing: same structure, keys in the same
/// order, same strings — except that a double (`{"$numberDouble": "…"}` or a bare relaxed
/// number with a fraction or exponent) may be spelled differently if it parses to the same
/// value (NaN equals NaN, the sign of zero counts) and `actual` keeps a fraction or exponent.
/// Returns a description of the first difference.
pub fn ejson_difference(actual: &str, expected: &str) -> Option<String> {
    let a: serde_json::Value = match serde_json::from_str(actual) {
        Ok(v) => v,
        Err(e) => return Some(format!("actual is not JSON ({e}): {actual}")),
    };
    let e: serde_json::Value = match serde_json::from_str(expected) {
        Ok(v) => v,
        Err(err) => return Some(format!("expected is not JSON ({err}): {expected}")),
    };
    value_difference(&a, &e, "$")
}

fn double_text_ok(text: &str) -> bool {
    text.contains(['.', 'e', 'E']) || matches!(text, "NaN" | "Infinity" | "-Infinity")
}

fn same_double(a: &str, b: &str) -> bool {
    let parse = |s: &str| match s {
        "NaN" | "-NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        s => s.parse::<f64>().ok(),
    };
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => {
            (x.is_nan() && y.is_nan()) || (x == y && x.is_sign_negative() == y.is_sign_negative())
        }
        _ => false,
    }
}

fn value_difference(a: &serde_json::Value, e: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value as V;
    match (a, e) {
        (V::Object(am), V::Object(em)) => {
            if let (Some(V::String(x)), Some(V::String(y)), 1, 1) = (
                am.get("$numberDouble"),
                em.get("$numberDouble"),
                am.len(),
                em.len(),
            ) {
                return if same_double(x, y) && double_text_ok(x) {
                    None
                } else {
                    Some(format!("{at}: double {x} vs expected {y}"))
                };
            }
            let ak: Vec<_> = am.keys().collect();
            let ek: Vec<_> = em.keys().collect();
            if ak != ek {
                return Some(format!("{at}: keys {ak:?} vs expected {ek:?}"));
            }
            am.iter()
                .zip(em.values())
                .find_map(|((k, av), ev)| value_difference(av, ev, &format!("{at}.{k}")))
        }
        (V::Array(aa), V::Array(ea)) => {
            if aa.len() != ea.len() {
                return Some(format!("{at}: {} items vs expected {}", aa.len(), ea.len()));
            }
            aa.iter()
                .zip(ea)
                .enumerate()
                .find_map(|(i, (av, ev))| value_difference(av, ev, &format!("{at}[{i}]")))
        }
        (V::Number(x), V::Number(y)) if x.is_f64() || y.is_f64() => {
            let (xs, ys) = (x.to_string(), y.to_string());
            if x.is_f64() && y.is_f64() && same_double(&xs, &ys) {
                None
            } else {
                Some(format!("{at}: number {xs} vs expected {ys}"))
            }
        }
        _ if a == e => None,
        _ => Some(format!("{at}: {a} vs expected {e}")),
    }
}

/// Every regular file under `dir`, by its path relative to `dir` (components joined with
/// `/`), with its bytes.
pub fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The lines of every `<shard>.<n>.json.gz` in `dir`, in chunk order (`n` numerically).
pub fn read_chunks(dir: &Path) -> Vec<String> {
    read_chunks_of(dir, None)
}

/// The `_id` of each Extended JSON line, an int32 (`{"$numberInt": "…"}`) in canonical form.
pub fn int_ids(lines: &[String]) -> Vec<i64> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["_id"]["$numberInt"].as_str().unwrap().parse().unwrap()
        })
        .collect()
}

/// [`read_chunks`] of one shard's files only (`<shard>.<n>.json.gz`); no file of that shard
/// gives no lines.
pub fn read_shard_chunks(dir: &Path, shard: &str) -> Vec<String> {
    read_chunks_of(dir, Some(shard))
}

fn read_chunks_of(dir: &Path, shard: Option<&str>) -> Vec<String> {
    use std::io::Read;
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let (of, n) = name.strip_suffix(".json.gz")?.rsplit_once('.')?;
            if shard.is_some_and(|s| s != of) {
                return None;
            }
            Some((n.parse().ok()?, p))
        })
        .collect();
    files.sort();
    for (i, (n, _)) in files.iter().enumerate() {
        assert_eq!(
            *n,
            i as u64,
            "chunk numbers in {} are not 0, 1, 2…",
            dir.display()
        );
    }
    let mut lines = Vec::new();
    for (_, p) in files {
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap())
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{}: the last line has no newline",
            p.display()
        );
        lines.extend(text.lines().map(str::to_string));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ejson_comparison_allows_double_spellings_only() {
        assert_eq!(
            ejson_difference(
                r#"{"a":{"$numberDouble":"1E+06"}}"#,
                r#"{"a": {"$numberDouble": "1000000.0"}}"#
            ),
            None
        );
        assert!(ejson_difference(
            r#"{"a":{"$numberDouble":"1"}}"#,
            r#"{"a":{"$numberDouble":"1.0"}}"#
        )
        .is_some());
        assert!(ejson_difference(
            r#"{"a":{"$numberDouble":"-0.0"}}"#,
            r#"{"a":{"$numberDouble":"0.0"}}"#
        )
        .is_some());
        assert_eq!(ejson_difference(r#"{"a":1.5e3}"#, r#"{"a":1500.0}"#), None);
        assert!(ejson_difference(r#"{"a":1500}"#, r#"{"a":1500.0}"#).is_some());
        assert!(ejson_difference(r#"{"b":1,"a":2}"#, r#"{"a":2,"b":1}"#).is_some());
        assert!(ejson_difference(r#"{"a":"x"}"#, r#"{"a":"y"}"#).is_some());
        assert_eq!(
            ejson_difference(
                r#"{"a":[1,{"$numberDouble":"NaN"}]}"#,
                r#"{"a":[1,{"$numberDouble":"NaN"}]}"#
            ),
            None
        );
    }
}
