//! One tar member: what its name may be used for, reading exactly its bytes, and pushing its
//! documents (plain, or a `.bson.gz`/`.zst` told by its first bytes) into a writer.

use std::io::{self, Read};

use bsonflow_model::{CollectionWriter, SinkError};

use super::IgnoreReason;
use crate::bson_stream::{write_stream, StreamError};
use crate::compression;

/// The components of a member name, for [`classify`](crate::layout::classify) only: `.` and
/// empty components are dropped; an absolute name or one with a `..` component is refused,
/// so such a member is never read as data of any namespace. Output paths are never built
/// from member names (the export writer builds them from namespaces).
pub(crate) fn components(name: &[u8]) -> Result<Vec<&str>, IgnoreReason> {
    let name = std::str::from_utf8(name).map_err(|_| IgnoreReason::NotUtf8)?;
    if name.starts_with('/') || name.starts_with('\\') {
        return Err(IgnoreReason::AbsolutePath);
    }
    let parts: Vec<&str> = name
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(IgnoreReason::ParentComponent);
    }
    Ok(parts)
}

/// Reads exactly `size` bytes of a member: an end of the underlying stream before that is an
/// error (the tar was cut inside this member), not a short member.
pub(crate) struct Exact<R> {
    inner: R,
    size: u64,
    read: u64,
}

impl<R: Read> Exact<R> {
    pub fn new(inner: R, size: u64) -> Self {
        Exact {
            inner,
            size,
            read: 0,
        }
    }

    /// Bytes delivered so far.
    pub fn consumed(&self) -> u64 {
        self.read
    }
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.size - self.read;
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the input ends inside this member: {} of its {} bytes are present",
                    self.read, self.size
                ),
            ));
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// What went wrong pushing a member's documents.
pub(crate) enum PumpError {
    /// Reading (or decompressing) failed at `offset` of the member's document stream.
    Read { offset: u64, source: io::Error },
    /// The writer refused a document or a corrupt span.
    Sink(SinkError),
}

/// Counts of one member.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Pumped {
    pub documents: u64,
    /// The sink accepted a framing error and the rest of the member was skipped.
    pub stopped_at_corruption: bool,
}

/// Pushes every document of `raw` (a member, plain or compressed) into `writer`, with the
/// policy of [`bson_stream::write_stream`](crate::bson_stream::write_stream): a framing
/// error goes to [`CollectionWriter::corrupt`]; if the sink accepts it, the rest of the
/// member is skipped (no later boundary can be trusted). `tick` runs after each document.
pub(crate) fn pump<R: Read, W: CollectionWriter>(
    raw: R,
    writer: &mut W,
    tick: &mut dyn FnMut(),
) -> Result<Pumped, PumpError> {
    // A member's content: decompressed when its first bytes say gzip or zstd.
    let (_, reader) = compression::sniff_decoder(raw, 64 << 10)
        .map_err(|source| PumpError::Read { offset: 0, source })?;
    match write_stream(reader, writer, tick) {
        Ok(stats) => Ok(Pumped {
            documents: stats.documents,
            stopped_at_corruption: stats.stopped_at_corruption,
        }),
        Err(StreamError::Io { offset, source }) => Err(PumpError::Read { offset, source }),
        Err(StreamError::Sink(e)) => Err(PumpError::Sink(e)),
        Err(StreamError::Frame(_)) => unreachable!("write_stream hands framing errors to the sink"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_are_never_used() {
        assert_eq!(
            components(b"./dump//shop/./orders.bson").unwrap(),
            ["dump", "shop", "orders.bson"]
        );
        assert_eq!(components(b"/etc/x.bson"), Err(IgnoreReason::AbsolutePath));
        assert_eq!(
            components(b"a/../../shop/x.bson"),
            Err(IgnoreReason::ParentComponent)
        );
        assert_eq!(
            components(b"../x/y.bson"),
            Err(IgnoreReason::ParentComponent)
        );
        assert_eq!(components(b"d/\xff.bson"), Err(IgnoreReason::NotUtf8));
        // Dots inside a name are ordinary.
        assert_eq!(components(b"d/..x.bson").unwrap(), ["d", "..x.bson"]);
    }

    #[test]
    fn exact_reader_reports_a_cut_member() {
        let mut ok = Exact::new(&b"abcdef"[..], 4);
        let mut out = Vec::new();
        ok.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcd");
        let mut cut = Exact::new(&b"ab"[..], 4);
        let err = cut.read_to_end(&mut Vec::new()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(cut.consumed(), 2);
    }
}
