//! What may follow a tar's end-of-archive marker: zero bytes, nothing else; and pax records
//! that must parse.
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

/// Checks that every pax record in front of `entry` (`LEN key=value\n`, the length
/// counting the whole record) is well formed. The `tar` crate skips a record it cannot parse
/// and goes on with the fields of the plain header, so a damaged `path` or `size` record would
/// silently give the member another name or length; nothing checksums a record's bytes, so
/// its syntax is all there is to check.
pub fn check_pax_records<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<()> {
    let damaged = |what: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a damaged pax record in front of this member: {what}"),
        )
    };
    if let Some(records) = entry.pax_extensions()? {
        for record in records {
            let record = record.map_err(|e| damaged(e.to_string()))?;
            // The numbers the crate would otherwise drop in silence for the plain header's
            // (a negative `size=-316` reads the member with another length).
            if let (Ok(key @ ("size" | "uid" | "gid")), value) = (record.key(), record.value()) {
                if value.ok().and_then(|v| v.parse::<u64>().ok()).is_none() {
                    let shown = String::from_utf8_lossy(record.value_bytes()).into_owned();
                    return Err(damaged(format!(
                        "{key}={shown} is not a number of bytes or an id"
                    )));
                }
            }
        }
    }
    Ok(())
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

    /// A pax record whose length is damaged (written by the `tar` crate's builder, then
    /// altered): the crate itself reads past it without a word.
    #[test]
    fn a_damaged_pax_record_is_an_error() {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_pax_extensions([("path", b"db/a-name.bson".as_slice())])
            .unwrap();
        builder.append_data(&mut header, "x", &b"abc"[..]).unwrap();
        let good = builder.into_inner().unwrap();
        let read = |bytes: &[u8]| -> io::Result<()> {
            let mut archive = tar::Archive::new(bytes);
            for entry in archive.entries()? {
                check_pax_records(&mut entry?)?;
            }
            Ok(())
        };
        read(&good).unwrap();
        // The record is "23 path=db/a-name.bson\n" in the pax header's data block.
        let at = good.windows(8).position(|w| w == b"23 path=").unwrap();
        // A negative size, which the crate alone drops for the plain header's.
        let mut builder = tar::Builder::new(Vec::new());
        builder
            .append_pax_extensions([("size", b"-3".as_slice())])
            .unwrap();
        builder.append_data(&mut header, "x", &b"abc"[..]).unwrap();
        assert!(read(&builder.into_inner().unwrap()).is_err());
        let mut bad = good.clone();
        bad[at + 1] = b'9';
        let mut silent = tar::Archive::new(&bad[..]);
        let names: Vec<String> = silent
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            ["x"],
            "the tar crate alone takes the plain header's name"
        );
        assert!(read(&bad).is_err());
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
