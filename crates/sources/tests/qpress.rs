//! qpress and QuickLZ: archives and packets made by encoders we did not write (the QuickLZ C
//! library through `pyquicklz`, the `quicklz` crate), public vectors (qpress's own example
//! archive, `tiny.qp`, ReSpeak/quicklz's tests), malformed variants and a small fuzz.

use std::fs;
use std::path::{Path, PathBuf};

use bsonflow_model::Progress;
use bsonflow_sources::layers::safe_path::PathError;
use bsonflow_sources::unpack::qpress::{self, Event, Item, Parser, QpressError, Writer};
use bsonflow_sources::unpack::quicklz::{self as qlz, Decoder, Header, QuickLzError};
use bsonflow_sources::unpack::{unpack_file, PhysicalFormat, UnpackError, UnpackOptions};

/// The example archive in the header comment of qpress 1.1's `qpress.cpp`
/// (PierreLvx/qpress mirror), exactly as printed there: two-digit values are hexadecimal,
/// other cells printable characters. 154 bytes.
const QPRESS_DOC_TABLE: &str = "
000000    q   p   r   e   s   s   1   0  00  00  01  00  00  00  00  00
000010    F  05  00  00  00   c   .   t   x   t  00   N   E   W   B   N
000020    E   W   B  00  00  00  00  00  00  00  00  eb  02   %  0d   E
000030   0c  05  00  00  00  80   h   e   l   l   o   E   N   D   S   E
000040    N   D   S  00  00  00  00  00  00  00  00   D  03  00  00  00
000050    F   O   O  00   D  03  00  00  00   B   A   R  00   F  05  00
000060   00  00   d   .   t   x   t  00   N   E   W   B   N   E   W   B
000070   00  00  00  00  00  00  00  00  ef  02   Z  0d   E  0c  05  00
000080   00  00  80   t   h   e   r   e   E   N   D   S   E   N   D   S
000090   00  00  00  00  00  00  00  00   U   U
";

fn qpress_doc_archive() -> Vec<u8> {
    let mut out = Vec::new();
    for line in QPRESS_DOC_TABLE.lines().filter(|l| !l.trim().is_empty()) {
        let mut cells = line.split_whitespace();
        let address = usize::from_str_radix(cells.next().unwrap(), 16).unwrap();
        assert_eq!(address, out.len());
        for cell in cells {
            out.push(match cell.len() {
                1 => cell.as_bytes()[0],
                _ => u8::from_str_radix(cell, 16).unwrap(),
            });
        }
    }
    out
}

/// `tiny.qp` of the format notes: qpress 1.1 output for a file `tiny.bin` holding `hello`.
const TINY_QP: &str = "
    71 70 72 65 73 73 31 30 00 00 01 00 00 00 00 00
    46 08 00 00 00 74 69 6e 79 2e 62 69 6e 00
    4e 45 57 42 4e 45 57 42 00 00 00 00 00 00 00 00 eb 02 25 0d
    45 0c 05 00 00 00 80 68 65 6c 6c 6f
    45 4e 44 53 45 4e 44 53 00 00 00 00 00 00 00 00";

fn hex(text: &str) -> Vec<u8> {
    text.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

fn read_all(archive: &[u8]) -> Result<Vec<(PathBuf, Vec<u8>)>, QpressError> {
    qpress::Reader::new(archive).read_all()
}

fn options() -> UnpackOptions {
    UnpackOptions {
        threads: 2,
        ..UnpackOptions::default()
    }
}

#[test]
fn qpress_documentation_example() {
    let archive = qpress_doc_archive();
    assert_eq!(archive.len(), 154);
    let mut reader = qpress::Reader::new(&archive[..]);
    let mut items = Vec::new();
    while let Some(item) = reader.next_item().unwrap() {
        items.push(item);
    }
    assert_eq!(
        items,
        [
            Item::File {
                name: b"c.txt".to_vec(),
                path: "c.txt".into()
            },
            Item::Data(b"hello".to_vec()),
            Item::FileEnd,
            Item::DirDown("FOO".into()),
            Item::DirDown("FOO/BAR".into()),
            Item::File {
                name: b"d.txt".to_vec(),
                path: "FOO/BAR/d.txt".into()
            },
            Item::Data(b"there".to_vec()),
            Item::FileEnd,
            Item::DirUp,
            Item::DirUp,
        ]
    );

    // The same archive unpacked as a file: directories from the D/U records.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("example.qp");
    fs::write(&input, &archive).unwrap();
    let out = dir.path().join("out");
    let report = unpack_file(&input, &out, &options(), &Progress::new()).unwrap();
    assert_eq!(report.format, PhysicalFormat::Qpress);
    assert_eq!((report.files, report.directories), (2, 2));
    assert_eq!(fs::read(out.join("c.txt")).unwrap(), b"hello");
    assert_eq!(fs::read(out.join("FOO/BAR/d.txt")).unwrap(), b"there");
}

#[test]
fn tiny_qp() {
    let archive = hex(TINY_QP);
    assert_eq!(archive.len(), 78);
    assert_eq!(
        read_all(&archive).unwrap(),
        [(PathBuf::from("tiny.bin"), b"hello".to_vec())]
    );
}

/// ReSpeak/quicklz `src/lib.rs` tests (MIT/Apache-2.0): level-1 and level-3 packets.
#[test]
fn respeak_vectors() {
    let continuous10 = [
        0x47, 0x17, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x01,
        0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
    ];
    assert_eq!(
        qlz::decompress(&continuous10, 1024).unwrap(),
        (0..10).collect::<Vec<u8>>()
    );

    let continuous4x10 = [
        0x47, 0x1e, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x80, 0x00, 0x01,
        0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x00, 0x12, 0x1a, 0x06, 0x07, 0x08, 0x09,
    ];
    let want: Vec<u8> = (0..4).flat_map(|_| 0..10u8).collect();
    assert_eq!(qlz::decompress(&continuous4x10, 1024).unwrap(), want);

    let mut continuous128 = vec![0x47u8, 0x9d, 0, 0, 0, 0x80, 0, 0, 0];
    let mut next = 0u8;
    for group in [31usize, 31, 31, 31, 4] {
        continuous128.extend_from_slice(&[0, 0, 0, 0x80]);
        for _ in 0..group {
            continuous128.push(next);
            next = next.wrapping_add(1);
        }
    }
    assert_eq!(continuous128.len(), 0x9d);
    assert_eq!(
        qlz::decompress(&continuous128, 1024).unwrap(),
        (0..0x80).collect::<Vec<u8>>()
    );

    // `string_decompress_lvl1`: a TeamSpeak server message compressed at level 1.
    let string_lvl1: &[u8] = &[
        0x47, 0x4c, 0x2, 0, 0, 0xf9, 0x3, 0, 0, 0, 0, 0x4, 0x84, 0x69, 0x6e, 0x69, 0x74, 0x73,
        0x65, 0x72, 0x76, 0x65, 0x72, 0x20, 0x76, 0x69, 0x72, 0x74, 0x75, 0x61, 0x6c, 0x54, 0x25,
        0x5f, 0x6e, 0x61, 0x6d, 0x65, 0x3d, 0x53, 0x23, 0x50, 0x5c, 0x73, 0x64, 0x65, 0, 0x20, 0,
        0x80, 0x72, 0x5c, 0x73, 0x56, 0x65, 0x72, 0x70, 0x6c, 0x61, 0x6e, 0x74, 0x65, 0x6e, 0x7d,
        0xb, 0x77, 0x65, 0x6c, 0x63, 0x6f, 0x6d, 0x65, 0x6d, 0x65, 0x73, 0x73, 0x61, 0x67, 0x65,
        0x3d, 0x54, 0x68, 0x50, 0x82, 0x1, 0xb0, 0x69, 0x73, 0x5c, 0x73, 0xe2, 0x6a, 0x53, 0x61,
        0xa6, 0x6d, 0x79, 0x61, 0xb4, 0x57, 0x6f, 0x72, 0x6c, 0x64, 0x7d, 0xb, 0x61, 0xa6, 0x74,
        0x66, 0x6f, 0x72, 0x6d, 0x3d, 0x4c, 0x69, 0x6e, 0x75, 0x78, 0x7d, 0xb, 0x1, 0x25, 0x73, 0,
        0, 0, 0x80, 0x69, 0x6f, 0x6e, 0x3d, 0x33, 0x2e, 0x30, 0x2e, 0x31, 0x33, 0x2e, 0x38, 0x5c,
        0x73, 0x5b, 0x42, 0x75, 0x69, 0x6c, 0x64, 0x3a, 0x5c, 0x73, 0x31, 0x35, 0x30, 0x30, 0x34,
        0x35, 0x32, 0x38, 0x8, 0, 0x2, 0x88, 0x31, 0x31, 0x5d, 0x7d, 0xb, 0x6d, 0x61, 0x78, 0x63,
        0x6c, 0x69, 0x65, 0x6e, 0x74, 0x73, 0x3d, 0x33, 0x32, 0x7d, 0xb, 0x63, 0x72, 0x65, 0x61,
        0x74, 0x65, 0x64, 0x3d, 0x30, 0x7e, 0xb, 0x6f, 0x64, 0x65, 0, 0x92, 0x10, 0x9c, 0x63, 0x5f,
        0x65, 0x6e, 0x63, 0x72, 0x79, 0x70, 0x74, 0xf1, 0x98, 0x5f, 0x6d, 0x91, 0x23, 0x3d, 0x31,
        0x7d, 0xb, 0x68, 0x6f, 0x73, 0x74, 0xb6, 0x25, 0x4c, 0xc3, 0xa9, 0x5c, 0x73, 0x58, 0x27,
        0xb1, 0x66, 0x61, 0xa6, 0x6d, 0x79, 0x7, 0x8, 0x18, 0xe0, 0x70, 0xb, 0x1a, 0x94, 0xba,
        0x2e, 0x75, 0x64, 0x65, 0x66, 0x61, 0x75, 0x6c, 0x74, 0x5f, 0x55, 0x25, 0x67, 0x72, 0x6f,
        0x75, 0x70, 0x3d, 0x38, 0x7d, 0xb, 0x26, 0x30, 0x63, 0x68, 0x61, 0x6e, 0x6e, 0x65, 0x6c,
        0x5f, 0, 0x49, 0x16, 0xe2, 0x85, 0x82, 0x11, 0x81, 0x80, 0x62, 0x72, 0x88, 0x72, 0x5f,
        0x75, 0x72, 0x6c, 0x7d, 0xb, 0xe9, 0x85, 0x67, 0x66, 0x78, 0x80, 0x27, 0x22, 0x69, 0x6e,
        0x74, 0x21, 0x50, 0x61, 0x6c, 0x3d, 0x32, 0x30, 0x30, 0x2e, 0x75, 0x70, 0x72, 0x69, 0x6f,
        0x72, 0x69, 0x74, 0, 0x40, 0, 0xb0, 0x79, 0x5f, 0x73, 0x70, 0x65, 0x61, 0x6b, 0x65, 0x72,
        0x5f, 0x64, 0x69, 0x6d, 0x6d, 0x92, 0xba, 0x69, 0x66, 0x69, 0x63, 0x61, 0x74, 0x6f, 0x72,
        0x3d, 0x2d, 0x31, 0x38, 0x2e, 0x31, 0x33, 0x2e, 0x75, 0x69, 0x2, 0, 0x3f, 0x80, 0x64, 0xe0,
        0x33, 0x15, 0x62, 0x75, 0x74, 0x74, 0x6f, 0x6e, 0x5f, 0x74, 0x6f, 0x6f, 0x6c, 0x74, 0x69,
        0x70, 0x70, 0xb, 0x14, 0x24, 0x33, 0x20, 0x4b, 0x17, 0x24, 0x33, 0x10, 0x1e, 0x16, 0x82,
        0x7b, 0x5f, 0x70, 0x68, 0x6f, 0x6e, 0x65, 0x74, 0x69, 0x63, 0x90, 0x1, 0x88, 0xc1, 0x3d,
        0x6d, 0x6f, 0x62, 0x7d, 0xb, 0x69, 0x63, 0x91, 0xb9, 0xf1, 0x7b, 0x32, 0x35, 0x36, 0x38,
        0x35, 0x35, 0x35, 0x32, 0x31, 0x33, 0x7e, 0xb, 0x70, 0x3d, 0x30, 0xd1, 0x2c, 0x21, 0xd3,
        0x2c, 0x5c, 0x73, 0x3a, 0x3a, 0x7d, 0xb, 0x50, 0, 0x1f, 0x80, 0x61, 0x73, 0x6b, 0x5f, 0x1,
        0x84, 0x5f, 0x71, 0x4e, 0x76, 0x69, 0x6c, 0x65, 0x67, 0x65, 0x6b, 0x65, 0x79, 0xef, 0x23,
        0xe9, 0x85, 0xb3, 0x92, 0x2e, 0x75, 0x56, 0xe7, 0x74, 0x65, 0x6d, 0x70, 0x5f, 0x64, 0x65,
        0x6c, 0x65, 0x74, 0x32, 0, 0x28, 0x80, 0x65, 0x92, 0x20, 0x61, 0x79, 0x91, 0x20, 0x3, 0x63,
        0x3d, 0x31, 0x30, 0x20, 0x61, 0x63, 0x6e, 0x3d, 0x49, 0x74, 0x73, 0x4d, 0x65, 0x61, 0x71,
        0x6c, 0xf1, 0x7b, 0x31, 0x20, 0x70, 0x76, 0x3d, 0x36, 0x20, 0x6c, 0x74, 0x8, 0xc0, 0x40,
        0x80, 0x3d, 0x30, 0x20, 0x54, 0xaf, 0x5f, 0x74, 0x61, 0x6c, 0x6b, 0x5f, 0x70, 0x6f, 0x77,
        0x65, 0x12, 0xfa, 0x66, 0x5e, 0x6e, 0x65, 0x65, 0x64, 0x65, 0x64, 0x85, 0x50, 0x71, 0x75,
        0x65, 0x72, 0x79, 0x5f, 0x76, 0x69, 0, 0, 0, 0x80, 0x65, 0x77, 0x5f, 0x70, 0x6f, 0x77,
        0x65, 0x72, 0x3d, 0x37, 0x35,
    ];
    let text: &[u8] = b"initserver virtualserver_name=Server\\sder\\sVerplanten virtualserver_welcomemessage=This\\sis\\sSplamys\\sWorld virtualserver_platform=Linux virtualserver_version=3.0.13.8\\s[Build:\\s1500452811] virtualserver_maxclients=32 virtualserver_created=0 virtualserver_codec_encryption_mode=1 virtualserver_hostmessage=L\xc3\xa9\\sServer\\sde\\sSplamy virtualserver_hostmessage_mode=0 virtualserver_default_server_group=8 virtualserver_default_channel_group=8 virtualserver_hostbanner_url virtualserver_hostbanner_gfx_url virtualserver_hostbanner_gfx_interval=2000 virtualserver_priority_speaker_dimm_modificator=-18.0000 virtualserver_id=1 virtualserver_hostbutton_tooltip virtualserver_hostbutton_url virtualserver_hostbutton_gfx_url virtualserver_name_phonetic=mob virtualserver_icon_id=2568555213 virtualserver_ip=0.0.0.0,\\s:: virtualserver_ask_for_privilegekey=0 virtualserver_hostbanner_mode=0 virtualserver_channel_temp_delete_delay_default=10 acn=ItsMe aclid=1 pv=6 lt=0 client_talk_power=-1 client_needed_serverquery_view_power=75";
    assert_eq!(qlz::decompress(string_lvl1, 4096).unwrap(), text);

    // `data_compress_lvl3`: the same input as a short- and a long-header level-3 packet.
    let orig = b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbbbbbbbbbbbbbbbaaaaaaaaaaaaaaaaa";
    let short = [
        77, 26, 106, 136, 1, 0, 128, 97, 97, 97, 131, 154, 1, 0, 98, 98, 98, 231, 1, 0, 234, 10,
        97, 97, 97, 97,
    ];
    let long = [
        79, 32, 0, 0, 0, 106, 0, 0, 0, 136, 1, 0, 128, 97, 97, 97, 131, 154, 1, 0, 98, 98, 98, 231,
        1, 0, 234, 10, 97, 97, 97, 97,
    ];
    assert_eq!(qlz::decompress(&short, 1024).unwrap(), orig);
    assert_eq!(qlz::decompress(&long, 1024).unwrap(), orig);
}

/// Test data with the texture of WiredTiger files: repeated field names, counters, some
/// random bytes and runs of zeros.
fn sample(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(n);
    let mut i = 0u32;
    while out.len() < n {
        match rng.next() % 5 {
            0 => out.extend_from_slice(
                format!("{{\"_id\":{i},\"name\":\"user{i}\",\"tags\":[\"a\",\"b\"]}}").as_bytes(),
            ),
            1 => out.extend((0..rng.next() % 64).map(|_| rng.next() as u8)),
            2 => out.extend(std::iter::repeat_n(0u8, (rng.next() % 300) as usize)),
            3 => out.extend_from_slice(&i.to_le_bytes()),
            _ => out.extend_from_slice(b"collection-12--4539201457843.wt"),
        }
        i += 1;
    }
    out.truncate(n);
    out
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Level 1 (what xtrabackup writes) and level 3 packets from the `quicklz` crate's encoder
/// (ReSpeak's QuickLZ 1.5.0 port, not ours): our decoder and the crate's decoder agree.
#[test]
fn quicklz_crate_packets_level_1_and_3() {
    let mut decoder = Decoder::new();
    let sizes = [0usize, 1, 5, 10, 11, 12, 20, 215, 216, 1000, 4096, 65536];
    for (i, &n) in sizes.iter().enumerate() {
        for data in [
            sample(n, i as u64 + 1),
            vec![7u8; n],
            (0..n).map(|i| (i * 7 % 256) as u8).collect(),
        ] {
            for level in [
                quicklz::CompressionLevel::Lvl1,
                quicklz::CompressionLevel::Lvl3,
            ] {
                let packet = quicklz::compress(&data, level);
                let header = Header::parse(&packet).unwrap();
                assert_eq!(header.decompressed_size, n);
                let mut ours = Vec::new();
                decoder.decompress_into(&packet, 65536, &mut ours).unwrap();
                assert_eq!(ours, data, "n={n} {level:?}");
                let theirs = quicklz::decompress(&mut &packet[..], 65536).unwrap();
                assert_eq!(ours, theirs);
            }
        }
    }
}

/// Builds a packet from control bits and encoded items, for the level-2 rules (no encoder
/// of level 2 is available to the tests: qpress 1.1 is not packaged, pyquicklz is level 3).
fn build_packet(level: u8, items: &[(bool, Vec<u8>)], decompressed: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for group in items.chunks(31) {
        let mut word = 1u32 << 31;
        for (bit, (is_match, _)) in group.iter().enumerate() {
            if *is_match {
                word |= 1 << bit;
            }
        }
        body.extend_from_slice(&word.to_le_bytes());
        for (_, bytes) in group {
            body.extend_from_slice(bytes);
        }
    }
    let mut packet = vec![0x40 | (level << 2) | 3];
    packet.extend_from_slice(&((body.len() + 9) as u32).to_le_bytes());
    packet.extend_from_slice(&(decompressed as u32).to_le_bytes());
    packet.extend(body);
    packet
}

fn hash2(b: &[u8]) -> u32 {
    let v = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
    ((v >> 9) ^ (v >> 13) ^ v) & 0x7ff
}

#[test]
fn level_2_matches_through_the_bucket_slots() {
    let lit = |b: u8| (false, vec![b]);
    let tail: Vec<u8> = (b'A'..b'A' + 24).collect();
    // "abcXabcYZ" then a match on slot 1 of the bucket of "abc" (position 4), 5 bytes, short form.
    let head = b"abcXabcYZ";
    let h = hash2(b"abc");
    let short = (h << 5) | (3 << 2) | 1;
    let mut items: Vec<_> = head.iter().map(|&b| lit(b)).collect();
    items.push((true, short.to_le_bytes()[..2].to_vec()));
    // Then a long-form match (length byte) of 20 bytes from slot 0 ("abc" at position 0).
    // Length bits 2-4 zero: the length is in the third byte. Slot 0.
    let long = h << 5;
    let mut enc = long.to_le_bytes()[..2].to_vec();
    enc.push(20);
    items.push((true, enc));
    items.extend(tail.iter().map(|&b| lit(b)));
    let mut want = head.to_vec();
    want.extend_from_slice(b"abcYZ");
    // The source overlaps the destination: bytes repeat (14 back, 20 long).
    for i in 0..20 {
        want.push(want[i]);
    }
    want.extend(&tail);
    let packet = build_packet(2, &items, want.len());
    assert_eq!(Header::parse(&packet).unwrap().level, 2);
    assert_eq!(qlz::decompress(&packet, 1 << 16).unwrap(), want);
    // The `quicklz` crate has no level 2.
    assert!(quicklz::decompress(&mut &packet[..], 1 << 16).is_err());

    // Through the whole pipeline, wrapped in a qpress archive.
    let mut w = Writer::new(Vec::new(), 65536).unwrap();
    w.file(b"l2.bin").unwrap();
    w.block(0, &packet).unwrap();
    w.end_file().unwrap();
    assert_eq!(read_all(&w.into_inner()).unwrap()[0].1, want);
}

/// Level-3 packets from the QuickLZ C library (PyPI `pyquicklz`, QuickLZ 1.4.1 compiled at
/// level 3), wrapped in the qpress container by a Python script written from qpress's own
/// grammar comment, with chunk sizes of 64 KiB and 1 MiB and `D`/`U` records.
const PYQUICKLZ_SCRIPT: &str = r#"
import os, random, struct, sys, zlib
import quicklz
out = sys.argv[1]
rng = random.Random(7)
def bsonish(n):
    out, i = bytearray(), 0
    while len(out) < n:
        out += b'\x16\x00\x00\x00\x02name\x00' + ('user%d' % i).encode() + b'\x00\x10n\x00' + struct.pack('<i', i) + b'\x00'
        if i % 5 == 0: out += bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
        if i % 11 == 0: out += b'\x00' * rng.randrange(500)
        i += 1
    return bytes(out[:n])
data = {
    'empty': b'', 'one': b'x', 'hello': b'hello world', 's215': bsonish(215), 's216': bsonish(216),
    'zeros': b'\x00' * 300000, 'random': bytes(rng.randrange(256) for _ in range(150000)),
    'text': b'lorem ipsum dolor sit amet ' * 9000, 'bson': bsonish(1_500_000),
    'edge64k': bsonish(65536), 'edge64k1': bsonish(65537),
}
os.makedirs(os.path.join(out, 'expected', 'sub'), exist_ok=True)
def name(n): return n.encode()
for chunk in (65536, 1 << 20):
    a = bytearray(b'qpress10' + struct.pack('<Q', chunk))
    for i, (key, value) in enumerate(sorted(data.items())):
        if i == 6: a += b'D' + struct.pack('<I', 3) + b'sub\x00'
        a += b'F' + struct.pack('<I', len(key)) + name(key) + b'\x00'
        for off in range(0, len(value), chunk):
            packet = quicklz.compress(value[off:off + chunk])
            a += b'NEWBNEWB' + struct.pack('<Q', off) + struct.pack('<I', zlib.adler32(packet) & 0xffffffff) + packet
        a += b'ENDSENDS' + struct.pack('<Q', 0)
    a += b'U'
    open(os.path.join(out, 'l3_%d.qp' % chunk), 'wb').write(a)
for i, (key, value) in enumerate(sorted(data.items())):
    open(os.path.join(out, 'expected', ('sub/' if i >= 6 else '') + key), 'wb').write(value)
"#;

fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                files.push((rel, fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn pyquicklz_level_3_archives() {
    let Some(python) = bsonflow_testkit::python(&["quicklz"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    bsonflow_testkit::run_python(&python, PYQUICKLZ_SCRIPT, &[dir.path().to_str().unwrap()]);
    let expected = tree(&dir.path().join("expected"));
    assert_eq!(expected.len(), 11);
    for chunk in [65536u64, 1 << 20] {
        let input = dir.path().join(format!("l3_{chunk}.qp"));
        let archive = fs::read(&input).unwrap();
        // Every packet is level 3 (what pyquicklz offers), some compressed, some stored.
        let mut parser = Parser::new();
        let mut events = Vec::new();
        parser.feed(&archive, 0, &mut events).unwrap();
        parser.finish().unwrap();
        assert_eq!(parser.chunk_size(), chunk);
        let headers: Vec<Header> = events
            .iter()
            .filter_map(|e| match e {
                Event::Block(b) => Some(Header::parse(&b.packet).unwrap()),
                _ => None,
            })
            .collect();
        assert!(headers.iter().all(|h| h.level == 3));
        assert!(headers.iter().any(|h| h.compressed) && headers.iter().any(|h| !h.compressed));
        assert!(
            headers.iter().any(|h| h.header_len == 3) && headers.iter().any(|h| h.header_len == 9)
        );

        let mut got = read_all(&archive).unwrap();
        got.sort();
        assert_eq!(got, expected, "chunk {chunk}");

        let out = dir.path().join(format!("out{chunk}"));
        let report = unpack_file(&input, &out, &options(), &Progress::new()).unwrap();
        assert_eq!(report.format, PhysicalFormat::Qpress);
        assert_eq!(report.input_bytes, archive.len() as u64);
        assert_eq!(tree(&out), expected);
    }
}

fn tiny() -> Vec<u8> {
    hex(TINY_QP)
}

fn tiny_with_packet(packet: &[u8]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), 65536).unwrap();
    w.file(b"tiny.bin").unwrap();
    w.block(0, packet).unwrap();
    w.end_file().unwrap();
    w.into_inner()
}

#[test]
fn malformed_archives() {
    // A flipped bit in the packet: the Adler-32 names the block's offset.
    let mut bad = tiny();
    bad[60] ^= 0x20;
    let err = read_all(&bad).unwrap_err();
    assert!(
        matches!(
            err,
            QpressError::Adler {
                offset: 30,
                stored: 0x0D2502EB,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("offset 30"));

    // Truncated inside the block (and everywhere else).
    for cut in (17..78).filter(|&c| c != 16) {
        assert!(read_all(&tiny()[..cut]).is_err(), "cut at {cut}");
    }
    assert!(matches!(
        read_all(&tiny()[..60]).unwrap_err(),
        QpressError::Truncated {
            offset: 30,
            what: "a data block"
        }
    ));

    // Missing ENDSENDS: another tag in its place, or nothing.
    let mut bad = tiny();
    bad[62..70].copy_from_slice(b"ENDXENDS");
    assert!(matches!(
        read_all(&bad).unwrap_err(),
        QpressError::Tag { offset: 62, .. }
    ));
    assert!(matches!(
        read_all(&tiny()[..62]).unwrap_err(),
        QpressError::Truncated { .. }
    ));

    // Streaming-buffer bits set (the Adler-32 recomputed so that the packet is what fails).
    let packet = [
        0x45 | 0x20,
        0x0c,
        0x05,
        0,
        0,
        0,
        0x80,
        b'h',
        b'e',
        b'l',
        b'l',
        b'o',
    ];
    assert!(matches!(
        read_all(&tiny_with_packet(&packet)).unwrap_err(),
        QpressError::Packet {
            source: QuickLzError::StreamingBuffer(2),
            ..
        }
    ));
    // A packet whose header promises more than the chunk size.
    let mut big = vec![0x47u8];
    big.extend_from_slice(&21u32.to_le_bytes());
    big.extend_from_slice(&70_000u32.to_le_bytes());
    big.extend_from_slice(&[0, 0, 0, 0x80, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(matches!(
        read_all(&tiny_with_packet(&big)).unwrap_err(),
        QpressError::Packet {
            source: QuickLzError::TooLarge {
                size: 70_000,
                max: 65_536
            },
            ..
        }
    ));
    // A packet longer than chunk size + 400: refused before it is read.
    let mut huge = vec![0x47u8];
    huge.extend_from_slice(&(65_536u32 + 401).to_le_bytes());
    huge.extend_from_slice(&10u32.to_le_bytes());
    assert!(matches!(
        read_all(&tiny_with_packet(&huge)).unwrap_err(),
        QpressError::PacketSize { size: 65_937, .. }
    ));

    // Header problems.
    let mut bad = tiny();
    bad[3] = b'x';
    assert!(matches!(
        read_all(&bad).unwrap_err(),
        QpressError::Magic { offset: 0 }
    ));
    for size in [0u64, 1 << 40] {
        let mut bad = tiny();
        bad[8..16].copy_from_slice(&size.to_le_bytes());
        assert!(matches!(
            read_all(&bad).unwrap_err(),
            QpressError::ChunkSize { .. }
        ));
    }
    assert!(matches!(read_all(b"").unwrap_err(), QpressError::Empty));

    // Names: `/`, `..`, NUL-less, over-long, `U` at the root, unknown record.
    let named = |tag: u8, name: &[u8]| {
        let mut v = b"qpress10\x00\x00\x01\x00\x00\x00\x00\x00".to_vec();
        v.push(tag);
        v.extend_from_slice(&(name.len() as u32).to_le_bytes());
        v.extend_from_slice(name);
        v.push(0);
        v
    };
    let name_err = |archive: Vec<u8>| match read_all(&archive).unwrap_err() {
        QpressError::Name { source, offset: 16 } => source,
        other => panic!("{other}"),
    };
    assert_eq!(
        name_err(named(b'F', b"../etc/passwd")),
        PathError::Separator
    );
    assert_eq!(name_err(named(b'D', b"..")), PathError::ParentDir);
    assert_eq!(name_err(named(b'D', b"")), PathError::EmptyComponent);
    assert_eq!(name_err(named(b'F', b"a\\b")), PathError::Backslash);
    let mut no_nul = named(b'F', b"abc");
    *no_nul.last_mut().unwrap() = b'!';
    assert!(matches!(
        read_all(&no_nul).unwrap_err(),
        QpressError::NameTerminator { .. }
    ));
    assert!(matches!(
        read_all(&named(b'F', &[b'a'; 300])).unwrap_err(),
        QpressError::NameLength { len: 300, .. }
    ));
    let mut up = tiny()[..16].to_vec();
    up.push(b'U');
    assert!(matches!(
        read_all(&up).unwrap_err(),
        QpressError::UpAtRoot { offset: 16 }
    ));
    up[16] = b'X';
    assert!(matches!(
        read_all(&up).unwrap_err(),
        QpressError::Tag { .. }
    ));

    // Unpacking a malformed archive reports the member.
    let dir = tempfile::tempdir().unwrap();
    let mut bad = tiny();
    bad[60] ^= 0x20;
    let input = dir.path().join("bad.qp");
    fs::write(&input, bad).unwrap();
    let err = unpack_file(&input, &dir.path().join("o"), &options(), &Progress::new()).unwrap_err();
    assert!(
        matches!(&err, UnpackError::Qpress { member, source: QpressError::Adler { offset: 30, .. }, .. } if member == "tiny.bin"),
        "{err}"
    );
}

/// Random and mutated packets: errors, never panics, never more output than announced.
#[test]
fn fuzz_packets_and_archives() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut decoder = Decoder::new();
    let mut valid = Vec::new();
    for (i, n) in [16usize, 100, 300, 2000, 20_000].into_iter().enumerate() {
        let data = sample(n, 100 + i as u64);
        valid.push(quicklz::compress(&data, quicklz::CompressionLevel::Lvl1));
        valid.push(quicklz::compress(&data, quicklz::CompressionLevel::Lvl3));
    }
    valid.push(build_packet(2, &[(false, vec![1]), (true, vec![0, 0])], 20));
    let mut out = Vec::new();
    let mut accepted = 0;
    for round in 0..6000 {
        let mut packet = valid[round % valid.len()].clone();
        match rng.next() % 4 {
            0 => {
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() as usize) % packet.len();
                    packet[at] ^= 1 << (rng.next() % 8);
                }
            }
            1 => packet.truncate((rng.next() as usize) % packet.len()),
            2 => {
                // Random body behind a plausible header.
                let len = packet.len();
                for b in &mut packet[9.min(len)..] {
                    *b = rng.next() as u8;
                }
            }
            _ => {
                let flags = [0x45u8, 0x47, 0x49, 0x4b, 0x4d, 0x4f][(rng.next() % 6) as usize];
                let len = 3 + (rng.next() % 200) as usize;
                packet = (0..len).map(|_| rng.next() as u8).collect();
                packet[0] = flags;
                if flags & 2 == 0 {
                    packet[1] = len as u8;
                } else if len >= 9 {
                    packet[1..5].copy_from_slice(&(len as u32).to_le_bytes());
                    packet[5..9].copy_from_slice(&((rng.next() % 4096) as u32).to_le_bytes());
                }
            }
        }
        out.clear();
        if let Ok(h) = decoder.decompress_into(&packet, 1 << 16, &mut out) {
            assert_eq!(out.len(), h.decompressed_size);
            accepted += 1;
        } else {
            assert!(out.is_empty());
        }
    }
    assert!(accepted > 0, "some mutations stay decodable");

    // Mutated archives through the container parser and decoder.
    let mut w = Writer::new(Vec::new(), 4096).unwrap();
    w.dir(b"d").unwrap();
    w.whole_file(b"f", &sample(20_000, 5), 4096, |c| {
        quicklz::compress(c, quicklz::CompressionLevel::Lvl1)
    })
    .unwrap();
    w.up().unwrap();
    let archive = w.into_inner();
    for _ in 0..1500 {
        let mut bad = archive.clone();
        for _ in 0..1 + rng.next() % 3 {
            let at = (rng.next() as usize) % bad.len();
            bad[at] = rng.next() as u8;
        }
        if rng.next().is_multiple_of(3) {
            bad.truncate((rng.next() as usize) % bad.len());
        }
        let _ = read_all(&bad);
    }
}
