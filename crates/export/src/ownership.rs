//! Orphaned documents: which shard owns a document, by the config server's chunk table.
//!
//! A shard's backup can hold documents that a chunk migration left behind: the shard no
//! longer owns them, and another shard holds the live copy. With the config server's
//! `config.collections`, `config.chunks` and `config.shards`, [`Ownership`] tells for each
//! document of a sharded collection whether the shard it was read from owns it:
//!
//! - the shard key is read from the document by its dotted paths (a missing field is `null`);
//!   a `hashed` field is replaced by MongoDB's hash of its value ([`hash64`], checked against
//!   the server's own test vectors);
//! - the chunk whose `[min, max)` holds the key is found in MongoDB's BSON comparison order
//!   ([`compare`]: `MinKey` < `null` < numbers < strings < objects < arrays < binary < ObjectId
//!   < booleans < dates < timestamps < regexes < … < `MaxKey`, numbers by value across types);
//! - the document is owned when that chunk's `shard` is the shard it was read from, by the
//!   shard's id in `config.shards` or its replica-set name (`host: "rs1/h:27018,…"`).
//!
//! Collections that `config.collections` does not list (unsharded ones) are owned wholly by
//! whichever shard holds them.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Mutex;

use bson::{Bson, Document, RawDocument};
use md5::{Digest, Md5};

use bsonflow_model::{
    CollectionMetadata, CollectionWriter, DocumentSink, Failure, Namespace, SinkError, SkipReason,
};

/// One field of a shard key pattern.
#[derive(Clone, Debug, PartialEq)]
enum KeyField {
    /// A ranged field (`1` or `-1`: the chunk table orders by value either way).
    Ranged(String),
    /// A `hashed` field: its value's [`hash64`] is what chunks are cut on.
    Hashed(String),
}

/// One chunk: `[min, max)` of the shard key, and the shard that owns it, by its id and, when
/// `config.shards` gives it, its replica-set name.
#[derive(Clone, Debug)]
struct Chunk {
    min: Vec<Bson>,
    max: Vec<Bson>,
    shard: String,
    replica_set: Option<String>,
}

/// A sharded collection's key pattern and chunks (sorted by `min`).
#[derive(Clone, Debug)]
pub struct CollectionOwnership {
    key: Vec<KeyField>,
    chunks: Vec<Chunk>,
}

impl CollectionOwnership {
    /// Whether shard `shard` owns `doc` (raw BSON). A document whose key falls in no chunk
    /// (a gap in the table) is kept: the table does not say it belongs elsewhere.
    pub fn owns(&self, shard: &str, doc: &[u8]) -> bool {
        let Ok(raw) = RawDocument::from_bytes(doc) else {
            return true;
        };
        let key: Vec<Bson> = self
            .key
            .iter()
            .map(|f| match f {
                KeyField::Ranged(path) => field(raw, path),
                KeyField::Hashed(path) => Bson::Int64(hash64(&field(raw, path))),
            })
            .collect();
        // The last chunk whose min <= key.
        let at = self
            .chunks
            .partition_point(|c| compare_keys(&c.min, &key) != Ordering::Greater);
        let Some(chunk) = at.checked_sub(1).map(|i| &self.chunks[i]) else {
            return true;
        };
        if compare_keys(&key, &chunk.max) != Ordering::Less {
            return true;
        }
        chunk.shard == shard || chunk.replica_set.as_deref() == Some(shard)
    }
}

/// The chunk table of every sharded collection, read from a config server's backup.
#[derive(Clone, Debug, Default)]
pub struct Ownership {
    collections: BTreeMap<Namespace, CollectionOwnership>,
}

impl Ownership {
    /// The ownership of `ns`, when it is sharded.
    pub fn of(&self, ns: &Namespace) -> Option<&CollectionOwnership> {
        self.collections.get(ns)
    }

    /// How many sharded collections the table knows.
    pub fn len(&self) -> usize {
        self.collections.len()
    }

    /// Whether the table knows no sharded collection.
    pub fn is_empty(&self) -> bool {
        self.collections.is_empty()
    }

    /// Builds the table from the documents of `config.collections`, `config.chunks` and
    /// `config.shards`. Chunks name their collection by `ns` (before MongoDB 5.0) or by `uuid`.
    pub fn from_config(
        collections: &[Document],
        chunks: &[Document],
        shards: &[Document],
    ) -> Result<Ownership, String> {
        // Shard id -> replica-set name ("rs1/host:port,…").
        let mut aliases = BTreeMap::new();
        for s in shards {
            if let (Ok(id), Ok(host)) = (s.get_str("_id"), s.get_str("host")) {
                if let Some((rs, _)) = host.split_once('/') {
                    aliases.insert(id.to_string(), rs.to_string());
                }
            }
        }
        let mut by_uuid = BTreeMap::new();
        let mut out = Ownership::default();
        for c in collections {
            if c.get_bool("dropped").unwrap_or(false) {
                continue;
            }
            let Ok(id) = c.get_str("_id") else { continue };
            let Ok(ns) = Namespace::parse(id) else {
                continue;
            };
            let Ok(pattern) = c.get_document("key") else {
                continue;
            };
            let key = pattern
                .iter()
                .map(|(name, kind)| match kind {
                    Bson::String(s) if s == "hashed" => Ok(KeyField::Hashed(name.clone())),
                    Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => {
                        Ok(KeyField::Ranged(name.clone()))
                    }
                    other => Err(format!(
                        "{ns}: shard key field {name}: {other} is not 1, -1 or \"hashed\""
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if let Some(uuid) = c.get("uuid") {
                by_uuid.insert(uuid.to_string(), ns.clone());
            }
            out.collections.insert(
                ns,
                CollectionOwnership {
                    key,
                    chunks: Vec::new(),
                },
            );
        }
        for chunk in chunks {
            let ns = match (chunk.get_str("ns"), chunk.get("uuid")) {
                (Ok(ns), _) => Namespace::parse(ns).ok(),
                (_, Some(uuid)) => by_uuid.get(&uuid.to_string()).cloned(),
                _ => None,
            };
            let Some(coll) = ns.and_then(|ns| out.collections.get_mut(&ns)) else {
                continue;
            };
            let (Ok(min), Ok(max), Ok(shard)) = (
                chunk.get_document("min"),
                chunk.get_document("max"),
                chunk.get_str("shard"),
            ) else {
                return Err(format!(
                    "a config.chunks document without min, max or shard: {chunk}"
                ));
            };
            coll.chunks.push(Chunk {
                min: min.values().cloned().collect(),
                max: max.values().cloned().collect(),
                shard: shard.to_string(),
                replica_set: aliases.get(shard).cloned(),
            });
        }
        for coll in out.collections.values_mut() {
            coll.chunks.sort_by(|a, b| compare_keys(&a.min, &b.min));
        }
        // A sharded collection without a chunk says nothing about its documents.
        out.collections.retain(|_, c| !c.chunks.is_empty());
        Ok(out)
    }
}

/// The value at dotted `path` in `doc`; `null` when absent (as the server reads a shard key).
fn field(doc: &RawDocument, path: &str) -> Bson {
    let mut current = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Ok(Some(value)) = current.get(part) else {
            return Bson::Null;
        };
        if parts.peek().is_none() {
            return Bson::try_from(value).unwrap_or(Bson::Null);
        }
        match value.as_document() {
            Some(d) => current = d,
            None => return Bson::Null,
        }
    }
    Bson::Null
}

/// MongoDB's canonical type order (`canonicalizeBSONType`), used for comparing and hashing.
fn canonical_type(v: &Bson) -> i32 {
    match v {
        Bson::MinKey => -1,
        Bson::Undefined => 0,
        Bson::Null => 5,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => 10,
        Bson::String(_) | Bson::Symbol(_) => 15,
        Bson::Document(_) => 20,
        Bson::Array(_) => 25,
        Bson::Binary(_) => 30,
        Bson::ObjectId(_) => 35,
        Bson::Boolean(_) => 40,
        Bson::DateTime(_) => 45,
        Bson::Timestamp(_) => 47,
        Bson::RegularExpression(_) => 50,
        Bson::DbPointer(_) => 55,
        Bson::JavaScriptCode(_) => 60,
        Bson::JavaScriptCodeWithScope(_) => 65,
        Bson::MaxKey => 127,
    }
}

/// A number as `f64` for comparing across numeric types (decimals through their text).
fn number(v: &Bson) -> f64 {
    match v {
        Bson::Double(d) => *d,
        Bson::Int32(i) => f64::from(*i),
        Bson::Int64(i) => *i as f64,
        Bson::Decimal128(d) => d.to_string().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

/// Two shard-key tuples, field by field.
fn compare_keys(a: &[Bson], b: &[Bson]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = compare(x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// MongoDB's BSON comparison order (without collation): by canonical type, then by value.
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    let (ta, tb) = (canonical_type(a), canonical_type(b));
    if ta != tb {
        return ta.cmp(&tb);
    }
    match (a, b) {
        (Bson::String(x) | Bson::Symbol(x), Bson::String(y) | Bson::Symbol(y)) => {
            x.as_bytes().cmp(y.as_bytes())
        }
        (Bson::Document(x), Bson::Document(y)) => compare_documents(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = compare(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then(u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then(x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => {
            (x.time, x.increment).cmp(&(y.time, y.increment))
        }
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => x
            .pattern
            .as_str()
            .as_bytes()
            .cmp(y.pattern.as_str().as_bytes())
            .then(
                x.options
                    .as_str()
                    .as_bytes()
                    .cmp(y.options.as_str().as_bytes()),
            ),
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.as_bytes().cmp(y.as_bytes()),
        _ if ta == 10 => {
            let (x, y) = (number(a), number(b));
            // NaN sorts before every other number.
            match (x.is_nan(), y.is_nan()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            }
        }
        _ => Ordering::Equal,
    }
}

fn compare_documents(x: &Document, y: &Document) -> Ordering {
    for ((kx, vx), (ky, vy)) in x.iter().zip(y.iter()) {
        let o = canonical_type(vx)
            .cmp(&canonical_type(vy))
            .then_with(|| kx.as_bytes().cmp(ky.as_bytes()))
            .then_with(|| compare(vx, vy));
        if o != Ordering::Equal {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

/// MongoDB's `safeNumberLong`: NaN is 0, values beyond `i64` saturate, fractions truncate.
fn safe_long(v: &Bson) -> i64 {
    match v {
        Bson::Int32(i) => i64::from(*i),
        Bson::Int64(i) => *i,
        _ => {
            let d = number(v);
            if d.is_nan() {
                0
            } else if d >= 9_223_372_036_854_775_807.0 {
                i64::MAX
            } else if d < -9_223_372_036_854_775_808.0 {
                i64::MIN
            } else {
                d.trunc() as i64
            }
        }
    }
}

/// MongoDB's hash of a value for a `hashed` shard key (`BSONElementHasher::hash64` with seed
/// 0): MD5 over the seed, the value's canonical type and its bytes (numbers as a 64-bit
/// integer, sub-documents element by element with their names); the digest's first 8 bytes
/// as a little-endian `i64`.
pub fn hash64(value: &Bson) -> i64 {
    let mut h = Md5::new();
    h.update(0i32.to_le_bytes());
    hash_into(&mut h, value, None);
    let d = h.finalize();
    i64::from_le_bytes(d[..8].try_into().expect("an MD5 digest has 16 bytes"))
}

fn hash_into(h: &mut Md5, v: &Bson, name: Option<&str>) {
    // The hasher gives a timestamp a date's type (the server's vectors: a timestamp hashes as
    // the date with the same 8 bytes), though timestamps sort after dates.
    let kind = match v {
        Bson::Timestamp(_) => 45,
        other => canonical_type(other),
    };
    h.update(kind.to_le_bytes());
    if let Some(name) = name {
        h.update(name.as_bytes());
        h.update([0]);
    }
    let string = |h: &mut Md5, s: &str| {
        h.update(((s.len() + 1) as i32).to_le_bytes());
        h.update(s.as_bytes());
        h.update([0]);
    };
    match v {
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => {
            h.update(safe_long(v).to_le_bytes())
        }
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => string(h, s),
        Bson::Document(d) => {
            for (k, x) in d {
                hash_into(h, x, Some(k));
            }
            end_of_object(h);
        }
        Bson::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                hash_into(h, x, Some(&i.to_string()));
            }
            end_of_object(h);
        }
        Bson::JavaScriptCodeWithScope(c) => {
            for (k, x) in &c.scope {
                hash_into(h, x, Some(k));
            }
            end_of_object(h);
        }
        Bson::Binary(b) => {
            h.update((b.bytes.len() as i32).to_le_bytes());
            h.update([u8::from(b.subtype)]);
            h.update(&b.bytes);
        }
        Bson::ObjectId(o) => h.update(o.bytes()),
        Bson::Boolean(b) => h.update([u8::from(*b)]),
        Bson::DateTime(d) => h.update(d.timestamp_millis().to_le_bytes()),
        Bson::Timestamp(t) => {
            h.update(((u64::from(t.time) << 32) | u64::from(t.increment)).to_le_bytes())
        }
        Bson::RegularExpression(r) => {
            h.update(r.pattern.as_str().as_bytes());
            h.update([0]);
            h.update(r.options.as_str().as_bytes());
            h.update([0]);
        }
        Bson::DbPointer(_) | Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => {}
    }
}

/// The server hashes a sub-object's terminating EOO element too: its canonical type, 0,
/// and nothing else (no name, no value).
fn end_of_object(h: &mut Md5) {
    h.update(0i32.to_le_bytes());
}

/// A [`DocumentSink`] that keeps the documents of `config.collections`, `config.chunks` and
/// `config.shards` from a config server's backup (any input kind), for
/// [`Ownership::from_config`].
#[derive(Default)]
pub struct ConfigCollector {
    docs: Mutex<BTreeMap<String, Vec<Document>>>,
    failures: Mutex<Vec<String>>,
}

const CONFIG_COLLECTIONS: [&str; 3] = ["collections", "chunks", "shards"];

impl ConfigCollector {
    /// The chunk table, or why it cannot be built (the reader failed, or the backup holds no
    /// `config.collections`).
    pub fn into_ownership(self) -> Result<Ownership, String> {
        let failures = self
            .failures
            .into_inner()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(f) = failures.first() {
            return Err(f.clone());
        }
        let mut docs = self.docs.into_inner().unwrap_or_else(|e| e.into_inner());
        if !docs.contains_key("collections") {
            return Err("it holds no config.collections: is it a config server's backup?".into());
        }
        let take = |docs: &mut BTreeMap<String, Vec<Document>>, k: &str| {
            docs.remove(k).unwrap_or_default()
        };
        let (c, k, s) = (
            take(&mut docs, "collections"),
            take(&mut docs, "chunks"),
            take(&mut docs, "shards"),
        );
        Ownership::from_config(&c, &k, &s)
    }
}

/// The writer of one config collection.
pub struct ConfigWriter<'s> {
    sink: &'s ConfigCollector,
    name: String,
    docs: Vec<Document>,
}

impl CollectionWriter for ConfigWriter<'_> {
    fn set_origin(&mut self, _: &str) {}

    fn write_document(&mut self, doc: &[u8], offset: u64) -> Result<(), SinkError> {
        let d = RawDocument::from_bytes(doc)
            .ok()
            .and_then(|r| Document::try_from(r).ok())
            .ok_or_else(|| -> SinkError {
                format!(
                    "config.{}: the document at byte {offset} cannot be read",
                    self.name
                )
                .into()
            })?;
        self.docs.push(d);
        Ok(())
    }

    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError> {
        Err(format!("config.{}: at byte {offset}: {detail}", self.name).into())
    }

    fn finish(self) -> Result<(), SinkError> {
        self.sink
            .docs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(self.name, self.docs);
        Ok(())
    }
}

impl DocumentSink for ConfigCollector {
    type Writer<'s>
        = ConfigWriter<'s>
    where
        Self: 's;

    fn wants(&self, ns: &Namespace, _: &CollectionMetadata) -> Result<(), SkipReason> {
        match ns.db == "config" && CONFIG_COLLECTIONS.contains(&ns.collection.as_str()) {
            true => Ok(()),
            false => Err(SkipReason::NotIncluded),
        }
    }

    fn open(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<ConfigWriter<'_>>, SinkError> {
        if self.wants(ns, meta).is_err() {
            return Ok(None);
        }
        Ok(Some(ConfigWriter {
            sink: self,
            name: ns.collection.clone(),
            docs: Vec::new(),
        }))
    }

    fn update_metadata(&self, _: &Namespace, _: &CollectionMetadata) -> Result<(), SinkError> {
        Ok(())
    }

    fn fail(&self, _: Option<&Namespace>, failure: Failure) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(failure.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::spec::BinarySubtype;
    use bson::{doc, oid::ObjectId, Binary, Timestamp};

    /// MongoDB's own test vectors for `BSONElementHasher::hash64(e, 0)`
    /// (src/mongo/db/hasher_test.cpp, "determined experimentally").
    /// A regex value, through its Extended JSON form (the bson crate builds one only so).
    fn regex(pattern: &str, options: &str) -> Bson {
        let v = serde_json::json!({"$regularExpression": {"pattern": pattern, "options": options}});
        Bson::try_from(v).unwrap()
    }

    #[test]
    fn hashes_equal_mongodbs_test_vectors() {
        let bin = |subtype, bytes: &[u8]| {
            Bson::Binary(Binary {
                subtype,
                bytes: bytes.to_vec(),
            })
        };
        let cases: Vec<(Bson, i64)> = vec![
            (Bson::Int32(42), -944302157085130861),
            (Bson::Double(42.123), -944302157085130861),
            (Bson::Int64(42), -944302157085130861),
            (Bson::Int32(0), 4854801880128277513),
            (Bson::Double(0.456), 4854801880128277513),
            (Bson::Double(f64::NAN), 4854801880128277513),
            (Bson::Int32(1), 5902408780260971510),
            (Bson::Double(-1.789), 1140205862565771219),
            (Bson::Int32(i32::MIN), 6165898260261354870),
            (Bson::Double(f64::from(i32::MAX)), 1143184177162245883),
            (Bson::Double(f64::MAX), 921523596458303250),
            (Bson::Int64(i64::MAX), 921523596458303250),
            (Bson::Double(-f64::MAX), 4532067210535695462),
            (Bson::Int64(i64::MIN), 4532067210535695462),
            (Bson::MinKey, 7961148599568647290),
            (Bson::MaxKey, 5504842513779440750),
            (Bson::Undefined, 40158834000849533),
            (Bson::Null, 2338878944348059895),
            (Bson::String("abc".into()), 8478485326885698097),
            (Bson::Symbol("abc".into()), 8478485326885698097),
            (Bson::String(String::new()), 2049396243249673340),
            (
                Bson::Document(doc! {"a": "abc", "b": 123i64}),
                4771603801758380216,
            ),
            (Bson::Document(doc! {}), 7980500913326740417),
            (
                Bson::Array(vec!["bar".into(), "baz".into(), "qux".into()]),
                -2938911267422831539,
            ),
            (Bson::Array(vec![]), 8849948234993459283),
            (
                bin(BinarySubtype::Generic, &[0, 1, 2, 3, 4, 6]),
                7252465090394235301,
            ),
            (
                bin(BinarySubtype::UserDefined(0x80), &[0, 1, 2, 3, 4, 6]),
                5736670452907618262,
            ),
            (
                bin(BinarySubtype::Uuid, &(0..16).collect::<Vec<u8>>()),
                6084661258071355978,
            ),
            (
                Bson::ObjectId(ObjectId::parse_str("010203040506070809101112").unwrap()),
                -5588663249627035708,
            ),
            (
                Bson::ObjectId(ObjectId::parse_str("000000000000000000000000").unwrap()),
                -4293118519463489418,
            ),
            (Bson::Boolean(true), 6405873908747105701),
            (Bson::Boolean(false), 6289544573401934092),
            (
                Bson::DateTime(bson::DateTime::from_millis(0x5566778811223344)),
                4476222765095560467,
            ),
            (
                Bson::DateTime(bson::DateTime::from_millis(0)),
                -1178696894582842035,
            ),
            (regex("mongodb", ""), -7275792090268217043),
            (regex(".*", "i"), 7095855029187981886),
            (
                Bson::JavaScriptCode("func f() { return 1; }".into()),
                6861638109178014270,
            ),
        ];
        for (value, want) in cases {
            assert_eq!(hash64(&value), want, "{value:?}");
        }
        // A timestamp hashes as the date with the same 8 bytes (the vectors say so).
        let ts = |time, increment| Bson::Timestamp(Timestamp { time, increment });
        assert_eq!(hash64(&ts(0x5566_7788, 0x1122_3344)), 4476222765095560467);
        assert_eq!(hash64(&ts(0, 0)), -1178696894582842035);
    }

    #[test]
    fn bson_order_across_types_and_numbers() {
        let ordered = [
            Bson::MinKey,
            Bson::Null,
            Bson::Double(f64::NAN),
            Bson::Int32(-5),
            Bson::Double(1.5),
            Bson::Int64(2),
            Bson::String("a".into()),
            Bson::String("ab".into()),
            Bson::String("b".into()),
            Bson::Document(doc! {"a": 1}),
            Bson::Array(vec![]),
            Bson::ObjectId(ObjectId::parse_str("000000000000000000000001").unwrap()),
            Bson::Boolean(false),
            Bson::Boolean(true),
            Bson::DateTime(bson::DateTime::from_millis(-1)),
            Bson::DateTime(bson::DateTime::from_millis(5)),
            Bson::MaxKey,
        ];
        for w in ordered.windows(2) {
            assert_eq!(
                compare(&w[0], &w[1]),
                Ordering::Less,
                "{:?} < {:?}",
                w[0],
                w[1]
            );
            assert_eq!(compare(&w[1], &w[0]), Ordering::Greater);
        }
        assert_eq!(
            compare(&Bson::Int32(2), &Bson::Double(2.0)),
            Ordering::Equal
        );
    }

    fn table(key: Document, chunks: Vec<(Document, Document, &str)>) -> Ownership {
        let uuid = bin_uuid();
        let collections = vec![doc! {"_id": "shop.orders", "key": key, "uuid": uuid.clone()}];
        let chunks: Vec<Document> = chunks
            .into_iter()
            .map(|(min, max, shard)| doc! {"uuid": uuid.clone(), "min": min, "max": max, "shard": shard})
            .collect();
        let shards = vec![
            doc! {"_id": "shard01", "host": "rsA/h1:27018,h2:27018"},
            doc! {"_id": "shard02", "host": "rsB/h3:27018"},
        ];
        Ownership::from_config(&collections, &chunks, &shards).unwrap()
    }

    fn bin_uuid() -> Bson {
        Bson::Binary(Binary {
            subtype: BinarySubtype::Uuid,
            bytes: vec![7; 16],
        })
    }

    fn raw(d: Document) -> Vec<u8> {
        d.to_vec().unwrap()
    }

    #[test]
    fn ranged_chunks_with_minkey_and_maxkey_bounds() {
        let t = table(
            doc! {"k": 1},
            vec![
                (doc! {"k": Bson::MinKey}, doc! {"k": 100}, "shard01"),
                (doc! {"k": 100}, doc! {"k": Bson::MaxKey}, "shard02"),
            ],
        );
        let o = t.of(&Namespace::new("shop", "orders")).unwrap();
        for (k, owner) in [
            (Bson::Int32(-7), "rsA"),
            (Bson::Double(99.5), "rsA"),
            (Bson::Int64(100), "rsB"),
            (Bson::String("x".into()), "rsB"),
            (Bson::Null, "rsA"),
        ] {
            let d = raw(doc! {"_id": 1, "k": k.clone()});
            assert!(o.owns(owner, &d), "{k:?} is {owner}'s");
            let other = if owner == "rsA" { "rsB" } else { "rsA" };
            assert!(!o.owns(other, &d), "{k:?} is not {other}'s");
            assert!(o.owns(if owner == "rsA" { "shard01" } else { "shard02" }, &d));
        }
        // A missing key field is null: the lowest chunk after MinKey.
        assert!(o.owns("rsA", &raw(doc! {"_id": 2})));
        assert!(t.of(&Namespace::new("shop", "users")).is_none());
    }

    #[test]
    fn hashed_keys_are_placed_by_their_hash_and_dotted_paths_are_followed() {
        let t = table(
            doc! {"user.id": "hashed"},
            vec![
                (
                    doc! {"user.id": Bson::MinKey},
                    doc! {"user.id": 0i64},
                    "shard01",
                ),
                (
                    doc! {"user.id": 0i64},
                    doc! {"user.id": Bson::MaxKey},
                    "shard02",
                ),
            ],
        );
        let o = t.of(&Namespace::new("shop", "orders")).unwrap();
        // hash64(42) < 0, hash64(0) > 0 (MongoDB's vectors above).
        assert!(o.owns("rsA", &raw(doc! {"user": {"id": 42}})));
        assert!(!o.owns("rsB", &raw(doc! {"user": {"id": 42}})));
        assert!(o.owns("rsB", &raw(doc! {"user": {"id": 0}})));
    }
}
