//! Offline WiredTiger + MongoDB catalog reader.
