//! [`DataDir`]: an opened mongod data directory, and reading its collections.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use bson::{Document, RawDocument};
use bsonflow_model::CollectionWriter;

use crate::format::block::BlockFile;
use crate::format::btree::{hex, ReadStats, Tree};
use crate::format::catalog::{parse_record, CatalogEntry, CatalogRecord};
use crate::format::intpack::unpack_int_exact;
use crate::format::metadata::{read_metadata_table, FileInfo};
use crate::format::turtle::{parse_backup, Turtle, METADATA_URI};
use crate::Error;

/// The metadata key of the MongoDB catalog.
pub const CATALOG_URI: &str = "file:_mdb_catalog.wt";

/// Where the metadata table came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetadataSource {
    /// `WiredTiger.turtle` → `WiredTiger.wt`, the normal case.
    Turtle(Turtle),
    /// `WiredTiger.backup` of a hot-backup copy, which overrides `WiredTiger.wt`.
    HotBackup,
}

/// `storage.bson`: which engine wrote the directory, and its layout options.
///
/// Informational: the catalog's idents already contain the folders these options create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StorageInfo {
    /// `storage.engine`, e.g. `wiredTiger`; `None` when the field is absent or not a string.
    pub engine: Option<String>,
    /// `storage.options.directoryPerDB`: each database's files sit in a folder of their own
    /// (`<escapedDb>/collection-N-R`); false when absent or not a boolean.
    pub directory_per_db: bool,
    /// `storage.options.directoryForIndexes`: collection and index files sit in `collection/`
    /// and `index/` folders; false when absent or not a boolean.
    pub directory_for_indexes: bool,
}

impl StorageInfo {
    fn read(dbpath: &Path) -> Option<StorageInfo> {
        let bytes = std::fs::read(dbpath.join("storage.bson")).ok()?;
        let doc = Document::from_reader(&mut bytes.as_slice()).ok()?;
        let storage = doc.get_document("storage").ok()?;
        let options = storage.get_document("options").ok();
        let flag = |name: &str| options.and_then(|o| o.get_bool(name).ok()).unwrap_or(false);
        Some(StorageInfo {
            engine: storage.get_str("engine").ok().map(str::to_string),
            directory_per_db: flag("directoryPerDB"),
            directory_for_indexes: flag("directoryForIndexes"),
        })
    }
}

/// The key of a record: an int64 RecordId (`key_format=q`) or raw key bytes (`key_format=u`,
/// clustered collections, whose keys are KeyStrings of `_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKey<'a> {
    /// The RecordId of a `key_format=q` table, decoded from its packed key.
    Id(i64),
    /// The key bytes of a `key_format=u` table, as stored (borrowed from the page image).
    Bytes(&'a [u8]),
}

impl fmt::Display for RecordKey<'_> {
    /// Decimal for RecordIds, lowercase hex for key bytes (the `.recordids` convention).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordKey::Id(n) => write!(f, "{n}"),
            RecordKey::Bytes(b) => f.write_str(&hex(b)),
        }
    }
}

/// What a collection scan hands over, one record at a time.
enum Event<'a> {
    Document {
        key: RecordKey<'a>,
        doc: &'a [u8],
        offset: u64,
    },
    Corrupt {
        key: RecordKey<'a>,
        offset: u64,
        detail: String,
    },
}

/// An opened mongod data directory: its WiredTiger metadata and its MongoDB catalog.
#[derive(Debug)]
pub struct DataDir {
    path: PathBuf,
    source: MetadataSource,
    metadata: BTreeMap<String, String>,
    collections: Vec<CatalogEntry>,
    other_records: Vec<(i64, Document)>,
    storage: Option<StorageInfo>,
}

impl DataDir {
    /// Opens `path`: the metadata table (from `WiredTiger.backup` when present, else turtle →
    /// `WiredTiger.wt`), then the MongoDB catalog. Collection files are not opened yet.
    pub fn open(path: &Path) -> Result<DataDir, Error> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_dir() {
            return Err(Error::NotADataDir {
                path: path.to_path_buf(),
                detail: "not a directory".into(),
            });
        }
        let storage = StorageInfo::read(path);
        let backup_path = path.join("WiredTiger.backup");
        let turtle_path = path.join("WiredTiger.turtle");
        let wt_path = path.join("WiredTiger.wt");
        if !backup_path.exists() && !turtle_path.exists() && !wt_path.exists() {
            return Err(other_engine(path, storage.as_ref()));
        }
        let (source, metadata) = if backup_path.exists() {
            let text =
                std::fs::read_to_string(&backup_path).map_err(|e| Error::io(&backup_path, e))?;
            let map = parse_backup(&text, &backup_path)?.into_iter().collect();
            (MetadataSource::HotBackup, map)
        } else {
            if !turtle_path.exists() {
                return Err(Error::BadTurtle {
                    path: turtle_path,
                    detail: "the file is missing (WiredTiger.wt is there)".into(),
                });
            }
            let turtle = Turtle::read(&turtle_path)?;
            let info = FileInfo::parse(METADATA_URI, &turtle.metadata_config, &turtle_path)?;
            let file = BlockFile::open(&wt_path, info.allocation_size, info.compressor)?;
            let map = read_metadata_table(&file, &info)?;
            (MetadataSource::Turtle(turtle), map)
        };
        let mut dir = DataDir {
            path: path.to_path_buf(),
            source,
            metadata,
            collections: Vec::new(),
            other_records: Vec::new(),
            storage,
        };
        dir.read_catalog()?;
        Ok(dir)
    }

    /// The file the metadata was read from (for error messages).
    fn metadata_path(&self) -> PathBuf {
        match self.source {
            MetadataSource::Turtle(_) => self.path.join("WiredTiger.wt"),
            MetadataSource::HotBackup => self.path.join("WiredTiger.backup"),
        }
    }

    fn read_catalog(&mut self) -> Result<(), Error> {
        let catalog_path = self.path.join("_mdb_catalog.wt");
        let missing = |detail: String| Error::MissingCatalog {
            path: catalog_path.clone(),
            detail,
        };
        let config = self
            .metadata
            .get(CATALOG_URI)
            .ok_or_else(|| missing(format!("the metadata has no `{CATALOG_URI}` entry")))?;
        let info = FileInfo::parse(CATALOG_URI, config, &self.metadata_path())?;
        if info.key_format != "q" {
            return Err(Error::Unsupported {
                path: catalog_path.clone(),
                what: format!("catalog key_format `{}` (expected q)", info.key_format),
            });
        }
        let file = match BlockFile::open(&catalog_path, info.allocation_size, info.compressor) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Err(missing("the file is not in the data directory".into()))
            }
            other => other?,
        };
        let mut records = Vec::new();
        Tree::new(&file, info.root()).scan(|e| {
            let bad_page = |detail: String| Error::BadPage {
                path: catalog_path.clone(),
                offset: e.page_offset,
                detail,
            };
            let id = unpack_int_exact(e.key)
                .map_err(|err| bad_page(format!("catalog key {}: {err}", hex(e.key))))?;
            let bad = |detail: String| Error::BadCatalog {
                path: catalog_path.clone(),
                record_id: id,
                detail,
            };
            let value = e.value.ok_or_else(|| bad("empty value".into()))?;
            bsonflow_model::check_frame(value).map_err(|e| bad(e.to_string()))?;
            let doc = Document::from_reader(&mut &value[..])
                .map_err(|err| bad(format!("not a BSON document: {err}")))?;
            records.push((id, doc));
            Ok(())
        })?;
        for (id, doc) in records {
            match parse_record(id, doc).map_err(|detail| Error::BadCatalog {
                path: catalog_path.clone(),
                record_id: id,
                detail,
            })? {
                CatalogRecord::Collection(mut entry) => {
                    entry.file = self.path.join(format!("{}.wt", entry.ident));
                    entry.key_format = self
                        .metadata
                        .get(&format!("file:{}.wt", entry.ident))
                        .and_then(|c| crate::format::config::Config::parse(c).ok())
                        .map(|c| c.get_str("key_format").unwrap_or("u").to_string());
                    self.collections.push(*entry);
                }
                CatalogRecord::Other(doc) => self.other_records.push((id, doc)),
            }
        }
        Ok(())
    }

    /// The data directory, as given to [`open`](Self::open).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every catalog entry, in catalog (RecordId) order, system collections included.
    pub fn collections(&self) -> &[CatalogEntry] {
        &self.collections
    }

    /// The catalog entry of `db.coll`.
    pub fn collection(&self, full_name: &str) -> Option<&CatalogEntry> {
        self.collections
            .iter()
            .find(|e| e.ns.to_string() == full_name)
    }

    /// Catalog records that are not collections (the 3.4–4.4 feature document …), with their
    /// RecordIds.
    pub fn other_catalog_records(&self) -> &[(i64, Document)] {
        &self.other_records
    }

    /// Every live entry of the WiredTiger metadata table, URI → config string.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Which file the metadata table was read from: `WiredTiger.wt` through the turtle (whose
    /// version lines it keeps) or `WiredTiger.backup`.
    pub fn metadata_source(&self) -> &MetadataSource {
        &self.source
    }

    /// `storage.bson`, when present and readable.
    pub fn storage(&self) -> Option<&StorageInfo> {
        self.storage.as_ref()
    }

    /// The replica-set name: `_id` of the document in `local.system.replset`, when present.
    pub fn replica_set_name(&self) -> Result<Option<String>, Error> {
        let Some(entry) = self
            .collections
            .iter()
            .find(|e| e.ns.db == "local" && e.ns.collection == "system.replset")
        else {
            return Ok(None);
        };
        let mut name = None;
        self.read_collection(entry, |_, doc| {
            if name.is_none() {
                if let Ok(Some(id)) = RawDocument::from_bytes(doc).map(|d| d.get_str("_id").ok()) {
                    name = Some(id.to_string());
                }
            }
        })?;
        Ok(name)
    }

    /// Reads every live document of `entry` from its newest checkpoint, in RecordId order,
    /// into `writer`: [`set_origin`](CollectionWriter::set_origin) is the `.wt` file, each
    /// document's offset the block offset of its leaf page. Values that are not one BSON
    /// document (bad length prefix, missing trailing NUL, empty value) go to
    /// [`corrupt`](CollectionWriter::corrupt); unlike a byte stream, the next record's
    /// boundary is known, so reading continues when the writer accepts the report.
    ///
    /// Leaf pages are decoded in parallel, a few at a time; documents reach the writer in
    /// order. The caller calls [`finish`](CollectionWriter::finish). Errors concern this
    /// collection only ([`Error::InCollection`]).
    pub fn read_collection_into<W: CollectionWriter>(
        &self,
        entry: &CatalogEntry,
        writer: &mut W,
    ) -> Result<ReadStats, Error> {
        writer.set_origin(&entry.file.display().to_string());
        let file = entry.file.clone();
        self.scan_collection(entry, |event| match event {
            Event::Document { doc, offset, .. } => {
                writer
                    .write_document(doc, offset)
                    .map_err(|source| Error::Sink {
                        path: file.clone(),
                        offset,
                        source,
                    })
            }
            Event::Corrupt {
                key,
                offset,
                detail,
            } => writer
                .corrupt(offset, &format!("record {key}: {detail}"))
                .map_err(|source| Error::Sink {
                    path: file.clone(),
                    offset,
                    source,
                }),
        })
    }

    /// Same as [`read_collection_into`](Self::read_collection_into), with a callback
    /// `f(record key, document bytes)`; a value that is not a BSON document is an error
    /// ([`Error::BadDocument`]).
    pub fn read_collection<F>(&self, entry: &CatalogEntry, mut f: F) -> Result<ReadStats, Error>
    where
        F: FnMut(RecordKey<'_>, &[u8]) + Send,
    {
        let file = entry.file.clone();
        self.scan_collection(entry, |event| match event {
            Event::Document { key, doc, .. } => {
                f(key, doc);
                Ok(())
            }
            Event::Corrupt {
                key,
                offset,
                detail,
            } => Err(Error::BadDocument {
                path: file.clone(),
                offset,
                key: key.to_string(),
                detail,
            }),
        })
    }

    fn scan_collection<F>(&self, entry: &CatalogEntry, sink: F) -> Result<ReadStats, Error>
    where
        F: FnMut(Event<'_>) -> Result<(), Error> + Send,
    {
        self.scan_collection_inner(entry, sink)
            .map_err(|e| e.in_collection(&entry.ns))
    }

    fn scan_collection_inner<F>(
        &self,
        entry: &CatalogEntry,
        mut sink: F,
    ) -> Result<ReadStats, Error>
    where
        F: FnMut(Event<'_>) -> Result<(), Error> + Send,
    {
        let Some((file, info)) = self.open_collection_file(entry)? else {
            return Ok(ReadStats::default());
        };
        let int_keys = info.key_format == "q";
        let (mut documents, mut bytes, mut corrupt) = (0u64, 0u64, 0u64);
        let path = file.path().to_path_buf();
        let mut stats = Tree::new(&file, info.root()).scan(|e| {
            let key = if int_keys {
                RecordKey::Id(unpack_int_exact(e.key).map_err(|err| Error::BadPage {
                    path: path.clone(),
                    offset: e.page_offset,
                    detail: format!("key {} is not a packed RecordId: {err}", hex(e.key)),
                })?)
            } else {
                RecordKey::Bytes(e.key)
            };
            let problem = match e.value {
                None => {
                    Some("the key has no value (an empty value is not a BSON document)".to_string())
                }
                Some(v) => bsonflow_model::check_frame(v).err().map(|e| e.to_string()),
            };
            match (problem, e.value) {
                (None, Some(doc)) => {
                    documents += 1;
                    bytes += doc.len() as u64;
                    sink(Event::Document {
                        key,
                        doc,
                        offset: e.page_offset,
                    })
                }
                (detail, _) => {
                    corrupt += 1;
                    sink(Event::Corrupt {
                        key,
                        offset: e.page_offset,
                        detail: detail.unwrap_or_default(),
                    })
                }
            }
        })?;
        stats.documents = documents;
        stats.document_bytes = bytes;
        stats.corrupt = corrupt;
        Ok(stats)
    }

    /// The block file and metadata of a collection; `None` for a hot-backup entry whose file
    /// was never written (an empty tree).
    fn open_collection_file(
        &self,
        entry: &CatalogEntry,
    ) -> Result<Option<(BlockFile, FileInfo)>, Error> {
        let ident_ok = !entry.ident.is_empty()
            && Path::new(&entry.ident)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !ident_ok {
            return Err(Error::BadCatalog {
                path: self.path.join("_mdb_catalog.wt"),
                record_id: entry.record_id,
                detail: format!(
                    "ident `{}` is not a relative path inside the data directory",
                    entry.ident
                ),
            });
        }
        let uri = format!("file:{}.wt", entry.ident);
        let config = self
            .metadata
            .get(&uri)
            .ok_or_else(|| Error::MissingMetadata {
                path: self.metadata_path(),
                uri: uri.clone(),
            })?;
        let info = FileInfo::parse(&uri, config, &self.metadata_path())?;
        if !matches!(info.key_format.as_str(), "q" | "u") || info.value_format != "u" {
            return Err(Error::Unsupported {
                path: entry.file.clone(),
                what: format!(
                    "a record store with key_format={} value_format={} (expected q or u, and u)",
                    info.key_format, info.value_format
                ),
            });
        }
        match BlockFile::open(&entry.file, info.allocation_size, info.compressor) {
            Ok(file) => Ok(Some((file, info))),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                if self.source == MetadataSource::HotBackup && info.root().is_none() {
                    Ok(None)
                } else {
                    Err(Error::MissingCollectionFile {
                        path: entry.file.clone(),
                    })
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// The error for a directory without WiredTiger metadata: another engine, or not a dbpath.
fn other_engine(path: &Path, storage: Option<&StorageInfo>) -> Error {
    if let Some(engine) = storage.and_then(|s| s.engine.as_deref()) {
        if engine != "wiredTiger" {
            return Error::Unsupported {
                path: path.to_path_buf(),
                what: format!("storage engine `{engine}` (storage.bson); only WiredTiger data directories can be read"),
            };
        }
    }
    let looks_rocksdb = |dir: &Path| {
        dir.join("CURRENT").is_file()
            || std::fs::read_dir(dir).is_ok_and(|rd| {
                rd.flatten().any(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.ends_with(".sst") || name.starts_with("MANIFEST-")
                })
            })
    };
    if looks_rocksdb(path) || looks_rocksdb(&path.join("db")) {
        return Error::Unsupported {
            path: path.to_path_buf(),
            what: "a RocksDB data directory (CURRENT, MANIFEST-*, *.sst; no WiredTiger.turtle, WiredTiger.wt or WiredTiger.backup)".into(),
        };
    }
    Error::NotADataDir {
        path: path.to_path_buf(),
        detail: "no WiredTiger.turtle, WiredTiger.wt or WiredTiger.backup".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys_print_like_recordids_files() {
        assert_eq!(RecordKey::Id(-5).to_string(), "-5");
        assert_eq!(RecordKey::Bytes(&[0x3c, 0x0a]).to_string(), "3c0a");
    }

    #[test]
    fn a_rocksdb_directory_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("CURRENT"), "MANIFEST-000005\n").unwrap();
        std::fs::write(dir.path().join("000007.sst"), b"x").unwrap();
        let e = DataDir::open(dir.path()).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = DataDir::open(empty.path()).unwrap_err();
        assert!(matches!(e, Error::NotADataDir { .. }), "{e}");
    }
}
