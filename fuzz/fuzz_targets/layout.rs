//! `bsonflow_sources::layers::layout`: `classify` on the `/`-separated components of the input
//! (taken as UTF-8, invalid bytes replaced), `cloud_part` on its last two components and
//! `decode_name` on each. A part number that `classify` reports must be the one `cloud_part`
//! reads from the same names, and `cloud_part` must read back the numbers it returned.
#![no_main]

use bsonflow_sources::layers::layout::{classify, cloud_part, decode_name, SetEntry};
use libfuzzer_sys::fuzz_target;

fn check_part(file: &str, coll: &str) -> Option<(u64, u64)> {
    let part = cloud_part(file, coll)?;
    let (n, m) = part;
    let canonical = format!("{coll}_{n}_part{m}.bson");
    assert_eq!(cloud_part(&canonical, coll), Some(part), "{canonical:?}");
    Some(part)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let components: Vec<&str> = text.split('/').collect();
    for c in &components {
        if let Some(decoded) = decode_name(c) {
            assert!(decoded.len() <= c.len(), "decoding made {c:?} longer");
            if !c.contains('%') {
                assert_eq!(decoded, *c);
            }
        }
    }
    let file = components[components.len() - 1];
    let coll = components.len().checked_sub(2).map_or("", |i| components[i]);
    check_part(file, coll);
    match classify(&components) {
        Some(SetEntry::Data {
            ns,
            part: Some(part),
        }) => {
            let n = components.len();
            assert!(n >= 4, "a cloud part needs <db>/<coll>/data/<file>");
            assert_eq!(components[n - 2], "data");
            assert_eq!(check_part(file, components[n - 3]), Some(part));
            assert_eq!(decode_name(components[n - 3]).as_deref(), Some(ns.collection.as_str()));
            assert_eq!(decode_name(components[n - 4]).as_deref(), Some(ns.db.as_str()));
        }
        Some(SetEntry::Data { ns, part: None }) => {
            let _ = ns.to_string();
        }
        Some(SetEntry::Metadata { ns, cloud }) => {
            let _ = (ns.to_string(), cloud);
        }
        None => {}
    }
});
