//! The MongoDB catalog (`_mdb_catalog.wt`): one BSON document per collection.
//!
//! ```text
//! { ns: "db.coll", ident: "collection-7--123",
//!   md: { ns, options: { uuid: UUID, capped, size, timeseries, … },
//!         indexes: [ { spec: {v, key, name, …}, ready, multikey, … } ] },
//!   idxIdent: { "<index name>": "index-8--123", … } }
//! ```
//!
//! Field order differs across versions, so fields are looked up by name. 3.4–4.4 catalogs
//! start with a feature document (`isFeatureDoc: true`), which is not a collection. The
//! metadata given to the export follows the Atlas convention for physical backups: `options`
//! without `uuid`, the UUID as 32 lowercase hex digits, the `spec` of every index whose
//! `ready` is true in catalog order, and `kind` `timeseries` or `collection`.

use std::path::PathBuf;

use bson::{spec::BinarySubtype, Bson, Document};
use bsonflow_model::{CollectionMetadata, Namespace};

/// One collection of the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogEntry {
    /// The collection's namespace: the record's top-level `ns`, else `md.ns`.
    pub ns: Namespace,
    /// The WiredTiger ident: the file is `<dbpath>/<ident>.wt`, the metadata key
    /// `file:<ident>.wt`. With directoryPerDB it contains the database folder.
    pub ident: String,
    /// What the export writes as the collection's metadata: `options` without `uuid`, the
    /// UUID as 32 lowercase hex digits (`None` before MongoDB 3.6), the `spec` of every ready
    /// index, and `kind` (`collection` or `timeseries`).
    pub metadata: CollectionMetadata,
    /// The catalog record's RecordId.
    pub record_id: i64,
    /// `<dbpath>/<ident>.wt`.
    pub file: PathBuf,
    /// `key_format` of the collection's table (`q`: int64 RecordIds, `u`: clustered
    /// collections with KeyString keys); `None` when its metadata entry is missing.
    pub key_format: Option<String>,
    /// `(index name, ident)` pairs from `idxIdent`, in catalog order.
    pub index_idents: Vec<(String, String)>,
}

/// A catalog record: a collection, or something else (the feature document, entries without
/// a namespace or ident).
#[derive(Clone, Debug, PartialEq)]
pub enum CatalogRecord {
    /// A collection: the record has a string namespace (`ns` or `md.ns`) and a string
    /// `ident`.
    Collection(Box<CatalogEntry>),
    /// Any other record, as read: the feature document (`isFeatureDoc` true), or a record
    /// without a string namespace or ident.
    Other(Document),
}

/// Interprets one catalog document. `file` and `key_format` are left for the caller. The
/// error (for [`Error::BadCatalog`](crate::Error::BadCatalog)) names the field that is not
/// what a collection record needs: `md`, `options.uuid`, `md.indexes`, or the namespace.
pub fn parse_record(record_id: i64, doc: Document) -> Result<CatalogRecord, String> {
    if doc.get("isFeatureDoc").is_some_and(truthy) {
        return Ok(CatalogRecord::Other(doc));
    }
    let md = match doc.get("md") {
        Some(Bson::Document(md)) => Some(md),
        None | Some(Bson::Null) => None,
        Some(_) => return Err("`md` is not a document".into()),
    };
    let ns = match (doc.get("ns"), md.and_then(|m| m.get("ns"))) {
        (Some(Bson::String(s)), _) | (_, Some(Bson::String(s))) => s.clone(),
        _ => return Ok(CatalogRecord::Other(doc)),
    };
    let ident = match doc.get("ident") {
        Some(Bson::String(s)) => s.clone(),
        _ => return Ok(CatalogRecord::Other(doc)),
    };
    let ns = Namespace::parse(&ns).map_err(|e| e.to_string())?;
    let (mut options, mut uuid) = (Document::new(), None);
    if let Some(Bson::Document(opts)) = md.and_then(|m| m.get("options")) {
        for (k, v) in opts {
            if k == "uuid" {
                uuid = match v {
                    Bson::Binary(b)
                        if b.bytes.len() == 16
                            && matches!(
                                b.subtype,
                                BinarySubtype::Uuid | BinarySubtype::UuidOld
                            ) =>
                    {
                        Some(crate::format::btree::hex(&b.bytes))
                    }
                    other => return Err(format!("options.uuid is not a UUID: {other}")),
                };
            } else {
                options.insert(k.clone(), v.clone());
            }
        }
    }
    let mut indexes = Vec::new();
    if let Some(list) = md.and_then(|m| m.get("indexes")) {
        let Bson::Array(list) = list else {
            return Err("md.indexes is not an array".into());
        };
        for (i, ix) in list.iter().enumerate() {
            let Bson::Document(ix) = ix else {
                return Err(format!("md.indexes.{i} is not a document"));
            };
            if !ix.get("ready").is_some_and(truthy) {
                continue;
            }
            match ix.get("spec") {
                Some(Bson::Document(spec)) => indexes.push(spec.clone()),
                _ => return Err(format!("md.indexes.{i}.spec is not a document")),
            }
        }
    }
    let mut index_idents = Vec::new();
    if let Some(Bson::Document(map)) = doc.get("idxIdent") {
        for (name, v) in map {
            if let Bson::String(s) = v {
                index_idents.push((name.clone(), s.clone()));
            }
        }
    }
    let kind = if options.contains_key("timeseries") {
        "timeseries"
    } else {
        "collection"
    };
    Ok(CatalogRecord::Collection(Box::new(CatalogEntry {
        ns,
        ident,
        metadata: CollectionMetadata {
            options: Some(options),
            indexes,
            uuid,
            kind: Some(kind.to_string()),
        },
        record_id,
        file: PathBuf::new(),
        key_format: None,
        index_idents,
    })))
}

/// BSON truthiness as MongoDB's `BSONElement::trueValue`.
fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Boolean(b) => *b,
        Bson::Int32(n) => *n != 0,
        Bson::Int64(n) => *n != 0,
        Bson::Double(d) => *d != 0.0,
        Bson::Null | Bson::Undefined => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, Binary};

    fn uuid() -> Bson {
        Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: (0u8..16).collect(),
        })
    }

    #[test]
    fn modern_entry() {
        let d = doc! {
            "md": {
                "ns": "shop.orders",
                "options": { "uuid": uuid(), "capped": true, "size": 4096 },
                "indexes": [
                    { "spec": { "v": 2, "key": { "_id": 1 }, "name": "_id_" }, "ready": true, "multikey": false },
                    { "spec": { "v": 2, "key": { "a": 1 }, "name": "a_1" }, "ready": false },
                    { "spec": { "v": 2, "key": { "b": 1 }, "name": "b_1" }, "ready": true },
                ],
            },
            "idxIdent": { "_id_": "index-1-5", "a_1": "index-2-5", "b_1": "index-3-5" },
            "ns": "shop.orders",
            "ident": "collection-0-5",
        };
        let CatalogRecord::Collection(e) = parse_record(7, d).unwrap() else {
            panic!("not a collection")
        };
        assert_eq!(e.ns, Namespace::new("shop", "orders"));
        assert_eq!(e.ident, "collection-0-5");
        assert_eq!(e.record_id, 7);
        let m = &e.metadata;
        assert_eq!(m.uuid.as_deref(), Some("000102030405060708090a0b0c0d0e0f"));
        assert_eq!(m.options, Some(doc! { "capped": true, "size": 4096 }));
        let names: Vec<_> = m
            .indexes
            .iter()
            .map(|i| i.get_str("name").unwrap())
            .collect();
        assert_eq!(names, ["_id_", "b_1"]);
        assert_eq!(m.kind.as_deref(), Some("collection"));
        assert_eq!(e.index_idents.len(), 3);
    }

    #[test]
    fn feature_document_and_old_entries() {
        let f = doc! { "isFeatureDoc": true, "ns": Bson::Null, "nonRepairable": 0i64, "repairable": 1i64 };
        assert!(matches!(
            parse_record(1, f).unwrap(),
            CatalogRecord::Other(_)
        ));
        // 3.4: no top-level ns, no uuid; time-series kind from the options.
        let d = doc! { "md": { "ns": "a.b", "options": { "timeseries": { "timeField": "t" } } }, "ident": "collection-2-9" };
        let CatalogRecord::Collection(e) = parse_record(2, d).unwrap() else {
            panic!()
        };
        assert_eq!(e.ns.to_string(), "a.b");
        assert_eq!(e.metadata.uuid, None);
        assert_eq!(e.metadata.kind.as_deref(), Some("timeseries"));
        assert!(e.metadata.indexes.is_empty());
        let no_ident = doc! { "ns": "a.b" };
        assert!(matches!(
            parse_record(3, no_ident).unwrap(),
            CatalogRecord::Other(_)
        ));
        let bad = doc! { "ns": "a.b", "ident": "x", "md": { "options": { "uuid": 5 } } };
        assert!(parse_record(4, bad).is_err());
        let bad_ns = doc! { "ns": "nodot", "ident": "x" };
        assert!(parse_record(5, bad_ns).is_err());
    }
}
