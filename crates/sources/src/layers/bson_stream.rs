//! BSON streams: finding document boundaries in a run of concatenated BSON documents (a
//! `.bson` file, a tar member, a namespace segment) and pushing the documents into a
//! [`CollectionWriter`].
//!
//! Only the outer frame is checked here, by the one rule in
//! [`bsonflow_model::frame`] — the int32 length prefix (5 bytes up to
//! [`MAX_DOCUMENT_BYTES`]) and the trailing `0x00`; the export writer validates the inside.
//! A frame that cannot be read is reported through [`CollectionWriter::corrupt`], where the
//! sink's policy decides between failing and skipping. A document whose length is sound but
//! whose last byte is not `0x00` is skipped alone: the next boundary is known. A bad or cut
//! length leaves no way to find the next boundary, so the rest of the stream is skipped, and
//! the report says so.

use std::io::{self, Read};

use bsonflow_model::{CollectionWriter, SinkError};

pub use bsonflow_model::frame::{frame_len, FrameError, MAX_DOCUMENT_BYTES};

/// The documents of a byte slice, each with its offset (`base` + position in the slice).
/// Goes on after a document without its trailing `0x00` (its length tells where the next
/// one starts); stops after any other frame error.
pub struct SliceDocuments<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    failed: bool,
}

impl<'a> SliceDocuments<'a> {
    /// The documents of `data`, whose first byte sits at offset `base` of its stream.
    pub fn new(data: &'a [u8], base: u64) -> Self {
        SliceDocuments {
            data,
            pos: 0,
            base,
            failed: false,
        }
    }

    /// Bytes of the slice consumed so far: where the next document starts, relative to the
    /// slice (not to `base`).
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for SliceDocuments<'a> {
    type Item = Result<(u64, &'a [u8]), FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos == self.data.len() {
            return None;
        }
        let offset = self.base + self.pos as u64;
        match frame_len(&self.data[self.pos..], offset) {
            Ok(len) => {
                let doc = &self.data[self.pos..self.pos + len];
                self.pos += len;
                Some(Ok((offset, doc)))
            }
            Err(e @ FrameError::MissingTerminator { len, .. }) => {
                self.pos += len;
                Some(Err(e))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// What the rest of a stream is worth after frame error `e`: after a missing terminator the
/// next boundary is known; after anything else nothing more can be framed.
fn after(e: &FrameError) -> &'static str {
    match e {
        FrameError::MissingTerminator { .. } => "",
        _ => "; no later document boundary can be found, so the rest of this input was not read",
    }
}

/// A reusable buffer over a `Read` that hands out contiguous runs of bytes: what every reader
/// of length-prefixed items needs (BSON streams here, mongodump archive items). A run stays
/// valid until the next call; the buffer grows only for an item larger than itself.
pub struct RefillBuffer<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> RefillBuffer<R> {
    /// A buffer over `reader` (256 KiB to start), whose first byte is stream offset 0.
    pub fn new(reader: R) -> Self {
        RefillBuffer {
            reader,
            buf: vec![0; 256 * 1024],
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// Stream offset of the first byte not yet taken.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Makes at least `n` bytes available unless the stream ends first, and returns what is
    /// available. A read error comes with the stream offset it happened at.
    pub fn fill(&mut self, n: usize) -> Result<&[u8], (u64, io::Error)> {
        while self.end - self.start < n && !self.eof {
            if self.start + n > self.buf.len() {
                // Move what is left to the front, growing for a large item.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if n > self.buf.len() {
                    self.buf.resize(n.next_power_of_two(), 0);
                }
            }
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err((self.offset + (self.end - self.start) as u64, e)),
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    /// The bytes available now, without reading.
    pub fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Takes the next `n` available bytes (at most what [`fill`](Self::fill) made available).
    pub fn take(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.end - self.start);
        let run = &self.buf[self.start..self.start + n];
        self.start += n;
        self.offset += n as u64;
        run
    }
}

/// Reads documents one at a time from a `Read`, with one reusable buffer.
pub struct DocumentReader<R> {
    buf: RefillBuffer<R>,
}

/// What can go wrong reading a stream of documents.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The underlying reader failed; the message names the stream offset.
    #[error("read error at byte {offset}: {source}")]
    Io {
        /// Stream offset of the first byte the failed read was to return.
        offset: u64,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// A document's frame is broken (see [`FrameError`]). [`DocumentReader::next_document`]
    /// returns it; [`write_stream`] hands it to [`CollectionWriter::corrupt`] instead.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The writer refused a document or a reported corruption; its message is kept as is.
    #[error(transparent)]
    Sink(SinkError),
}

impl<R: Read> DocumentReader<R> {
    /// Reads documents from `reader`, whose first byte is stream offset 0.
    pub fn new(reader: R) -> Self {
        DocumentReader {
            buf: RefillBuffer::new(reader),
        }
    }

    /// Offset of the next document in the stream.
    pub fn offset(&self) -> u64 {
        self.buf.offset()
    }

    /// The next document and its offset; `Ok(None)` at a clean end of stream.
    pub fn next_document(&mut self) -> Result<Option<(u64, &[u8])>, StreamError> {
        let io = |(offset, source)| StreamError::Io { offset, source };
        let offset = self.buf.offset();
        let head = self.buf.fill(4).map_err(io)?;
        if head.is_empty() {
            return Ok(None);
        }
        if head.len() >= 4 {
            let len = i32::from_le_bytes(head[..4].try_into().unwrap());
            if (5..=MAX_DOCUMENT_BYTES as i32).contains(&len) {
                self.buf.fill(len as usize).map_err(io)?;
            }
        }
        match frame_len(self.buf.available(), offset) {
            Ok(len) => Ok(Some((offset, self.buf.take(len)))),
            Err(e @ FrameError::MissingTerminator { len, .. }) => {
                // The next boundary is known: step over it, so that reading can go on.
                self.buf.take(len);
                Err(StreamError::Frame(e))
            }
            Err(e) => Err(StreamError::Frame(e)),
        }
    }
}

/// Counts of one stream pushed into a writer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Documents handed to the writer.
    pub documents: u64,
    /// Their total size in bytes, as framed (length prefix and trailing `0x00` included).
    pub bytes: u64,
    /// True when the reader reported a frame after which nothing can be framed (a bad or cut
    /// length) and the sink chose to skip the rest.
    pub stopped_at_corruption: bool,
}

/// Pushes every document of `data` (a whole stream held in memory or mapped) into `writer`.
/// A frame error goes to [`CollectionWriter::corrupt`]; if the sink accepts it, reading goes
/// on after a document that only lacks its trailing `0x00` and stops at any other frame
/// error (the stats say so); otherwise the sink's error is returned. `on_progress` is called with
/// the number of bytes of `data` consumed so far, every few MiB and once at the end (with
/// `data.len()`), so the caller can drop mapped pages it no longer needs.
pub fn write_slice<W: CollectionWriter>(
    data: &[u8],
    writer: &mut W,
    mut on_progress: impl FnMut(usize),
) -> Result<StreamStats, SinkError> {
    const STEP: usize = 4 << 20;
    let mut stats = StreamStats::default();
    let mut docs = SliceDocuments::new(data, 0);
    let mut next_report = STEP;
    while let Some(item) = docs.next() {
        match item {
            Ok((offset, doc)) => {
                writer.write_document(doc, offset)?;
                stats.documents += 1;
                stats.bytes += doc.len() as u64;
            }
            Err(e) => {
                writer.corrupt(e.offset(), &format!("{e}{}", after(&e)))?;
                if !matches!(e, FrameError::MissingTerminator { .. }) {
                    stats.stopped_at_corruption = true;
                    break;
                }
            }
        }
        if docs.position() >= next_report {
            on_progress(docs.position());
            next_report = docs.position() + STEP;
        }
    }
    on_progress(data.len());
    Ok(stats)
}

/// Pushes every document read from `reader` into `writer`, with the same policy as
/// [`write_slice`]. I/O errors are returned as they are. `on_document` runs after each
/// document written (progress ticks).
pub fn write_stream<R: Read, W: CollectionWriter>(
    reader: R,
    writer: &mut W,
    mut on_document: impl FnMut(),
) -> Result<StreamStats, StreamError> {
    let mut stats = StreamStats::default();
    let mut docs = DocumentReader::new(reader);
    loop {
        match docs.next_document() {
            Ok(Some((offset, doc))) => {
                stats.documents += 1;
                stats.bytes += doc.len() as u64;
                writer
                    .write_document(doc, offset)
                    .map_err(StreamError::Sink)?;
                on_document();
            }
            Ok(None) => return Ok(stats),
            Err(StreamError::Frame(e)) => {
                writer
                    .corrupt(e.offset(), &format!("{e}{}", after(&e)))
                    .map_err(StreamError::Sink)?;
                if !matches!(e, FrameError::MissingTerminator { .. }) {
                    stats.stopped_at_corruption = true;
                    return Ok(stats);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that skips corrupt spans and keeps what it got.
    #[derive(Default)]
    struct Skipping {
        docs: Vec<u64>,
        corrupt: Vec<(u64, String)>,
    }

    impl CollectionWriter for Skipping {
        fn set_origin(&mut self, _: &str) {}
        fn write_document(&mut self, _: &[u8], offset: u64) -> Result<(), SinkError> {
            self.docs.push(offset);
            Ok(())
        }
        fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError> {
            self.corrupt.push((offset, detail.to_string()));
            Ok(())
        }
        fn finish(self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    /// Found by the whole-binary mutation test: under a skipping sink, one document without
    /// its trailing 0x00 used to drop every later document of the file.
    #[test]
    fn a_document_without_its_terminator_is_skipped_alone() {
        let mut data = doc(1, 10);
        let mut bad = doc(2, 12);
        *bad.last_mut().unwrap() = 7;
        data.extend(&bad);
        data.extend(doc(3, 9));
        let mut sliced = Skipping::default();
        let stats = write_slice(&data, &mut sliced, |_| {}).unwrap();
        assert_eq!(sliced.docs, [0, 22]);
        assert_eq!(sliced.corrupt.len(), 1);
        assert_eq!(sliced.corrupt[0].0, 10);
        assert!(!stats.stopped_at_corruption);
        let mut streamed = Skipping::default();
        let stats = write_stream(&data[..], &mut streamed, || {}).unwrap();
        assert_eq!(
            (streamed.docs, streamed.corrupt),
            (sliced.docs, sliced.corrupt)
        );
        assert!(!stats.stopped_at_corruption);
        // A bad length stops the read, and the report says that the rest was not read.
        let mut cut = doc(1, 10);
        cut.extend([0xff, 0xff, 0xff, 0x7f]);
        cut.extend(doc(3, 9));
        let mut w = Skipping::default();
        let stats = write_slice(&cut, &mut w, |_| {}).unwrap();
        assert!(stats.stopped_at_corruption);
        assert_eq!(w.docs, [0]);
        assert!(
            w.corrupt[0].1.contains("rest of this input was not read"),
            "{:?}",
            w.corrupt
        );
    }

    fn doc(fill: u8, len: usize) -> Vec<u8> {
        let mut d = (len as i32).to_le_bytes().to_vec();
        d.resize(len - 1, fill);
        d.push(0);
        d
    }

    #[test]
    fn frames_and_offsets() {
        let mut data = doc(1, 5);
        data.extend(doc(2, 300));
        data.extend(doc(3, 17));
        let got: Vec<_> = SliceDocuments::new(&data, 100)
            .map(|r| r.unwrap())
            .map(|(o, d)| (o, d.len()))
            .collect();
        assert_eq!(got, [(100, 5), (105, 300), (405, 17)]);

        let mut reader = DocumentReader::new(&data[..]);
        let mut got = Vec::new();
        while let Some((o, d)) = reader.next_document().unwrap() {
            got.push((o, d.len()));
        }
        assert_eq!(got, [(0, 5), (5, 300), (305, 17)]);
    }

    #[test]
    fn reader_handles_documents_larger_than_its_buffer_and_tiny_reads() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(7);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut data = doc(9, 1_000_000);
        data.extend(doc(8, 6));
        let mut reader = DocumentReader::new(Trickle(&data));
        let (o1, d1) = reader.next_document().unwrap().unwrap();
        assert_eq!((o1, d1.len()), (0, 1_000_000));
        let (o2, d2) = reader.next_document().unwrap().unwrap();
        assert_eq!((o2, d2.len()), (1_000_000, 6));
        assert!(reader.next_document().unwrap().is_none());
    }

    #[test]
    fn truncated_tail_of_a_stream() {
        let mut data = doc(1, 20);
        data.extend(&doc(2, 40)[..25]);
        let mut reader = DocumentReader::new(&data[..]);
        assert!(reader.next_document().unwrap().is_some());
        match reader.next_document() {
            Err(StreamError::Frame(FrameError::Truncated {
                offset: 20,
                len: 40,
                available: 25,
            })) => {}
            other => panic!("{other:?}"),
        }
    }
}
