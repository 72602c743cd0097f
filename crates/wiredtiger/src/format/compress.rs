//! Block compressors: the payload framing each WiredTiger extension writes.
//!
//! A compressed block keeps its first 64 bytes (page header, block header, first payload bytes)
//! in clear; the compressor's input was `page[64 .. mem_size]`. After those 64 bytes:
//!
//! | `block_compressor=` | framing |
//! |---|---|
//! | `snappy` | `u64 LE` compressed length, then a raw snappy block |
//! | `zstd` | `u64 LE` compressed length, then one zstd frame |
//! | `zlib` | a zlib stream (header + Adler-32), no length prefix; zero padding follows |
//! | empty / `none` | never compressed |

use std::fmt;

/// The `block_compressor=` of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compressor {
    /// No compressor (`block_compressor=` empty or `none`): a block flagged compressed is a
    /// decompression error.
    None,
    /// `snappy`, MongoDB's default: a `u64` LE compressed length, then a raw snappy block.
    Snappy,
    /// `zstd` (MongoDB 4.2+, the default for time-series buckets): a `u64` LE compressed
    /// length, then one zstd frame.
    Zstd,
    /// `zlib`: one zlib stream with no length prefix, followed by the block's zero padding.
    Zlib,
    /// WiredTiger's lz4 extension (never offered by MongoDB): recognised, not decoded.
    Lz4,
}

impl Compressor {
    /// The compressor named in a config string; `None` for an unknown name.
    pub fn from_name(name: &str) -> Option<Compressor> {
        Some(match name {
            "" | "none" => Compressor::None,
            "snappy" => Compressor::Snappy,
            "zstd" => Compressor::Zstd,
            "zlib" => Compressor::Zlib,
            "lz4" => Compressor::Lz4,
            _ => return None,
        })
    }

    /// The name as `block_compressor=` spells it (`none` for [`Compressor::None`]); error
    /// messages use it.
    pub fn name(self) -> &'static str {
        match self {
            Compressor::None => "none",
            Compressor::Snappy => "snappy",
            Compressor::Zstd => "zstd",
            Compressor::Zlib => "zlib",
            Compressor::Lz4 => "lz4",
        }
    }

    /// Decompresses `src` (the block from byte 64 to its end, padding included) into `dst`,
    /// which must be filled exactly.
    pub fn decompress(self, src: &[u8], dst: &mut [u8]) -> Result<(), String> {
        match self {
            Compressor::None => {
                Err("the page is marked compressed but the file has no block_compressor".into())
            }
            Compressor::Lz4 => Err("lz4 is not supported".into()),
            Compressor::Snappy => {
                let body = length_prefixed(src)?;
                let len = snap::raw::decompress_len(body).map_err(|e| e.to_string())?;
                if len != dst.len() {
                    return Err(format!(
                        "snappy data holds {len} bytes, the page header says {}",
                        dst.len()
                    ));
                }
                let n = snap::raw::Decoder::new()
                    .decompress(body, dst)
                    .map_err(|e| e.to_string())?;
                expect_len(n, dst.len())
            }
            Compressor::Zstd => {
                let body = length_prefixed(src)?;
                let n = zstd::bulk::decompress_to_buffer(body, dst).map_err(|e| e.to_string())?;
                expect_len(n, dst.len())
            }
            Compressor::Zlib => {
                // One spare byte tells "exactly full" apart from "more data was coming".
                let mut out = vec![0u8; dst.len() + 1];
                let mut z = flate2::Decompress::new(true);
                let status = z
                    .decompress(src, &mut out, flate2::FlushDecompress::Finish)
                    .map_err(|e| e.to_string())?;
                if status != flate2::Status::StreamEnd {
                    return Err("the zlib stream does not end inside the block".into());
                }
                let n = z.total_out() as usize;
                expect_len(n, dst.len())?;
                dst.copy_from_slice(&out[..n]);
                Ok(())
            }
        }
    }
}

impl fmt::Display for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The payload after snappy's and zstd's `u64` length prefix.
fn length_prefixed(src: &[u8]) -> Result<&[u8], String> {
    let prefix: [u8; 8] = src
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or("the block is too short for the compressed-length prefix")?;
    let len = u64::from_le_bytes(prefix);
    src.get(8..)
        .and_then(|rest| rest.get(..usize::try_from(len).ok()?))
        .ok_or_else(|| {
            format!(
                "compressed length {len} exceeds the {} bytes left in the block",
                src.len() - 8
            )
        })
}

fn expect_len(got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "decompressed to {got} bytes, the page header says {want}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn sample() -> Vec<u8> {
        (0..5000u32).flat_map(|i| (i % 97).to_le_bytes()).collect()
    }

    fn framed(len_prefixed: bool, body: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        if len_prefixed {
            out.extend_from_slice(&(body.len() as u64).to_le_bytes());
        }
        out.extend_from_slice(&body);
        out.extend_from_slice(&[0; 300]); // block padding
        out
    }

    #[test]
    fn each_compressor_round_trips_with_padding() {
        let data = sample();
        let snappy = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        let zstd = zstd::bulk::compress(&data, 3).unwrap();
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&data).unwrap();
        let zlib = z.finish().unwrap();
        for (c, src) in [
            (Compressor::Snappy, framed(true, snappy)),
            (Compressor::Zstd, framed(true, zstd)),
            (Compressor::Zlib, framed(false, zlib)),
        ] {
            let mut out = vec![0; data.len()];
            c.decompress(&src, &mut out).unwrap();
            assert_eq!(out, data, "{c}");
            let mut short = vec![0; data.len() - 1];
            assert!(c.decompress(&src, &mut short).is_err(), "{c} short");
            let mut long = vec![0; data.len() + 1];
            assert!(c.decompress(&src, &mut long).is_err(), "{c} long");
            let mut garbage = src.clone();
            for b in garbage.iter_mut().skip(12).take(40) {
                *b ^= 0x5a;
            }
            let mut out = vec![0; data.len()];
            let r = c.decompress(&garbage, &mut out);
            assert!(r.is_err() || out != data, "{c} garbage");
        }
    }

    #[test]
    fn names() {
        assert_eq!(Compressor::from_name(""), Some(Compressor::None));
        assert_eq!(Compressor::from_name("none"), Some(Compressor::None));
        assert_eq!(Compressor::from_name("zstd"), Some(Compressor::Zstd));
        assert_eq!(Compressor::from_name("brotli"), None);
        let mut out = [0u8; 4];
        assert!(Compressor::None.decompress(&[0; 8], &mut out).is_err());
        assert!(Compressor::Snappy.decompress(&[0xff; 8], &mut out).is_err());
    }
}
