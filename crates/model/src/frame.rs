//! The outer frame of a BSON document: the one rule every reader applies before it hands a
//! document to a [`CollectionWriter`](crate::CollectionWriter).
//!
//! A frame is an int32 little-endian length prefix between 5 and [`MAX_DOCUMENT_BYTES`]
//! that counts itself, followed by the body, whose last byte is `0x00`. The inside of the
//! document is validated by the writer (the Extended JSON encoder), not here.

/// The largest document accepted: MongoDB's 16 MiB limit plus the 16 KiB of slack that
/// bsondump and mongorestore allow (`16793600` bytes).
pub const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024 + 16 * 1024;

/// Bytes that do not hold a well-framed document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix is below 5 or above [`MAX_DOCUMENT_BYTES`].
    #[error("document length {len} at byte {offset} is outside 5..={MAX_DOCUMENT_BYTES}")]
    BadLength {
        /// Where the frame starts.
        offset: u64,
        /// The length prefix as read.
        len: i64,
    },
    /// Fewer bytes remain than the length prefix promises.
    #[error("truncated document at byte {offset}: its length says {len} bytes but only {available} remain")]
    Truncated {
        /// Where the frame starts.
        offset: u64,
        /// The length the prefix promises (4 when even the prefix is cut).
        len: usize,
        /// The bytes there are.
        available: usize,
    },
    /// The last byte of the frame is not `0x00`.
    #[error("document at byte {offset} ({len} bytes) does not end with a 0x00 byte")]
    MissingTerminator {
        /// Where the frame starts.
        offset: u64,
        /// The length of the frame.
        len: usize,
    },
    /// A value that should be exactly one document is not as long as its prefix says.
    #[error("the BSON length prefix says {declared} bytes, the value has {actual}")]
    ValueLength {
        /// The length prefix as read.
        declared: i64,
        /// The length of the value.
        actual: usize,
    },
}

impl FrameError {
    /// The byte offset of the frame in its stream.
    pub fn offset(&self) -> u64 {
        match self {
            FrameError::BadLength { offset, .. }
            | FrameError::Truncated { offset, .. }
            | FrameError::MissingTerminator { offset, .. } => *offset,
            FrameError::ValueLength { .. } => 0,
        }
    }
}

/// Checks the frame of the document that starts `data`, which sits at `offset` of its
/// stream, and returns its length. `data` may hold more than one document.
pub fn frame_len(data: &[u8], offset: u64) -> Result<usize, FrameError> {
    if data.len() < 4 {
        return Err(FrameError::Truncated {
            offset,
            len: 4,
            available: data.len(),
        });
    }
    let len = i32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    if len < 5 || len as usize > MAX_DOCUMENT_BYTES {
        return Err(FrameError::BadLength {
            offset,
            len: i64::from(len),
        });
    }
    let len = len as usize;
    if len > data.len() {
        return Err(FrameError::Truncated {
            offset,
            len,
            available: data.len(),
        });
    }
    if data[len - 1] != 0 {
        return Err(FrameError::MissingTerminator { offset, len });
    }
    Ok(len)
}

/// Checks that `value` (a record of a storage engine, an item of an archive) is exactly one
/// well-framed document: its length prefix equals its size, then the rules of [`frame_len`].
pub fn check_frame(value: &[u8]) -> Result<(), FrameError> {
    if value.len() >= 4 {
        let declared = i32::from_le_bytes([value[0], value[1], value[2], value[3]]);
        if i64::from(declared) != value.len() as i64 {
            return Err(FrameError::ValueLength {
                declared: i64::from(declared),
                actual: value.len(),
            });
        }
    }
    frame_len(value, 0).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(body: usize) -> Vec<u8> {
        let len = (body + 5) as i32;
        let mut d = len.to_le_bytes().to_vec();
        d.extend(std::iter::repeat_n(1, body));
        d.push(0);
        d
    }

    #[test]
    fn lengths_and_offsets() {
        let mut two = doc(3);
        two.extend(doc(0));
        assert_eq!(frame_len(&two, 9), Ok(8));
        assert_eq!(frame_len(&two[8..], 17), Ok(5));
        assert_eq!(
            frame_len(&[4, 0, 0, 0, 0], 7),
            Err(FrameError::BadLength { offset: 7, len: 4 })
        );
        assert_eq!(
            frame_len(&[0xff, 0xff, 0xff, 0xff], 0),
            Err(FrameError::BadLength { offset: 0, len: -1 })
        );
        assert_eq!(
            frame_len(&doc(5)[..9], 2),
            Err(FrameError::Truncated {
                offset: 2,
                len: 10,
                available: 9
            })
        );
        assert_eq!(
            frame_len(&[5, 0], 0).unwrap_err().offset(),
            0,
            "a cut prefix is a truncation"
        );
        let mut bad = doc(2);
        *bad.last_mut().unwrap() = 1;
        assert_eq!(
            frame_len(&bad, 3),
            Err(FrameError::MissingTerminator { offset: 3, len: 7 })
        );
        let mut big = ((MAX_DOCUMENT_BYTES + 1) as i32).to_le_bytes().to_vec();
        big.push(0);
        assert!(matches!(
            frame_len(&big, 0),
            Err(FrameError::BadLength { .. })
        ));
    }

    #[test]
    fn a_value_is_exactly_one_document() {
        assert_eq!(check_frame(&[5, 0, 0, 0, 0]), Ok(()));
        assert!(check_frame(&[6, 0, 0, 0, 0]).is_err());
        assert!(check_frame(&[5, 0, 0, 0, 1]).is_err());
        assert!(check_frame(&[4, 0, 0, 0]).is_err());
        assert!(check_frame(&[]).is_err());
        assert!(check_frame(&[0xff, 0xff, 0xff, 0xff, 0]).is_err());
        assert_eq!(
            check_frame(&[5, 0, 0, 0, 0, 9]),
            Err(FrameError::ValueLength {
                declared: 5,
                actual: 6
            })
        );
        assert!(check_frame(&[6, 0, 0, 0, 0])
            .unwrap_err()
            .to_string()
            .contains("length prefix says 6 bytes, the value has 5"));
    }
}
