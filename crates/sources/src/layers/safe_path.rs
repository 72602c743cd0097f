//! Validation of the member paths found inside archives (xbstream chunk paths, qpress file and
//! directory names, tar member names) before anything is created on disk.
//!
//! A member path is accepted only when it is **relative and stays inside the target
//! directory**. The rules, applied to the raw bytes (no decoding, no Unicode normalisation):
//!
//! | rejected | why |
//! | --- | --- |
//! | empty path, or only `.` components | names nothing ([`PathError::Empty`]) |
//! | leading `/` | absolute ([`PathError::Absolute`]) |
//! | a `..` component | climbs out of the target ([`PathError::ParentDir`]) |
//! | a NUL byte | truncates the name in C APIs ([`PathError::Nul`]) |
//! | an empty component (`a//b`) | never written by a sane archiver; refused rather than guessed |
//! | a backslash anywhere, a first component like `C:` | Windows separators and drive prefixes |
//! | more than [`MAX_PATH_BYTES`] bytes, a component over [`MAX_COMPONENT_BYTES`] | over-long |
//!
//! `.` components are dropped (`./WiredTiger.wt` is `WiredTiger.wt`, as GNU tar writes it) and
//! one trailing `/` is allowed (tar directory entries). Other bytes, including non-UTF-8 ones,
//! are kept as they are (Unix file names are bytes).
//!
//! Validation is lexical; the unpacker additionally creates every file with `create_new`
//! semantics inside a directory it created itself, so a symlink planted in the target cannot
//! redirect a write (see [`unpack`](crate::unpack)).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Longest accepted member path, in bytes (Linux `PATH_MAX` − 1).
pub const MAX_PATH_BYTES: usize = 4095;
/// Longest accepted path component, in bytes (Linux `NAME_MAX`).
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Why a member path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty, or made only of `.` components: it names nothing.
    #[error("empty path")]
    Empty,
    /// The path starts with `/`.
    #[error("absolute path")]
    Absolute,
    /// A component is `..`, which would climb out of the target directory.
    #[error("path with a `..` component")]
    ParentDir,
    /// The path holds a NUL byte, which would cut the name short in C APIs.
    #[error("path with a NUL byte")]
    Nul,
    /// Two slashes in a row (`a//b`): refused rather than guessed at.
    #[error("path with an empty component (`//`)")]
    EmptyComponent,
    /// The path holds a `\`, a Windows separator.
    #[error("path with a backslash (Windows separator)")]
    Backslash,
    /// The first component is an ASCII letter followed by `:` (`C:`), a Windows drive.
    #[error("path with a Windows drive prefix")]
    DrivePrefix,
    /// The whole path is longer than [`MAX_PATH_BYTES`].
    #[error("path of {len} bytes (at most {MAX_PATH_BYTES})")]
    TooLong {
        /// Length of the path, in bytes.
        len: usize,
    },
    /// One component is longer than [`MAX_COMPONENT_BYTES`].
    #[error("path component of {len} bytes (at most {MAX_COMPONENT_BYTES})")]
    ComponentTooLong {
        /// Length of that component, in bytes.
        len: usize,
    },
    /// A single name ([`file_name`]) holds a `/`.
    #[error("name with a `/` where a single name is expected")]
    Separator,
    /// A single name ([`file_name`]) is `.`.
    #[error("name `.` where a file or directory name is expected")]
    Dot,
}

/// Validates a relative member path and returns it as a relative [`PathBuf`] without `.`
/// components or trailing slash.
pub fn relative_path(raw: &[u8]) -> Result<PathBuf, PathError> {
    if raw.is_empty() {
        return Err(PathError::Empty);
    }
    if raw.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong { len: raw.len() });
    }
    if raw.contains(&0) {
        return Err(PathError::Nul);
    }
    if raw.contains(&b'\\') {
        return Err(PathError::Backslash);
    }
    if raw.first() == Some(&b'/') {
        return Err(PathError::Absolute);
    }
    // One trailing slash marks a directory.
    let body = raw.strip_suffix(b"/").unwrap_or(raw);
    let mut out = PathBuf::new();
    // The drive-prefix rule holds for the first component that names something: `./C:` is
    // `C:`.
    let mut first = true;
    for part in body.split(|&b| b == b'/') {
        check_component(part, first)?;
        if part == b"." {
            continue;
        }
        first = false;
        out.push(OsStr::from_bytes(part));
    }
    if out.as_os_str().is_empty() {
        return Err(PathError::Empty);
    }
    Ok(out)
}

/// Validates a single name (a qpress `F` or `D` record): one component, not `.`.
pub fn file_name(raw: &[u8]) -> Result<&OsStr, PathError> {
    if raw.contains(&b'/') {
        return Err(PathError::Separator);
    }
    if raw.len() > MAX_COMPONENT_BYTES {
        return Err(PathError::ComponentTooLong { len: raw.len() });
    }
    if raw.contains(&0) {
        return Err(PathError::Nul);
    }
    if raw.contains(&b'\\') {
        return Err(PathError::Backslash);
    }
    check_component(raw, true)?;
    if raw == b"." {
        return Err(PathError::Dot);
    }
    Ok(OsStr::from_bytes(raw))
}

fn check_component(part: &[u8], first: bool) -> Result<(), PathError> {
    match part {
        [] => Err(PathError::EmptyComponent),
        b".." => Err(PathError::ParentDir),
        _ if part.len() > MAX_COMPONENT_BYTES => {
            Err(PathError::ComponentTooLong { len: part.len() })
        }
        [drive, b':', ..] if first && drive.is_ascii_alphabetic() => Err(PathError::DrivePrefix),
        _ => Ok(()),
    }
}

/// A member path for messages: lossy UTF-8 with control bytes escaped.
pub fn display(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    if text.chars().any(char::is_control) {
        text.escape_debug().to_string()
    } else {
        text.into_owned()
    }
}

/// `path` for messages (see [`display`]).
pub fn display_path(path: &Path) -> String {
    display(path.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `safe_path` fuzz target (fuzz/regressions/safe_path/).
    #[test]
    fn a_drive_prefix_behind_dot_components_is_still_refused() {
        assert_eq!(relative_path(b"./j:"), Err(PathError::DrivePrefix));
        assert_eq!(relative_path(b"././C:/x"), Err(PathError::DrivePrefix));
        assert_eq!(
            relative_path(b"./a/j:").unwrap(),
            PathBuf::from("a/j:"),
            "only the first component can be a drive"
        );
    }

    #[test]
    fn accepts_relative_paths() {
        let ok = |raw: &[u8], want: &str| assert_eq!(relative_path(raw).unwrap(), Path::new(want));
        ok(b"WiredTiger.wt", "WiredTiger.wt");
        ok(b"admin/collection-0--123.wt", "admin/collection-0--123.wt");
        ok(
            b"./journal/WiredTigerLog.0000000001",
            "journal/WiredTigerLog.0000000001",
        );
        ok(b"dir/", "dir");
        ok(b"a/./b", "a/b");
        ok(b"..a/b..", "..a/b..");
        ok("caf\u{e9}/\u{fffd}".as_bytes(), "caf\u{e9}/\u{fffd}");
        let raw = relative_path(&[b'x', 0xff, b'/', 0xfe]).unwrap();
        assert_eq!(raw.as_os_str().as_bytes(), &[b'x', 0xff, b'/', 0xfe]);
    }

    #[test]
    fn rejects_escapes() {
        let err = |raw: &[u8]| relative_path(raw).unwrap_err();
        assert_eq!(err(b""), PathError::Empty);
        assert_eq!(err(b"."), PathError::Empty);
        assert_eq!(err(b"./"), PathError::Empty);
        assert_eq!(err(b"/etc/passwd"), PathError::Absolute);
        assert_eq!(err(b"//x"), PathError::Absolute);
        assert_eq!(err(b"../x"), PathError::ParentDir);
        assert_eq!(err(b"a/../../x"), PathError::ParentDir);
        assert_eq!(err(b"a/.."), PathError::ParentDir);
        assert_eq!(err(b"a\0b"), PathError::Nul);
        assert_eq!(err(b"a//b"), PathError::EmptyComponent);
        assert_eq!(err(b"a/b//"), PathError::EmptyComponent);
        assert_eq!(err(b"..\\x"), PathError::Backslash);
        assert_eq!(err(b"C:/Windows"), PathError::DrivePrefix);
        assert_eq!(err(b"c:x"), PathError::DrivePrefix);
        assert_eq!(err(&[b'a'; 256]), PathError::ComponentTooLong { len: 256 });
        let long = [b"ab/".as_slice(); 1400].concat();
        assert_eq!(err(&long), PathError::TooLong { len: 4200 });
        // A colon later in a path is an ordinary Unix byte.
        assert!(relative_path(b"db/a:b").is_ok());
    }

    #[test]
    fn single_names() {
        assert_eq!(file_name(b"c.txt").unwrap(), "c.txt");
        assert_eq!(file_name(b"a/b").unwrap_err(), PathError::Separator);
        assert_eq!(file_name(b"/").unwrap_err(), PathError::Separator);
        assert_eq!(file_name(b"..").unwrap_err(), PathError::ParentDir);
        assert_eq!(file_name(b".").unwrap_err(), PathError::Dot);
        assert_eq!(file_name(b"").unwrap_err(), PathError::EmptyComponent);
        assert_eq!(file_name(b"x\0").unwrap_err(), PathError::Nul);
        assert_eq!(file_name(b"D:").unwrap_err(), PathError::DrivePrefix);
    }

    #[test]
    fn display_escapes_control_bytes() {
        assert_eq!(display(b"a/b"), "a/b");
        assert_eq!(display(b"a\0b\n"), "a\\0b\\n");
    }
}
