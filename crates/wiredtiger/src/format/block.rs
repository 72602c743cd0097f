//! The block manager: how every `.wt` file is cut into checksummed blocks.
//!
//! - **Descriptor** (offset 0, one allocation unit): `u32` magic 120897, `u16` major 1,
//!   `u16` minor 0, `u32` CRC-32C of the whole unit with the checksum field zeroed.
//! - **Block header** (bytes 28..40 of every other block, after the page header):
//!   `u32 disk_size`, `u32 checksum`, `u8 flags` (`0x01`: the whole block is checksummed,
//!   else only its first 64 bytes).
//! - **Checksum**: CRC-32C (Castagnoli) of the block as stored, with bytes 32..36 zeroed. It
//!   must equal both the header's checksum and the address cookie's.
//! - **Address cookie** ([`Addr`]): three packed integers `o, s, c`: offset
//!   `(o + 1) × allocation_size`, size `s × allocation_size`, checksum `c`; `s == 0` is "no
//!   block".
//! - **Checkpoint cookie** ([`CheckpointCookie`], the hex `addr="…"` of a checkpoint): version
//!   byte 1, the root, alloc, avail and discard addresses, file size, checkpoint size.
//!
//! [`BlockFile`] maps a file read-only and turns addresses into verified, decompressed
//! [`Page`]s. It never scans: files keep freed blocks holding stale pages.

use std::borrow::Cow;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::format::compress::Compressor;
use crate::format::intpack::Reader;
use crate::format::page::{page_flags, Page, PageHeader, PAGE_DATA_OFFSET};
use crate::Error;

/// Descriptor magic number.
pub const BLOCK_MAGIC: u32 = 120_897;
/// Bytes of a compressed block kept in clear (and checksummed when the block is not fully
/// checksummed).
pub const COMPRESS_SKIP: usize = 64;
/// Block-header flag: the checksum covers the whole block.
pub const BLOCK_DATA_CKSUM: u8 = 0x01;
/// The largest page WiredTiger builds (`WT_BTREE_PAGE_SIZE_MAX`, 512 MB); a bigger `mem_size`
/// is damage, refused before allocating for it.
pub const MAX_PAGE_SIZE: usize = 512 << 20;

/// CRC-32C of `data` (check value of `"123456789"`: 0xE3069283).
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// CRC-32C of `block[..len]` with the block header's checksum field (bytes 32..36) zeroed.
pub fn block_checksum(block: &[u8], len: usize) -> u32 {
    let c = crc32c::crc32c(&block[..32]);
    let c = crc32c::crc32c_append(c, &[0; 4]);
    crc32c::crc32c_append(c, &block[36..len])
}

/// CRC-32C of a descriptor unit with its checksum field (bytes 8..12) zeroed.
pub fn descriptor_checksum(unit: &[u8]) -> u32 {
    let c = crc32c::crc32c(&unit[..8]);
    let c = crc32c::crc32c_append(c, &[0; 4]);
    crc32c::crc32c_append(c, &unit[12..])
}

/// Where a block lives: byte offset, size and checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Addr {
    /// Byte offset of the block from the start of the file: `(o + 1) × allocation_size`, so
    /// never inside the descriptor's allocation unit.
    pub offset: u64,
    /// Size of the block in bytes (`s × allocation_size`; `s == 0` decodes as no address),
    /// which the block header's `disk_size` must repeat.
    pub size: u32,
    /// The CRC-32C the block must have; its header must hold the same value.
    pub checksum: u32,
}

impl Addr {
    /// Reads one `(o, s, c)` triple; `Ok(None)` for the empty address (`s == 0`).
    pub fn read(r: &mut Reader<'_>, allocation_size: u32) -> Result<Option<Addr>, String> {
        let o = r.uint().map_err(|e| format!("offset: {e}"))?;
        let s = r.uint().map_err(|e| format!("size: {e}"))?;
        let c = r.uint().map_err(|e| format!("checksum: {e}"))?;
        if s == 0 {
            return Ok(None);
        }
        let alloc = u64::from(allocation_size);
        let offset = o
            .checked_add(1)
            .and_then(|x| x.checked_mul(alloc))
            .ok_or("offset overflows")?;
        let size = s
            .checked_mul(alloc)
            .and_then(|x| u32::try_from(x).ok())
            .ok_or("size overflows")?;
        let checksum = u32::try_from(c).map_err(|_| "checksum exceeds 32 bits")?;
        Ok(Some(Addr {
            offset,
            size,
            checksum,
        }))
    }

    /// Decodes the address cookie of an address or overflow cell. Bytes after the triple
    /// (6.0+ tiered-storage object ids) are ignored.
    pub fn parse(cookie: &[u8], allocation_size: u32) -> Result<Option<Addr>, String> {
        Addr::read(&mut Reader::new(cookie), allocation_size)
    }
}

/// The decoded `addr="…"` of a checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointCookie {
    /// The root page; `None` for an empty tree.
    pub root: Option<Addr>,
    /// The extent-list block of the blocks this checkpoint allocated; `None` when empty. Not
    /// needed to read the tree.
    pub alloc: Option<Addr>,
    /// The extent-list block of the file's free blocks; `None` when empty. Not needed to read
    /// the tree — and free blocks hold stale pages, which is why files are never scanned.
    pub avail: Option<Addr>,
    /// The extent-list block of the blocks this checkpoint freed; `None` when empty. Not
    /// needed to read the tree.
    pub discard: Option<Addr>,
    /// The file size when the checkpoint was written.
    pub file_size: u64,
    /// Bytes of the file the checkpoint's blocks occupy, as the block manager recorded it.
    pub ckpt_size: u64,
}

impl CheckpointCookie {
    /// Decodes the bytes of a checkpoint cookie: version byte 1, the root, alloc, avail and
    /// discard addresses (counted in units of `allocation_size` bytes), file size and
    /// checkpoint size. Bytes after them (6.0+ tiered-storage object ids) are ignored. The
    /// error names the field that does not decode, or a version other than 1.
    pub fn parse(cookie: &[u8], allocation_size: u32) -> Result<CheckpointCookie, String> {
        let mut r = Reader::new(cookie);
        let version = r.byte().map_err(|_| "empty checkpoint cookie")?;
        if version != 1 {
            return Err(format!("checkpoint cookie version {version}, expected 1"));
        }
        let root = Addr::read(&mut r, allocation_size).map_err(|e| format!("root: {e}"))?;
        let alloc = Addr::read(&mut r, allocation_size).map_err(|e| format!("alloc: {e}"))?;
        let avail = Addr::read(&mut r, allocation_size).map_err(|e| format!("avail: {e}"))?;
        let discard = Addr::read(&mut r, allocation_size).map_err(|e| format!("discard: {e}"))?;
        let file_size = r.uint().map_err(|e| format!("file size: {e}"))?;
        let ckpt_size = r.uint().map_err(|e| format!("checkpoint size: {e}"))?;
        Ok(CheckpointCookie {
            root,
            alloc,
            avail,
            discard,
            file_size,
            ckpt_size,
        })
    }

    /// Decodes the lowercase-hex text of a checkpoint's `addr`.
    pub fn parse_hex(hex: &str, allocation_size: u32) -> Result<CheckpointCookie, String> {
        CheckpointCookie::parse(&decode_hex(hex)?, allocation_size)
    }
}

/// Hex text (two characters per byte) to bytes.
pub fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", hex.len()));
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |c: u8| (c as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(format!("`{}` is not hex", String::from_utf8_lossy(pair))),
            }
        })
        .collect()
}

/// A `.wt` file mapped read-only, with the settings needed to read its blocks.
#[derive(Debug)]
pub struct BlockFile {
    path: PathBuf,
    map: Mmap,
    allocation_size: u32,
    compressor: Compressor,
}

impl BlockFile {
    /// Maps `path` and checks its descriptor block. `std::io::ErrorKind::NotFound` comes back
    /// as [`Error::Io`]; callers that know the file's role turn it into a better error.
    pub fn open(
        path: &Path,
        allocation_size: u32,
        compressor: Compressor,
    ) -> Result<BlockFile, Error> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let truncated = |needed: u64| Error::Truncated {
            path: path.to_path_buf(),
            what: "the descriptor block",
            offset: 0,
            needed,
            file_len: len,
        };
        if len < 16 {
            return Err(truncated(u64::from(allocation_size)));
        }
        // SAFETY: the map is read-only and private to this reader. A data directory is a
        // copy at rest (a backup); should another process modify the file anyway, the bytes
        // may change under us, and every block read is checksummed before it is used.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        let bf = BlockFile {
            path: path.to_path_buf(),
            map,
            allocation_size,
            compressor,
        };
        let magic = u32::from_le_bytes(bf.map[0..4].try_into().unwrap());
        if magic != BLOCK_MAGIC {
            return Err(Error::BadMagic {
                path: bf.path,
                found: magic,
            });
        }
        let major = u16::from_le_bytes(bf.map[4..6].try_into().unwrap());
        let minor = u16::from_le_bytes(bf.map[6..8].try_into().unwrap());
        if major != 1 || minor != 0 {
            return Err(Error::Unsupported {
                path: bf.path,
                what: format!("block-manager version {major}.{minor} (this reader knows 1.0)"),
            });
        }
        if len < u64::from(allocation_size) {
            return Err(truncated(u64::from(allocation_size)));
        }
        let unit = &bf.map[..allocation_size as usize];
        let stored = u32::from_le_bytes(unit[8..12].try_into().unwrap());
        let computed = descriptor_checksum(unit);
        if stored != computed {
            return Err(Error::Checksum {
                path: bf.path,
                offset: 0,
                size: allocation_size,
                detail: format!(
                    "descriptor block: stored CRC-32C {stored:#010x}, computed {computed:#010x}"
                ),
            });
        }
        Ok(bf)
    }

    /// The file's path, as given to [`open`](Self::open); errors about its blocks name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Length of the file in bytes, as mapped when it was opened.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Whether the mapping holds no bytes; never true for an opened file, which holds at least
    /// its descriptor block.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The allocation unit in bytes (`allocation_size=` of the file's config, normally 4096):
    /// address cookies count offsets and sizes in it.
    pub fn allocation_size(&self) -> u32 {
        self.allocation_size
    }

    /// The file's `block_compressor=`, applied to blocks whose page header has the
    /// [`COMPRESSED`](page_flags::COMPRESSED) flag.
    pub fn compressor(&self) -> Compressor {
        self.compressor
    }

    /// Decodes an address cookie found in a page of this file.
    pub fn addr(
        &self,
        cookie: &[u8],
        context: impl FnOnce() -> String,
    ) -> Result<Option<Addr>, Error> {
        Addr::parse(cookie, self.allocation_size).map_err(|detail| Error::BadCookie {
            path: self.path.clone(),
            context: context(),
            detail,
        })
    }

    /// Tells the kernel that the mapped pages of a block that has been read and handed on are
    /// not needed any more, so that resident memory stays flat however large the file is.
    /// Only a hint: were the pages touched again, they would be read back from the file.
    pub fn release(&self, addr: &Addr) {
        const OS_PAGE: u64 = 4096;
        let start = addr.offset / OS_PAGE * OS_PAGE;
        let end = (addr.offset + u64::from(addr.size)).min(self.len());
        if end <= start {
            return;
        }
        // SAFETY: DONTNEED on a private, read-only file mapping that is never written drops
        // cached pages only; any later access faults the same bytes back in from the file, so
        // no reference into the map (held by this or another thread) sees different data.
        let _ = unsafe {
            self.map.unchecked_advise_range(
                memmap2::UncheckedAdvice::DontNeed,
                start as usize,
                (end - start) as usize,
            )
        };
    }

    /// Reads the block at `addr`: bounds, block header, CRC-32C, page header, decompression.
    pub fn read(&self, addr: &Addr) -> Result<Page<'_>, Error> {
        let bad = |detail: String| Error::BadBlock {
            path: self.path.clone(),
            offset: addr.offset,
            detail,
        };
        let end = addr.offset + u64::from(addr.size);
        if end > self.len() {
            return Err(Error::Truncated {
                path: self.path.clone(),
                what: "a block",
                offset: addr.offset,
                needed: u64::from(addr.size),
                file_len: self.len(),
            });
        }
        if (addr.size as usize) < COMPRESS_SKIP {
            return Err(bad(format!("block size {} is below 64 bytes", addr.size)));
        }
        let block = &self.map[addr.offset as usize..end as usize];
        let disk_size = u32::from_le_bytes(block[28..32].try_into().unwrap());
        let stored = u32::from_le_bytes(block[32..36].try_into().unwrap());
        let flags = block[36];
        let covered = if flags & BLOCK_DATA_CKSUM != 0 {
            addr.size as usize
        } else {
            COMPRESS_SKIP
        };
        let computed = block_checksum(block, covered);
        if stored != addr.checksum || computed != addr.checksum {
            return Err(Error::Checksum {
                path: self.path.clone(),
                offset: addr.offset,
                size: addr.size,
                detail: format!(
                    "the address expects {:#010x}, the block header holds {stored:#010x}, the CRC-32C of its {covered} bytes is {computed:#010x}",
                    addr.checksum
                ),
            });
        }
        if disk_size != addr.size {
            return Err(bad(format!(
                "the block header says {disk_size} bytes, the address {}",
                addr.size
            )));
        }
        let header = PageHeader::parse(block).expect("block is at least 64 bytes");
        if header.flags & page_flags::ENCRYPTED != 0 {
            return Err(Error::Unsupported {
                path: self.path.clone(),
                what: format!("encrypted block at offset {}", addr.offset),
            });
        }
        let mem_size = header.mem_size as usize;
        if mem_size < PAGE_DATA_OFFSET {
            return Err(bad(format!(
                "page size {mem_size} is smaller than its headers"
            )));
        }
        if mem_size > MAX_PAGE_SIZE {
            return Err(bad(format!(
                "page size {mem_size} exceeds WiredTiger's maximum of {MAX_PAGE_SIZE}"
            )));
        }
        let image = if header.flags & page_flags::COMPRESSED != 0 {
            if mem_size < COMPRESS_SKIP {
                return Err(bad(format!(
                    "compressed page of {mem_size} bytes is smaller than its clear prefix"
                )));
            }
            let mut image = vec![0u8; mem_size];
            image[..COMPRESS_SKIP].copy_from_slice(&block[..COMPRESS_SKIP]);
            self.compressor
                .decompress(&block[COMPRESS_SKIP..], &mut image[COMPRESS_SKIP..])
                .map_err(|detail| Error::Decompress {
                    path: self.path.clone(),
                    offset: addr.offset,
                    compressor: self.compressor.name(),
                    detail,
                })?;
            Cow::Owned(image)
        } else {
            if mem_size > block.len() {
                return Err(bad(format!(
                    "uncompressed page of {mem_size} bytes in a block of {}",
                    block.len()
                )));
            }
            Cow::Borrowed(&block[..mem_size])
        };
        Ok(Page {
            offset: addr.offset,
            disk_size: addr.size,
            header,
            image,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn block_checksum_ignores_the_stored_checksum() {
        let mut block: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
        let a = block_checksum(&block, block.len());
        block[32..36].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(block_checksum(&block, block.len()), a);
        block[100] ^= 1;
        assert_ne!(block_checksum(&block, block.len()), a);
        // Only the first 64 bytes count when the block is not fully checksummed.
        assert_eq!(block_checksum(&block, 64), block_checksum(&block[..64], 64));
    }

    #[test]
    fn real_checkpoint_cookie_of_mongo80_ip2country() {
        let c = CheckpointCookie::parse_hex(
            "018381e443d8dec48481e41f4fdcd18581e4fef5a73c808080e3010fc0e23fc0",
            4096,
        )
        .unwrap();
        assert_eq!(
            c.root,
            Some(Addr {
                offset: 16384,
                size: 4096,
                checksum: 0x43D8_FF04
            })
        );
        assert_eq!(
            c.alloc,
            Some(Addr {
                offset: 20480,
                size: 4096,
                checksum: 0x1F4F_FD11
            })
        );
        assert_eq!(
            c.avail,
            Some(Addr {
                offset: 24576,
                size: 4096,
                checksum: 0xFEF5_C77C
            })
        );
        assert_eq!(c.discard, None);
        assert_eq!(c.file_size, 77824);
        assert_eq!(c.ckpt_size, 24576);
    }

    #[test]
    fn documented_checkpoint_cookie_examples() {
        let c = CheckpointCookie::parse_hex(
            "018281e420f2fa4a8381e40c5855ca808080808080e22fc0e20fc0",
            4096,
        )
        .unwrap();
        assert_eq!(
            c.root,
            Some(Addr {
                offset: 12288,
                size: 4096,
                checksum: 0x20F3_1A8A
            })
        );
        assert_eq!(c.alloc.map(|a| (a.offset, a.size)), Some((16384, 4096)));
        assert_eq!((c.avail, c.discard), (None, None));
        assert_eq!((c.file_size, c.ckpt_size), (20480, 12288));
        // An empty tree: the root is `80 80 80`.
        let empty = CheckpointCookie::parse(
            &[
                1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x81, 0xe4, 1, 2, 3, 4, 0x80, 0x80,
                0x80, 0x80, 0x80,
            ],
            4096,
        )
        .unwrap();
        assert_eq!(empty.root, None);
        assert!(empty.avail.is_some());
    }

    #[test]
    fn bad_cookies() {
        assert!(CheckpointCookie::parse_hex("02", 4096).is_err());
        assert!(CheckpointCookie::parse_hex("0183", 4096).is_err());
        assert!(CheckpointCookie::parse_hex("zz", 4096).is_err());
        assert!(CheckpointCookie::parse_hex("018", 4096).is_err());
        assert!(CheckpointCookie::parse_hex("", 4096).is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("00ff7Fa0").unwrap(), [0, 255, 127, 160]);
    }
}
