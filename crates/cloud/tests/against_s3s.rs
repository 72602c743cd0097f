//! The object-storage pieces against a real S3 server (`s3s-fs`): the range reader, the
//! prefix store and the export target, each with its edge (create-only `.complete`,
//! refusal of a prefix that holds other files, tidying of an earlier export).

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::sync::Arc;

use bsonflow_cloud::{ConnectOptions, Environment, Remote, RemoteTarget, Url};
use bsonflow_export::Target;
use bsonflow_testkit::s3::S3Server;

struct Env(HashMap<&'static str, String>);

impl Environment for Env {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

fn connect(s: &S3Server, url: &str) -> Arc<Remote> {
    let env = Env(HashMap::from([
        ("AWS_ACCESS_KEY_ID", s.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", s.secret_key.clone()),
    ]));
    let options = ConnectOptions {
        endpoint: Some(s.endpoint()),
        ..ConnectOptions::default()
    };
    Remote::connect_with_env(&Url::parse(url).unwrap().unwrap(), &options, &env).unwrap()
}

#[test]
fn complete_is_created_once_and_another_runs_marker_is_never_overwritten() {
    let Some(s) = S3Server::start() else { return };
    let lake = s.bucket("lake");
    let (target, earlier) = RemoteTarget::claim(connect(&s, "s3://lake/exp/")).unwrap();
    assert!(!earlier);
    target.put("shop/orders/rs0.0.json.gz", b"data").unwrap();
    target.put_complete(b"{\"ours\":1}").unwrap();
    // A retried PUT whose first attempt landed finds its own bytes: fine.
    target.put_complete(b"{\"ours\":1}").unwrap();
    // Another run's marker: refused, left as it is.
    std::fs::write(lake.join("exp/.complete"), b"{\"theirs\":1}").unwrap();
    let err = target
        .put_complete(b"{\"ours\":1}")
        .unwrap_err()
        .to_string();
    assert!(err.contains("another run completed this export"), "{err}");
    assert_eq!(
        std::fs::read(lake.join("exp/.complete")).unwrap(),
        b"{\"theirs\":1}"
    );
    let puts: Vec<_> = s
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.uri.ends_with("/.complete"))
        .collect();
    assert_eq!(puts.len(), 3);
    assert!(
        puts.iter().all(|r| r.if_none_match),
        "If-None-Match: * every time"
    );
}

#[test]
fn a_claim_refuses_foreign_files_and_clears_an_old_complete_first() {
    let Some(s) = S3Server::start() else { return };
    let lake = s.bucket("lake");
    std::fs::create_dir_all(lake.join("a/shop/orders")).unwrap();
    std::fs::write(lake.join("a/notes.txt"), b"mine").unwrap();
    let err = RemoteTarget::claim(connect(&s, "s3://lake/a"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("notes.txt") && err.contains("nothing was written"),
        "{err}"
    );
    assert_eq!(
        bsonflow_testkit::s3::objects_under(&lake.join("a")),
        ["notes.txt"]
    );

    // An earlier export: its `.complete` goes first, its extra chunk at the end.
    let old = lake.join("b");
    std::fs::create_dir_all(old.join("shop/orders")).unwrap();
    for f in [
        ".complete",
        "shop/orders/rs0.0.json.gz",
        "shop/orders/rs0.1.json.gz",
        "shop/orders/metadata.json",
    ] {
        std::fs::write(old.join(f), b"old").unwrap();
    }
    let (target, earlier) = RemoteTarget::claim(connect(&s, "s3://lake/b/")).unwrap();
    assert!(earlier);
    assert!(
        !old.join(".complete").exists(),
        "the old marker is gone before anything is written"
    );
    target.put("shop/orders/rs0.0.json.gz", b"new").unwrap();
    target.put("shop/orders/metadata.json", b"{}").unwrap();
    let keep: BTreeSet<String> = [
        "shop/orders/rs0.0.json.gz",
        "shop/orders/metadata.json",
        ".bsonflow-export",
    ]
    .map(String::from)
    .into();
    target.remove_others(&keep).unwrap();
    target.put_complete(b"{}").unwrap();
    assert_eq!(
        bsonflow_testkit::s3::objects_under(&old),
        [
            ".bsonflow-export",
            ".complete",
            "shop/orders/metadata.json",
            "shop/orders/rs0.0.json.gz"
        ]
    );
}

#[test]
fn the_range_reader_reads_every_byte_in_bounded_ranges() {
    let Some(s) = S3Server::start() else { return };
    let bucket = s.bucket("data");
    // 40 MiB + 3 bytes of a pattern that shows any misplaced range.
    let len = (40 << 20) + 3;
    let bytes: Vec<u8> = (0..len)
        .map(|i: usize| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(bucket.join("big.bin"), &bytes).unwrap();
    let remote = connect(&s, "s3://data/big.bin");
    let key = remote.url().path();
    let size = remote.probe(&key).unwrap().expect("the object exists");
    assert_eq!(size, len as u64);
    let mut got = Vec::new();
    remote.reader(&key, size).read_to_end(&mut got).unwrap();
    assert!(got == bytes, "the bytes read differ");
    assert_eq!(remote.probe(&"nothing".into()).unwrap(), None);
    // An empty object.
    std::fs::write(bucket.join("empty"), b"").unwrap();
    assert_eq!(remote.probe(&"empty".into()).unwrap(), Some(0));
    let ranges: Vec<(u64, u64)> = s.requests().iter().filter_map(|r| r.range).collect();
    assert!(
        ranges
            .iter()
            .all(|(a, b)| b - a < bsonflow_cloud::RANGE_BYTES),
        "{ranges:?}"
    );
    assert!(ranges.len() >= 5, "{ranges:?}");
}
