//! The WiredTiger metadata table: URI → config string, and what a `file:` config says.
//!
//! `WiredTiger.wt` is a row store with `key_format=S,value_format=S`: keys and values are C
//! strings stored with their trailing NUL. Its entries of interest are the `file:<name>.wt`
//! configs ([`FileInfo`]): allocation size, block compressor, key and value formats,
//! encryption, and the checkpoint list whose newest entry (highest `order`) gives the root of
//! the tree to read.

use std::collections::BTreeMap;
use std::path::Path;

use crate::format::block::{Addr, BlockFile, CheckpointCookie};
use crate::format::btree::Tree;
use crate::format::compress::Compressor;
use crate::format::config::Config;
use crate::Error;

/// The newest checkpoint of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// E.g. `WiredTigerCheckpoint.795`.
    pub name: String,
    /// `order=`: the checkpoint's sequence number; the highest in the list is the newest.
    pub order: i64,
    /// The decoded `addr`; `None` when the address is empty (an empty tree).
    pub cookie: Option<CheckpointCookie>,
    /// `write_gen` of the checkpoint, when recorded.
    pub write_gen: Option<i64>,
}

impl Checkpoint {
    /// The root page, `None` for an empty tree.
    pub fn root(&self) -> Option<Addr> {
        self.cookie.and_then(|c| c.root)
    }
}

/// What the metadata says about one `file:` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// The metadata key, e.g. `file:collection-7-123.wt`.
    pub uri: String,
    /// `allocation_size=` in bytes (4096 when absent; a power of two, at least 512): the unit
    /// in which address cookies count offsets and sizes.
    pub allocation_size: u32,
    /// `block_compressor=` ([`Compressor::None`] when absent, empty or `none`).
    pub compressor: Compressor,
    /// `key_format=` (`u` when absent): `q` for RecordIds, `u` for raw bytes, `S` for strings.
    pub key_format: String,
    /// `value_format=` (`u` when absent); a MongoDB record store has `u`, one BSON document.
    pub value_format: String,
    /// The btree id (`id=`), used as the history-store key prefix.
    pub id: Option<i64>,
    /// The newest checkpoint; `None` when the file has never been checkpointed.
    pub checkpoint: Option<Checkpoint>,
}

impl FileInfo {
    /// Interprets the config string of `uri`. `path` names the file holding the metadata (for
    /// errors).
    pub fn parse(uri: &str, config: &str, path: &Path) -> Result<FileInfo, Error> {
        let bad = |detail: String| Error::BadConfig {
            path: path.to_path_buf(),
            uri: uri.to_string(),
            detail,
        };
        let cfg = Config::parse(config).map_err(|e| bad(e.to_string()))?;
        if let Some(enc) = cfg
            .get_config("encryption")
            .map_err(|e| bad(e.to_string()))?
        {
            let name = enc.get_str("name").unwrap_or("");
            if !name.is_empty() && name != "none" {
                return Err(Error::Unsupported {
                    path: path.to_path_buf(),
                    what: format!("`{uri}` is encrypted (encryption name `{name}`)"),
                });
            }
        }
        let allocation_size = match cfg.get("allocation_size") {
            None => 4096,
            Some(v) => v
                .as_int()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|&n| n >= 512 && n.is_power_of_two())
                .ok_or_else(|| bad(format!("bad allocation_size {v:?}")))?,
        };
        let compressor_name = cfg.get_str("block_compressor").unwrap_or("");
        let compressor =
            Compressor::from_name(compressor_name).ok_or_else(|| Error::Unsupported {
                path: path.to_path_buf(),
                what: format!("`{uri}` uses the unknown block compressor `{compressor_name}`"),
            })?;
        let mut checkpoint: Option<Checkpoint> = None;
        if let Some(list) = cfg
            .get_config("checkpoint")
            .map_err(|e| bad(e.to_string()))?
        {
            for (name, value) in list.items() {
                let ck = value
                    .as_config()
                    .map_err(|e| bad(format!("checkpoint {name}: {e}")))?;
                let order = ck
                    .get_int("order")
                    .ok_or_else(|| bad(format!("checkpoint {name} has no order")))?;
                if checkpoint.as_ref().is_some_and(|c| c.order >= order) {
                    continue;
                }
                let addr = ck.get_str("addr").unwrap_or("");
                let cookie =
                    if addr.is_empty() {
                        None
                    } else {
                        Some(CheckpointCookie::parse_hex(addr, allocation_size).map_err(
                            |detail| Error::BadCookie {
                                path: path.to_path_buf(),
                                context: format!("checkpoint {name} of `{uri}`"),
                                detail,
                            },
                        )?)
                    };
                checkpoint = Some(Checkpoint {
                    name: name.clone(),
                    order,
                    cookie,
                    write_gen: ck.get_int("write_gen"),
                });
            }
        }
        Ok(FileInfo {
            uri: uri.to_string(),
            allocation_size,
            compressor,
            key_format: cfg.get_str("key_format").unwrap_or("u").to_string(),
            value_format: cfg.get_str("value_format").unwrap_or("u").to_string(),
            id: cfg.get_int("id"),
            checkpoint,
        })
    }

    /// The root of the newest checkpoint; `None` for an empty tree.
    pub fn root(&self) -> Option<Addr> {
        self.checkpoint.as_ref().and_then(Checkpoint::root)
    }
}

/// Reads every live entry of a metadata table file (`WiredTiger.wt`) into a map.
pub fn read_metadata_table(
    file: &BlockFile,
    info: &FileInfo,
) -> Result<BTreeMap<String, String>, Error> {
    let mut map = BTreeMap::new();
    let path = file.path().to_path_buf();
    Tree::new(file, info.root()).scan(|e| {
        let bad = |detail: String| Error::BadPage {
            path: path.clone(),
            offset: e.page_offset,
            detail,
        };
        let key = c_string(e.key).map_err(|d| bad(format!("metadata key: {d}")))?;
        let value = e
            .value
            .ok_or_else(|| bad(format!("metadata entry `{key}` has no value")))?;
        let value = c_string(value).map_err(|d| bad(format!("metadata value of `{key}`: {d}")))?;
        map.insert(key, value);
        Ok(())
    })?;
    Ok(map)
}

/// A `key_format=S` item: UTF-8 text ending with one NUL.
fn c_string(bytes: &[u8]) -> Result<String, String> {
    let text = bytes
        .strip_suffix(&[0])
        .ok_or("the string lacks its trailing NUL")?;
    String::from_utf8(text.to_vec()).map_err(|_| "not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collection_file_config() {
        let cfg = r#"access_pattern_hint=none,allocation_size=4KB,app_metadata=(formatVersion=1),block_compressor=snappy,checksum=on,encryption=(keyid=,name=),id=12,key_format=q,leaf_value_max=64MB,value_format=u,version=(major=1,minor=1),checkpoint=(WiredTigerCheckpoint.3=(addr="",order=3,time=1,size=0,write_gen=1),WiredTigerCheckpoint.795=(addr="018381e443d8dec48481e41f4fdcd18581e4fef5a73c808080e3010fc0e23fc0",order=795,time=1728481467,size=28672,newest_stop_ts=-1,newest_stop_txn=-11,write_gen=2359,run_write_gen=2357)),checkpoint_backup_info=,checkpoint_lsn=(29,3200)"#;
        let f = FileInfo::parse("file:c.wt", cfg, Path::new("WiredTiger.wt")).unwrap();
        assert_eq!(f.allocation_size, 4096);
        assert_eq!(f.compressor, Compressor::Snappy);
        assert_eq!((f.key_format.as_str(), f.value_format.as_str()), ("q", "u"));
        assert_eq!(f.id, Some(12));
        let ck = f.checkpoint.as_ref().unwrap();
        assert_eq!(
            (ck.name.as_str(), ck.order),
            ("WiredTigerCheckpoint.795", 795)
        );
        assert_eq!(ck.write_gen, Some(2359));
        assert_eq!(f.root().unwrap().offset, 16384);
    }

    #[test]
    fn empty_and_missing_checkpoints() {
        let p = Path::new("m");
        let f = FileInfo::parse(
            "file:e.wt",
            "checkpoint=(WiredTigerCheckpoint.1=(addr=\"\",order=1))",
            p,
        )
        .unwrap();
        assert!(f.checkpoint.is_some() && f.root().is_none());
        let f = FileInfo::parse("file:e.wt", "key_format=u,checkpoint=", p).unwrap();
        assert!(f.checkpoint.is_none() && f.root().is_none());
        assert_eq!(f.compressor, Compressor::None);
    }

    #[test]
    fn refusals() {
        let p = Path::new("m");
        let e =
            FileInfo::parse("file:x.wt", "encryption=(keyid=k,name=AES256-CBC)", p).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        let e = FileInfo::parse("file:x.wt", "block_compressor=brotli", p).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        let e = FileInfo::parse("file:x.wt", "allocation_size=3", p).unwrap_err();
        assert!(matches!(e, Error::BadConfig { .. }), "{e}");
        let e =
            FileInfo::parse("file:x.wt", "checkpoint=(C.1=(addr=\"02\",order=1))", p).unwrap_err();
        assert!(matches!(e, Error::BadCookie { .. }), "{e}");
        assert!(c_string(b"abc").is_err());
        assert_eq!(c_string(b"abc\0").unwrap(), "abc");
    }
}
