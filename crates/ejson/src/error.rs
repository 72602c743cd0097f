//! Why a document was rejected, and where.

use std::fmt;

/// A document that cannot be written: the byte `offset` within the document (0 = its first
/// length byte) where the problem was found, and what the problem is.
///
/// Offsets point at the thing that is wrong: the length field whose value is bad, the type
/// byte that is unknown, the first byte of invalid UTF-8, the first byte of a key that has no
/// terminating 0x00, the place where a 0x00 terminator was expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid BSON at byte {offset}: {kind}")]
pub struct Error {
    /// Byte offset within the document given to [`write_document`](crate::write_document),
    /// counted from the first byte of its length prefix, whatever the nesting depth.
    pub offset: usize,
    /// What is wrong there.
    pub kind: ErrorKind,
}

impl Error {
    pub(crate) fn new(offset: usize, kind: ErrorKind) -> Self {
        Error { offset, kind }
    }
}

/// What is wrong with a document. The texts are meant for the person who owns the data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Fewer than 5 bytes were given (a length and a terminator at least).
    #[error("{len} bytes cannot hold a BSON document (it needs at least 5)")]
    TooShort {
        /// The number of bytes given (0 to 4).
        len: usize,
    },
    /// The top-level length prefix disagrees with the number of bytes given.
    #[error("the document's length prefix says {declared} bytes but {actual} were given")]
    LengthMismatch {
        /// The int32 length prefix as read (it may be negative).
        declared: i32,
        /// The number of bytes given.
        actual: usize,
    },
    /// A length field holds a value below the minimum for its part (negative, 0 for a string
    /// that needs at least its 0x00, less than 5 for a document…).
    #[error("invalid {part} length {len}")]
    InvalidLength {
        /// The part whose length field it is; the error's offset is that field's first byte.
        part: Part,
        /// The value of the length field as read.
        len: i32,
    },
    /// A length field is valid on its own but would run past the end of the enclosing document.
    #[error("{part} length {len} runs past the end of the enclosing document")]
    Overrun {
        /// The part whose length field it is; the error's offset is that field's first byte.
        part: Part,
        /// The value of the length field as read.
        len: i32,
    },
    /// A fixed-size value (or a length field) does not fit before the enclosing document's end.
    #[error("{part} is truncated: it needs {need} bytes, the enclosing document has {left} left")]
    Truncated {
        /// The value (or the part whose length field it is) that does not fit.
        part: Part,
        /// Bytes it needs: its fixed size (8 for a double, 12 for an ObjectId …) or 4 for a
        /// length field.
        need: usize,
        /// Bytes from its start to the enclosing container's terminating 0x00 (or to the end
        /// of the code with scope or old binary it sits in); less than `need`.
        left: usize,
    },
    /// The byte at an (embedded) document's declared end is not 0x00.
    #[error("{part} is not terminated by 0x00 at its declared length")]
    MissingTerminator {
        /// The container ([`Part::Document`], [`Part::EmbeddedDocument`], [`Part::Array`] or
        /// [`Part::Scope`]) whose last byte is not 0x00.
        part: Part,
    },
    /// A 0x00 terminator came before the (embedded) document's declared end.
    #[error("{part} ends (0x00) before its declared length")]
    EarlyTerminator {
        /// The container ([`Part::Document`], [`Part::EmbeddedDocument`], [`Part::Array`] or
        /// [`Part::Scope`]) that ends early.
        part: Part,
    },
    /// An element type byte that BSON does not define.
    #[error("unknown element type 0x{0:02x}")]
    UnknownType(u8),
    /// A key or a regex part (cstrings) has no 0x00 before the enclosing document's end.
    #[error("{0} is not terminated by 0x00 before the end of the enclosing document")]
    UnterminatedCString(Part),
    /// A length-prefixed string whose last byte is not 0x00.
    #[error("{0} is not terminated by 0x00 at its declared length")]
    UnterminatedString(Part),
    /// Invalid UTF-8 where BSON requires UTF-8 (Extended JSON output has to be UTF-8).
    #[error("invalid UTF-8 in {0}")]
    InvalidUtf8(Part),
    /// A boolean byte other than 0x00 or 0x01.
    #[error("invalid boolean value 0x{0:02x} (must be 0x00 or 0x01)")]
    InvalidBoolean(u8),
    /// Binary subtype 0x02 ("old binary") whose inner length is not the outer length minus 4.
    #[error("old binary (subtype 0x02) inner length {inner} does not match the outer length {outer} minus 4")]
    OldBinaryLength {
        /// The inner int32 length, the first four bytes of the binary data.
        inner: i32,
        /// The binary's own length field (bytes after the subtype byte).
        outer: i32,
    },
    /// A code-with-scope total length that disagrees with the code string and scope inside it.
    #[error("code with scope declares {declared} bytes but its code and scope take {actual}")]
    CodeWithScopeLength {
        /// The int32 total length at the start of the code with scope.
        declared: i32,
        /// What its parts add up to: 4 for the total itself, the code string with its length
        /// prefix, and the scope document's own length (an `i64`, so it cannot overflow).
        actual: i64,
    },
}

/// The part of a document an [`ErrorKind`] refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The top-level document given to [`write_document`](crate::write_document).
    Document,
    /// An embedded document (element type 0x03).
    EmbeddedDocument,
    /// An array (element type 0x04).
    Array,
    /// An element's key, a cstring (array keys are checked only for their 0x00).
    Key,
    /// A string value (element type 0x02).
    String,
    /// JavaScript code (element type 0x0D), or the code string inside a code with scope.
    Code,
    /// A symbol (element type 0x0E, deprecated).
    Symbol,
    /// A code with scope (element type 0x0F) as a whole: its int32 total length.
    CodeWithScope,
    /// The scope document inside a code with scope.
    Scope,
    /// A binary value (element type 0x05), old binary (subtype 0x02) included.
    Binary,
    /// The pattern cstring of a regular expression (element type 0x0B).
    RegexPattern,
    /// The options cstring of a regular expression, after its pattern.
    RegexOptions,
    /// The namespace string of a DBPointer (element type 0x0C, deprecated).
    DbPointerNamespace,
    /// The 12-byte ObjectId of a DBPointer, after its namespace.
    DbPointerId,
    /// A double (element type 0x01, 8 bytes).
    Double,
    /// An ObjectId (element type 0x07, 12 bytes).
    ObjectId,
    /// A boolean (element type 0x08, 1 byte).
    Boolean,
    /// A UTC datetime (element type 0x09, 8 bytes of milliseconds since the epoch).
    Datetime,
    /// An int32 (element type 0x10, 4 bytes).
    Int32,
    /// A timestamp (element type 0x11, 8 bytes: increment, then seconds).
    Timestamp,
    /// An int64 (element type 0x12, 8 bytes).
    Int64,
    /// A Decimal128 (element type 0x13, 16 bytes).
    Decimal128,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Document => "document",
            Part::EmbeddedDocument => "embedded document",
            Part::Array => "array",
            Part::Key => "key",
            Part::String => "string",
            Part::Code => "JavaScript code",
            Part::Symbol => "symbol",
            Part::CodeWithScope => "code with scope",
            Part::Scope => "code-with-scope scope document",
            Part::Binary => "binary",
            Part::RegexPattern => "regex pattern",
            Part::RegexOptions => "regex options",
            Part::DbPointerNamespace => "DBPointer namespace",
            Part::DbPointerId => "DBPointer ObjectId",
            Part::Double => "double",
            Part::ObjectId => "ObjectId",
            Part::Boolean => "boolean",
            Part::Datetime => "datetime",
            Part::Int32 => "int32",
            Part::Timestamp => "timestamp",
            Part::Int64 => "int64",
            Part::Decimal128 => "Decimal128",
        })
    }
}
