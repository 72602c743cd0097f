//! The WiredTiger page decoders of `bsonflow_wiredtiger::format` on arbitrary bytes: the input
//! is one block as it sits in a `.wt` file (28-byte page header, 12-byte block header, cells).
//!
//! 1. In memory: `page::PageHeader::parse`, `cell::unpack` cell after cell from byte 40 (as the
//!    tree walk does) and at each of the first 512 offsets (value copies point anywhere),
//!    `block::Addr::parse` on address and overflow cells, `block::CheckpointCookie::parse`, and
//!    `intpack` (decode, re-encode, decode again).
//! 2. As a file: the block is written after a valid descriptor (allocation unit 512) with its
//!    `disk_size` and CRC-32C filled in (a fuzzer cannot guess a CRC), then read through
//!    `block::BlockFile::read` (checksum, page header, decompression) and walked with
//!    `btree::Tree::scan` as the root of a tree (leaf decoding, prefix keys, value copies,
//!    windows; child and overflow addresses lead to blocks that fail their checksum). Byte 26
//!    of the page header, unused by WiredTiger, picks the file's block compressor:
//!    `& 3` = none, snappy, zstd, zlib.
#![no_main]

use std::fs;

use bsonflow_fuzz::scratch;
use bsonflow_wiredtiger::format::block::{
    block_checksum, descriptor_checksum, Addr, BlockFile, CheckpointCookie, BLOCK_MAGIC,
};
use bsonflow_wiredtiger::format::btree::Tree;
use bsonflow_wiredtiger::format::cell::{self, CellType};
use bsonflow_wiredtiger::format::compress::Compressor;
use bsonflow_wiredtiger::format::intpack;
use bsonflow_wiredtiger::format::page::{PageHeader, PAGE_DATA_OFFSET};
use libfuzzer_sys::fuzz_target;

const ALLOC: u32 = 512;

fn check_cell(image: &[u8], pos: usize, flags: u8) -> Option<usize> {
    let cell = cell::unpack(image, pos, flags).ok()?;
    assert!(cell.len > 0, "a cell of length 0 at {pos}");
    assert!(pos + cell.len <= image.len(), "cell at {pos} runs past the image");
    assert!(
        cell.data.start >= pos && cell.data.end <= pos + cell.len && cell.data.start <= cell.data.end,
        "cell data {:?} outside the cell at {pos}+{}",
        cell.data,
        cell.len
    );
    if let Some(target) = cell.copy_of {
        assert!(target < pos, "value copy at {pos} points forward to {target}");
    }
    if let Some(w) = &cell.window {
        let _ = (w.has_stop(), w.is_prepared());
    }
    let _ = (cell.cell_type.is_key(), cell.cell_type.is_addr());
    if cell.cell_type.is_addr()
        || matches!(cell.cell_type, CellType::KeyOvfl | CellType::ValueOvfl)
    {
        let _ = Addr::parse(&image[cell.data.clone()], ALLOC);
    }
    Some(cell.len)
}

fn intpack_round_trip(buf: &[u8]) {
    if let Ok((x, n)) = intpack::unpack_uint(buf) {
        assert!(n >= 1 && n <= buf.len());
        let mut packed = Vec::new();
        intpack::pack_uint(&mut packed, x);
        assert_eq!(intpack::unpack_uint(&packed), Ok((x, packed.len())), "uint {x}");
    }
    if let Ok((x, n)) = intpack::unpack_int(buf) {
        assert!(n >= 1 && n <= buf.len());
        let mut packed = Vec::new();
        intpack::pack_int(&mut packed, x);
        assert_eq!(intpack::unpack_int(&packed), Ok((x, packed.len())), "int {x}");
        assert_eq!(intpack::unpack_int_exact(&packed), Ok(x));
    }
    let mut r = intpack::Reader::new(buf);
    while r.uint().is_ok() {}
    assert!(r.pos() <= buf.len());
}

fuzz_target!(|data: &[u8]| {
    // 1. In memory.
    let header = PageHeader::parse(data);
    let flags = header.map_or(0, |h| h.flags);
    if let Some(h) = header {
        let _ = h.type_name();
    }
    let mut pos = PAGE_DATA_OFFSET;
    while pos < data.len() {
        match check_cell(data, pos, flags) {
            Some(len) => pos += len,
            None => break,
        }
    }
    for pos in 0..data.len().min(512) {
        check_cell(data, pos, flags);
    }
    let body = data.get(PAGE_DATA_OFFSET..).unwrap_or(data);
    intpack_round_trip(body);
    let _ = CheckpointCookie::parse(body, ALLOC);
    let _ = Addr::parse(body, ALLOC);

    // 2. As the root block of a file.
    let compressor = match data.get(26).map_or(0, |b| b & 3) {
        0 => Compressor::None,
        1 => Compressor::Snappy,
        2 => Compressor::Zstd,
        _ => Compressor::Zlib,
    };
    let size = data.len().max(64).div_ceil(ALLOC as usize) * ALLOC as usize;
    let mut block = data.to_vec();
    block.resize(size, 0);
    block[28..32].copy_from_slice(&(size as u32).to_le_bytes());
    let covered = if block[36] & 1 != 0 { size } else { 64 };
    let checksum = block_checksum(&block, covered);
    block[32..36].copy_from_slice(&checksum.to_le_bytes());
    let mut file = vec![0u8; ALLOC as usize];
    file[0..4].copy_from_slice(&BLOCK_MAGIC.to_le_bytes());
    file[4..6].copy_from_slice(&1u16.to_le_bytes());
    let d = descriptor_checksum(&file);
    file[8..12].copy_from_slice(&d.to_le_bytes());
    file.extend_from_slice(&block);
    let path = scratch("wiredtiger_page").join("page.wt");
    fs::write(&path, &file).unwrap();
    let bf = BlockFile::open(&path, ALLOC, compressor).expect("a valid descriptor");
    let addr = Addr {
        offset: u64::from(ALLOC),
        size: size as u32,
        checksum,
    };
    if let Ok(page) = bf.read(&addr) {
        assert_eq!(page.image.len(), page.header.mem_size as usize);
        let _ = page.data();
        let _ = page.overflow_item();
    }
    let mut entries = 0u64;
    let result = Tree::new(&bf, Some(addr)).scan(|e| {
        let _ = (e.key.len(), e.value.map(<[u8]>::len), e.page_offset);
        entries += 1;
        Ok(())
    });
    if let Err(e) = result {
        let _ = e.to_string();
    }
});
