#!/usr/bin/env python3
"""Whole-binary mutation test of `bsonflow convert`.

usage: python3 xtask/mutate.py [--seed S] [--count N] [--kinds k1,k2] [--budget SECONDS]
                               [--timeout SECONDS] [--bin PATH] [--no-build] [--findings DIR]
                               [--keep-work] [--verbose]
       python3 xtask/mutate.py --replay FINDING_DIR_OR_CASE_JSON
       python3 xtask/mutate.py --list-kinds
       (also `cargo xtask mutate …`)

What it does, per case:
1. takes a valid input written by tools we did not write (pymongo's `bson`, Python's
   `tarfile`/`gzip`/`zstandard`, mongo-tools' own archives, the spec-based archive writer
   `crates/sources/tests/common/make_mongodump_archive.py`, real mongod data directories);
2. mutates it (generic byte mutations and format-aware ones: tar end-of-archive marker,
   tar header checksum, lying pax size, lying size fields, deflate damage only the CRC-32
   catches, wrong ISIZE, garbage after the last gzip member / zstd frame, CRC-only archive
   damage, ...), chosen from a per-case seed;
3. decides, with Python only (pymongo's `bson`, `gzip`/`zlib`, `zstandard`, `tarfile`, and
   a strict walker written from the tar / gzip / mongodump-archive specs), whether the
   mutated input is still whole and valid and which documents it holds per namespace.
   Verdicts: `valid` (exit 0 and exactly these documents), `invalid` (exit 1, no
   `.complete`, an error naming the file and a byte offset), `either` (the specs leave it
   open, e.g. zero padding after a gzip member: exit 0 with exactly the documents, or a
   proper exit 1);
4. runs `bsonflow convert INPUT --out DIR` in a fresh temp dir under a time limit and
   `ulimit -v` (1 GiB), and checks the promise: never a crash / hang / runaway memory /
   file outside DIR, exit status and `.complete` as the verdict requires, the exported
   documents (every chunk decompressed, every line parsed with `bson.json_util.loads`)
   equal to the oracle's, in order.

   With `--skip-corrupt` (added to a fifth of the BSON / folder / tar cases) the oracle also
   runs a lenient pass (a document with a sound length that pymongo rejects is dropped):
   when only such documents are damaged, the run must exit 3 with exactly the others.

What is left open (`either`), and why: zero bytes after the last gzip member (gzip(1)
ignores them); reserved gzip FLG bits / a wrong FHCRC; non-zero bytes after the tar
end-of-archive marker that are not a tar header; a lone zero block; a member whose padding
is cut; a member twice; members that leave the set (`../`, absolute: must be refused or
ignored, never written); damage only in namespaces that are never exported (admin,
system.*); metadata that parses but has an unusual shape; an empty input; for a physical
backup, a data directory whose files changed but whose tar.gz is intact (exit 0 must
still give the original folder's export).

Every finding is printed on one line (`FINDING [soft] class=… kind=… seed=… mutation=…
expected=… got=… stderr_tail=…`), grouped by class + error text at the end, and the inputs
of the first --save-per-class cases of each group are saved under the findings folder
(default target/mutate-findings/campaign-SEED/KIND-sSEED/: input/, case.json with the exact
command, stderr.txt, stdout.txt) and can be replayed with `--replay`. The same case can also
be regenerated with `--kinds KIND --seed SEED --count 1`. Exit status: 0 when no finding,
1 otherwise.
"""
import argparse
import datetime
import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zlib
from pathlib import Path

import bson
import zstandard
from bson import json_util
from bson.binary import Binary
from bson.code import Code
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.objectid import ObjectId
from bson.regex import Regex
from bson.timestamp import Timestamp

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "testdata"
ARCHIVE_WRITER = ROOT / "crates/sources/tests/common/make_mongodump_archive.py"
MEM_LIMIT = 1 << 30  # ulimit -v 1048576 (KiB)
MAX_DOC = 16 * 1024 * 1024 + 16 * 1024
RSS_DIR = None  # where run_bsonflow's GNU time writes the peak RSS (set to the work folder)

CODEC = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO,
                     unicode_decode_error_handler="strict")
JSON_IN = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL,
                                datetime_conversion=DatetimeConversion.DATETIME_AUTO)
JSON_OUT = json_util.JSONOptions(json_mode=json_util.JSONMode.CANONICAL,
                                 datetime_conversion=DatetimeConversion.DATETIME_AUTO)

KINDS = {
    # kind: (family, what)
    "bson": ("bson", "single .bson file (pymongo), --ns shop.orders"),
    "bson-gz": ("bson", "single .bson.gz file, --ns shop.orders"),
    "bson-zst": ("bson", "single .bson.zst file, --ns shop.orders"),
    "folder": ("folder", "mongodump folder <db>/<coll>.bson + .metadata.json"),
    "cloud-folder": ("folder", "cloud layout folder <db>/<coll>/data/<coll>_<N>_part<M>.bson"),
    "tar-dump": ("tar", ".tar (pax, leading folders) of a mongodump folder"),
    "tgz-dump": ("tar", ".tar.gz (gnu) of a mongodump folder"),
    "tzst-dump": ("tar", ".tar.zst (ustar, leading folders) of a mongodump folder"),
    "tar-cloud": ("tar", ".tar (gnu, shuffled parts) of the cloud layout"),
    "tgz-cloud": ("tar", ".tar.gz (pax, shuffled parts, 3 gzip members) of the cloud layout"),
    "tzst-cloud": ("tar", ".tar.zst (ustar, reversed parts, 2 zstd frames) of the cloud layout"),
    "archive": ("archive", "mongodump --archive: mongo-tools' own archives + the spec writer's"),
    "archive-gz": ("archive", "gzipped mongodump --archive (ApsaraDB .ar)"),
    "archive-zst": ("archive", "zstd mongodump --archive"),
    "physical-tgz": ("physical", ".tar.gz of a real mongod data directory (real-dbpaths)"),
}

BASE_TIME = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


# ------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------

class Invalid(Exception):
    """The oracle's reason why an input is not whole and valid."""


def norm_doc(obj):
    """One document as a canonical Extended JSON string (the comparison key)."""
    return json_util.dumps(obj, json_options=JSON_OUT)


def decode_doc(raw, where):
    try:
        return norm_doc(bson.decode(raw, codec_options=CODEC))
    except Exception as e:  # InvalidBSON, UnicodeDecodeError, OverflowError, ...
        raise Invalid(f"{where}: pymongo rejects the document: {type(e).__name__}: {e}")


# With --skip-corrupt, the oracle runs a second, lenient pass: a document whose frame (length)
# is sound but which pymongo rejects is counted and dropped; a broken frame ends the stream.
LENIENT = None


def bson_stream(data, where):
    """Documents of a BSON stream (a .bson file), strictly: lengths, then pymongo."""
    docs = []
    pos = 0
    while pos < len(data):
        try:
            if len(data) - pos < 4:
                raise Invalid(f"{where}: {len(data) - pos} stray bytes at the end (byte {pos})")
            (n,) = struct.unpack_from("<i", data, pos)
            if n < 5 or n > MAX_DOC:
                raise Invalid(f"{where}: bad document length {n} at byte {pos}")
            if pos + n > len(data):
                raise Invalid(f"{where}: document at byte {pos} (length {n}) runs past the end ({len(data)})")
        except Invalid:
            if LENIENT is None:
                raise
            LENIENT["broken"] = True
            return docs
        try:
            docs.append(decode_doc(data[pos:pos + n], f"{where} byte {pos}"))
        except Invalid:
            if LENIENT is None:
                raise
            LENIENT["bad"] += 1
        pos += n
    return docs


def doc_offsets(data):
    """Start offsets of the documents of a valid BSON stream (for length mutations)."""
    out, pos = [], 0
    while pos + 4 <= len(data):
        (n,) = struct.unpack_from("<i", data, pos)
        if n < 5:
            break
        out.append(pos)
        pos += n
    return out


def crc64_table():
    poly = 0xC96C5795D7870F42
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


_CRC64 = crc64_table()


def crc64(data, crc=0):
    crc ^= 0xFFFFFFFFFFFFFFFF
    t = _CRC64
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


assert crc64(b"123456789") == 0x995DC9BBDF1939FA


# ------------------------------------------------------------------------------------------
# Skip rules (README "What it skips"): applied to the oracle's namespaces
# ------------------------------------------------------------------------------------------

def meta_kind(meta, record_type=None):
    if isinstance(meta, dict):
        t = meta.get("type")
        opts = meta.get("options") if isinstance(meta.get("options"), dict) else {}
        if t == "view" or "viewOn" in opts:
            return "view"
        if t == "timeseries" or "timeseries" in opts:
            return "timeseries"
    if record_type in ("view", "timeseries"):
        return record_type
    return "collection"


def skipped(db, coll, meta=None, record_type=None):
    if db in ("admin", "local", "config") or db == "":
        return True
    if coll.startswith("system."):
        return True
    if "/" in db or "/" in coll or "$" in db or "$" in coll:
        return True
    if meta_kind(meta, record_type) != "collection":
        return True
    return False


def parse_metadata(text, where):
    """A metadata.json text: (parsed, plausible). Not JSON -> Invalid."""
    try:
        m = json_util.loads(text, json_options=JSON_IN)
    except Exception as e:
        raise Invalid(f"{where}: metadata is not JSON: {type(e).__name__}: {e}")
    ok = isinstance(m, dict)
    if ok:
        ok = (isinstance(m.get("options", {}), dict)
              and isinstance(m.get("indexes", []), list)
              and all(isinstance(i, dict) for i in m.get("indexes", []))
              and isinstance(m.get("collectionName", ""), str)
              and m.get("type", "collection") in ("collection", "view", "timeseries")
              and (m.get("uuid") is None or (isinstance(m.get("uuid"), str)
                                             and re.fullmatch(r"[0-9a-f]{32}", m["uuid"]))))
    return m, ok


# ------------------------------------------------------------------------------------------
# Verdicts
# ------------------------------------------------------------------------------------------

class Verdict:
    def __init__(self):
        self.status = "valid"   # valid | invalid | either
        self.reasons = []       # why invalid / either
        # ns -> {"alts": [list of norm docs, ...], "optional": bool}
        self.expected = {}
        self.reference = None   # physical: the folder's export {ns: [docs]}
        self.empty = False      # the input (or its decompressed content) is empty: no offset to give
        self.lenient = None     # (Verdict, stats) of the --skip-corrupt pass

    def either(self, why):
        if self.status == "valid":
            self.status = "either"
        self.reasons.append("(either) " + why)

    def expect(self, ns, docs, optional=False):
        e = self.expected.setdefault(ns, {"alts": [], "optional": optional})
        if docs not in e["alts"]:
            e["alts"].append(docs)
        e["optional"] = e["optional"] and optional

    def summary(self):
        return {"status": self.status, "reasons": self.reasons[:6],
                "namespaces": {ns: [len(a) for a in e["alts"]] for ns, e in self.expected.items()}}


# ------------------------------------------------------------------------------------------
# Compression layers, strictly (RFC 1952 for gzip, RFC 8878 frame magic for zstd)
# ------------------------------------------------------------------------------------------

def peel(data, v, where):
    """Returns the decompressed payload (or the data itself when not compressed)."""
    if data[:2] == b"\x1f\x8b":
        out = gunzip_strict(data, v, where)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        out = unzstd_strict(data, v, where)
    else:
        out = data
    if not out:
        v.empty = True
        v.either("the input holds nothing (empty file or empty stream): nothing says what it is")
    return out


def gunzip_strict(data, v, where):
    out = bytearray()
    pos = 0
    member = 0
    while True:
        start = pos
        if len(data) - pos < 10:
            raise Invalid(f"{where}: gzip member {member} header truncated at byte {pos}")
        if data[pos:pos + 2] != b"\x1f\x8b":
            raise Invalid(f"{where}: no gzip magic at byte {pos}")
        cm, flg = data[pos + 2], data[pos + 3]
        if cm != 8:
            raise Invalid(f"{where}: gzip method {cm} at byte {pos}")
        if flg & 0xE0:
            v.either(f"gzip member {member}: reserved FLG bits set ({flg:#x}) at byte {pos + 3}")
        pos += 10
        try:
            if flg & 4:  # FEXTRA
                (xlen,) = struct.unpack_from("<H", data, pos)
                pos += 2 + xlen
                if pos > len(data):
                    raise Invalid(f"{where}: gzip FEXTRA runs past the end")
            for bit in (8, 16):  # FNAME, FCOMMENT
                if flg & bit:
                    z = data.index(b"\x00", pos)
                    pos = z + 1
            if flg & 2:  # FHCRC
                if pos + 2 > len(data):
                    raise Invalid(f"{where}: gzip FHCRC truncated")
                (hcrc,) = struct.unpack_from("<H", data, pos)
                if hcrc != zlib.crc32(data[start:pos]) & 0xFFFF:
                    v.either(f"gzip member {member}: header CRC16 mismatch")
                pos += 2
        except (ValueError, struct.error):
            raise Invalid(f"{where}: gzip member {member} header truncated")
        d = zlib.decompressobj(-15)
        try:
            chunk = d.decompress(data[pos:])
            chunk += d.flush()
        except zlib.error as e:
            raise Invalid(f"{where}: gzip member {member}: deflate error {e}")
        if not d.eof:
            raise Invalid(f"{where}: gzip member {member}: deflate stream truncated")
        rest = d.unused_data
        pos = len(data) - len(rest)
        if len(rest) < 8:
            raise Invalid(f"{where}: gzip member {member}: trailer truncated at byte {pos}")
        crc, isize = struct.unpack_from("<II", data, pos)
        if crc != zlib.crc32(chunk):
            raise Invalid(f"{where}: gzip member {member}: CRC-32 mismatch at byte {pos}")
        if isize != len(chunk) & 0xFFFFFFFF:
            raise Invalid(f"{where}: gzip member {member}: ISIZE {isize} != {len(chunk)} at byte {pos + 4}")
        out += chunk
        pos += 8
        member += 1
        if pos == len(data):
            return bytes(out)
        if data[pos:pos + 2] != b"\x1f\x8b":
            tail = data[pos:]
            if tail.count(0) == len(tail):
                v.either(f"{len(tail)} zero bytes after the last gzip member (gzip(1) ignores them)")
                return bytes(out)
            raise Invalid(f"{where}: {len(tail)} bytes of garbage after gzip member {member - 1} at byte {pos}")


def unzstd_strict(data, v, where):
    out = bytearray()
    pos = 0
    frame = 0
    while pos < len(data):
        if len(data) - pos < 4:
            raise Invalid(f"{where}: {len(data) - pos} stray bytes after zstd frame {frame - 1} at byte {pos}")
        (magic,) = struct.unpack_from("<I", data, pos)
        if 0x184D2A50 <= magic <= 0x184D2A5F:  # skippable frame
            if len(data) - pos < 8:
                raise Invalid(f"{where}: skippable frame header truncated at byte {pos}")
            (size,) = struct.unpack_from("<I", data, pos + 4)
            if pos + 8 + size > len(data):
                raise Invalid(f"{where}: skippable frame truncated at byte {pos}")
            pos += 8 + size
            frame += 1
            continue
        if magic != 0xFD2FB528:
            raise Invalid(f"{where}: not a zstd frame at byte {pos} (magic {magic:#x})")
        d = zstandard.ZstdDecompressor().decompressobj()
        try:
            chunk = d.decompress(data[pos:])
        except zstandard.ZstdError as e:
            raise Invalid(f"{where}: zstd frame {frame} at byte {pos}: {e}")
        if not d.eof:
            raise Invalid(f"{where}: zstd frame {frame} at byte {pos} truncated")
        out += chunk
        pos = len(data) - len(d.unused_data)
        frame += 1
    return bytes(out)


# ------------------------------------------------------------------------------------------
# Tar, strictly (POSIX ustar + pax, GNU long names / base-256 numbers)
# ------------------------------------------------------------------------------------------

def tar_number(field, where):
    """A numeric header field: octal (leading spaces, digits, then only NUL/space) or base-256."""
    if field and field[0] & 0x80:
        if field[0] == 0x80:
            return int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:  # negative base-256
            return int.from_bytes(field, "big", signed=True)
        raise Invalid(f"{where}: bad base-256 number {field!r}")
    s = field.lstrip(b" ")
    digits = re.match(rb"[0-7]*", s).group(0)
    rest = s[len(digits):]
    if rest.strip(b" \x00"):
        raise Invalid(f"{where}: bad octal number {field!r}")
    if not digits:
        return 0
    return int(digits, 8)


def tar_walk(data, v, where):
    """[(name, typeflag, content, header_offset)] of a tar; strict about structure."""
    members = []
    pos = 0
    pax = {}
    gnu_long = None
    zero = b"\x00" * 512
    while True:
        if pos >= len(data):
            if pos > len(data):
                raise Invalid(f"{where}: tar truncated")
            return members  # no end-of-archive marker: every member is whole
        blk = data[pos:pos + 512]
        if len(blk) < 512:
            if blk.count(0) == len(blk):
                return members
            raise Invalid(f"{where}: tar header at byte {pos} truncated ({len(blk)} bytes)")
        if blk == zero:
            nxt = data[pos + 512:pos + 1024]
            if nxt.count(0) == len(nxt):  # end-of-archive marker (or its truncation)
                tail_start = pos + 1024
                tail = data[tail_start:]
                if tail.count(0) != len(tail):
                    # anything after the marker: hidden members are lost data
                    for off in range(0, len(tail) - 511, 512):
                        h = tail[off:off + 512]
                        if h != zero and header_checksum_ok(h):
                            raise Invalid(f"{where}: a tar member header at byte {tail_start + off} after the "
                                          f"end-of-archive marker at byte {pos}")
                    v.either(f"non-zero bytes after the tar end-of-archive marker at byte {pos}")
                return members
            v.either(f"a lone zero block at byte {pos} followed by more data")
            pos += 512
            continue
        if not header_checksum_ok(blk):
            raise Invalid(f"{where}: tar header checksum mismatch at byte {pos}")
        typeflag = blk[156:157]
        size = tar_number(blk[124:136], f"{where}: size of header at byte {pos}")
        if "size" in pax:
            try:
                size = int(pax["size"])
            except ValueError:
                raise Invalid(f"{where}: pax size {pax['size']!r} is not a number (header at byte {pos})")
        if size < 0:
            raise Invalid(f"{where}: negative size {size} in header at byte {pos}")
        name = blk[0:100].split(b"\x00", 1)[0]
        if blk[257:263] == b"ustar\x00":
            prefix = blk[345:500].split(b"\x00", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        name = name.decode("utf-8", "surrogateescape")
        if gnu_long is not None:
            name = gnu_long
        if "path" in pax:
            name = pax["path"]
        start = pos + 512
        if typeflag in (b"1", b"2", b"3", b"4", b"5", b"6") and "size" not in pax:
            size_stored = 0 if typeflag != b"5" else size
        else:
            size_stored = size
        end = start + size_stored
        if end > len(data):
            raise Invalid(f"{where}: member {name!r} (header at byte {pos}, size {size}) truncated: "
                          f"the data ends at byte {len(data)}")
        content = data[start:end]
        padded = start + (size_stored + 511) // 512 * 512
        if padded > len(data):
            v.either(f"the padding of the last member {name!r} is cut (data whole)")
        pos = padded
        if typeflag == b"x":
            pax = parse_pax(content, f"{where}: pax header at byte {pos}")
            continue
        if typeflag == b"g":
            parse_pax(content, f"{where}: pax global header")
            continue
        if typeflag == b"L":
            gnu_long = content.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
            continue
        if typeflag == b"K":
            continue
        members.append((name, typeflag.decode("latin-1"), content, pos))
        pax = {}
        gnu_long = None


def header_checksum_ok(blk):
    try:
        stored = tar_number(blk[148:156], "checksum")
    except Invalid:
        return False
    unsigned = sum(blk[:148]) + 256 + sum(blk[156:])
    signed = (sum(b - 256 if b > 127 else b for b in blk[:148]) + 256
              + sum(b - 256 if b > 127 else b for b in blk[156:]))
    return stored in (unsigned, signed)


def parse_pax(content, where):
    out = {}
    pos = 0
    while pos < len(content):
        m = re.match(rb"(\d+) ", content[pos:pos + 24])
        if not m:
            if content[pos:].count(0) == len(content) - pos:
                break
            raise Invalid(f"{where}: malformed pax record at {pos}")
        n = int(m.group(1))
        rec = content[pos:pos + n]
        if n < len(m.group(0)) + 2 or len(rec) < n or not rec.endswith(b"\n") or b"=" not in rec:
            raise Invalid(f"{where}: malformed pax record at {pos}")
        k, _, val = rec[len(m.group(0)):-1].partition(b"=")
        out[k.decode("utf-8", "replace")] = val.decode("utf-8", "surrogateescape")
        pos += n
    return out


def tar_cross_check(payload, members, v):
    """Python's tarfile must read the same regular members (an independent reading)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as tf:
            theirs = [(m.name, tf.extractfile(m).read()) for m in tf.getmembers() if m.isreg()]
    except Exception as e:
        v.either(f"tarfile cannot read what the strict walker accepts: {type(e).__name__}: {e}")
        return
    ours = [(n, c) for n, t, c, _ in members if t in ("0", "\x00", "7")]
    if ours != theirs:
        v.either("tarfile reads other members than the strict walker")


# ------------------------------------------------------------------------------------------
# BSON-set layouts (mongodump and cloud), for folders and tars
# ------------------------------------------------------------------------------------------

CLOUD_RE = re.compile(r"(.+)_(\d+)_part(\d+)\.bson")


def set_namespaces(files, v, where):
    """files: [(path, bytes)] in reading order -> fills v.expected per the layout rules."""
    cloud = any(is_cloud(p) for p, _ in files)
    data = {}    # ns -> [(key, docs)]
    metas = {}   # ns -> parsed metadata
    seen = {}
    for path, content in files:
        parts = [p for p in path.split("/") if p not in ("", ".")]
        if any(p == ".." for p in parts) or path.startswith("/"):
            v.either(f"member {path!r} leaves the set (must be refused or ignored, never written)")
            continue
        if path in seen:
            v.either(f"member {path!r} appears twice")
        seen[path] = seen.get(path, 0) + 1
        if path.endswith(".metadata.json") and len(parts) >= 2:
            coll = parts[-1][:-len(".metadata.json")]
            db = parts[-2] if not cloud else (parts[-3] if len(parts) >= 3 and parts[-2] == coll else parts[-2])
            try:
                text = content.decode("utf-8")
            except UnicodeDecodeError:
                raise Invalid(f"{where}: {path}: metadata is not UTF-8")
            m, plausible = parse_metadata(text, f"{where}: {path}")
            if not plausible:
                v.either(f"{path}: metadata parses as JSON but has an unusual shape")
            metas[(db, coll)] = (m, plausible)
            continue
        if not path.endswith(".bson"):
            continue
        if cloud:
            m = CLOUD_RE.fullmatch(parts[-1])
            if not (m and len(parts) >= 4 and parts[-2] == "data" and m.group(1) == parts[-3]):
                v.either(f"{path!r} does not fit the cloud layout")
                continue
            ns, key = (parts[-4], parts[-3]), (int(m.group(2)), int(m.group(3)))
        else:
            if len(parts) < 2:
                v.either(f"{path!r}: a .bson file outside a database folder")
                continue
            ns, key = (parts[-2], parts[-1][:-5]), (0, 0)
        data.setdefault(ns, []).append((key, content, path))
    for ns in set(data) | set(metas):
        m, plausible = metas.get(ns, (None, True))
        if skipped(ns[0], ns[1], m):
            # never exported: whether damage there is noticed is left open
            for key, content, path in (data.get(ns, []) if LENIENT is None else []):
                try:
                    bson_stream(content, f"{where}: {path}")
                except Invalid as e:
                    v.either(f"damage in a skipped namespace ({e})")
            continue
        if ns in data:
            data[ns] = [(key, bson_stream(content, f"{where}: {path}"), path) for key, content, path in data[ns]]
        name = f"{ns[0]}.{ns[1]}"
        if ns not in data:
            v.expect(name, [], optional=True)  # metadata only: an empty collection, or nothing
            continue
        entries = data[ns]
        entries_sorted = sorted(entries, key=lambda e: e[0])
        dup = len({e[2] for e in entries}) != len(entries)
        if dup:
            # the same member twice: concatenated, or the last one only
            v.expect(name, [d for e in entries_sorted for d in e[1]], optional=not plausible)
            last = {}
            for e in entries:
                last[e[2]] = e
            v.expect(name, [d for e in sorted(last.values(), key=lambda e: e[0]) for d in e[1]],
                     optional=not plausible)
        else:
            v.expect(name, [d for e in entries_sorted for d in e[1]], optional=not plausible)


def is_cloud(path):
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if len(parts) < 4 or parts[-2] != "data":
        return False
    m = CLOUD_RE.fullmatch(parts[-1])
    return bool(m and m.group(1) == parts[-3])


# ------------------------------------------------------------------------------------------
# mongodump archive, from its spec (mongo-tools common/archive/spec.md)
# ------------------------------------------------------------------------------------------

MAGIC = struct.pack("<I", 0x8199E26D)
TERM = b"\xff\xff\xff\xff"


def archive_doc(data, pos, where, what):
    if len(data) - pos < 4:
        raise Invalid(f"{where}: {what} at byte {pos}: stream ends")
    (n,) = struct.unpack_from("<i", data, pos)
    if n < 5 or n > MAX_DOC:
        raise Invalid(f"{where}: {what} at byte {pos}: bad length {n}")
    if pos + n > len(data):
        raise Invalid(f"{where}: {what} at byte {pos}: length {n} runs past the end")
    raw = data[pos:pos + n]
    try:
        doc = bson.decode(raw, codec_options=CODEC)
    except Exception as e:
        raise Invalid(f"{where}: {what} at byte {pos}: pymongo rejects it: {type(e).__name__}: {e}")
    return raw, doc, pos + n


def oracle_archive(data, v, where):
    if data[:4] != MAGIC:
        raise Invalid(f"{where}: no archive magic")
    _, header, pos = archive_doc(data, 4, where, "archive header")
    prelude = {}
    while True:
        if data[pos:pos + 4] == TERM:
            pos += 4
            break
        _, rec, pos = archive_doc(data, pos, where, "prelude record")
        db, coll, meta = rec.get("db"), rec.get("collection"), rec.get("metadata")
        if not isinstance(db, str) or not isinstance(coll, str):
            raise Invalid(f"{where}: prelude record without db/collection strings: {rec}")
        if meta is None:
            v.either(f"prelude record of {db}.{coll} has no metadata field (read as no metadata)")
            meta = ""
        if not isinstance(meta, str):
            raise Invalid(f"{where}: prelude record of {db}.{coll}: metadata is not a string: {meta!r}")
        parsed, plausible = (None, True)
        if meta != "":
            parsed, plausible = parse_metadata(meta, f"{where}: metadata of {db}.{coll}")
        if not plausible:
            v.either(f"metadata of {db}.{coll} parses but has an unusual shape")
        rtype = rec.get("type")
        if rtype is not None and rtype not in ("collection", "view", "timeseries"):
            v.either(f"prelude record of {db}.{coll} has type {rtype!r}")
        if (db, coll) in prelude:
            v.either(f"{db}.{coll} twice in the prelude")
        prelude[(db, coll)] = (parsed, plausible, rtype if isinstance(rtype, str) else None)
    states = {}
    while pos < len(data):
        if data[pos:pos + 4] == TERM:
            raise Invalid(f"{where}: a terminator at byte {pos} where a block header should be")
        hpos = pos
        _, h, pos = archive_doc(data, pos, where, "block header")
        db, coll, eof, crc = h.get("db"), h.get("collection"), h.get("EOF"), h.get("CRC")
        if not isinstance(db, str) or not isinstance(coll, str):
            raise Invalid(f"{where}: block header at byte {hpos} without db/collection: {h}")
        if eof is None:
            v.either(f"block header at byte {hpos} has no EOF field")
            eof = False
        if not isinstance(eof, bool):
            raise Invalid(f"{where}: block header at byte {hpos}: EOF is {eof!r}")
        st = states.setdefault((db, coll), {"docs": [], "crc": 0, "eof": False})
        if st["eof"]:
            raise Invalid(f"{where}: block of {db}.{coll} at byte {hpos} after its EOF block")
        if eof:
            if data[pos:pos + 4] != TERM:
                raise Invalid(f"{where}: EOF block of {db}.{coll} at byte {hpos} not followed by a terminator")
            pos += 4
            if not isinstance(crc, int):
                raise Invalid(f"{where}: EOF block of {db}.{coll} at byte {hpos}: CRC is {crc!r}")
            if (crc & 0xFFFFFFFFFFFFFFFF) != st["crc"]:
                raise Invalid(f"{where}: CRC mismatch for {db}.{coll} (EOF block at byte {hpos})")
            st["eof"] = True
            continue
        while True:
            if len(data) - pos < 4:
                raise Invalid(f"{where}: segment of {db}.{coll} (header at byte {hpos}) truncated")
            if data[pos:pos + 4] == TERM:
                pos += 4
                break
            raw, _, npos = archive_doc(data, pos, where, f"document of {db}.{coll}")
            st["docs"].append(decode_doc(raw, f"{where}: document of {db}.{coll} at byte {pos}"))
            st["crc"] = crc64(raw, st["crc"])
            pos = npos
    for (db, coll), st in states.items():
        if not st["eof"]:
            raise Invalid(f"{where}: namespace {db}.{coll} has no EOF block (archive cut short)")
    for (db, coll), (parsed, plausible, rtype) in prelude.items():
        if (db, coll) not in states and meta_kind(parsed, rtype) == "collection":
            raise Invalid(f"{where}: prelude namespace {db}.{coll} never appears (archive cut short)")
    for ns in set(states) | set(prelude):
        parsed, plausible, rtype = prelude.get(ns, (None, True, None))
        if skipped(ns[0], ns[1], parsed, rtype):
            continue
        docs = states[ns]["docs"] if ns in states else []
        v.expect(f"{ns[0]}.{ns[1]}", docs, optional=(not plausible) or ns not in states)


# ------------------------------------------------------------------------------------------
# The oracle
# ------------------------------------------------------------------------------------------

def oracle(case, input_path, bases):
    """Verdict for the (mutated) input at input_path (and, with --skip-corrupt, the lenient one)."""
    global LENIENT
    v = oracle_pass(case, input_path, bases)
    if "--skip-corrupt" in case.get("extra", []) and v.status != "valid":
        LENIENT = {"bad": 0, "broken": False}
        try:
            v2 = oracle_pass(case, input_path, bases)
            v.lenient = (v2, dict(LENIENT))
        finally:
            LENIENT = None
    return v


def oracle_pass(case, input_path, bases):
    v = Verdict()
    family = KINDS[case["kind"]][0]
    where = input_path.name
    try:
        if family == "bson":
            data = input_path.read_bytes()
            payload = peel(data, v, where)
            docs = bson_stream(payload, where)
            v.expect(case["ns"], docs, optional=not docs)
        elif family == "folder":
            files = []
            for p in sorted(input_path.rglob("*")):
                if p.is_file():
                    files.append((p.relative_to(input_path).as_posix(), p.read_bytes()))
            set_namespaces(files, v, where)
        elif family == "tar":
            data = input_path.read_bytes()
            payload = peel(data, v, where)
            members = tar_walk(payload, v, where)
            tar_cross_check(payload, members, v)
            files = [(n, c) for n, t, c, _ in members if t in ("0", "\x00", "7")]
            set_namespaces(files, v, where)
        elif family == "archive":
            data = input_path.read_bytes()
            payload = peel(data, v, where)
            oracle_archive(payload, v, where)
        elif family == "physical":
            data = input_path.read_bytes()
            payload = peel(data, v, where)
            members = tar_walk(payload, v, where)
            tar_cross_check(payload, members, v)
            original = bases.dbpath_files(case["dbpath"])
            got = {}
            for n, t, c, _ in members:
                if t in ("0", "\x00", "7"):
                    got[n.rsplit("/", 1)[-1]] = c
            v.reference = bases.reference(case["dbpath"])
            if got != original:
                missing = sorted(set(original) - set(got))
                changed = sorted(k for k in original if k in got and got[k] != original[k])
                extra = sorted(set(got) - set(original))
                v.either(f"the data directory differs from the original (missing {missing[:3]}, changed "
                         f"{changed[:3]}, extra {extra[:3]}): exit 0 must still give the folder's export")
            for ns, docs in v.reference.items():
                v.expect(ns, docs)
    except Invalid as e:
        v.status = "invalid"
        v.reasons.insert(0, str(e))
        v.expected = {}
    return v


# ------------------------------------------------------------------------------------------
# Base inputs
# ------------------------------------------------------------------------------------------

def make_docs(kind, n, seed, big_every=0):
    rng = random.Random(seed)
    tag = hashlib.md5(kind.encode()).digest()[:8]
    out = []
    for i in range(n):
        d = {
            "_id": ObjectId(struct.pack(">I", i) + tag),
            "i": i,
            "kind": kind,
            "s": "text-%d-" % i + "é✓" * (i % 4),
            "n32": rng.randrange(-2**31, 2**31),
            "n64": Int64(rng.randrange(-2**63, 2**63)),
            "f": rng.choice([i / 3.0, -0.0, 1e300, float("inf"), float("nan"), 5e-324, 0.1]),
            "dec": Decimal128("%d.%02d" % (i, i % 100)),
            "when": BASE_TIME + datetime.timedelta(milliseconds=rng.randrange(10**12)),
            "arr": [i, "x" * (i % 13), {"nested": [True, None, rng.random()]}],
            "sub": {"a": {"b": {"c": i}}, "flag": bool(i & 1)},
            "bin": Binary(bytes(rng.randrange(256) for _ in range(i % 40)), rng.choice([0, 0, 4, 5, 128])),
            "ts": Timestamp(1700000000 + i, i % 5),
            "re": Regex("^a.*%d$" % i, "im"),
            "note": "FLIPME%05d" % i,
        }
        if i % 17 == 0:
            d["extremes"] = {"min": MinKey(), "max": MaxKey(), "code": Code("function(){return %d}" % i),
                             "cws": Code("x", {"y": i}), "old": DatetimeMS(-(2**62)),
                             "future": DatetimeMS(2**62)}
        if big_every and i % big_every == big_every - 1:
            d["blob"] = Binary(random.Random(i).randbytes(200_000))
        out.append(bson.encode(d))
    return out


def metadata_json(coll, kind="collection", options=None):
    m = {}
    if options is not None:
        m["options"] = options
    m["indexes"] = [{"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"}]
    m["uuid"] = hashlib.md5(coll.encode()).hexdigest()
    m["collectionName"] = coll
    m["type"] = kind
    return json.dumps(m).encode()


def gz(payload, members=1):
    cuts = [len(payload) * k // members for k in range(members + 1)]
    return b"".join(gzip.compress(payload[cuts[k]:cuts[k + 1]], compresslevel=6, mtime=0)
                    for k in range(members))


def gz_members(data):
    """(start, end) of each member of a gzip file we wrote (no optional header fields)."""
    out, pos = [], 0
    while pos < len(data) and data[pos:pos + 2] == b"\x1f\x8b":
        d = zlib.decompressobj(-15)
        d.decompress(data[pos + 10:])
        end = len(data) - len(d.unused_data) + 8
        out.append((pos, end))
        pos = end
    return out


def zst(payload, frames=1):
    c = zstandard.ZstdCompressor(level=3, write_checksum=True)
    cuts = [len(payload) * k // frames for k in range(frames + 1)]
    return b"".join(c.compress(payload[cuts[k]:cuts[k + 1]]) for k in range(frames))


def make_tar(files, fmt, order, seed=0):
    """files: {path: bytes}; fmt: ustar|gnu|pax; order: sorted|reverse|shuffle."""
    names = sorted(files)
    if order == "reverse":
        names.reverse()
    elif order == "shuffle":
        random.Random(seed).shuffle(names)
    buf = io.BytesIO()
    fmts = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}
    with tarfile.open(fileobj=buf, mode="w", format=fmts[fmt]) as tf:
        dirs_done = set()
        for n in names:
            # directory entries too, as tar(1) writes them
            parts = n.split("/")
            for k in range(1, len(parts)):
                dname = "/".join(parts[:k])
                if dname not in dirs_done:
                    dirs_done.add(dname)
                    ti = tarfile.TarInfo(dname)
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    ti.mtime = 1700000000
                    tf.addfile(ti)
            ti = tarfile.TarInfo(n)
            ti.size = len(files[n])
            ti.mode = 0o644
            ti.mtime = 1700000000
            if fmt == "pax":
                ti.pax_headers = {"comment": "bsonflow-mutate"}
            tf.addfile(ti, io.BytesIO(files[n]))
    return buf.getvalue()


def tar_headers(tar):
    """Header offsets and names of a valid tar we wrote (via the strict walker)."""
    v = Verdict()
    return [(off, n, t, len(c)) for n, t, c, off in tar_walk_with_offsets(tar, v)]


def tar_walk_with_offsets(tar, v):
    # like tar_walk, but the offset returned is the member's own header
    out = []
    pos = 0
    while pos + 512 <= len(tar):
        blk = tar[pos:pos + 512]
        if blk == b"\x00" * 512:
            break
        size = tar_number(blk[124:136], "size")
        t = blk[156:157]
        name = blk[0:100].split(b"\x00", 1)[0].decode("utf-8", "replace")
        stored = size if t not in (b"1", b"2", b"3", b"4", b"6") else 0
        out.append((name, t.decode("latin-1"), tar[pos + 512:pos + 512 + stored], pos))
        pos += 512 + (stored + 511) // 512 * 512
    return out


class Bases:
    """Valid inputs, made once per run under work/bases."""

    def __init__(self, work, binary, limit_mem):
        self.dir = work / "bases"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.limit_mem = limit_mem
        self._sets = None
        self._archives = None
        self._refs = {}
        self._dbfiles = {}

    # -- BSON sets -------------------------------------------------------------------------
    def sets(self):
        if self._sets is None:
            orders = make_docs("order", 400, 1)
            customers = make_docs("customer", 150, 2)
            events = make_docs("event", 40, 3, big_every=25)
            dump = {
                "shop/orders.bson": b"".join(orders),
                "shop/orders.metadata.json": metadata_json("orders"),
                "shop/customers.bson": b"".join(customers),
                "shop/customers.metadata.json": b'{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_","ns":"shop.customers"}]}',
                "shop/empty.bson": b"",
                "shop/empty.metadata.json": metadata_json("empty"),
                "shop/recent.metadata.json": metadata_json("recent", "view", {"viewOn": "orders", "pipeline": []}),
                "other/events.bson": b"".join(events),
                "other/events.metadata.json": metadata_json("events"),
                "admin/system.version.bson": bson.encode({"_id": "featureCompatibilityVersion", "version": "7.0"}),
                "admin/system.version.metadata.json": metadata_json("system.version"),
            }
            cloud = {}
            splits = {"orders": (orders, [(0, 0), (0, 1), (0, 2), (0, 10), (1, 0), (1, 3)]),
                      "customers": (customers, [(0, 0)]),
                      "events": (events, [(0, 0), (0, 1)]),
                      "empty": ([], [(0, 0)])}
            for coll, (docs, keys) in splits.items():
                db = "other" if coll == "events" else "shop"
                k = len(keys)
                for j, (n, m) in enumerate(keys):
                    part = docs[len(docs) * j // k:len(docs) * (j + 1) // k]
                    cloud[f"{db}/{coll}/data/{coll}_{n}_part{m}.bson"] = b"".join(part)
            self._sets = {"orders": orders, "dump": dump, "cloud": cloud}
        return self._sets

    # -- archives ----------------------------------------------------------------------------
    def archives(self):
        if self._archives is None:
            out = self.dir / "spec-archive"
            subprocess.run([sys.executable, str(ARCHIVE_WRITER), str(out)], check=True,
                           stdout=subprocess.DEVNULL)
            arch = {"spec-writer": (out / "plain.archive").read_bytes()}
            mt = SHARED / "mongo-tools"
            for name in ("test.bar.archive", "dump-w-oplog.archive", "timeseries_tests-dump.archive",
                         "bad-format.archive"):
                p = mt / name
                if p.exists():
                    arch[name] = p.read_bytes()
            self._archives = arch
        return self._archives

    # -- physical ------------------------------------------------------------------------------
    DBPATHS = ("mongo42-products", "mongo80-ip2country", "mongo36-scraper")

    def dbpath(self, name):
        return SHARED / "real-dbpaths" / name / "dbpath"

    def dbpath_files(self, name):
        if name not in self._dbfiles:
            d = self.dbpath(name)
            self._dbfiles[name] = {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}
        return self._dbfiles[name]

    def reference(self, name):
        """The folder's own export (the physical oracle's expected documents)."""
        if name not in self._refs:
            run_dir = Path(tempfile.mkdtemp(prefix="ref-", dir=self.dir))
            res = run_bsonflow(self.binary, self.dbpath(name), run_dir / "out", [], run_dir,
                               timeout=120, limit_mem=self.limit_mem)
            if res["code"] != 0:
                raise SystemExit(f"the reference export of the folder {self.dbpath(name)} failed "
                                 f"(exit {res['code']}): {res['stderr'][-2000:]}")
            self._refs[name] = read_export(run_dir / "out")[0]
            shutil.rmtree(run_dir, ignore_errors=True)
        return self._refs[name]


def build_base(kind, rng, bases):
    """A valid input of this kind: a dict describing it and how to mutate its layers.

    Returns {"name": input file/folder name, "ns": for bson kinds, "outer": file bytes,
             "inner": decompressed payload or None, "wrap": function payload -> file bytes,
             "inner_type": bson|tar|archive, "folder": {path: bytes} for folder kinds,
             "base": a label of the base input}.
    """
    s = bases.sets()
    b = {"kind": kind, "family": KINDS[kind][0]}
    if kind in ("bson", "bson-gz", "bson-zst"):
        payload = b"".join(s["orders"])
        wrap = {"bson": None, "bson-gz": lambda p: gz(p), "bson-zst": lambda p: zst(p)}[kind]
        b.update(name={"bson": "orders.bson", "bson-gz": "orders.bson.gz", "bson-zst": "orders.bson.zst"}[kind],
                 ns="shop.orders", inner=payload, inner_type="bson", wrap=wrap, base="pymongo orders")
    elif kind in ("folder", "cloud-folder"):
        files = dict(s["dump"] if kind == "folder" else s["cloud"])
        b.update(name="dump" if kind == "folder" else "cloud", folder=files, base=kind)
    elif kind.startswith(("tar-", "tgz-", "tzst-")):
        layout = "dump" if kind.endswith("dump") else "cloud"
        cfg = {"tar-dump": ("pax", "sorted", "backup/2024-01-01"), "tgz-dump": ("gnu", "sorted", ""),
               "tzst-dump": ("ustar", "sorted", "var/backups"), "tar-cloud": ("gnu", "shuffle", ""),
               "tgz-cloud": ("pax", "shuffle", "download"), "tzst-cloud": ("ustar", "reverse", "")}[kind]
        fmt, order, prefix = cfg
        files = {(prefix + "/" if prefix else "") + k: val for k, val in s[layout].items()}
        tar = make_tar(files, fmt, order, seed=7)
        wrap = None
        name = kind.split("-")[1] + ".tar"
        if kind.startswith("tgz"):
            members = 1 if layout == "dump" else 3
            wrap = lambda p, m=members: gz(p, m)
            name += ".gz"
        elif kind.startswith("tzst"):
            frames = 1 if layout == "dump" else 2
            wrap = lambda p, f=frames: zst(p, f)
            name += ".zst"
        b.update(name=name, inner=tar, inner_type="tar", wrap=wrap, base=f"{layout} {fmt} {order}")
    elif kind.startswith("archive"):
        arch = bases.archives()
        label = rng.choice(sorted(arch))
        payload = arch[label]
        wrap = {"archive": None, "archive-gz": lambda p: gz(p), "archive-zst": lambda p: zst(p)}[kind]
        ext = {"archive": ".archive", "archive-gz": ".archive.gz", "archive-zst": ".archive.zst"}[kind]
        b.update(name=label.replace(".archive", "") + ext, inner=payload, inner_type="archive",
                 wrap=wrap, base=label)
    elif kind == "physical-tgz":
        dbname = rng.choice(Bases.DBPATHS)
        files = bases.dbpath_files(dbname)
        prefix = rng.choice(["", "dbpath", "backup/db"])
        tar = make_tar({(prefix + "/" if prefix else "") + k: val for k, val in files.items()},
                       rng.choice(["gnu", "ustar", "pax"]), "sorted")
        b.update(name=dbname + ".tar.gz", inner=tar, inner_type="tar", wrap=lambda p: gz(p),
                 base=f"{dbname} prefix={prefix or '-'}", dbpath=dbname)
    else:
        raise SystemExit(f"unknown kind {kind}")
    if b.get("inner") is not None:
        b["outer"] = b["wrap"](b["inner"]) if b["wrap"] else b["inner"]
    return b


# ------------------------------------------------------------------------------------------
# Mutations
# ------------------------------------------------------------------------------------------

def m_flip_byte(rng, d):
    if not d:
        return d, "flip_byte (empty: no-op)"
    i = rng.randrange(len(d))
    x = rng.randrange(1, 256)
    d = bytearray(d)
    d[i] ^= x
    return bytes(d), f"flip_byte at {i} (xor {x:#04x})"


def m_flip_bit(rng, d):
    if not d:
        return d, "flip_bit (empty: no-op)"
    i = rng.randrange(len(d))
    bit = rng.randrange(8)
    d = bytearray(d)
    d[i] ^= 1 << bit
    return bytes(d), f"flip_bit {bit} at {i}"


def m_truncate(rng, d):
    i = rng.choice([0, rng.randrange(len(d) + 1), rng.randrange(len(d) + 1), max(len(d) - rng.randrange(1, 600), 0)])
    return d[:i], f"truncate at {i} of {len(d)}"


def m_insert(rng, d):
    i = rng.randrange(len(d) + 1)
    n = rng.choice([1, 2, 3, 7, 64, 512, 1000])
    junk = rng.randbytes(n)
    return d[:i] + junk + d[i:], f"insert {n} random bytes at {i}"


def m_delete(rng, d):
    if not d:
        return d, "delete (empty: no-op)"
    i = rng.randrange(len(d))
    n = rng.choice([1, 2, 5, 100, 512, 4096])
    return d[:i] + d[i + n:], f"delete {min(n, len(d) - i)} bytes at {i}"


def m_append(rng, d):
    n = rng.choice([1, 4, 17, 512, 2000])
    junk = bytes([rng.randrange(1, 256)]) + rng.randbytes(n - 1)
    return d + junk, f"append {n} bytes of garbage"


def m_duplicate(rng, d):
    if len(d) < 2:
        return d, "duplicate (too short: no-op)"
    a = rng.randrange(len(d))
    n = rng.choice([1, 16, 300, 512, 5000])
    span = d[a:a + n]
    at = rng.choice([a + len(span), rng.randrange(len(d) + 1)])
    return d[:at] + span + d[at:], f"duplicate span [{a}, {a + len(span)}) at {at}"


GENERIC = {"flip_byte": m_flip_byte, "flip_bit": m_flip_bit, "truncate": m_truncate, "insert": m_insert,
           "delete": m_delete, "append_garbage": m_append, "duplicate_span": m_duplicate}

LENGTH_VALUES = [("huge", 0x7FFFFFFF), ("huge", 0x01000000 + 16 * 1024 + 1), ("huge", 0x00FFFFFF),
                 ("negative", -1), ("negative", -5), ("negative", -(2**31)), ("small", 0), ("small", 4),
                 ("small", 5), ("off-by-one", None)]


def m_bson_length(rng, d, offsets):
    if not offsets:
        return m_flip_byte(rng, d)
    off = rng.choice(offsets)
    label, val = rng.choice(LENGTH_VALUES)
    old = struct.unpack_from("<i", d, off)[0]
    if val is None:
        val = old + rng.choice([-1, 1])
        label = "off-by-one"
    d = bytearray(d)
    struct.pack_into("<i", d, off, val)
    return bytes(d), f"length_{label}: document length at {off} {old} -> {val}"


def m_bson_terminator(rng, d, offsets):
    if not offsets:
        return m_flip_byte(rng, d)
    off = rng.choice(offsets)
    n = struct.unpack_from("<i", d, off)[0]
    d = bytearray(d)
    d[off + n - 1] = rng.randrange(1, 256)
    return bytes(d), f"doc_terminator: last byte of the document at {off} made non-zero"


# -- tar-aware ---------------------------------------------------------------------------------

def set_checksum(h):
    h = bytearray(h)
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % (sum(h) & 0o777777)
    return bytes(h)


def m_tar_eof_marker(rng, tar):
    hs = [h for h in tar_headers(tar) if h[2] in ("0", "\x00")]
    if len(hs) < 2:
        return tar, "eof_marker (one member: no-op)"
    k = rng.randrange(max(1, len(hs) // 2), len(hs))
    off = hs[k][0]
    # before the member's own pax/longname header when it has one
    prev = [h for h in tar_headers(tar) if h[0] < off]
    if prev and prev[-1][2] in ("x", "L"):
        off = prev[-1][0]
    return tar[:off] + b"\x00" * 1024 + tar[off:], \
        f"eof_marker: two zero blocks inserted at {off}, before member {k} of {len(hs)} ({hs[k][1]})"


def m_tar_checksum(rng, tar):
    hs = tar_headers(tar)
    off, name = rng.choice(hs)[:2]
    h = bytearray(tar[off:off + 512])
    how = rng.choice(["digit", "zero", "spaces"])
    if how == "digit":
        j = 148 + rng.randrange(6)
        h[j] = ord("0") + (h[j] - ord("0") + 1) % 8 if 48 <= h[j] <= 55 else ord("1")
    elif how == "zero":
        h[148:156] = b"0000000\x00"
    else:
        h[148:156] = b"        "
    return tar[:off] + bytes(h) + tar[off + 512:], f"bad_header_checksum ({how}) in the header at {off} ({name})"


def m_tar_pax_size(rng, tar):
    hs = [h for h in tar_headers(tar) if h[2] in ("0", "\x00") and h[3] > 0]
    off, name, _, size = rng.choice(hs)
    lie = rng.choice([size - 1, size + 1, size + 511, size + 512, size - 512, 0, 10**12, 2**63, -5, size * 2])
    rec = b" size=%d\n" % lie
    n = len(rec) + 1
    while len(str(n)) + len(rec) != n:
        n = len(str(n)) + len(rec)
    rec = str(n).encode() + rec
    xh = tarfile.TarInfo("././@PaxHeader")
    xh.type = tarfile.XHDTYPE
    xh.size = len(rec)
    xh.mtime = 1700000000
    hdr = xh.tobuf(format=tarfile.USTAR_FORMAT)
    block = hdr + rec + b"\x00" * ((512 - len(rec) % 512) % 512)
    prev = [h for h in tar_headers(tar) if h[0] < off]
    if prev and prev[-1][2] == "x":  # replace the member's own pax header
        poff = prev[-1][0]
        return tar[:poff] + block + tar[off:], f"lying_pax_size: size={lie} for {name} (real {size}), header at {poff}"
    return tar[:off] + block + tar[off:], f"lying_pax_size: size={lie} for {name} (real {size}) at {off}"


def m_tar_size_field(rng, tar):
    hs = [h for h in tar_headers(tar) if h[2] in ("0", "\x00")]
    off, name, _, size = rng.choice(hs)
    h = bytearray(tar[off:off + 512])
    how = rng.choice(["octal-huge", "base256-huge", "base256-negative", "plus-one", "minus-block"])
    if how == "octal-huge":
        h[124:136] = b"77777777777\x00"
    elif how == "base256-huge":
        h[124:136] = b"\x80" + (2**62).to_bytes(11, "big")
    elif how == "base256-negative":
        h[124:136] = (-1 - rng.randrange(1000)).to_bytes(12, "big", signed=True)
    elif how == "plus-one":
        h[124:136] = b"%011o\x00" % (size + 1)
    else:
        h[124:136] = b"%011o\x00" % max(size - 512, 0)
    h = set_checksum(h)
    return tar[:off] + h + tar[off + 512:], f"lying_size_field ({how}) for {name} (real {size}), header at {off}"


def m_tar_evil_member(rng, tar):
    hs = tar_headers(tar)
    last = hs[-1]
    end = last[0] + 512 + (last[3] + 511) // 512 * 512 if last[2] in ("0", "\x00") else last[0] + 512
    name = rng.choice(["../../escape-mutate.bson", "/tmp/escape-mutate-abs.bson", "shop/../../escape2.bson",
                       "a/b/../../../escape3.bson"])
    data = bson.encode({"_id": 1, "evil": True})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mtime = 1700000000
        tf.addfile(ti, io.BytesIO(data))
    member = buf.getvalue()
    member = member[:512 + 512]  # header + one data block (tarfile keeps absolute names as given)
    return tar[:end] + member + tar[end:], f"evil_member {name!r} inserted at {end}"


def m_tar_member_content(rng, tar, prefer=None):
    """Flip a byte inside a member's data (the tar stays valid)."""
    hs = [h for h in tar_headers(tar) if h[2] in ("0", "\x00") and h[3] > 0]
    if prefer:
        pref = [h for h in hs if re.search(prefer, h[1])]
        if pref and rng.random() < 0.8:
            hs = pref
    off, name, _, size = rng.choice(hs)
    i = off + 512 + rng.randrange(size)
    d = bytearray(tar)
    d[i] ^= rng.randrange(1, 256)
    return bytes(d), f"member_content_flip in {name} at tar byte {i} (member byte {i - off - 512})"


TAR_AWARE = {"eof_marker": m_tar_eof_marker, "bad_header_checksum": m_tar_checksum,
             "lying_pax_size": m_tar_pax_size, "lying_size_field": m_tar_size_field,
             "evil_member": m_tar_evil_member, "member_content_flip": m_tar_member_content}


# -- gzip / zstd-aware -------------------------------------------------------------------------

def m_gz_deflate_damage(rng, data):
    members = gz_members(data)
    order = list(range(len(members)))
    rng.shuffle(order)
    for mi in order:
        s, e = members[mi]
        body = data[s + 10:e - 8]
        orig = zlib.decompress(body, -15)
        for _ in range(max(40, min(1500, 20_000_000 // max(len(orig), 1)))):
            i = rng.randrange(len(body))
            bit = 1 << rng.randrange(8)
            b2 = bytearray(body)
            b2[i] ^= bit
            d = zlib.decompressobj(-15)
            try:
                out = d.decompress(bytes(b2)) + d.flush()
            except zlib.error:
                continue
            if d.eof and not d.unused_data and len(out) == len(orig) and out != orig:
                new = data[:s + 10] + bytes(b2) + data[e - 8:]
                return new, f"deflate_damage: bit {bit:#04x} of member {mi} deflate byte {i} (file byte {s + 10 + i}); " \
                            f"inflates to the same length, only CRC-32 tells"
    s, e = members[-1]
    d = bytearray(data)
    d[e - 8] ^= 0x01
    return bytes(d), f"deflate_damage fallback: CRC-32 of the last member flipped at {e - 8}"


def m_gz_isize(rng, data):
    members = gz_members(data)
    mi = rng.randrange(len(members))
    s, e = members[mi]
    (isize,) = struct.unpack_from("<I", data, e - 4)
    new = rng.choice([isize + 1, isize - 1, 0, 0xFFFFFFFF, isize + 65536]) & 0xFFFFFFFF
    d = bytearray(data)
    struct.pack_into("<I", d, e - 4, new)
    return bytes(d), f"wrong_isize: member {mi} ISIZE {isize} -> {new} at {e - 4}"


def m_gz_crc(rng, data):
    members = gz_members(data)
    mi = rng.randrange(len(members))
    s, e = members[mi]
    d = bytearray(data)
    d[e - 8 + rng.randrange(4)] ^= 1 << rng.randrange(8)
    return bytes(d), f"wrong_crc32: member {mi} trailer CRC-32 flipped at {e - 8}"


def m_gz_garbage_after(rng, data):
    how = rng.choice(["random", "random", "zeros", "partial-member", "text"])
    if how == "random":
        junk = bytes([rng.randrange(1, 256)]) + rng.randbytes(rng.choice([0, 3, 100, 1000]))
        junk = junk if junk[:2] != b"\x1f\x8b" else b"X" + junk
    elif how == "zeros":
        junk = b"\x00" * rng.choice([1, 512, 10240])
    elif how == "partial-member":
        full = gzip.compress(b"more data that never ends", mtime=0)
        junk = full[:rng.randrange(2, len(full) - 1)]
    else:
        junk = b"\nthis is not gzip\n"
    return data + junk, f"garbage_after_gzip ({how}, {len(junk)} bytes)"


def m_gz_truncate_trailer(rng, data):
    members = gz_members(data)
    s, e = members[-1]
    cut = e - rng.randrange(1, 9)
    return data[:cut], f"truncate_gzip_trailer at {cut} (member ends at {e})"


def m_gz_flags(rng, data):
    d = bytearray(data)
    members = gz_members(data)
    mi = rng.randrange(len(members))
    s, _ = members[mi]
    bit = rng.choice([0x20, 0x40, 0x80, 0x02, 0x04, 0x08, 0x10])
    d[s + 3] ^= bit
    return bytes(d), f"gzip_flag {bit:#04x} toggled in member {mi} at {s + 3}"


GZIP_AWARE = {"deflate_damage": m_gz_deflate_damage, "wrong_isize": m_gz_isize, "wrong_crc32": m_gz_crc,
              "garbage_after_gzip": m_gz_garbage_after, "truncate_gzip_trailer": m_gz_truncate_trailer,
              "gzip_flag": m_gz_flags}


def zstd_frames(data):
    out, pos = [], 0
    while pos < len(data):
        d = zstandard.ZstdDecompressor().decompressobj()
        d.decompress(data[pos:])
        end = len(data) - len(d.unused_data)
        out.append((pos, end))
        pos = end
    return out


def m_zst_garbage_after(rng, data):
    how = rng.choice(["random", "zeros", "partial-frame", "skippable-frame"])
    if how == "random":
        junk = bytes([rng.randrange(1, 256)]) + rng.randbytes(rng.choice([0, 3, 100, 1000]))
    elif how == "zeros":
        junk = b"\x00" * rng.choice([1, 4, 512])
    elif how == "partial-frame":
        full = zstandard.ZstdCompressor(write_checksum=True).compress(b"more data that never ends" * 10)
        junk = full[:rng.randrange(4, len(full) - 1)]
    else:
        body = rng.randbytes(rng.choice([0, 10, 100]))
        junk = struct.pack("<II", 0x184D2A50 + rng.randrange(16), len(body)) + body
    return data + junk, f"garbage_after_zstd ({how}, {len(junk)} bytes)"


def m_zst_checksum(rng, data):
    frames = zstd_frames(data)
    fi = rng.randrange(len(frames))
    s, e = frames[fi]
    d = bytearray(data)
    d[e - 1 - rng.randrange(4)] ^= 1 << rng.randrange(8)
    return bytes(d), f"zstd_checksum_flip in frame {fi} (ends at {e})"


def m_zst_truncate_frame(rng, data):
    frames = zstd_frames(data)
    s, e = frames[-1]
    cut = rng.randrange(s + 1, e)
    return data[:cut], f"truncate_zstd_frame at {cut} (last frame {s}..{e})"


def m_zst_content_size(rng, data):
    """A lying Frame_Content_Size in a frame header (huge, or slightly off)."""
    frames = zstd_frames(data)
    fi = rng.randrange(len(frames))
    s, _ = frames[fi]
    fhd = data[s + 4]
    fcs_flag, single, did_flag = fhd >> 6, (fhd >> 5) & 1, fhd & 3
    width = {0: 1 if single else 0, 1: 2, 2: 4, 3: 8}[fcs_flag]
    if width == 0:
        return m_zst_checksum(rng, data)
    off = s + 5 + (0 if single else 1) + {0: 0, 1: 1, 2: 2, 3: 4}[did_flag]
    old = int.from_bytes(data[off:off + width], "little") + (256 if width == 2 else 0)
    new = rng.choice([2**(8 * width) - 1, 2**(8 * width) // 3, old + 1, max(old - 1, 0), 800_000_000])
    new %= 2**(8 * width)
    raw = new - 256 if width == 2 and new >= 256 else new
    d = bytearray(data)
    d[off:off + width] = (raw % 2**(8 * width)).to_bytes(width, "little")
    return bytes(d), f"zstd_content_size: frame {fi} declares {new} bytes (real {old}) at {off}"


ZSTD_AWARE = {"garbage_after_zstd": m_zst_garbage_after, "zstd_checksum_flip": m_zst_checksum,
              "truncate_zstd_frame": m_zst_truncate_frame, "zstd_content_size": m_zst_content_size}


# -- archive-aware ------------------------------------------------------------------------------

def archive_blocks(data):
    """(kind, start, end, ns) of the blocks of a valid archive; kind: prelude|segment|eof."""
    out = []
    pos = 4
    (n,) = struct.unpack_from("<i", data, pos)
    pos += n
    while data[pos:pos + 4] != TERM:
        (n,) = struct.unpack_from("<i", data, pos)
        pos += n
    pos += 4
    while pos < len(data):
        start = pos
        (n,) = struct.unpack_from("<i", data, pos)
        h = bson.decode(data[pos:pos + n])
        pos += n
        ns = f"{h.get('db')}.{h.get('collection')}"
        if h.get("EOF"):
            pos += 4
            out.append(("eof", start, pos, ns, start + n))
            continue
        docs = []
        while data[pos:pos + 4] != TERM:
            (m,) = struct.unpack_from("<i", data, pos)
            docs.append(pos)
            pos += m
        pos += 4
        out.append(("segment", start, pos, ns, docs))
    return out


def archive_doc_offsets(data):
    offs = [4]
    pos = 4 + struct.unpack_from("<i", data, 4)[0]
    while data[pos:pos + 4] != TERM:
        offs.append(pos)
        pos += struct.unpack_from("<i", data, pos)[0]
    for b in archive_blocks(data):
        offs.append(b[1])
        if b[0] == "segment":
            offs.extend(b[4])
    return offs


def m_arch_crc(rng, data):
    eofs = [b for b in archive_blocks(data) if b[0] == "eof"]
    if not eofs:
        return m_flip_byte(rng, data)
    _, start, end, ns, hend = rng.choice(eofs)
    raw = data[start:hend]
    h = bson.decode(raw)
    h["CRC"] = Int64(((h["CRC"] + rng.choice([1, -1, 2**40])) + 2**63) % 2**64 - 2**63)
    new = bson.encode(h)
    if len(new) != len(raw):
        return m_flip_byte(rng, data)
    return data[:start] + new + data[hend:], f"archive_crc: EOF CRC of {ns} changed (block at {start})"


def m_arch_flipme(rng, data):
    hits = [m.start() for m in re.finditer(rb"FLIPME\d{5}", data)]
    if not hits:
        # any ASCII digit inside a document string
        hits = [m.start() for m in re.finditer(rb"[a-z]{4}", data[200:])]
        hits = [h + 200 for h in hits]
        if not hits:
            return m_flip_byte(rng, data)
        i = rng.choice(hits)
        d = bytearray(data)
        d[i] = ord("a") + (d[i] - ord("a") + 1) % 26
        return bytes(d), f"crc_only_damage: a letter changed at {i} (BSON stays valid)"
    i = rng.choice(hits) + 6 + rng.randrange(5)
    d = bytearray(data)
    d[i] = ord("0") + (d[i] - ord("0") + 1) % 10
    return bytes(d), f"crc_only_damage: a digit of a FLIPME note changed at {i} (BSON stays valid)"


def m_arch_drop_eof(rng, data):
    eofs = [b for b in archive_blocks(data) if b[0] == "eof"]
    if not eofs:
        return m_truncate(rng, data)
    _, start, end, ns, _ = rng.choice(eofs)
    return data[:start] + data[end:], f"drop_eof_block of {ns} at {start}"


def m_arch_dup_segment(rng, data):
    segs = [b for b in archive_blocks(data) if b[0] == "segment"]
    if not segs:
        return m_duplicate(rng, data)
    _, start, end, ns, _ = rng.choice(segs)
    return data[:end] + data[start:end] + data[end:], f"duplicate_segment of {ns} [{start}, {end})"


def m_arch_drop_terminator(rng, data):
    blocks = archive_blocks(data)
    if not blocks:
        return m_truncate(rng, data)
    b = rng.choice(blocks)
    return data[:b[2] - 4] + data[b[2]:], f"drop_terminator of the {b[0]} of {b[3]} at {b[2] - 4}"


ARCHIVE_AWARE = {"archive_crc": m_arch_crc, "crc_only_damage": m_arch_flipme, "drop_eof_block": m_arch_drop_eof,
                 "duplicate_segment": m_arch_dup_segment, "drop_terminator": m_arch_drop_terminator}


def apply_inner(rng, base, payload, forced=None):
    """A mutation of the (uncompressed) payload."""
    t = base["inner_type"]
    menu = list(GENERIC)
    if t == "bson":
        menu += ["bson_length", "bson_length", "doc_terminator"]
    elif t == "tar":
        menu += list(TAR_AWARE) * 2
        if base["family"] == "physical":
            menu += ["member_content_flip"] * 2
    elif t == "archive":
        menu += list(ARCHIVE_AWARE) + ["bson_length", "bson_length"]
    name = forced or rng.choice(menu)
    if name in GENERIC:
        return GENERIC[name](rng, payload)
    if name == "bson_length":
        offs = doc_offsets(payload) if t == "bson" else archive_doc_offsets(payload)
        return m_bson_length(rng, payload, offs)
    if name == "doc_terminator":
        return m_bson_terminator(rng, payload, doc_offsets(payload))
    if name in TAR_AWARE:
        if name == "member_content_flip" and base["family"] == "physical":
            return m_tar_member_content(rng, payload, prefer=r"(collection-|_mdb_catalog|WiredTiger\.wt|turtle)")
        return TAR_AWARE[name](rng, payload)
    if name in ARCHIVE_AWARE:
        return ARCHIVE_AWARE[name](rng, payload)
    raise SystemExit(f"mutation {name} does not apply to {t}")


def mutate(rng, base):
    """Returns (artifact, description); artifact: bytes, or {path: bytes} for folders."""
    if base["family"] == "folder":
        files = dict(base["folder"])
        paths = sorted(files)
        bsons = [p for p in paths if p.endswith(".bson") and files[p]]
        metas = [p for p in paths if p.endswith(".metadata.json")]
        target = rng.choice(metas) if metas and rng.random() < 0.15 else rng.choice(bsons)
        fake = {"inner_type": "bson" if target.endswith(".bson") else "text", "family": "folder"}
        if fake["inner_type"] == "bson":
            new, desc = apply_inner(rng, fake, files[target])
        else:
            new, desc = GENERIC[rng.choice(list(GENERIC))](rng, files[target])
        files[target] = new
        return files, f"{target}: {desc}"
    compressed = base["wrap"] is not None
    if rng.random() < 0.12:
        # two mutations: one as usual, then a generic one on the file as it is now
        first, d1 = mutate_one(rng, base, compressed)
        second, d2 = GENERIC[rng.choice(list(GENERIC))](rng, first)
        return second, f"{d1} + then on the file: {d2}"
    return mutate_one(rng, base, compressed)


def mutate_one(rng, base, compressed):
    if compressed and rng.random() < 0.5:
        # the outer (compressed) bytes
        aware = GZIP_AWARE if base["name"].endswith(".gz") else ZSTD_AWARE
        menu = list(GENERIC) + list(aware) * 2
        name = rng.choice(menu)
        fn = GENERIC.get(name) or aware[name]
        new, desc = fn(rng, base["outer"])
        return new, f"outer: {desc}"
    new_inner, desc = apply_inner(rng, base, base["inner"])
    if compressed:
        return base["wrap"](new_inner), f"inner (recompressed): {desc}"
    return new_inner, desc


# ------------------------------------------------------------------------------------------
# Running bsonflow
# ------------------------------------------------------------------------------------------

def run_bsonflow(binary, input_path, out, extra, cwd, timeout=60, limit_mem=True):
    cmd = [str(binary), "convert", str(input_path), "--out", str(out), "--quiet"] + extra
    env = dict(os.environ)
    tmp = Path(cwd) / "tmp"
    tmp.mkdir(exist_ok=True)
    env["TMPDIR"] = str(tmp)
    env.pop("RUST_BACKTRACE", None)

    # `ulimit -v` in a shell that execs GNU time, which runs bsonflow: a child's ru_maxrss starts
    # from its parent's high-water mark, so bsonflow must be forked by a small process (time),
    # not by this Python process, for its peak RSS to be its own.
    limit = f"ulimit -v {MEM_LIMIT >> 10}; " if limit_mem else ""
    fd, rss_file = tempfile.mkstemp(prefix=".rss-", dir=RSS_DIR)
    os.close(fd)
    timer = ["/usr/bin/time", "-f", "%M", "-o", rss_file] if os.path.exists("/usr/bin/time") else []
    wrapped = ["/bin/sh", "-c", limit + 'exec "$0" "$@"'] + timer + cmd
    t0 = time.monotonic()
    p = subprocess.Popen(wrapped, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         cwd=str(cwd), env=env, start_new_session=True)
    bufs = {"out": bytearray(), "err": bytearray()}

    def pump(stream, key):
        while True:
            chunk = stream.read(65536)
            if not chunk:
                break
            if len(bufs[key]) < 4 << 20:
                bufs[key] += chunk

    threads = [threading.Thread(target=pump, args=(p.stdout, "out"), daemon=True),
               threading.Thread(target=pump, args=(p.stderr, "err"), daemon=True)]
    for t in threads:
        t.start()
    timed_out = False
    status, ru = None, None
    while True:
        pid, st, r = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, ru = st, r
            break
        if time.monotonic() - t0 > timeout:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.01)
    p.returncode = os.waitstatus_to_exitcode(status)
    code, rss_kib = p.returncode, ru.ru_maxrss if ru else 0
    if timer:
        try:
            text = Path(rss_file).read_text()
        except OSError:
            text = ""
        m = re.search(r"terminated by signal (\d+)", text)
        if m:
            code = -int(m.group(1))
        nums = re.findall(r"^(\d+)\s*$", text, re.M)
        if nums:
            rss_kib = int(nums[-1])
    try:
        os.unlink(rss_file)
    except OSError:
        pass
    for t in threads:
        t.join(5)
    return {"cmd": cmd, "code": code, "timed_out": timed_out, "wall": time.monotonic() - t0,
            "maxrss_mib": rss_kib / 1024,
            "stdout": bufs["out"].decode("utf-8", "replace"), "stderr": bufs["err"].decode("utf-8", "replace")}


def read_export(out):
    """{ns: [norm docs]} of an export folder, and a list of problems reading it."""
    res, problems = {}, []
    if not out.is_dir():
        return res, ["no export folder"]
    for meta in sorted(out.rglob("metadata.json")):
        coll_dir = meta.parent
        rel = coll_dir.relative_to(out).parts
        if len(rel) != 2:
            problems.append(f"metadata.json at an unexpected depth: {coll_dir}")
            continue
        ns = f"{rel[0]}.{rel[1]}"
        chunks = []
        for f in coll_dir.iterdir():
            m = re.fullmatch(r"(.+)\.(\d+)\.json\.gz", f.name)
            if m:
                chunks.append((int(m.group(2)), f))
            elif f.name != "metadata.json":
                problems.append(f"unexpected file in the export: {f.relative_to(out)}")
        docs = []
        for _, f in sorted(chunks):
            try:
                text = gzip.decompress(f.read_bytes()).decode("utf-8")
            except Exception as e:
                problems.append(f"{f.relative_to(out)}: cannot gunzip: {e}")
                continue
            for ln, line in enumerate(text.splitlines()):
                try:
                    docs.append(norm_doc(json_util.loads(line, json_options=JSON_IN)))
                except Exception as e:
                    problems.append(f"{f.relative_to(out)} line {ln + 1}: not Extended JSON: {e}")
        res[ns] = docs
    return res, problems


def listing(path, recursive):
    out = {}
    if not path.exists():
        return out
    it = path.rglob("*") if recursive else path.iterdir()
    for p in it:
        try:
            st = p.lstat()
        except FileNotFoundError:
            continue
        out[str(p.relative_to(path))] = (st.st_size, st.st_mtime_ns, p.is_dir())
    return out


# ------------------------------------------------------------------------------------------
# Checking a run against the promise
# ------------------------------------------------------------------------------------------

OFFSET_RE = re.compile(r"byte \d+|offset|bytes? \d+|at \d+|position \d+", re.I)


def check(case, v, res, export, problems, fs_issues, names):
    """Returns (outcome, [finding dicts])."""
    f = []
    code = res["code"]
    err = res["stderr"]
    complete = case["_complete"]

    def finding(cls, expected, got, soft=False):
        f.append({"class": cls, "expected": expected, "got": got, "soft": soft})

    if res["timed_out"]:
        finding("hang", "to finish within the time limit", f"killed after {res['wall']:.0f} s")
    elif code < 0:
        sig = -code
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if "memory allocation" in err:
            finding("memory", f"to stay within {MEM_LIMIT >> 20} MiB of address space", f"signal {name}: {last_line(err)}")
        else:
            finding("crash", "no signal", f"killed by {name}")
    elif code == 101 or "panicked at" in err:
        finding("crash", "no panic", f"exit {code}, panic")
    if "memory allocation" in err and not any(x["class"] == "memory" for x in f):
        finding("memory", f"to stay within {MEM_LIMIT >> 20} MiB", last_line(err))
    for issue in fs_issues:
        finding("wrote-outside", "no file outside DIR and the temp dir", issue)
    if f and f[0]["class"] in ("hang", "crash", "memory"):
        return "crash", f

    skip_mode = "--skip-corrupt" in case.get("extra", [])
    if res["maxrss_mib"] > 768:
        finding("memory", "a peak RSS well under 1 GiB for inputs of < 5 MB", f"{res['maxrss_mib']:.0f} MiB", soft=True)
    if code == 3 and skip_mode:
        if not complete:
            finding("no-complete", "exit 3 comes with .complete", "exit 3 without .complete")
        if v.status == "valid":
            finding("exit-3-on-valid", "exit 0 (nothing is corrupt)", f"exit 3: {last_line(err)}")
            return "finding", f
        if v.lenient:
            v2, stats = v.lenient
            if stats["bad"] and not stats["broken"] and v2.status != "invalid":
                diff = compare(v2, export)
                if diff:
                    finding("wrong-export-skip-corrupt", f"the {stats['bad']} corrupt documents left out, "
                            "every other document exported", diff)
        if not re.search(r"corrupt|skipped", res["stdout"] + err, re.I):
            finding("skip-not-listed", "the summary lists the skipped documents", last_line(res["stdout"] + err))
        return ("ok-skip-" + v.status) if not f else "finding", f
    if code == 1 and skip_mode and v.lenient:
        v2, stats = v.lenient
        if stats["bad"] and not stats["broken"] and v2.status != "invalid":
            finding("skip-corrupt-failed", f"exit 3: {stats['bad']} corrupt documents (sound frames) skipped",
                    f"exit 1: {last_line(err)}")
            return "finding", f
    if code == 0:
        if not complete:
            finding("no-complete", "exit 0 comes with .complete", "exit 0 without .complete")
        if v.status == "invalid":
            finding("accepted-invalid", "exit 1 (the input is damaged: " + v.reasons[0][:200] + ")",
                    f"exit 0, {summ_export(export)}")
        else:
            diff = compare(v, export)
            if diff:
                finding("wrong-export", f"exactly the input's documents ({v.status})", diff)
            for p in problems:
                finding("bad-export", "a readable export", p)
        return ("ok-" + v.status) if not f else "finding", f
    if code == 1:
        if complete:
            finding("complete-on-failure", "no .complete after exit 1", ".complete present")
        if v.status == "valid":
            finding("rejected-valid", "exit 0 (the input is whole and valid)", f"exit 1: {last_line(err)}")
            return "finding", f
        # a proper error: names the file, a byte offset, and (archives) the member or namespace
        if names["file"] not in err:
            finding("error-without-file", f"stderr names {names['file']}", last_line(err))
        if not OFFSET_RE.search(err) and not v.empty:
            finding("error-without-offset", "stderr gives a byte offset", last_line(err))
        reason = v.reasons[0] if v.reasons else ""
        named = [m for m in (names.get("members") or []) if len(m) > 3 and m in reason]
        if named and not any(m in err for m in names["members"]):
            finding("error-without-member", f"stderr names the member or namespace ({named[0]})",
                    last_line(err))
        implausible = implausible_offset(case, err)
        if implausible:
            finding("implausible-offset", "the byte offset of the damage", implausible, soft=True)
        return ("ok-" + v.status) if not f else "finding", f
    if code == 3:
        finding("exit-3-unasked", "exit 3 only with --skip-corrupt/--skip-missing", f"exit 3: {last_line(err)}")
    else:
        finding("bad-exit", "exit 0 or 1", f"exit {code}: {last_line(err)}")
    return "finding", f


def implausible_offset(case, err):
    """'byte M of the decompressed stream' far before the first damaged byte (known for outer damage)."""
    d = case.get("_damage_decompressed")
    if d is None or d < 65536:
        return None
    m = re.search(r"byte (\d+) of the decompressed stream", err)
    if m and int(m.group(1)) < d // 4:
        return (f"reports decompressed byte {m.group(1)}, but the first damaged compressed byte "
                f"{case['_damage_at']} decodes from decompressed byte ~{d}")
    return None


def decompressed_upto(outer, p):
    """How many decompressed bytes the first p bytes of a valid gzip/zstd file give."""
    try:
        if outer[:2] == b"\x1f\x8b":
            total = 0
            for s, e in gz_members(outer):
                if p >= e:
                    total += len(zlib.decompress(outer[s + 10:e - 8], -15))
                    continue
                if p > s + 10:
                    total += len(zlib.decompressobj(-15).decompress(outer[s + 10:p]))
                break
            return total
        if outer[:4] == b"\x28\xb5\x2f\xfd":
            total = 0
            for s, e in zstd_frames(outer):
                if p >= e:
                    total += len(zstandard.ZstdDecompressor().decompressobj().decompress(outer[s:e]))
                    continue
                try:
                    total += len(zstandard.ZstdDecompressor().decompressobj().decompress(outer[s:p]))
                except zstandard.ZstdError:
                    pass
                break
            return total
    except Exception:
        return None
    return None


def last_line(err):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    # the error line, not the summary that follows it
    errs = [ln for ln in lines if "error" in ln.lower() or "panicked" in ln]
    s = (errs[-1] if errs else (lines[-1] if lines else "(no stderr)"))
    return s[:400]


def summ_export(export):
    return ", ".join(f"{ns}: {len(d)} docs" for ns, d in sorted(export.items())) or "nothing exported"


def compare(v, export):
    problems = []
    for ns, e in v.expected.items():
        if ns not in export:
            if not e["optional"]:
                problems.append(f"{ns} missing (expected {len(e['alts'][0])} docs)")
            continue
        got = export[ns]
        if got in e["alts"]:
            continue
        exp = e["alts"][0]
        if len(got) != len(exp):
            problems.append(f"{ns}: {len(got)} docs, expected {len(exp)}")
        else:
            i = next(k for k in range(len(got)) if got[k] != exp[k])
            problems.append(f"{ns}: document {i} differs: got {got[i][:160]} expected {exp[i][:160]}")
    for ns in export:
        if ns not in v.expected:
            problems.append(f"{ns} exported ({len(export[ns])} docs) but not expected")
    return "; ".join(problems)


def member_names(base):
    """Names an error about an archived input may use: member paths/basenames, namespaces."""
    fam = base["family"]
    if fam not in ("tar", "archive", "physical"):
        return None
    names = set()
    if fam in ("tar", "physical"):
        for _, n, t, _ in tar_headers(base["inner"]):
            names.add(n)
            names.add(n.rsplit("/", 1)[-1])
        for n in list(names):
            parts = n.split("/")
            if len(parts) >= 2 and n.endswith(".bson"):
                names.add(f"{parts[-2]}.{parts[-1][:-5]}")
            if len(parts) >= 4 and parts[-2] == "data":
                names.add(f"{parts[-4]}.{parts[-3]}")
    else:
        for m in re.finditer(rb"\x02db\x00.{4}([^\x00]*)\x00\x02collection\x00.{4}([^\x00]*)\x00",
                             base["inner"], re.S):
            names.add(f"{m.group(1).decode('utf-8', 'replace')}.{m.group(2).decode('utf-8', 'replace')}")
    names.discard("")
    return sorted(names)


# ------------------------------------------------------------------------------------------
# One case
# ------------------------------------------------------------------------------------------

def run_case(case, artifact, base, bases, work, binary, timeout, limit_mem):
    """case: dict with kind, seed, mutation, name, ns, extra; artifact: bytes or {path: bytes}."""
    t = Path(tempfile.mkdtemp(prefix=f"{case['kind']}-{case['seed']}-", dir=work / "runs"))
    indir = t / "in"
    indir.mkdir()
    input_path = indir / case["name"]
    write_artifact(input_path, artifact)
    v = oracle(case, input_path, bases)
    before_parent = set(listing(t.parent, recursive=False))
    before_work = set(listing(t.parent.parent, recursive=False))
    before_in = listing(indir, recursive=True)
    out = t / "out"
    extra = list(case.get("extra", []))
    res = run_bsonflow(binary, input_path, out, extra, t, timeout=timeout, limit_mem=limit_mem)
    fs_issues = []
    after_parent = set(listing(t.parent, recursive=False))
    for n in sorted(after_parent - before_parent):
        fs_issues.append(f"new entry next to the run folder: {t.parent / n}")
    for n in sorted(set(listing(t.parent.parent, recursive=False)) - before_work):
        fs_issues.append(f"new entry two levels above the output: {t.parent.parent / n}")
    if listing(indir, recursive=True) != before_in:
        fs_issues.append(f"the input folder changed: {sorted(set(listing(indir, True)) ^ set(before_in))[:5]}")
    for p in t.iterdir():
        if p.name not in ("in", "out", "tmp"):
            fs_issues.append(f"left behind in the run folder: {p.name}")
    left_tmp = list((t / "tmp").iterdir()) if (t / "tmp").exists() else []
    if left_tmp:
        fs_issues.append(f"left behind in TMPDIR: {[p.name for p in left_tmp][:5]}")
    for escape in ("escape-mutate.bson", "escape2.bson", "escape3.bson"):
        for cand in (t / escape, t.parent / escape, indir.parent.parent / escape):
            if cand.exists():
                fs_issues.append(f"file written outside DIR: {cand}")
    if Path("/tmp/escape-mutate-abs.bson").exists():
        fs_issues.append("file written outside DIR: /tmp/escape-mutate-abs.bson")
    case["_complete"] = (out / ".complete").exists()
    export, problems = read_export(out) if res["code"] in (0, 3) else ({}, [])
    names = {"file": case["name"], "members": member_names(base) if base else case.get("_members")}
    if case.get("_members") is not None:
        names["members"] = case["_members"]
    if names["members"] is not None and base is not None:
        case["_members"] = names["members"]
    if KINDS[case["kind"]][0] == "folder":
        # the error must name the damaged file
        names["file"] = case.get("target_file", case["name"]).rsplit("/", 1)[-1]
    outcome, findings = check(case, v, res, export, problems, fs_issues, names)
    return t, input_path, v, res, outcome, findings


def write_artifact(path, artifact):
    if isinstance(artifact, dict):
        path.mkdir(parents=True, exist_ok=True)
        for rel, data in artifact.items():
            p = path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
    else:
        path.write_bytes(artifact)


def command_line(case, input_path):
    extra = " ".join(case.get("extra", []))
    return f"(ulimit -v {MEM_LIMIT >> 10}; timeout 60 target/release/bsonflow convert '{input_path}' --out /tmp/mutate-replay-out {extra})".replace("  ", " ")


def save_finding(findings_dir, case, input_path, v, res, findings):
    d = findings_dir / f"{case['kind']}-s{case['seed']}"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    dest = d / "input" / input_path.name
    dest.parent.mkdir()
    if input_path.is_dir():
        shutil.copytree(input_path, dest)
    else:
        shutil.copy2(input_path, dest)
    rec = {k: val for k, val in case.items() if not k.startswith("_")}
    rec.update(members=case.get("_members"), verdict=v.summary(), exit=res["code"], timed_out=res["timed_out"],
               findings=findings, command=command_line(case, dest.resolve()),
               replay=f"python3 xtask/mutate.py --replay {d}")
    (d / "case.json").write_text(json.dumps(rec, indent=2, ensure_ascii=False))
    (d / "stderr.txt").write_text(res["stderr"])
    (d / "stdout.txt").write_text(res["stdout"])
    return d


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------

def build_binary():
    print("building the release binary (cargo build --release -p bsonflow)…", file=sys.stderr, flush=True)
    r = subprocess.run(["cargo", "build", "--release", "-p", "bsonflow"], cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit("cargo build failed")


def preflight(binary, work):
    """Can the binary start (and convert the bundled sample) under ulimit -v 1 GiB?"""
    t = Path(tempfile.mkdtemp(prefix="preflight-", dir=work))
    res = run_bsonflow(binary, ROOT / "testdata/sample-dump", t / "out", [], t, timeout=60, limit_mem=True)
    ok = res["code"] == 0
    shutil.rmtree(t, ignore_errors=True)
    if not ok:
        print(f"NOTICE: the binary cannot convert the bundled sample under ulimit -v {MEM_LIMIT >> 10} "
              f"(exit {res['code']}): {last_line(res['stderr'])}; running WITHOUT the memory limit",
              flush=True)
    return ok


def one_line(case, outcome, fnd, v, res):
    tail = " | ".join(res["stderr"].strip().splitlines()[-3:])[-300:]
    soft = " [soft]" if fnd.get("soft") else ""
    return (f"FINDING{soft} class={fnd['class']} kind={case['kind']} seed={case['seed']} base={case['base']!r} "
            f"mutation={case['mutation']!r} verdict={v.status} expected={fnd['expected']!r} got={fnd['got']!r} "
            f"rss={res['maxrss_mib']:.0f}MiB stderr_tail={tail!r}")


def signature(fnd, res):
    """A key that groups findings with the same cause: class + the error text without numbers/paths."""
    line = last_line(res["stderr"]) if fnd["class"] not in ("wrong-export", "accepted-invalid") else fnd["got"]
    line = re.sub(r"/[^\s:]*", "<path>", line)
    line = re.sub(r"0x[0-9a-f]+", "<hex>", line)
    line = re.sub(r"\d+", "N", line)
    return f"{fnd['class']}: {line[:160]}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=None, help="first case seed (default: from the clock)")
    ap.add_argument("--count", type=int, default=300, help="number of mutated cases")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated input kinds (--list-kinds)")
    ap.add_argument("--budget", type=float, default=600, help="stop starting cases after this many seconds")
    ap.add_argument("--timeout", type=float, default=60, help="time limit per bsonflow run (s)")
    ap.add_argument("--bin", default=str(ROOT / "target/release/bsonflow"))
    ap.add_argument("--no-build", action="store_true", help="do not rebuild the release binary first")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated inputs")
    ap.add_argument("--findings", default=str(ROOT / "target/mutate-findings"))
    ap.add_argument("--save-per-class", type=int, default=5,
                    help="save the inputs of at most this many cases per distinct finding")
    ap.add_argument("--work", default=None, help="scratch folder (default: a new one under /tmp)")
    ap.add_argument("--keep-work", action="store_true")
    ap.add_argument("--replay", default=None, help="a saved finding folder (or its case.json) to run again")
    ap.add_argument("--list-kinds", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per case")
    a = ap.parse_args()
    if a.list_kinds:
        for k, (fam, what) in KINDS.items():
            print(f"{k:14} {what}")
        return 0
    binary = Path(a.bin)
    if not a.no_build:
        build_binary()
    if not binary.exists():
        raise SystemExit(f"{binary} does not exist (cargo build --release -p bsonflow)")
    global RSS_DIR
    work = Path(a.work) if a.work else Path(tempfile.mkdtemp(prefix="bsonflow-mutate-"))
    RSS_DIR = str(work)
    (work / "runs").mkdir(parents=True, exist_ok=True)
    limit_mem = preflight(binary, work)
    bases = Bases(work, binary, limit_mem)
    try:
        if a.replay:
            return replay(Path(a.replay), bases, work, binary, a.timeout, limit_mem)
        return campaign(a, bases, work, binary, limit_mem)
    finally:
        if not a.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder kept: {work}", file=sys.stderr)


def replay(path, bases, work, binary, timeout, limit_mem):
    if path.is_dir():
        path = path / "case.json"
    rec = json.loads(path.read_text())
    inp = path.parent / "input"
    src = next(inp.iterdir())
    artifact = read_artifact(src)
    case = {k: rec[k] for k in ("kind", "seed", "mutation", "name", "base") if k in rec}
    case.update(ns=rec.get("ns"), extra=rec.get("extra", []), dbpath=rec.get("dbpath"),
                target_file=rec.get("target_file"), _members=rec.get("members"))
    t, input_path, v, res, outcome, findings = run_case(case, artifact, None, bases, work, binary, timeout, limit_mem)
    print(f"replay {path.parent.name}: kind={case['kind']} seed={case['seed']} mutation={case['mutation']!r}")
    print(f"oracle: {v.status}: {'; '.join(v.reasons[:3])}")
    print(f"bsonflow: exit {res['code']}{' (timed out)' if res['timed_out'] else ''}, "
          f"{res['wall']:.2f} s, peak RSS {res['maxrss_mib']:.0f} MiB, .complete={'yes' if case['_complete'] else 'no'}")
    print("stderr tail:\n  " + "\n  ".join(res["stderr"].strip().splitlines()[-6:]))
    for fnd in findings:
        print(one_line(case, outcome, fnd, v, res))
    print("outcome:", outcome)
    return 1 if findings else 0


def read_artifact(src):
    if src.is_dir():
        return {p.relative_to(src).as_posix(): p.read_bytes() for p in sorted(src.rglob("*")) if p.is_file()}
    return src.read_bytes()


def campaign(a, bases, work, binary, limit_mem):
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    for k in kinds:
        if k not in KINDS:
            raise SystemExit(f"unknown kind {k!r}; kinds: {', '.join(KINDS)}")
    seed0 = a.seed if a.seed is not None else int(time.time()) % 1_000_000
    findings_dir = Path(a.findings) / f"campaign-{seed0}"
    print(f"bsonflow mutation campaign: seed {seed0}, {a.count} cases over {len(kinds)} kinds, "
          f"budget {a.budget:.0f} s, timeout {a.timeout:.0f} s, memory limit "
          f"{'1 GiB (ulimit -v)' if limit_mem else 'NONE (binary cannot start under 1 GiB)'}", flush=True)
    t_start = time.monotonic()
    table = {}
    all_findings = []
    signatures = {}

    peaks = {}

    def record(case, outcome, findings, v, res, input_path):
        row = table.setdefault(case["kind"], {})
        row[outcome] = row.get(outcome, 0) + 1
        pk = peaks.setdefault(case["kind"], [0.0, 0.0])
        pk[0] = max(pk[0], res["maxrss_mib"])
        pk[1] = max(pk[1], res["wall"])
        if findings:
            sigs = [signature(fnd, res) for fnd in findings]
            saved = None
            # keep the inputs of the first few cases of each distinct finding
            if any(signatures.get(sig, {}).get("count", 0) < a.save_per_class for sig in sigs):
                saved = save_finding(findings_dir, case, input_path, v, res, findings)
            for fnd, sig in zip(findings, sigs):
                print(one_line(case, outcome, fnd, v, res) + (f" saved={saved}" if saved else ""), flush=True)
                all_findings.append((case, fnd))
                if sig not in signatures:
                    signatures[sig] = {"count": 0, "example": saved, "case": case, "fnd": fnd, "res": res,
                                       "input": saved / "input" / case["name"], "kinds": set()}
                signatures[sig]["count"] += 1
                signatures[sig]["kinds"].add(case["kind"])
        elif a.verbose:
            print(f"ok {case['kind']} seed={case['seed']} {outcome} exit={res['code']} {case['mutation']!r}",
                  flush=True)

    # 1. the unmutated inputs must convert and match the oracle
    if not a.no_baseline:
        for kind in kinds:
            variants = [None]
            if kind.startswith("archive"):
                variants = sorted(bases.archives())
            elif kind == "physical-tgz":
                variants = list(Bases.DBPATHS)
            for var in variants:
                rng = random.Random(f"baseline:{kind}:{var}")
                base = build_base(kind, FixedChoice(rng, var), bases)
                case = case_of(kind, f"baseline-{var or 0}", base, "none (baseline)")
                artifact = base["folder"] if base["family"] == "folder" else base["outer"]
                t, input_path, v, res, outcome, findings = run_case(case, artifact, base, bases, work, binary,
                                                                    a.timeout, limit_mem)
                record(case, "baseline-" + outcome, findings, v, res, input_path)
                shutil.rmtree(t, ignore_errors=True)
    # 2. mutated inputs
    done = 0
    for i in range(a.count):
        if time.monotonic() - t_start > a.budget:
            print(f"budget of {a.budget:.0f} s spent after {done} cases", flush=True)
            break
        kind = kinds[i % len(kinds)]
        seed = seed0 + i
        rng = random.Random(f"{kind}:{seed}")
        base = build_base(kind, rng, bases)
        artifact, desc = mutate(rng, base)
        case = case_of(kind, seed, base, desc)
        if desc.startswith("outer:"):
            p = common_prefix(base["outer"], artifact)
            case["_damage_at"] = p
            case["_damage_decompressed"] = decompressed_upto(base["outer"], p)
        if base["family"] == "folder":
            case["target_file"] = desc.split(":", 1)[0]
        if rng.random() < 0.3:
            case["extra"] = case.get("extra", []) + ["--chunk-bytes", "64K"]
        if KINDS[kind][0] in ("bson", "folder", "tar") and rng.random() < 0.2:
            case["extra"] = case.get("extra", []) + ["--skip-corrupt"]
        t, input_path, v, res, outcome, findings = run_case(case, artifact, base, bases, work, binary,
                                                            a.timeout, limit_mem)
        record(case, outcome, findings, v, res, input_path)
        shutil.rmtree(t, ignore_errors=True)
        done += 1
    elapsed = time.monotonic() - t_start
    # summary
    outcomes = sorted({o for row in table.values() for o in row})
    print(f"\nsummary: {done} mutated cases in {elapsed:.0f} s (seed {seed0}); outcome per input kind")
    print("| kind | " + " | ".join(outcomes) + " | total | max RSS MiB | max s |")
    print("| --- |" + " ---: |" * (len(outcomes) + 3))
    for kind in kinds:
        row = table.get(kind, {})
        pk = peaks.get(kind, [0, 0])
        print(f"| {kind} | " + " | ".join(str(row.get(o, 0)) for o in outcomes)
              + f" | {sum(row.values())} | {pk[0]:.0f} | {pk[1]:.1f} |")
    print("\nok-valid / ok-invalid / ok-either: the run kept the promise for a valid / damaged / "
          "open-by-the-spec input; finding: see the lines above.")
    if signatures:
        print(f"\n{len(all_findings)} findings, {len(signatures)} distinct (class + error text):")
        for sig, s in sorted(signatures.items(), key=lambda kv: -kv[1]["count"]):
            c = s["case"]
            print(f"- [{s['count']}x, kinds {','.join(sorted(s['kinds']))}] {sig}\n"
                  f"    example: kind={c['kind']} seed={c['seed']} mutation={c['mutation']!r}\n"
                  f"    expected {s['fnd']['expected'][:200]!r}, got {s['fnd']['got'][:200]!r}\n"
                  f"    input: {s['input']}\n"
                  f"    replay: python3 xtask/mutate.py --no-build --replay {s['example']}")
        print(f"\nfindings saved under {findings_dir}")
        return 1
    print("\nno findings")
    return 0


def common_prefix(a, b):
    n = min(len(a), len(b))
    lo, hi = 0, n
    while lo < hi:  # binary search on equal prefixes
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


class FixedChoice:
    """A random.Random whose first choice() is fixed (to pick a baseline variant)."""

    def __init__(self, rng, fixed):
        self.rng = rng
        self.fixed = fixed

    def choice(self, seq):
        if self.fixed is not None and self.fixed in seq:
            v, self.fixed = self.fixed, None
            return v
        return self.rng.choice(seq)

    def __getattr__(self, n):
        return getattr(self.rng, n)


def case_of(kind, seed, base, desc):
    c = {"kind": kind, "seed": seed, "mutation": desc, "name": base["name"], "base": base["base"], "extra": []}
    if base.get("ns"):
        c["ns"] = base["ns"]
        c["extra"] = ["--ns", base["ns"]]
    if base.get("dbpath"):
        c["dbpath"] = base["dbpath"]
    return c


if __name__ == "__main__":
    sys.exit(main())
