//! A look at a data directory that reads no collection: the catalog names every collection
//! (with the metadata that tells views and time-series apart), and mongod's size storer
//! (`sizeStorer.wt`) holds each record store's document count and data size as mongod last
//! recorded them — what its fast `count()` answers.

use std::collections::BTreeMap;

use bson::Document;
use bsonflow_model::{
    Basis, CollectionWriter, NamespaceFilter, NamespaceSurvey, ReadReport, SinkError, Survey,
};

use crate::format::block::BlockFile;
use crate::format::btree::Tree;
use crate::format::metadata::FileInfo;
use crate::{DataDir, Error, MetadataSource};

/// The metadata key of mongod's size storer.
pub const SIZE_STORER_URI: &str = "file:sizeStorer.wt";

/// What the size storer recorded of one record store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordedSize {
    /// `numRecords`.
    pub documents: i64,
    /// `dataSize`: BSON bytes.
    pub bytes: i64,
}

impl DataDir {
    /// The size storer's records by ident (`collection-7-123`, from its key
    /// `table:collection-7-123`).
    pub fn recorded_sizes(&self) -> Result<BTreeMap<String, RecordedSize>, Error> {
        let path = self.path().join("sizeStorer.wt");
        let config = self
            .metadata()
            .get(SIZE_STORER_URI)
            .ok_or_else(|| Error::Unsupported {
                path: path.clone(),
                what: format!("a data directory whose metadata has no `{SIZE_STORER_URI}`"),
            })?;
        let metadata_path = self.path().join("WiredTiger.wt");
        let info = FileInfo::parse(SIZE_STORER_URI, config, &metadata_path)?;
        let file = BlockFile::open(&path, info.allocation_size, info.compressor)?;
        let mut sizes = BTreeMap::new();
        Tree::new(&file, info.root()).scan(|e| {
            let key = String::from_utf8_lossy(e.key);
            let ident = key.strip_prefix("table:").unwrap_or(&key).to_string();
            let Some(value) = e.value else { return Ok(()) };
            let Ok(doc) = Document::from_reader(&mut &value[..]) else {
                return Ok(());
            };
            let number = |name| {
                doc.get_i64(name)
                    .ok()
                    .or_else(|| doc.get_i32(name).ok().map(i64::from))
                    .or_else(|| doc.get_f64(name).ok().map(|f| f as i64))
            };
            if let (Some(documents), Some(bytes)) = (number("numRecords"), number("dataSize")) {
                sizes.insert(ident, RecordedSize { documents, bytes });
            }
            Ok(())
        })?;
        Ok(sizes)
    }

    /// What the data directory holds, from the catalog and the size storer, reading no
    /// collection in full: every namespace with its recorded counts ([`Basis::Recorded`]),
    /// or [`Basis::Unknown`] where the size storer has no record; skip reasons from
    /// `filter`; a failure for an exported collection whose file is missing; and up to `sample_limit` bytes of the first documents of the exported
    /// collections as a sample.
    pub fn survey(&self, filter: &NamespaceFilter, sample_limit: usize) -> Survey {
        let mut survey = Survey {
            read: ReadReport {
                format: self.describe(),
                read_to_end: false,
                ..ReadReport::default()
            },
            ..Survey::default()
        };
        let sizes = match self.recorded_sizes() {
            Ok(sizes) => sizes,
            Err(e) => {
                survey.unknowns.push(format!(
                    "document counts: the size storer cannot be read ({e}); --exact counts them"
                ));
                BTreeMap::new()
            }
        };
        let mut entries: Vec<_> = self.collections().iter().collect();
        entries.sort_by(|a, b| a.ns.cmp(&b.ns));
        let mut missing = 0;
        for entry in entries {
            let skipped = filter.check(&entry.ns, &entry.metadata).err();
            let recorded = sizes.get(&entry.ident);
            if recorded.is_none() && skipped.is_none() {
                missing += 1;
            }
            // What the reader would fail the collection for, in its words.
            let failure = (skipped.is_none() && !entry.file.exists()).then(|| {
                format!(
                    "{}: the collection file {} is missing",
                    entry.ns,
                    entry.file.display()
                )
            });
            survey.namespaces.push(NamespaceSurvey {
                ns: entry.ns.clone(),
                documents: recorded.map(|r| r.documents.max(0) as u64),
                bytes: recorded.map(|r| r.bytes.max(0) as u64),
                basis: match recorded {
                    Some(_) => Basis::Recorded,
                    None => Basis::Unknown,
                },
                skipped,
                failure,
            });
        }
        survey.add_up(Basis::Recorded);
        survey.sample = self.sample(filter, sample_limit);
        if missing > 0 && !sizes.is_empty() {
            survey.unknowns.push(format!(
                "{missing} collection(s) have no size-storer record: their counts need --exact"
            ));
        }
        survey.unknowns.push(
            "counts are the size storer's (mongod's fast count), which can lag after an \
             unclean shutdown; --exact reads every collection"
                .into(),
        );
        survey
    }

    /// Up to `limit` bytes of documents, the first of each collection `filter` lets through
    /// in catalog order until the limit is reached: only the leaf pages they are on are read.
    pub fn sample(&self, filter: &NamespaceFilter, limit: usize) -> Vec<Vec<u8>> {
        let mut sampler = Sampler {
            docs: Vec::new(),
            bytes: 0,
            limit,
        };
        for entry in self.collections() {
            if sampler.bytes >= limit {
                break;
            }
            if filter.check(&entry.ns, &entry.metadata).is_ok() && entry.file.exists() {
                // Ends with the sampler's refusal once it is full, or at a damaged page:
                // either way the documents taken so far are the sample.
                let _ = self.read_collection_into(entry, &mut sampler);
            }
        }
        sampler.docs
    }

    /// `WiredTiger data directory (WiredTiger 11.3.0, directoryPerDB)`.
    pub fn describe(&self) -> String {
        let mut facts = Vec::new();
        match self.metadata_source() {
            MetadataSource::Turtle(t) => {
                if let Some(v) = &t.version_string {
                    facts.push(v.split(':').next().unwrap_or(v).trim().to_string());
                }
            }
            MetadataSource::HotBackup => facts.push("hot-backup copy".into()),
        }
        if let Some(s) = self.storage() {
            if s.directory_per_db {
                facts.push("directoryPerDB".into());
            }
            if s.directory_for_indexes {
                facts.push("directoryForIndexes".into());
            }
        }
        match facts.is_empty() {
            true => "WiredTiger data directory".into(),
            false => format!("WiredTiger data directory ({})", facts.join(", ")),
        }
    }
}

/// Keeps documents until `limit` bytes, then refuses, which ends the collection's read.
struct Sampler {
    docs: Vec<Vec<u8>>,
    bytes: usize,
    limit: usize,
}

impl CollectionWriter for Sampler {
    fn set_origin(&mut self, _: &str) {}

    fn write_document(&mut self, doc: &[u8], _: u64) -> Result<(), SinkError> {
        if self.bytes + doc.len() > self.limit {
            self.bytes = self.limit;
            return Err("the sample is full".into());
        }
        self.bytes += doc.len();
        self.docs.push(doc.to_vec());
        Ok(())
    }

    fn corrupt(&mut self, _: u64, _: &str) -> Result<(), SinkError> {
        Ok(())
    }

    fn finish(self) -> Result<(), SinkError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real mongod 5.0 data directory: the size storer agrees with what is read.
    #[test]
    fn recorded_sizes_of_a_real_dbpath() {
        let Some(root) = bsonflow_testkit::shared("testdata/real-dbpaths/mongo50-pokedex/dbpath")
        else {
            return;
        };
        let dir = DataDir::open(&root).unwrap();
        let sizes = dir.recorded_sizes().unwrap();
        assert!(!sizes.is_empty());
        let mut compared = 0;
        for entry in dir.collections() {
            let Some(recorded) = sizes.get(&entry.ident) else {
                continue;
            };
            if !entry.file.exists() {
                continue; // the catalog names a file this copy does not hold
            }
            let stats = dir.read_collection(entry, |_, _| {}).unwrap();
            // Counts of collections written before the last checkpoint agree.
            if entry.ns.db != "local" && entry.ns.db != "config" {
                assert_eq!(recorded.documents as u64, stats.documents, "{}", entry.ns);
                assert_eq!(recorded.bytes as u64, stats.document_bytes, "{}", entry.ns);
                compared += 1;
            }
        }
        assert!(compared > 0);
        let survey = dir.survey(&NamespaceFilter::new(), 1 << 20);
        assert!(!survey.sample.is_empty());
        assert!(survey
            .read
            .format
            .starts_with("WiredTiger data directory (WiredTiger "));
        assert!(survey
            .namespaces
            .iter()
            .any(|n| n.basis == Basis::Recorded && n.skipped.is_none()));
        assert!(survey.namespaces.iter().any(|n| n.skipped.is_some()));
        // This copy lacks one collection's file: said as the reader says it.
        let missing: Vec<_> = survey
            .namespaces
            .iter()
            .filter_map(|n| n.failure.as_ref())
            .collect();
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(missing[0].contains("is missing"), "{missing:?}");
    }
}
