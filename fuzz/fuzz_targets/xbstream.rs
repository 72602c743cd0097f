//! `bsonflow_sources::unpack::xbstream`: the chunk `Reader` (headers, sparse maps, payloads
//! streamed in pieces, CRC-32) and the `Tracker` (member paths, offsets, end chunks), driven
//! the way the unpacker drives them: every header, every payload read to its end, then
//! `finish`. Pieces are small (64 bytes) so that multi-piece CRC checks are exercised.
#![no_main]

use std::io::Cursor;

use bsonflow_sources::unpack::xbstream::{ChunkType, Reader, Tracked, Tracker};
use libfuzzer_sys::fuzz_target;

const PIECE: usize = 64;

fuzz_target!(|data: &[u8]| {
    let mut reader = Reader::new(Cursor::new(data));
    let mut tracker = Tracker::new();
    let result = (|| {
        while let Some(header) = reader.next_header()? {
            let _ = header.path_display();
            assert!(header.archive_offset < data.len() as u64);
            if header.kind == ChunkType::Sparse {
                let total: u64 = header.sparse.iter().map(|e| u64::from(e.len)).sum();
                assert_eq!(total, header.payload_len, "sparse map checked against the payload");
            }
            let Tracked::Member { index, .. } = tracker.chunk(&header)? else {
                continue;
            };
            assert!(index < tracker.len());
            let _ = tracker.path(index);
            if !matches!(header.kind, ChunkType::Payload | ChunkType::Sparse) {
                continue;
            }
            let _ = header.end_offset();
            let mut read = 0u64;
            while let Some(piece) = reader.read_payload(PIECE)? {
                assert!(!piece.is_empty() && piece.len() <= PIECE);
                read += piece.len() as u64;
            }
            assert_eq!(read, header.payload_len, "payload read in full");
            assert!(reader.chunk_verified(), "payload handed out unverified");
        }
        tracker.finish()
    })();
    if let Err(e) = result {
        let _ = e.to_string();
    }
    assert!(reader.position() <= data.len() as u64);
});
