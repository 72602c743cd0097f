//! Byte sizes as people read them.

use std::fmt;

/// A byte count shown in B, kB, MB or GB (powers of 1000) with one decimal:
/// `ByteSize(268_435_897)` shows as `268.4 MB`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        let b = bytes as f64;
        match bytes {
            0..=999 => write!(f, "{bytes} B"),
            1_000..=999_999 => write!(f, "{:.1} kB", b / 1e3),
            1_000_000..=9_999_999_999 => write!(f, "{:.1} MB", b / 1e6),
            _ => write!(f, "{:.1} GB", b / 1e9),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteSize;

    #[test]
    fn sizes_read_well() {
        assert_eq!(ByteSize(0).to_string(), "0 B");
        assert_eq!(ByteSize(999).to_string(), "999 B");
        assert_eq!(ByteSize(6465).to_string(), "6.5 kB");
        assert_eq!(ByteSize(268_435_897).to_string(), "268.4 MB");
        assert_eq!(ByteSize(12_300_000_000).to_string(), "12.3 GB");
    }
}
