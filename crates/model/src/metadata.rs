//! Collection metadata: what mongodump writes to `<coll>.metadata.json` and what a
//! `metadata.json` of an Atlas export holds.

use bson::{Bson, Document};

/// Options, indexes, UUID and type of one collection.
///
/// Built from a mongodump `.metadata.json` text ([`from_mongodump_json`]), from the
/// `metadata` string of a mongodump archive (the same text), or by the WiredTiger catalog
/// reader. Index specs and options keep their key order.
///
/// [`from_mongodump_json`]: CollectionMetadata::from_mongodump_json
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CollectionMetadata {
    /// `createCollection` options (`capped`, `size`, `validator`, `viewOn`, `timeseries` …),
    /// without the UUID. `None` when unknown.
    pub options: Option<Document>,
    /// Index specifications as `getIndexes()` returns them (`v`, `key`, `name`, …), kept
    /// verbatim from the input: a legacy `ns` field stays, which mongorestore accepts.
    pub indexes: Vec<Document>,
    /// The collection UUID as 32 lowercase hex digits, when the input carries one.
    pub uuid: Option<String>,
    /// The `type` reported by `listCollections`: `collection`, `view` or `timeseries`; `None`
    /// when the input does not say (older mongodump, plain BSON files).
    pub kind: Option<String>,
}

/// A `.metadata.json` text that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The text does not parse as JSON; the message gives the byte offset in the text and
    /// serde_json's error.
    #[error("metadata is not JSON at byte {offset} of its text: {source}")]
    Json {
        /// Where in the text parsing failed, in bytes from its start.
        offset: usize,
        /// What serde_json reported (with its line and column).
        #[source]
        source: serde_json::Error,
    },
    /// A metadata file holds nothing: mongodump always writes at least `{}`.
    #[error("the metadata file is empty: no JSON from byte 0")]
    Empty,
    /// The JSON does not convert to BSON as Extended JSON (a `$`-wrapper such as `$oid` or
    /// `$date` with a bad value), or its top level is not an object; the message says which.
    #[error("metadata is not valid Extended JSON: {0}")]
    ExtJson(String),
    /// A known field (`options`, `indexes`, `uuid` or `type`) has a value of the wrong type;
    /// the message names the field and the type it should have.
    #[error("metadata field `{field}` has the wrong type: expected {expected}")]
    Field {
        /// The name of the field in the metadata document.
        field: &'static str,
        /// What the field should hold, in words (`a document`, `a string` …).
        expected: &'static str,
    },
}

impl CollectionMetadata {
    /// Parses mongodump's metadata document in any of its dialects: legacy relaxed JSON
    /// (mongodump 3.x/4.0, `"v":2`), canonical Extended JSON v2 (4.2 and mongo-tools 100.x).
    /// An empty text (the oplog pseudo-namespace of an archive) gives empty metadata.
    pub fn from_mongodump_json(text: &str) -> Result<Self, MetadataError> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| MetadataError::Json {
                offset: byte_offset(text, source.line(), source.column()),
                source,
            })?;
        let bson = Bson::try_from(value).map_err(|e| MetadataError::ExtJson(e.to_string()))?;
        let Bson::Document(doc) = bson else {
            return Err(MetadataError::ExtJson(
                "the top level is not a JSON object".into(),
            ));
        };
        Self::from_document(&doc)
    }

    /// Parses the text of a `.metadata.json` file (or tar member): as
    /// [`from_mongodump_json`](Self::from_mongodump_json), except that an empty file is an
    /// error, not empty metadata (only an archive's oplog record has an empty text).
    pub fn from_metadata_file(text: &str) -> Result<Self, MetadataError> {
        if text.trim().is_empty() {
            return Err(MetadataError::Empty);
        }
        Self::from_mongodump_json(text)
    }

    /// Reads the fields of a parsed metadata document; unknown fields are ignored.
    pub fn from_document(doc: &Document) -> Result<Self, MetadataError> {
        let options = match doc.get("options") {
            None | Some(Bson::Null) => None,
            Some(Bson::Document(d)) => Some(d.clone()),
            Some(_) => {
                return Err(MetadataError::Field {
                    field: "options",
                    expected: "a document",
                })
            }
        };
        let indexes = match doc.get("indexes") {
            None | Some(Bson::Null) => Vec::new(),
            Some(Bson::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Bson::Document(d) => Ok(d.clone()),
                    _ => Err(MetadataError::Field {
                        field: "indexes",
                        expected: "an array of documents",
                    }),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(MetadataError::Field {
                    field: "indexes",
                    expected: "an array of documents",
                })
            }
        };
        let uuid = match doc.get("uuid") {
            None | Some(Bson::Null) => None,
            Some(Bson::String(s)) if s.is_empty() => None,
            Some(Bson::String(s)) => Some(s.to_ascii_lowercase().replace('-', "")),
            Some(Bson::Binary(b)) if b.bytes.len() == 16 => Some(hex(&b.bytes)),
            Some(_) => {
                return Err(MetadataError::Field {
                    field: "uuid",
                    expected: "a string of 32 hex digits",
                })
            }
        };
        let kind = match doc.get("type") {
            None | Some(Bson::Null) => None,
            Some(Bson::String(s)) if s.is_empty() => None,
            Some(Bson::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(MetadataError::Field {
                    field: "type",
                    expected: "a string",
                })
            }
        };
        Ok(CollectionMetadata {
            options,
            indexes,
            uuid,
            kind,
        })
    }

    /// A view: `type: "view"` or an `options.viewOn`.
    pub fn is_view(&self) -> bool {
        self.kind.as_deref() == Some("view")
            || self
                .options
                .as_ref()
                .is_some_and(|o| o.contains_key("viewOn"))
    }

    /// A time-series collection: `type: "timeseries"` or an `options.timeseries`.
    pub fn is_timeseries(&self) -> bool {
        self.kind.as_deref() == Some("timeseries")
            || self
                .options
                .as_ref()
                .is_some_and(|o| o.contains_key("timeseries"))
    }

    /// The document to write as `metadata.json` for `collection`: fields in mongodump's
    /// order `options, indexes, uuid, collectionName, type`; `options` omitted when absent
    /// or empty, `indexes` always present, `uuid` omitted when unknown, `type` omitted for
    /// ordinary collections (as the Atlas documentation shows).
    pub fn export_document(&self, collection: &str) -> Document {
        let mut doc = Document::new();
        if let Some(options) = self.options.as_ref().filter(|o| !o.is_empty()) {
            doc.insert("options", options.clone());
        }
        doc.insert(
            "indexes",
            Bson::Array(self.indexes.iter().cloned().map(Bson::Document).collect()),
        );
        if let Some(uuid) = &self.uuid {
            doc.insert("uuid", uuid.clone());
        }
        doc.insert("collectionName", collection);
        if let Some(kind) = self.kind.as_deref().filter(|k| *k != "collection") {
            doc.insert("type", kind);
        }
        doc
    }
}

/// The byte offset of 1-based `line` and `column` (serde_json's, in characters) in `text`.
fn byte_offset(text: &str, line: usize, column: usize) -> usize {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[start.min(text.len())..];
    start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_metadata_of_mongodump_3_4() {
        let m = CollectionMetadata::from_mongodump_json(
            r#"{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_","ns":"test.bar"}]}"#,
        )
        .unwrap();
        assert_eq!(m.options, Some(Document::new()));
        assert_eq!(m.indexes.len(), 1);
        assert_eq!(m.indexes[0].get_i32("v").unwrap(), 2);
        assert_eq!(m.uuid, None);
        assert_eq!(m.kind, None);
        let out = m.export_document("bar");
        let keys: Vec<_> = out.keys().cloned().collect();
        assert_eq!(keys, ["indexes", "collectionName"]);
    }

    #[test]
    fn canonical_metadata_keeps_key_order_and_type() {
        let m = CollectionMetadata::from_mongodump_json(
            r#"{"options":{"timeseries":{"timeField":"t","granularity":"seconds"}},"indexes":[{"v":{"$numberInt":"2"},"key":{"b":{"$numberInt":"1"},"a":{"$numberInt":"-1"}},"name":"b_1_a_-1"}],"uuid":"342C40A937C34C478BAB03DE8CE44F3E","collectionName":"ts","type":"timeseries"}"#,
        )
        .unwrap();
        assert!(m.is_timeseries());
        assert!(!m.is_view());
        let keys: Vec<_> = m.indexes[0]
            .get_document("key")
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(m.uuid.as_deref(), Some("342c40a937c34c478bab03de8ce44f3e"));
        let out = m.export_document("ts");
        let keys: Vec<_> = out.keys().cloned().collect();
        assert_eq!(
            keys,
            ["options", "indexes", "uuid", "collectionName", "type"]
        );
    }

    #[test]
    fn views_are_recognised_by_type_or_view_on() {
        let by_type = CollectionMetadata::from_mongodump_json(r#"{"type":"view"}"#).unwrap();
        let by_opt =
            CollectionMetadata::from_mongodump_json(r#"{"options":{"viewOn":"x","pipeline":[]}}"#)
                .unwrap();
        assert!(by_type.is_view() && by_opt.is_view());
    }

    #[test]
    fn empty_text_is_empty_metadata_and_garbage_is_an_error() {
        assert_eq!(
            CollectionMetadata::from_mongodump_json("  ").unwrap(),
            CollectionMetadata::default()
        );
        assert!(CollectionMetadata::from_mongodump_json("{not json").is_err());
        let err = CollectionMetadata::from_mongodump_json("{\"a\":1,\n \"b\" 2}").unwrap_err();
        assert!(
            matches!(err, MetadataError::Json { offset: 13, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("at byte 13"), "{err}");
        assert!(matches!(
            CollectionMetadata::from_metadata_file(" \n"),
            Err(MetadataError::Empty)
        ));
        assert!(CollectionMetadata::from_mongodump_json(r#"{"indexes":3}"#).is_err());
    }
}
