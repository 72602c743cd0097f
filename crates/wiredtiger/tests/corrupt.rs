//! Damaged and unsupported inputs: every case must end in a clear error that names the file
//! (and the block offset where there is one) — never in wrong or missing documents.
//!
//! Each test copies a shared dbpath into a temporary directory and damages the copy. To reach
//! code behind the checksums (decompression, cell decoding, BSON framing), some tests edit a
//! leaf and then restore every checksum above it: the leaf's block header, the parent's
//! address cookie and block header, and the checkpoint address, written into a
//! `WiredTiger.backup` file — the hot-backup metadata, which overrides `WiredTiger.wt`.

use std::path::{Path, PathBuf};

use bsonflow_model::{CollectionWriter, DocumentSink};
use bsonflow_testkit::MemorySink;
use bsonflow_wiredtiger::format::block::{block_checksum, decode_hex, Addr, BlockFile};
use bsonflow_wiredtiger::format::cell::{self, CellType};
use bsonflow_wiredtiger::format::config::Config;
use bsonflow_wiredtiger::format::intpack::{pack_uint, Reader};
use bsonflow_wiredtiger::format::metadata::FileInfo;
use bsonflow_wiredtiger::{DataDir, Error};
use tempfile::TempDir;

const IP2COUNTRY: &str = "testdata/real-dbpaths/mongo80-ip2country";
const ZSTD: &str = "testdata/generated-dbpaths/zstd-dirperdb";

/// A writable copy of a fixture's `dbpath/`.
struct Copy {
    _tmp: TempDir,
    dbpath: PathBuf,
}

fn copy_tree(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
            let mut perms = std::fs::metadata(&to).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            std::fs::set_permissions(&to, perms).unwrap();
        }
    }
}

fn copy(fixture: &str) -> Option<Copy> {
    let src = bsonflow_testkit::shared(fixture)?.join("dbpath");
    let tmp = tempfile::tempdir().unwrap();
    let dbpath = tmp.path().join("dbpath");
    copy_tree(&src, &dbpath);
    Some(Copy { _tmp: tmp, dbpath })
}

/// Where the first leaf of a collection lives, and how to reach it.
struct LeafSpot {
    ns: String,
    file: PathBuf,
    uri: String,
    allocation_size: u32,
    root: Addr,
    leaf: Addr,
    /// File offset and length of the root page's cookie for this leaf.
    cookie_at: usize,
    cookie_len: usize,
    /// The checkpoint address (hex) in the metadata.
    ckpt_hex: String,
    compressed: bool,
}

fn leaf_spot(dbpath: &Path, ns: &str) -> LeafSpot {
    let dir = DataDir::open(dbpath).unwrap();
    let entry = dir.collection(ns).unwrap();
    let uri = format!("file:{}.wt", entry.ident);
    let config = dir.metadata()[&uri].clone();
    let info = FileInfo::parse(&uri, &config, Path::new("metadata")).unwrap();
    let file = BlockFile::open(&entry.file, info.allocation_size, info.compressor).unwrap();
    let root = info.root().unwrap();
    let page = file.read(&root).unwrap();
    assert_eq!(page.header.page_type, 6, "root is a row-internal page");
    assert_eq!(page.header.flags & 1, 0, "root is not compressed");
    let mut pos = 40;
    let cookie = loop {
        let c = cell::unpack(&page.image, pos, page.header.flags).unwrap();
        if matches!(c.cell_type, CellType::AddrLeaf | CellType::AddrLeafNo) {
            break c.data;
        }
        pos += c.len;
    };
    let leaf = Addr::parse(&page.image[cookie.clone()], info.allocation_size)
        .unwrap()
        .unwrap();
    let compressed = file.read(&leaf).unwrap().header.flags & 1 != 0;
    let ckpt = info.checkpoint.as_ref().unwrap();
    let ckpt_hex = Config::parse(&config)
        .unwrap()
        .get_config("checkpoint")
        .unwrap()
        .unwrap()
        .get_config(&ckpt.name)
        .unwrap()
        .unwrap()
        .get_str("addr")
        .unwrap()
        .to_string();
    LeafSpot {
        ns: ns.to_string(),
        file: entry.file.clone(),
        uri,
        allocation_size: info.allocation_size,
        root,
        leaf,
        cookie_at: root.offset as usize + cookie.start,
        cookie_len: cookie.len(),
        ckpt_hex,
        compressed,
    }
}

fn cookie(addr: &Addr, alloc: u32, checksum: u32) -> Vec<u8> {
    let mut v = Vec::new();
    pack_uint(&mut v, addr.offset / u64::from(alloc) - 1);
    pack_uint(&mut v, u64::from(addr.size / alloc));
    pack_uint(&mut v, u64::from(checksum));
    v
}

fn set_checksum(block: &mut [u8]) -> u32 {
    assert_eq!(block[36] & 1, 1, "block is fully checksummed");
    let crc = block_checksum(block, block.len());
    block[32..36].copy_from_slice(&crc.to_le_bytes());
    crc
}

/// Writes `WiredTiger.backup` holding `metadata` (key line, value line).
fn write_backup(dbpath: &Path, metadata: &[(String, String)]) {
    let mut text = String::new();
    for (k, v) in metadata {
        text.push_str(k);
        text.push('\n');
        text.push_str(v);
        text.push('\n');
    }
    std::fs::write(dbpath.join("WiredTiger.backup"), text).unwrap();
}

fn metadata_of(dbpath: &Path) -> Vec<(String, String)> {
    DataDir::open(dbpath)
        .unwrap()
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Applies `edit` to the leaf block, then restores the checksums above it (see the module
/// doc). Returns `false` when the new checksum would change the length of the root's cookie.
fn edit_leaf_keeping_checksums(dbpath: &Path, spot: &LeafSpot, edit: impl Fn(&mut [u8])) -> bool {
    let metadata = metadata_of(dbpath);
    let mut bytes = std::fs::read(&spot.file).unwrap();
    let lo = spot.leaf.offset as usize;
    let leaf = &mut bytes[lo..lo + spot.leaf.size as usize];
    edit(leaf);
    let leaf_crc = set_checksum(leaf);
    let new_cookie = cookie(&spot.leaf, spot.allocation_size, leaf_crc);
    if new_cookie.len() != spot.cookie_len {
        return false;
    }
    bytes[spot.cookie_at..spot.cookie_at + spot.cookie_len].copy_from_slice(&new_cookie);
    let ro = spot.root.offset as usize;
    let root_crc = set_checksum(&mut bytes[ro..ro + spot.root.size as usize]);
    std::fs::write(&spot.file, &bytes).unwrap();

    let old = decode_hex(&spot.ckpt_hex).unwrap();
    let mut r = Reader::new(&old[1..]);
    for _ in 0..3 {
        r.uint().unwrap();
    }
    let mut new = vec![1u8];
    new.extend(cookie(&spot.root, spot.allocation_size, root_crc));
    new.extend_from_slice(r.rest());
    let new_hex: String = new.iter().map(|b| format!("{b:02x}")).collect();
    let metadata: Vec<(String, String)> = metadata
        .into_iter()
        .map(|(k, v)| {
            let v = if k == spot.uri {
                v.replace(&spot.ckpt_hex, &new_hex)
            } else {
                v
            };
            (k, v)
        })
        .collect();
    write_backup(dbpath, &metadata);
    true
}

fn read_err(dbpath: &Path, ns: &str) -> Error {
    let dir = DataDir::open(dbpath).unwrap();
    let entry = dir.collection(ns).unwrap();
    let err = dir
        .read_collection(entry, |_, _| {})
        .expect_err("the damage must be reported");
    let msg = err.to_string();
    assert!(msg.contains(ns), "the error names the namespace: {msg}");
    assert!(
        msg.contains(&format!("{}.wt", entry.ident)),
        "the error names the file: {msg}"
    );
    err
}

/// The other collections of the directory still read.
fn others_read(dbpath: &Path, except: &str) {
    let dir = DataDir::open(dbpath).unwrap();
    for e in dir.collections() {
        if e.ns.to_string() != except {
            dir.read_collection(e, |_, _| {})
                .unwrap_or_else(|err| panic!("{}: {err}", e.ns));
        }
    }
}

#[test]
fn flipped_bits_in_a_leaf_page() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let spot = leaf_spot(&c.dbpath, "ip2country.ip_locations");
    let mut bytes = std::fs::read(&spot.file).unwrap();
    bytes[spot.leaf.offset as usize + 200] ^= 0x10;
    std::fs::write(&spot.file, &bytes).unwrap();
    let err = read_err(&c.dbpath, &spot.ns);
    match err.innermost() {
        Error::Checksum { path, offset, .. } => {
            assert_eq!(path, &spot.file);
            assert_eq!(*offset, spot.leaf.offset);
        }
        other => panic!("expected a checksum error, got {other}"),
    }
    assert!(err.to_string().contains(&spot.leaf.offset.to_string()));
    others_read(&c.dbpath, &spot.ns);
}

#[test]
fn damaged_checksum_in_a_block_header() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let spot = leaf_spot(&c.dbpath, "ip2country.ip_locations");
    let mut bytes = std::fs::read(&spot.file).unwrap();
    bytes[spot.leaf.offset as usize + 33] ^= 0xff;
    std::fs::write(&spot.file, &bytes).unwrap();
    match read_err(&c.dbpath, &spot.ns).innermost() {
        Error::Checksum { offset, .. } => assert_eq!(*offset, spot.leaf.offset),
        other => panic!("expected a checksum error, got {other}"),
    }
}

#[test]
fn truncated_collection_file() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let spot = leaf_spot(&c.dbpath, "ip2country.ip_locations");
    let last = spot.leaf.offset.max(spot.root.offset);
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&spot.file)
        .unwrap();
    f.set_len(last + 100).unwrap();
    match read_err(&c.dbpath, &spot.ns).innermost() {
        Error::Truncated {
            path,
            offset,
            file_len,
            ..
        } => {
            assert_eq!(path, &spot.file);
            assert_eq!(*offset, last);
            assert_eq!(*file_len, last + 100);
        }
        other => panic!("expected a truncation error, got {other}"),
    }
    // Cut inside the descriptor block.
    f.set_len(100).unwrap();
    match read_err(&c.dbpath, &spot.ns).innermost() {
        Error::Truncated { offset: 0, .. } => {}
        other => panic!("expected a truncated descriptor, got {other}"),
    }
    others_read(&c.dbpath, &spot.ns);
}

#[test]
fn damaged_descriptor_block() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let spot = leaf_spot(&c.dbpath, "ip2country.ip_locations");
    let mut bytes = std::fs::read(&spot.file).unwrap();
    bytes[1000] = 0x55;
    std::fs::write(&spot.file, &bytes).unwrap();
    match read_err(&c.dbpath, &spot.ns).innermost() {
        Error::Checksum { offset: 0, .. } => {}
        other => panic!("expected a descriptor checksum error, got {other}"),
    }
    bytes[0..4].copy_from_slice(b"SQLi");
    std::fs::write(&spot.file, &bytes).unwrap();
    match read_err(&c.dbpath, &spot.ns).innermost() {
        Error::BadMagic { path, found } => {
            assert_eq!(path, &spot.file);
            assert_eq!(*found, u32::from_le_bytes(*b"SQLi"));
        }
        other => panic!("expected a bad magic number, got {other}"),
    }
}

#[test]
fn missing_collection_file() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let spot = leaf_spot(&c.dbpath, "ip2country.ip_locations");
    std::fs::remove_file(&spot.file).unwrap();
    match read_err(&c.dbpath, &spot.ns).innermost() {
        Error::MissingCollectionFile { path } => assert_eq!(path, &spot.file),
        other => panic!("expected a missing file, got {other}"),
    }
    others_read(&c.dbpath, &spot.ns);
}

#[test]
fn deleted_catalog() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    std::fs::remove_file(c.dbpath.join("_mdb_catalog.wt")).unwrap();
    match DataDir::open(&c.dbpath).unwrap_err() {
        Error::MissingCatalog { path, .. } => assert!(path.ends_with("_mdb_catalog.wt")),
        other => panic!("expected a missing catalog, got {other}"),
    }
}

#[test]
fn damaged_turtle() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let turtle = c.dbpath.join("WiredTiger.turtle");
    let original = std::fs::read_to_string(&turtle).unwrap();
    let expect_bad_turtle = |what: &str| match DataDir::open(&c.dbpath).unwrap_err() {
        Error::BadTurtle { path, .. } => assert_eq!(path, turtle, "{what}"),
        other => panic!("{what}: expected a bad turtle, got {other}"),
    };

    // Without the metadata file's entry.
    let cut: Vec<&str> = original.lines().take(4).collect();
    std::fs::write(&turtle, cut.join("\n")).unwrap();
    expect_bad_turtle("entry removed");
    // Empty.
    std::fs::write(&turtle, "").unwrap();
    expect_bad_turtle("empty");
    // Missing, while WiredTiger.wt is there.
    std::fs::remove_file(&turtle).unwrap();
    expect_bad_turtle("missing");
    // A checkpoint address that does not decode (version byte 02).
    std::fs::write(&turtle, original.replace("addr=\"01", "addr=\"02")).unwrap();
    match DataDir::open(&c.dbpath).unwrap_err() {
        Error::BadCookie { path, context, .. } => {
            assert_eq!(path, turtle);
            assert!(context.contains("file:WiredTiger.wt"), "{context}");
        }
        other => panic!("expected a bad checkpoint cookie, got {other}"),
    }
    // A checkpoint address pointing at the wrong block (root checksum changed).
    let addr_at = original.find("addr=\"01").unwrap() + 6;
    let hex = &original[addr_at..original[addr_at..].find('"').unwrap() + addr_at];
    let mut ck = decode_hex(hex).unwrap();
    ck[5] ^= 0x01; // a byte of the root checksum (`01 o s e4 c c c c`)
    let bad_hex: String = ck.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&turtle, original.replace(hex, &bad_hex)).unwrap();
    match DataDir::open(&c.dbpath).unwrap_err() {
        Error::Checksum { path, .. } => assert!(path.ends_with("WiredTiger.wt")),
        other => panic!("expected a checksum error in WiredTiger.wt, got {other}"),
    }
    // Encrypted metadata is refused, not misread.
    std::fs::write(
        &turtle,
        original.replace(
            "encryption=(keyid=,name=)",
            "encryption=(keyid=k1,name=AES256-CBC)",
        ),
    )
    .unwrap();
    assert!(matches!(
        DataDir::open(&c.dbpath).unwrap_err(),
        Error::Unsupported { .. }
    ));
}

#[test]
fn damaged_metadata_table() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let turtle =
        bsonflow_wiredtiger::format::turtle::Turtle::read(&c.dbpath.join("WiredTiger.turtle"))
            .unwrap();
    let info = FileInfo::parse(
        "file:WiredTiger.wt",
        &turtle.metadata_config,
        Path::new("t"),
    )
    .unwrap();
    let root = info.root().unwrap();
    let wt = c.dbpath.join("WiredTiger.wt");
    let mut bytes = std::fs::read(&wt).unwrap();
    bytes[root.offset as usize + 60] ^= 0x04;
    std::fs::write(&wt, &bytes).unwrap();
    match DataDir::open(&c.dbpath).unwrap_err() {
        Error::Checksum { path, offset, .. } => {
            assert_eq!(path, wt);
            assert_eq!(offset, root.offset);
        }
        other => panic!("expected a checksum error, got {other}"),
    }
}

#[test]
fn hot_backup_metadata_overrides_the_metadata_table() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let before = DataDir::open(&c.dbpath).unwrap();
    let mut docs_before = Vec::new();
    for e in before.collections() {
        before
            .read_collection(e, |_, d| docs_before.push(d.to_vec()))
            .unwrap();
    }
    write_backup(&c.dbpath, &metadata_of(&c.dbpath));
    // With the backup file present, a broken turtle and metadata table are not even read.
    std::fs::write(c.dbpath.join("WiredTiger.turtle"), "garbage").unwrap();
    std::fs::remove_file(c.dbpath.join("WiredTiger.wt")).unwrap();
    let after = DataDir::open(&c.dbpath).unwrap();
    assert_eq!(
        after.metadata_source(),
        &bsonflow_wiredtiger::MetadataSource::HotBackup
    );
    let mut docs_after = Vec::new();
    for e in after.collections() {
        after
            .read_collection(e, |_, d| docs_after.push(d.to_vec()))
            .unwrap();
    }
    assert_eq!(docs_after, docs_before);
    assert_eq!(docs_after.len(), 36);

    // A malformed backup file is an error naming the line.
    std::fs::write(c.dbpath.join("WiredTiger.backup"), "table:x\n").unwrap();
    assert!(matches!(
        DataDir::open(&c.dbpath).unwrap_err(),
        Error::BadBackupFile { line: 1, .. }
    ));
}

#[test]
fn encrypted_collection_is_unsupported() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let spot = leaf_spot(&c.dbpath, "ip2country.ip_locations");
    let metadata: Vec<(String, String)> = metadata_of(&c.dbpath)
        .into_iter()
        .map(|(k, v)| {
            let v = if k == spot.uri {
                format!("{v},encryption=(keyid=k1,name=AES256-CBC)")
            } else {
                v
            };
            (k, v)
        })
        .collect();
    write_backup(&c.dbpath, &metadata);
    assert!(matches!(
        read_err(&c.dbpath, &spot.ns).innermost(),
        Error::Unsupported { .. }
    ));
    others_read(&c.dbpath, &spot.ns);
}

#[test]
fn page_that_does_not_decompress() {
    let Some(c) = copy(ZSTD) else { return };
    let spot = leaf_spot(&c.dbpath, "shop.customers");
    assert!(spot.compressed, "the customers leaf is zstd-compressed");
    // Zero the zstd frame's magic number (after the u64 length prefix at block byte 64).
    assert!(edit_leaf_keeping_checksums(&c.dbpath, &spot, |b| {
        b[72..76].fill(0)
    }));
    match read_err(&c.dbpath, &spot.ns).innermost() {
        Error::Decompress {
            path,
            offset,
            compressor,
            ..
        } => {
            assert_eq!(path, &spot.file);
            assert_eq!(*offset, spot.leaf.offset);
            assert_eq!(*compressor, "zstd");
        }
        other => panic!("expected a decompression error, got {other}"),
    }
    others_read(&c.dbpath, &spot.ns);
}

#[test]
fn unknown_cell_type() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let spot = leaf_spot(&c.dbpath, "ip2country.ip_locations");
    assert!(!spot.compressed);
    assert!(edit_leaf_keeping_checksums(&c.dbpath, &spot, |b| b[40] = 0xd0));
    match read_err(&c.dbpath, &spot.ns).innermost() {
        Error::UnknownCell {
            path,
            offset,
            cell_offset,
            desc,
        } => {
            assert_eq!(path, &spot.file);
            assert_eq!(*offset, spot.leaf.offset);
            assert_eq!((*cell_offset, *desc), (40, 0xd0));
        }
        other => panic!("expected an unknown cell, got {other}"),
    }
}

/// Byte offset, within the leaf block, of the first value's BSON length prefix.
fn first_value_at(spot: &LeafSpot) -> usize {
    let bytes = std::fs::read(&spot.file).unwrap();
    let lo = spot.leaf.offset as usize;
    let block = &bytes[lo..lo + spot.leaf.size as usize];
    let mut pos = 40;
    loop {
        let c = cell::unpack(block, pos, block[25]).unwrap();
        if c.cell_type == CellType::Value {
            return c.data.start;
        }
        pos += c.len;
    }
}

#[test]
fn value_that_is_not_a_bson_document() {
    let Some(c) = copy(IP2COUNTRY) else { return };
    let ns = "ip2country.ip_locations";
    let spot = leaf_spot(&c.dbpath, ns);
    let at = first_value_at(&spot);
    assert!(edit_leaf_keeping_checksums(&c.dbpath, &spot, |b| b[at] ^= 0x40));

    // The callback form has no one to report to: an error naming file, page and record.
    match read_err(&c.dbpath, ns).innermost() {
        Error::BadDocument {
            path, offset, key, ..
        } => {
            assert_eq!(path, &spot.file);
            assert_eq!(*offset, spot.leaf.offset);
            assert_eq!(key, "1");
        }
        other => panic!("expected a bad document, got {other}"),
    }

    let dir = DataDir::open(&c.dbpath).unwrap();
    let entry = dir.collection(ns).unwrap();
    // A sink that refuses corrupt data fails the collection.
    let strict = MemorySink::new();
    let mut w = strict.open(&entry.ns, &entry.metadata).unwrap().unwrap();
    let err = dir.read_collection_into(entry, &mut w).unwrap_err();
    assert!(matches!(err.innermost(), Error::Sink { .. }), "{err}");
    // A sink that skips corrupt data gets the report and every other document.
    let lenient = MemorySink::skipping_corrupt();
    let mut w = lenient.open(&entry.ns, &entry.metadata).unwrap().unwrap();
    let stats = dir.read_collection_into(entry, &mut w).unwrap();
    w.finish().unwrap();
    let got = lenient.collection(ns);
    assert_eq!(got.documents.len(), 6);
    assert_eq!((stats.documents, stats.corrupt), (6, 1));
    assert_eq!(got.corrupt.len(), 1);
    let (origin, offset, detail) = &got.corrupt[0];
    assert_eq!(origin, &spot.file.display().to_string());
    assert_eq!(*offset, spot.leaf.offset);
    assert!(
        detail.contains("record 1") && detail.contains("length prefix"),
        "{detail}"
    );
}

#[test]
fn rocksdb_directory_is_unsupported() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(db.join("CURRENT"), "MANIFEST-000010\n").unwrap();
    std::fs::write(db.join("000012.sst"), [0u8; 64]).unwrap();
    std::fs::write(tmp.path().join("mongod.lock"), "").unwrap();
    match DataDir::open(tmp.path()).unwrap_err() {
        Error::Unsupported { what, .. } => assert!(what.contains("RocksDB"), "{what}"),
        other => panic!("expected unsupported, got {other}"),
    }
}
