#!/usr/bin/env python3
"""Makes the raw seed corpus of every fuzz target from data nobody on this project wrote
(../shared/testdata) and from the project's own fixtures (testdata/), plus small containers
built here with the standard library (tarfile, gzip, zlib) and `zstandard` / `quicklz`
(pyquicklz) when installed.

    python3 fuzz/seeds/make_seeds.py OUTDIR      # OUTDIR/<target>/<name>

The committed corpus (fuzz/corpus/<target>/) is this output minimised with `cargo fuzz cmin`
(see fuzz/README.md). Every file is kept under 64 KiB so that libFuzzer's -max_len stays small.
"""
import gzip
import hashlib
import io
import json
import os
import re
import struct
import sys
import tarfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), 'shared', 'testdata')
LOCAL = os.path.join(ROOT, 'testdata')
MAX_SEED = 64 * 1024

try:
    import zstandard
except ImportError:  # the zstd seeds are skipped
    zstandard = None
try:
    import quicklz
except ImportError:  # QuickLZ-compressed seeds are skipped
    quicklz = None


class Out:
    def __init__(self, base):
        self.base = base
        self.counts = {}

    def add(self, target, name, data):
        if not data or len(data) > MAX_SEED:
            return
        d = os.path.join(self.base, target)
        os.makedirs(d, exist_ok=True)
        digest = hashlib.sha1(data).hexdigest()[:10]
        safe = re.sub(r'[^A-Za-z0-9._-]', '_', name)[:60]
        with open(os.path.join(d, f'{safe}-{digest}'), 'wb') as f:
            f.write(data)
        self.counts[target] = self.counts.get(target, 0) + 1


def read(path):
    with open(path, 'rb') as f:
        return f.read()


def shared(*parts):
    return os.path.join(SHARED, *parts)


def zstd(data):
    return zstandard.ZstdCompressor(level=3).compress(data) if zstandard else None


def gz(data):
    return gzip.compress(data, mtime=0)


# ---------------------------------------------------------------- BSON


def split_docs(data):
    docs, pos = [], 0
    while pos + 4 <= len(data):
        n = struct.unpack_from('<i', data, pos)[0]
        if n < 5 or pos + n > len(data):
            break
        docs.append(data[pos:pos + n])
        pos += n
    return docs


def corpus_cases():
    d = shared('bson-corpus')
    for name in sorted(os.listdir(d)):
        if not name.endswith('.json'):
            continue
        spec = json.load(open(os.path.join(d, name)))
        for i, case in enumerate(spec.get('valid', [])):
            for key in ('canonical_bson', 'degenerate_bson'):
                if key in case:
                    yield f'{name[:-5]}-valid{i}-{key[:5]}', bytes.fromhex(case[key])
        for i, case in enumerate(spec.get('decodeErrors', [])):
            yield f'{name[:-5]}-error{i}', bytes.fromhex(case['bson'])


def bson_seeds(out):
    cases = list(corpus_cases())
    bsondump = {n: read(shared('bsondump', n)) for n in sorted(os.listdir(shared('bsondump')))
                if n.endswith('.bson')}
    for name, data in cases:
        out.add('ejson', name, data)
        out.add('bson_frame', name, data)
    for name, data in bsondump.items():
        out.add('bson_frame', name, data)
        for i, doc in enumerate(split_docs(data)[:20]):
            out.add('ejson', f'{name}-{i}', doc)
        if not split_docs(data):
            out.add('ejson', name, data)
    for name in ('customers.bson', 'oddities.bson', 'orders.bson'):
        path = os.path.join(LOCAL, 'sample-dump', 'shop', name)
        docs = split_docs(read(path))
        out.add('bson_frame', name, b''.join(docs[:40]))
        for i, doc in enumerate(docs[:10]):
            out.add('ejson', f'{name}-{i}', doc)


# ---------------------------------------------------------------- archives and compression


def archive_seeds(out):
    d = shared('mongo-tools')
    for name in sorted(os.listdir(d)):
        if name.endswith('.archive'):
            data = read(os.path.join(d, name))
            out.add('mongodump_archive', name, data)
            out.add('compression', name + '.gz', gz(data))
            z = zstd(data)
            if z and len(data) < 8192:
                out.add('mongodump_archive', name + '.zst', z)
                out.add('mongodump_archive', name + '.gz', gz(data))


def compression_seeds(out):
    text = b'{"_id": 1, "name": "bsonflow"}\n' * 20
    out.add('compression', 'plain', text)
    out.add('compression', 'gzip', gz(text))
    out.add('compression', 'gzip-multi', gz(text[:100]) + gz(text[100:]))
    out.add('compression', 'gzip-empty', gz(b''))
    bad = bytearray(gz(text))
    bad[-8] ^= 1  # CRC
    out.add('compression', 'gzip-badcrc', bytes(bad))
    out.add('compression', 'gzip-cut', gz(text)[:30])
    if zstandard:
        z = zstd(text)
        out.add('compression', 'zstd', z)
        out.add('compression', 'zstd-two-frames', z + zstd(b'more'))
        skippable = struct.pack('<II', 0x184D2A50, 4) + b'skip'
        out.add('compression', 'zstd-skippable', skippable + z)
        out.add('compression', 'zstd-cut', z[:12])
        nosize = zstandard.ZstdCompressor(write_content_size=False, write_checksum=True)
        out.add('compression', 'zstd-checksum', nosize.compress(text))


# ---------------------------------------------------------------- tar


def make_tar(members, fmt=tarfile.GNU_FORMAT, pax_headers=None):
    """members: (name, bytes | None for a directory | ('sym'|'hard', target))."""
    buf = io.BytesIO()
    old = tarfile.RECORDSIZE
    tarfile.RECORDSIZE = 1024  # two end blocks, no 10 KiB padding
    try:
        with tarfile.open(fileobj=buf, mode='w', format=fmt, pax_headers=pax_headers) as t:
            for name, data in members:
                info = tarfile.TarInfo(name)
                info.mtime = 0
                if data is None:
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    t.addfile(info)
                elif isinstance(data, tuple):
                    info.type = tarfile.SYMTYPE if data[0] == 'sym' else tarfile.LNKTYPE
                    info.linkname = data[1]
                    t.addfile(info)
                else:
                    info.size = len(data)
                    info.mode = 0o644
                    t.addfile(info, io.BytesIO(data))
    finally:
        tarfile.RECORDSIZE = old
    return buf.getvalue()


def tar_seeds(out):
    sample = read(shared('bsondump', 'sample.bson'))
    docs = split_docs(sample)
    meta = b'{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"}],"uuid":"00112233445566778899aabbccddeeff","collectionName":"orders","type":"collection"}'
    mongodump = [
        ('dump', None),
        ('dump/shop', None),
        ('dump/shop/orders.metadata.json', meta),
        ('dump/shop/orders.bson', sample),
        ('dump/shop/empty.bson', b''),
        ('dump/admin/system.version.bson', docs[0]),
    ]
    cloud = [
        ('shop/orders/orders.metadata.json', meta),
        ('shop/orders/data/orders_0_part1.bson', b''.join(docs[2:])),  # out of order: spills
        ('shop/orders/data/orders_0_part0.bson', b''.join(docs[:2])),
        ('shop/users/data/users_1_part0.bson', docs[0]),
        ('shop/users/data/users_0_part0.bson', docs[1]),
        ('shop/items/data/items_0_part0.bson.gz', gz(docs[0])),
        ('shop/logs/data/logs_0_part0.bson', docs[1]),
    ]
    long_name = 'dump/' + 'd' * 80 + '/' + 'c' * 120 + '.bson'
    odd = [
        ('dump/shop/link.bson', ('sym', 'orders.bson')),
        ('dump/shop/hard.bson', ('hard', 'dump/shop/orders.bson')),
        (long_name, docs[0]),
        ('dump/shop/sp%2Fcial.bson', docs[0]),
        ('dump/shop/orders.bson.gz', gz(sample)),
        ('top-level.bson', docs[0]),
        ('dump/shop/notes.txt', b'hello'),
    ]
    tars = {
        'mongodump-gnu.tar': make_tar(mongodump),
        'mongodump-ustar.tar': make_tar(mongodump, tarfile.USTAR_FORMAT),
        'cloud-pax.tar': make_tar(cloud, tarfile.PAX_FORMAT, {'comment': 'bsonflow'}),
        'odd-gnu.tar': make_tar(odd),
        'odd-pax.tar': make_tar(odd, tarfile.PAX_FORMAT),
        'bad-doc.tar': make_tar([('dump/shop/bad.bson', sample[:-3] + b'\x05\x00\x00')]),
    }
    for name, data in tars.items():
        out.add('tar_set', name, data)
    out.add('tar_set', 'mongodump.tar.gz', gz(tars['mongodump-gnu.tar']))
    z = zstd(tars['cloud-pax.tar'])
    if z:
        out.add('tar_set', 'cloud.tar.zst', z)
    out.add('tar_set', 'truncated.tar', tars['mongodump-gnu.tar'][:1536])
    out.add('tar_set', 'no-end-marker.tar', tars['mongodump-gnu.tar'][:-1024])
    # The fixtures folder tarred: the same folder the tests read.
    folder = []
    for root, dirs, names in os.walk(os.path.join(LOCAL, 'sample-dump')):
        dirs.sort()
        for n in sorted(names):
            full = os.path.join(root, n)
            rel = os.path.relpath(full, LOCAL)
            data = read(full)
            if len(data) < 8192:
                folder.append((rel, data))
    out.add('tar_set', 'sample-dump.tar', make_tar(folder))
    return tars


# ---------------------------------------------------------------- xbstream, qpress, QuickLZ


def xb_chunk(path, kind, payload=b'', offset=0, sparse=None, flags=0):
    head = b'XBSTCK01' + bytes([flags]) + kind + struct.pack('<I', len(path)) + path
    if kind == b'E':
        return head
    crc = 0
    smap = b''
    if kind == b'S':
        smap = b''.join(struct.pack('<II', s, n) for s, n in sparse)
        head += struct.pack('<I', len(sparse))
        crc = zlib.crc32(smap)
    crc = zlib.crc32(payload, crc) if kind in (b'P', b'S') else 0
    return head + struct.pack('<QQI', len(payload), offset, crc) + smap + payload


def qpress_archive(files, chunk=64, dirs=()):
    """files: (name, data); dirs: names entered before the files (then left)."""
    out = bytearray(b'qpress10' + struct.pack('<Q', chunk))
    for d in dirs:
        out += b'D' + struct.pack('<I', len(d)) + d + b'\0'
    for name, data in files:
        out += b'F' + struct.pack('<I', len(name)) + name + b'\0'
        for off in range(0, len(data), chunk):
            packet = quicklz.compress(data[off:off + chunk])
            out += b'NEWBNEWB' + struct.pack('<Q', off)
            out += struct.pack('<I', zlib.adler32(packet) & 0xffffffff) + packet
        out += b'ENDSENDS' + struct.pack('<Q', 0)
    for _ in dirs:
        out += b'U'
    return bytes(out)


def respeak_vectors():
    """The QuickLZ packets of crates/sources/tests/qpress.rs (ReSpeak's tests), parsed out."""
    text = open(os.path.join(ROOT, 'crates', 'sources', 'tests', 'qpress.rs')).read()
    out = {}
    for name in ('continuous10', 'continuous4x10', 'string_lvl1', 'short', 'long'):
        m = re.search(r'let ' + name + r'(?::[^=]*)? = &?\[(.*?)\];', text, re.S)
        if m:
            out[name] = bytes(int(x, 0) for x in re.findall(r'0x[0-9a-fA-F]+|\d+', m.group(1)))
    return out


def physical_seeds(out, tars):
    doc = read(shared('bsondump', 'sample.bson'))
    xb = read(os.path.join(LOCAL, 'physical', 'sample_qp.xb'))
    out.add('xbstream', 'sample_qp.xb', xb)
    out.add('unpack', 'sample_qp.xb', xb)
    out.add('unpack', 'sample.tar.gz', read(os.path.join(LOCAL, 'physical', 'sample.tar.gz')))
    plain = (xb_chunk(b'WiredTiger.turtle', b'P', doc[:100])
             + xb_chunk(b'WiredTiger.turtle', b'P', doc[100:], offset=100)
             + xb_chunk(b'WiredTiger.turtle', b'E'))
    sparse = (xb_chunk(b'db/collection-1.wt', b'S', b'abcdefgh', sparse=[(4096, 4), (100, 4)])
              + xb_chunk(b'db/collection-1.wt', b'E'))
    ignorable = xb_chunk(b'x', b'Z', b'??', flags=1) + plain
    interleaved = (xb_chunk(b'a', b'P', b'1') + xb_chunk(b'./b', b'P', b'2')
                   + xb_chunk(b'a', b'E') + xb_chunk(b'./b', b'E'))
    bad_crc = bytearray(plain)
    bad_crc[60] ^= 0xff
    for name, data in [('plain.xb', plain), ('sparse.xb', sparse), ('ignorable.xb', ignorable),
                       ('interleaved.xb', interleaved), ('badcrc.xb', bytes(bad_crc)),
                       ('unsafe.xb', xb_chunk(b'../x', b'P', b'1') + xb_chunk(b'../x', b'E'))]:
        out.add('xbstream', name, data)
        out.add('unpack', name, data)
    if quicklz:
        qp = qpress_archive([(b'collection-1.wt', doc)], chunk=64)
        qp_dirs = qpress_archive([(b'a.wt', doc[:50]), (b'b.wt', b'')], chunk=32,
                                 dirs=[b'journal'])
        member = qpress_archive([(b'collection-2.wt', doc)], chunk=128)
        xb_qp = (xb_chunk(b'collection-2.wt.qp', b'P', member[:90])
                 + xb_chunk(b'collection-2.wt.qp', b'P', member[90:], offset=90)
                 + xb_chunk(b'collection-2.wt.qp', b'E') + sparse)
        for name, data in [('file.qp', qp), ('dirs.qp', qp_dirs), ('member.qp', member)]:
            out.add('qpress', name, data)
            out.add('unpack', name, data)
        out.add('xbstream', 'qp-member.xb', xb_qp)
        out.add('unpack', 'qp-member.xb', xb_qp)
        out.add('unpack', 'qp-member.xb.gz', gz(xb_qp))
        for i, data in enumerate([doc, doc * 4, bytes(range(256)), b'a' * 300, b'x']):
            out.add('quicklz', f'pyquicklz-{i}', quicklz.compress(data))
    for name, packet in respeak_vectors().items():
        out.add('quicklz', 'respeak-' + name, packet)
    out.add('quicklz', 'stored', bytes([0x48, 3 + 5, 5]) + b'hello')
    out.add('quicklz', 'stored-long', bytes([0x4a]) + struct.pack('<II', 9 + 5, 5) + b'hello')
    tar = make_tar([('dbpath', None), ('dbpath/WiredTiger', b'WiredTiger\n'),
                    ('dbpath/journal', None), ('dbpath/journal/WiredTigerLog.1', b'\0' * 700),
                    ('dbpath/link', ('sym', '/etc/passwd')), ('dbpath/hard', ('hard', 'dbpath/WiredTiger')),
                    ('dbpath/' + 'n' * 150, b'long name')])
    out.add('unpack', 'dbpath.tar', tar)
    z = zstd(tar)
    if z:
        out.add('unpack', 'dbpath.tar.zst', z)
    out.add('unpack', 'dbpath-pax.tar', make_tar([('dbpath/a', b'1'), ('dbpath/' + 'p' * 200, b'2')],
                                                 tarfile.PAX_FORMAT))
    out.add('unpack', 'escape.tar', make_tar([('../escape', b'1')]))


# ---------------------------------------------------------------- WiredTiger


COMPRESSOR = {'none-overflow': 0, 'snappy-big': 1, 'zstd-dirperdb': 2, 'zlib-churn': 3}


def dbpaths():
    for group in ('generated-dbpaths', 'real-dbpaths'):
        base = shared(group)
        for name in sorted(os.listdir(base)):
            dbpath = os.path.join(base, name, 'dbpath')
            if os.path.isdir(dbpath):
                yield name, dbpath, COMPRESSOR.get(name, 1)  # real mongods: snappy


def blocks(data):
    """Blocks of a .wt file found by their headers (no CRC check: the target recomputes it)."""
    for off in range(4096, len(data) - 64, 4096):
        mem_size, entries, ptype, flags = struct.unpack_from('<IIBB', data, off + 16)
        disk_size = struct.unpack_from('<I', data, off + 28)[0]
        if (ptype in (5, 6, 7) and data[off + 26] == 0 and 40 <= mem_size <= (1 << 20)
                and disk_size and disk_size % 4096 == 0 and off + disk_size <= len(data)):
            yield off, ptype, flags, data[off:off + disk_size]


def trim_page(block, flags):
    """An uncompressed page is `mem_size` bytes; the rest of its block is padding."""
    if flags & 1:
        return block
    mem_size = struct.unpack_from('<I', block, 16)[0]
    return block[:max(mem_size, 64)]


def wiredtiger_seeds(out):
    for name, dbpath, compressor in dbpaths():
        for root, dirs, files in os.walk(dbpath):
            dirs.sort()
            for f in sorted(files):
                full = os.path.join(root, f)
                if f in ('WiredTiger.turtle', 'WiredTiger.backup'):
                    text = read(full)
                    out.add('wiredtiger_config', f'{name}-{f}', text)
                    for line in text.split(b'\n'):
                        if b'=' in line:
                            out.add('wiredtiger_config', f'{name}-{f}-line', line)
                if f == 'WiredTiger.wt':
                    # Metadata values: NUL-terminated config strings inside the pages.
                    raw = read(full)
                    for m in re.finditer(rb'(?:access_pattern_hint|app_metadata|allocation_size)=[ -~]{20,}?(?=\0)', raw):
                        out.add('wiredtiger_config', f'{name}-meta', m.group(0))
                if not f.endswith('.wt'):
                    continue
                data = read(full)
                seen = set()
                for off, ptype, flags, block in blocks(data):
                    key = (ptype, flags & 1, len(block) > 8192)
                    if key in seen and len(seen) > 2:
                        continue
                    seen.add(key)
                    page = bytearray(trim_page(block, flags))
                    if len(page) > 16384:
                        continue
                    page[26] = compressor
                    out.add('wiredtiger_page', f'{name}-{f}-{off}', bytes(page))


# ---------------------------------------------------------------- paths


def path_seeds(out, tars):
    paths = [
        'dump/shop/orders.bson', 'dump/shop/orders.bson.gz', 'shop/orders.bson.zst',
        'dump/shop/orders.metadata.json', 'shop/orders.metadata.json.gz',
        'backup/shop/orders/data/orders_0_part0.bson', 'shop/orders/data/orders_12_part3.bson.gz',
        'shop/orders/orders.metadata.json', 'shop/a%2Fb.bson', 'shop/a%zz.bson', 'shop/%E2%82%AC.bson',
        'oplog.bson', 'dump/oplog.bson', 'shop/.bson', 'shop/.metadata.json',
        'shop/o_part/data/o_part_1_part2.bson', 'admin/system.version.bson',
        'shop/orders/data/orders_0_part00000000000000000001.bson',
        './WiredTiger.wt', 'journal/WiredTigerLog.0000000001', 'collection-7-123.wt.qp', 'a/', 'dir/./x',
        '../escape', '/abs/path', 'a//b', 'C:evil', 'a\\b', 'a/../b', '.', './', 'x/..',
    ]
    for root, dirs, names in os.walk(os.path.join(LOCAL, 'sample-dump')):
        for n in names:
            paths.append(os.path.relpath(os.path.join(root, n), LOCAL))
    for p in paths:
        out.add('layout', p, p.encode())
        out.add('safe_path', p, p.encode())
    out.add('safe_path', 'nul', b'a\0b')
    out.add('safe_path', 'long-component', b'a/' + b'x' * 256)
    out.add('safe_path', 'long-path', b'/'.join([b'y' * 200] * 21))
    out.add('safe_path', 'latin1', b'caf\xe9/x')


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Out(sys.argv[1])
    bson_seeds(out)
    archive_seeds(out)
    compression_seeds(out)
    tars = tar_seeds(out)
    physical_seeds(out, tars)
    wiredtiger_seeds(out)
    path_seeds(out, tars)
    for target, n in sorted(out.counts.items()):
        print(f'{target}: {n} seeds')


if __name__ == '__main__':
    main()
