//! `bsonflow_sources::layers::safe_path`: a member path accepted by `relative_path` is
//! relative, has no root, no `..` or `.` component, no NUL, is not empty and, joined onto a
//! root, stays under it; a name accepted by `file_name` is one such component.
#![no_main]

use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use bsonflow_sources::layers::safe_path::{
    display, display_path, file_name, relative_path, MAX_COMPONENT_BYTES, MAX_PATH_BYTES,
};
use libfuzzer_sys::fuzz_target;

fn check_relative(p: &Path) {
    let bytes = p.as_os_str().as_bytes();
    assert!(!bytes.is_empty(), "empty path accepted");
    assert!(bytes.len() <= MAX_PATH_BYTES);
    assert!(p.is_relative() && !p.has_root(), "{p:?} is not relative");
    assert!(!bytes.contains(&0), "{p:?} holds a NUL");
    assert!(!bytes.contains(&b'\\'), "{p:?} holds a backslash");
    for c in p.components() {
        match c {
            Component::Normal(name) => {
                let n = name.as_bytes();
                assert!(!n.is_empty() && n.len() <= MAX_COMPONENT_BYTES);
                assert!(n != b"." && n != b"..");
            }
            other => panic!("{p:?} has a {other:?} component"),
        }
    }
    let root = Path::new("/srv/unpack/root");
    let joined = root.join(p);
    assert!(joined.starts_with(root), "{joined:?} escapes {root:?}");
    assert!(joined.components().count() > root.components().count());
    let _ = display_path(p);
}

fuzz_target!(|data: &[u8]| {
    let _ = display(data);
    if let Ok(p) = relative_path(data) {
        check_relative(&p);
        // Validation is idempotent on its own output.
        assert_eq!(relative_path(p.as_os_str().as_bytes()).as_deref(), Ok(p.as_path()));
    }
    if let Ok(name) = file_name(data) {
        let n = name.as_bytes();
        assert_eq!(n, data);
        assert!(!n.contains(&b'/') && !n.contains(&0));
        assert!(n != b"." && n != b".." && !n.is_empty());
        check_relative(Path::new(name));
        assert_eq!(Path::new(name).components().count(), 1);
    }
});
