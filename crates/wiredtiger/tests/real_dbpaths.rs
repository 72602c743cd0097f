//! The real dbpaths of the shared test data (MongoDB 3.6, 4.2, 5.0, 8.0): every collection of
//! `expected/catalog.json` must match `expected/<db>/<coll>.jsonl` document for document, in
//! order, with the same RecordIds, and the catalog (namespaces, idents, options, UUIDs, ready
//! index specs) must match too.

mod common;

use std::path::PathBuf;

use common::{check_fixture, fixtures, Checked};

fn root() -> Option<PathBuf> {
    bsonflow_testkit::shared("testdata/real-dbpaths")
}

fn check(name: &str) -> Option<Checked> {
    let fixture = root()?.join(name);
    let checked = check_fixture(&fixture);
    eprintln!(
        "{name}: {} collections, {} documents, {} index entries, failed as expected: {:?}",
        checked.collections, checked.documents, checked.index_entries, checked.failed_collections
    );
    Some(checked)
}

#[test]
fn every_real_fixture_has_a_test() {
    let Some(root) = root() else { return };
    assert_eq!(
        fixtures(&root),
        [
            "mongo36-scraper",
            "mongo42-products",
            "mongo50-pokedex",
            "mongo80-ip2country"
        ],
        "a fixture was added or removed: give it a test below"
    );
}

#[test]
fn mongo36_scraper() {
    let Some(c) = check("mongo36-scraper") else {
        return;
    };
    assert_eq!((c.collections, c.documents), (4, 11));
}

#[test]
fn mongo42_products() {
    let Some(c) = check("mongo42-products") else {
        return;
    };
    assert_eq!((c.collections, c.documents), (4, 29));
}

#[test]
fn mongo50_pokedex_with_a_missing_collection_file() {
    let Some(c) = check("mongo50-pokedex") else {
        return;
    };
    assert_eq!((c.collections, c.documents), (5, 720));
    assert_eq!(c.failed_collections, ["pokemonsdb.pokemons"]);
}

#[test]
fn mongo80_ip2country() {
    let Some(c) = check("mongo80-ip2country") else {
        return;
    };
    assert_eq!((c.collections, c.documents), (4, 36));
}
