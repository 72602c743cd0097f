//! BSON sets in a folder: a mongodump folder, the folder of one database, an unpacked
//! ApsaraDB cloud BSON download, or one loose `.bson` file.
//!
//! [`scan`] (or [`scan_store`] for any [`Store`]) lists the files once and groups them by
//! namespace ([`BsonSet`]); [`BsonSet::read_into`] then reads the collections in parallel
//! (rayon), each on one thread: files that are not compressed are memory-mapped and framed
//! in place when the store is local, `.gz`/`.zst` files (told by their bytes) and files of a
//! store that can only stream are read through their decoder.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bsonflow_model::{
    CollectionMetadata, CollectionWriter, DocumentSink, FailureKind, Ignored, MetadataError,
    Namespace, NamespaceRead, Progress, ReadOptions, ReadReport, SinkError,
};
use rayon::prelude::*;

use crate::bson_stream::{self, StreamError, StreamStats};
use crate::compression::{self, Compression};
use crate::input::ReadError;
use crate::layout::{self, SetEntry};
use crate::store::{LocalFolder, Store};

/// One collection of a BSON set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CollectionFiles {
    /// The collection the files hold: told by their paths for a scanned set, given by the
    /// caller for [`BsonSet::single_file`].
    pub ns: Namespace,
    /// The `.metadata.json` (or `.metadata.json.gz`) file, when there is one.
    pub metadata: Option<PathBuf>,
    /// The data files in the order their documents are read: one for mongodump, the parts in
    /// `(N, M)` order for a cloud download.
    pub data: Vec<PathBuf>,
    /// Total size of the data files, in bytes.
    pub data_bytes: u64,
}

/// What [`scan`] found, and the store it is read from.
#[derive(Clone, Debug)]
pub struct BsonSet {
    /// Where the files are; every path of the set is an address in it.
    pub store: Arc<dyn Store>,
    /// By namespace, sorted.
    pub collections: Vec<CollectionFiles>,
    /// Files that belong to no collection (mongodump's top-level `oplog.bson`,
    /// `prelude.json`, stray files), for the summary.
    pub ignored: Vec<PathBuf>,
    /// Total size of the data files, for progress.
    pub data_bytes: u64,
}

/// An input folder or file that cannot be read as a BSON set.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    /// A file or folder could not be listed, stat'ed, opened, mapped or read; the message
    /// names the path and the I/O error.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder that failed.
        path: PathBuf,
        /// What the filesystem or the decompressor reported.
        #[source]
        source: io::Error,
    },
    /// A `.metadata.json` is not mongodump metadata ([`read_metadata`]); the message names the
    /// file and what is wrong with it.
    #[error("{}: {source}", path.display())]
    Metadata {
        /// The metadata file.
        path: PathBuf,
        /// Why its JSON was refused.
        #[source]
        source: MetadataError,
    },
    /// Two files claim the same place in one collection ([`scan`]): two data files, two
    /// metadata files, a plain `.bson` beside cloud parts, or two parts with the same
    /// `(N, M)`. The message names the namespace and both files.
    #[error("{ns} is given twice: {} and {}", first.display(), second.display())]
    Duplicate {
        /// The collection given twice.
        ns: Namespace,
        /// The file found first (in name order).
        first: PathBuf,
        /// The file that claims the same place.
        second: PathBuf,
    },
    /// A collection failed part way: its metadata file cannot be used, or a compressed data
    /// file cannot be read to its end. The message names the namespace, the file, the offset
    /// and what went wrong.
    #[error("{ns}: {} at byte {offset}: {detail}", path.display())]
    Read {
        /// The collection being read.
        ns: Namespace,
        /// The metadata or data file that failed.
        path: PathBuf,
        /// Where reading failed, in bytes from the start of the decompressed stream; 0 for a
        /// metadata file.
        offset: u64,
        /// The underlying error; for a compressed file, also how many compressed bytes
        /// were read.
        detail: String,
    },
    /// The sink's own message, which names the namespace.
    #[error("{source}")]
    Sink {
        /// The collection being written.
        ns: Namespace,
        /// What the sink or its writer returned.
        #[source]
        source: SinkError,
    },
    /// [`scan`] found no collection: no `.bson` file in mongodump or cloud-download layout
    /// under the root. The message names the root.
    #[error("{}: no .bson files in mongodump or cloud-download layout", path.display())]
    Empty {
        /// The root given to [`scan`].
        path: PathBuf,
    },
}

/// Walks `root` and groups its files by namespace. The name of `root` itself counts as a
/// path component, so the folder of one database (`shop/orders.bson`) works as well as a
/// whole dump (`dump/shop/orders.bson`).
pub fn scan(root: &Path) -> Result<BsonSet, FolderError> {
    scan_store(Arc::new(LocalFolder::new(root)), root)
}

/// Lists `store` and groups its files by namespace, as [`scan`] does for a local folder;
/// `root` names the store's root in messages.
pub fn scan_store(store: Arc<dyn Store>, root: &Path) -> Result<BsonSet, FolderError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FolderError::Io { path, source }
    };
    let root_name = store.root_name().map_err(io_err(root))?;
    let listed = store.list().map_err(io_err(root))?;
    let sizes: BTreeMap<PathBuf, u64> =
        listed.iter().map(|f| (f.address.clone(), f.size)).collect();
    let files: Vec<(Vec<String>, PathBuf)> = listed
        .into_iter()
        .map(|f| (f.components, f.address))
        .collect();

    // A dump folder has databases as sub-folders; files directly inside it (oplog.bson)
    // are not collections.
    let dump_mode = files.iter().any(|(rel, _)| rel.len() >= 2);

    #[derive(Default)]
    struct Found {
        metadata: Option<PathBuf>,
        cloud_metadata: Option<PathBuf>,
        plain: Option<PathBuf>,
        parts: Vec<((u64, u64), PathBuf)>,
    }
    let mut by_ns: BTreeMap<Namespace, Found> = BTreeMap::new();
    let mut set = BsonSet {
        store: Arc::clone(&store),
        collections: Vec::new(),
        ignored: Vec::new(),
        data_bytes: 0,
    };
    for (rel, path) in files {
        if dump_mode && rel.len() == 1 {
            set.ignored.push(path);
            continue;
        }
        let mut components: Vec<&str> = vec![root_name.as_str()];
        components.extend(rel.iter().map(String::as_str));
        let Some(entry) = layout::classify(&components) else {
            set.ignored.push(path);
            continue;
        };
        let (ns, slot) = match &entry {
            SetEntry::Data { ns, .. } | SetEntry::Metadata { ns, .. } => (ns.clone(), entry),
        };
        let found = by_ns.entry(ns.clone()).or_default();
        let replace = |current: &mut Option<PathBuf>, path: PathBuf| match current {
            Some(first) => Err(FolderError::Duplicate {
                ns: ns.clone(),
                first: first.clone(),
                second: path,
            }),
            None => {
                *current = Some(path);
                Ok(())
            }
        };
        match slot {
            SetEntry::Data { part: None, .. } => replace(&mut found.plain, path)?,
            SetEntry::Data {
                part: Some(part), ..
            } => found.parts.push((part, path)),
            SetEntry::Metadata { cloud: false, .. } => replace(&mut found.metadata, path)?,
            SetEntry::Metadata { cloud: true, .. } => replace(&mut found.cloud_metadata, path)?,
        }
    }

    // `<db>/<coll>/<coll>.metadata.json` is a cloud collection's metadata only when that
    // folder has parts; otherwise it is mongodump metadata of database `<coll>`.
    let mut reinterpreted = Vec::new();
    for (ns, found) in by_ns.iter_mut() {
        if found.parts.is_empty() {
            if let Some(path) = found.cloud_metadata.take() {
                reinterpreted.push((layout::metadata_without_parts(ns), path));
            }
        }
    }
    for (ns, path) in reinterpreted {
        let found = by_ns.entry(ns.clone()).or_default();
        if let Some(first) = &found.metadata {
            return Err(FolderError::Duplicate {
                ns,
                first: first.clone(),
                second: path,
            });
        }
        found.metadata = Some(path);
    }

    for (ns, mut found) in by_ns {
        if found.metadata.is_none()
            && found.cloud_metadata.is_none()
            && found.plain.is_none()
            && found.parts.is_empty()
        {
            continue;
        }
        if let (Some(plain), Some((_, part))) = (&found.plain, found.parts.first()) {
            return Err(FolderError::Duplicate {
                ns,
                first: plain.clone(),
                second: part.clone(),
            });
        }
        found.parts.sort();
        if let Some(w) = found.parts.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(FolderError::Duplicate {
                ns,
                first: w[0].1.clone(),
                second: w[1].1.clone(),
            });
        }
        let data: Vec<PathBuf> = match found.plain {
            Some(p) => vec![p],
            None => found.parts.into_iter().map(|(_, p)| p).collect(),
        };
        let data_bytes: u64 = data
            .iter()
            .map(|p| sizes.get(p).copied().unwrap_or(0))
            .sum();
        set.data_bytes += data_bytes;
        set.collections.push(CollectionFiles {
            ns,
            metadata: found.cloud_metadata.or(found.metadata),
            data,
            data_bytes,
        });
    }
    if set.collections.is_empty() {
        return Err(FolderError::Empty {
            path: root.to_path_buf(),
        });
    }
    Ok(set)
}

impl BsonSet {
    /// The set of one loose `.bson` file (plain, gzip or zstd) holding collection `ns`.
    pub fn single_file(path: &Path, ns: Namespace) -> Result<BsonSet, FolderError> {
        let store = LocalFolder::new(path.parent().unwrap_or(Path::new(".")));
        BsonSet::single_stored(Arc::new(store), path, ns)
    }

    /// The set of one loose BSON stream at `address` in `store` (an object in object
    /// storage, or a local file), holding collection `ns`.
    pub fn single_stored(
        store: Arc<dyn Store>,
        address: &Path,
        ns: Namespace,
    ) -> Result<BsonSet, FolderError> {
        let size = store.size(address).map_err(|source| FolderError::Io {
            path: address.to_path_buf(),
            source,
        })?;
        Ok(BsonSet {
            store,
            collections: vec![CollectionFiles {
                ns,
                metadata: None,
                data: vec![address.to_path_buf()],
                data_bytes: size,
            }],
            ignored: Vec::new(),
            data_bytes: size,
        })
    }

    /// Reads every collection of the set into `sink`, several collections at once (rayon's
    /// global pool), each on one thread. A collection that cannot be read is failed in the
    /// sink's ledger; the others are still read.
    pub fn read_into<S: DocumentSink>(
        &self,
        sink: &S,
        progress: &Progress,
        _options: &ReadOptions,
    ) -> ReadReport {
        progress.add_total(self.data_bytes);
        let counted: Vec<Option<NamespaceRead>> = self
            .collections
            .par_iter()
            .map(|c| match read_collection(&*self.store, c, sink, progress) {
                Ok(read) => Some(read),
                Err(e) => {
                    e.record(sink);
                    None
                }
            })
            .collect();
        let namespaces: Vec<NamespaceRead> = counted.into_iter().flatten().collect();
        ReadReport {
            format: "BSON files".into(),
            notes: Vec::new(),
            documents: namespaces.iter().map(|n| n.documents).sum(),
            namespaces,
            input_bytes: self.data_bytes,
            ignored: self
                .ignored
                .iter()
                .map(|p| Ignored {
                    what: p.display().to_string(),
                    why: "not part of a collection".into(),
                })
                .collect(),
            ignored_unlisted: 0,
            left_out: Vec::new(),
            read_to_end: true,
        }
    }
}

impl ReadError for FolderError {
    fn namespace(&self) -> Option<&Namespace> {
        match self {
            FolderError::Duplicate { ns, .. }
            | FolderError::Read { ns, .. }
            | FolderError::Sink { ns, .. } => Some(ns),
            FolderError::Io { .. } | FolderError::Metadata { .. } | FolderError::Empty { .. } => {
                None
            }
        }
    }

    fn kind(&self) -> FailureKind {
        match self {
            FolderError::Io { source, .. } => crate::compression::io_failure_kind(source),
            FolderError::Metadata { .. } | FolderError::Read { .. } | FolderError::Empty { .. } => {
                FailureKind::Corrupt
            }
            FolderError::Duplicate { .. } => FailureKind::Namespace,
            // The sink recorded its own failure first; this one only stands in for it.
            FolderError::Sink { .. } => FailureKind::Incomplete,
        }
    }
}

/// Reads one collection; what was counted, whether the sink exported it or skipped it.
fn read_collection<S: DocumentSink>(
    store: &dyn Store,
    files: &CollectionFiles,
    sink: &S,
    progress: &Progress,
) -> Result<NamespaceRead, FolderError> {
    let ns = &files.ns;
    let meta = match &files.metadata {
        Some(path) => read_metadata(store, path).map_err(|e| {
            // A metadata file that cannot be used fails its collection only.
            let detail = match &e {
                FolderError::Metadata { source, .. } => source.to_string(),
                FolderError::Io { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            FolderError::Read {
                ns: ns.clone(),
                path: path.clone(),
                offset: 0,
                detail,
            }
        })?,
        None => CollectionMetadata::default(),
    };
    let sink_err = |source| FolderError::Sink {
        ns: ns.clone(),
        source,
    };
    let mut read = NamespaceRead {
        ns: ns.clone(),
        documents: 0,
        bytes: 0,
        checksum: None,
    };
    let Some(mut writer) = sink.open(ns, &meta).map_err(sink_err)? else {
        progress.add(files.data_bytes);
        return Ok(read);
    };
    for path in &files.data {
        let stats = read_file_into(store, path, ns, &mut writer, progress)?;
        read.documents += stats.documents;
        read.bytes += stats.bytes;
    }
    writer.finish().map_err(sink_err)?;
    Ok(read)
}

/// Pushes the documents of one data file (plain, gzip or zstd) into `writer`.
pub fn read_file_into<W: CollectionWriter>(
    store: &dyn Store,
    path: &Path,
    ns: &Namespace,
    writer: &mut W,
    progress: &Progress,
) -> Result<StreamStats, FolderError> {
    let io_err = |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    };
    writer.set_origin(&path.display().to_string());
    let mut file = store.open(path).map_err(io_err)?;
    let head = compression::read_prefix(&mut file, 4).map_err(io_err)?;
    if head.is_empty() {
        return Ok(StreamStats::default());
    }
    let mapped = match Compression::sniff(&head) {
        Compression::None => store.map(path).transpose().map_err(io_err)?,
        _ => None,
    };
    let stats = if let Some(map) = mapped {
        let _ = map.advise(memmap2::Advice::Sequential);
        let mut released = 0usize;
        bson_stream::write_slice(&map, writer, |done| {
            // Give back pages already converted so that resident memory stays flat
            // however large the file is.
            const PAGE: usize = 1 << 21;
            let upto = done / PAGE * PAGE;
            if upto > released {
                // SAFETY: DONTNEED on a private read-only file map only drops cached pages;
                // they read back from the file if touched again.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        released,
                        upto - released,
                    )
                };
                progress.add((upto - released) as u64);
                released = upto;
            }
            if done == map.len() {
                progress.add((done - released) as u64);
                released = done;
            }
        })
        .map_err(|source| FolderError::Sink {
            ns: ns.clone(),
            source,
        })?
    } else {
        // Compressed, or a store that can only stream.
        let counting = compression::CountingReader::new(io::Cursor::new(head).chain(file));
        let position = counting.position();
        let (_, reader) = compression::decompress(counting).map_err(io_err)?;
        let result = bson_stream::write_stream(reader, writer, || {});
        progress.add(position.load(std::sync::atomic::Ordering::Relaxed));
        result.map_err(|e| {
            stream_failure(e, ns, path, 0, |source| {
                format!(
                    "{source} (offset in the decompressed stream; {} compressed bytes read)",
                    position.load(std::sync::atomic::Ordering::Relaxed)
                )
            })
        })?
    };
    Ok(stats)
}

/// Pushes the documents in bytes `start..end` of one uncompressed data file into `writer`:
/// a range whose ends are document boundaries (the scale-out plan cuts files so). Offsets in
/// the writer's calls and in errors are offsets in the file; a document that does not end
/// by `end` is an error, like a cut file.
pub fn read_range_into<W: CollectionWriter>(
    store: &dyn Store,
    path: &Path,
    ns: &Namespace,
    range: std::ops::Range<u64>,
    writer: &mut W,
    progress: &Progress,
) -> Result<StreamStats, FolderError> {
    let io_err = |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    };
    writer.set_origin(&path.display().to_string());
    let file = store.open_at(path, range.start).map_err(io_err)?;
    let len = range.end.saturating_sub(range.start);
    let counting = compression::CountingReader::new(file.take(len));
    let position = counting.position();
    let mut shifted = Shifted {
        inner: writer,
        base: range.start,
    };
    let result = bson_stream::write_stream(counting, &mut shifted, || {});
    progress.add(position.load(std::sync::atomic::Ordering::Relaxed));
    let stats = result
        .map_err(|e| stream_failure(e, ns, path, range.start, |source| source.to_string()))?;
    if position.load(std::sync::atomic::Ordering::Relaxed) < len {
        return Err(FolderError::Read {
            ns: ns.clone(),
            path: path.to_path_buf(),
            offset: range.start + position.load(std::sync::atomic::Ordering::Relaxed),
            detail: format!("the file ends before byte {} of the range", range.end),
        });
    }
    Ok(stats)
}

/// A stream reader's error as the folder reader reports it: `base` is where the stream
/// starts in the file, `io_detail` words an I/O error.
fn stream_failure(
    e: StreamError,
    ns: &Namespace,
    path: &Path,
    base: u64,
    io_detail: impl FnOnce(io::Error) -> String,
) -> FolderError {
    match e {
        StreamError::Io { offset, source } => FolderError::Read {
            ns: ns.clone(),
            path: path.to_path_buf(),
            offset: base + offset,
            detail: io_detail(source),
        },
        StreamError::Frame(f) => FolderError::Read {
            ns: ns.clone(),
            path: path.to_path_buf(),
            offset: base + f.offset(),
            detail: f.to_string(),
        },
        StreamError::Sink(source) => FolderError::Sink {
            ns: ns.clone(),
            source,
        },
    }
}

/// A writer whose offsets are shifted by `base` (the start of a range in its file).
struct Shifted<'w, W> {
    inner: &'w mut W,
    base: u64,
}

impl<W: CollectionWriter> CollectionWriter for Shifted<'_, W> {
    fn set_origin(&mut self, origin: &str) {
        self.inner.set_origin(origin);
    }

    fn write_document(&mut self, doc: &[u8], offset: u64) -> Result<(), bsonflow_model::SinkError> {
        self.inner.write_document(doc, self.base + offset)
    }

    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), bsonflow_model::SinkError> {
        self.inner.corrupt(self.base + offset, detail)
    }

    fn finish(self) -> Result<(), bsonflow_model::SinkError> {
        Ok(())
    }
}

/// Hops from one document length to the next through a stream of BSON documents, calling
/// `each(offset, length)` for every document, without parsing them: the scale-out plan's
/// scan. Stops with an error message at a length that cannot be true (under 5, over the
/// largest document, past the end).
pub fn hop_lengths(reader: impl Read, size: u64, mut each: impl FnMut(u64, u64)) -> io::Result<()> {
    let mut reader = io::BufReader::with_capacity(1 << 20, reader);
    let mut offset = 0u64;
    let mut head = [0u8; 4];
    while offset < size {
        reader.read_exact(&mut head).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("at byte {offset}: cannot read a document length: {e}"),
            )
        })?;
        let len = i32::from_le_bytes(head);
        let max = bsonflow_model::frame::MAX_DOCUMENT_BYTES as i64;
        if len < 5 || i64::from(len) > max || offset + len as u64 > size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("at byte {offset}: a document length of {len} cannot be true"),
            ));
        }
        let rest = len as u64 - 4;
        let skipped = io::copy(&mut (&mut reader).take(rest), &mut io::sink())?;
        if skipped < rest {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("at byte {offset}: the file ends inside a document"),
            ));
        }
        each(offset, len as u64);
        offset += len as u64;
    }
    Ok(())
}

/// Reads and parses a `.metadata.json` (plain or compressed).
pub fn read_metadata(store: &dyn Store, path: &Path) -> Result<CollectionMetadata, FolderError> {
    let io_err = |source| FolderError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = store.open(path).map_err(io_err)?;
    let (_, mut reader) = compression::decompress(file).map_err(io_err)?;
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(io_err)?;
    CollectionMetadata::from_metadata_file(&text).map_err(|source| FolderError::Metadata {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str, bytes: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    fn names(set: &BsonSet) -> Vec<String> {
        set.collections.iter().map(|c| c.ns.to_string()).collect()
    }

    #[test]
    fn dump_folder_database_folder_and_cloud_layout() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump");
        touch(&dump, "shop/orders.bson", b"");
        touch(&dump, "shop/orders.metadata.json", b"{}");
        touch(&dump, "shop/views.metadata.json", br#"{"type":"view"}"#);
        touch(&dump, "oplog.bson", b"");
        touch(&dump, "blog/posts/data/posts_10_part0.bson", b"");
        touch(&dump, "blog/posts/data/posts_2_part1.bson", b"");
        touch(&dump, "blog/posts/data/posts_2_part0.bson", b"");
        touch(&dump, "blog/posts/posts.metadata.json", b"{}");
        let set = scan(&dump).unwrap();
        assert_eq!(names(&set), ["blog.posts", "shop.orders", "shop.views"]);
        let parts: Vec<_> = set.collections[0]
            .data
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            parts,
            [
                "posts_2_part0.bson",
                "posts_2_part1.bson",
                "posts_10_part0.bson"
            ]
        );
        assert!(set.collections[0].metadata.is_some());
        assert!(set.collections[2].data.is_empty());
        assert_eq!(set.ignored, [dump.join("oplog.bson")]);

        // The folder of one database.
        let set = scan(&dump.join("shop")).unwrap();
        assert_eq!(names(&set), ["shop.orders", "shop.views"]);
    }

    #[test]
    fn metadata_in_a_folder_without_parts_is_mongodump_metadata() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "d/x/x.metadata.json", b"{}");
        touch(dir.path(), "d/x/x.bson", b"");
        let set = scan(&dir.path().join("d")).unwrap();
        assert_eq!(names(&set), ["x.x"]);
        assert!(set.collections[0].metadata.is_some());
    }

    #[test]
    fn duplicates_and_empty_folders_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "d/shop/a.bson", b"");
        touch(dir.path(), "d/shop/a.bson.gz", b"");
        assert!(matches!(
            scan(&dir.path().join("d")),
            Err(FolderError::Duplicate { .. })
        ));
        let empty = tempfile::tempdir().unwrap();
        touch(empty.path(), "x/readme.txt", b"hi");
        assert!(matches!(
            scan(&empty.path().join("x")),
            Err(FolderError::Empty { .. })
        ));
    }

    /// A store that can only stream (as object storage): the same set reads the same.
    #[derive(Debug)]
    struct StreamOnly(LocalFolder);

    impl Store for StreamOnly {
        fn root_name(&self) -> io::Result<String> {
            self.0.root_name()
        }
        fn list(&self) -> io::Result<Vec<crate::store::StoredFile>> {
            self.0.list()
        }
        fn size(&self, address: &Path) -> io::Result<u64> {
            self.0.size(address)
        }
        fn open(&self, address: &Path) -> io::Result<Box<dyn Read + Send>> {
            self.0.open(address)
        }
        fn map(&self, _: &Path) -> Option<io::Result<memmap2::Mmap>> {
            None
        }
    }

    #[test]
    fn a_store_that_only_streams_reads_the_same_documents() {
        let dir = tempfile::tempdir().unwrap();
        let dump = dir.path().join("dump");
        let mut bson = Vec::new();
        let mut first_hundred = 0;
        for i in 0..500 {
            if i == 100 {
                first_hundred = bson.len();
            }
            bson.extend(
                bson::doc! { "_id": i, "s": "x".repeat(i as usize % 97) }
                    .to_vec()
                    .unwrap(),
            );
        }
        touch(&dump, "shop/orders.bson", &bson);
        touch(&dump, "shop/orders.metadata.json", br#"{"indexes":[]}"#);
        touch(
            &dump,
            "blog/posts/data/posts_0_part1.bson",
            &bson[..first_hundred],
        );
        touch(&dump, "blog/posts/data/posts_0_part0.bson", &bson);
        let read = |store: Arc<dyn Store>| {
            let set = scan_store(store, &dump).unwrap();
            let sink = bsonflow_testkit::MemorySink::new();
            let report = set.read_into(&sink, &Progress::new(), &ReadOptions::default());
            assert!(report.read_to_end, "{}", sink.failure_text());
            assert!(sink.failures().is_empty(), "{}", sink.failure_text());
            (report.documents, sink.collections())
        };
        let mapped = read(Arc::new(LocalFolder::new(&dump)));
        let streamed = read(Arc::new(StreamOnly(LocalFolder::new(&dump))));
        assert_eq!(mapped.0, 1100);
        assert_eq!(mapped, streamed);
    }
}
