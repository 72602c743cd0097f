//! Counters that readers bump and the progress bar reads.

use std::sync::atomic::{AtomicU64, Ordering};

/// Shared progress of one run: bytes of input consumed out of a total, when the total is
/// known. Readers add to it from any thread; the binary polls it to draw a bar.
#[derive(Debug, Default)]
pub struct Progress {
    consumed: AtomicU64,
    total: AtomicU64,
}

impl Progress {
    /// Nothing consumed, total unknown (0).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `n` more bytes of input consumed.
    pub fn add(&self, n: u64) {
        self.consumed.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds to the known total (a reader that discovers more input raises it).
    pub fn add_total(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes of input consumed so far.
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// The known total, 0 when unknown.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}
