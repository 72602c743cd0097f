//! What may follow a tar's end-of-archive marker: zero bytes, nothing else.
//!
//! A tar ends with two 512-byte blocks of zeros, and `tar` pads the archive with more zeros
//! to a whole record (10240 bytes by default). The `tar` crate stops at the first zero
//! block. The readers then read the rest of the stream to its true end with
//! [`check_after_end`]: that verifies the trailer of a compressed stream (the gzip CRC-32 and
//! ISIZE, zstd's frame checksum), and finds members written after an early marker (two tars
//! concatenated, a marker damaged into the middle of an archive), which `tar` itself would
//! silently drop.

use std::io::{self, Read};

/// What followed the end-of-archive block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterEnd {
    /// Only zero bytes (this many) up to the end of the stream.
    Zeros(u64),
    /// A byte that is not zero, at this offset counted from the start of what followed.
    Data(u64),
}

/// Reads `rest` to its end and says whether it held only zero bytes. A read error (a
/// decoder that finds the stream damaged or its checksum wrong) is returned as it is.
pub fn check_after_end<R: Read>(rest: &mut R) -> io::Result<AfterEnd> {
    let mut buf = vec![0u8; 64 << 10];
    let mut seen = 0u64;
    loop {
        let n = match rest.read(&mut buf) {
            Ok(0) => return Ok(AfterEnd::Zeros(seen)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if let Some(i) = buf[..n].iter().position(|&b| b != 0) {
            return Ok(AfterEnd::Data(seen + i as u64));
        }
        seen += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_pass_and_anything_else_is_found_where_it_is() {
        assert_eq!(check_after_end(&mut &[][..]).unwrap(), AfterEnd::Zeros(0));
        let zeros = vec![0u8; 10240 - 512];
        assert_eq!(
            check_after_end(&mut &zeros[..]).unwrap(),
            AfterEnd::Zeros(9728)
        );
        let mut more = vec![0u8; 200_000];
        more[150_000] = b'u';
        assert_eq!(
            check_after_end(&mut &more[..]).unwrap(),
            AfterEnd::Data(150_000)
        );
    }

    #[test]
    fn a_damaged_gzip_trailer_is_an_error() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[0u8; 4096]).unwrap();
        let mut gz = enc.finish().unwrap();
        let n = gz.len();
        gz[n - 8] ^= 1; // the CRC-32
        let mut dec = flate2::read::MultiGzDecoder::new(&gz[..]);
        assert!(check_after_end(&mut dec).is_err());
    }
}
