//! `bsonflow_sources::layers::compression::decompress`: the compression is told from the first
//! bytes (gzip, multi-member gzip, zstd with skippable frames, or none) and the stream is read
//! to its end (at most 1 GiB of output, discarded). No panic, no hang.
#![no_main]

use std::io::{self, Cursor, Read};

use bsonflow_sources::layers::compression::{self, Compression};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let expected = Compression::sniff(data);
    let (kind, reader) = match compression::decompress(Cursor::new(data.to_vec())) {
        Ok(r) => r,
        Err(_) => return,
    };
    assert_eq!(kind, expected, "decompress and sniff disagree");
    let _ = kind.name();
    let mut limited = reader.take(1 << 30);
    match io::copy(&mut limited, &mut io::sink()) {
        Ok(n) if kind == Compression::None => assert_eq!(n, data.len() as u64),
        _ => {}
    }
});
