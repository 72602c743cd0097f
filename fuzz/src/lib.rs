//! Helpers shared by the fuzz targets: scratch folders private to the fuzzing process, a cap on
//! the size of files the targets may write, and checks that hold for every reader.
//!
//! Nothing here re-implements a parser: the targets call bsonflow's own entry points.

use std::path::{Path, PathBuf};
use std::sync::{Once, OnceLock};

use bsonflow_testkit::MemorySink;

/// Largest file a target may write (spill files, unpacked members): 64 MiB. A few KiB of
/// gzip or zstd can expand to far more, and the disk is shared; beyond this size `write`
/// fails with `EFBIG` (SIGXFSZ is ignored), which the readers report as an ordinary output
/// error.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Applies [`MAX_FILE_BYTES`] to this process (once).
pub fn limit_file_size() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: plain libc calls with valid arguments; `SIG_IGN` for SIGXFSZ makes an
        // over-long write return EFBIG instead of killing the process.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: MAX_FILE_BYTES,
                rlim_max: MAX_FILE_BYTES,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0, "setrlimit(RLIMIT_FSIZE)");
        }
    });
}

static SCRATCH: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_scratch() {
    if let Some(dir) = SCRATCH.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A folder private to this fuzzing process, `$TMPDIR/bsonflow-fuzz-<name>-<pid>`, created on
/// first use. Targets keep their scratch files under it. It is removed when the process exits
/// normally (libFuzzer ends with `exit`), and left for inspection after a crash.
pub fn scratch(name: &str) -> &'static Path {
    SCRATCH.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!(
            "bsonflow-fuzz-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch folder");
        // SAFETY: registers a plain `extern "C"` function with no arguments.
        unsafe {
            libc::atexit(remove_scratch);
        }
        dir
    })
}

/// Every document a reader handed to the sink is one well-framed BSON document: the rule
/// every reader applies before it calls `CollectionWriter::write_document`.
pub fn assert_documents_framed(sink: &MemorySink) {
    for (ns, coll) in sink.collections() {
        assert!(coll.finished, "{ns}: collection returned unfinished");
        assert_eq!(
            coll.documents.len(),
            coll.positions.len(),
            "{ns}: one position per document"
        );
        for (i, doc) in coll.documents.iter().enumerate() {
            if let Err(e) = bsonflow_model::check_frame(doc) {
                panic!("{ns}: document {i} handed to the sink is not framed: {e}");
            }
        }
    }
}

/// Whether any collection of the sink recorded a corrupt span.
pub fn any_corrupt(sink: &MemorySink) -> bool {
    sink.collections().values().any(|c| !c.corrupt.is_empty())
}
