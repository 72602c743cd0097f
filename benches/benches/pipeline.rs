//! The hot paths of a conversion besides Extended JSON (see `ejson.rs`):
//!
//! - `chunk_compression`: one 16 MiB chunk of Extended JSON lines (the default
//!   `--chunk-bytes`) compressed into one gzip member by libdeflate at levels 6 (the default),
//!   2 and 1, by ISA-L at its levels 1 and 3 (what `--gzip-level` 1 and 2 use), and by flate2's
//!   zlib-rs backend at level 6, which is how the compressors were chosen;
//! - `bson_framing`: finding document boundaries in 64 MiB of BSON (`SliceDocuments`);
//! - `wiredtiger_read`: reading every document of a WiredTiger collection (checksums,
//!   snappy, cells) from a generated data directory: `bench-data/wt-snappy-1400000` when
//!   present (`cargo xtask bench --wiredtiger` makes it), else
//!   `../shared/testdata/generated-dbpaths/snappy-big`.
//!
//! Run with `cargo bench -p bsonflow-benches --bench pipeline`.

use std::io::Write;
use std::path::PathBuf;

use bsonflow_benches::{document, Rng};
use bsonflow_ejson::{write_document, Mode};
use bsonflow_sources::layers::bson_stream::SliceDocuments;
use bsonflow_wiredtiger::DataDir;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use libdeflater::{CompressionLvl, Compressor};

/// `bytes` of BSON documents.
fn bson(bytes: usize) -> Vec<u8> {
    let mut rng = Rng::new(42);
    let mut out = Vec::with_capacity(bytes + 1024);
    let mut i = 0;
    while out.len() < bytes {
        out.extend(document(&mut rng, i));
        i += 1;
    }
    out
}

/// 16 MiB of canonical Extended JSON lines.
fn json_chunk() -> Vec<u8> {
    let input = bson(12 << 20);
    let mut out = Vec::with_capacity(17 << 20);
    for doc in SliceDocuments::new(&input, 0) {
        let (_, doc) = doc.unwrap();
        write_document(&mut out, doc, Mode::Canonical).unwrap();
        out.push(b'\n');
        if out.len() >= 16 << 20 {
            break;
        }
    }
    out
}

fn chunk_compression(c: &mut Criterion) {
    let chunk = json_chunk();
    let mut g = c.benchmark_group("chunk_compression");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(chunk.len() as u64));
    for level in [6, 2, 1] {
        let mut compressor = Compressor::new(CompressionLvl::new(level).unwrap());
        let mut out = vec![0; compressor.gzip_compress_bound(chunk.len())];
        g.bench_function(format!("libdeflate_level_{level}"), |b| {
            b.iter(|| compressor.gzip_compress(&chunk, &mut out).unwrap())
        });
    }
    let mut out = vec![0; chunk.len() + chunk.len() / 8192 + 64];
    for (name, level) in [
        ("isal_level_1", isal::CompressionLevel::One),
        ("isal_level_3", isal::CompressionLevel::Three),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| isal::compress_into(&chunk, &mut out, level, isal::Codec::Gzip).unwrap())
        });
    }
    g.bench_function("flate2_zlib_rs_level_6", |b| {
        b.iter(|| {
            let mut e = flate2::write::GzEncoder::new(
                Vec::with_capacity(chunk.len() / 4),
                flate2::Compression::new(6),
            );
            e.write_all(&chunk).unwrap();
            e.finish().unwrap().len()
        })
    });
    g.finish();
}

fn bson_framing(c: &mut Criterion) {
    let input = bson(64 << 20);
    let mut g = c.benchmark_group("bson_framing");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("slice_documents", |b| {
        b.iter(|| SliceDocuments::new(&input, 0).filter(|d| d.is_ok()).count())
    });
    g.finish();
}

fn wiredtiger_read(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        root.join("../bench-data/wt-snappy-1400000"),
        root.join("../../shared/testdata/generated-dbpaths/snappy-big/dbpath"),
    ];
    let Some(path) = candidates
        .iter()
        .find(|p| p.join("WiredTiger.turtle").exists())
    else {
        eprintln!("wiredtiger_read: no generated data directory found; skipped");
        return;
    };
    let dir = DataDir::open(path).unwrap();
    let entry = dir
        .collections()
        .iter()
        .max_by_key(|e| std::fs::metadata(&e.file).map(|m| m.len()).unwrap_or(0))
        .unwrap()
        .clone();
    let bytes = dir
        .read_collection(&entry, |_, _| {})
        .unwrap()
        .document_bytes;
    let mut g = c.benchmark_group("wiredtiger_read");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function(
        format!("{} ({:.0} MB of BSON)", entry.ns, bytes as f64 / 1e6),
        |b| b.iter(|| dir.read_collection(&entry, |_, _| {}).unwrap().documents),
    );
    g.finish();
}

criterion_group!(benches, chunk_compression, bson_framing, wiredtiger_read);
criterion_main!(benches);
