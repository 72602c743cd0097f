//! Page images: the 28-byte page header every block starts with, and the page types.
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | u64 | `recno` (column stores only) |
//! | 8 | u64 | `write_gen` |
//! | 16 | u32 | `mem_size`: size of the uncompressed image, headers included |
//! | 20 | u32 | `entries` (cells) — for overflow pages `datalen`, the item length |
//! | 24 | u8 | type |
//! | 25 | u8 | flags |
//! | 26 | u8 | unused |
//! | 27 | u8 | version (0 before 4.4, 1 with validity windows; informational) |
//!
//! The block header (12 bytes, see [`crate::format::block`]) follows, so cells start at byte 40.

use std::borrow::Cow;

/// Size of the page header.
pub const PAGE_HEADER_SIZE: usize = 28;
/// Where the first cell (or overflow payload) starts: page header + block header.
pub const PAGE_DATA_OFFSET: usize = 40;

/// Page types (unchanged from WiredTiger 2.x to 12.x).
pub mod page_type {
    pub const INVALID: u8 = 0;
    pub const BLOCK_MANAGER: u8 = 1;
    pub const COL_FIX: u8 = 2;
    pub const COL_INT: u8 = 3;
    pub const COL_VAR: u8 = 4;
    pub const OVERFLOW: u8 = 5;
    pub const ROW_INTERNAL: u8 = 6;
    pub const ROW_LEAF: u8 = 7;
}

/// Page header flags.
pub mod page_flags {
    pub const COMPRESSED: u8 = 0x01;
    pub const EMPTY_V_ALL: u8 = 0x02;
    pub const EMPTY_V_NONE: u8 = 0x04;
    pub const ENCRYPTED: u8 = 0x08;
    /// Fast-truncate information follows `ADDR_DEL` cells (standalone WiredTiger builds only).
    pub const FT_UPDATE: u8 = 0x20;
}

/// The decoded page header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageHeader {
    pub recno: u64,
    pub write_gen: u64,
    pub mem_size: u32,
    /// Number of cells; for an overflow page, the length of the item.
    pub entries: u32,
    pub page_type: u8,
    pub flags: u8,
    pub version: u8,
}

impl PageHeader {
    /// Reads the header at the start of `block` (at least 28 bytes).
    pub fn parse(block: &[u8]) -> Option<PageHeader> {
        let b = block.get(..PAGE_HEADER_SIZE)?;
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
        Some(PageHeader {
            recno: u64_at(0),
            write_gen: u64_at(8),
            mem_size: u32_at(16),
            entries: u32_at(20),
            page_type: b[24],
            flags: b[25],
            version: b[27],
        })
    }

    pub fn type_name(&self) -> &'static str {
        match self.page_type {
            page_type::BLOCK_MANAGER => "block-manager",
            page_type::COL_FIX => "column-fixed",
            page_type::COL_INT => "column-internal",
            page_type::COL_VAR => "column-variable",
            page_type::OVERFLOW => "overflow",
            page_type::ROW_INTERNAL => "row-internal",
            page_type::ROW_LEAF => "row-leaf",
            _ => "invalid",
        }
    }
}

/// One page read from a file: checksum verified, decompressed.
#[derive(Debug)]
pub struct Page<'a> {
    /// Byte offset of the block in its file.
    pub offset: u64,
    /// Size of the block on disk.
    pub disk_size: u32,
    pub header: PageHeader,
    /// The uncompressed image (`mem_size` bytes, headers included), borrowed from the file
    /// when the block was not compressed.
    pub image: Cow<'a, [u8]>,
}

impl Page<'_> {
    /// The bytes after the page and block headers.
    pub fn data(&self) -> &[u8] {
        &self.image[PAGE_DATA_OFFSET..]
    }

    /// The item of an overflow page: `datalen` bytes after the headers.
    pub fn overflow_item(&self) -> Option<&[u8]> {
        let len = self.header.entries as usize;
        self.image
            .get(PAGE_DATA_OFFSET..PAGE_DATA_OFFSET.checked_add(len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_header() {
        let mut b = vec![0u8; 40];
        b[8..16].copy_from_slice(&2359u64.to_le_bytes());
        b[16..20].copy_from_slice(&4096u32.to_le_bytes());
        b[20..24].copy_from_slice(&14u32.to_le_bytes());
        b[24] = page_type::ROW_INTERNAL;
        b[25] = 0;
        b[27] = 1;
        let h = PageHeader::parse(&b).unwrap();
        assert_eq!(h.write_gen, 2359);
        assert_eq!(h.mem_size, 4096);
        assert_eq!(h.entries, 14);
        assert_eq!(h.type_name(), "row-internal");
        assert_eq!(h.version, 1);
        assert!(PageHeader::parse(&b[..27]).is_none());
    }
}
