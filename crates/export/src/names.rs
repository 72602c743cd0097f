//! Output paths come only from namespace names, and those names are checked here first.

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
