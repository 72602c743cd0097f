//! Percona XtraBackup's xbstream archive format, written from
//! `shared/docs/formats/xbstream-qpress.md` §2.
//!
//! An xbstream is a plain concatenation of chunks (little-endian, no global header):
//!
//! ```text
//! "XBSTCK01" flags:u8 type:u8 pathlen:u32 path
//!     ['S' only: n:u32] payload_len:u64 offset:u64 crc32:u32 ['S' only: n × (skip:u32, len:u32)] payload
//! 'E' chunks stop after the path.
//! ```
//!
//! - [`Reader`] reads chunk headers ([`Reader::next_header`]) and streams each payload in
//!   pieces ([`Reader::read_payload`]), so a chunk of any size is read with bounded memory.
//!   The CRC-32 (zlib's; for `S` over the sparse map then the payload) is checked as the last
//!   piece is read: **that piece is returned only when the CRC matches**, so a chunk no larger
//!   than the piece size is verified before any of its bytes are handed out. Skipping a
//!   payload still reads and checks it. [`Reader::next_chunk`] does both steps at once.
//! - [`Tracker`] applies the reassembly rules of `xbstream -x`: member paths validated by
//!   [`safe_path`], each chunk's offset equal to the member's running
//!   offset, nothing after a member's `E` chunk, and every member ended at the end of the
//!   stream.
//! - [`Writer`] writes chunks from the specification (tests and benchmarks build archives with
//!   it).
//!
//! Rules chosen: a path of 512 bytes or more is refused (`FN_REFLEN`, as xbstream does);
//! chunk payloads are not capped; a sparse map may have at most [`MAX_SPARSE_ENTRIES`]
//! entries and its lengths must add up to the payload length; an unknown chunk type is an
//! error unless the chunk is flagged ignorable, in which case it is read with the `P`
//! layout, its CRC is **not** checked (its meaning is unknown) and the chunk is skipped.
//! The end of input must fall on a chunk boundary.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::safe_path::{self, PathError};

/// The eight bytes that open every chunk, and so the archive.
pub const MAGIC: &[u8; 8] = b"XBSTCK01";
/// Chunk flag: readers may skip a chunk of an unknown type.
pub const FLAG_IGNORABLE: u8 = 0x01;
/// Longest path accepted (xbstream refuses `pathlen >= FN_REFLEN`, 512).
pub const MAX_PATH_LEN: usize = 511;
/// Largest sparse map accepted (8 MiB of map; real maps have a few hundred entries).
pub const MAX_SPARSE_ENTRIES: u32 = 1 << 20;

/// Why an xbstream was refused. `offset` is always the archive offset of the chunk.
#[derive(Debug, thiserror::Error)]
pub enum XbstreamError {
    /// Reading the input (or the decoder beneath it) failed.
    #[error("reading the xbstream: {0}")]
    Io(#[from] io::Error),
    /// A chunk does not start with [`MAGIC`].
    #[error("no xbstream chunk at offset {offset} (magic `XBSTCK01` expected)")]
    Magic {
        /// Where the chunk was expected to start.
        offset: u64,
    },
    /// The stream ends inside a chunk (its header, sparse map or payload).
    #[error("xbstream cut short inside the chunk at offset {offset}{}", path_suffix(.path))]
    Truncated {
        /// Archive offset of the chunk's magic.
        offset: u64,
        /// The member path, for messages, once the header has been read that far; `None`
        /// when the cut is before or inside the path.
        path: Option<String>,
    },
    /// A chunk's path length is over [`MAX_PATH_LEN`]; refused before the path is read.
    #[error("xbstream chunk at offset {offset}: path of {len} bytes (at most {MAX_PATH_LEN})")]
    PathTooLong {
        /// Archive offset of the chunk's magic.
        offset: u64,
        /// The path length as stored, in bytes.
        len: u32,
    },
    /// A chunk type other than `P`, `S` or `E`, not flagged [`FLAG_IGNORABLE`].
    #[error("xbstream chunk at offset {offset} for {path}: unknown chunk type {kind:#04x}")]
    UnknownType {
        /// Archive offset of the chunk's magic.
        offset: u64,
        /// The member path, for messages (lossy UTF-8, control bytes escaped).
        path: String,
        /// The type byte.
        kind: u8,
    },
    /// A `P` or `S` chunk's payload (and sparse map) does not give its stored CRC-32.
    #[error("xbstream chunk at offset {offset} for {path}: CRC-32 mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Crc {
        /// Archive offset of the chunk's magic.
        offset: u64,
        /// The member path, for messages (lossy UTF-8, control bytes escaped).
        path: String,
        /// The CRC-32 in the chunk header.
        stored: u32,
        /// The CRC-32 of the sparse map and payload as read.
        computed: u32,
    },
    /// An `S` chunk's sparse map is refused: more than [`MAX_SPARSE_ENTRIES`] entries, its
    /// lengths do not add up to the payload length, or the chunk would end past 2^64 bytes.
    #[error("xbstream chunk at offset {offset} for {path}: {detail}")]
    Sparse {
        /// Archive offset of the chunk's magic.
        offset: u64,
        /// The member path, for messages (lossy UTF-8, control bytes escaped).
        path: String,
        /// Which of those rules is broken, with the numbers.
        detail: String,
    },
    /// A chunk's member offset is not where the member's previous chunk ended.
    #[error("xbstream chunk at offset {offset} for {path}: out-of-order chunk (file offset {found}, expected {expected})")]
    OutOfOrder {
        /// Archive offset of the chunk's magic.
        offset: u64,
        /// The member path, for messages (lossy UTF-8, control bytes escaped).
        path: String,
        /// The member offset where the previous chunk ended (holes included).
        expected: u64,
        /// The member offset in this chunk's header.
        found: u64,
    },
    /// A chunk arrives for a member after its `E` chunk.
    #[error("xbstream chunk at offset {offset} for {path}: the member already ended")]
    AfterEnd {
        /// Archive offset of the chunk's magic.
        offset: u64,
        /// The member path, for messages (lossy UTF-8, control bytes escaped).
        path: String,
    },
    /// At the end of the stream ([`Tracker::finish`]) a member has had no `E` chunk: the
    /// archive is truncated.
    #[error("xbstream member {path} has no end-of-file chunk: the archive is truncated")]
    Unfinished {
        /// The member path, for messages (lossy UTF-8, control bytes escaped).
        path: String,
    },
    /// A chunk's member path breaks a [`safe_path`] rule (absolute, `..`, NUL …).
    #[error("xbstream chunk at offset {offset}: unsafe member path {path:?}: {source}")]
    UnsafePath {
        /// Archive offset of the chunk's magic.
        offset: u64,
        /// The member path, for messages (lossy UTF-8, control bytes escaped).
        path: String,
        /// The rule the path breaks.
        source: PathError,
    },
}

fn path_suffix(path: &Option<String>) -> String {
    path.as_ref()
        .map(|p| format!(" (member {p})"))
        .unwrap_or_default()
}

/// The chunk types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkType {
    /// `P`: payload bytes at `offset`.
    Payload,
    /// `S`: payload bytes spread over the file with holes (sparse map).
    Sparse,
    /// `E`: end of a member.
    End,
    /// Any other byte, only returned when the chunk is flagged ignorable.
    Unknown(u8),
}

impl ChunkType {
    /// The type byte as stored: `P`, `S`, `E`, or the unknown byte.
    pub fn byte(self) -> u8 {
        match self {
            ChunkType::Payload => b'P',
            ChunkType::Sparse => b'S',
            ChunkType::End => b'E',
            ChunkType::Unknown(b) => b,
        }
    }
}

/// One entry of a sparse map: skip `skip` bytes (a hole), then write `len` payload bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SparseEntry {
    /// Length of the hole before the data, in bytes.
    pub skip: u32,
    /// Bytes of payload written after the hole.
    pub len: u32,
}

/// A chunk header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkHeader {
    /// Archive offset of the chunk's magic.
    pub archive_offset: u64,
    /// Archive offset of the first payload byte.
    pub payload_offset: u64,
    /// The flag byte; [`FLAG_IGNORABLE`] is the only flag defined.
    pub flags: u8,
    /// The type, from the type byte.
    pub kind: ChunkType,
    /// The raw member path.
    pub path: Vec<u8>,
    /// Length of the payload in bytes, sparse map excluded (0 for `E`).
    pub payload_len: u64,
    /// Offset in the member of the chunk's first byte (0 for `E`).
    pub offset: u64,
    /// Stored CRC-32 (0 for `E`).
    pub crc: u32,
    /// The sparse map of an `S` chunk, in order; empty for other types.
    pub sparse: Vec<SparseEntry>,
}

impl ChunkHeader {
    /// The member path for messages.
    pub fn path_display(&self) -> String {
        safe_path::display(&self.path)
    }

    /// Member offset just past this chunk (holes included).
    pub fn end_offset(&self) -> u64 {
        let skips: u64 = self.sparse.iter().map(|e| u64::from(e.skip)).sum();
        self.offset + skips + self.payload_len
    }
}

/// A chunk with its whole payload (CRC checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Type, member path, offsets, stored CRC and sparse map.
    pub header: ChunkHeader,
    /// The payload bytes (for `S`, without the holes; empty for `E`).
    pub payload: Vec<u8>,
}

struct Pending {
    remaining: u64,
    hasher: crc32fast::Hasher,
    check: bool,
    checked: bool,
    offset: u64,
    stored: u32,
    path: Vec<u8>,
}

/// Reads chunks from an xbstream: see the [module documentation](self).
pub struct Reader<R> {
    inner: R,
    pos: u64,
    pending: Option<Pending>,
}

impl<R: Read> Reader<R> {
    /// Reads chunks from `inner`, whose first byte is archive offset 0 (a chunk's magic).
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            pos: 0,
            pending: None,
        }
    }

    /// Archive offset of the next byte to be read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// True when the current chunk's CRC has been verified (or needs none).
    pub fn chunk_verified(&self) -> bool {
        self.pending.as_ref().is_none_or(|p| p.checked || !p.check)
    }

    fn truncated(&self, offset: u64, path: Option<&[u8]>) -> XbstreamError {
        XbstreamError::Truncated {
            offset,
            path: path.map(safe_path::display),
        }
    }

    /// Fills `buf` completely; `Ok(false)` when the input ended before the first byte.
    fn fill(
        &mut self,
        buf: &mut [u8],
        start: u64,
        path: Option<&[u8]>,
    ) -> Result<bool, XbstreamError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..]) {
                Ok(0) if filled == 0 => return Ok(false),
                Ok(0) => return Err(self.truncated(start, path)),
                Ok(n) => {
                    filled += n;
                    self.pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(true)
    }

    fn need(
        &mut self,
        buf: &mut [u8],
        start: u64,
        path: Option<&[u8]>,
    ) -> Result<(), XbstreamError> {
        if buf.is_empty() || self.fill(buf, start, path)? {
            Ok(())
        } else {
            Err(self.truncated(start, path))
        }
    }

    /// The next chunk header, `None` at a clean end of the stream. The rest of the previous
    /// chunk's payload, if any, is read and its CRC checked first.
    pub fn next_header(&mut self) -> Result<Option<ChunkHeader>, XbstreamError> {
        self.skip_payload()?;
        let start = self.pos;
        let mut fixed = [0u8; 14];
        if !self.fill(&mut fixed[..8], start, None)? {
            return Ok(None);
        }
        if &fixed[..8] != MAGIC {
            return Err(XbstreamError::Magic { offset: start });
        }
        self.need(&mut fixed[8..], start, None)?;
        let flags = fixed[8];
        let type_byte = fixed[9];
        let path_len = u32::from_le_bytes(fixed[10..14].try_into().unwrap());
        if path_len as usize > MAX_PATH_LEN {
            return Err(XbstreamError::PathTooLong {
                offset: start,
                len: path_len,
            });
        }
        let mut path = vec![0u8; path_len as usize];
        self.need(&mut path, start, None)?;
        let kind = match type_byte {
            b'P' => ChunkType::Payload,
            b'S' => ChunkType::Sparse,
            b'E' => ChunkType::End,
            other if flags & FLAG_IGNORABLE != 0 => ChunkType::Unknown(other),
            other => {
                return Err(XbstreamError::UnknownType {
                    offset: start,
                    path: safe_path::display(&path),
                    kind: other,
                })
            }
        };
        let mut header = ChunkHeader {
            archive_offset: start,
            payload_offset: self.pos,
            flags,
            kind,
            path,
            payload_len: 0,
            offset: 0,
            crc: 0,
            sparse: Vec::new(),
        };
        if kind == ChunkType::End {
            return Ok(Some(header));
        }
        let mut count = 0u32;
        if kind == ChunkType::Sparse {
            let mut n = [0u8; 4];
            self.need(&mut n, start, Some(&header.path))?;
            count = u32::from_le_bytes(n);
            if count > MAX_SPARSE_ENTRIES {
                return Err(XbstreamError::Sparse {
                    offset: start,
                    path: header.path_display(),
                    detail: format!("sparse map of {count} entries (at most {MAX_SPARSE_ENTRIES})"),
                });
            }
        }
        let mut rest = [0u8; 20];
        self.need(&mut rest, start, Some(&header.path))?;
        header.payload_len = u64::from_le_bytes(rest[..8].try_into().unwrap());
        header.offset = u64::from_le_bytes(rest[8..16].try_into().unwrap());
        header.crc = u32::from_le_bytes(rest[16..20].try_into().unwrap());
        let mut hasher = crc32fast::Hasher::new();
        if count > 0 {
            let mut map = vec![0u8; count as usize * 8];
            self.need(&mut map, start, Some(&header.path))?;
            hasher.update(&map);
            header.sparse = map
                .chunks_exact(8)
                .map(|e| SparseEntry {
                    skip: u32::from_le_bytes(e[..4].try_into().unwrap()),
                    len: u32::from_le_bytes(e[4..].try_into().unwrap()),
                })
                .collect();
        }
        if kind == ChunkType::Sparse {
            let total: u64 = header.sparse.iter().map(|e| u64::from(e.len)).sum();
            if total != header.payload_len {
                return Err(XbstreamError::Sparse {
                    offset: start,
                    path: header.path_display(),
                    detail: format!(
                        "sparse map writes {total} bytes but the payload has {}",
                        header.payload_len
                    ),
                });
            }
        }
        let skips: u64 = header.sparse.iter().map(|e| u64::from(e.skip)).sum();
        if header
            .offset
            .checked_add(skips)
            .and_then(|o| o.checked_add(header.payload_len))
            .is_none()
        {
            return Err(XbstreamError::Sparse {
                offset: start,
                path: header.path_display(),
                detail: "chunk extends past 2^64 bytes".into(),
            });
        }
        header.payload_offset = self.pos;
        self.pending = Some(Pending {
            remaining: header.payload_len,
            hasher,
            check: matches!(kind, ChunkType::Payload | ChunkType::Sparse),
            checked: false,
            offset: start,
            stored: header.crc,
            path: header.path.clone(),
        });
        Ok(Some(header))
    }

    /// The next piece (at most `max` bytes, `max > 0`) of the current chunk's payload; `None`
    /// when the payload is exhausted. The last piece is returned only if the CRC matches.
    pub fn read_payload(&mut self, max: usize) -> Result<Option<Vec<u8>>, XbstreamError> {
        let Some(p) = self.pending.as_mut() else {
            return Ok(None);
        };
        if p.remaining == 0 {
            self.verify()?;
            self.pending = None;
            return Ok(None);
        }
        let n = p.remaining.min(max.max(1) as u64) as usize;
        let mut piece = vec![0u8; n];
        let (start, path) = (p.offset, p.path.clone());
        self.need(&mut piece, start, Some(&path))?;
        let p = self.pending.as_mut().unwrap();
        p.hasher.update(&piece);
        p.remaining -= n as u64;
        if p.remaining == 0 {
            self.verify()?;
        }
        Ok(Some(piece))
    }

    fn verify(&mut self) -> Result<(), XbstreamError> {
        let p = self.pending.as_mut().unwrap();
        if p.check && !p.checked {
            let computed = p.hasher.clone().finalize();
            p.checked = true;
            if computed != p.stored {
                return Err(XbstreamError::Crc {
                    offset: p.offset,
                    path: safe_path::display(&p.path),
                    stored: p.stored,
                    computed,
                });
            }
        }
        Ok(())
    }

    /// Reads (and checks) the rest of the current chunk's payload without keeping it.
    pub fn skip_payload(&mut self) -> Result<(), XbstreamError> {
        while self.read_payload(1 << 20)?.is_some() {}
        Ok(())
    }

    /// The next whole chunk, payload included (CRC checked).
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>, XbstreamError> {
        let Some(header) = self.next_header()? else {
            return Ok(None);
        };
        let mut payload = Vec::new();
        // In pieces: the length in the header is not trusted for one allocation.
        while let Some(piece) = self.read_payload(4 << 20)? {
            if payload.is_empty() {
                payload = piece;
            } else {
                payload.extend_from_slice(&piece);
            }
        }
        Ok(Some(Chunk { header, payload }))
    }
}

/// Reassembly rules of `xbstream -x` (see the [module documentation](self)).
#[derive(Default)]
pub struct Tracker {
    index: HashMap<PathBuf, usize>,
    members: Vec<Member>,
}

struct Member {
    path: PathBuf,
    next_offset: u64,
    ended: bool,
}

/// What [`Tracker::chunk`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Tracked {
    /// A chunk of member `index`; `new` the first chunk of that member.
    Member {
        /// The member's number, in order of first appearance (see [`Tracker::path`]).
        index: usize,
        /// The chunk is the member's first.
        new: bool,
    },
    /// An ignorable chunk of unknown type: skip it.
    Ignored,
}

impl Tracker {
    /// A tracker that has seen no member yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The validated relative path of member `index`.
    pub fn path(&self, index: usize) -> &Path {
        &self.members[index].path
    }

    /// Number of members seen.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when no member has been seen.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Checks `header` against the member's state and records it.
    pub fn chunk(&mut self, header: &ChunkHeader) -> Result<Tracked, XbstreamError> {
        if let ChunkType::Unknown(_) = header.kind {
            return Ok(Tracked::Ignored);
        }
        let path =
            safe_path::relative_path(&header.path).map_err(|source| XbstreamError::UnsafePath {
                offset: header.archive_offset,
                path: header.path_display(),
                source,
            })?;
        let (index, new) = match self.index.get(&path) {
            Some(&i) => (i, false),
            None => {
                let i = self.members.len();
                self.index.insert(path.clone(), i);
                self.members.push(Member {
                    path,
                    next_offset: 0,
                    ended: false,
                });
                (i, true)
            }
        };
        let member = &mut self.members[index];
        if member.ended {
            return Err(XbstreamError::AfterEnd {
                offset: header.archive_offset,
                path: header.path_display(),
            });
        }
        match header.kind {
            ChunkType::End => member.ended = true,
            _ => {
                if header.offset != member.next_offset {
                    return Err(XbstreamError::OutOfOrder {
                        offset: header.archive_offset,
                        path: header.path_display(),
                        expected: member.next_offset,
                        found: header.offset,
                    });
                }
                member.next_offset = header.end_offset();
            }
        }
        Ok(Tracked::Member { index, new })
    }

    /// At the end of the stream: every member must have ended.
    pub fn finish(&self) -> Result<(), XbstreamError> {
        match self.members.iter().find(|m| !m.ended) {
            Some(m) => Err(XbstreamError::Unfinished {
                path: safe_path::display_path(&m.path),
            }),
            None => Ok(()),
        }
    }
}

/// Writes xbstream chunks (the layout of the module documentation).
pub struct Writer<W> {
    inner: W,
    position: u64,
}

impl<W: Write> Writer<W> {
    /// Writes chunks to `inner`, counting positions from 0.
    pub fn new(inner: W) -> Self {
        Writer { inner, position: 0 }
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.position += bytes.len() as u64;
        self.inner.write_all(bytes)
    }

    fn start(&mut self, flags: u8, kind: u8, path: &[u8]) -> io::Result<()> {
        self.put(MAGIC)?;
        self.put(&[flags, kind])?;
        self.put(&(path.len() as u32).to_le_bytes())?;
        self.put(path)
    }

    /// A `P` chunk.
    pub fn payload(&mut self, path: &[u8], offset: u64, data: &[u8]) -> io::Result<()> {
        self.raw_payload(0, b'P', path, offset, data, crc32fast::hash(data))
    }

    /// A chunk with the `P` layout and any flags, type and CRC (for corrupt fixtures).
    pub fn raw_payload(
        &mut self,
        flags: u8,
        kind: u8,
        path: &[u8],
        offset: u64,
        data: &[u8],
        crc: u32,
    ) -> io::Result<()> {
        self.start(flags, kind, path)?;
        self.put(&(data.len() as u64).to_le_bytes())?;
        self.put(&offset.to_le_bytes())?;
        self.put(&crc.to_le_bytes())?;
        self.put(data)
    }

    /// An `S` chunk: `payload` is written as `map` says, with holes in between.
    pub fn sparse(
        &mut self,
        path: &[u8],
        offset: u64,
        map: &[SparseEntry],
        payload: &[u8],
    ) -> io::Result<()> {
        let map_bytes: Vec<u8> = map
            .iter()
            .flat_map(|e| e.skip.to_le_bytes().into_iter().chain(e.len.to_le_bytes()))
            .collect();
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&map_bytes);
        hasher.update(payload);
        self.start(0, b'S', path)?;
        self.put(&(map.len() as u32).to_le_bytes())?;
        self.put(&(payload.len() as u64).to_le_bytes())?;
        self.put(&offset.to_le_bytes())?;
        self.put(&hasher.finalize().to_le_bytes())?;
        self.put(&map_bytes)?;
        self.put(payload)
    }

    /// An `E` chunk.
    pub fn end(&mut self, path: &[u8]) -> io::Result<()> {
        self.start(0, b'E', path)
    }

    /// A whole member: `data` in `P` chunks of at most `chunk` bytes, then `E`.
    pub fn whole_file(&mut self, path: &[u8], data: &[u8], chunk: usize) -> io::Result<()> {
        let mut offset = 0u64;
        for piece in data.chunks(chunk.max(1)) {
            self.payload(path, offset, piece)?;
            offset += piece.len() as u64;
        }
        self.end(path)
    }

    /// The underlying writer, holding everything written so far.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_interleaving_and_sparse() {
        let mut w = Writer::new(Vec::new());
        w.payload(b"a", 0, b"hello ").unwrap();
        w.payload(b"b", 0, b"x").unwrap();
        w.payload(b"a", 6, b"world").unwrap();
        let map = [
            SparseEntry { skip: 4, len: 2 },
            SparseEntry { skip: 3, len: 1 },
        ];
        w.sparse(b"b", 1, &map, b"yzw").unwrap();
        w.end(b"a").unwrap();
        w.end(b"b").unwrap();
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes[..]);
        let mut t = Tracker::new();
        let mut n = 0;
        while let Some(c) = r.next_chunk().unwrap() {
            t.chunk(&c.header).unwrap();
            if c.header.kind == ChunkType::Sparse {
                assert_eq!(c.header.sparse, map);
                assert_eq!(c.header.end_offset(), 1 + 7 + 3);
            }
            n += 1;
        }
        assert_eq!(n, 6);
        t.finish().unwrap();
    }

    #[test]
    fn pieces_of_a_large_chunk() {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let mut w = Writer::new(Vec::new());
        w.payload(b"big", 0, &data).unwrap();
        let mut bytes = w.into_inner();
        let mut r = Reader::new(&bytes[..]);
        r.next_header().unwrap().unwrap();
        let mut got = Vec::new();
        while let Some(p) = r.read_payload(30_000).unwrap() {
            got.extend(p);
        }
        assert_eq!(got, data);
        // A flipped bit in the last piece: the first pieces come out, the last does not.
        let n = bytes.len();
        bytes[n - 1] ^= 1;
        let mut r = Reader::new(&bytes[..]);
        r.next_header().unwrap().unwrap();
        assert_eq!(r.read_payload(60_000).unwrap().unwrap().len(), 60_000);
        assert!(!r.chunk_verified());
        assert!(matches!(
            r.read_payload(60_000),
            Err(XbstreamError::Crc { offset: 0, .. })
        ));
    }
}
