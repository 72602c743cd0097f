//! Cells: the variable-length items a page is made of.
//!
//! The descriptor byte decides everything:
//!
//! - `desc & 3 == 1` short key, `== 2` short key with a prefix byte, `== 3` short value:
//!   the data length is `desc >> 2`.
//! - `desc & 3 == 0`: a long cell of type `desc & 0xf0`, with modifiers `0x04` (a packed
//!   `u64` follows: RLE count / record number) and `0x08` (a second descriptor and a validity
//!   window follow; WiredTiger 10+ / MongoDB 4.4+).
//!
//! Byte order of a long cell: descriptor; prefix byte (`KEY_PFX`); second descriptor and
//! window fields; fast-truncate fields (`ADDR_DEL` on pages flagged `FT_UPDATE`); the `0x04`
//! value; then a packed length and the data — keys add 64 to the length, and so do values
//! without a window and without the `0x04` value. `VALUE_COPY` instead holds the distance back
//! to the cell whose data it repeats; `DEL` holds nothing.

use std::fmt;
use std::ops::Range;

use crate::format::intpack::Reader;

/// Long-cell types (`desc & 0xf0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellType {
    /// A fast-truncated child page (internal pages).
    AddrDel,
    /// An internal child page.
    AddrInt,
    /// A leaf child page.
    AddrLeaf,
    /// A leaf child page without overflow items.
    AddrLeafNo,
    /// A deleted column-store value (never on row-store pages).
    Del,
    /// A key stored whole in the cell (`KEY`, or a short key).
    Key,
    /// A key overflow item: the data is the address cookie of an overflow page.
    KeyOvfl,
    /// A key sharing its first `prefix` bytes with the previous key on the page.
    KeyPfx,
    /// A value stored in the cell (`VALUE`, or a short value).
    Value,
    /// A copy of an earlier value cell on the same page (dictionary compression).
    ValueCopy,
    /// A value overflow item: the data is the address cookie of an overflow page.
    ValueOvfl,
    /// In-memory only: an overflow value whose blocks were freed.
    ValueOvflRm,
    /// In-memory only: an overflow key whose blocks were freed.
    KeyOvflRm,
}

impl CellType {
    fn from_desc(desc: u8) -> Option<CellType> {
        Some(match desc & 0xf0 {
            0x00 => CellType::AddrDel,
            0x10 => CellType::AddrInt,
            0x20 => CellType::AddrLeaf,
            0x30 => CellType::AddrLeafNo,
            0x40 => CellType::Del,
            0x50 => CellType::Key,
            0x60 => CellType::KeyOvfl,
            0x70 => CellType::KeyPfx,
            0x80 => CellType::Value,
            0x90 => CellType::ValueCopy,
            0xa0 => CellType::ValueOvfl,
            0xb0 => CellType::ValueOvflRm,
            0xc0 => CellType::KeyOvflRm,
            _ => return None,
        })
    }

    /// A key cell of any kind: `KEY`, `KEY_PFX`, `KEY_OVFL` or `KEY_OVFL_RM`.
    pub fn is_key(self) -> bool {
        matches!(
            self,
            CellType::Key | CellType::KeyPfx | CellType::KeyOvfl | CellType::KeyOvflRm
        )
    }

    /// An address cell (`ADDR_DEL`, `ADDR_INT`, `ADDR_LEAF`, `ADDR_LEAF_NO`): its data is the
    /// address cookie of a child page. Found on internal pages only.
    pub fn is_addr(self) -> bool {
        matches!(
            self,
            CellType::AddrDel | CellType::AddrInt | CellType::AddrLeaf | CellType::AddrLeafNo
        )
    }

    fn has_window(self) -> bool {
        self.is_addr()
            || matches!(
                self,
                CellType::Del
                    | CellType::Value
                    | CellType::ValueCopy
                    | CellType::ValueOvfl
                    | CellType::ValueOvflRm
            )
    }
}

/// Second-descriptor flags.
///
/// Each flag but [`PREPARE`](window_flags::PREPARE) announces one packed `u64` after the
/// second descriptor. They follow in the order start ts, start txn, durable start, stop ts,
/// stop txn, durable stop (not in bit order); the last four are stored as differences (see
/// [`TimeWindow`]).
pub mod window_flags {
    /// The value belongs to a prepared transaction that had not committed; no field follows.
    pub const PREPARE: u8 = 0x01;
    /// A durable start timestamp follows, stored as the difference from the start timestamp.
    pub const DURABLE_START: u8 = 0x02;
    /// A durable stop timestamp follows, stored as the difference from the stop timestamp.
    pub const DURABLE_STOP: u8 = 0x04;
    /// A start timestamp follows.
    pub const START_TS: u8 = 0x08;
    /// A stop timestamp follows, stored as the difference from the start timestamp; the value
    /// has a stop.
    pub const STOP_TS: u8 = 0x10;
    /// A start transaction id follows.
    pub const START_TXN: u8 = 0x20;
    /// A stop transaction id follows, stored as the difference from the start transaction
    /// id; the value has a stop.
    pub const STOP_TXN: u8 = 0x40;
}

/// The largest timestamp, `WT_TS_MAX` (printed `-1` in config strings): the stop timestamp of
/// a window without one, i.e. "not deleted".
pub const TS_MAX: u64 = u64::MAX;
/// The largest transaction id, `WT_TXN_MAX` (2^64 − 11, printed `-11`): the stop transaction
/// of a window without one.
pub const TXN_MAX: u64 = u64::MAX - 10;

/// A validity window (value cells) or time aggregate (address cells), as stored.
///
/// For address cells the fields mean oldest start ts, newest txn, newest start durable ts,
/// newest stop ts, newest stop txn and newest stop durable ts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    /// The second descriptor byte.
    pub flags: u8,
    /// Start timestamp (address cells: oldest start timestamp); 0 when absent.
    pub start_ts: u64,
    /// Start transaction id (address cells: newest transaction id); 0 when absent.
    pub start_txn: u64,
    /// Durable start timestamp; `start_ts` when absent.
    pub durable_start_ts: u64,
    /// Stop timestamp (stored relative to `start_ts`); [`TS_MAX`] when absent.
    pub stop_ts: u64,
    /// Stop transaction id (stored relative to `start_txn`); [`TXN_MAX`] when absent.
    pub stop_txn: u64,
    /// Durable stop timestamp (stored relative to `stop_ts`); when absent, `stop_ts` if that
    /// is set, else 0.
    pub durable_stop_ts: u64,
}

impl TimeWindow {
    /// A stop time is set: the value was deleted (`WT_TIME_WINDOW_HAS_STOP`).
    pub fn has_stop(&self) -> bool {
        self.flags & (window_flags::STOP_TS | window_flags::STOP_TXN) != 0
    }

    /// The value belongs to a prepared, uncommitted transaction.
    pub fn is_prepared(&self) -> bool {
        self.flags & window_flags::PREPARE != 0
    }

    fn read(r: &mut Reader<'_>, flags: u8) -> Result<TimeWindow, String> {
        use window_flags::*;
        let mut field = |flag: u8, name: &str| -> Result<Option<u64>, String> {
            if flags & flag == 0 {
                return Ok(None);
            }
            r.uint()
                .map(Some)
                .map_err(|e| format!("window {name}: {e}"))
        };
        let start_ts = field(START_TS, "start timestamp")?.unwrap_or(0);
        let start_txn = field(START_TXN, "start transaction")?.unwrap_or(0);
        let durable_start = field(DURABLE_START, "durable start")?;
        let stop_ts = field(STOP_TS, "stop timestamp")?;
        let stop_txn = field(STOP_TXN, "stop transaction")?;
        let durable_stop = field(DURABLE_STOP, "durable stop")?;
        let stop_ts = stop_ts.map_or(TS_MAX, |d| start_ts.wrapping_add(d));
        Ok(TimeWindow {
            flags,
            start_ts,
            start_txn,
            durable_start_ts: durable_start.map_or(start_ts, |d| start_ts.wrapping_add(d)),
            stop_ts,
            stop_txn: stop_txn.map_or(TXN_MAX, |d| start_txn.wrapping_add(d)),
            durable_stop_ts: match durable_stop {
                Some(d) => stop_ts.wrapping_add(d),
                None if stop_ts != TS_MAX => stop_ts,
                None => 0,
            },
        })
    }
}

/// One unpacked cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cell {
    /// What the cell holds; short cells come out as [`CellType::Key`], [`CellType::KeyPfx`]
    /// or [`CellType::Value`].
    pub cell_type: CellType,
    /// Bytes shared with the previous key (`KEY_PFX`), else 0.
    pub prefix: u8,
    /// The cell's data (key or value bytes, or an address cookie) within the page image.
    /// Empty for `VALUE_COPY` and `DEL`.
    pub data: Range<usize>,
    /// The window or time aggregate, when the cell has a second descriptor.
    pub window: Option<TimeWindow>,
    /// The `0x04` value (RLE count / record number), else 0.
    pub v: u64,
    /// For `VALUE_COPY`: where the copied cell starts in the page image.
    pub copy_of: Option<usize>,
    /// Total bytes the cell occupies.
    pub len: usize,
}

/// Why a cell does not unpack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CellError {
    /// A descriptor this reader does not know.
    Unknown(u8),
    /// The cell is damaged.
    Bad(String),
}

impl fmt::Display for CellError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CellError::Unknown(d) => write!(f, "unknown cell descriptor {d:#04x}"),
            CellError::Bad(s) => f.write_str(s),
        }
    }
}

/// Unpacks the cell starting at `pos` of a page `image` whose header flags are `page_flags`.
/// The cell must end within the image.
pub fn unpack(image: &[u8], pos: usize, page_flags: u8) -> Result<Cell, CellError> {
    let bad = |s: String| CellError::Bad(s);
    let desc = *image
        .get(pos)
        .ok_or_else(|| bad("cell starts past the end of the page".into()))?;
    let short = |cell_type: CellType, header: usize, prefix: u8| -> Result<Cell, CellError> {
        let start = pos + header;
        let end = start + usize::from(desc >> 2);
        if end > image.len() {
            return Err(bad(format!(
                "short cell of {} bytes runs past the end of the page",
                desc >> 2
            )));
        }
        Ok(Cell {
            cell_type,
            prefix,
            data: start..end,
            window: None,
            v: 0,
            copy_of: None,
            len: end - pos,
        })
    };
    match desc & 0x03 {
        1 => return short(CellType::Key, 1, 0),
        2 => {
            let prefix = *image
                .get(pos + 1)
                .ok_or_else(|| bad("prefix byte past the end of the page".into()))?;
            return short(CellType::KeyPfx, 2, prefix);
        }
        3 => return short(CellType::Value, 1, 0),
        _ => {}
    }
    let cell_type = CellType::from_desc(desc).ok_or(CellError::Unknown(desc))?;
    let mut r = Reader::new(&image[pos + 1..]);
    let mut prefix = 0;
    if cell_type == CellType::KeyPfx {
        prefix = r
            .byte()
            .map_err(|_| bad("prefix byte past the end of the page".into()))?;
    }
    let mut window = None;
    if desc & 0x08 != 0 {
        if !cell_type.has_window() {
            return Err(CellError::Unknown(desc));
        }
        let flags = r
            .byte()
            .map_err(|_| bad("second descriptor past the end of the page".into()))?;
        window = Some(TimeWindow::read(&mut r, flags).map_err(bad)?);
    }
    if cell_type == CellType::AddrDel
        && page_flags & crate::format::page::page_flags::FT_UPDATE != 0
    {
        for what in [
            "truncate transaction",
            "truncate timestamp",
            "truncate durable timestamp",
        ] {
            r.uint().map_err(|e| bad(format!("{what}: {e}")))?;
        }
    }
    let mut v = 0;
    if desc & 0x04 != 0 {
        v = r.uint().map_err(|e| bad(format!("RLE value: {e}")))?;
    }
    let mut copy_of = None;
    let data_len = match cell_type {
        CellType::ValueCopy => {
            let back = r.uint().map_err(|e| bad(format!("copy offset: {e}")))?;
            let target = usize::try_from(back)
                .ok()
                .and_then(|b| pos.checked_sub(b))
                .filter(|&t| t < pos)
                .ok_or_else(|| {
                    bad(format!(
                        "value copy points {back} bytes back from page byte {pos}"
                    ))
                })?;
            copy_of = Some(target);
            0
        }
        CellType::Del => 0,
        _ => {
            let mut n = r.uint().map_err(|e| bad(format!("data length: {e}")))?;
            let adjust = match cell_type {
                CellType::Key | CellType::KeyPfx => true,
                CellType::Value => v == 0 && window.is_none(),
                _ => false,
            };
            if adjust {
                n = n
                    .checked_add(64)
                    .ok_or_else(|| bad("data length overflows".into()))?;
            }
            usize::try_from(n).map_err(|_| bad("data length overflows".into()))?
        }
    };
    let start = pos + 1 + r.pos();
    let end = start
        .checked_add(data_len)
        .filter(|&e| e <= image.len())
        .ok_or_else(|| {
            bad(format!(
                "{data_len} data bytes run past the end of the page ({} bytes)",
                image.len()
            ))
        })?;
    Ok(Cell {
        cell_type,
        prefix,
        data: start..end,
        window,
        v,
        copy_of,
        len: end - pos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::intpack::pack_uint;

    fn one(bytes: &[u8]) -> Cell {
        let c = unpack(bytes, 0, 0).unwrap();
        assert_eq!(c.len, bytes.len(), "cell length");
        c
    }

    #[test]
    fn short_cells() {
        // RecordId 1 → key bytes `81` → cell `05 81`.
        let c = one(&[0x05, 0x81]);
        assert_eq!((c.cell_type, c.data), (CellType::Key, 1..2));
        // RecordId 1000 → `c3 a8` → cell `09 c3 a8`.
        let c = one(&[0x09, 0xc3, 0xa8]);
        assert_eq!((c.cell_type, c.data), (CellType::Key, 1..3));
        // A short key with prefix 4 and 2 bytes of suffix.
        let c = one(&[0x0a, 4, b'x', b'y']);
        assert_eq!((c.cell_type, c.prefix, c.data), (CellType::KeyPfx, 4, 2..4));
        // A short value of 5 bytes.
        let c = one(&[0x17, 1, 2, 3, 4, 5]);
        assert_eq!((c.cell_type, c.data), (CellType::Value, 1..6));
        assert!(c.window.is_none());
    }

    #[test]
    fn long_value_without_window() {
        // 300 bytes: 300 − 64 = 236 → `c0 ac`.
        let mut cell = vec![0x80, 0xc0, 0xac];
        cell.extend(std::iter::repeat_n(7u8, 300));
        let c = one(&cell);
        assert_eq!((c.cell_type, c.data), (CellType::Value, 3..303));
    }

    #[test]
    fn long_value_with_start_window() {
        // `8c 28 <ts> <txn> 80 <len unadjusted>`: start ts + start txn, RLE 0.
        let mut cell = vec![0x8c, 0x28];
        pack_uint(&mut cell, 0x6775_1541_0000_0008);
        pack_uint(&mut cell, 1234);
        cell.push(0x80);
        pack_uint(&mut cell, 300);
        let head = cell.len();
        cell.extend(std::iter::repeat_n(7u8, 300));
        let c = one(&cell);
        assert_eq!(c.data, head..head + 300);
        let w = c.window.unwrap();
        assert_eq!(w.start_ts, 0x6775_1541_0000_0008);
        assert_eq!(w.start_txn, 1234);
        assert_eq!(w.durable_start_ts, w.start_ts);
        assert_eq!(
            (w.stop_ts, w.stop_txn, w.durable_stop_ts),
            (TS_MAX, TXN_MAX, 0)
        );
        assert!(!w.has_stop() && !w.is_prepared());
    }

    #[test]
    fn deleted_value_window() {
        // Start ts 20, stop ts 45 (stored as +25), stop txn (stored relative), durable stop +1.
        let mut cell = vec![0x8c, 0x08 | 0x10 | 0x20 | 0x40 | 0x04];
        pack_uint(&mut cell, 20); // start ts
        pack_uint(&mut cell, 100); // start txn
        pack_uint(&mut cell, 25); // stop ts − start ts
        pack_uint(&mut cell, 5); // stop txn − start txn
        pack_uint(&mut cell, 1); // durable stop − stop ts
        cell.push(0x80); // RLE 0
        cell.push(0x83); // length 3
        cell.extend([1, 2, 3]);
        let c = one(&cell);
        let w = c.window.unwrap();
        assert_eq!((w.start_ts, w.stop_ts, w.durable_stop_ts), (20, 45, 46));
        assert_eq!((w.start_txn, w.stop_txn), (100, 105));
        assert!(w.has_stop());
        assert_eq!(&cell[c.data], &[1, 2, 3]);
    }

    #[test]
    fn copy_overflow_address_and_key_cells() {
        // A value copy 10 bytes back, with a window of its own (stop txn only).
        let mut page = vec![0u8; 10];
        page.extend([0x9c, 0x40, 0x85, 0x80, 0x8a]);
        let c = unpack(&page, 10, 0).unwrap();
        assert_eq!(c.cell_type, CellType::ValueCopy);
        assert_eq!(c.copy_of, Some(0));
        assert_eq!(c.len, 5);
        assert!(c.window.unwrap().has_stop());
        // A copy pointing before the page start is refused.
        assert!(matches!(unpack(&page[5..], 5, 0), Err(CellError::Bad(_))));
        // Overflow value: length not adjusted.
        let c = one(&[0xa0, 0x83, 0x83, 0x81, 0x99]);
        assert_eq!((c.cell_type, c.data), (CellType::ValueOvfl, 2..5));
        // Long key: length + 64.
        let mut k = vec![0x50, 0x80];
        k.extend([9u8; 64]);
        assert_eq!(one(&k).data, 2..66);
        // Long prefix key.
        let mut k = vec![0x70, 12, 0x81];
        k.extend([9u8; 65]);
        let c = one(&k);
        assert_eq!((c.prefix, c.data), (12, 3..68));
        // Leaf address with a time aggregate, and a fast-truncated child.
        let c = one(&[0x28, 0x08, 0x85, 0x83, 0x83, 0x81, 0x99]);
        assert_eq!(c.cell_type, CellType::AddrLeaf);
        assert_eq!(c.window.unwrap().start_ts, 5);
        let c = one(&[0x00, 0x83, 0x83, 0x81, 0x99]);
        assert_eq!(c.cell_type, CellType::AddrDel);
        // With the fast-truncate page flag, three integers precede the length.
        let c = unpack(&[0x00, 0x81, 0x82, 0x83, 0x83, 0x83, 0x81, 0x99], 0, 0x20).unwrap();
        assert_eq!(c.data, 5..8);
    }

    #[test]
    fn damaged_cells() {
        assert_eq!(unpack(&[0xd0, 0], 0, 0), Err(CellError::Unknown(0xd0)));
        assert_eq!(unpack(&[0xf0], 0, 0), Err(CellError::Unknown(0xf0)));
        // A key cell may not carry a window.
        assert_eq!(unpack(&[0x58, 0, 0], 0, 0), Err(CellError::Unknown(0x58)));
        assert!(matches!(unpack(&[0x0d, 1], 0, 0), Err(CellError::Bad(_))));
        assert!(matches!(
            unpack(&[0x80, 0xc0], 0, 0),
            Err(CellError::Bad(_))
        ));
        assert!(matches!(
            unpack(&[0x80, 0x90, 1], 0, 0),
            Err(CellError::Bad(_))
        ));
        assert!(matches!(unpack(&[], 0, 0), Err(CellError::Bad(_))));
    }
}
