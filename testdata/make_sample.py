#!/usr/bin/env python3
"""Writes testdata/sample-dump/: a small mongodump-style folder made with pymongo's BSON
encoder (an encoder bsonflow does not share code with), for the README's first command and
for tests.

usage: python3 testdata/make_sample.py [OUTDIR]     (needs: pip install pymongo)

Deterministic (fixed seed); rerunning it rewrites the same bytes.
"""
import datetime
import json
import os
import random
import sys
import uuid

import bson
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.json_util import CANONICAL_JSON_OPTIONS, dumps

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "sample-dump")
rng = random.Random(20261123)


def oid(i):
    return ObjectId(bytes([0x65, 0x5F, 0x00, 0x00]) + i.to_bytes(8, "big"))


def write(db, coll, docs, metadata):
    os.makedirs(os.path.join(OUT, db), exist_ok=True)
    with open(os.path.join(OUT, db, coll + ".bson"), "wb") as f:
        for d in docs:
            f.write(bson.encode(d))
    with open(os.path.join(OUT, db, coll + ".metadata.json"), "w") as f:
        f.write(dumps(metadata, json_options=CANONICAL_JSON_OPTIONS).replace(": ", ":").replace(", ", ","))


def idx(key, name, **extra):
    spec = bson.SON([("v", 2), ("key", bson.SON(key)), ("name", name)])
    spec.update(extra)
    return spec


def meta(coll, indexes, options=None, kind="collection"):
    m = bson.SON()
    m["options"] = options or {}
    m["indexes"] = indexes
    m["uuid"] = uuid.UUID(int=rng.getrandbits(128)).hex
    m["collectionName"] = coll
    m["type"] = kind
    return m


base = datetime.datetime(2024, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
statuses = ["new", "paid", "shipped", "delivered", "returned"]
customers = []
for i in range(40):
    customers.append(bson.SON([
        ("_id", oid(i)),
        ("name", rng.choice(["Ana", "Bo", "Chen", "Dvořák", "Élise", "Fatima", "Günther", "Hiro"]) + f" #{i}"),
        ("email", f"user{i}@example.com"),
        ("since", base - datetime.timedelta(days=rng.randrange(2000), milliseconds=rng.randrange(1000))),
        ("vip", rng.random() < 0.2),
        ("tags", rng.sample(["b2b", "eu", "us", "newsletter", "beta"], rng.randrange(3))),
        ("address", bson.SON([("city", rng.choice(["Lisbon", "Osaka", "Tromsø", "Lagos"])), ("zip", str(rng.randrange(10000, 99999)))])),
    ]))
orders = []
for i in range(300):
    items = []
    for _ in range(rng.randrange(1, 4)):
        items.append(bson.SON([("sku", f"SKU-{rng.randrange(1000):04d}"), ("qty", rng.randrange(1, 5)), ("price", Decimal128(f"{rng.randrange(100, 99999) / 100:.2f}"))]))
    orders.append(bson.SON([
        ("_id", oid(1000 + i)),
        ("customer", oid(rng.randrange(40))),
        ("status", rng.choice(statuses)),
        ("items", items),
        ("total", round(rng.uniform(1, 2000), 2)),
        ("weight_kg", rng.choice([0.5, 1.25, 3.0, 1e-7, 12345678.9])),
        ("placed", base + datetime.timedelta(minutes=rng.randrange(100000))),
        ("count", Int64(rng.randrange(1 << 40))),
        ("note", rng.choice(["", "gift\nwrap", "tab\there", 'quote " inside', "naïve café", None])),
        ("ts", Timestamp(1709294400 + i, 1)),
        ("receipt", Binary(bytes(rng.randrange(256) for _ in range(12)), 0)),
        ("ref", Binary.from_uuid(uuid.UUID(int=rng.getrandbits(128)))),
    ]))
odd = [
    bson.SON([("_id", 1), ("regex", Regex("^ab+c$", "im")), ("code", Code("function(){return 1}")),
              ("minmax", [MinKey(), MaxKey()]), ("big", Int64(-9223372036854775808)), ("neg0", -0.0),
              ("inf", float("inf")), ("nan", float("nan")), ("old_date", datetime.datetime(1901, 1, 1, tzinfo=datetime.timezone.utc))]),
]

write("shop", "customers", customers, meta("customers", [idx([("_id", 1)], "_id_"), idx([("email", 1)], "email_1", unique=True)]))
write("shop", "orders", orders, meta("orders", [idx([("_id", 1)], "_id_"), idx([("customer", 1), ("placed", -1)], "customer_1_placed_-1")]))
write("shop", "oddities", odd, meta("oddities", [idx([("_id", 1)], "_id_")], options={"capped": True, "size": Int64(1048576)}))
write("shop", "empty", [], meta("empty", [idx([("_id", 1)], "_id_")]))
# A view: metadata only, as mongodump writes it.
with open(os.path.join(OUT, "shop", "big_orders.metadata.json"), "w") as f:
    f.write(json.dumps({"options": {"viewOn": "orders", "pipeline": [{"$match": {"total": {"$gt": 1000}}}]},
                        "indexes": [], "collectionName": "big_orders", "type": "view"}, separators=(",", ":")))
write("shop", "system.js", [{"_id": "double", "value": Code("function(x){return 2*x}")}], meta("system.js", [idx([("_id", 1)], "_id_")]))
write("admin", "system.version", [{"_id": "featureCompatibilityVersion", "version": "7.0"}], meta("system.version", [idx([("_id", 1)], "_id_")]))
print("wrote", OUT)
