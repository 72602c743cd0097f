//! xbstream: public byte vectors of real `xbstream -c` output, archives built by the
//! spec-based writer, and corrupt variants, each rejected with the right error.

use std::fs;
use std::path::Path;

use bsonflow_model::Progress;
use bsonflow_sources::unpack::xbstream::{
    ChunkType, Reader, SparseEntry, Tracked, Tracker, Writer, XbstreamError,
};
use bsonflow_sources::unpack::{unpack, UnpackError, UnpackOptions};

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// Bytes of a `hexdump -C` listing; a `*` line stands for repetitions of the line before it
/// up to the next address, so the listing is lossless.
fn from_hexdump(dump: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut base = None;
    let mut previous: Vec<u8> = Vec::new();
    let mut repeat = false;
    for line in dump.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "*" {
            repeat = true;
            continue;
        }
        let address = u64::from_str_radix(&line[..8], 16).unwrap();
        let base = *base.get_or_insert(address);
        let bytes = hex(line[8..].split('|').next().unwrap());
        if repeat {
            while base + (out.len() as u64) < address {
                out.extend_from_slice(&previous);
            }
            repeat = false;
        }
        assert_eq!(base + out.len() as u64, address, "listing is contiguous");
        out.extend_from_slice(&bytes);
        previous = bytes;
    }
    out
}

/// wal-g/wal-g `internal/databases/mysql/xbstream/reader_test.go`, `TestXBStreamReader`:
/// `echo hello > test1.txt; echo world > test2.txt; xbstream -c test1.txt test2.txt`
/// (Apache-2.0). 144 bytes.
const WALG_HELLO_WORLD: &str = "
    58 42 53 54 43 4b 30 31 00 50 09 00 00 00 74 65  73 74 31 2e 74 78 74 06 00 00 00 00 00 00 00 00
    00 00 00 00 00 00 00 20 30 3a 36 68 65 6c 6c 6f  0a 58 42 53 54 43 4b 30 31 00 45 09 00 00 00 74
    65 73 74 31 2e 74 78 74 58 42 53 54 43 4b 30 31  00 50 09 00 00 00 74 65 73 74 32 2e 74 78 74 06
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 a8  61 38 dd 77 6f 72 6c 64 0a 58 42 53 54 43 4b 30
    31 00 45 09 00 00 00 74 65 73 74 32 2e 74 78 74";

/// skmcgrail/go-xbstream `xbstream/reader_test.go` (GPL-2.0; test data only): "xbstream
/// archive created by the standard xbstream binary", files `file1` and `file2` of 5 bytes.
const GO_XBSTREAM_126: &str = "
    58 42 53 54 43 4b 30 31 00 50 05 00
    00 00 66 69 6c 65 31 05 00 00 00 00
    00 00 00 00 00 00 00 00 00 00 00 5d
    fe 31 4b 87 19 8b e0 9a 58 42 53 54
    43 4b 30 31 00 45 05 00 00 00 66 69
    6c 65 31 58 42 53 54 43 4b 30 31 00
    50 05 00 00 00 66 69 6c 65 32 05 00
    00 00 00 00 00 00 00 00 00 00 00 00
    00 00 89 58 8b 97 35 bf 06 38 97 58
    42 53 54 43 4b 30 31 00 45 05 00 00
    00 66 69 6c 65 32";

/// wal-g/wal-g `internal/databases/mysql/xbstream/reader_test.go`,
/// `TestXBStreamReader_with_sparse`: a real `S` chunk from an XtraBackup backup of a
/// compressed InnoDB table, as `hexdump -C` prints it (Apache-2.0).
const WALG_SPARSE_DUMP: &str = r#"
    00c701e1  58 42 53 54 43 4b 30 31  00 53 10 00 00 00 73 75  |XBSTCK01.S....su|
    00c701f1  70 65 72 64 62 2f 74 65  73 74 2e 69 62 64 02 00  |perdb/test.ibd..|
    00c70201  00 00 b8 80 01 00 00 00  00 00 00 00 00 00 00 00  |................|
    00c70211  00 00 85 fe 70 73 00 00  00 00 b8 00 01 00 48 3f  |....ps........H?|
    00c70221  00 00 00 80 00 00 a3 83  56 17 00 00 00 00 00 01  |........V.......|
    00c70231  38 a3 00 00 00 01 00 00  00 00 00 00 00 00 00 00  |8...............|
    00c70241  00 00 00 00 00 00 00 00  00 00 00 09 00 00 00 09  |................|
    00c70251  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 21  |...............!|
    00c70261  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
    *
    00c74211  00 00 00 00 00 00 00 00  00 00 00 00 00 00 a3 83  |................|
    00c74221  56 17 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |V...............|
    00c74231  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
    *
    00c80221  00 00 00 00 00 00 a2 ff  75 33 00 00 00 04 ff ff  |........u3......|
    00c80231  ff ff ff ff ff ff 00 00  00 00 2a 4f 36 38 00 0e  |..........*O68..|
    00c80241  02 01 45 bf 3f da 00 92  00 00 00 09 78 9c ed cd  |..E.?.......x...|
    00c80251  31 0e 01 41 14 06 e0 37  ab 12 cd 1e 80 0b 68 25  |1..A...7......h%|
    00c80261  e2 16 ce b0 11 12 05 11  b2 b5 75 06 95 56 a7 15  |..........u..V..|
    00c80271  67 d2 3b c1 9a 2d 34 dc  40 be 2f 79 33 ef 25 33  |g.;..-4.@./y3.%3|
    00c80281  ff 8b 22 2e 4d 2f 3a c7  28 f2 99 e2 db 2d 57 3f  |..".M/:.(....-W?|
    00c80291  57 51 ec 3f 5d ba a7 fc  78 b8 de ae d6 9b 7a 93  |WQ.?]...x.....z.|
    00c802a1  db 41 c4 a1 de ed 97 79  ea c2 ca f6 d5 fd ec f2  |.A.....y........|
    00c802b1  62 74 7e 9e f2 f5 48 65  93 d3 ab aa fa 59 00 00  |bt~...He.....Y..|
    00c802c1  00 00 00 00 00 00 00 00  00 00 00 00 00 00 7f 66  |...............f|
    00c802d1  17 8b 6b 5b 4f c6 f3 e9  ec 0d df e6 14 ae 00 00  |..k[O...........|
    00c802e1  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
    *
    00c882d1  00 00 00 00 00 00 00 00  00 00 00 00 00 00 58 42  |..............XB|
    00c882e1  53 54 43 4b 30 31 00 45  10 00 00 00 73 75 70 65  |STCK01.E....supe|
    00c882f1  72 64 62 2f 74 65 73 74  2e 69 62 64              |rdb/test.ibd|
"#;

fn options() -> UnpackOptions {
    UnpackOptions {
        threads: 2,
        ..UnpackOptions::default()
    }
}

fn unpack_bytes(
    bytes: Vec<u8>,
    out: &Path,
) -> Result<bsonflow_sources::unpack::UnpackReport, UnpackError> {
    unpack(
        std::io::Cursor::new(bytes),
        "test.xb",
        out,
        &options(),
        &Progress::new(),
    )
}

fn all_chunks(bytes: &[u8]) -> Vec<bsonflow_sources::unpack::xbstream::Chunk> {
    let mut r = Reader::new(bytes);
    let mut chunks = Vec::new();
    while let Some(c) = r.next_chunk().unwrap() {
        chunks.push(c);
    }
    chunks
}

#[test]
fn walg_real_xbstream_vector() {
    let bytes = hex(WALG_HELLO_WORLD);
    assert_eq!(bytes.len(), 144);
    let chunks = all_chunks(&bytes);
    let summary: Vec<_> = chunks
        .iter()
        .map(|c| {
            (
                c.header.kind,
                c.header.path_display(),
                c.header.crc,
                c.payload.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                ChunkType::Payload,
                "test1.txt".into(),
                0x363A3020,
                b"hello\n".to_vec()
            ),
            (ChunkType::End, "test1.txt".into(), 0, vec![]),
            (
                ChunkType::Payload,
                "test2.txt".into(),
                0xDD3861A8,
                b"world\n".to_vec()
            ),
            (ChunkType::End, "test2.txt".into(), 0, vec![]),
        ]
    );
    assert_eq!(chunks[2].header.archive_offset, 72);

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = unpack_bytes(bytes, &out).unwrap();
    assert_eq!(
        (report.files, report.bytes_written, report.input_bytes),
        (2, 12, 144)
    );
    assert_eq!(fs::read(out.join("test1.txt")).unwrap(), b"hello\n");
    assert_eq!(fs::read(out.join("test2.txt")).unwrap(), b"world\n");
}

#[test]
fn go_xbstream_real_vector() {
    let bytes = hex(GO_XBSTREAM_126);
    assert_eq!(bytes.len(), 126);
    let chunks = all_chunks(&bytes);
    assert_eq!(chunks.len(), 4);
    assert_eq!(chunks[0].header.crc, 0x4B31FE5D);
    assert_eq!(chunks[2].header.crc, 0x978B5889);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    unpack_bytes(bytes, &out).unwrap();
    assert_eq!(
        fs::read(out.join("file1")).unwrap(),
        [0x87, 0x19, 0x8b, 0xe0, 0x9a]
    );
    assert_eq!(
        fs::read(out.join("file2")).unwrap(),
        [0x35, 0xbf, 0x06, 0x38, 0x97]
    );
}

/// The sparse chunk is a real one: its stored CRC-32 (over the map, then the payload)
/// matches, and unpacking it leaves a hole where the map says.
#[test]
fn walg_real_sparse_chunk() {
    let bytes = from_hexdump(WALG_SPARSE_DUMP);
    assert_eq!(bytes.len(), 98_588);
    let chunks = all_chunks(&bytes);
    let s = &chunks[0].header;
    assert_eq!(s.kind, ChunkType::Sparse);
    assert_eq!(s.path_display(), "superdb/test.ibd");
    assert_eq!(s.crc, 0x7370FE85);
    assert_eq!(
        s.sparse,
        [
            SparseEntry {
                skip: 0,
                len: 0x100b8
            },
            SparseEntry {
                skip: 0x3f48,
                len: 0x8000
            }
        ]
    );
    assert_eq!(s.end_offset(), 7 * 16384);
    let payload = &chunks[0].payload;

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    unpack_bytes(bytes.clone(), &out).unwrap();
    let file = fs::read(out.join("superdb/test.ibd")).unwrap();
    assert_eq!(file.len(), 7 * 16384);
    assert_eq!(&file[..0x100b8], &payload[..0x100b8]);
    assert!(file[0x100b8..0x14000].iter().all(|&b| b == 0));
    assert_eq!(&file[0x14000..], &payload[0x100b8..]);

    // One flipped payload bit: the real CRC catches it.
    let mut bad = bytes;
    bad[70 + 0x9000] ^= 0x10;
    let err = unpack_bytes(bad, &dir.path().join("bad")).unwrap_err();
    assert!(
        matches!(&err, UnpackError::Xbstream { source: XbstreamError::Crc { offset: 0, path, .. }, .. } if path == "superdb/test.ibd"),
        "{err}"
    );
}

fn pattern(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|i| {
            if i % 7 < 4 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            } else {
                (i / 64) as u8
            }
        })
        .collect()
}

/// Interleaved members, sparse chunks with leading, middle and trailing holes, a 0-byte
/// member, nested directories and one chunk larger than the unpacker's 4 MiB pieces.
#[test]
fn writer_archives_unpack_exactly() {
    let a = pattern(300_000, 1);
    let big = pattern(9 << 20, 2);
    let sparse_payload = pattern(5000, 3);
    let mut w = Writer::new(Vec::new());
    w.payload(b"db/a.wt", 0, &a[..100_000]).unwrap();
    w.end(b"empty").unwrap();
    w.payload(b"big/one/chunk.bin", 0, &big).unwrap();
    w.payload(b"db/a.wt", 100_000, &a[100_000..250_000])
        .unwrap();
    let map = [
        SparseEntry {
            skip: 4096,
            len: 1000,
        },
        SparseEntry { skip: 0, len: 3000 },
        SparseEntry {
            skip: 10_000,
            len: 1000,
        },
        SparseEntry { skip: 8192, len: 0 },
    ];
    w.sparse(b"holes.ibd", 0, &map, &sparse_payload).unwrap();
    w.payload(b"holes.ibd", 4096 + 5000 + 10_000 + 8192, b"tail")
        .unwrap();
    w.end(b"big/one/chunk.bin").unwrap();
    w.sparse(b"only-hole", 0, &[SparseEntry { skip: 777, len: 0 }], b"")
        .unwrap();
    w.payload(b"db/a.wt", 250_000, &a[250_000..]).unwrap();
    w.end(b"holes.ibd").unwrap();
    w.end(b"only-hole").unwrap();
    w.end(b"db/a.wt").unwrap();
    let bytes = w.into_inner();

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let progress = Progress::new();
    let report = unpack(
        std::io::Cursor::new(bytes.clone()),
        "built.xb",
        &out,
        &options(),
        &progress,
    )
    .unwrap();
    assert_eq!(report.files, 5);
    assert_eq!(report.input_bytes, bytes.len() as u64);
    assert_eq!(progress.consumed(), bytes.len() as u64);
    assert_eq!(fs::read(out.join("db/a.wt")).unwrap(), a);
    assert_eq!(fs::read(out.join("empty")).unwrap(), b"");
    assert_eq!(fs::read(out.join("big/one/chunk.bin")).unwrap(), big);
    let mut holes = vec![0u8; 4096];
    holes.extend_from_slice(&sparse_payload[..4000]);
    holes.extend(std::iter::repeat_n(0, 10_000));
    holes.extend_from_slice(&sparse_payload[4000..]);
    holes.extend(std::iter::repeat_n(0, 8192));
    holes.extend_from_slice(b"tail");
    assert_eq!(fs::read(out.join("holes.ibd")).unwrap(), holes);
    assert_eq!(fs::read(out.join("only-hole")).unwrap(), vec![0u8; 777]);
    assert_eq!(
        report.bytes_written,
        (a.len() + big.len() + holes.len() + 777) as u64
    );
}

/// Tracker rules alone, without disk.
#[test]
fn tracker_rules() {
    let mut w = Writer::new(Vec::new());
    w.payload(b"x", 0, b"abc").unwrap();
    w.payload(b"./x", 3, b"def").unwrap(); // the same member spelled differently
    w.raw_payload(1, b'Z', b"future", 0, b"??", 0).unwrap(); // ignorable unknown type
    w.end(b"x").unwrap();
    let bytes = w.into_inner();
    let mut r = Reader::new(&bytes[..]);
    let mut t = Tracker::new();
    let mut seen = Vec::new();
    while let Some(h) = r.next_header().unwrap() {
        seen.push(t.chunk(&h).unwrap());
    }
    assert_eq!(
        seen,
        [
            Tracked::Member {
                index: 0,
                new: true
            },
            Tracked::Member {
                index: 0,
                new: false
            },
            Tracked::Ignored,
            Tracked::Member {
                index: 0,
                new: false
            },
        ]
    );
    t.finish().unwrap();
}

fn good_archive() -> Vec<u8> {
    let mut w = Writer::new(Vec::new());
    w.payload(b"dir/a", 0, b"first chunk").unwrap();
    w.payload(b"b", 0, b"other member").unwrap();
    w.payload(b"dir/a", 11, b"second chunk").unwrap();
    w.end(b"dir/a").unwrap();
    w.end(b"b").unwrap();
    w.into_inner()
}

fn expect_err(bytes: Vec<u8>) -> UnpackError {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = unpack_bytes(bytes, &out).unwrap_err();
    // Nothing ever lands next to the target.
    let siblings: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(siblings.len(), 1, "only `out` in the parent folder");
    err
}

fn xb_error(err: &UnpackError) -> &XbstreamError {
    match err {
        UnpackError::Xbstream { source, .. } => source,
        other => panic!("expected an xbstream error, got {other}"),
    }
}

#[test]
fn flipped_bits_are_crc_errors() {
    let bytes = good_archive();
    // In the payload of the third chunk.
    let chunks = all_chunks(&bytes);
    let third = &chunks[2].header;
    for i in 0..12u64 {
        let mut bad = bytes.clone();
        bad[(third.payload_offset + i) as usize] ^= 1 << (i % 8);
        let err = expect_err(bad);
        match xb_error(&err) {
            XbstreamError::Crc { offset, path, .. } => {
                assert_eq!(*offset, third.archive_offset);
                assert_eq!(path, "dir/a");
            }
            other => panic!("{other}"),
        }
        assert!(err
            .to_string()
            .contains(&format!("offset {}", third.archive_offset)));
    }
    // A flipped bit in the stored CRC itself.
    let mut bad = bytes.clone();
    bad[(third.payload_offset - 1) as usize] ^= 0x80;
    assert!(matches!(
        xb_error(&expect_err(bad)),
        XbstreamError::Crc { .. }
    ));
    // In the magic.
    let mut bad = bytes.clone();
    bad[third.archive_offset as usize + 3] ^= 1;
    assert!(matches!(
        xb_error(&expect_err(bad)),
        XbstreamError::Magic { offset } if *offset == third.archive_offset
    ));
}

#[test]
fn cut_short_is_truncated_or_unfinished() {
    let bytes = good_archive();
    let boundaries: Vec<u64> = all_chunks(&bytes)
        .iter()
        .map(|c| c.header.archive_offset)
        .collect();
    // Fewer than 8 bytes are not recognisably an xbstream.
    for cut in 8..bytes.len() {
        let err = expect_err(bytes[..cut].to_vec());
        match xb_error(&err) {
            XbstreamError::Truncated { .. } => {
                assert!(!boundaries.contains(&(cut as u64)), "cut {cut}")
            }
            XbstreamError::Unfinished { path } => {
                assert!(boundaries.contains(&(cut as u64)), "cut {cut}");
                assert!(path == "dir/a" || path == "b");
            }
            other => panic!("cut {cut}: {other}"),
        }
    }
}

#[test]
fn bad_offsets_are_out_of_order() {
    for (offset, expected) in [(10u64, 11u64), (12, 11), (0, 11), (u64::MAX - 3, 11)] {
        let mut w = Writer::new(Vec::new());
        w.payload(b"a", 0, b"first chunk").unwrap();
        w.payload(b"a", offset, b"second").unwrap();
        w.end(b"a").unwrap();
        let err = expect_err(w.into_inner());
        match xb_error(&err) {
            XbstreamError::OutOfOrder {
                offset: at,
                expected: e,
                found,
                path,
            } => {
                assert_eq!(
                    (*at, *e, *found, path.as_str()),
                    (46, expected, offset, "a")
                );
            }
            XbstreamError::Sparse { .. } if offset > u64::MAX / 2 => {}
            other => panic!("{other}"),
        }
    }
    // A chunk after the member's end.
    let mut w = Writer::new(Vec::new());
    w.payload(b"a", 0, b"x").unwrap();
    w.end(b"a").unwrap();
    w.payload(b"a", 1, b"y").unwrap();
    w.end(b"a").unwrap();
    assert!(matches!(
        xb_error(&expect_err(w.into_inner())),
        XbstreamError::AfterEnd { .. }
    ));
}

#[test]
fn path_traversal_is_refused() {
    use bsonflow_sources::layers::safe_path::PathError;
    let cases: [(&[u8], PathError); 7] = [
        (b"../x", PathError::ParentDir),
        (b"a/../../x", PathError::ParentDir),
        (b"/etc/x", PathError::Absolute),
        (b"a\0b", PathError::Nul),
        (b"a//b", PathError::EmptyComponent),
        (b"..\\x", PathError::Backslash),
        (b"C:x", PathError::DrivePrefix),
    ];
    for (path, want) in cases {
        let mut w = Writer::new(Vec::new());
        w.payload(b"fine", 0, b"ok").unwrap();
        w.payload(path, 0, b"evil").unwrap();
        w.end(path).unwrap();
        w.end(b"fine").unwrap();
        let err = expect_err(w.into_inner());
        match xb_error(&err) {
            XbstreamError::UnsafePath { source, offset, .. } => {
                assert_eq!(*source, want, "{path:?}");
                assert_eq!(*offset, 40);
            }
            other => panic!("{path:?}: {other}"),
        }
    }
    // Paths of 512 bytes or more are refused before they are read.
    let long = vec![b'a'; 512];
    let mut w = Writer::new(Vec::new());
    w.payload(&long, 0, b"x").unwrap();
    assert!(matches!(
        xb_error(&expect_err(w.into_inner())),
        XbstreamError::PathTooLong { len: 512, .. }
    ));
}

#[test]
fn unknown_types_and_sparse_maps() {
    // Unknown type without the ignorable flag: an error.
    let mut w = Writer::new(Vec::new());
    w.raw_payload(0, b'Z', b"a", 0, b"x", 0).unwrap();
    assert!(matches!(
        xb_error(&expect_err(w.into_inner())),
        XbstreamError::UnknownType { kind: b'Z', .. }
    ));
    // With it: skipped.
    let mut w = Writer::new(Vec::new());
    w.raw_payload(1, b'Z', b"../ignored", 0, b"x", 0).unwrap();
    w.whole_file(b"kept", b"data", 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report = unpack_bytes(w.into_inner(), &dir.path().join("o")).unwrap();
    assert_eq!(report.files, 1);
    // A sparse map whose lengths do not add up to the payload.
    let mut w = Writer::new(Vec::new());
    w.sparse(b"s", 0, &[SparseEntry { skip: 1, len: 5 }], b"abc")
        .unwrap();
    assert!(matches!(
        xb_error(&expect_err(w.into_inner())),
        XbstreamError::Sparse { .. }
    ));
    // Garbage instead of a chunk.
    assert!(matches!(
        xb_error(&expect_err(b"XBSTCK01\0P\x03\0\0\0ab".to_vec())),
        XbstreamError::Truncated { .. }
    ));
}
