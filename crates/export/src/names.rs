//! Output paths come only from namespace names, and those names are checked here first;
//! the export's file names are made here, and only here.

use bsonflow_model::Namespace;

/// A collection's folder, relative to the export's root: `db/coll`.
pub fn collection_dir(ns: &Namespace) -> String {
    format!("{}/{}", ns.db, ns.collection)
}

/// Chunk file `n` of a collection, relative to the export's root:
/// `db/coll/<shard>.<n>.json.gz`.
pub fn chunk_name(ns: &Namespace, shard: &str, n: u64) -> String {
    format!("{}/{shard}.{n}.json.gz", collection_dir(ns))
}

/// A collection's `metadata.json`, relative to the export's root.
pub fn metadata_name(ns: &Namespace) -> String {
    format!("{}/metadata.json", collection_dir(ns))
}

/// Checks that `name` (a database or collection name) can be used as one path component
/// inside the output folder: not empty, not `.` or `..`, no `/`, `\` or NUL, at most 255
/// bytes (the file-name limit of common file systems). Returns why not.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("`{name}` cannot be a folder name"));
    }
    if let Some(c) = name.chars().find(|c| matches!(c, '/' | '\\' | '\0')) {
        return Err(format!("the name contains {c:?}"));
    }
    if name.len() > 255 {
        return Err(format!(
            "the name is {} bytes long; a folder name holds at most 255",
            name.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_escape_or_break_the_output_folder() {
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0b", &"x".repeat(256)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in [
            "orders",
            "system.buckets.x",
            "a..b",
            "名前",
            &"x".repeat(255),
        ] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }
}
