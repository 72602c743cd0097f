//! Differential test against pymongo, an encoder and Extended JSON writer we did not write.
//!
//! An inline Python script (below) builds a few thousand random documents with a fixed seed
//! over every type pymongo can build — nested documents and arrays, int32/int64 edges, doubles
//! (±0.0, NaN, ±inf, subnormal, extremes, random bit patterns), strings with quotes,
//! backslashes, control characters, DEL, U+2028/U+2029, BOM and astral characters, binary of
//! subtypes 0–8, 0x80, 0xff (0x02 "old binary" with its inner length), ObjectIds, dates
//! (negative, epoch, year 9999, year 10000, the int64 extremes), regexes with flags, code,
//! code with scope, timestamps (u32 edges), Decimal128 (NaN, ±Infinity, exponent extremes,
//! random bit patterns including non-canonical ones), MinKey/MaxKey, DBRefs — and prints,
//! per document, the BSON (`bson.encode`) and `json_util.dumps` of the decoded document with
//! CANONICAL_JSON_OPTIONS and RELAXED_JSON_OPTIONS.
//!
//! Both JSON texts are parsed with serde_json and compared structurally, keys in order; our
//! bytes must also be compact and escaped exactly like the Go writer (`common::go_escape`).
//! Known differences between pymongo and the spec / the Go spellings, and how they are treated:
//! - Doubles: pymongo prints Python's `repr` (`1234567.0`, `1e-05`, `1e+16`) where Go prints
//!   `1.234567E+06`, `1E-05`, `1E+16`. Allowed when both are the same f64, bit for bit, and
//!   ours keeps a fraction or exponent. The exact Go layout is checked separately below against
//!   a Python implementation of Go's `'G'` format.
//! - Strings: pymongo escapes all non-ASCII as `\uXXXX` (ensure_ascii); parsing makes this moot.
//! - Deprecated types (Undefined, Symbol, DBPointer) cannot be built by pymongo: the corpus
//!   covers them.
//! - Keys never start with `$` here: pymongo turns a sub-document with `$ref` and `$id` into a
//!   DBRef and would print it in DBRef key order rather than BSON order.
//! - Relaxed dates: pymongo prints exactly three fraction digits, like the spec and like us
//!   (Go trims trailing zeros); no normalisation.
//! - Decimal128: pymongo prints every NaN (signed, signalling) as `NaN`, as the corpus does.

mod common;

use bsonflow_ejson::{write_document, Mode};
use common::{check_compact_go_style, hex, same_double};
use serde_json::Value;

const GENERATOR: &str = r#"
import math, random, struct, sys

import bson
from bson import DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.binary import Binary
from bson.code import Code
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.json_util import CANONICAL_JSON_OPTIONS, RELAXED_JSON_OPTIONS, dumps

seed, count = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(seed)

PIECES = ["a", "Z", "0", " ", "hello world", '"', "\\", "/", "\n", "\r", "\t", "\b", "\f",
          "\x00", "\x01", "\x1f", "\x7f", "\x80", "\u00e9", "\u2606", "\U0001F600", "\u2028",
          "\u2029", "\u2027", "<>&", "\u00a0", "\ufeff", "$", "."]

def text(allow_nul=True):
    r = rng.random()
    if r < 0.15:
        s = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789 _-") for _ in range(rng.randrange(8, 120)))
    else:
        s = "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 8)))
    return s if allow_nul else s.replace("\x00", "")

def key():
    k = text(allow_nul=False)
    return k[:1].replace("$", "_") + k[1:]  # no $-prefixed keys: "$ref"/"$id" pairs would turn into DBRefs

DOUBLES = [0.0, -0.0, float("nan"), float("inf"), float("-inf"), 5e-324, -5e-324,
           2.2250738585072014e-308, 2.225073858507201e-308, 1.7976931348623157e308, 1.0, -1.5,
           0.1, 1e6, 999999.0, 1234567.0, 1e-5, 0.0001, 0.00012345, 100000.0, 123456.0, 1e21,
           1e16, 1e100, 17.76, 2.5, 4.01]

def double():
    r = rng.random()
    if r < 0.3:
        return rng.choice(DOUBLES)
    if r < 0.6:
        return struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
    if r < 0.8:
        return rng.uniform(-1e7, 1e7)
    return round(rng.uniform(-1000, 1000), rng.randrange(0, 7))

INT32 = [0, 1, -1, 2**31 - 1, -2**31, 42, -100000]
INT64 = [0, -1, 2**63 - 1, -2**63, 2**31, -2**31 - 1, 2**53 + 1]
DATES = [0, 1, -1, 500, 1356351330501, 1356351330001, 951782400000, 253402300799999,
         253402300800000, -62135596800000, -62135596800001, 2**63 - 1, -2**63, -284643869501]
DECIMALS = ["0", "-0", "1", "-1", "1.5", "0.000001", "1E-7", "1E+10", "-1.23E-20", "NaN",
            "-NaN", "sNaN", "Infinity", "-Infinity",
            "1234567890123456789012345678901234", "9.999999999999999999999999999999999E+6144",
            "1E-6176", "-0E+3", "0.00", "1000", "1.000E+3", "123.456E-10"]

def decimal():
    r = rng.random()
    if r < 0.4:
        return Decimal128(rng.choice(DECIMALS))
    if r < 0.7:
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 35)))
        return Decimal128(f"{rng.choice(['', '-'])}{digits}E{rng.randrange(-6176 + 34, 6111 - 34)}")
    return Decimal128.from_bid(bytes(rng.getrandbits(8) for _ in range(16)))

def binary():
    sub = rng.choice([0, 0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 0x80, 0xff])
    data = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 2, 3, 16, rng.randrange(0, 64)])))
    return data if sub == 0 and rng.random() < 0.5 else Binary(data, sub)

def value(depth):
    kinds = ["double", "string", "doc", "array", "binary", "oid", "bool", "date", "null",
             "regex", "code", "codews", "int32", "timestamp", "int64", "decimal", "minkey",
             "maxkey", "dbref"]
    if depth >= 4:
        kinds = [k for k in kinds if k not in ("doc", "array", "codews", "dbref")]
    k = rng.choice(kinds)
    if k == "double": return double()
    if k == "string": return text()
    if k == "doc": return document(depth + 1)
    if k == "array": return [value(depth + 1) for _ in range(rng.randrange(0, 6))]
    if k == "binary": return binary()
    if k == "oid": return ObjectId(bytes(rng.getrandbits(8) for _ in range(12)))
    if k == "bool": return rng.random() < 0.5
    if k == "date":
        r = rng.random()
        if r < 0.3: return DatetimeMS(rng.choice(DATES))
        if r < 0.8: return DatetimeMS(rng.randrange(0, 253402300800000))
        if r < 0.9: return DatetimeMS(rng.randrange(0, 253402300800000) // 1000 * 1000)
        return DatetimeMS(rng.randrange(-2**63, 2**63))
    if k == "null": return None
    if k == "regex":
        flags = "".join(f for f in "ilmsux" if rng.random() < 0.3)
        return Regex(text(allow_nul=False), flags)
    if k == "code": return Code(text())
    if k == "codews": return Code(text(), scope=document(depth + 1))
    if k == "int32": return rng.choice(INT32) if rng.random() < 0.5 else rng.randrange(-2**31, 2**31)
    if k == "timestamp":
        return Timestamp(rng.choice([0, 1, 2**32 - 1, rng.randrange(2**32)]),
                         rng.choice([0, 1, 2**32 - 1, rng.randrange(2**32)]))
    if k == "int64": return Int64(rng.choice(INT64) if rng.random() < 0.5 else rng.randrange(-2**63, 2**63))
    if k == "decimal": return decimal()
    if k == "minkey": return MinKey()
    if k == "maxkey": return MaxKey()
    if k == "dbref":
        extra = {"extra": value(depth + 1)} if rng.random() < 0.3 else {}
        return DBRef(text(allow_nul=False), value(depth + 1),
                     rng.choice([None, "db"]), **extra)
    raise AssertionError(k)

def document(depth):
    d = {}
    for _ in range(rng.randrange(0, 8)):
        d[key()] = value(depth)
    return d

opts = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
out = sys.stdout
for i in range(count):
    doc = document(0)
    if rng.random() < 0.5:
        doc["_id"] = ObjectId(bytes(rng.getrandbits(8) for _ in range(12)))
    data = bson.encode(doc)
    back = bson.decode(data, codec_options=opts)
    out.write(data.hex())
    out.write("\t")
    out.write(dumps(back, json_options=CANONICAL_JSON_OPTIONS))
    out.write("\t")
    out.write(dumps(back, json_options=RELAXED_JSON_OPTIONS))
    out.write("\n")
"#;

#[derive(Default, Debug)]
struct Stats {
    documents: usize,
    bson_bytes: usize,
    /// `$numberDouble` strings spelled differently from pymongo (canonical mode).
    double_respellings: usize,
    /// Bare doubles compared as f64 (relaxed mode; their spelling is not visible after parsing).
    bare_doubles: usize,
    values: usize,
}

/// Compares `ours` with pymongo's `theirs`: same structure, keys in the same order, equal
/// scalars, doubles allowed to be spelled differently as described in the module doc.
fn compare(
    theirs: &Value,
    ours: &Value,
    path: &mut String,
    stats: &mut Stats,
) -> Result<(), String> {
    stats.values += 1;
    match (theirs, ours) {
        (Value::Object(t), Value::Object(o)) => {
            if t.len() != o.len() {
                return Err(format!(
                    "{path}: {} keys expected, {} written",
                    t.len(),
                    o.len()
                ));
            }
            let double = t.len() == 1 && t.contains_key("$numberDouble");
            for ((tk, tv), (ok, ov)) in t.iter().zip(o.iter()) {
                if tk != ok {
                    return Err(format!("{path}: key {tk:?} expected, {ok:?} written"));
                }
                if double {
                    let (Value::String(ts), Value::String(os)) = (tv, ov) else {
                        return Err(format!("{path}: $numberDouble is not a string"));
                    };
                    if ts != os {
                        if !same_double(ts, os) {
                            return Err(format!("{path}: double {ts} expected, {os} written"));
                        }
                        stats.double_respellings += 1;
                    }
                    continue;
                }
                let len = path.len();
                path.push('.');
                path.push_str(tk);
                compare(tv, ov, path, stats)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::Array(t), Value::Array(o)) => {
            if t.len() != o.len() {
                return Err(format!(
                    "{path}: {} items expected, {} written",
                    t.len(),
                    o.len()
                ));
            }
            for (i, (tv, ov)) in t.iter().zip(o).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                compare(tv, ov, path, stats)?;
                path.truncate(len);
            }
            Ok(())
        }
        (Value::Number(t), Value::Number(o)) if t.is_f64() || o.is_f64() => {
            let (Some(tf), Some(of)) = (t.as_f64(), o.as_f64()) else {
                unreachable!()
            };
            if !(t.is_f64() && o.is_f64() && tf.to_bits() == of.to_bits()) {
                return Err(format!("{path}: number {t} expected, {o} written"));
            }
            stats.bare_doubles += 1;
            Ok(())
        }
        _ if theirs == ours => Ok(()),
        _ => Err(format!("{path}: {theirs} expected, {ours} written")),
    }
}

#[test]
fn random_documents_agree_with_pymongo() {
    let Some(py) = bsonflow_testkit::python(&["bson"]) else {
        return;
    };
    let out = bsonflow_testkit::run_python(&py, GENERATOR, &["20240601", "3000"]);
    let text = String::from_utf8(out).expect("the generator prints UTF-8");
    let mut stats = [Stats::default(), Stats::default()];
    let mut failures = Vec::new();
    let mut json = Vec::new();
    for (line_no, line) in text.lines().enumerate() {
        let mut fields = line.split('\t');
        let (Some(h), Some(canonical), Some(relaxed)) =
            (fields.next(), fields.next(), fields.next())
        else {
            panic!("line {line_no}: expected hex, canonical and relaxed JSON");
        };
        let bson = hex(h);
        for (i, (mode, expected)) in [(Mode::Canonical, canonical), (Mode::Relaxed, relaxed)]
            .into_iter()
            .enumerate()
        {
            json.clear();
            if let Err(e) = write_document(&mut json, &bson, mode) {
                failures.push(format!("document {line_no} ({mode:?}): rejected: {e}"));
                continue;
            }
            // Escaping is invisible after parsing: check it on the bytes (compact, Go style).
            if let Err(e) = check_compact_go_style(std::str::from_utf8(&json).expect("UTF-8")) {
                failures.push(format!("document {line_no} ({mode:?}): {e}"));
                continue;
            }
            let ours: Value = match serde_json::from_slice(&json) {
                Ok(v) => v,
                Err(e) => {
                    failures.push(format!(
                        "document {line_no} ({mode:?}): not JSON ({e}): {}",
                        String::from_utf8_lossy(&json)
                    ));
                    continue;
                }
            };
            let theirs: Value = serde_json::from_str(expected).expect("pymongo's JSON parses");
            let mut path = String::from("$");
            let s = &mut stats[i];
            s.documents += 1;
            s.bson_bytes += bson.len();
            if let Err(e) = compare(&theirs, &ours, &mut path, s) {
                failures.push(format!(
                    "document {line_no} ({mode:?}): {e}\n pymongo: {expected}\n ours:    {}",
                    String::from_utf8_lossy(&json)
                ));
            }
        }
    }
    println!("canonical: {:?}", stats[0]);
    println!("relaxed:   {:?}", stats[1]);
    assert!(
        failures.is_empty(),
        "{} failures, first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );
    assert_eq!(stats[0].documents, 3000);
}

/// Go's `strconv.FormatFloat(f, 'G', -1, 64)` plus `.0`, implemented in Python from `repr`'s
/// shortest digits (independently of ryu and of our layout code).
const GO_DOUBLES: &str = r#"
import decimal, math, random, struct, sys
rng = random.Random(int(sys.argv[1]))

def go_g(f):
    if f == 0:
        return "-0.0" if math.copysign(1.0, f) < 0 else "0.0"
    sign, digits, exp = decimal.Decimal(repr(f)).as_tuple()
    digits = list(digits)
    while digits[-1] == 0:
        digits.pop(); exp += 1
    while digits[0] == 0:
        digits.pop(0)
    ds = "".join(map(str, digits))
    x = exp + len(ds) - 1          # decimal exponent of the first digit
    if x < -4 or x >= 6:
        s = ds[0] + ("." + ds[1:] if len(ds) > 1 else "") + "E" + ("-" if x < 0 else "+") + "%02d" % abs(x)
    elif x >= 0:
        s = ds[: x + 1].ljust(x + 1, "0") + ("." + ds[x + 1:] if len(ds) > x + 1 else "")
    else:
        s = "0." + "0" * (-x - 1) + ds
    if "." not in s and "E" not in s:
        s += ".0"
    return ("-" if sign else "") + s

for i in range(int(sys.argv[2])):
    r = rng.random()
    if r < 0.5:
        f = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
    elif r < 0.7:
        f = rng.uniform(-1e7, 1e7)
    elif r < 0.85:
        f = float(rng.randrange(-10**7, 10**7)) * 10.0 ** rng.randrange(-8, 9)
    else:
        f = round(rng.uniform(-1e4, 1e4), rng.randrange(0, 8))
    if math.isnan(f) or math.isinf(f):
        continue
    print(struct.pack("<d", f).hex(), go_g(f))
"#;

#[test]
fn doubles_match_go_layout_computed_in_python() {
    let Some(py) = bsonflow_testkit::python(&[]) else {
        return;
    };
    let out = bsonflow_testkit::run_python(&py, GO_DOUBLES, &["7", "100000"]);
    let text = String::from_utf8(out).unwrap();
    let mut checked = 0;
    let mut json = Vec::new();
    for line in text.lines() {
        let (h, want) = line.split_once(' ').unwrap();
        // {"d": <double>}
        let mut doc = vec![0x10, 0, 0, 0, 0x01, b'd', 0];
        doc.extend_from_slice(&hex(h));
        doc.push(0);
        json.clear();
        write_document(&mut json, &doc, Mode::Canonical).unwrap();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            format!(r#"{{"d":{{"$numberDouble":"{want}"}}}}"#),
            "bits {h}"
        );
        json.clear();
        write_document(&mut json, &doc, Mode::Relaxed).unwrap();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            format!(r#"{{"d":{want}}}"#)
        );
        checked += 1;
    }
    println!("{checked} doubles laid out exactly as Go's 'G' format (Python reference)");
    assert!(checked > 90_000);
}
