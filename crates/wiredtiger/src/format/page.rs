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
///
/// MongoDB files hold only [`ROW_INTERNAL`](page_type::ROW_INTERNAL),
/// [`ROW_LEAF`](page_type::ROW_LEAF), [`OVERFLOW`](page_type::OVERFLOW) and
/// [`BLOCK_MANAGER`](page_type::BLOCK_MANAGER) pages.
pub mod page_type {
    /// 0: not a valid page.
    pub const INVALID: u8 = 0;
    /// 1: an extent list of the block manager (the alloc, avail or discard list of a
    /// checkpoint); never read by this crate.
    pub const BLOCK_MANAGER: u8 = 1;
    /// 2: a column-store leaf of fixed-length values (not in MongoDB files).
    pub const COL_FIX: u8 = 2;
    /// 3: a column-store internal page (not in MongoDB files).
    pub const COL_INT: u8 = 3;
    /// 4: a column-store leaf of variable-length values (not in MongoDB files).
    pub const COL_VAR: u8 = 4;
    /// 5: one key or value too large for its leaf, referenced by a `KEY_OVFL` or `VALUE_OVFL`
    /// cell; the header's `entries` is the item's length.
    pub const OVERFLOW: u8 = 5;
    /// 6: a row-store internal page: (key, child address) cell pairs in key order.
    pub const ROW_INTERNAL: u8 = 6;
    /// 7: a row-store leaf page: key cells, each followed by zero or one value cell.
    pub const ROW_LEAF: u8 = 7;
}

/// Page header flags.
pub mod page_flags {
    /// The block is compressed after its first 64 bytes, with the file's `block_compressor`;
    /// the image rebuilt from it is `mem_size` bytes, headers included.
    pub const COMPRESSED: u8 = 0x01;
    /// Every key on the leaf has an empty value (there are no value cells).
    pub const EMPTY_V_ALL: u8 = 0x02;
    /// No key on the leaf has an empty value.
    pub const EMPTY_V_NONE: u8 = 0x04;
    /// The block is encrypted after its first 40 bytes (MongoDB Enterprise encryption);
    /// reading it is [`Error::Unsupported`](crate::Error::Unsupported).
    pub const ENCRYPTED: u8 = 0x08;
    /// Fast-truncate information follows `ADDR_DEL` cells (standalone WiredTiger builds only).
    pub const FT_UPDATE: u8 = 0x20;
}

/// The decoded page header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageHeader {
    /// The first record number of a column-store page; 0 in row stores.
    pub recno: u64,
    /// The tree's write generation when the page was written; not used by this reader.
    pub write_gen: u64,
    /// Bytes of the uncompressed page image, page and block headers included (for a
    /// compressed block: the 64 clear bytes plus what the rest decompresses to).
    pub mem_size: u32,
    /// Number of cells; for an overflow page, the length of the item.
    pub entries: u32,
    /// One of the [`page_type`] constants.
    pub page_type: u8,
    /// A combination of the [`page_flags`] bits.
    pub flags: u8,
    /// 0 before MongoDB 4.4 (WiredTiger 10), 1 from then on (cells may carry validity
    /// windows); informational, the cell parser does not need it.
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

    /// A readable name of [`page_type`](Self::page_type) for messages, e.g. `row-leaf`;
    /// `invalid` for type 0 and for unknown types.
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
    /// The page header, as read from the block's first 28 bytes (kept in clear even when the
    /// block is compressed).
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
