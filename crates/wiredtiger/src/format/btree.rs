//! Walking a row-store B-tree from a checkpoint root, in key order.
//!
//! Internal pages (type 6) hold (key, address) cell pairs: the walk ignores the keys, descends
//! into `ADDR_INT` children, collects `ADDR_LEAF`/`ADDR_LEAF_NO` children and skips `ADDR_DEL`
//! (fast-truncated) subtrees. Internal pages are read one after another on the calling thread
//! (`LeafWalk`); leaf pages (type 7) are read, checksummed, decompressed and decoded in
//! parallel batches (rayon) while the previous batch is handed to the consumer, so entries
//! arrive strictly in key order and only a few pages are in memory at once.
//!
//! A leaf holds key cells, each followed by zero or one value cell. Keys may share a prefix
//! with the previous non-overflow key; values may be overflow items, or copies of an earlier
//! value cell on the page. A value whose validity window has a stop time was deleted and is
//! skipped; a value of a prepared (uncommitted) transaction is skipped too; both are counted
//! in [`ReadStats`]. A key with no value cell has an empty value ([`Entry::value`] is `None`).

use std::ops::Range;

use crate::format::block::{Addr, BlockFile};
use crate::format::cell::{self, Cell, CellError, CellType};
use crate::format::page::{page_type, Page, PAGE_DATA_OFFSET};
use crate::Error;

/// Counters of one tree walk (one collection read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Documents handed to the consumer. This, `document_bytes` and `corrupt` are counted by
    /// [`DataDir`](crate::DataDir)'s readers; [`Tree::scan`] leaves them 0.
    pub documents: u64,
    /// Bytes of those documents.
    pub document_bytes: u64,
    /// Values whose window has a stop time: deleted, not live.
    pub deleted: u64,
    /// Values of prepared, uncommitted transactions: skipped.
    pub prepared: u64,
    /// Values reported as corrupt (not a BSON document, empty value).
    pub corrupt: u64,
    /// Leaf pages read (a leaf root included).
    pub leaf_pages: u64,
    /// Internal pages read, the root included.
    pub internal_pages: u64,
    /// Overflow pages read: one per overflow key and per live overflow value (a value copy
    /// of an overflow value reads it again); deleted values' overflow pages are not read.
    pub overflow_pages: u64,
    /// Fast-truncated subtrees (`ADDR_DEL`) skipped.
    pub truncated_subtrees: u64,
}

impl ReadStats {
    fn add(&mut self, o: &ReadStats) {
        self.documents += o.documents;
        self.document_bytes += o.document_bytes;
        self.deleted += o.deleted;
        self.prepared += o.prepared;
        self.corrupt += o.corrupt;
        self.leaf_pages += o.leaf_pages;
        self.internal_pages += o.internal_pages;
        self.overflow_pages += o.overflow_pages;
        self.truncated_subtrees += o.truncated_subtrees;
    }
}

/// One live key/value pair, as the walk hands it over.
#[derive(Clone, Copy, Debug)]
pub struct Entry<'a> {
    /// The whole key: prefix compression undone, an overflow key read. What it encodes
    /// depends on the table's `key_format` (a packed RecordId for `q`, a NUL-terminated
    /// string for `S`, raw bytes for `u`).
    pub key: &'a [u8],
    /// `None` when the key has no value cell (an empty value).
    pub value: Option<&'a [u8]>,
    /// Offset of the leaf page's block in the file.
    pub page_offset: u64,
}

/// Bytes that live either in a page image or on their own.
#[derive(Debug)]
enum Bytes {
    Page(Range<usize>),
    Owned(Vec<u8>),
}

impl Bytes {
    fn get<'a>(&'a self, image: &'a [u8]) -> &'a [u8] {
        match self {
            Bytes::Page(r) => &image[r.clone()],
            Bytes::Owned(v) => v,
        }
    }
}

#[derive(Debug)]
struct Item {
    key: Bytes,
    value: Option<Bytes>,
}

/// A decoded leaf page.
#[derive(Debug)]
struct Leaf<'f> {
    page: Page<'f>,
    items: Vec<Item>,
    stats: ReadStats,
}

#[derive(Clone, Copy, Debug)]
enum ChildKind {
    Internal,
    Leaf,
}

#[derive(Clone, Copy, Debug)]
struct Child {
    addr: Addr,
    kind: ChildKind,
}

/// Deepest tree accepted: real trees have 2–4 levels; this stops cycles in damaged files.
const MAX_DEPTH: usize = 32;

/// Pages in flight per batch: a few per thread, and at most this many bytes on disk.
const BATCH_BYTES: u64 = 32 << 20;

/// A B-tree of one file, from one checkpoint root.
#[derive(Debug)]
pub struct Tree<'f> {
    file: &'f BlockFile,
    root: Option<Addr>,
}

impl<'f> Tree<'f> {
    /// `root` is `None` for an empty tree.
    pub fn new(file: &'f BlockFile, root: Option<Addr>) -> Tree<'f> {
        Tree { file, root }
    }

    fn cell_error(&self, page: &Page<'_>, pos: usize, e: CellError) -> Error {
        match e {
            CellError::Unknown(desc) => Error::UnknownCell {
                path: self.file.path().to_path_buf(),
                offset: page.offset,
                cell_offset: pos,
                desc,
            },
            CellError::Bad(detail) => Error::BadCell {
                path: self.file.path().to_path_buf(),
                offset: page.offset,
                cell_offset: pos,
                detail,
            },
        }
    }

    fn page_error(&self, page: &Page<'_>, detail: String) -> Error {
        Error::BadPage {
            path: self.file.path().to_path_buf(),
            offset: page.offset,
            detail,
        }
    }

    /// Reads a page and checks its type.
    fn read(&self, addr: &Addr, want: u8) -> Result<Page<'f>, Error> {
        let page = self.file.read(addr)?;
        if page.header.page_type != want {
            let want_name = crate::format::page::PageHeader {
                page_type: want,
                ..page.header
            }
            .type_name();
            return Err(self.page_error(
                &page,
                format!(
                    "expected a {want_name} page, found a {} page (type {})",
                    page.header.type_name(),
                    page.header.page_type
                ),
            ));
        }
        Ok(page)
    }

    /// Calls `f` for every cell of `page`, checking the cell count against the header.
    fn cells(
        &self,
        page: &Page<'_>,
        mut f: impl FnMut(usize, Cell) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let image = &page.image[..];
        let mut pos = PAGE_DATA_OFFSET;
        let mut count: u64 = 0;
        while pos < image.len() {
            let cell = cell::unpack(image, pos, page.header.flags)
                .map_err(|e| self.cell_error(page, pos, e))?;
            let len = cell.len;
            f(pos, cell)?;
            pos += len;
            count += 1;
        }
        if count != u64::from(page.header.entries) {
            return Err(self.page_error(
                page,
                format!(
                    "{count} cells on the page, the header says {}",
                    page.header.entries
                ),
            ));
        }
        Ok(())
    }

    /// The children of an internal page, in key order.
    fn children(&self, page: &Page<'_>, stats: &mut ReadStats) -> Result<Vec<Child>, Error> {
        let mut out = Vec::new();
        self.cells(page, |pos, cell| {
            let kind = match cell.cell_type {
                CellType::Key | CellType::KeyPfx | CellType::KeyOvfl => return Ok(()),
                CellType::AddrDel => {
                    stats.truncated_subtrees += 1;
                    return Ok(());
                }
                CellType::AddrInt => ChildKind::Internal,
                CellType::AddrLeaf | CellType::AddrLeafNo => ChildKind::Leaf,
                _ => {
                    return Err(Error::UnknownCell {
                        path: self.file.path().to_path_buf(),
                        offset: page.offset,
                        cell_offset: pos,
                        desc: page.image[pos],
                    })
                }
            };
            let cookie = &page.image[cell.data.clone()];
            let addr = self
                .file
                .addr(cookie, || {
                    format!(
                        "child address at byte {pos} of the page at offset {}",
                        page.offset
                    )
                })?
                .ok_or_else(|| {
                    self.page_error(page, format!("child address at byte {pos} is empty"))
                })?;
            out.push(Child { addr, kind });
            Ok(())
        })?;
        Ok(out)
    }

    /// Reads an overflow item referenced by `cookie` (a cell's data).
    fn overflow(
        &self,
        page: &Page<'_>,
        pos: usize,
        cookie: Range<usize>,
    ) -> Result<Vec<u8>, Error> {
        let addr = self
            .file
            .addr(&page.image[cookie], || {
                format!(
                    "overflow address at byte {pos} of the page at offset {}",
                    page.offset
                )
            })?
            .ok_or_else(|| {
                self.page_error(page, format!("overflow address at byte {pos} is empty"))
            })?;
        let ovfl = self.read(&addr, page_type::OVERFLOW)?;
        let item = ovfl.overflow_item().ok_or_else(|| {
            self.page_error(
                &ovfl,
                format!(
                    "overflow item of {} bytes does not fit in the {}-byte page",
                    ovfl.header.entries,
                    ovfl.image.len()
                ),
            )
        })?;
        Ok(item.to_vec())
    }

    /// Decodes a leaf page into its live items.
    fn decode_leaf(&self, addr: &Addr) -> Result<Leaf<'f>, Error> {
        let page = self.read(addr, page_type::ROW_LEAF)?;
        let mut stats = ReadStats {
            leaf_pages: 1,
            ..ReadStats::default()
        };
        // The header's count is not trusted for an allocation: an item takes at least two
        // bytes of the page image.
        let capacity = (page.header.entries as usize / 2 + 1).min(page.image.len() / 2 + 1);
        let mut items = Vec::with_capacity(capacity);
        // The previous key that was not an overflow key: the base of prefix compression.
        let mut last_key: Vec<u8> = Vec::new();
        let mut pending: Option<Bytes> = None;
        let image = &page.image[..];
        self.cells(&page, |pos, cell| {
            match cell.cell_type {
                CellType::Key | CellType::KeyPfx => {
                    if let Some(key) = pending.take() {
                        items.push(Item { key, value: None });
                    }
                    let data = &image[cell.data.clone()];
                    let prefix = usize::from(cell.prefix);
                    let key = if prefix == 0 {
                        last_key.clear();
                        last_key.extend_from_slice(data);
                        Bytes::Page(cell.data.clone())
                    } else {
                        if prefix > last_key.len() {
                            return Err(self.page_error(
                                &page,
                                format!(
                                    "key at byte {pos} shares {prefix} bytes with a previous key of {} bytes",
                                    last_key.len()
                                ),
                            ));
                        }
                        last_key.truncate(prefix);
                        last_key.extend_from_slice(data);
                        Bytes::Owned(last_key.clone())
                    };
                    pending = Some(key);
                }
                CellType::KeyOvfl => {
                    if let Some(key) = pending.take() {
                        items.push(Item { key, value: None });
                    }
                    stats.overflow_pages += 1;
                    pending = Some(Bytes::Owned(self.overflow(&page, pos, cell.data.clone())?));
                }
                CellType::Value | CellType::ValueCopy | CellType::ValueOvfl => {
                    let key = pending.take().ok_or_else(|| {
                        self.page_error(&page, format!("value cell at byte {pos} follows no key"))
                    })?;
                    if let Some(w) = &cell.window {
                        if w.has_stop() {
                            stats.deleted += 1;
                            return Ok(());
                        }
                        if w.is_prepared() {
                            stats.prepared += 1;
                            return Ok(());
                        }
                    }
                    // A copy repeats the data of an earlier cell, keeping its own window.
                    let (data_pos, data_cell) = match cell.copy_of {
                        Some(target) => {
                            let t = cell::unpack(image, target, page.header.flags)
                                .map_err(|e| self.cell_error(&page, target, e))?;
                            if !matches!(t.cell_type, CellType::Value | CellType::ValueOvfl) {
                                return Err(self.page_error(
                                    &page,
                                    format!(
                                        "value copy at byte {pos} refers to a {:?} cell at byte {target}",
                                        t.cell_type
                                    ),
                                ));
                            }
                            (target, t)
                        }
                        None => (pos, cell),
                    };
                    let value = if data_cell.cell_type == CellType::ValueOvfl {
                        stats.overflow_pages += 1;
                        Bytes::Owned(self.overflow(&page, data_pos, data_cell.data)?)
                    } else {
                        Bytes::Page(data_cell.data)
                    };
                    items.push(Item {
                        key,
                        value: Some(value),
                    });
                }
                CellType::KeyOvflRm | CellType::ValueOvflRm => {
                    return Err(self.cell_error(
                        &page,
                        pos,
                        CellError::Bad(
                            "a removed overflow item (never written in a checkpoint): its value is unavailable".into(),
                        ),
                    ))
                }
                _ => {
                    return Err(Error::UnknownCell {
                        path: self.file.path().to_path_buf(),
                        offset: page.offset,
                        cell_offset: pos,
                        desc: image[pos],
                    })
                }
            }
            Ok(())
        })?;
        if let Some(key) = pending.take() {
            items.push(Item { key, value: None });
        }
        Ok(Leaf { page, items, stats })
    }

    /// The leaf pages of the tree, in key order.
    fn leaves(&self) -> LeafWalk<'_, 'f> {
        LeafWalk {
            tree: self,
            root: self.root,
            stack: Vec::new(),
            stats: ReadStats::default(),
            failed: false,
        }
    }

    /// Hands every live entry to `f`, in key order, checking that keys strictly increase.
    /// Leaves are decoded in parallel; `f` runs on one thread at a time, in order.
    ///
    /// Stops at the first error, of the walk or of `f`, and returns it. The returned stats
    /// count pages, deleted and prepared values and skipped subtrees; `documents`,
    /// `document_bytes` and `corrupt` stay 0, for the caller to fill.
    pub fn scan<F>(&self, mut f: F) -> Result<ReadStats, Error>
    where
        F: FnMut(Entry<'_>) -> Result<(), Error> + Send,
    {
        let mut walk = self.leaves();
        let mut stats = ReadStats::default();
        let mut prev_key: Option<Vec<u8>> = None;
        let per_batch = (rayon::current_num_threads() * 2).max(4);
        let blocks = |addrs: &[Result<Addr, Error>]| -> Vec<Addr> {
            addrs
                .iter()
                .filter_map(|a| a.as_ref().ok().copied())
                .collect()
        };
        let addrs = next_batch(&mut walk, per_batch);
        let mut current_blocks = blocks(&addrs);
        let mut current = self.decode_batch(addrs);
        while !current.is_empty() {
            let addrs = next_batch(&mut walk, per_batch);
            let next_blocks = blocks(&addrs);
            let (next, delivered) = rayon::join(
                || self.decode_batch(addrs),
                || deliver(self.file, current, &mut f, &mut prev_key, &mut stats),
            );
            delivered?;
            // The batch is consumed: give its mapped pages back.
            for a in &current_blocks {
                self.file.release(a);
            }
            current = next;
            current_blocks = next_blocks;
        }
        stats.add(&walk.stats);
        Ok(stats)
    }

    fn decode_batch(&self, addrs: Vec<Result<Addr, Error>>) -> Vec<Result<Leaf<'f>, Error>> {
        use rayon::prelude::*;
        addrs
            .into_par_iter()
            .map(|a| a.and_then(|a| self.decode_leaf(&a)))
            .collect()
    }
}

/// Up to `n` leaf addresses (fewer when their blocks add up to [`BATCH_BYTES`]); an error
/// ends the batch.
fn next_batch(walk: &mut LeafWalk<'_, '_>, n: usize) -> Vec<Result<Addr, Error>> {
    let mut out = Vec::with_capacity(n);
    let mut bytes = 0u64;
    while out.len() < n && bytes < BATCH_BYTES {
        match walk.next() {
            None => break,
            Some(Ok(a)) => {
                bytes += u64::from(a.size);
                out.push(Ok(a));
            }
            Some(Err(e)) => {
                out.push(Err(e));
                break;
            }
        }
    }
    out
}

/// Hands the items of decoded leaves to `f` in order; stops at the first error.
fn deliver<F>(
    file: &BlockFile,
    leaves: Vec<Result<Leaf<'_>, Error>>,
    f: &mut F,
    prev_key: &mut Option<Vec<u8>>,
    stats: &mut ReadStats,
) -> Result<(), Error>
where
    F: FnMut(Entry<'_>) -> Result<(), Error>,
{
    for leaf in leaves {
        let leaf = leaf?;
        stats.add(&leaf.stats);
        let image = &leaf.page.image[..];
        for item in &leaf.items {
            let key = item.key.get(image);
            if let Some(prev) = prev_key {
                if prev.as_slice() >= key {
                    return Err(Error::BadPage {
                        path: file.path().to_path_buf(),
                        offset: leaf.page.offset,
                        detail: format!("keys out of order: {} after {}", hex(key), hex(prev)),
                    });
                }
                prev.clear();
                prev.extend_from_slice(key);
            } else {
                *prev_key = Some(key.to_vec());
            }
            f(Entry {
                key,
                value: item.value.as_ref().map(|v| v.get(image)),
                page_offset: leaf.page.offset,
            })?;
        }
    }
    Ok(())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Iterates over the leaf addresses of a tree, reading internal pages as it goes.
struct LeafWalk<'t, 'f> {
    tree: &'t Tree<'f>,
    root: Option<Addr>,
    stack: Vec<std::vec::IntoIter<Child>>,
    stats: ReadStats,
    failed: bool,
}

impl LeafWalk<'_, '_> {
    fn descend(&mut self, page: Page<'_>) -> Result<(), Error> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.tree.page_error(
                &page,
                format!("the tree is deeper than {MAX_DEPTH} levels (a cycle?)"),
            ));
        }
        self.stats.internal_pages += 1;
        let children = self.tree.children(&page, &mut self.stats)?;
        self.stack.push(children.into_iter());
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Addr>, Error> {
        if let Some(root) = self.root.take() {
            // The root is normally internal; a single-page tree may have a leaf root.
            let page = self.tree.file.read(&root)?;
            if page.header.page_type == page_type::ROW_LEAF {
                return Ok(Some(root));
            }
            if page.header.page_type != page_type::ROW_INTERNAL {
                return Err(self.tree.page_error(
                    &page,
                    format!(
                        "the root is a {} page (type {}), not a row-store page",
                        page.header.type_name(),
                        page.header.page_type
                    ),
                ));
            }
            self.descend(page)?;
        }
        loop {
            let Some(top) = self.stack.last_mut() else {
                return Ok(None);
            };
            match top.next() {
                None => {
                    self.stack.pop();
                }
                Some(Child {
                    addr,
                    kind: ChildKind::Leaf,
                }) => return Ok(Some(addr)),
                Some(Child {
                    addr,
                    kind: ChildKind::Internal,
                }) => {
                    let page = self.tree.read(&addr, page_type::ROW_INTERNAL)?;
                    self.descend(page)?
                }
            }
        }
    }
}

impl Iterator for LeafWalk<'_, '_> {
    type Item = Result<Addr, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(a) => a.map(Ok),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Synthetic files built block by block: the cell kinds MongoDB's collection files rarely
    //! or never contain (value copies, overflow keys, empty values, prepared values,
    //! fast-truncated subtrees, leaf roots), and batch boundaries of wide trees.

    use super::*;
    use crate::format::block::{block_checksum, descriptor_checksum, BLOCK_MAGIC};
    use crate::format::compress::Compressor;
    use crate::format::intpack::pack_uint;

    const ALLOC: u32 = 512;

    struct FileBuilder {
        bytes: Vec<u8>,
    }

    impl FileBuilder {
        fn new() -> Self {
            let mut d = vec![0u8; ALLOC as usize];
            d[0..4].copy_from_slice(&BLOCK_MAGIC.to_le_bytes());
            d[4..6].copy_from_slice(&1u16.to_le_bytes());
            let crc = descriptor_checksum(&d);
            d[8..12].copy_from_slice(&crc.to_le_bytes());
            FileBuilder { bytes: d }
        }

        fn page(&mut self, page_type: u8, entries: u32, payload: &[u8]) -> Addr {
            let mem_size = 40 + payload.len();
            let size = mem_size.div_ceil(ALLOC as usize) * ALLOC as usize;
            let mut b = vec![0u8; size];
            b[16..20].copy_from_slice(&(mem_size as u32).to_le_bytes());
            b[20..24].copy_from_slice(&entries.to_le_bytes());
            b[24] = page_type;
            b[28..32].copy_from_slice(&(size as u32).to_le_bytes());
            b[36] = 1;
            b[40..mem_size].copy_from_slice(payload);
            let checksum = block_checksum(&b, size);
            b[32..36].copy_from_slice(&checksum.to_le_bytes());
            let offset = self.bytes.len() as u64;
            self.bytes.extend_from_slice(&b);
            Addr {
                offset,
                size: size as u32,
                checksum,
            }
        }

        fn finish(&self) -> (tempfile::TempDir, BlockFile) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.wt");
            std::fs::write(&path, &self.bytes).unwrap();
            let f = BlockFile::open(&path, ALLOC, Compressor::None).unwrap();
            (dir, f)
        }
    }

    fn cookie(a: &Addr) -> Vec<u8> {
        let mut v = Vec::new();
        pack_uint(&mut v, a.offset / u64::from(ALLOC) - 1);
        pack_uint(&mut v, u64::from(a.size / ALLOC));
        pack_uint(&mut v, u64::from(a.checksum));
        v
    }

    fn key(k: &[u8]) -> Vec<u8> {
        let mut v = vec![((k.len() as u8) << 2) | 1];
        v.extend_from_slice(k);
        v
    }

    fn key_pfx(prefix: u8, k: &[u8]) -> Vec<u8> {
        let mut v = vec![((k.len() as u8) << 2) | 2, prefix];
        v.extend_from_slice(k);
        v
    }

    fn value(d: &[u8]) -> Vec<u8> {
        let mut v = vec![((d.len() as u8) << 2) | 3];
        v.extend_from_slice(d);
        v
    }

    /// A long value cell with a second descriptor and its fields.
    fn value_window(flags: u8, fields: &[u64], d: &[u8]) -> Vec<u8> {
        let mut v = vec![0x8c, flags];
        for &f in fields {
            pack_uint(&mut v, f);
        }
        v.push(0x80); // RLE 0
        pack_uint(&mut v, d.len() as u64);
        v.extend_from_slice(d);
        v
    }

    fn with_len(desc: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![desc];
        pack_uint(&mut v, data.len() as u64);
        v.extend_from_slice(data);
        v
    }

    fn copy_of(back: usize, window: Option<(u8, &[u64])>) -> Vec<u8> {
        let mut v = vec![0x90];
        if let Some((flags, fields)) = window {
            v[0] |= 0x08;
            v.push(flags);
            for &f in fields {
                pack_uint(&mut v, f);
            }
        }
        pack_uint(&mut v, back as u64);
        v
    }

    type Pairs = Vec<(Vec<u8>, Option<Vec<u8>>)>;

    fn collect(tree: &Tree<'_>) -> Result<(Pairs, ReadStats), Error> {
        let mut out = Vec::new();
        let stats = tree.scan(|e| {
            out.push((e.key.to_vec(), e.value.map(<[u8]>::to_vec)));
            Ok(())
        })?;
        Ok((out, stats))
    }

    /// Builds a leaf from cells, returning the payload and the cell count.
    fn cells(list: &[Vec<u8>]) -> (Vec<u8>, u32) {
        (list.concat(), list.len() as u32)
    }

    /// Found by the `wiredtiger_page` fuzz target: a leaf whose header claims billions of
    /// entries (checksum valid) gives an error or nothing, never a huge allocation.
    #[test]
    fn a_leaf_header_that_claims_billions_of_entries_allocates_nothing_huge() {
        let mut fb = FileBuilder::new();
        let list = [key(b"a"), value(b"one")].concat();
        let leaf = fb.page(page_type::ROW_LEAF, u32::MAX, &list);
        let (_dir, file) = fb.finish();
        // Before the fix: `Vec::with_capacity(2^31)` of items, an abort.
        let _ = collect(&Tree::new(&file, Some(leaf)));
    }

    #[test]
    fn every_leaf_cell_kind() {
        let mut fb = FileBuilder::new();
        let big_key: Vec<u8> = [b"abcd6".as_slice(), &[b'k'; 300]].concat();
        let big_value: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        let okey = fb.page(page_type::OVERFLOW, big_key.len() as u32, &big_key);
        let oval = fb.page(page_type::OVERFLOW, big_value.len() as u32, &big_value);
        let k1 = key(b"abcd1");
        let v1 = value(b"one");
        let list = vec![
            k1.clone(),
            v1.clone(),
            key_pfx(4, b"2"),                                 // abcd2
            value_window(0x08 | 0x20, &[20, 7], b"two"),      // start ts 20, txn 7: live
            key_pfx(4, b"3"),                                 // abcd3
            value_window(0x08 | 0x10, &[20, 25], b"deleted"), // stop ts 45: deleted
            key_pfx(4, b"4"),                                 // abcd4
            value_window(0x01 | 0x08, &[30], b"prepared"),
            key_pfx(4, b"5"),               // abcd5: a copy of "one"
            copy_of(0, None),               // patched below
            with_len(0x60, &cookie(&okey)), // overflow key abcd6kkk…
            with_len(0xa0, &cookie(&oval)), // overflow value
            key_pfx(4, b"7"),               // abcd7: no value cell
            key_pfx(4, b"8"),               // abcd8: a copy, deleted by its own window
            copy_of(0, Some((0x40, &[3]))), // patched below
        ];
        // Patch the copy cells' distances back to the first value cell.
        let mut list = list;
        let v1_at = 40 + k1.len();
        let at = |list: &[Vec<u8>], i: usize| 40 + list[..i].iter().map(Vec::len).sum::<usize>();
        let pos9 = at(&list, 9);
        list[9] = copy_of(pos9 - v1_at, None);
        let pos14 = at(&list, 14);
        list[14] = copy_of(pos14 - v1_at, Some((0x40, &[3])));
        let (payload, n) = cells(&list);
        let leaf = fb.page(page_type::ROW_LEAF, n, &payload);
        let (_d, file) = fb.finish();
        let (got, stats) = collect(&Tree::new(&file, Some(leaf))).unwrap();
        let want: Pairs = vec![
            (b"abcd1".to_vec(), Some(b"one".to_vec())),
            (b"abcd2".to_vec(), Some(b"two".to_vec())),
            (b"abcd5".to_vec(), Some(b"one".to_vec())),
            (big_key.clone(), Some(big_value.clone())),
            (b"abcd7".to_vec(), None),
        ];
        assert_eq!(got, want);
        assert_eq!((stats.deleted, stats.prepared), (2, 1));
        assert_eq!(
            (stats.leaf_pages, stats.internal_pages, stats.overflow_pages),
            (1, 0, 2)
        );
    }

    #[test]
    fn internal_pages_truncated_subtrees_and_batches() {
        let mut fb = FileBuilder::new();
        // 60 leaves of 3 entries under two internal pages, plus a fast-truncated child.
        let mut leaves = Vec::new();
        for i in 0..61u32 {
            let list: Vec<Vec<u8>> = (0..3u32)
                .flat_map(|j| {
                    let k = format!("k{:04}", i * 10 + j);
                    [key(k.as_bytes()), value(format!("v{i}.{j}").as_bytes())]
                })
                .collect();
            let (payload, n) = cells(&list);
            leaves.push(fb.page(page_type::ROW_LEAF, n, &payload));
        }
        let internal = |fb: &mut FileBuilder, children: &[(u8, Addr)]| {
            let list: Vec<Vec<u8>> = children
                .iter()
                .enumerate()
                .flat_map(|(i, (desc, a))| {
                    [key(format!("s{i}").as_bytes()), with_len(*desc, &cookie(a))]
                })
                .collect();
            let (payload, n) = cells(&list);
            fb.page(page_type::ROW_INTERNAL, n, &payload)
        };
        let left: Vec<(u8, Addr)> = leaves[..30].iter().map(|a| (0x20, *a)).collect();
        let mut right: Vec<(u8, Addr)> = leaves[30..60].iter().map(|a| (0x30, *a)).collect();
        right.insert(5, (0x00, leaves[60])); // ADDR_DEL: skipped
        let l = internal(&mut fb, &left);
        let r = internal(&mut fb, &right);
        let root = internal(&mut fb, &[(0x10, l), (0x10, r)]);
        let (_d, file) = fb.finish();
        let (got, stats) = collect(&Tree::new(&file, Some(root))).unwrap();
        assert_eq!(got.len(), 180);
        let keys: Vec<String> = got
            .iter()
            .map(|(k, _)| String::from_utf8(k.clone()).unwrap())
            .collect();
        let want: Vec<String> = (0..60u32)
            .flat_map(|i| (0..3u32).map(move |j| format!("k{:04}", i * 10 + j)))
            .collect();
        assert_eq!(keys, want);
        assert_eq!(
            (
                stats.leaf_pages,
                stats.internal_pages,
                stats.truncated_subtrees
            ),
            (60, 3, 1)
        );
        // An empty tree.
        let (got, stats) = collect(&Tree::new(&file, None)).unwrap();
        assert!(got.is_empty() && stats == ReadStats::default());
    }

    #[test]
    fn damaged_structures() {
        let expect = |payload: Vec<Vec<u8>>, entries: Option<u32>, what: &str| -> Error {
            let mut fb = FileBuilder::new();
            let (p, n) = cells(&payload);
            let leaf = fb.page(page_type::ROW_LEAF, entries.unwrap_or(n), &p);
            let (_d, file) = fb.finish();
            let r = collect(&Tree::new(&file, Some(leaf)));
            r.expect_err(what)
        };
        let e = expect(vec![value(b"x")], None, "value without key");
        assert!(matches!(e, Error::BadPage { .. }), "{e}");
        let e = expect(vec![key(b"a"), value(b"x")], Some(3), "cell count");
        assert!(matches!(e, Error::BadPage { .. }), "{e}");
        let e = expect(
            vec![key(b"b"), value(b"x"), key(b"a"), value(b"y")],
            None,
            "key order",
        );
        assert!(e.to_string().contains("out of order"), "{e}");
        let e = expect(
            vec![key(b"a"), with_len(0xb0, &[0x81, 0x81, 0x81])],
            None,
            "removed overflow",
        );
        assert!(matches!(e, Error::BadCell { .. }), "{e}");
        let e = expect(vec![key(b"a"), copy_of(2, None)], None, "copy of a key");
        assert!(matches!(e, Error::BadPage { .. }), "{e}");
        let e = expect(vec![key(b"abc"), key_pfx(9, b"d")], None, "prefix too long");
        assert!(matches!(e, Error::BadPage { .. }), "{e}");
        let e = expect(vec![key(b"a"), vec![0x40]], None, "column-store cell");
        assert!(matches!(e, Error::UnknownCell { desc: 0x40, .. }), "{e}");

        // A leaf address that points at an internal page.
        let mut fb = FileBuilder::new();
        let (p, n) = cells(&[key(b"a"), value(b"x")]);
        let leaf = fb.page(page_type::ROW_LEAF, n, &p);
        let (p, n) = cells(&[key(b"s"), with_len(0x20, &cookie(&leaf))]);
        let inner = fb.page(page_type::ROW_INTERNAL, n, &p);
        let (p, n) = cells(&[key(b"s"), with_len(0x20, &cookie(&inner))]);
        let root = fb.page(page_type::ROW_INTERNAL, n, &p);
        let (_d, file) = fb.finish();
        let e = collect(&Tree::new(&file, Some(root))).unwrap_err();
        assert!(e.to_string().contains("expected a row-leaf page"), "{e}");
        // A page pointing at itself.
        let mut fb = FileBuilder::new();
        let offset = u64::from(ALLOC);
        // The cookie of the root itself: offset 512, size 512, checksum unknown until built;
        // the walk fails on the checksum of the self-reference or on depth, never loops.
        let fake = Addr {
            offset,
            size: ALLOC,
            checksum: 0,
        };
        let (p, n) = cells(&[key(b"s"), with_len(0x10, &cookie(&fake))]);
        let root = fb.page(page_type::ROW_INTERNAL, n, &p);
        let (_d, file) = fb.finish();
        assert!(collect(&Tree::new(&file, Some(root))).is_err());
    }
}
