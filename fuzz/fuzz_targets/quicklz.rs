//! `bsonflow_sources::unpack::quicklz`: one packet decoded with `decompress` under a 1 MiB cap,
//! then again through a reused `Decoder` (its hash tables are reset, not reallocated, so the
//! second decode must give the same bytes), and for levels 1 and 3 compared with the
//! `quicklz` crate when both accept the packet (all but the last 11 bytes: see `TAIL`).
#![no_main]

use bsonflow_sources::unpack::quicklz::{decompress, Decoder, Header};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 1 << 20;
/// The last bytes of a packet's output, where the `quicklz` crate's tail rule differs from C's.
const TAIL: usize = 11;

fuzz_target!(|data: &[u8]| {
    let header = Header::parse(data);
    let result = decompress(data, CAP);
    let mut decoder = Decoder::new();
    // A packet decoded first leaves state in the tables: decode another one before.
    let mut scratch = Vec::new();
    let _ = decoder.decompress_into(data.get(1..).unwrap_or_default(), CAP, &mut scratch);
    let mut out = vec![0xAA; 3];
    let again = decoder.decompress_into(data, CAP, &mut out);
    match (&result, &again) {
        (Ok(a), Ok(h)) => {
            assert_eq!(&out[..3], &[0xAA; 3], "decompress_into overwrote the caller's bytes");
            assert_eq!(&out[3..], &a[..], "a reused decoder decodes differently");
            assert_eq!(Ok(*h), header);
            assert_eq!(a.len(), h.decompressed_size);
            assert!(a.len() <= CAP);
            if !h.compressed {
                assert_eq!(&a[..], &data[h.header_len..]);
            }
            if h.level == 1 || h.level == 3 {
                if let Ok(theirs) = quicklz::decompress(&mut &data[..], CAP as u32) {
                    // The crate decodes literals one at a time and starts its literal tail at
                    // `dec_size - 10`; QuickLZ's C decoder (and ours) copies up to four
                    // literals per control-word nibble and starts the tail at the first literal
                    // decision at or past `dec_size - 11`. On packets no compressor writes (a
                    // match bit among the last bytes) the two differ there, and only there.
                    let same = a.len().saturating_sub(TAIL);
                    assert_eq!(theirs.len(), a.len());
                    assert_eq!(
                        theirs[..same],
                        a[..same],
                        "the quicklz crate decodes level {} differently",
                        h.level
                    );
                }
            }
        }
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "a reused decoder fails differently");
            assert_eq!(out, [0xAA; 3], "output left behind after an error");
            let _ = a.to_string();
        }
        _ => panic!("decompress and a reused decoder disagree: {result:?} / {again:?}"),
    }
});
