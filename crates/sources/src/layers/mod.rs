//! The layers the readers are built from, for tools and tests that work below the reader
//! verbs: framing documents in a BSON stream ([`bson_stream`]), telling and undoing
//! compression ([`compression`]), what a path inside a BSON set means ([`layout`]), member
//! names that never become paths outside their root ([`safe_path`]), and what may follow a
//! tar's end-of-archive marker ([`tar_end`]). The physical-backup
//! formats (xbstream, qpress, QuickLZ) live under [`unpack`](crate::unpack), their only user.

pub mod bson_stream;
pub mod compression;
pub mod layout;
pub mod safe_path;
pub mod tar_end;
