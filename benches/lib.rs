//! Shared helpers for the benchmarks (input generators).
