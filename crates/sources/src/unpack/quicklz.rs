//! QuickLZ packet decoder (levels 1, 2 and 3), written from
//! `shared/docs/formats/xbstream-qpress.md` §4.
//!
//! A packet is a 3- or 9-byte header followed by either the raw bytes (stored packet) or a
//! stream of 32-bit control words, literals and matches. The header is parsed by its own
//! length: bit 1 of the flag byte says whether `u8 comp, u8 dec` or `u32 comp, u32 dec`
//! follow, and `comp` counts the header itself ([`Header::parse`]).
//!
//! Rules chosen (all errors, never panics, never reads outside the packet):
//!
//! - the flag byte must have bit 6 set and bit 7 clear; the level must be 1, 2 or 3;
//! - streaming-buffer bits (4–5) must be 0, as qpress and xtrabackup write them
//!   ([`QuickLzError::StreamingBuffer`]): a streaming packet depends on earlier packets;
//! - the packet must be exactly `comp` bytes long and decompress to at most the caller's
//!   limit (the qpress chunk size);
//! - a stored packet holds exactly `dec` bytes;
//! - a match may only copy bytes already decoded (level 1/2 table entries and level 3
//!   offsets pointing at or past the current end are refused), may not overrun `dec`, and
//!   level 1/2 matches must be at least 3 bytes (what the hash maintenance assumes);
//! - reading the 4-byte "fetch" word past the end of the packet pads with zeros, but every
//!   byte actually consumed must lie inside the packet.
//!
//! [`Decoder`] keeps the level 1/2 hash tables between calls so that decoding many packets
//! allocates nothing but the output.
//!
//! Why not the `quicklz` crate: it decodes levels 1 and 3 only, reads through `dyn Read` one
//! byte at a time and ignores the streaming bits; this decoder also reads level 2 and is
//! several times faster on 64 KiB packets (numbers in `benches/benches/unpack.rs` and the
//! project notes). Both agree on every packet in the tests.

/// Longest header (flags, `u32` compressed size, `u32` decompressed size).
pub const MAX_HEADER_LEN: usize = 9;

/// Why a packet was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuickLzError {
    /// The packet ends before its header, a literal, a match or a control word does.
    #[error("QuickLZ packet cut short: {needed} bytes needed, {available} present")]
    Truncated {
        /// Bytes the packet would need to hold, counted from its start.
        needed: usize,
        /// Bytes it has.
        available: usize,
    },
    /// The flag byte does not have bit 6 set and bit 7 clear.
    #[error("QuickLZ packet with invalid flag byte {0:#04x}")]
    Flags(u8),
    /// The level bits (2–3) of the flag byte are 0; levels 1, 2 and 3 exist.
    #[error("QuickLZ packet of unknown level {0}")]
    Level(u8),
    /// The streaming-buffer bits (4–5) are not 0: the packet depends on earlier ones.
    #[error("QuickLZ packet in streaming mode {0} (only non-streaming packets are independent)")]
    StreamingBuffer(u8),
    /// The packet is not as long as its header says.
    #[error("QuickLZ header says {header} compressed bytes, the packet has {actual}")]
    SizeMismatch {
        /// The compressed size in the header (header included), in bytes.
        header: usize,
        /// The length of the packet given, in bytes.
        actual: usize,
    },
    /// The header's decompressed size is over the caller's limit (the qpress chunk size).
    #[error("QuickLZ packet of {size} bytes once decompressed (at most {max} allowed)")]
    TooLarge {
        /// The decompressed size in the header, in bytes.
        size: usize,
        /// The caller's limit, in bytes.
        max: usize,
    },
    /// A stored (uncompressed) packet's body is not exactly its decompressed size.
    #[error("stored QuickLZ packet of {compressed} bytes cannot hold {decompressed} bytes")]
    Stored {
        /// The packet's size in the header (header included), in bytes.
        compressed: usize,
        /// The decompressed size in the header, in bytes.
        decompressed: usize,
    },
    /// The packet breaks a decoding rule (a match outside the decoded bytes, too short, or
    /// past the decompressed size; a compressed size below the header's length).
    #[error("corrupt QuickLZ packet at byte {at}: {what}")]
    Corrupt {
        /// Offset in the packet (header included) where decoding stopped.
        at: usize,
        /// The rule broken.
        what: &'static str,
    },
}

/// A parsed packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The flag byte: level, header length, stored or compressed.
    pub flags: u8,
    /// 1, 2 or 3.
    pub level: u8,
    /// False for a stored (uncompressed) packet.
    pub compressed: bool,
    /// 3 or 9.
    pub header_len: usize,
    /// Size of the whole packet, header included.
    pub compressed_size: usize,
    /// Size of the decoded bytes.
    pub decompressed_size: usize,
}

/// Length of the header announced by a flag byte (3 or 9).
pub fn header_len(flags: u8) -> usize {
    if flags & 2 != 0 {
        9
    } else {
        3
    }
}

impl Header {
    /// Parses the header at the start of `bytes` (which may hold more than the header).
    pub fn parse(bytes: &[u8]) -> Result<Header, QuickLzError> {
        let Some(&flags) = bytes.first() else {
            return Err(QuickLzError::Truncated {
                needed: 1,
                available: 0,
            });
        };
        if flags & 0xc0 != 0x40 {
            return Err(QuickLzError::Flags(flags));
        }
        let streaming = (flags >> 4) & 3;
        if streaming != 0 {
            return Err(QuickLzError::StreamingBuffer(streaming));
        }
        let level = (flags >> 2) & 3;
        if level == 0 {
            return Err(QuickLzError::Level(level));
        }
        let header_len = header_len(flags);
        if bytes.len() < header_len {
            return Err(QuickLzError::Truncated {
                needed: header_len,
                available: bytes.len(),
            });
        }
        let (compressed_size, decompressed_size) = if header_len == 9 {
            (read_u32(bytes, 1) as usize, read_u32(bytes, 5) as usize)
        } else {
            (bytes[1] as usize, bytes[2] as usize)
        };
        let compressed = flags & 1 != 0;
        if compressed_size < header_len {
            return Err(QuickLzError::Corrupt {
                at: 1,
                what: "compressed size smaller than the header",
            });
        }
        if !compressed && compressed_size - header_len != decompressed_size {
            return Err(QuickLzError::Stored {
                compressed: compressed_size,
                decompressed: decompressed_size,
            });
        }
        Ok(Header {
            flags,
            level,
            compressed,
            header_len,
            compressed_size,
            decompressed_size,
        })
    }
}

/// Decompresses one packet (exactly `comp` bytes) into a new vector.
pub fn decompress(packet: &[u8], max_size: usize) -> Result<Vec<u8>, QuickLzError> {
    let mut out = Vec::new();
    Decoder::new().decompress_into(packet, max_size, &mut out)?;
    Ok(out)
}

const TABLE1: usize = 4096;
const TABLE2: usize = 2048;

/// A reusable decoder: its hash tables are reset, not reallocated, for every packet.
pub struct Decoder {
    table1: Box<[u32; TABLE1]>,
    table2: Box<[[u32; 4]; TABLE2]>,
    counts: Box<[u8; TABLE2]>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder with its hash tables allocated (50 KiB), ready for any packet.
    pub fn new() -> Self {
        Decoder {
            table1: Box::new([0; TABLE1]),
            table2: Box::new([[0; 4]; TABLE2]),
            counts: Box::new([0; TABLE2]),
        }
    }

    /// Decompresses `packet` and appends the result to `out`. On error `out` keeps its
    /// original length.
    pub fn decompress_into(
        &mut self,
        packet: &[u8],
        max_size: usize,
        out: &mut Vec<u8>,
    ) -> Result<Header, QuickLzError> {
        let header = Header::parse(packet)?;
        if packet.len() != header.compressed_size {
            return Err(QuickLzError::SizeMismatch {
                header: header.compressed_size,
                actual: packet.len(),
            });
        }
        if header.decompressed_size > max_size {
            return Err(QuickLzError::TooLarge {
                size: header.decompressed_size,
                max: max_size,
            });
        }
        let base = out.len();
        if !header.compressed {
            out.extend_from_slice(&packet[header.header_len..]);
            return Ok(header);
        }
        out.resize(base + header.decompressed_size, 0);
        let dst = &mut out[base..];
        let result = match header.level {
            1 => self.decode::<1>(packet, header.header_len, dst),
            2 => self.decode::<2>(packet, header.header_len, dst),
            _ => self.decode::<3>(packet, header.header_len, dst),
        };
        if let Err(e) = result {
            out.truncate(base);
            return Err(e);
        }
        Ok(header)
    }

    fn decode<const LEVEL: u8>(
        &mut self,
        src: &[u8],
        mut s: usize,
        dst: &mut [u8],
    ) -> Result<(), QuickLzError> {
        if LEVEL == 1 {
            self.table1.fill(0);
        } else if LEVEL == 2 {
            self.table2.fill([0; 4]);
            self.counts.fill(0);
        }
        let size = dst.len();
        // Literals are decoded four at a time while at least 11 output bytes remain;
        // the rest are the tail (§4.2).
        let fast_end = size.saturating_sub(11);
        let mut d = 0usize;
        let mut cword: u32 = 1;
        // Next output position to enter into the hash table (last_hashed + 1).
        let mut next_hash = 0usize;
        loop {
            if cword == 1 {
                cword = read_word(src, s)?;
                s += 4;
            }
            let fetch = fetch_u32(src, s);
            if cword & 1 != 0 {
                cword >>= 1;
                let start;
                let len;
                match LEVEL {
                    1 => {
                        let hash = ((fetch >> 4) & 0xfff) as usize;
                        if fetch & 0xf != 0 {
                            len = ((fetch & 0xf) + 2) as usize;
                            s += 2;
                        } else {
                            len = ((fetch >> 16) & 0xff) as usize;
                            s += 3;
                        }
                        start = self.table1[hash] as usize;
                    }
                    2 => {
                        let hash = ((fetch >> 5) & 0x7ff) as usize;
                        let slot = (fetch & 3) as usize;
                        if fetch & 0x1c != 0 {
                            len = (((fetch >> 2) & 7) + 2) as usize;
                            s += 2;
                        } else {
                            len = ((fetch >> 16) & 0xff) as usize;
                            s += 3;
                        }
                        start = self.table2[hash][slot] as usize;
                    }
                    _ => {
                        let (offset, l, consumed) = if fetch & 3 == 0 {
                            ((fetch & 0xff) >> 2, 3, 1)
                        } else if fetch & 2 == 0 {
                            ((fetch & 0xffff) >> 2, 3, 2)
                        } else if fetch & 1 == 0 {
                            ((fetch & 0xffff) >> 6, ((fetch >> 2) & 15) + 3, 2)
                        } else if fetch & 127 != 3 {
                            ((fetch >> 7) & 0x1ffff, ((fetch >> 2) & 0x1f) + 2, 3)
                        } else {
                            (fetch >> 15, ((fetch >> 7) & 255) + 3, 4)
                        };
                        let offset = offset as usize;
                        if offset == 0 || offset > d {
                            return Err(corrupt(s, "match offset outside the decoded data"));
                        }
                        start = d - offset;
                        len = l as usize;
                        s += consumed;
                    }
                }
                if s > src.len() {
                    return Err(QuickLzError::Truncated {
                        needed: s,
                        available: src.len(),
                    });
                }
                if LEVEL <= 2 {
                    if len < 3 {
                        return Err(corrupt(s, "match shorter than 3 bytes"));
                    }
                    if start >= d {
                        return Err(corrupt(s, "match refers to bytes not decoded yet"));
                    }
                }
                if len > size - d {
                    return Err(corrupt(s, "match runs past the decompressed size"));
                }
                copy_match(dst, start, d, len);
                if LEVEL <= 2 {
                    self.hash_upto::<LEVEL>(dst, &mut next_hash, d);
                    next_hash = d + len;
                }
                d += len;
            } else if d < fast_end {
                let n = match cword & 0xf {
                    0 => 4,
                    low => low.trailing_zeros() as usize,
                };
                // Copy four bytes whatever `n` (there is room: d + 4 < size), keep `n`.
                match src.get(s..s + 4) {
                    Some(lit) => dst[d..d + 4].copy_from_slice(lit),
                    None => {
                        let Some(lit) = src.get(s..s + n) else {
                            return Err(QuickLzError::Truncated {
                                needed: s + n,
                                available: src.len(),
                            });
                        };
                        dst[d..d + n].copy_from_slice(lit);
                    }
                }
                d += n;
                s += n;
                cword >>= n;
                if LEVEL <= 2 && d >= 3 {
                    self.hash_upto::<LEVEL>(dst, &mut next_hash, d - 3);
                }
            } else {
                while d < size {
                    if cword == 1 {
                        // A control word whose bits the tail does not need.
                        s += 4;
                        cword = 1 << 31;
                    }
                    let Some(&b) = src.get(s) else {
                        return Err(QuickLzError::Truncated {
                            needed: s + 1,
                            available: src.len(),
                        });
                    };
                    dst[d] = b;
                    d += 1;
                    s += 1;
                    cword >>= 1;
                }
                return Ok(());
            }
        }
    }

    /// Enters output positions `next_hash..=limit` into the level 1/2 table.
    #[inline(always)]
    fn hash_upto<const LEVEL: u8>(&mut self, dst: &[u8], next_hash: &mut usize, limit: usize) {
        let mut p = *next_hash;
        while p <= limit {
            let b = &dst[p..p + 3];
            let v = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
            if LEVEL == 1 {
                self.table1[(((v >> 12) ^ v) & 0xfff) as usize] = p as u32;
            } else {
                let h = (((v >> 9) ^ (v >> 13) ^ v) & 0x7ff) as usize;
                let c = self.counts[h];
                self.table2[h][(c & 3) as usize] = p as u32;
                self.counts[h] = c.wrapping_add(1);
            }
            p += 1;
        }
        *next_hash = p;
    }
}

fn corrupt(at: usize, what: &'static str) -> QuickLzError {
    QuickLzError::Corrupt { at, what }
}

/// Copies `len` bytes from `start` to `d` front to back, so that an overlapping source
/// repeats the bytes (run-length encoding).
#[inline(always)]
fn copy_match(dst: &mut [u8], start: usize, d: usize, len: usize) {
    let dist = d - start;
    if dist >= 8 && d + len + 8 <= dst.len() {
        // Eight bytes at a time; each read lies before its write, and bytes written past
        // `d + len` are overwritten by what follows.
        let mut i = 0;
        while i < len {
            let chunk: [u8; 8] = dst[start + i..start + i + 8].try_into().unwrap();
            dst[d + i..d + i + 8].copy_from_slice(&chunk);
            i += 8;
        }
    } else if dist >= len {
        dst.copy_within(start..start + len, d);
    } else {
        let mut done = 0;
        while done < len {
            let k = dist.min(len - done);
            dst.copy_within(start + done..start + done + k, d + done);
            done += k;
        }
    }
}

#[inline]
fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[inline]
fn read_word(src: &[u8], s: usize) -> Result<u32, QuickLzError> {
    match src.get(s..s + 4) {
        Some(w) => Ok(u32::from_le_bytes([w[0], w[1], w[2], w[3]])),
        None => Err(QuickLzError::Truncated {
            needed: s + 4,
            available: src.len(),
        }),
    }
}

/// The next four bytes, zero-padded past the end of the packet.
#[inline]
fn fetch_u32(src: &[u8], s: usize) -> u32 {
    match src.get(s..s + 4) {
        Some(w) => u32::from_le_bytes([w[0], w[1], w[2], w[3]]),
        None => {
            let mut w = [0u8; 4];
            for (i, b) in src.iter().skip(s).take(4).enumerate() {
                w[i] = *b;
            }
            u32::from_le_bytes(w)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_packet_from_the_qpress_example() {
        let packet = [
            0x45, 0x0c, 0x05, 0, 0, 0, 0x80, b'h', b'e', b'l', b'l', b'o',
        ];
        assert_eq!(decompress(&packet, 65536).unwrap(), b"hello");
        let h = Header::parse(&packet).unwrap();
        assert_eq!((h.level, h.header_len, h.compressed), (1, 3, true));
    }

    #[test]
    fn stored_packets() {
        let mut p = vec![0x48 | 2, 0, 0, 0, 0, 0, 0, 0, 0];
        p[1..5].copy_from_slice(&14u32.to_le_bytes());
        p[5..9].copy_from_slice(&5u32.to_le_bytes());
        p.extend_from_slice(b"plain");
        assert_eq!(decompress(&p, 100).unwrap(), b"plain");
        p[5] = 6;
        assert!(matches!(
            decompress(&p, 100),
            Err(QuickLzError::Stored { .. })
        ));
    }

    #[test]
    fn header_rules() {
        assert!(matches!(
            Header::parse(&[0x45 | 0x10, 3, 0]),
            Err(QuickLzError::StreamingBuffer(1))
        ));
        assert!(matches!(
            Header::parse(&[0x41, 3, 0]),
            Err(QuickLzError::Level(0))
        ));
        assert!(matches!(
            Header::parse(&[0x05, 3, 0]),
            Err(QuickLzError::Flags(5))
        ));
        assert!(matches!(
            Header::parse(&[0x47, 3, 0]),
            Err(QuickLzError::Truncated { needed: 9, .. })
        ));
        assert!(matches!(
            Header::parse(&[0x45, 2, 0]),
            Err(QuickLzError::Corrupt { .. })
        ));
    }

    #[test]
    fn overlapping_match_repeats_bytes() {
        let mut v = vec![1, 2, 0, 0, 0, 0, 0];
        copy_match(&mut v, 0, 2, 5);
        assert_eq!(v, [1, 2, 1, 2, 1, 2, 1]);
    }
}
