"""Writes two BSON sets with pymongo's bson, for the tar reader's tests:

  OUT/mongo/dump/...   mongodump layout: <db>/<coll>.bson + <coll>.metadata.json
  OUT/cloud/...        ApsaraDB cloud layout: <db>/<coll>/data/<coll>_<N>_part<M>.bson

usage: make_bson_sets.py OUT  (prints a JSON summary: documents per namespace)
"""
import datetime
import gzip
import hashlib
import json
import os
import sys

import bson
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from bson.objectid import ObjectId

BASE = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
LONG80 = "c" + "o" * 78 + "l"       # an 80-character name: paths > 100 bytes that ustar can split
LONG150 = "L" * 150                 # a 150-character name: needs GNU or PAX long names


def doc(kind, i):
    return bson.encode({
        "_id": ObjectId(i.to_bytes(4, "big") + kind.encode()[:8].ljust(8, b"_")),
        "kind": kind,
        "i": i,
        "i64": Int64(i * 3_000_000_000),
        "d": Decimal128("%d.5" % i),
        "f": i / 3.0,
        "when": BASE + datetime.timedelta(seconds=i),
        "arr": [i, "x" * (i % 13), {"nested": [True, None]}],
        "bin": bson.Binary(bytes([i % 256]) * (i % 40), 0),
    })


def docs(kind, n, start=0):
    return [doc(kind, i) for i in range(start, start + n)]


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def meta(name, indexes=(), kind="collection", options=None):
    m = {}
    if options is not None:
        m["options"] = options
    m["indexes"] = [{"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"}]
    m["indexes"] += list(indexes)
    m["uuid"] = hashlib.md5(name.encode()).hexdigest()
    m["collectionName"] = name
    m["type"] = kind
    return json.dumps(m).encode()


def main():
    out = sys.argv[1]
    counts = {}

    # --- mongodump layout ---
    d = os.path.join(out, "mongo", "dump")

    def coll(db, file_coll, name, documents, metadata=None, gz=False):
        data = b"".join(documents)
        path = os.path.join(d, db, file_coll + ".bson")
        if gz:
            write(path + ".gz", gzip.compress(data))
        else:
            write(path, data)
        if metadata is not None:
            write(os.path.join(d, db, file_coll + ".metadata.json"), metadata)
        counts["%s.%s" % (db, name)] = len(documents)

    coll("shop", "orders", "orders", docs("order", 1200),
         meta("orders", [{"v": {"$numberInt": "2"}, "key": {"i": {"$numberInt": "-1"}}, "name": "i_-1"}]))
    coll("shop", "customers", "customers", docs("customer", 300),
         b'{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_","ns":"shop.customers"}]}')
    coll("shop", "empty", "empty", [], meta("empty"))
    write(os.path.join(d, "shop", "recent.metadata.json"),
          meta("recent", kind="view", options={"viewOn": "orders", "pipeline": []}))
    coll("shop", "system.js", "system.js", [bson.encode({"_id": "f", "value": bson.Code("function(){return 1}")})], meta("system.js"))
    coll("shop", "gzipped", "gzipped", docs("gz", 200), meta("gzipped"), gz=True)
    coll("shop", "a%2Fb", "a/b", docs("slash", 5))
    coll("shop", "100%25", "100%", docs("pct", 7), meta("100%"))
    coll("shop", LONG80, LONG80, docs("long", 50), meta(LONG80))
    coll("same", "same", "same", docs("same", 20), meta("same"))
    coll("données", "éléments", "éléments", docs("utf8", 3), meta("éléments"))
    coll("admin", "system.version", "system.version", [bson.encode({"_id": "featureCompatibilityVersion", "version": "7.0"})], meta("system.version"))
    coll("admin", "system.users", "system.users", [bson.encode({"_id": "admin.root", "user": "root"})])
    write(os.path.join(d, "README.txt"), b"not part of the dump\n")
    write(os.path.join(d, "shop", "notes.txt"), b"neither\n")

    # --- cloud layout ---
    c = os.path.join(out, "cloud")

    def parts(db, name, split, metadata=None, db_level_metadata=False, gz_parts=()):
        start = 0
        total = 0
        for (n, m), k in split:
            data = b"".join(docs(name[:6], k, start))
            start += k
            total += k
            path = os.path.join(c, db, name, "data", "%s_%d_part%d.bson" % (name, n, m))
            if (n, m) in gz_parts:
                write(path + ".gz", gzip.compress(data))
            else:
                write(path, data)
        if metadata is not None:
            if db_level_metadata:
                write(os.path.join(c, db, name + ".metadata.json"), metadata)
            else:
                write(os.path.join(c, db, name, name + ".metadata.json"), metadata)
        counts["%s.%s" % (db, name)] = total

    parts("app", "events", [((0, 0), 300), ((0, 1), 250), ((2, 0), 400), ((10, 0), 150)], meta("events"))
    parts("app", "users", [((0, 0), 300)], meta("users"), db_level_metadata=True)
    parts("app", "logs", [((1, 0), 120), ((1, 1), 80)])
    parts("app", "emptyc", [((0, 0), 0)], meta("emptyc"))
    parts("app", "zipped", [((0, 0), 90), ((0, 1), 60), ((0, 2), 30)], meta("zipped"), gz_parts=[(0, 0), (0, 2)])
    parts("app", "ordered", [((0, m), 10 + m) for m in range(12)])
    parts("app", LONG150, [((0, 0), 10), ((0, 1), 5)], meta(LONG150))
    parts("admin", "system.version", [((0, 0), 1)])
    parts("app", "system.js", [((0, 0), 2)])
    write(os.path.join(c, "app", "viewx", "viewx.metadata.json"),
          meta("viewx", kind="view", options={"viewOn": "events", "pipeline": []}))
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
