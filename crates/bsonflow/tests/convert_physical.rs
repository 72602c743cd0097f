//! End to end: mongod data directories (real ones, and ones written by the real WiredTiger
//! library) through `bsonflow convert`, compared with what the real library reads from them
//! (`expected/` next to each dbpath).

mod common;

use std::path::PathBuf;

use common::*;

/// Every fixture dbpath under the shared folder: (name, dbpath, expected).
fn fixtures() -> Option<Vec<(String, PathBuf, PathBuf)>> {
    let mut all = Vec::new();
    for group in ["testdata/real-dbpaths", "testdata/generated-dbpaths"] {
        let root = shared(group)?;
        let mut names: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("dbpath").is_dir())
            .collect();
        names.sort();
        for p in names {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            all.push((name, p.join("dbpath"), p.join("expected")));
        }
    }
    assert!(all.len() >= 8, "fixtures: {all:?}");
    Some(all)
}

/// The export of every fixture matches the real library's reading, document for document.
#[test]
fn every_fixture_dbpath_exports_what_the_real_library_reads() {
    let Some(fixtures) = fixtures() else { return };
    for (name, dbpath, expected) in fixtures {
        let out = tempfile::tempdir().unwrap();
        let o = convert(&dbpath, out.path(), &["--skip-missing"]);
        let cat = catalog(&expected);
        let mut compared = 0;
        let mut missing = 0;
        for c in cat["collections"].as_array().unwrap() {
            let db = c["db"].as_str().unwrap();
            let coll = c["collection"].as_str().unwrap();
            let dir = out.path().join(db).join(coll);
            if !exported(c) {
                assert!(!dir.exists(), "{name}: {db}.{coll} should be skipped");
                continue;
            }
            if c.get("error").is_some() {
                missing += 1;
                assert!(!dir.exists(), "{name}: {db}.{coll} has no file");
                continue;
            }
            let lines = if dir.exists() {
                read_chunks(&dir)
            } else {
                panic!("{name}: {db}.{coll} was not exported:\n{}", stdout(&o))
            };
            let want: Vec<String> =
                std::fs::read_to_string(expected.join(c["file"].as_str().unwrap()))
                    .unwrap()
                    .lines()
                    .map(str::to_string)
                    .collect();
            assert_eq!(
                lines.len() as u64,
                c["count"].as_u64().unwrap(),
                "{name}: {db}.{coll}"
            );
            assert_same_lines(&lines, &want, &format!("{name}: {db}.{coll}"));
            compared += 1;

            // metadata.json from the catalog: uuid as 32 hex, index specs in catalog order.
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.join("metadata.json")).unwrap()).unwrap();
            assert_eq!(meta["collectionName"], coll, "{name}");
            let names: Vec<_> = meta["indexes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["name"].clone())
                .collect();
            let want_names: Vec<_> = c["indexes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i.get("ready").is_none_or(|r| r == true))
                .map(|i| i["spec"]["name"].clone())
                .collect();
            assert_eq!(names, want_names, "{name}: {db}.{coll} indexes");
            if let Some(uuid) = meta.get("uuid") {
                let uuid = uuid.as_str().unwrap();
                assert!(
                    uuid.len() == 32 && uuid.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{uuid}"
                );
            }
        }
        // A catalog entry whose file is missing: reported, and with --skip-missing the rest
        // is complete (exit 3); every other fixture converts cleanly.
        let code = if missing > 0 { 3 } else { 0 };
        assert_status(&o, code);
        assert!(out.path().join(".complete").exists(), "{name}");
        eprintln!("{name}: {compared} collections match the oracle, {missing} missing");
    }
}

#[test]
fn a_missing_collection_file_fails_the_run_unless_skipped() {
    let Some(root) = shared("testdata/real-dbpaths/mongo50-pokedex/dbpath") else {
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let o = convert(&root, out.path(), &[]);
    assert_status(&o, 1);
    assert!(!out.path().join(".complete").exists());
    let text = stdout(&o) + &stderr(&o);
    assert!(
        text.contains("pokemonsdb.pokemons") && text.contains("missing"),
        "{text}"
    );
    // The other collection is still written in full.
    assert_eq!(
        read_chunks(&out.path().join("nest-pokemon/pokemons")).len(),
        649
    );
}

#[test]
fn system_databases_views_and_time_series_are_skipped_with_reasons() {
    let Some(root) = shared("testdata/generated-dbpaths") else {
        return;
    };
    let mut seen_view = false;
    let mut seen_ts = false;
    for entry in std::fs::read_dir(&root).unwrap() {
        let dbpath = entry.unwrap().path().join("dbpath");
        if !dbpath.is_dir() {
            continue;
        }
        let out = tempfile::tempdir().unwrap();
        let o = convert(&dbpath, out.path(), &[]);
        assert_status(&o, 0);
        for line in stdout(&o).lines() {
            let line = line.trim();
            if line.contains(".system.views:") {
                assert!(line.contains("system collection"), "{line}");
                seen_view = true;
            }
            if line.contains(".system.buckets.") {
                assert!(line.contains("time-series"), "{line}");
                seen_ts = true;
            }
            if line.starts_with("local.") || line.starts_with("admin.") {
                assert!(line.contains("system database"), "{line}");
            }
        }
    }
    assert!(
        seen_view && seen_ts,
        "the generated fixtures hold views and time-series"
    );
}

/// The physical-backup packer of the test fixtures (xbstream + qpress with the QuickLZ C
/// library, tar with Python's tarfile), written from the published formats.
const PACK_PY: &str = include_str!("../../../testdata/physical/pack.py");

/// Each real dbpath packed as ApsaraDB ships physical backups (`_qp.xb`, `.tar.gz`)
/// converts to exactly the export of the folder itself, and the scratch folder is removed.
#[test]
fn packed_physical_backups_give_the_folders_export() {
    let Some(root) = shared("testdata/real-dbpaths") else {
        return;
    };
    let Some(py) = python(&["quicklz"]) else {
        return;
    };
    let mut dbpaths: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path().join("dbpath"))
        .filter(|p| p.is_dir())
        .collect();
    dbpaths.sort();
    for (i, dbpath) in dbpaths.iter().enumerate() {
        let work = tempfile::tempdir().unwrap();
        let folder_out = work.path().join("from-folder");
        let o = convert(dbpath, &folder_out, &["--skip-missing"]);
        let code = o.status.code().unwrap();
        assert!(code == 0 || code == 3, "{}", stderr(&o));
        let want = tree(&folder_out);
        for kind in ["qpxb", "targz"] {
            let packed = work.path().join(format!("backup-{kind}"));
            run_python(
                &py,
                PACK_PY,
                &[
                    kind,
                    dbpath.to_str().unwrap(),
                    packed.to_str().unwrap(),
                    &i.to_string(),
                ][..if kind == "qpxb" { 4 } else { 3 }],
            );
            let out = work.path().join(format!("from-{kind}"));
            let scratch = work.path().join(format!("scratch-{kind}"));
            let o = convert(
                &packed,
                &out,
                &["--skip-missing", "--scratch", scratch.to_str().unwrap()],
            );
            assert_status(&o, code);
            assert!(!scratch.exists(), "the scratch folder was not removed");
            assert!(
                tree(&out) == want,
                "{} as {kind}: the export differs from the folder's",
                dbpath.display()
            );
            assert!(out.join(".complete").exists());
        }
    }
}

/// A `.tar.gz` of a data directory with its folder name in front (`backup/dbpath/…`, as
/// `tar czf backup.tar.gz backup` makes it; written here by Python's tarfile) converts like
/// the folder itself.
#[test]
fn a_tar_of_a_data_directory_under_its_own_folder_converts_like_the_folder() {
    let Some(root) = shared("testdata/real-dbpaths") else {
        return;
    };
    let Some(py) = python(&[]) else {
        return;
    };
    let dbpath = root.join("mongo42-products/dbpath");
    let work = tempfile::tempdir().unwrap();
    let want_out = work.path().join("from-folder");
    assert_status(&convert(&dbpath, &want_out, &[]), 0);
    let packed = work.path().join("backup.tar.gz");
    run_python(
        &py,
        "import sys, tarfile\nwith tarfile.open(sys.argv[2], 'w:gz') as t:\n    t.add(sys.argv[1], arcname='backup/dbpath')\n",
        &[dbpath.to_str().unwrap(), packed.to_str().unwrap()],
    );
    let out = work.path().join("from-tar");
    let o = convert(&packed, &out, &[]);
    assert_status(&o, 0);
    assert!(
        tree(&out) == tree(&want_out),
        "the export differs from the folder's"
    );
}

/// `bsonflow unpack` of the committed `_qp.xb` fixture (QuickLZ packets from the QuickLZ C
/// library) rebuilds every file of its manifest, and says how much disk it needs first.
#[test]
fn unpack_command_rebuilds_the_committed_physical_fixture() {
    let fixture = testdata("physical/sample_qp.xb");
    let manifest = std::fs::read_to_string(testdata("physical/sample.manifest")).unwrap();
    for input in [fixture, testdata("physical/sample.tar.gz")] {
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join("dbpath");
        let o = unpack(&input, &dir);
        assert_status(&o, 0);
        assert!(stderr(&o).contains("needs at least"), "{}", stderr(&o));
        let mut files = 0;
        for line in manifest.lines().filter(|l| !l.starts_with('#')) {
            let mut f = line.split_whitespace();
            let (crc, size, path) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            let bytes = std::fs::read(dir.join(path)).unwrap();
            assert_eq!(bytes.len().to_string(), size, "{path}");
            let mut h = flate2::Crc::new();
            h.update(&bytes);
            assert_eq!(format!("{:08x}", h.sum()), crc, "{path}");
            files += 1;
        }
        assert!(files >= 8);
        assert!(
            stdout(&o).contains(&format!("{files} files")),
            "{}",
            stdout(&o)
        );
    }
}

/// A damaged `_qp.xb` fails with the member and offset, writes no `.complete`, and removes
/// its scratch folder.
#[test]
fn a_damaged_physical_backup_fails_cleanly() {
    let mut bytes = std::fs::read(testdata("physical/sample_qp.xb")).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    let work = tempfile::tempdir().unwrap();
    let input = work.path().join("damaged_qp.xb");
    std::fs::write(&input, &bytes).unwrap();
    let scratch = work.path().join("scratch");
    let out = work.path().join("export");
    let o = convert(&input, &out, &["--scratch", scratch.to_str().unwrap()]);
    assert_status(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("damaged_qp.xb"), "{err}");
    assert!(err.contains("offset") || err.contains("byte"), "{err}");
    assert!(!out.join(".complete").exists());
    assert!(!scratch.exists(), "the scratch folder was left behind");
}
