//! The order in which the parts of one cloud collection reach its writer.
//!
//! Parts `<coll>_<N>_part<M>.bson` are written in numeric `(N, M)` order. In a stream, a part
//! can be written the moment it arrives only when no other part can sort between it and the
//! last part written — whatever parts the rest of the tar holds:
//!
//! - `(0, 0)` when nothing has been written yet (nothing sorts before it);
//! - `(N, M + 1)` right after `(N, M)` (no pair of integers sorts between them).
//!
//! `(N + 1, 0)` after `(N, M)` is *not* certain: `(N, M + 1)` may still come. Every other part
//! waits (spilled to disk) until it becomes the certain successor of the last part written,
//! or until the end of the tar proves that no earlier part exists. This keeps the invariant
//! that every part sorting at or before the last one written has been written, so waiting
//! parts always come after it.

/// A cloud part number `(N, M)`.
pub(crate) type Part = (u64, u64);

/// Whether `next` may be written right after `last` (`None`: nothing written yet).
pub(crate) fn certainly_next(last: Option<Part>, next: Part) -> bool {
    match last {
        None => next == (0, 0),
        Some((n, m)) => m.checked_add(1).is_some_and(|m1| next == (n, m1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_certain_successors_stream() {
        assert!(certainly_next(None, (0, 0)));
        assert!(!certainly_next(None, (0, 1)));
        assert!(!certainly_next(None, (1, 0)));
        assert!(certainly_next(Some((0, 0)), (0, 1)));
        assert!(certainly_next(Some((2, 9)), (2, 10)));
        assert!(
            !certainly_next(Some((0, 1)), (1, 0)),
            "(0, 2) may still come"
        );
        assert!(!certainly_next(Some((0, 1)), (0, 3)));
        assert!(!certainly_next(Some((0, u64::MAX)), (0, 0)));
    }

    /// Simulates arrival orders: streamed parts plus parts released at the end always come
    /// out sorted.
    #[test]
    fn any_arrival_order_gives_sorted_output() {
        let parts = [(0, 0), (0, 1), (0, 2), (2, 0), (2, 1), (10, 0)];
        let mut seed = 12345u64;
        for _ in 0..200 {
            let mut order = parts.to_vec();
            for i in (1..order.len()).rev() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                order.swap(i, (seed >> 33) as usize % (i + 1));
            }
            let mut written = Vec::new();
            let mut waiting = std::collections::BTreeSet::new();
            for p in order {
                if certainly_next(written.last().copied(), p) {
                    written.push(p);
                    while let Some(&w) = waiting.first() {
                        if !certainly_next(written.last().copied(), w) {
                            break;
                        }
                        waiting.remove(&w);
                        written.push(w);
                    }
                } else {
                    waiting.insert(p);
                }
            }
            written.extend(waiting);
            assert_eq!(written, parts);
        }
    }
}
