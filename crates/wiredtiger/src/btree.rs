//! Walking a row-store B-tree from a checkpoint root, in key order.
//!
//! Internal pages (type 6) hold (key, address) cell pairs: the walk ignores the keys, descends
//! into `ADDR_INT` children, collects `ADDR_LEAF`/`ADDR_LEAF_NO` children and skips `ADDR_DEL`
//! (fast-truncated) subtrees. Internal pages are read one after another on the calling thread
//! ([`LeafWalk`]); leaf pages (type 7) are read, checksummed, decompressed and decoded in
//! parallel batches (rayon) while the previous batch is handed to the consumer, so entries
//! arrive strictly in key order and only a few pages are in memory at once.
//!
//! A leaf holds key cells, each followed by zero or one value cell. Keys may share a prefix
//! with the previous non-overflow key; values may be overflow items, or copies of an earlier
//! value cell on the page. A value whose validity window has a stop time was deleted and is
//! skipped; a value of a prepared (uncommitted) transaction is skipped too; both are counted
//! in [`ReadStats`]. A key with no value cell has an empty value ([`Entry::value`] is `None`).

use std::ops::Range;

use crate::block::{Addr, BlockFile};
use crate::cell::{self, Cell, CellError, CellType};
use crate::page::{page_type, Page, PAGE_DATA_OFFSET};
use crate::Error;

/// Counters of one tree walk (one collection read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Documents (or entries) handed to the consumer.
    pub documents: u64,
    /// Bytes of those documents.
    pub document_bytes: u64,
    /// Values whose window has a stop time: deleted, not live.
    pub deleted: u64,
    /// Values of prepared, uncommitted transactions: skipped.
    pub prepared: u64,
    /// Values reported as corrupt (not a BSON document, empty value).
    pub corrupt: u64,
    pub leaf_pages: u64,
    pub internal_pages: u64,
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
            let want_name = crate::page::PageHeader {
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
        let mut items = Vec::with_capacity(page.header.entries as usize / 2 + 1);
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
    pub fn scan<F>(&self, mut f: F) -> Result<ReadStats, Error>
    where
        F: FnMut(Entry<'_>) -> Result<(), Error> + Send,
    {
        let mut walk = self.leaves();
        let mut stats = ReadStats::default();
        let mut prev_key: Option<Vec<u8>> = None;
        let per_batch = (rayon::current_num_threads() * 2).max(4);
        let mut current = self.decode_batch(next_batch(&mut walk, per_batch));
        while !current.is_empty() {
            let addrs = next_batch(&mut walk, per_batch);
            let (next, delivered) = rayon::join(
                || self.decode_batch(addrs),
                || deliver(self.file, current, &mut f, &mut prev_key, &mut stats),
            );
            delivered?;
            current = next;
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
