//! The low-level grammar of a mongodump archive: after the 4-byte magic, a run of items, each
//! either a BSON document (int32 length, bytes, `0x00`) or the block terminator
//! `ff ff ff ff`, read from a stream with one reusable buffer.

use std::io::{self, Read};

use bsonflow_model::frame::{frame_len, FrameError, MAX_DOCUMENT_BYTES};

use crate::bson_stream::RefillBuffer;

/// The four bytes that end every block.
pub(crate) const TERMINATOR: [u8; 4] = [0xff; 4];

/// One item of the stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    /// `ff ff ff ff`.
    Terminator,
    /// A whole document whose frame is sound.
    Document(&'a [u8]),
    /// A span whose length prefix is sound but whose last byte is not `0x00`: the next item
    /// can still be found, so the caller decides whether this is fatal.
    Unterminated(&'a [u8]),
    /// A clean end of the stream, exactly between two items.
    End,
}

/// What stops the item reader.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ItemError {
    #[error("{source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("the stream ends inside an item of {wanted} bytes ({available} present)")]
    Truncated {
        offset: u64,
        wanted: usize,
        available: usize,
    },
    #[error("{len} is neither a terminator nor a document length in 5..={MAX_DOCUMENT_BYTES}")]
    BadLength { offset: u64, len: i32 },
}

impl ItemError {
    pub fn offset(&self) -> u64 {
        match self {
            ItemError::Io { offset, .. }
            | ItemError::Truncated { offset, .. }
            | ItemError::BadLength { offset, .. } => *offset,
        }
    }
}

/// Reads items one at a time; the slice of the last item stays valid until the next call.
pub(crate) struct ItemReader<R> {
    buf: RefillBuffer<R>,
}

impl<R: Read> ItemReader<R> {
    pub fn new(reader: R) -> Self {
        ItemReader {
            buf: RefillBuffer::new(reader),
        }
    }

    /// Offset of the next item in the stream.
    pub fn offset(&self) -> u64 {
        self.buf.offset()
    }

    fn fill(&mut self, n: usize) -> Result<usize, ItemError> {
        self.buf
            .fill(n)
            .map(<[u8]>::len)
            .map_err(|(offset, source)| ItemError::Io { offset, source })
    }

    /// Up to `n` raw bytes (the magic number); fewer only at the end of the stream.
    pub fn raw(&mut self, n: usize) -> Result<Vec<u8>, ItemError> {
        self.fill(n)?;
        Ok(self.buf.take(n).to_vec())
    }

    /// The next item and the offset it starts at.
    pub fn next_item(&mut self) -> Result<(u64, Item<'_>), ItemError> {
        let offset = self.buf.offset();
        let available = self.fill(4)?;
        if available == 0 {
            return Ok((offset, Item::End));
        }
        if available < 4 {
            return Err(ItemError::Truncated {
                offset,
                wanted: 4,
                available,
            });
        }
        let head: [u8; 4] = self.buf.available()[..4].try_into().unwrap();
        if head == TERMINATOR {
            self.buf.take(4);
            return Ok((offset, Item::Terminator));
        }
        let len = i32::from_le_bytes(head);
        // The frame rules are the model's; only the terminator is the archive's own.
        if let Err(FrameError::BadLength { .. }) = frame_len(&head, offset) {
            return Err(ItemError::BadLength { offset, len });
        }
        let len = len as usize;
        let available = self.fill(len)?;
        if available < len {
            return Err(ItemError::Truncated {
                offset,
                wanted: len,
                available,
            });
        }
        let doc = self.buf.take(len);
        let item = match frame_len(doc, offset) {
            Ok(_) => Item::Document(doc),
            Err(_) => Item::Unterminated(doc),
        };
        Ok((offset, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(len: usize) -> Vec<u8> {
        let mut d = (len as i32).to_le_bytes().to_vec();
        d.resize(len - 1, 7);
        d.push(0);
        d
    }

    #[test]
    fn items_and_offsets() {
        let mut data = b"MAGI".to_vec();
        data.extend(doc(5));
        data.extend(TERMINATOR);
        data.extend(doc(600_000));
        let mut bad = doc(9);
        bad[8] = 1;
        data.extend(&bad);
        let mut r = ItemReader::new(&data[..]);
        assert_eq!(r.raw(4).unwrap(), b"MAGI");
        assert_eq!(r.next_item().unwrap(), (4, Item::Document(&doc(5)[..])));
        assert_eq!(r.next_item().unwrap(), (9, Item::Terminator));
        let (o, item) = r.next_item().unwrap();
        assert_eq!(o, 13);
        assert!(matches!(item, Item::Document(d) if d.len() == 600_000));
        assert_eq!(
            r.next_item().unwrap(),
            (600_013, Item::Unterminated(&bad[..]))
        );
        assert_eq!(r.next_item().unwrap(), (600_022, Item::End));
    }

    #[test]
    fn truncation_and_bad_lengths() {
        let d = doc(40);
        let mut r = ItemReader::new(&d[..30]);
        assert!(matches!(
            r.next_item(),
            Err(ItemError::Truncated {
                offset: 0,
                wanted: 40,
                available: 30
            })
        ));
        let mut r = ItemReader::new(&[0xff, 0xff][..]);
        assert!(matches!(
            r.next_item(),
            Err(ItemError::Truncated { wanted: 4, .. })
        ));
        for len in [4i32, 0, -2, i32::MAX] {
            let bytes = len.to_le_bytes();
            let mut r = ItemReader::new(&bytes[..]);
            assert!(matches!(
                r.next_item(),
                Err(ItemError::BadLength { offset: 0, len: l }) if l == len
            ));
        }
    }
}
