//! The outer frame of a BSON document (`bsonflow_model::frame_len` / `check_frame`) and the
//! two stream framers built on it (`layers::bson_stream::SliceDocuments` for mapped files,
//! `DocumentReader` for streams), which must cut a stream into the same documents.
#![no_main]

use std::io::{self, Read};

use bsonflow_model::{check_frame, frame_len, FrameError, MAX_DOCUMENT_BYTES};
use bsonflow_sources::layers::bson_stream::{DocumentReader, SliceDocuments, StreamError};
use libfuzzer_sys::fuzz_target;

/// A reader that returns short reads (1 to 7 bytes), to exercise the refill logic.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step = self.step % 7 + 1;
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    // The frame rules, document by document.
    let mut from_frames: Vec<Result<(u64, &[u8]), FrameError>> = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        match frame_len(&data[pos..], pos as u64) {
            Ok(n) => {
                assert!((5..=MAX_DOCUMENT_BYTES).contains(&n));
                assert!(n <= data.len() - pos);
                assert_eq!(data[pos + n - 1], 0);
                let doc = &data[pos..pos + n];
                assert_eq!(check_frame(doc), Ok(()), "a framed document checks");
                from_frames.push(Ok((pos as u64, doc)));
                pos += n;
            }
            Err(e) => {
                assert_eq!(e.offset(), pos as u64);
                let _ = e.to_string();
                from_frames.push(Err(e.clone()));
                // A document without its trailing 0x00 has a sound length: the framers step
                // over it and go on; any other error ends the stream.
                match e {
                    FrameError::MissingTerminator { len, .. } => pos += len,
                    _ => break,
                }
            }
        }
    }
    if check_frame(data).is_ok() {
        assert_eq!(frame_len(data, 0), Ok(data.len()));
    }

    // The slice framer gives the same documents and stops at the same error.
    let from_slice: Vec<_> = SliceDocuments::new(data, 0).collect();
    assert_eq!(from_slice, from_frames);

    // The stream framer, fed in short reads, too.
    let mut reader = DocumentReader::new(Trickle { data, step: 0 });
    let mut i = 0;
    loop {
        match reader.next_document() {
            Ok(None) => {
                assert_eq!(i, from_frames.len(), "the stream ended early");
                break;
            }
            Ok(Some((offset, doc))) => {
                assert_eq!(
                    from_frames.get(i),
                    Some(&Ok((offset, doc))),
                    "document {i} of the stream"
                );
            }
            Err(StreamError::Frame(e)) => {
                assert_eq!(
                    from_frames.get(i),
                    Some(&Err(e.clone())),
                    "error {i} of the stream"
                );
                if !matches!(e, FrameError::MissingTerminator { .. }) {
                    assert_eq!(i + 1, from_frames.len());
                    break;
                }
            }
            Err(e) => panic!("unexpected stream error: {e}"),
        }
        i += 1;
    }
});
