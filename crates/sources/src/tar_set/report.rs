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
    SymbolicLink {
        target: String,
    },
    /// A hard link: the tar holds no data for it (links are not followed in a stream).
    HardLink {
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
    pub name: String,
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
    #[error("{archive}: {source}")]
    Open {
        archive: Arc<str>,
        #[source]
        source: io::Error,
    },
    #[error("{archive}: not a tar archive (its {} content does not start with a tar header)", compression.name())]
    NotTar {
        archive: Arc<str>,
        compression: Compression,
    },
    #[error("{archive}: reading the tar header at {pos}: {source}")]
    Header {
        archive: Arc<str>,
        pos: StreamPosition,
        #[source]
        source: io::Error,
    },
    #[error("{archive}: member {member}: {source} (byte {offset} of its content; {pos})")]
    Member {
        archive: Arc<str>,
        member: String,
        /// The collection the member's documents went to, when it is one (boxed: errors
        /// travel by value and stay small).
        ns: Option<Box<Namespace>>,
        offset: u64,
        pos: StreamPosition,
        #[source]
        source: io::Error,
    },
    #[error(
        "{archive}: the input ends at {pos} without the tar end-of-archive block: it is truncated"
    )]
    Truncated {
        archive: Arc<str>,
        pos: StreamPosition,
    },
    #[error("{archive}: after the end of the tar, at {pos}: {source}")]
    Trailer {
        archive: Arc<str>,
        pos: StreamPosition,
        #[source]
        source: io::Error,
    },
    #[error("{archive}: member {member}: {source}")]
    Metadata {
        archive: Arc<str>,
        member: String,
        #[source]
        source: MetadataError,
    },
    #[error("{archive}: member {member}: a metadata file larger than {METADATA_LIMIT} bytes")]
    MetadataTooLarge { archive: Arc<str>, member: String },
    #[error("{archive}: {ns} is given twice: {first} and {second}")]
    Duplicate {
        archive: Arc<str>,
        ns: Namespace,
        first: String,
        second: String,
    },
    #[error("{archive}: member {member}: {what} are not supported")]
    Unsupported {
        archive: Arc<str>,
        member: String,
        what: String,
    },
    #[error("{archive}: {ns}{}: {source}", member.as_ref().map(|m| format!(" (member {m})")).unwrap_or_default())]
    Sink {
        archive: Arc<str>,
        ns: Namespace,
        member: Option<String>,
        #[source]
        source: SinkError,
    },
    #[error("spill file {}: {source}", path.display())]
    Spill {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{archive}: no .bson or .metadata.json members in mongodump or cloud-download layout")]
    Empty { archive: Arc<str> },
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

impl TarError {
    /// The namespace the error concerns, if any.
    pub(super) fn namespace(&self) -> Option<&Namespace> {
        match self {
            TarError::Duplicate { ns, .. } | TarError::Sink { ns, .. } => Some(ns),
            TarError::Member { ns, .. } => ns.as_deref(),
            _ => None,
        }
    }

    pub(super) fn kind(&self) -> FailureKind {
        match self {
            TarError::Open { .. } | TarError::Spill { .. } => FailureKind::Input,
            TarError::Header { source, .. }
            | TarError::Member { source, .. }
            | TarError::Trailer { source, .. } => crate::compression::io_failure_kind(source),
            TarError::NotTar { .. }
            | TarError::Truncated { .. }
            | TarError::Metadata { .. }
            | TarError::MetadataTooLarge { .. }
            | TarError::Empty { .. } => FailureKind::Corrupt,
            TarError::Duplicate { .. } => FailureKind::Namespace,
            TarError::Unsupported { .. } => FailureKind::Unsupported,
            // The sink recorded its own failure first; this one only stands in for it.
            TarError::Sink { .. } => FailureKind::Incomplete,
        }
    }
}
