#!/usr/bin/env python3
"""Packs a mongod data directory the way ApsaraDB ships physical backups, independently of
bsonflow's Rust code, and makes the small fixtures committed next to this script.

    pack.py qpxb   SRC DST SEED   # DST = xbstream of <path>.qp members (qpress + QuickLZ)
    pack.py targz  SRC DST        # DST = tar.gz of SRC (Python tarfile)
    pack.py tarzst SRC DST        # DST = tar.zst of SRC (python zstandard)
    pack.py fixtures OUTDIR       # regenerates sample/, sample_qp.xb, sample.tar.gz, sample.manifest

The `_qp.xb` writer follows the published formats only (shared/docs/formats/xbstream-qpress.md,
qpress 1.1's grammar comment, Percona's xbstream chunk layout): every file becomes a qpress
archive with one `F` record named after the file, cut into blocks of 64 KiB or 1 MiB
(alternating per file) compressed by the QuickLZ C library (`pip install pyquicklz`, level 3,
the only level it builds), each with the Adler-32 of its packet; the qpress streams are cut
into xbstream `P` chunks of 64 KiB to 5 MiB, members interleaved in a random (seeded) order,
each ended by an `E` chunk. CRC-32 and Adler-32 come from zlib.
"""
import io
import os
import random
import struct
import sys
import tarfile
import zlib


def files_of(src):
    out = []
    for root, dirs, names in os.walk(src):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            if os.path.isfile(full) and not os.path.islink(full):
                out.append(os.path.relpath(full, src).replace(os.sep, '/'))
    return out


def qpress_file(name, data, chunk):
    import quicklz
    out = bytearray(b'qpress10' + struct.pack('<Q', chunk))
    out += b'F' + struct.pack('<I', len(name)) + name + b'\0'
    for off in range(0, len(data), chunk):
        packet = quicklz.compress(data[off:off + chunk])
        out += b'NEWBNEWB' + struct.pack('<Q', off)
        out += struct.pack('<I', zlib.adler32(packet) & 0xffffffff) + packet
    out += b'ENDSENDS' + struct.pack('<Q', 0)
    return bytes(out)


def xb_chunk(path, kind, payload=b'', offset=0):
    p = path.encode()
    head = b'XBSTCK01' + b'\0' + kind + struct.pack('<I', len(p)) + p
    if kind == b'E':
        return head
    crc = zlib.crc32(payload) & 0xffffffff
    return head + struct.pack('<QQI', len(payload), offset, crc) + payload


def qpxb(src, dst, seed):
    rng = random.Random(seed)
    members = []
    for i, rel in enumerate(files_of(src)):
        with open(os.path.join(src, rel), 'rb') as f:
            data = f.read()
        chunk = 65536 if i % 2 == 0 else 1 << 20
        stream = qpress_file(rel.rsplit('/', 1)[-1].encode(), data, chunk)
        members.append([rel + '.qp', stream, 0])
    with open(dst, 'wb') as out:
        active = list(members)
        while active:
            m = rng.choice(active)
            size = rng.choice([65536, 100000, 1 << 20, 5 << 20])
            piece = m[1][m[2]:m[2] + size]
            if piece:
                out.write(xb_chunk(m[0], b'P', piece, m[2]))
                m[2] += len(piece)
            if m[2] >= len(m[1]):
                out.write(xb_chunk(m[0], b'E'))
                active.remove(m)


def tar_of(src, fileobj, mode):
    with tarfile.open(fileobj=fileobj, mode=mode, format=tarfile.GNU_FORMAT) as t:
        for rel in files_of(src):
            info = t.gettarinfo(os.path.join(src, rel), arcname=rel)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, '', ''
            with open(os.path.join(src, rel), 'rb') as f:
                t.addfile(info, f)


def targz(src, dst):
    with open(dst, 'wb') as raw:
        import gzip
        with gzip.GzipFile(fileobj=raw, mode='wb', mtime=0) as gz:
            tar_of(src, gz, 'w')


def tarzst(src, dst):
    import zstandard
    buf = io.BytesIO()
    tar_of(src, buf, 'w')
    with open(dst, 'wb') as out:
        out.write(zstandard.ZstdCompressor(level=3).compress(buf.getvalue()))


def sample_tree(root):
    """A small data directory with the names and texture of a WiredTiger dbpath."""
    rng = random.Random(42)

    def bsonish(n):
        out, i = bytearray(), 0
        while len(out) < n:
            name = ('customer%d' % i).encode()
            doc = b'\x02name\x00' + struct.pack('<i', len(name) + 1) + name + b'\x00'
            doc += b'\x10n\x00' + struct.pack('<i', i) + b'\x00'
            out += struct.pack('<i', len(doc) + 4) + doc
            if i % 7 == 0:
                out += bytes(rng.randrange(256) for _ in range(rng.randrange(64)))
            if i % 13 == 0:
                out += b'\0' * rng.randrange(4096)
            i += 1
        return bytes(out[:n])

    files = {
        'WiredTiger': b'WiredTiger\nWiredTiger 11.2.0: (December 1, 2022)\n',
        'WiredTiger.lock': b'WiredTiger lock file\n',
        'WiredTiger.turtle': b'WiredTiger version string\nWiredTiger 11.2.0\n',
        'mongod.lock': b'',
        '_mdb_catalog.wt': bsonish(20000),
        'sizeStorer.wt': bsonish(8192),
        'WiredTiger.wt': bsonish(40000),
        'shop/collection-0-1234.wt': bsonish(150000),
        'shop/index-1-1234.wt': bsonish(30000),
        'admin/collection-2-1234.wt': bsonish(4096),
        'journal/WiredTigerLog.0000000001': b'\0' * 90000 + bsonish(10000),
    }
    for rel, data in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)


def fixtures(outdir):
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'sample')
        sample_tree(src)
        qpxb(src, os.path.join(outdir, 'sample_qp.xb'), 1)
        targz(src, os.path.join(outdir, 'sample.tar.gz'))
        with open(os.path.join(outdir, 'sample.manifest'), 'w') as m:
            m.write('# crc32 size path of every file in the sample data directory\n')
            for rel in files_of(src):
                with open(os.path.join(src, rel), 'rb') as f:
                    data = f.read()
                m.write('%08x %d %s\n' % (zlib.crc32(data) & 0xffffffff, len(data), rel))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'qpxb':
        qpxb(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == 'targz':
        targz(sys.argv[2], sys.argv[3])
    elif cmd == 'tarzst':
        tarzst(sys.argv[2], sys.argv[3])
    elif cmd == 'fixtures':
        fixtures(sys.argv[2])
    else:
        sys.exit(__doc__)
