//! The two text files that bootstrap the metadata.
//!
//! - `WiredTiger.turtle`: `\n`-separated key line / value line pairs. Among them
//!   `WiredTiger version string` and `file:WiredTiger.wt`, the config (with checkpoint
//!   address) of the metadata table. Like WiredTiger, look a key up by scanning for a line
//!   equal to it and take the next line; never rely on line numbers.
//! - `WiredTiger.backup` (hot-backup copies only): every metadata entry as a key line and a
//!   value line. When present it *is* the metadata table and overrides `WiredTiger.wt`.

use std::path::Path;

use crate::Error;

/// The turtle key of the metadata table's own entry.
pub const METADATA_URI: &str = "file:WiredTiger.wt";

/// What the turtle says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Turtle {
    /// `WiredTiger version string`, e.g. `WiredTiger 11.3.0: (November 16, 2023)`.
    pub version_string: Option<String>,
    /// `WiredTiger version`, e.g. `major=11,minor=3,patch=0`.
    pub version: Option<String>,
    /// `Compatibility version`, when configured.
    pub compatibility: Option<String>,
    /// The config of `file:WiredTiger.wt`.
    pub metadata_config: String,
}

impl Turtle {
    /// Parses the text of a turtle file; `path` names it in errors. The `file:WiredTiger.wt`
    /// entry is required ([`Error::BadTurtle`] when it is missing or empty); the version lines
    /// are optional.
    pub fn parse(text: &str, path: &Path) -> Result<Turtle, Error> {
        let lines: Vec<&str> = text.lines().collect();
        let value_of = |key: &str| -> Option<String> {
            lines
                .iter()
                .position(|l| *l == key)
                .and_then(|i| lines.get(i + 1))
                .map(|v| v.to_string())
        };
        let metadata_config = value_of(METADATA_URI).ok_or_else(|| Error::BadTurtle {
            path: path.to_path_buf(),
            detail: format!("no `{METADATA_URI}` entry"),
        })?;
        if metadata_config.is_empty() {
            return Err(Error::BadTurtle {
                path: path.to_path_buf(),
                detail: format!("the `{METADATA_URI}` entry is empty"),
            });
        }
        Ok(Turtle {
            version_string: value_of("WiredTiger version string"),
            version: value_of("WiredTiger version"),
            compatibility: value_of("Compatibility version"),
            metadata_config,
        })
    }

    /// Reads and parses the turtle file at `path`: [`Error::Io`] when it cannot be read,
    /// [`Error::BadTurtle`] when it is not UTF-8 or lacks its metadata entry.
    pub fn read(path: &Path) -> Result<Turtle, Error> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| Error::BadTurtle {
            path: path.to_path_buf(),
            detail: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        })?;
        Turtle::parse(&text, path)
    }
}

/// Parses `WiredTiger.backup`: key/value line pairs until the end of the file.
pub fn parse_backup(text: &str, path: &Path) -> Result<Vec<(String, String)>, Error> {
    let mut lines = text.lines().enumerate();
    let mut out = Vec::new();
    while let Some((i, key)) = lines.next() {
        if key.is_empty() {
            return Err(Error::BadBackupFile {
                path: path.to_path_buf(),
                line: i + 1,
                detail: "empty key line".into(),
            });
        }
        match lines.next() {
            Some((_, value)) if !value.is_empty() => out.push((key.to_string(), value.to_string())),
            Some((j, _)) => {
                return Err(Error::BadBackupFile {
                    path: path.to_path_buf(),
                    line: j + 1,
                    detail: format!("zero-length value for `{key}`"),
                })
            }
            None => {
                return Err(Error::BadBackupFile {
                    path: path.to_path_buf(),
                    line: i + 1,
                    detail: format!("`{key}` has no value line"),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TURTLE_36: &str = "Compatibility version\nmajor=3,minor=0\nWiredTiger version string\nWiredTiger 3.1.0: (April 23, 2018)\nWiredTiger version\nmajor=3,minor=1,patch=0\nfile:WiredTiger.wt\naccess_pattern_hint=none,allocation_size=4KB,checkpoint=(WiredTigerCheckpoint.9=(addr=\"01\",order=9))\n";

    #[test]
    fn finds_entries_by_key_line() {
        let t = Turtle::parse(TURTLE_36, Path::new("WiredTiger.turtle")).unwrap();
        assert_eq!(
            t.version_string.as_deref(),
            Some("WiredTiger 3.1.0: (April 23, 2018)")
        );
        assert_eq!(t.compatibility.as_deref(), Some("major=3,minor=0"));
        assert_eq!(t.version.as_deref(), Some("major=3,minor=1,patch=0"));
        assert!(t.metadata_config.starts_with("access_pattern_hint=none"));
    }

    #[test]
    fn missing_or_empty_metadata_entry() {
        let p = Path::new("t");
        let e = Turtle::parse("WiredTiger version\nmajor=11\n", p).unwrap_err();
        assert!(matches!(e, Error::BadTurtle { .. }), "{e}");
        let e = Turtle::parse("file:WiredTiger.wt\n\n", p).unwrap_err();
        assert!(matches!(e, Error::BadTurtle { .. }), "{e}");
    }

    #[test]
    fn backup_pairs() {
        let p = Path::new("WiredTiger.backup");
        let v = parse_backup("table:a\nkey_format=q\nfile:a.wt\nallocation_size=4KB\n", p).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1], ("file:a.wt".into(), "allocation_size=4KB".into()));
        assert!(matches!(
            parse_backup("table:a\n", p),
            Err(Error::BadBackupFile { line: 1, .. })
        ));
        assert!(matches!(
            parse_backup("table:a\n\nx\ny\n", p),
            Err(Error::BadBackupFile { line: 2, .. })
        ));
    }
}
