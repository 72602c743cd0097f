//! `read_collection_into` through the model's sink traits (the testkit's in-memory sink applies
//! the built-in namespace filter), and `replica_set_name`.

use bsonflow_model::{CollectionWriter, DocumentSink};
use bsonflow_testkit::MemorySink;
use bsonflow_wiredtiger::DataDir;

#[test]
fn export_through_the_sink_matches_read_collection() {
    let Some(root) = bsonflow_testkit::shared("testdata/generated-dbpaths/zstd-dirperdb") else {
        return;
    };
    let dir = DataDir::open(&root.join("dbpath")).unwrap();
    let sink = MemorySink::new();
    let mut exported = 0;
    for entry in dir.collections() {
        let Some(mut writer) = sink.open(&entry.ns, &entry.metadata).unwrap() else {
            continue;
        };
        let stats = dir.read_collection_into(entry, &mut writer).unwrap();
        writer.finish().unwrap();
        exported += 1;

        let got = sink.collection(&entry.ns.to_string());
        assert!(got.finished);
        assert_eq!(got.metadata, entry.metadata);
        assert_eq!(got.documents.len() as u64, stats.documents);
        let mut direct = Vec::new();
        dir.read_collection(entry, |_, doc| direct.push(doc.to_vec()))
            .unwrap();
        assert_eq!(got.documents, direct, "{}", entry.ns);
        let origin = entry.file.display().to_string();
        assert!(origin.ends_with(&format!("{}.wt", entry.ident)));
        for (o, offset) in &got.positions {
            assert_eq!(o, &origin);
            // Block offsets of leaf pages: whole allocation units after the descriptor.
            assert!(*offset >= 4096 && offset % 4096 == 0, "{offset}");
        }
    }
    // shop.Bestellungen März 🍰, audit_log, customers, empty, events, orders; the system
    // databases, system.views and the time-series buckets are filtered out.
    assert_eq!(exported, 6);
    let skipped: Vec<String> = sink
        .skipped()
        .iter()
        .map(|(ns, _)| ns.to_string())
        .collect();
    assert!(skipped.contains(&"shop.system.buckets.sensor_readings".to_string()));
    assert_eq!(sink.collection("shop.orders").documents.len(), 5000);
    assert_eq!(sink.collection("shop.empty").documents.len(), 0);
    // Time-series kind comes from the catalog options.
    let buckets = dir
        .collection("shop.system.buckets.sensor_readings")
        .unwrap();
    assert_eq!(buckets.metadata.kind.as_deref(), Some("timeseries"));
    assert_eq!(buckets.key_format.as_deref(), Some("u"));
}

#[test]
fn replica_set_name() {
    let Some(gen) = bsonflow_testkit::shared("testdata/generated-dbpaths") else {
        return;
    };
    let churn = DataDir::open(&gen.join("zlib-churn/dbpath")).unwrap();
    assert_eq!(churn.replica_set_name().unwrap().as_deref(), Some("rs0"));
    let plain = DataDir::open(&gen.join("snappy-big/dbpath")).unwrap();
    assert_eq!(plain.replica_set_name().unwrap(), None);
}
