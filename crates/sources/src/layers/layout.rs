//! Where a BSON set keeps its collections: what a path inside a mongodump folder, an
//! ApsaraDB cloud BSON download or a tar of either means.
//!
//! Two layouts, recognised from the end of the path so that any leading folders are
//! accepted:
//!
//! - mongodump: `…/<db>/<coll>.bson` (also `.bson.gz`, `.bson.zst`) with
//!   `…/<db>/<coll>.metadata.json` (also `.metadata.json.gz`);
//! - ApsaraDB cloud download: `…/<db>/<coll>/data/<coll>_<N>_part<M>.bson`, the parts of one
//!   collection concatenated in numeric `(N, M)` order, with an optional
//!   `…/<db>/<coll>/<coll>.metadata.json` or `…/<db>/<coll>.metadata.json`.
//!
//! mongodump percent-encodes file names that hold characters a file system may not accept
//! (`%2F` for `/`); names are decoded here, and the skip rules then see the real name.
//! Whether a file is compressed is decided later from its bytes; the suffix is only removed.

use bsonflow_model::Namespace;

/// What one path of a BSON set holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetEntry {
    /// Documents of `ns`; `part` is `(N, M)` for a cloud-download part.
    Data {
        /// The collection, decoded from the `<db>` and `<coll>` names of the path.
        ns: Namespace,
        /// `(N, M)` of a cloud part `<coll>_<N>_part<M>.bson`; `None` for a mongodump
        /// `<coll>.bson`.
        part: Option<(u64, u64)>,
    },
    /// A mongodump metadata document for `ns`. `cloud` when it sits in the collection's own
    /// folder (`<db>/<coll>/<coll>.metadata.json`), which only counts when that folder also
    /// holds a `data/` folder of parts.
    Metadata {
        /// The collection; for a `cloud` entry, the cloud reading `db.coll`, which
        /// [`metadata_without_parts`] turns into the mongodump one when there are no parts.
        ns: Namespace,
        /// The file sits in its collection's own folder (`<db>/<coll>/<coll>.metadata.json`).
        cloud: bool,
    },
}

/// Strips one of `suffixes` (the first that matches) from `name`.
fn strip_any<'a>(name: &'a str, suffixes: &[&str]) -> Option<&'a str> {
    suffixes.iter().find_map(|s| name.strip_suffix(s))
}

const BSON_SUFFIXES: [&str; 3] = [".bson", ".bson.gz", ".bson.zst"];
const METADATA_SUFFIXES: [&str; 3] = [".metadata.json", ".metadata.json.gz", ".metadata.json.zst"];

/// Classifies a relative path given as its components (`["dump", "shop", "orders.bson"]`).
/// Returns `None` for paths that are not part of a BSON set (e.g. `prelude.json`,
/// `oplog.bson` at the top of a dump) — the caller decides whether to mention them.
pub fn classify(components: &[&str]) -> Option<SetEntry> {
    let (&file, dirs) = components.split_last()?;
    // Cloud layout: <db>/<coll>/data/<coll>_<N>_part<M>.bson
    if let [.., db, coll, "data"] = dirs {
        if let Some(part) = cloud_part(file, coll) {
            return Some(SetEntry::Data {
                ns: Namespace::new(decode_name(db)?, decode_name(coll)?),
                part: Some(part),
            });
        }
    }
    let db = *dirs.last()?;
    if let Some(stem) = strip_any(file, &METADATA_SUFFIXES) {
        if stem.is_empty() {
            return None;
        }
        // <db>/<coll>/<coll>.metadata.json: a cloud collection folder (confirmed by the caller).
        let cloud = dirs.len() >= 2 && decode_name(stem) == decode_name(db);
        let ns = if cloud {
            Namespace::new(decode_name(dirs[dirs.len() - 2])?, decode_name(stem)?)
        } else {
            Namespace::new(decode_name(db)?, decode_name(stem)?)
        };
        return Some(SetEntry::Metadata { ns, cloud });
    }
    let stem = strip_any(file, &BSON_SUFFIXES)?;
    if stem.is_empty() {
        return None;
    }
    Some(SetEntry::Data {
        ns: Namespace::new(decode_name(db)?, decode_name(stem)?),
        part: None,
    })
}

/// The one reinterpretation rule of a BSON set, applied by the folder and the tar readers
/// alike: `<db>/<coll>/<coll>.metadata.json` ([`SetEntry::Metadata`] with `cloud: true`,
/// classified as `db.coll`) is the metadata of cloud collection `db.coll` only when parts of
/// `db.coll` exist; otherwise it is mongodump metadata of collection `coll` in the database
/// folder `coll`, which this returns.
pub fn metadata_without_parts(cloud_ns: &Namespace) -> Namespace {
    Namespace::new(cloud_ns.collection.clone(), cloud_ns.collection.clone())
}

/// Parses `<coll>_<N>_part<M>.bson` for the collection folder `coll` (also with `.gz`/`.zst`).
pub fn cloud_part(file: &str, coll: &str) -> Option<(u64, u64)> {
    let stem = strip_any(file, &BSON_SUFFIXES)?;
    let (rest, m) = stem.rsplit_once("_part")?;
    let (prefix, n) = rest.rsplit_once('_')?;
    if prefix != coll || !is_number(n) || !is_number(m) {
        return None;
    }
    Some((n.parse().ok()?, m.parse().ok()?))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Decodes mongodump's percent-encoding of a name (`%2F` → `/`). Returns `None` when the
/// result is not UTF-8.
pub fn decode_name(name: &str) -> Option<String> {
    if !name.contains('%') {
        return Some(name.to_string());
    }
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Exactly two hex digits (`from_str_radix` alone would also take `+F`).
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by reading the `layout` fuzz target: `%+F` is not an escape.
    #[test]
    fn only_two_hex_digits_make_an_escape() {
        assert_eq!(decode_name("a%+Fb").as_deref(), Some("a%+Fb"));
        assert_eq!(decode_name("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(decode_name("a%2").as_deref(), Some("a%2"));
    }

    fn c(path: &str) -> Option<SetEntry> {
        classify(&path.split('/').collect::<Vec<_>>())
    }

    fn data(db: &str, coll: &str, part: Option<(u64, u64)>) -> Option<SetEntry> {
        Some(SetEntry::Data {
            ns: Namespace::new(db, coll),
            part,
        })
    }

    #[test]
    fn mongodump_layout() {
        assert_eq!(c("dump/shop/orders.bson"), data("shop", "orders", None));
        assert_eq!(c("shop/orders.bson.gz"), data("shop", "orders", None));
        assert_eq!(
            c("a/b/shop/system.buckets.w.bson"),
            data("shop", "system.buckets.w", None)
        );
        assert_eq!(
            c("dump/shop/orders.metadata.json"),
            Some(SetEntry::Metadata {
                ns: Namespace::new("shop", "orders"),
                cloud: false
            })
        );
        assert_eq!(c("dump/shop/a%2Fb.bson"), data("shop", "a/b", None));
        assert_eq!(
            c("orders.bson"),
            None,
            "a loose file has no database folder"
        );
        assert_eq!(c("dump/prelude.json"), None);
        assert_eq!(c("dump/shop/.bson"), None);
    }

    #[test]
    fn cloud_layout() {
        assert_eq!(
            c("x/myDatabase/myCollection/data/myCollection_0_part0.bson"),
            data("myDatabase", "myCollection", Some((0, 0)))
        );
        assert_eq!(
            c("db/my_coll_2/data/my_coll_2_10_part3.bson"),
            data("db", "my_coll_2", Some((10, 3)))
        );
        // A file in data/ that does not follow the pattern is a mongodump file of db "data".
        assert_eq!(c("db/coll/data/other.bson"), data("data", "other", None));
        assert_eq!(
            c("db/coll/coll.metadata.json"),
            Some(SetEntry::Metadata {
                ns: Namespace::new("db", "coll"),
                cloud: true
            })
        );
    }

    #[test]
    fn part_numbers_sort_numerically() {
        let mut parts = [(10, 0), (2, 0), (2, 11), (2, 3)];
        parts.sort();
        assert_eq!(parts, [(2, 0), (2, 3), (2, 11), (10, 0)]);
        assert_eq!(cloud_part("c_2_part11.bson", "c"), Some((2, 11)));
        assert_eq!(cloud_part("c_x_part1.bson", "c"), None);
        assert_eq!(cloud_part("d_1_part1.bson", "c"), None);
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(decode_name("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(decode_name("100%").as_deref(), Some("100%"));
        assert_eq!(decode_name("a%zzb").as_deref(), Some("a%zzb"));
        assert_eq!(decode_name("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(decode_name("%ff"), None);
    }
}
