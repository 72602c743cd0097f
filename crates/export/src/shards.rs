//! Several inputs, one export: the shards of a sharded cluster.
//!
//! Each input (one shard's backup) feeds its own [`ShardExport`], a [`DocumentSink`] with
//! its own shard name and ledger, so that one namespace can be written by every shard:
//! `<db>/<coll>/<shard>.<n>.json.gz`, numbered per shard from 0. When every input has been
//! read, [`Exporter::finish_shards`](crate::Exporter::finish_shards) writes one
//! `metadata.json` per collection from the shards that hold it ([`union_metadata`]) and one
//! `.complete` covering every shard's files, or none when any shard failed.

use bson::{Bson, Document};

use bsonflow_model::{
    CollectionMetadata, DocumentSink, Failure, Namespace, ReadReport, SinkError, SkipReason,
};

use crate::collection::CollectionExport;
use crate::exporter::Exporter;
use crate::ledger::{Ledger, State};

/// One shard's view of an [`Exporter`]: the sink its input is read into. Made by
/// [`Exporter::shard`]; ended by [`done`](ShardExport::done).
pub struct ShardExport<'e> {
    pub(crate) exporter: &'e Exporter,
    pub(crate) name: String,
    pub(crate) ledger: Ledger,
}

/// A shard whose input has been read: what it wrote, skipped and failed, and its reader's
/// report. Handed to [`Exporter::finish_shards`](crate::Exporter::finish_shards).
#[derive(Debug)]
pub struct ShardDone {
    pub(crate) name: String,
    pub(crate) state: State,
    pub(crate) report: ReadReport,
}

impl ShardDone {
    /// The shard's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<'e> ShardExport<'e> {
    /// The shard's name: `<shard>` of its `<shard>.<n>.json.gz` files.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ends the shard once its reader has returned: every one of its writers is gone.
    pub fn done(self, report: ReadReport) -> ShardDone {
        ShardDone {
            name: self.name,
            state: self.ledger.into_state(),
            report,
        }
    }
}

impl DocumentSink for ShardExport<'_> {
    type Writer<'s>
        = CollectionExport<'s>
    where
        Self: 's;

    fn wants(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        self.exporter.options().filter.check(ns, meta)
    }

    fn open(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<Self::Writer<'_>>, SinkError> {
        self.exporter.open_in(&self.ledger, &self.name, ns, meta)
    }

    fn update_metadata(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SinkError> {
        self.ledger.update_metadata(ns, meta);
        Ok(())
    }

    fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        self.ledger.fail(ns, failure);
    }
}

/// One `metadata.json` from the shards that hold a collection, given in a stable order
/// (by shard name). The first shard's options, UUID and type are kept; indexes are the
/// union: the first shard's in its order, then each index another shard has and the first
/// lacks (told apart by `name`), in shard order. Returns what differed between shards, one
/// sentence each, for the summary and the report.
pub fn union_metadata(shards: &[(&str, &CollectionMetadata)]) -> (CollectionMetadata, Vec<String>) {
    let Some((first_name, first)) = shards.first() else {
        return (CollectionMetadata::default(), Vec::new());
    };
    let mut merged = (*first).clone();
    let mut differences = Vec::new();
    for (name, meta) in &shards[1..] {
        if meta.options != first.options {
            differences.push(format!(
                "collection options differ between shards {first_name} and {name}; {first_name}'s are kept"
            ));
        }
        if meta.uuid.is_some() && first.uuid.is_some() && meta.uuid != first.uuid {
            differences.push(format!(
                "the collection UUID differs between shards {first_name} and {name}; {first_name}'s is kept"
            ));
        }
        if merged.uuid.is_none() {
            merged.uuid = meta.uuid.clone();
        }
        if merged.kind.is_none() {
            merged.kind = meta.kind.clone();
        }
        for index in &meta.indexes {
            let label = index_label(index);
            match merged.indexes.iter().find(|i| index_label(i) == label) {
                None => {
                    let on = shards
                        .iter()
                        .filter(|(_, m)| m.indexes.iter().any(|i| index_label(i) == label))
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ");
                    differences.push(format!(
                        "index {label} exists on shard(s) {on} only; it is kept in metadata.json"
                    ));
                    merged.indexes.push(index.clone());
                }
                Some(kept) if !same_index(kept, index) => differences.push(format!(
                    "index {label} is defined differently on shards {first_name} and {name}; {first_name}'s definition is kept"
                )),
                Some(_) => {}
            }
        }
        for index in &first.indexes {
            let label = index_label(index);
            if !meta.indexes.iter().any(|i| index_label(i) == label) {
                differences.push(format!(
                    "index {label} exists on shard {first_name} but not on shard {name}; it is kept in metadata.json"
                ));
            }
        }
    }
    (merged, differences)
}

/// An index's name, else its key pattern.
fn index_label(index: &Document) -> String {
    match index.get("name") {
        Some(Bson::String(name)) => format!("`{name}`"),
        _ => format!(
            "{}",
            index
                .get("key")
                .cloned()
                .unwrap_or(Bson::Document(Document::new()))
        ),
    }
}

/// Two specs of one index, ignoring the legacy `ns` field (it names the namespace, which
/// older servers wrote per shard).
fn same_index(a: &Document, b: &Document) -> bool {
    let strip = |d: &Document| {
        let mut d = d.clone();
        d.remove("ns");
        d
    };
    strip(a) == strip(b)
}

/// The reports of several shards' readers as one: format and notes per shard, counts summed,
/// read to the end only when every shard was.
pub(crate) fn merge_reports(mut reports: Vec<(String, ReadReport)>) -> ReadReport {
    if reports.len() == 1 {
        return reports.pop().map(|(_, r)| r).unwrap_or_default();
    }
    let mut merged = ReadReport {
        read_to_end: true,
        ..ReadReport::default()
    };
    let mut formats = Vec::new();
    for (shard, r) in reports {
        if !r.format.is_empty() {
            formats.push(format!("{shard}: {}", r.format));
        }
        merged
            .notes
            .extend(r.notes.into_iter().map(|n| format!("{shard}: {n}")));
        merged.namespaces.extend(r.namespaces);
        merged.documents += r.documents;
        merged.input_bytes += r.input_bytes;
        merged.ignored.extend(r.ignored.into_iter().map(|mut i| {
            i.what = format!("{shard}: {}", i.what);
            i
        }));
        merged.ignored_unlisted += r.ignored_unlisted;
        merged.left_out.extend(r.left_out.into_iter().map(|mut l| {
            l.why = format!("shard {shard}: {}", l.why);
            l
        }));
        merged.read_to_end &= r.read_to_end;
    }
    merged.format = formats.join("; ");
    merged
}

/// `failure` with the shard it happened on in front, when the run has several.
pub(crate) fn on_shard(failure: Failure, shard: &str, several: bool) -> Failure {
    if several {
        Failure::new(failure.kind, format!("shard {shard}: {}", failure.message))
    } else {
        failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn meta(indexes: Vec<Document>) -> CollectionMetadata {
        CollectionMetadata {
            options: Some(doc! {}),
            indexes,
            uuid: Some("00112233445566778899aabbccddeeff".into()),
            kind: Some("collection".into()),
        }
    }

    #[test]
    fn equal_shards_give_their_metadata_unchanged() {
        let a = meta(vec![
            doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"},
            doc! {"v": 2, "key": {"x": 1}, "name": "x_1"},
        ]);
        let (merged, diffs) = union_metadata(&[("rs0", &a), ("rs1", &a.clone())]);
        assert_eq!(merged, a);
        assert!(diffs.is_empty(), "{diffs:?}");
    }

    #[test]
    fn indexes_are_the_union_in_a_stable_order_and_differences_are_named() {
        let id = doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"};
        let a = meta(vec![
            id.clone(),
            doc! {"v": 2, "key": {"a": 1}, "name": "a_1"},
        ]);
        let b = meta(vec![
            id.clone(),
            doc! {"v": 2, "key": {"b": -1}, "name": "b_-1"},
            doc! {"v": 2, "key": {"a": 1}, "name": "a_1"},
        ]);
        let (merged, diffs) = union_metadata(&[("rsA", &a), ("rsB", &b)]);
        let names: Vec<_> = merged
            .indexes
            .iter()
            .map(|i| i.get_str("name").unwrap().to_string())
            .collect();
        assert_eq!(names, ["_id_", "a_1", "b_-1"]);
        assert_eq!(diffs.len(), 1, "{diffs:?}");
        assert!(
            diffs[0].contains("`b_-1`") && diffs[0].contains("rsB only"),
            "{diffs:?}"
        );

        let (_, diffs) = union_metadata(&[("rsB", &b), ("rsA", &a)]);
        assert!(
            diffs
                .iter()
                .any(|d| d.contains("`b_-1`") && d.contains("not on shard rsA")),
            "{diffs:?}"
        );
    }

    #[test]
    fn a_differing_definition_keeps_the_first_and_says_so() {
        let a = meta(vec![
            doc! {"v": 2, "key": {"a": 1}, "name": "a_1", "ns": "d.c"},
        ]);
        let same = meta(vec![doc! {"v": 2, "key": {"a": 1}, "name": "a_1"}]);
        let (_, diffs) = union_metadata(&[("s0", &a), ("s1", &same)]);
        assert!(
            diffs.is_empty(),
            "the legacy ns field is not a difference: {diffs:?}"
        );
        let unique = meta(vec![
            doc! {"v": 2, "key": {"a": 1}, "name": "a_1", "unique": true},
        ]);
        let (merged, diffs) = union_metadata(&[("s0", &a), ("s1", &unique)]);
        assert_eq!(merged.indexes, a.indexes);
        assert_eq!(diffs.len(), 1);
        assert!(diffs[0].contains("defined differently"), "{diffs:?}");
    }

    #[test]
    fn options_and_uuid_differences_are_reported() {
        let a = meta(vec![]);
        let mut b = meta(vec![]);
        b.options = Some(doc! {"capped": true, "size": 4096});
        b.uuid = Some("ffeeddccbbaa99887766554433221100".into());
        let (merged, diffs) = union_metadata(&[("s0", &a), ("s1", &b)]);
        assert_eq!(merged.options, a.options);
        assert_eq!(merged.uuid, a.uuid);
        assert_eq!(diffs.len(), 2, "{diffs:?}");
    }

    #[test]
    fn reports_merge_per_shard() {
        let one = ReadReport {
            format: "mongodump folder".into(),
            documents: 3,
            read_to_end: true,
            ..ReadReport::default()
        };
        let two = ReadReport {
            format: "tar".into(),
            documents: 4,
            read_to_end: false,
            ..ReadReport::default()
        };
        let m = merge_reports(vec![("a".into(), one.clone()), ("b".into(), two)]);
        assert_eq!(m.format, "a: mongodump folder; b: tar");
        assert_eq!(m.documents, 7);
        assert!(!m.read_to_end);
        assert_eq!(merge_reports(vec![("a".into(), one.clone())]), one);
    }
}
