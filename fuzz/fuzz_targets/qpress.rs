//! `bsonflow_sources::unpack::qpress`: the push `Parser` (fed whole and fed one byte at a
//! time, which must give the same events and the same result), each `Block` decoded (Adler-32
//! checked, then QuickLZ), and the pull `Reader` read item by item to its end.
#![no_main]

use std::io::Cursor;

use bsonflow_sources::unpack::qpress::{Event, Parser, Reader};
use bsonflow_sources::unpack::quicklz;
use libfuzzer_sys::fuzz_target;

fn parse(data: &[u8], step: usize) -> (Vec<Event>, String) {
    let mut parser = Parser::new();
    let mut events = Vec::new();
    let mut result = Ok(());
    for (i, piece) in data.chunks(step).enumerate() {
        result = parser.feed(piece, (i * step) as u64, &mut events);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = parser.finish();
    }
    assert!(parser.position() <= data.len() as u64);
    let _ = parser.chunk_size();
    (events, format!("{result:?}"))
}

fuzz_target!(|data: &[u8]| {
    let (events, whole) = parse(data, data.len().max(1));
    let (bytewise, result) = parse(data, 1);
    assert_eq!(
        format!("{events:?}"),
        format!("{bytewise:?}"),
        "events depend on how the input is cut"
    );
    assert_eq!(whole, result, "the result depends on how the input is cut");

    let mut decoder = quicklz::Decoder::new();
    for event in &events {
        if let Event::Block(block) = event {
            assert!(block.max_size as u64 <= bsonflow_sources::unpack::qpress::MAX_CHUNK_SIZE);
            if let Ok(out) = block.decode(&mut decoder) {
                assert!(out.len() <= block.max_size);
            }
            // Past the Adler-32 (rarely matched by mutation): the packet as the block
            // decoder hands it to QuickLZ.
            let mut out = Vec::new();
            if decoder
                .decompress_into(&block.packet, block.max_size, &mut out)
                .is_ok()
            {
                assert!(out.len() <= block.max_size);
            }
        }
    }

    let mut reader = Reader::new(Cursor::new(data));
    let mut items = 0usize;
    while let Ok(Some(_)) = reader.next_item() {
        items += 1;
        assert!(items <= data.len(), "more items than input bytes");
    }
});
