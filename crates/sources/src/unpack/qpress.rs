//! The qpress archive container (`qpress10`), written from
//! `shared/docs/formats/xbstream-qpress.md` §3.
//!
//! ```text
//! ARCHIVE   = "qpress10" u64(chunk size) { 'D' u32 name 0x00 | 'U' | FILE }
//! FILE      = 'F' u32 name 0x00 { "NEWBNEWB" u64(recovery) u32(Adler-32) PACKET } "ENDSENDS" u64
//! ```
//!
//! Three levels of API:
//!
//! - [`Parser`]: a push parser. Bytes are fed in pieces of any size (an xbstream member
//!   arrives chunk by chunk, interleaved with other members) and come out as [`Event`]s. Data
//!   blocks are handed out **compressed**: each [`Block`] is independent (non-streaming
//!   QuickLZ), so a caller can decode them on several threads and write them in order.
//! - [`Block::decode`]: checks the Adler-32 of the packet (always) and decompresses it.
//! - [`Reader`]: a sequential pull decoder over `Read` for whole archives (tests, tools).
//!
//! Rules chosen:
//!
//! - `F` and `D` names are single path components validated by
//!   [`safe_path::file_name`]; `U` at the top level is an error.
//!   Paths are joined from the `D`/`U` stack and bounded like archive member paths.
//! - The chunk size must be 1 byte … 512 MiB (qpress refuses larger ones); a packet may not
//!   decompress to more than the chunk size nor be longer than chunk size + 400 bytes
//!   (`QLZ_SIZE_OVERHEAD`), which bounds every allocation before it is made.
//! - The recovery field of blocks and trailers is ignored (xtrabackup 8.0 writes wrong values).
//! - The end of the input is valid only between records (after the header, a `D`, a `U` or a
//!   file trailer); an empty input is not an archive.
//! - Offsets in errors are those of the caller's coordinate system: [`Parser::feed`] takes the
//!   offset of the first byte it is given (an archive offset for xbstream members).

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use super::quicklz::{self, QuickLzError};
use crate::safe_path::{self, PathError};

/// The first eight bytes of a qpress archive; the chunk size (u64 little-endian) follows.
pub const MAGIC: &[u8; 8] = b"qpress10";
/// The tag that opens each data block of a file.
pub const BLOCK_TAG: &[u8; 8] = b"NEWBNEWB";
/// The tag of a file's trailer, after its last block (a u64 recovery field follows).
pub const END_TAG: &[u8; 8] = b"ENDSENDS";
/// Largest chunk size accepted (qpress's decompressor refuses more).
pub const MAX_CHUNK_SIZE: u64 = 512 << 20;
/// How much a QuickLZ packet may exceed the chunk size (qpress's `QLZ_SIZE_OVERHEAD`).
pub const PACKET_OVERHEAD: usize = 400;

/// Why a qpress stream was refused. `offset` is where the offending record (or block) starts.
#[derive(Debug, thiserror::Error)]
pub enum QpressError {
    /// The stream does not start with [`MAGIC`].
    #[error("not a qpress archive (no `qpress10` at offset {offset})")]
    Magic {
        /// Where the header starts.
        offset: u64,
    },
    /// [`Parser::finish`] was called with nothing fed: an empty input is not an archive.
    #[error("empty qpress stream")]
    Empty,
    /// The header's chunk size is 0 or above [`MAX_CHUNK_SIZE`].
    #[error("qpress chunk size {size} at offset {offset} (1 byte to 512 MiB accepted)")]
    ChunkSize {
        /// Where the header starts.
        offset: u64,
        /// The chunk size as stored, in bytes.
        size: u64,
    },
    /// The stream ends inside a record ([`Parser::finish`]).
    #[error("qpress stream cut short inside {what} starting at offset {offset}")]
    Truncated {
        /// Where the unfinished record starts.
        offset: u64,
        /// The record cut short: the archive header, a file or directory record, a data
        /// block or a file trailer.
        what: &'static str,
    },
    /// A record starts with a tag not allowed there: not `F`, `D` or `U` between records,
    /// not `NEWBNEWB` or `ENDSENDS` inside a file.
    #[error("unexpected qpress record {found:?} at offset {offset} (expected {expected})")]
    Tag {
        /// Where the tag starts.
        offset: u64,
        /// The tag bytes as read (lossy UTF-8, control bytes escaped).
        found: String,
        /// The tags allowed there, for the message.
        expected: &'static str,
    },
    /// An `F` or `D` name breaks a [`safe_path::file_name`] rule, or the path joined from the
    /// open directories is longer than [`MAX_PATH_BYTES`](safe_path::MAX_PATH_BYTES).
    #[error("qpress name at offset {offset}: {source}")]
    Name {
        /// Where the record starts.
        offset: u64,
        /// The rule the name or the joined path breaks.
        source: PathError,
    },
    /// A name length is over [`MAX_COMPONENT_BYTES`](safe_path::MAX_COMPONENT_BYTES); refused
    /// before the name is read.
    #[error("qpress name of {len} bytes at offset {offset}")]
    NameLength {
        /// Where the record starts.
        offset: u64,
        /// The name length as stored, in bytes.
        len: u32,
    },
    /// The byte after a name is not `0x00`.
    #[error("qpress name at offset {offset} is not NUL-terminated")]
    NameTerminator {
        /// Where the record starts.
        offset: u64,
    },
    /// A `U` record with no directory left to leave.
    #[error("qpress `U` record at offset {offset} outside any directory")]
    UpAtRoot {
        /// Where the record starts.
        offset: u64,
    },
    /// A block's packet does not give the Adler-32 stored before it ([`Block::decode`]).
    #[error(
        "qpress block at offset {offset}: Adler-32 mismatch (stored {stored:#010x}, computed {computed:#010x})"
    )]
    Adler {
        /// Where the block's `NEWBNEWB` starts.
        offset: u64,
        /// The Adler-32 in the block.
        stored: u32,
        /// The Adler-32 of the packet as read.
        computed: u32,
    },
    /// A packet's header says it is longer than the chunk size plus [`PACKET_OVERHEAD`];
    /// refused before anything is allocated for it.
    #[error("qpress block at offset {offset}: packet of {size} bytes exceeds chunk size {chunk_size} + {PACKET_OVERHEAD}")]
    PacketSize {
        /// Where the block's `NEWBNEWB` starts.
        offset: u64,
        /// The packet's compressed size from its QuickLZ header, in bytes.
        size: usize,
        /// The archive's chunk size, in bytes.
        chunk_size: u64,
    },
    /// A packet cannot be decompressed: its QuickLZ header or data is corrupt, or it
    /// decompresses to more than the chunk size.
    #[error("qpress block at offset {offset}: {source}")]
    Packet {
        /// Where the block's `NEWBNEWB` starts.
        offset: u64,
        /// What the QuickLZ decoder reported.
        source: QuickLzError,
    },
    /// Reading the underlying stream failed ([`Reader`] only; the parser reads nothing).
    #[error("reading the qpress stream: {0}")]
    Io(#[from] io::Error),
}

/// What a qpress stream contains, in order.
#[derive(Debug)]
pub enum Event {
    /// `D`: a directory entered; `path` includes the enclosing directories.
    DirDown {
        /// The directory's path from the archive root, validated.
        path: PathBuf,
        /// Where the `D` record starts.
        offset: u64,
    },
    /// `U`: the current directory left.
    DirUp {
        /// Where the `U` record starts.
        offset: u64,
    },
    /// `F`: a file starts. `name` is the raw name of the record, `path` the joined path.
    File {
        /// The record's name: one validated path component, as stored.
        name: Vec<u8>,
        /// The open directories joined with `name`.
        path: PathBuf,
        /// Where the `F` record starts.
        offset: u64,
    },
    /// One compressed data block of the current file.
    Block(Block),
    /// The trailer of the current file.
    FileEnd,
}

/// One data block: an Adler-32 and a QuickLZ packet, not yet checked nor decoded.
#[derive(Clone, Debug)]
pub struct Block {
    /// Offset of `NEWBNEWB`, in the caller's coordinates.
    pub offset: u64,
    /// The Adler-32 stored before the packet; checked by [`decode`](Self::decode).
    pub adler32: u32,
    /// The QuickLZ packet as stored (its header included), still compressed.
    pub packet: Vec<u8>,
    /// The archive's chunk size: no packet decompresses to more.
    pub max_size: usize,
}

impl Block {
    /// Checks the Adler-32 and decompresses the packet, appending to `out`.
    pub fn decode_into(
        &self,
        decoder: &mut quicklz::Decoder,
        out: &mut Vec<u8>,
    ) -> Result<(), QpressError> {
        let computed = adler2::adler32_slice(&self.packet);
        if computed != self.adler32 {
            return Err(QpressError::Adler {
                offset: self.offset,
                stored: self.adler32,
                computed,
            });
        }
        decoder
            .decompress_into(&self.packet, self.max_size, out)
            .map_err(|source| QpressError::Packet {
                offset: self.offset,
                source,
            })?;
        Ok(())
    }

    /// Checks the Adler-32 and decompresses the packet.
    pub fn decode(&self, decoder: &mut quicklz::Decoder) -> Result<Vec<u8>, QpressError> {
        let mut out = Vec::with_capacity(self.max_size.min(1 << 20));
        self.decode_into(decoder, &mut out)?;
        Ok(out)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NameKind {
    File,
    Dir,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// `qpress10` + chunk size (16 bytes).
    Header,
    /// One tag byte between records.
    Record,
    NameLen(NameKind),
    Name(NameKind),
    /// `NEWBNEWB` or `ENDSENDS`.
    BlockTag,
    /// Recovery (8) + Adler-32 (4) + flag byte of the packet.
    BlockHead,
    /// The rest of the packet header.
    PacketHeader,
    /// The packet body.
    PacketBody,
    /// The 8 bytes after `ENDSENDS`.
    Trailer,
}

/// A push parser of a qpress stream: see the [module documentation](self).
pub struct Parser {
    state: State,
    /// Bytes wanted in `buf` before the current state can be processed.
    want: usize,
    buf: Vec<u8>,
    /// Offset (caller's coordinates) where the current record started.
    start: u64,
    /// Bytes fed so far.
    fed: u64,
    chunk_size: u64,
    dirs: Vec<OsString>,
    adler: u32,
    name_len: usize,
    packet: Vec<u8>,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

impl Parser {
    /// A parser waiting for the archive header at the first byte fed.
    pub fn new() -> Self {
        Parser {
            state: State::Header,
            want: 16,
            buf: Vec::with_capacity(64),
            start: 0,
            fed: 0,
            chunk_size: 0,
            dirs: Vec::new(),
            adler: 0,
            name_len: 0,
            packet: Vec::new(),
        }
    }

    /// The chunk size announced by the header (0 before it was read).
    pub fn chunk_size(&self) -> u64 {
        self.chunk_size
    }

    /// Bytes fed so far.
    pub fn position(&self) -> u64 {
        self.fed
    }

    /// Parses `data`, whose first byte is at `origin` in the caller's coordinates, and
    /// appends the events it completes to `events`.
    pub fn feed(
        &mut self,
        mut data: &[u8],
        origin: u64,
        events: &mut Vec<Event>,
    ) -> Result<(), QpressError> {
        let mut at = origin;
        while !data.is_empty() {
            if self.buf.is_empty() && self.state != State::PacketBody {
                self.start = at;
            }
            let target = if self.state == State::PacketBody {
                &mut self.packet
            } else {
                &mut self.buf
            };
            let take = (self.want - target.len()).min(data.len());
            target.extend_from_slice(&data[..take]);
            data = &data[take..];
            at += take as u64;
            self.fed += take as u64;
            if target.len() == self.want {
                self.advance(events)?;
            }
        }
        Ok(())
    }

    /// Declares the end of the stream: an error unless it ends between records.
    pub fn finish(&self) -> Result<(), QpressError> {
        match self.state {
            State::Record if self.buf.is_empty() => Ok(()),
            State::Header if self.fed == 0 => Err(QpressError::Empty),
            state => Err(QpressError::Truncated {
                offset: self.start,
                what: match state {
                    State::Header => "the archive header",
                    State::NameLen(_) | State::Name(_) => "a file or directory record",
                    State::BlockTag | State::Trailer => "a file trailer",
                    _ => "a data block",
                },
            }),
        }
    }

    fn expect(&mut self, state: State, want: usize) {
        self.state = state;
        self.want = want;
        self.buf.clear();
    }

    fn advance(&mut self, events: &mut Vec<Event>) -> Result<(), QpressError> {
        let offset = self.start;
        match self.state {
            State::Header => {
                if &self.buf[..8] != MAGIC {
                    return Err(QpressError::Magic { offset });
                }
                let size = u64::from_le_bytes(self.buf[8..16].try_into().unwrap());
                if size == 0 || size > MAX_CHUNK_SIZE {
                    return Err(QpressError::ChunkSize { offset, size });
                }
                self.chunk_size = size;
                self.expect(State::Record, 1);
            }
            // The tag stays in `buf`: the name length follows it.
            State::Record => match self.buf[0] {
                b'F' => (self.state, self.want) = (State::NameLen(NameKind::File), 5),
                b'D' => (self.state, self.want) = (State::NameLen(NameKind::Dir), 5),
                b'U' => {
                    if self.dirs.pop().is_none() {
                        return Err(QpressError::UpAtRoot { offset });
                    }
                    events.push(Event::DirUp { offset });
                    self.expect(State::Record, 1);
                }
                other => {
                    return Err(QpressError::Tag {
                        offset,
                        found: tag_text(&[other]),
                        expected: "`F`, `D` or `U`",
                    })
                }
            },
            State::NameLen(kind) => {
                let len = u32::from_le_bytes(self.buf[1..5].try_into().unwrap());
                if len as usize > safe_path::MAX_COMPONENT_BYTES {
                    return Err(QpressError::NameLength { offset, len });
                }
                self.name_len = len as usize;
                // Keep the record bytes so far: `start` stays at the tag.
                self.state = State::Name(kind);
                self.want = 5 + self.name_len + 1;
            }
            State::Name(kind) => {
                let name = &self.buf[5..5 + self.name_len];
                if self.buf[5 + self.name_len] != 0 {
                    return Err(QpressError::NameTerminator { offset });
                }
                let component = safe_path::file_name(name)
                    .map_err(|source| QpressError::Name { offset, source })?
                    .to_owned();
                let mut path: PathBuf = self.dirs.iter().collect();
                path.push(&component);
                let raw = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str());
                if raw.len() > safe_path::MAX_PATH_BYTES {
                    return Err(QpressError::Name {
                        offset,
                        source: PathError::TooLong { len: raw.len() },
                    });
                }
                match kind {
                    NameKind::File => {
                        events.push(Event::File {
                            name: name.to_vec(),
                            path,
                            offset,
                        });
                        self.expect(State::BlockTag, 8);
                    }
                    NameKind::Dir => {
                        self.dirs.push(component);
                        events.push(Event::DirDown { path, offset });
                        self.expect(State::Record, 1);
                    }
                }
            }
            State::BlockTag => {
                if &self.buf[..] == BLOCK_TAG {
                    self.state = State::BlockHead;
                    self.want = 8 + 8 + 4 + 1;
                } else if &self.buf[..] == END_TAG {
                    self.state = State::Trailer;
                    self.want = 16;
                } else {
                    return Err(QpressError::Tag {
                        offset,
                        found: tag_text(&self.buf),
                        expected: "`NEWBNEWB` or `ENDSENDS`",
                    });
                }
            }
            State::BlockHead => {
                self.adler = u32::from_le_bytes(self.buf[16..20].try_into().unwrap());
                self.state = State::PacketHeader;
                self.want = 20 + quicklz::header_len(self.buf[20]);
            }
            State::PacketHeader => {
                let header = &self.buf[20..];
                let comp = if header.len() == 9 {
                    u32::from_le_bytes(header[1..5].try_into().unwrap()) as usize
                } else {
                    header[1] as usize
                };
                let limit = self.chunk_size as usize + PACKET_OVERHEAD;
                if comp > limit {
                    return Err(QpressError::PacketSize {
                        offset,
                        size: comp,
                        chunk_size: self.chunk_size,
                    });
                }
                if comp < header.len() {
                    return Err(QpressError::Packet {
                        offset,
                        source: QuickLzError::Corrupt {
                            at: 1,
                            what: "compressed size smaller than the header",
                        },
                    });
                }
                self.packet = Vec::with_capacity(comp);
                self.packet.extend_from_slice(header);
                self.state = State::PacketBody;
                self.want = comp;
                if self.packet.len() == comp {
                    self.advance(events)?;
                }
            }
            State::PacketBody => {
                events.push(Event::Block(Block {
                    offset,
                    adler32: self.adler,
                    packet: std::mem::take(&mut self.packet),
                    max_size: self.chunk_size as usize,
                }));
                self.expect(State::BlockTag, 8);
            }
            State::Trailer => {
                events.push(Event::FileEnd);
                self.expect(State::Record, 1);
            }
        }
        Ok(())
    }
}

fn tag_text(bytes: &[u8]) -> String {
    safe_path::display(bytes)
}

/// What [`Reader`] yields.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// `D`: a directory entered, by its path from the archive root.
    DirDown(PathBuf),
    /// `U`: the current directory left.
    DirUp,
    /// `F`: a file starts; its bytes follow as [`Data`](Self::Data) items.
    File {
        /// The record's name: one validated path component, as stored.
        name: Vec<u8>,
        /// The open directories joined with `name`.
        path: PathBuf,
    },
    /// Decompressed bytes of the current file (one block).
    Data(Vec<u8>),
    /// The current file's trailer: it has no more data.
    FileEnd,
}

/// A sequential decoder of a whole qpress archive read from `R` (one thread).
pub struct Reader<R> {
    inner: R,
    parser: Parser,
    decoder: quicklz::Decoder,
    events: std::collections::VecDeque<Event>,
    scratch: Vec<Event>,
    buf: Vec<u8>,
    done: bool,
}

impl<R: Read> Reader<R> {
    /// Decodes the archive read from `inner`, whose first byte is the archive header.
    pub fn new(inner: R) -> Self {
        Reader {
            inner,
            parser: Parser::new(),
            decoder: quicklz::Decoder::new(),
            events: Default::default(),
            scratch: Vec::new(),
            buf: vec![0; 256 * 1024],
            done: false,
        }
    }

    /// The next item, `None` at a clean end of the archive.
    pub fn next_item(&mut self) -> Result<Option<Item>, QpressError> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(Some(match event {
                    Event::DirDown { path, .. } => Item::DirDown(path),
                    Event::DirUp { .. } => Item::DirUp,
                    Event::File { name, path, .. } => Item::File { name, path },
                    Event::Block(block) => Item::Data(block.decode(&mut self.decoder)?),
                    Event::FileEnd => Item::FileEnd,
                }));
            }
            if self.done {
                return Ok(None);
            }
            let n = loop {
                match self.inner.read(&mut self.buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    other => break other?,
                }
            };
            if n == 0 {
                self.done = true;
                self.parser.finish()?;
                continue;
            }
            let origin = self.parser.position();
            self.parser
                .feed(&self.buf[..n], origin, &mut self.scratch)?;
            self.events.extend(self.scratch.drain(..));
        }
    }

    /// Reads the whole archive into `(path, content)` pairs (directories are not listed).
    pub fn read_all(mut self) -> Result<Vec<(PathBuf, Vec<u8>)>, QpressError> {
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        while let Some(item) = self.next_item()? {
            match item {
                Item::File { path, .. } => files.push((path, Vec::new())),
                Item::Data(data) => files
                    .last_mut()
                    .expect("data only inside a file")
                    .1
                    .extend(data),
                _ => {}
            }
        }
        Ok(files)
    }
}

/// Writes the qpress container around packets compressed by someone else (tests, benches).
pub struct Writer<W> {
    inner: W,
}

impl<W: Write> Writer<W> {
    /// Writes the archive header.
    pub fn new(mut inner: W, chunk_size: u64) -> io::Result<Self> {
        inner.write_all(MAGIC)?;
        inner.write_all(&chunk_size.to_le_bytes())?;
        Ok(Writer { inner })
    }

    fn name(&mut self, tag: u8, name: &[u8]) -> io::Result<()> {
        self.inner.write_all(&[tag])?;
        self.inner.write_all(&(name.len() as u32).to_le_bytes())?;
        self.inner.write_all(name)?;
        self.inner.write_all(&[0])
    }

    /// Starts a file named `name` (an `F` record); its blocks and [`end_file`](Self::end_file)
    /// follow.
    pub fn file(&mut self, name: &[u8]) -> io::Result<()> {
        self.name(b'F', name)
    }

    /// Enters directory `name` (a `D` record).
    pub fn dir(&mut self, name: &[u8]) -> io::Result<()> {
        self.name(b'D', name)
    }

    /// Leaves the current directory (a `U` record).
    pub fn up(&mut self) -> io::Result<()> {
        self.inner.write_all(b"U")
    }

    /// A data block: `recovery` is written as given, the Adler-32 is computed.
    pub fn block(&mut self, recovery: u64, packet: &[u8]) -> io::Result<()> {
        self.inner.write_all(BLOCK_TAG)?;
        self.inner.write_all(&recovery.to_le_bytes())?;
        self.inner
            .write_all(&adler2::adler32_slice(packet).to_le_bytes())?;
        self.inner.write_all(packet)
    }

    /// Ends the current file: `ENDSENDS` and a recovery field of 0.
    pub fn end_file(&mut self) -> io::Result<()> {
        self.inner.write_all(END_TAG)?;
        self.inner.write_all(&0u64.to_le_bytes())
    }

    /// One whole file: `data` cut into `chunk`-byte pieces, each compressed by `compress`.
    pub fn whole_file(
        &mut self,
        name: &[u8],
        data: &[u8],
        chunk: usize,
        mut compress: impl FnMut(&[u8]) -> Vec<u8>,
    ) -> io::Result<()> {
        self.file(name)?;
        for (i, piece) in data.chunks(chunk).enumerate() {
            self.block((i * chunk) as u64, &compress(piece))?;
        }
        self.end_file()
    }

    /// The underlying writer, holding everything written so far.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), 65536).unwrap();
        w.file(b"tiny.bin").unwrap();
        w.block(
            0,
            &[
                0x45, 0x0c, 0x05, 0, 0, 0, 0x80, b'h', b'e', b'l', b'l', b'o',
            ],
        )
        .unwrap();
        w.end_file().unwrap();
        w.into_inner()
    }

    #[test]
    fn parses_byte_by_byte_and_whole() {
        let data = tiny();
        assert_eq!(data.len(), 78);
        let mut whole = Vec::new();
        let mut p = Parser::new();
        p.feed(&data, 0, &mut whole).unwrap();
        p.finish().unwrap();
        let mut bytewise = Vec::new();
        let mut p = Parser::new();
        for (i, b) in data.iter().enumerate() {
            p.feed(std::slice::from_ref(b), i as u64, &mut bytewise)
                .unwrap();
        }
        p.finish().unwrap();
        assert_eq!(format!("{whole:?}"), format!("{bytewise:?}"));
        assert!(matches!(&whole[1], Event::Block(b) if b.offset == 30 && b.adler32 == 0x0D2502EB));
    }

    /// Every cut is an error, except right after the header (an archive of no records).
    #[test]
    fn truncation_anywhere_is_reported() {
        let data = tiny();
        for cut in (0..data.len()).filter(|&c| c != 16) {
            let mut p = Parser::new();
            let mut ev = Vec::new();
            p.feed(&data[..cut], 0, &mut ev).unwrap();
            assert!(p.finish().is_err(), "cut at {cut}");
        }
    }
}
