//! A look at a logical input without converting it: `bsonflow inspect`'s reading.
//!
//! A survey runs the same reader `convert` runs ([`BsonSet::read_into`],
//! [`tar_set::read_into`],
//! [`mongodump_archive::read_into`]) into a
//! [`Census`], a sink that counts instead of writing and skips what the export writer skips,
//! for the same reasons. What is cheap, and what is therefore read to the end, depends on
//! the input ([`reach`]):
//!
//! | input | read by default | counts |
//! | --- | --- | --- |
//! | uncompressed `.bson` files of a local folder | all of every file (mapped, framed by length; nothing decompressed) | exact |
//! | compressed `.bson.gz`/`.zst` files, and any file in object storage | the first [`sample`](Reach::Sample) bytes of each data file, shared out (at least [`MIN_SAMPLE_PER_FILE`] each) | exact for a file read to its end, else extrapolated from its size |
//! | an uncompressed local tar or mongodump archive | all of it (headers and document lengths; nothing decompressed) | exact |
//! | a gzip/zstd tar or archive, or one in object storage | its first [`sample`](Reach::Sample) raw bytes | exact when the stream ends within them; else counted so far, with totals extrapolated by the share of the input read |
//!
//! With `exact` every input is read to its end. The end of a sample is an I/O error whose
//! message holds [`SAMPLE_END`]: the reader stops as it would at a cut input, and the
//! census knows the failure for what it is.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bsonflow_model::{Basis, ByteSize, Census, Progress, ReadOptions, Survey, SAMPLE_END};

use crate::compression::Compression;
use crate::detect::InputKind;
use crate::folder::BsonSet;
use crate::input::Input;
use crate::layout::{self, SetEntry};
use crate::store::{Store, StoredFile};
use crate::{mongodump_archive, tar_set};

/// The default sample: raw bytes read of a compressed or remote input.
pub const DEFAULT_SAMPLE: u64 = 16 << 20;

/// The least sample of each data file of a BSON set whose files are streamed.
pub const MIN_SAMPLE_PER_FILE: u64 = 256 << 10;

/// How far a survey reads an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// To its end.
    Everything,
    /// The first this many raw bytes of a stream; for a BSON set, shared out over its
    /// streamed data files (files read from a local map are read in full).
    Sample(u64),
}

/// What is cheap for an input of `kind` (see the module documentation): `local` when it is
/// on the local disk, `exact` when everything is to be read, `sample` the raw bytes a
/// sample may read.
pub fn reach(kind: &InputKind, local: bool, exact: bool, sample: u64) -> Reach {
    match kind {
        _ if exact => Reach::Everything,
        InputKind::BsonTar(Compression::None) | InputKind::MongodumpArchive(Compression::None)
            if local =>
        {
            Reach::Everything
        }
        _ => Reach::Sample(sample),
    }
}

/// Surveys a BSON set (a folder, a prefix in object storage, one loose file).
pub fn survey_set(set: &BsonSet, census: Census, reach: Reach, progress: &Progress) -> Survey {
    let files: usize = set.collections.iter().map(|c| c.data.len()).sum();
    let per_file = match reach {
        Reach::Everything => None,
        Reach::Sample(bytes) => Some((bytes / files.max(1) as u64).max(MIN_SAMPLE_PER_FILE)),
    };
    let sampled = Arc::new(SampledStore {
        inner: Arc::clone(&set.store),
        per_file,
        data: set
            .collections
            .iter()
            .flat_map(|c| c.data.iter().cloned())
            .collect(),
        reads: Mutex::new(BTreeMap::new()),
    });
    let view = BsonSet {
        store: Arc::clone(&sampled) as Arc<dyn Store>,
        ..set.clone()
    };
    let report = view.read_into(&census, progress, &ReadOptions::default());
    let mut survey = census.into_survey(report);
    survey.read.format = format!("{} → {}", survey.read.format, layout_of(set));
    survey.raw_size = Some(set.data_bytes);
    let reads = sampled.reads.lock().unwrap_or_else(|e| e.into_inner());
    // Raw bytes read: every file in full, but for the part of a file whose sample ended.
    let mut raw_read = 0;
    let mut cut_files = 0;
    for c in &set.collections {
        let (mut read, mut cut) = (0u64, false);
        for path in &c.data {
            if let Some((bytes, hit)) = reads.get(path) {
                read += bytes.load(Ordering::Relaxed);
                if hit.load(Ordering::Relaxed) {
                    cut = true;
                    cut_files += 1;
                }
            }
        }
        let Some(n) = survey.namespaces.iter_mut().find(|n| n.ns == c.ns) else {
            continue;
        };
        // A skipped collection's files are not read at all.
        raw_read += match (cut, n.skipped.is_some()) {
            (_, true) => 0,
            (true, false) => read,
            (false, false) => c.data_bytes,
        };
        if cut && n.skipped.is_none() && n.failure.is_none() && read > 0 {
            let scale = c.data_bytes as f64 / read as f64;
            n.documents = n.documents.map(|d| (d as f64 * scale).round() as u64);
            n.bytes = n.bytes.map(|b| (b as f64 * scale).round() as u64);
            n.basis = Basis::Estimate;
        }
    }
    survey.add_up(Basis::Estimate);
    if cut_files > 0 {
        survey.unknowns.push(format!(
            "{cut_files} data file(s) were read only in part (the first {} of each, compressed \
             or in object storage): their counts are extrapolated from the files' sizes; \
             --exact reads everything",
            ByteSize(per_file.unwrap_or(0))
        ));
    }
    survey.raw_read = Some(raw_read);
    survey
}

/// Surveys a tar of a BSON set or a mongodump archive (`kind` says which) in `input`.
pub fn survey_stream(
    kind: &InputKind,
    input: Input,
    census: Census,
    reach: Reach,
    progress: &Progress,
) -> Survey {
    let (label, size, reader) = input.into_parts();
    let hit = Arc::new(AtomicBool::new(false));
    let reader: Box<dyn Read + Send> = match reach {
        Reach::Everything => reader,
        Reach::Sample(limit) => Box::new(SampleEnd {
            inner: reader,
            left: limit,
            read: Arc::new(AtomicU64::new(0)),
            hit: Arc::clone(&hit),
        }),
    };
    let input = Input::from_reader(reader, label.to_string(), size);
    let options = ReadOptions {
        spill_dir: Some(std::env::temp_dir()),
        ..ReadOptions::default()
    };
    let (compression, report) = match kind {
        InputKind::MongodumpArchive(c) => (
            *c,
            mongodump_archive::read_into(input, &census, progress, &options),
        ),
        InputKind::BsonTar(c) => (*c, tar_set::read_into(input, &census, progress, &options)),
        other => unreachable!("survey_stream reads tars and archives, not {other:?}"),
    };
    // The archive's prelude names every namespace, also those the sample did not reach.
    for n in &report.namespaces {
        census.offer(&n.ns);
    }
    let layout = match kind {
        InputKind::BsonTar(_) => Some(layout_of_origins(&census, &label)),
        _ => None,
    };
    let mut survey = census.into_survey(report);
    survey.raw_size = size;
    survey.raw_read = Some(survey.read.input_bytes);
    let cut = hit.load(Ordering::Relaxed);
    let packed = match compression {
        Compression::None => String::new(),
        c => format!("{} → ", c.name()),
    };
    if let Some(layout) = layout {
        survey.read.format = match cut {
            false => format!("{} → {layout}", survey.read.format),
            true => format!("{packed}tar → {layout} (as far as the sample went)"),
        };
    }
    if cut {
        let read = survey.read.input_bytes.max(1);
        let whole = size.map(|s| s.max(read));
        let of = match whole {
            Some(s) => format!("the first {} of {}", ByteSize(read), ByteSize(s)),
            None => format!("the first {}", ByteSize(read)),
        };
        let what = match kind {
            InputKind::BsonTar(_) => {
                "the namespaces past that point (every member after it is unseen)"
            }
            _ => "whether each namespace the prelude names but the sample did not reach is a view or a time-series collection (told by its metadata record)",
        };
        survey.unknowns.push(format!(
            "read {of} of the input{}: counts are what that part holds (at least), not \
             known without reading on: {what}; documents and bytes of the rest; --exact \
             reads everything",
            match compression {
                Compression::None => String::new(),
                c => format!(" ({} compressed)", c.name()),
            }
        ));
        // Totals: what the sample holds, scaled by the share of the input it is.
        if let Some(whole) = whole {
            let scale = whole as f64 / read as f64;
            let documents: u64 = survey.exported().filter_map(|n| n.documents).sum();
            let bytes: u64 = survey.exported().filter_map(|n| n.bytes).sum();
            survey.documents = Some((documents as f64 * scale).round() as u64);
            survey.bytes = Some((bytes as f64 * scale).round() as u64);
            survey.totals = Basis::Estimate;
        }
    }
    survey
}

/// The layers an xbstream names in its first chunk header, read from `reader` (its raw
/// bytes; an outer gzip or zstd is peeled): `xbstream → qpress` when the files it carries
/// are qpress archives (`<path>.qp`, as ApsaraDB's `_qp.xb`), else `xbstream`.
pub fn xbstream_layers(reader: impl Read + Send + 'static) -> &'static str {
    let Ok((_, decoded)) = crate::compression::decompress(reader) else {
        return "xbstream";
    };
    let mut chunks = crate::unpack::xbstream::Reader::new(decoded);
    match chunks.next_header() {
        Ok(Some(h)) if h.path_display().ends_with(".qp") => "xbstream → qpress",
        _ => "xbstream",
    }
}

/// A stream that ends its sample with an error holding [`SAMPLE_END`] once `left` bytes
/// have been read.
struct SampleEnd<R> {
    inner: R,
    left: u64,
    read: Arc<AtomicU64>,
    hit: Arc<AtomicBool>,
}

impl<R: Read> Read for SampleEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // Only a stream with more to give is cut.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? == 0 {
                return Ok(0);
            }
            self.hit.store(true, Ordering::Relaxed);
            return Err(io::Error::other(format!(
                "{SAMPLE_END} (bsonflow inspect reads a sample)"
            )));
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What a survey read of each streamed data file: bytes, and whether its sample ended.
type Reads = BTreeMap<PathBuf, (Arc<AtomicU64>, Arc<AtomicBool>)>;

/// A store whose data files, when streamed, end after a sample.
#[derive(Debug)]
struct SampledStore {
    inner: Arc<dyn Store>,
    per_file: Option<u64>,
    data: std::collections::BTreeSet<PathBuf>,
    reads: Mutex<Reads>,
}

impl Store for SampledStore {
    fn root_name(&self) -> io::Result<String> {
        self.inner.root_name()
    }

    fn list(&self) -> io::Result<Vec<StoredFile>> {
        self.inner.list()
    }

    fn size(&self, address: &Path) -> io::Result<u64> {
        self.inner.size(address)
    }

    fn open(&self, address: &Path) -> io::Result<Box<dyn Read + Send>> {
        let stream = self.inner.open(address)?;
        if !self.data.contains(address) {
            return Ok(stream);
        }
        let read = Arc::new(AtomicU64::new(0));
        let hit = Arc::new(AtomicBool::new(false));
        self.reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(address.to_path_buf(), (Arc::clone(&read), Arc::clone(&hit)));
        Ok(Box::new(SampleEnd {
            inner: stream,
            left: self.per_file.unwrap_or(u64::MAX),
            read,
            hit,
        }))
    }

    fn map(&self, address: &Path) -> Option<io::Result<memmap2::Mmap>> {
        // A mapped file is framed in place: read in full, and no stream bytes count.
        if let Some((read, _)) = self
            .reads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(address)
        {
            read.store(0, Ordering::Relaxed);
        }
        self.inner.map(address)
    }
}

/// The layout of a set's files: mongodump, cloud BSON, or both.
fn layout_of(set: &BsonSet) -> &'static str {
    let root = set.store.root_name().unwrap_or_default();
    let names = set.collections.iter().flat_map(|c| c.data.iter()).map(|p| {
        let mut components = vec![root.clone()];
        components.extend(
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        );
        components
    });
    layout_name(names)
}

/// The layout of the members a census saw, named `<member> in <archive>` by the tar reader.
fn layout_of_origins(census: &Census, archive: &str) -> &'static str {
    let suffix = format!(" in {archive}");
    let names = census.namespaces().into_values().filter_map(|c| {
        let origin = c.origin?;
        let member = origin.strip_suffix(&suffix).unwrap_or(&origin).to_string();
        Some(member.split('/').map(str::to_string).collect::<Vec<_>>())
    });
    layout_name(names)
}

fn layout_name(paths: impl Iterator<Item = Vec<String>>) -> &'static str {
    let (mut cloud, mut dump) = (false, false);
    for components in paths {
        let refs: Vec<&str> = components.iter().map(String::as_str).collect();
        // The last five components are all the classification looks at.
        let tail = &refs[refs.len().saturating_sub(5)..];
        match layout::classify(tail) {
            Some(SetEntry::Data { part: Some(_), .. }) => cloud = true,
            Some(SetEntry::Data { part: None, .. }) => dump = true,
            _ => {}
        }
    }
    match (cloud, dump) {
        (true, false) => "cloud BSON layout",
        (false, true) => "mongodump layout",
        (true, true) => "mongodump and cloud BSON layouts",
        (false, false) => "BSON set",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bsonflow_model::NamespaceFilter;

    fn docs(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            // Hex of a scrambled counter: gzip keeps about half of it.
            let pad: String = (0..8u64)
                .map(|k| {
                    format!(
                        "{:016x}",
                        (i as u64 * 8 + k).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    )
                })
                .collect();
            out.extend(bson::doc! { "_id": i as i64, "pad": pad }.to_vec().unwrap());
        }
        out
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn census() -> Census {
        Census::new(NamespaceFilter::new(), false, 1 << 20)
    }

    #[test]
    fn a_sample_of_a_compressed_file_is_extrapolated_and_marked() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump");
        std::fs::create_dir_all(dump.join("shop")).unwrap();
        std::fs::create_dir_all(dump.join("admin")).unwrap();
        std::fs::write(dump.join("shop/small.bson"), docs(10)).unwrap();
        std::fs::write(dump.join("shop/big.bson.gz"), gzip(&docs(40_000))).unwrap();
        std::fs::write(dump.join("admin/system.users.bson"), docs(1)).unwrap();
        let set = crate::folder::scan(&dump).unwrap();
        let survey = survey_set(&set, census(), Reach::Sample(1 << 10), &Progress::new());
        let by = |name: &str| {
            survey
                .namespaces
                .iter()
                .find(|n| n.ns.to_string() == name)
                .unwrap()
                .clone()
        };
        assert_eq!(by("shop.small").basis, Basis::Exact);
        assert_eq!(by("shop.small").documents, Some(10));
        let big = by("shop.big");
        assert_eq!(big.basis, Basis::Estimate, "{big:?}");
        assert!(big.failure.is_none());
        let est = big.documents.unwrap();
        assert!(est > 4_000 && est < 400_000, "{est}");
        assert!(by("admin.system.users").skipped.is_some());
        assert_eq!(survey.totals, Basis::Estimate);
        assert!(survey.raw_read < survey.raw_size, "{survey:?}");
        assert!(!survey.unknowns.is_empty());
        assert!(
            survey.read.format.ends_with("mongodump layout"),
            "{}",
            survey.read.format
        );

        // Read to the end, the same set is exact.
        let survey = survey_set(&set, census(), Reach::Everything, &Progress::new());
        assert_eq!(survey.totals, Basis::Exact);
        assert_eq!(survey.documents, Some(40_010));
        let admin = set.collections.iter().find(|c| c.ns.db == "admin").unwrap();
        assert_eq!(survey.raw_read, Some(set.data_bytes - admin.data_bytes));
        assert!(survey.unknowns.is_empty());
    }

    #[test]
    fn an_xbstream_of_qpress_files_says_so() {
        let mut w = crate::unpack::xbstream::Writer::new(Vec::new());
        w.whole_file(b"db/collection-1.wt.qp", b"qpress10...", 1 << 20)
            .unwrap();
        let qp = w.into_inner();
        assert_eq!(xbstream_layers(io::Cursor::new(qp)), "xbstream → qpress");
        let mut w = crate::unpack::xbstream::Writer::new(Vec::new());
        w.whole_file(b"db/collection-1.wt", b"page", 1 << 20)
            .unwrap();
        assert_eq!(xbstream_layers(io::Cursor::new(w.into_inner())), "xbstream");
        assert_eq!(
            xbstream_layers(io::Cursor::new(b"nothing".to_vec())),
            "xbstream"
        );
    }

    #[test]
    fn a_sample_that_reaches_the_end_is_exact() {
        let data = gzip(&docs(50));
        let input = Input::from_reader(io::Cursor::new(data.clone()), "x", Some(data.len() as u64));
        let mut at_end = SampleEnd {
            inner: io::Cursor::new(vec![1u8; 10]),
            left: 10,
            read: Arc::default(),
            hit: Arc::default(),
        };
        let mut all = Vec::new();
        at_end.read_to_end(&mut all).unwrap();
        assert_eq!(all.len(), 10);
        assert!(!at_end.hit.load(Ordering::Relaxed));
        // Not a tar: the reader fails, and the failure is the input's, not the sample's.
        let survey = survey_stream(
            &InputKind::BsonTar(Compression::Gzip),
            input,
            census(),
            Reach::Sample(1 << 20),
            &Progress::new(),
        );
        assert!(!survey.failures.is_empty());
        assert!(!survey.read_whole);
    }
}
