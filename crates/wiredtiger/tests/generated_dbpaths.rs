//! The dbpaths generated with the real WiredTiger library (`shared/testdata/generated-dbpaths`):
//! zstd + directoryPerDB, zlib + churn + timestamps + unclean shutdown, no compression +
//! overflow items + megabyte documents + 4.4-style catalog, snappy with a 3-level tree. Same
//! checks as the real dbpaths: every document, in order, with its RecordId, and the catalog.

mod common;

use std::path::PathBuf;

use common::{check_fixture, fixtures, Checked};

fn root() -> Option<PathBuf> {
    bsonflow_testkit::shared("testdata/generated-dbpaths")
}

fn check(name: &str) -> Option<Checked> {
    let fixture = root()?.join(name);
    let checked = check_fixture(&fixture);
    eprintln!(
        "{name}: {} collections, {} documents, {} index entries",
        checked.collections, checked.documents, checked.index_entries
    );
    assert!(checked.failed_collections.is_empty());
    Some(checked)
}

#[test]
fn every_generated_fixture_has_a_test() {
    let Some(root) = root() else { return };
    assert_eq!(
        fixtures(&root),
        ["none-overflow", "snappy-big", "zlib-churn", "zstd-dirperdb"],
        "a fixture was added or removed: give it a test below"
    );
}

#[test]
fn zstd_dirperdb() {
    let Some(c) = check("zstd-dirperdb") else {
        return;
    };
    assert_eq!((c.collections, c.documents), (11, 6169));
}

#[test]
fn zlib_churn() {
    let Some(c) = check("zlib-churn") else { return };
    assert_eq!((c.collections, c.documents), (13, 6870));
}

#[test]
fn none_overflow() {
    let Some(c) = check("none-overflow") else {
        return;
    };
    assert_eq!((c.collections, c.documents), (11, 1905));
}

#[test]
fn snappy_big_three_levels() {
    let Some(c) = check("snappy-big") else { return };
    assert_eq!((c.collections, c.documents), (11, 4299));
}
