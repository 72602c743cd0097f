//! What a tar read reports: why members were ignored, its counts, and its errors, with how
//! each maps onto the run's [`ReadReport`] and [`FailureKind`].

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use bsonflow_model::{
    ByteSize, FailureKind, Ignored, MetadataError, Namespace, ReadReport, SinkError,
};

use super::METADATA_LIMIT;
use crate::compression::Compression;
use crate::input::StreamPosition;

/// Why a member was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// A file outside the mongodump and cloud layouts (no database folder, not `.bson` or
    /// `.metadata.json`).
    NotInLayout,
    /// An absolute name: never used.
    AbsolutePath,
    /// A name with a `..` component: never used.
    ParentComponent,
    /// A name that is not UTF-8.
    NotUtf8,
    /// A symbolic link: links are not followed in a stream.
    SymbolicLink {
        /// The link's target (lossy UTF-8).
        target: String,
    },
    /// A hard link: the tar holds no data for it (links are not followed in a stream).
    HardLink {
        /// The member it links to (lossy UTF-8).
        target: String,
    },
    /// A character or block device or a FIFO.
    Special(&'static str),
    /// Another member type (GNU volume header, multi-volume continuation …).
    OtherType(char),
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IgnoreReason::NotInLayout => {
                f.write_str("not a .bson or .metadata.json file of a database folder")
            }
            IgnoreReason::AbsolutePath => f.write_str("absolute path (never used)"),
            IgnoreReason::ParentComponent => f.write_str("path with a `..` component (never used)"),
            IgnoreReason::NotUtf8 => f.write_str("name is not UTF-8"),
            IgnoreReason::SymbolicLink { target } => write!(f, "symbolic link to {target}"),
            IgnoreReason::HardLink { target } => {
                write!(f, "hard link to {target} (links are not followed)")
            }
            IgnoreReason::Special(what) => f.write_str(what),
            IgnoreReason::OtherType(t) => write!(f, "tar member of type {t:?}"),
        }
    }
}

/// A member that was not read, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IgnoredMember {
    /// The member's name as stored in the tar (lossy UTF-8).
    pub name: String,
    /// Why it was not read.
    pub reason: IgnoreReason,
}

/// What a tar read counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TarReport {
    /// The input's compression, told by its first bytes.
    pub compression: Compression,
    /// Tar members, directories included (extension headers are not members).
    pub members: u64,
    /// Namespaces offered to the sink.
    pub collections: usize,
    /// Namespaces the sink accepted and that were finished.
    pub exported: usize,
    /// Namespaces the sink declined (it recorded why).
    pub skipped: usize,
    /// Documents written.
    pub documents: u64,
    /// Members whose rest was skipped after the sink accepted a framing error.
    pub corrupt_members: u64,
    /// The first [`IGNORED_LISTED`] ignored members.
    pub ignored: Vec<IgnoredMember>,
    /// All ignored members.
    pub ignored_count: u64,
    /// Cloud parts that waited in spill files, and their bytes.
    pub spilled_parts: u64,
    pub spilled_bytes: u64,
    /// Size of the decompressed stream (tar plus anything after its end blocks).
    pub tar_bytes: u64,
    /// Raw bytes read from the input.
    pub input_bytes: u64,
}

/// A tar that cannot be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// The first bytes cannot be read to tell the compression, or the decoder cannot be set
    /// up; the message names the archive and the I/O error.
    #[error("{archive}: {source}")]
    Open {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// What the input or the decoder reported.
        #[source]
        source: io::Error,
    },
    /// The decompressed stream does not start with a valid tar header
    /// ([`is_tar_header`](crate::detect::is_tar_header)); the message names the archive and
    /// the compression.
    #[error("{archive}: not a tar archive (its {} content does not start with a tar header)", compression.name())]
    NotTar {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The input's compression, told by its first bytes.
        compression: Compression,
    },
    /// A tar header cannot be read: its checksum or a field is wrong, or the input or its
    /// decoder failed while the parser went to it (skipping the member before it). The
    /// message names the archive, the member before it, and how far the stream was read.
    #[error("{archive}: reading the tar header {}at {pos}: {source}", after.as_ref().map(|m| format!("after member {m} ")).unwrap_or_default())]
    Header {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The member read before it; `None` for the first header.
        after: Option<Box<str>>,
        /// Where the header starts, when the parser got there; else how far it had read the
        /// (decompressed) stream when it failed.
        pos: StreamPosition,
        /// What the tar parser, the input or the decoder reported.
        #[source]
        source: io::Error,
    },
    /// A member cannot be read to its end: the input ends inside it, its bytes or its own
    /// gzip/zstd stream are damaged, a metadata member is not UTF-8, or a read fails. The
    /// message names the archive, the member, the offset in its content and the position.
    #[error("{archive}: member {member}: {source} (byte {offset} of its content; {pos})")]
    Member {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The member's name (lossy UTF-8).
        member: String,
        /// The collection the member's documents went to, when it is one (boxed: errors
        /// travel by value and stay small).
        ns: Option<Box<Namespace>>,
        /// Where reading failed in the member: the offset in its document stream
        /// (decompressed, for a `.gz`/`.zst` member), the bytes copied so far when it was
        /// being spilled, 0 for a metadata member.
        offset: u64,
        /// Where reading failed in the tar stream: the member's data start plus the bytes
        /// of it consumed.
        pos: StreamPosition,
        /// What the input, the decoder or the length check reported.
        #[source]
        source: io::Error,
    },
    /// The stream ends between two members, without the end-of-archive block (a cut inside
    /// a member is [`Member`](Self::Member)); the message names the archive and where the
    /// stream ends.
    #[error(
        "{archive}: the input ends at {pos} without the tar end-of-archive block: it is truncated"
    )]
    Truncated {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The end of the decompressed stream.
        pos: StreamPosition,
    },
    /// Bytes other than zero padding follow the tar's end-of-archive marker: members after
    /// an early marker (two tars concatenated, a damaged block) would be lost. The message
    /// names the archive and the position of the first such byte.
    #[error("{archive}: data after the tar's end-of-archive marker, at {pos}: whatever follows would be lost (two tars concatenated, or a damaged block?)")]
    AfterEnd {
        /// The archive's name.
        archive: Arc<str>,
        /// Where the first byte that is not zero padding is.
        pos: StreamPosition,
    },
    /// Reading past the end-of-archive blocks failed, typically a gzip trailer whose CRC or
    /// length does not match; the message names the archive and the position.
    #[error("{archive}: after the end of the tar, at {pos}: {source}")]
    Trailer {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// How far the decompressed stream had been read when it failed.
        pos: StreamPosition,
        /// What the input or the decoder reported.
        #[source]
        source: io::Error,
    },
    /// A `.metadata.json` member is not mongodump metadata; the message names the archive,
    /// the member and the fault.
    #[error("{archive}: member {member}: {source}")]
    Metadata {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The member's name (lossy UTF-8).
        member: String,
        /// Why its JSON was refused.
        #[source]
        source: MetadataError,
    },
    /// A `.metadata.json` member decompresses to more than [`METADATA_LIMIT`] bytes; the
    /// message names the archive and the member.
    #[error("{archive}: member {member}: a metadata file larger than {METADATA_LIMIT} bytes")]
    MetadataTooLarge {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The member's name (lossy UTF-8).
        member: String,
    },
    /// Two members claim the same place in one collection: two metadata members, two
    /// plain `.bson`, a plain `.bson` and a cloud part, or two parts with the same `(N, M)`.
    /// The message names the archive, the namespace and both members.
    #[error("{archive}: {ns} is given twice: {first} and {second}")]
    Duplicate {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The collection given twice.
        ns: Namespace,
        /// The member met first.
        first: String,
        /// The member that claims the same place.
        second: String,
    },
    /// A member uses a tar feature this reader refuses (PAX-format sparse files, from GNU
    /// tar `--sparse --format=posix`); the message names the archive, the member and the
    /// feature.
    #[error("{archive}: member {member}: {what} are not supported")]
    Unsupported {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The member's name (lossy UTF-8).
        member: String,
        /// The feature, in the plural (`PAX-format sparse files`).
        what: String,
    },
    /// The sink or a writer returned an error (it has recorded its own failure); the
    /// message names the archive, the namespace, the member when there is one, and the
    /// sink's message.
    #[error("{archive}: {ns}{}: {source}", member.as_ref().map(|m| format!(" (member {m})")).unwrap_or_default())]
    Sink {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
        /// The collection being opened, written or finished.
        ns: Namespace,
        /// The member being written; `None` at the end of the tar, where waiting parts are
        /// written and writers finished.
        member: Option<String>,
        /// What the sink or the writer returned.
        #[source]
        source: SinkError,
    },
    /// A spill file cannot be created, written or read back; the message names its path.
    #[error("spill file {}: {source}", path.display())]
    Spill {
        /// The spill file; the spill folder
        /// ([`ReadOptions::spill_dir`](bsonflow_model::ReadOptions::spill_dir), or the
        /// system's temporary folder) when creating a file failed.
        path: PathBuf,
        /// What the filesystem reported.
        #[source]
        source: io::Error,
    },
    /// The tar holds no `.bson` or `.metadata.json` member in mongodump or cloud-download
    /// layout; the message names the archive.
    #[error("{archive}: no .bson or .metadata.json members in mongodump or cloud-download layout")]
    Empty {
        /// The input's label ([`Input::label`](crate::Input::label)).
        archive: Arc<str>,
    },
}

impl TarReport {
    /// Nothing read yet.
    pub(super) fn new(compression: Compression) -> Self {
        TarReport {
            compression,
            members: 0,
            collections: 0,
            exported: 0,
            skipped: 0,
            documents: 0,
            corrupt_members: 0,
            ignored: Vec::new(),
            ignored_count: 0,
            spilled_parts: 0,
            spilled_bytes: 0,
            tar_bytes: 0,
            input_bytes: 0,
        }
    }

    pub(super) fn into_read_report(self) -> ReadReport {
        let mut notes = Vec::new();
        if self.spilled_parts > 0 {
            notes.push(format!(
                "{} cloud parts ({}) arrived out of order and waited in spill files",
                self.spilled_parts,
                ByteSize(self.spilled_bytes)
            ));
        }
        if self.corrupt_members > 0 {
            notes.push(format!(
                "{} members were cut short at a corrupt document that the sink chose to skip",
                self.corrupt_members
            ));
        }
        let packed = match self.compression {
            Compression::None => String::new(),
            c => format!("{} → ", c.name()),
        };
        ReadReport {
            format: format!("{packed}tar, {} members", self.members),
            notes,
            // Counted in total only: a cloud collection's parts interleave with others'.
            namespaces: Vec::new(),
            documents: self.documents,
            input_bytes: self.input_bytes,
            ignored_unlisted: self.ignored_count - self.ignored.len() as u64,
            ignored: self
                .ignored
                .into_iter()
                .map(|m| Ignored {
                    what: m.name,
                    why: m.reason.to_string(),
                })
                .collect(),
            left_out: Vec::new(),
            read_to_end: true,
        }
    }
}

impl crate::input::ReadError for TarError {
    fn namespace(&self) -> Option<&Namespace> {
        match self {
            TarError::Duplicate { ns, .. } | TarError::Sink { ns, .. } => Some(ns),
            TarError::Member { ns, .. } => ns.as_deref(),
            _ => None,
        }
    }

    fn kind(&self) -> FailureKind {
        match self {
            TarError::Open { .. } | TarError::Spill { .. } => FailureKind::Input,
            TarError::Header { source, .. }
            | TarError::Member { source, .. }
            | TarError::Trailer { source, .. } => crate::compression::io_failure_kind(source),
            TarError::NotTar { .. }
            | TarError::Truncated { .. }
            | TarError::Metadata { .. }
            | TarError::MetadataTooLarge { .. }
            | TarError::Empty { .. }
            | TarError::AfterEnd { .. } => FailureKind::Corrupt,
            TarError::Duplicate { .. } => FailureKind::Namespace,
            TarError::Unsupported { .. } => FailureKind::Unsupported,
            // The sink recorded its own failure first; this one only stands in for it.
            TarError::Sink { .. } => FailureKind::Incomplete,
        }
    }
}
