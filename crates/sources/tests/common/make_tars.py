"""Builds tars of a folder with Python's tarfile, gzip and zstandard, from a JSON spec:

  make_tars.py SPEC_JSON   with SPEC = [{"src": dir, "out": file, "format": "ustar|gnu|pax",
     "prefix": "leading/folders" or "", "order": "sorted|reverse|shuffle:<seed>",
     "compress": "none|gzip|gzip-multi|zstd", "dirs": bool, "links": bool,
     "extra": [[arcname, source file or null, text or null], ...]}, ...]

Prints, per tar, the list of its members with their header and data offsets (tarfile's own
reading of the uncompressed tar).
"""
import gzip
import io
import json
import os
import random
import sys
import tarfile

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


def build(spec):
    src = spec["src"]
    prefix = spec.get("prefix", "")
    files, dirs = [], []
    for root, dnames, fnames in os.walk(src):
        rel = os.path.relpath(root, src)
        if rel != ".":
            dirs.append(rel)
        for f in fnames:
            files.append(os.path.normpath(os.path.join(rel, f)))
    members = sorted(files) + (sorted(dirs) if spec.get("dirs") else [])
    order = spec.get("order", "sorted")
    if order == "reverse":
        members.reverse()
    elif order.startswith("shuffle:"):
        random.Random(int(order.split(":")[1])).shuffle(members)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=FORMATS[spec["format"]]) as tf:
        for rel in members:
            arc = rel if not prefix else prefix + "/" + rel
            tf.add(os.path.join(src, rel), arcname=arc, recursive=False)
        if spec.get("links"):
            p = (prefix + "/") if prefix else ""
            for name, kind, target in [
                (p + "shop/link.bson", tarfile.SYMTYPE, "orders.bson"),
                (p + "shop/hard.bson", tarfile.LNKTYPE, p + "shop/orders.bson"),
                (p + "fifo", tarfile.FIFOTYPE, ""),
                (p + "app/linkdir", tarfile.SYMTYPE, "/etc"),
            ]:
                ti = tarfile.TarInfo(name)
                ti.type = kind
                ti.linkname = target
                tf.addfile(ti)
        for arc, source, text in spec.get("extra", []):
            data = open(os.path.join(src, source), "rb").read() if source else text.encode()
            ti = tarfile.TarInfo(arc)  # addfile keeps the name as given, even absolute
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    listing = []
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tf:
        for m in tf.getmembers():
            listing.append({"name": m.name, "header": m.offset, "data": m.offset_data,
                            "size": m.size, "file": m.isfile()})
    kind = spec.get("compress", "none")
    if kind == "gzip":
        raw = gzip.compress(raw)
    elif kind == "gzip-multi":
        third = len(raw) // 3
        raw = gzip.compress(raw[:third]) + gzip.compress(raw[third:2 * third]) + gzip.compress(raw[2 * third:])
    elif kind == "zstd":
        import zstandard
        raw = zstandard.ZstdCompressor(level=3).compress(raw)
    with open(spec["out"], "wb") as f:
        f.write(raw)
    return {"out": spec["out"], "members": listing}


def main():
    specs = json.loads(sys.argv[1])
    print(json.dumps([build(s) for s in specs]))


if __name__ == "__main__":
    main()
