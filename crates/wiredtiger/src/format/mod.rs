//! The on-disk formats, one module each, bottom up. The reader needs only
//! [`DataDir`](crate::DataDir); these are public for tools and tests that look inside a data
//! directory.
//!
//! [`intpack`] packed integers · [`config`] config strings · [`turtle`] the turtle and
//! hot-backup files · [`block`] descriptor, block header, CRC-32C, address and checkpoint
//! cookies · [`compress`] snappy/zstd/zlib framing · [`page`] page header · [`cell`] cells and
//! validity windows · [`btree`] the tree walk · [`metadata`] the metadata table and `file:`
//! configs · [`catalog`] `_mdb_catalog` records.

pub mod block;
pub mod btree;
pub mod catalog;
pub mod cell;
pub mod compress;
pub mod config;
pub mod intpack;
pub mod metadata;
pub mod page;
pub mod turtle;
