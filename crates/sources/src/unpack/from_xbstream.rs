//! An xbstream archive unpacked: chunks reassembled into members; `.qp` members decoded
//! through a qpress parser; the sparse map of `S` chunks turned into holes.

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use super::pipeline::{combine, Op, Pipeline, Stats};
use super::xbstream::{self, ChunkType, Tracked};
use super::{qpress, Ctx, UnpackError};
use crate::safe_path;

/// Size of the pieces in which payloads are read and passed on.
const PIECE: usize = 4 << 20;

enum Sink {
    Plain,
    Qp(Box<QpMember>),
}

struct QpMember {
    parser: qpress::Parser,
    /// The name the `F` record should have: the member's basename without `.qp`.
    expected_name: Vec<u8>,
    files: u32,
}

struct Member {
    sink: Sink,
    display: Arc<str>,
}

pub(super) fn unpack_xbstream<R: Read>(input: R, ctx: &mut Ctx) -> Result<Stats, UnpackError> {
    let mut pipeline = Pipeline::start(ctx);
    let mut reader = xbstream::Reader::new(input);
    let parsed = xbstream_chunks(&mut reader, &mut pipeline, ctx);
    let written = pipeline.finish();
    combine(parsed, written)
}

fn xbstream_chunks<R: Read>(
    reader: &mut xbstream::Reader<R>,
    pipeline: &mut Pipeline,
    ctx: &mut Ctx,
) -> Result<(), UnpackError> {
    let label = ctx.label.clone();
    let xb_err = |source| UnpackError::Xbstream {
        label: label.clone(),
        source,
    };
    let mut tracker = xbstream::Tracker::new();
    let mut members: Vec<Member> = Vec::new();
    let mut events = Vec::new();
    while let Some(header) = reader.next_header().map_err(xb_err)? {
        let (index, new) = match tracker.chunk(&header).map_err(xb_err)? {
            Tracked::Ignored => continue,
            Tracked::Member { index, new } => (index, new),
        };
        if new {
            let rel = tracker.path(index).to_path_buf();
            let display: Arc<str> = safe_path::display_path(&rel).into();
            let raw = rel.as_os_str().as_bytes();
            let (path, sink) = match raw.strip_suffix(b".qp") {
                Some(stem) if !stem.is_empty() && !stem.ends_with(b"/") => {
                    let stem = Path::new(std::ffi::OsStr::from_bytes(stem)).to_path_buf();
                    let expected_name = stem
                        .file_name()
                        .map(|n| n.as_bytes().to_vec())
                        .unwrap_or_default();
                    let qp = QpMember {
                        parser: qpress::Parser::new(),
                        expected_name,
                        files: 0,
                    };
                    (stem, Sink::Qp(Box::new(qp)))
                }
                _ => (rel.clone(), Sink::Plain),
            };
            pipeline.send(Op::Create {
                file: index,
                path,
                member: Arc::clone(&display),
            })?;
            members.push(Member { sink, display });
        }
        let member = &mut members[index];
        match header.kind {
            ChunkType::End => {
                if let Sink::Qp(qp) = &member.sink {
                    qp.parser.finish().map_err(|source| UnpackError::Qpress {
                        label: ctx.label.clone(),
                        member: member.display.to_string(),
                        source,
                    })?;
                    if qp.files == 0 {
                        return Err(layout(ctx, member, "no file record in the qpress stream"));
                    }
                }
                pipeline.send(Op::Close { file: index })?;
            }
            ChunkType::Payload | ChunkType::Sparse => {
                let mut sparse = SparseCursor::new(&header.sparse);
                let mut at = header.payload_offset;
                loop {
                    let piece = match reader.read_payload(PIECE) {
                        Ok(Some(piece)) => piece,
                        Ok(None) => break,
                        Err(source) => return Err(xb_err(source)),
                    };
                    let len = piece.len() as u64;
                    let delivered = if header.kind == ChunkType::Sparse {
                        sparse.split(piece, at, |part| {
                            deliver(part, index, member, pipeline, &mut events, ctx)
                        })
                    } else {
                        deliver(
                            Part::Data(piece, at),
                            index,
                            member,
                            pipeline,
                            &mut events,
                            ctx,
                        )
                    };
                    if let Err(e) = delivered {
                        // Damaged data explains the error better: check the chunk's CRC.
                        if !reader.chunk_verified() {
                            reader.skip_payload().map_err(xb_err)?;
                        }
                        return Err(e);
                    }
                    at += len;
                }
                // Holes after the last payload byte.
                for part in sparse.rest(at) {
                    deliver(part, index, member, pipeline, &mut events, ctx)?;
                }
            }
            ChunkType::Unknown(_) => unreachable!("ignored by the tracker"),
        }
    }
    tracker.finish().map_err(xb_err)
}

fn layout(ctx: &Ctx, member: &Member, detail: &str) -> UnpackError {
    UnpackError::QpressLayout {
        label: ctx.label.clone(),
        member: member.display.to_string(),
        detail: detail.to_string(),
    }
}

/// A part of a member's bytes: data (with its archive offset) or a hole.
enum Part {
    Data(Vec<u8>, u64),
    Hole(u64, u64),
}

/// Spreads the payload of an `S` chunk over its sparse map.
struct SparseCursor<'a> {
    entries: std::slice::Iter<'a, xbstream::SparseEntry>,
    left: u64,
}

impl<'a> SparseCursor<'a> {
    fn new(entries: &'a [xbstream::SparseEntry]) -> Self {
        SparseCursor {
            entries: entries.iter(),
            left: 0,
        }
    }

    fn split(
        &mut self,
        piece: Vec<u8>,
        at: u64,
        mut emit: impl FnMut(Part) -> Result<(), UnpackError>,
    ) -> Result<(), UnpackError> {
        let mut done = 0usize;
        while done < piece.len() {
            if self.left == 0 {
                // The map's lengths add up to the payload length (checked by the reader).
                let entry = self.entries.next().expect("sparse map covers the payload");
                if entry.skip > 0 {
                    emit(Part::Hole(u64::from(entry.skip), at + done as u64))?;
                }
                self.left = u64::from(entry.len);
                continue;
            }
            let k = (self.left as usize).min(piece.len() - done);
            emit(Part::Data(piece[done..done + k].to_vec(), at + done as u64))?;
            done += k;
            self.left -= k as u64;
        }
        Ok(())
    }

    fn rest(self, at: u64) -> impl Iterator<Item = Part> + 'a {
        self.entries
            .filter(|e| e.skip > 0)
            .map(move |e| Part::Hole(u64::from(e.skip), at))
    }
}

fn deliver(
    part: Part,
    index: usize,
    member: &mut Member,
    pipeline: &mut Pipeline,
    events: &mut Vec<qpress::Event>,
    ctx: &mut Ctx,
) -> Result<(), UnpackError> {
    match &mut member.sink {
        Sink::Plain => match part {
            Part::Data(data, _) => pipeline.send(Op::Write { file: index, data }),
            Part::Hole(len, _) => pipeline.send(Op::Hole { file: index, len }),
        },
        Sink::Qp(qp) => {
            let qpress_err = |source| UnpackError::Qpress {
                label: ctx.label.clone(),
                member: member.display.to_string(),
                source,
            };
            match part {
                Part::Data(data, at) => qp.parser.feed(&data, at, events).map_err(qpress_err)?,
                Part::Hole(len, at) => {
                    // A hole inside a compressed member reads as zeros.
                    let zeros = vec![0u8; len.min(1 << 16) as usize];
                    let mut left = len;
                    while left > 0 {
                        let k = left.min(zeros.len() as u64) as usize;
                        qp.parser
                            .feed(&zeros[..k], at, events)
                            .map_err(qpress_err)?;
                        left -= k as u64;
                    }
                }
            }
            for event in events.drain(..) {
                match event {
                    qpress::Event::File { name, .. } => {
                        qp.files += 1;
                        if qp.files > 1 {
                            return Err(UnpackError::QpressLayout {
                                label: ctx.label.clone(),
                                member: member.display.to_string(),
                                detail: "more than one file in a .qp member".into(),
                            });
                        }
                        if name != qp.expected_name {
                            ctx.warnings.push(format!(
                                "member {}: the qpress file inside is named {:?}; unpacked under the member's name",
                                member.display,
                                safe_path::display(&name)
                            ));
                        }
                    }
                    qpress::Event::DirDown { .. } | qpress::Event::DirUp { .. } => {
                        return Err(UnpackError::QpressLayout {
                            label: ctx.label.clone(),
                            member: member.display.to_string(),
                            detail: "directory records in a .qp member".into(),
                        });
                    }
                    qpress::Event::Block(block) => pipeline.send(Op::Block {
                        file: index,
                        block,
                        member: Arc::clone(&member.display),
                    })?,
                    qpress::Event::FileEnd => {}
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_cursor_spreads_payload() {
        let map = [
            xbstream::SparseEntry { skip: 2, len: 3 },
            xbstream::SparseEntry { skip: 0, len: 1 },
            xbstream::SparseEntry { skip: 5, len: 0 },
        ];
        let mut c = SparseCursor::new(&map);
        let mut parts = Vec::new();
        for (piece, at) in [(vec![1, 2], 100), (vec![3, 4], 102)] {
            c.split(piece, at, |p| {
                parts.push(match p {
                    Part::Data(d, at) => format!("D{d:?}@{at}"),
                    Part::Hole(n, _) => format!("H{n}"),
                });
                Ok(())
            })
            .unwrap();
        }
        parts.extend(c.rest(104).map(|p| match p {
            Part::Hole(n, _) => format!("H{n}"),
            Part::Data(..) => unreachable!(),
        }));
        assert_eq!(parts, ["H2", "D[1, 2]@100", "D[3]@102", "D[4]@103", "H5"]);
    }
}
