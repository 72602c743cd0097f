//! Unpacking physical backups and decoding QuickLZ.
//!
//! - `unpack/qp_xb`: `unpack_file` of a `_qp.xb` (xbstream of qpress members, QuickLZ level 1
//!   as xtrabackup writes it) of WiredTiger-like data, on all cores; throughput counts the
//!   **unpacked** bytes.
//! - `unpack/plain_xb`: the same files in an xbstream without compression (the same bytes,
//!   uncompressed): the cost of reading and writing them without decoding.
//! - `unpack/read_raw`: reading the uncompressed bytes from a file into memory and nothing
//!   else (the floor).
//! - `quicklz/*`: one 64 KiB packet of the same data, level 1 and level 3, decoded by
//!   bsonflow's decoder and by the `quicklz` crate.
//!
//! Inputs are generated once into `target/bench-data/` (size: `BSONFLOW_BENCH_MB`, default
//! 256 MiB of unpacked data). Run with
//! `cargo bench -p bsonflow-benches --bench unpack`.
//!
//! Measured on the 2-core development machine while other builds ran (load 2–4), 256 MiB
//! unpacked from a 126 MiB `_qp.xb`: `qp_xb` 290–365 MiB/s of output, `plain_xb` 420–750 MiB/s,
//! `read_raw` 6.7–6.9 GiB/s (page cache). One 64 KiB packet: level 1 450–530 MiB/s here vs
//! 120–180 MiB/s for the `quicklz` crate; level 3 780–840 MiB/s vs 130–220 MiB/s.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bsonflow_benches::Rng;
use bsonflow_model::Progress;
use bsonflow_sources::unpack::qpress;
use bsonflow_sources::unpack::quicklz::Decoder;
use bsonflow_sources::unpack::{unpack_file, xbstream, UnpackOptions};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Bytes with the texture of WiredTiger files: 4 KiB pages of BSON-like documents (repeated
/// field names, counters, short strings), some incompressible runs (snappy-compressed
/// pages look random) and zero padding at page ends.
fn wiredtiger_like(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(n);
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    ];
    let mut id = 0u64;
    while out.len() < n {
        let page_start = out.len();
        let kind = rng.next_u64() % 10;
        if kind < 3 {
            // A "compressed" page: random bytes.
            out.extend((0..4096).map(|_| rng.next_u64() as u8));
            continue;
        }
        while out.len() - page_start < 3600 {
            let w = words[(rng.next_u64() % 8) as usize];
            let doc = format!(
                "\u{2}_id\u{0}{id:016x}\u{10}qty\u{0}{}\u{2}name\u{0}{w}-{}\u{8}ok\u{0}\u{1}",
                rng.next_u64() % 1000,
                rng.next_u64() % 50
            );
            out.extend_from_slice(&(doc.len() as u32 + 5).to_le_bytes());
            out.extend_from_slice(doc.as_bytes());
            out.push(0);
            id += 1;
        }
        out.resize(page_start + 4096, 0);
    }
    out.truncate(n);
    out
}

struct Inputs {
    qp_xb: PathBuf,
    plain_xb: PathBuf,
    raw: PathBuf,
    unpacked: u64,
}

fn data_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-data")
}

/// Builds (once) a data directory of 24 files as `_qp.xb`, as a plain xbstream and as one
/// raw file of the same bytes.
fn inputs() -> Inputs {
    let mb: usize = std::env::var("BSONFLOW_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let dir = data_dir();
    fs::create_dir_all(&dir).unwrap();
    let qp_xb = dir.join(format!("wt-like-{mb}_qp.xb"));
    let plain_xb = dir.join(format!("wt-like-{mb}.xb"));
    let raw = dir.join(format!("wt-like-{mb}.raw"));
    let total = mb << 20;
    if !(qp_xb.exists() && plain_xb.exists() && raw.exists()) {
        let started = Instant::now();
        // File sizes like a dbpath: a few large collections, many small files.
        let weights: Vec<usize> = (0..24)
            .map(|i| if i < 4 { 40 } else { 2 + i % 5 })
            .collect();
        let sum: usize = weights.iter().sum();
        let mut files = Vec::new();
        for (i, w) in weights.iter().enumerate() {
            let size = total * w / sum;
            let name = match i {
                0 => "WiredTiger.wt".to_string(),
                i if i % 2 == 0 => format!("shop/collection-{i}-8731.wt"),
                i => format!("shop/index-{i}-8731.wt"),
            };
            files.push((name, wiredtiger_like(size, i as u64 + 1)));
        }
        let mut raw_out = fs::File::create(&raw).unwrap();
        for (_, data) in &files {
            raw_out.write_all(data).unwrap();
        }
        for (path, compress) in [(&qp_xb, true), (&plain_xb, false)] {
            let members: Vec<(Vec<u8>, Vec<u8>)> = files
                .iter()
                .map(|(name, data)| {
                    if compress {
                        let base = name.rsplit('/').next().unwrap().as_bytes();
                        let mut w = qpress::Writer::new(Vec::new(), 65536).unwrap();
                        w.whole_file(base, data, 65536, |c| {
                            quicklz::compress(c, quicklz::CompressionLevel::Lvl1)
                        })
                        .unwrap();
                        (format!("{name}.qp").into_bytes(), w.into_inner())
                    } else {
                        (name.clone().into_bytes(), data.clone())
                    }
                })
                .collect();
            let file = std::io::BufWriter::new(fs::File::create(path).unwrap());
            let mut w = xbstream::Writer::new(file);
            // Four members streamed in parallel at a time, 1 MiB chunks.
            for group in members.chunks(4) {
                let mut offsets = vec![0usize; group.len()];
                loop {
                    let mut progressed = false;
                    for (m, (name, bytes)) in group.iter().enumerate() {
                        let at = offsets[m];
                        if at < bytes.len() {
                            let end = (at + (1 << 20)).min(bytes.len());
                            w.payload(name, at as u64, &bytes[at..end]).unwrap();
                            offsets[m] = end;
                            progressed = true;
                        }
                    }
                    if !progressed {
                        break;
                    }
                }
                for (name, _) in group {
                    w.end(name).unwrap();
                }
            }
            w.into_inner().flush().unwrap();
        }
        eprintln!(
            "generated {} MiB of inputs in {:.1?} ({} bytes as _qp.xb)",
            mb,
            started.elapsed(),
            fs::metadata(&qp_xb).unwrap().len()
        );
    }
    Inputs {
        unpacked: fs::metadata(&raw).unwrap().len(),
        qp_xb,
        plain_xb,
        raw,
    }
}

fn timed_unpack(input: &Path, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let scratch = tempfile::tempdir_in(data_dir()).unwrap();
        let out = scratch.path().join("out");
        let started = Instant::now();
        unpack_file(input, &out, &UnpackOptions::default(), &Progress::new()).unwrap();
        total += started.elapsed();
    }
    total
}

fn bench_unpack(c: &mut Criterion) {
    let inputs = inputs();
    let mut group = c.benchmark_group("unpack");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(inputs.unpacked));
    group.bench_function("qp_xb", |b| {
        b.iter_custom(|iters| timed_unpack(&inputs.qp_xb, iters))
    });
    group.bench_function("plain_xb", |b| {
        b.iter_custom(|iters| timed_unpack(&inputs.plain_xb, iters))
    });
    group.bench_function("read_raw", |b| {
        let mut buf = vec![0u8; 1 << 20];
        b.iter(|| {
            let mut f = fs::File::open(&inputs.raw).unwrap();
            let mut n = 0u64;
            loop {
                let k = f.read(&mut buf).unwrap();
                if k == 0 {
                    break;
                }
                n += k as u64;
            }
            n
        })
    });
    group.finish();
}

fn bench_quicklz(c: &mut Criterion) {
    let data = wiredtiger_like(65536, 99);
    let mut group = c.benchmark_group("quicklz");
    group.throughput(Throughput::Bytes(data.len() as u64));
    for (name, level) in [
        ("l1", quicklz::CompressionLevel::Lvl1),
        ("l3", quicklz::CompressionLevel::Lvl3),
    ] {
        let packet = quicklz::compress(&data, level);
        let mut decoder = Decoder::new();
        let mut out = Vec::with_capacity(65536);
        group.bench_function(format!("{name}_bsonflow"), |b| {
            b.iter(|| {
                out.clear();
                decoder.decompress_into(&packet, 65536, &mut out).unwrap();
                out.len()
            })
        });
        group.bench_function(format!("{name}_quicklz_crate"), |b| {
            b.iter_batched(
                || &packet[..],
                |mut p| quicklz::decompress(&mut p, 65536).unwrap().len(),
                BatchSize::SmallInput,
            )
        });
        eprintln!(
            "quicklz {name}: 64 KiB -> {} bytes ({:.2}x)",
            packet.len(),
            65536.0 / packet.len() as f64
        );
    }
    group.finish();
}

criterion_group!(benches, bench_quicklz, bench_unpack);
criterion_main!(benches);
