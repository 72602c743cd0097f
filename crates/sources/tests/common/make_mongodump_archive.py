"""Writes mongodump archives from the format's specification (mongo-tools
common/archive/spec.md; bsonflow docs alibaba-backups.md section 8), independently of the
Rust reader: Python's struct for framing, pymongo's bson for documents, CRC-64/XZ computed
here. Also writes the same collections as a mongodump folder (<db>/<coll>.bson +
<coll>.metadata.json) so that a test can compare an archive export with a folder export.

usage: make_mongodump_archive.py OUT_DIR [--unterminated]
writes OUT_DIR/plain.archive, OUT_DIR/gzip.archive.gz, OUT_DIR/zstd.archive.zst (when the
zstandard module is present), OUT_DIR/dump/ and prints a JSON manifest.
"""
import datetime
import gzip
import json
import os
import random
import struct
import sys

import bson
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId

MAGIC = struct.pack("<I", 0x8199E26D)
TERMINATOR = b"\xff\xff\xff\xff"

# CRC-64/XZ: reflected polynomial 0xC96C5795D7870F42, init and xorout all ones.
_POLY = 0xC96C5795D7870F42
_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ _POLY if c & 1 else c >> 1
    _TABLE.append(c)


def crc64_update(crc, data):
    crc ^= 0xFFFFFFFFFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


assert crc64_update(0, b"123456789") == 0x995DC9BBDF1939FA
assert crc64_update(crc64_update(0, b"1234"), b"56789") == 0x995DC9BBDF1939FA


def as_int64(u):
    return Int64(u - (1 << 64) if u >= 1 << 63 else u)


def main():
    out = sys.argv[1]
    unterminated = "--unterminated" in sys.argv
    rng = random.Random(20240601)
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)

    def order(i):
        return bson.encode({
            "_id": ObjectId(bytes([i % 256, i // 256 % 256]) + b"\x00" * 10),
            "n": i,
            "big": Int64(i * 10_000_000_000),
            "price": Decimal128(f"{i}.25"),
            "when": base + datetime.timedelta(minutes=i),
            "tags": ["t%d" % (i % 7), {"k": i % 3}],
            "note": "FLIPME%05d" % i,
            "ratio": i / 7.0,
        })

    collections = {
        # name -> (prelude record or None, metadata text, documents)
        ("shop", "orders"): dict(
            kind="collection",
            metadata=json.dumps({
                "indexes": [
                    {"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"},
                    {"v": {"$numberInt": "2"}, "key": {"n": {"$numberInt": "-1"}}, "name": "n_-1"},
                ],
                "uuid": "342c40a937c34c478bab03de8ce44f3e",
                "collectionName": "orders",
                "type": "collection",
            }),
            docs=[order(i) for i in range(1500)],
        ),
        ("shop", "customers"): dict(
            kind=None,  # mongodump < 100.4: no `type` field, legacy metadata
            metadata='{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_","ns":"shop.customers"}]}',
            docs=[bson.encode({"_id": i, "name": "c%d" % i, "blob": bson.Binary(bytes([i % 256]) * (i % 50))})
                  for i in range(400)],
            size=Int64(5_000_000_000),
        ),
        ("shop", "empty"): dict(kind="collection", metadata='{"indexes":[],"collectionName":"empty","type":"collection"}', docs=[]),
        ("shop", "system.js"): dict(kind="collection", metadata='{"indexes":[]}', docs=[bson.encode({"_id": "f", "value": bson.Code("function(){}")})]),
        ("shop", "recent"): dict(kind="view", metadata=json.dumps({
            "options": {"viewOn": "orders", "pipeline": [{"$match": {"n": {"$gt": {"$numberInt": "10"}}}}]},
            "indexes": [], "collectionName": "recent", "type": "view"}), docs=None),
        ("weather", "readings"): dict(kind="timeseries", metadata=json.dumps({
            "options": {"timeseries": {"timeField": "t", "granularity": "seconds"}},
            "indexes": [], "collectionName": "readings", "type": "timeseries"}), docs=None),
        ("weather", "system.buckets.readings"): dict(kind=None, metadata=None,
            docs=[bson.encode({"_id": ObjectId(), "control": {"version": 1}, "data": {"t": {"0": base}}, "i": i}) for i in range(30)]),
        ("weather", "stations"): dict(kind="collection", metadata='{"indexes":[],"type":"collection"}',
            docs=[bson.encode({"_id": "st%d" % i, "loc": [i * 0.5, -i * 0.25]}) for i in range(120)]),
        ("admin", "system.users"): dict(kind="collection", metadata='{"indexes":[]}', docs=[bson.encode({"_id": "admin.root", "user": "root"})]),
        ("admin", "system.roles"): dict(kind="collection", metadata='{"indexes":[]}', docs=[]),
        ("admin", "system.version"): dict(kind="collection", metadata='{"indexes":[]}', docs=[bson.encode({"_id": "featureCompatibilityVersion", "version": "4.2"})]),
        ("café", "menü"): dict(kind="collection", metadata='{"indexes":[]}', docs=[bson.encode({"_id": 1, "s": "crème brûlée"})]),
    }
    prelude = [ns for ns, c in collections.items() if c["metadata"] is not None]
    # Data: interleaved segments of random lengths, some empty; an EOF block per namespace
    # that has documents or an EOF-only namespace (empty collections), none for the view.
    pending = {ns: list(c["docs"]) for ns, c in collections.items() if c["docs"] is not None}
    crcs = {ns: 0 for ns in pending}
    body = bytearray()
    blocks = []
    first_doc = {}  # ns -> offset of its first document in the body
    block_ends = []  # body offsets right after each block's terminator
    unterminated_done = False
    while pending:
        ns = rng.choice(sorted(pending))
        docs = pending[ns]
        n = min(len(docs), rng.choice([0, 1, 3, 17, 60, 200]))
        if docs or rng.random() < 0.5:
            seg = bytearray(bson.encode({"db": ns[0], "collection": ns[1], "EOF": False, "CRC": Int64(0)}))
            for _ in range(n):
                d = docs.pop(0)
                if unterminated and not unterminated_done and ns == ("shop", "orders"):
                    d = d[:-1] + b"\x01"
                    unterminated_done = True
                crcs[ns] = crc64_update(crcs[ns], d)
                first_doc.setdefault(ns, len(body) + len(seg))
                seg += d
            seg += TERMINATOR
            body += seg
            blocks.append((ns, "segment", n))
            block_ends.append(len(body))
        if not docs:
            eof = bson.encode({"db": ns[0], "collection": ns[1], "EOF": True, "CRC": as_int64(crcs[ns])})
            body += eof + TERMINATOR
            blocks.append((ns, "eof", crcs[ns]))
            block_ends.append(len(body))
            del pending[ns]

    head = bytearray(MAGIC)
    head += bson.encode({"concurrent_collections": 4, "version": "0.1",
                         "server_version": "4.2.24", "tool_version": "bsonflow-test-writer"})
    for ns in prelude:
        c = collections[ns]
        rec = {"db": ns[0], "collection": ns[1], "metadata": c["metadata"], "size": c.get("size", 0)}
        if c["kind"] is not None:
            rec["type"] = c["kind"]
        head += bson.encode(rec)
    head += TERMINATOR
    archive = bytes(head + body)

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "plain.archive"), "wb") as f:
        f.write(archive)
    with open(os.path.join(out, "gzip.archive.gz"), "wb") as f:
        f.write(gzip.compress(archive))
    try:
        import zstandard
        with open(os.path.join(out, "zstd.archive.zst"), "wb") as f:
            f.write(zstandard.ZstdCompressor(level=3).compress(archive))
    except ImportError:
        pass

    # The same content as a mongodump folder.
    dump = os.path.join(out, "dump")
    for (db, coll), c in collections.items():
        d = os.path.join(dump, db)
        os.makedirs(d, exist_ok=True)
        if c["metadata"] is not None:
            with open(os.path.join(d, coll + ".metadata.json"), "w") as f:
                f.write(c["metadata"])
        if c["docs"] is not None and c["kind"] != "timeseries":
            with open(os.path.join(d, coll + ".bson"), "wb") as f:
                f.write(b"".join(c["docs"]))
    print(json.dumps({
        "size": len(archive),
        "prelude_end": len(head),
        "crc": {"%s.%s" % ns: v for ns, kind, v in blocks if kind == "eof"},
        "segments": sum(1 for b in blocks if b[1] == "segment"),
        "first_doc": {"%s.%s" % ns: len(head) + v for ns, v in first_doc.items()},
        "block_ends": [len(head) + v for v in block_ends],
        "empty_segments": sum(1 for b in blocks if b[1] == "segment" and b[2] == 0),
    }))


if __name__ == "__main__":
    main()
