//! Reading a cloud BSON download (`.tar.gz`) in one streaming pass.
//!
//! - `tar_gz/gunzip`: gzip decompression alone, with the decoder set up as the export sets
//!   it up (`compression::decompress`, 1 MiB reads): the floor.
//! - `tar_gz/export_tar`: [`export_tar`] of the same bytes into a sink that only counts
//!   documents: decompression on its own thread, tar parsing and BSON framing on the caller.
//! - `tar_gz/export_plain_tar`: the same tar uncompressed: parsing and framing alone.
//!
//! Throughput is reported in bytes of **input** (compressed for the first two); the run also
//! prints the uncompressed rate and decompression's share of the export time. The input is
//! generated in memory: `BSONFLOW_BENCH_TAR_MB` MiB of BSON (default 64) in the cloud layout
//! (4 collections, 8 MiB parts), gzip level 6. Run with
//! `cargo bench -p bsonflow-benches --bench tar_gz`.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bsonflow_benches::{document, Rng};
use bsonflow_model::{
    CollectionMetadata, CollectionWriter, DocumentSink, Failure, Namespace, Progress, ReadOptions,
    SinkError, SkipReason,
};
use bsonflow_sources::input::Input;
use bsonflow_sources::layers::compression;
use bsonflow_sources::tar_set;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// An uncompressed tar of `mb` MiB of BSON in the cloud layout, and its document count.
fn make_tar(mb: usize) -> (Vec<u8>, u64) {
    const PART: usize = 8 << 20;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut builder = tar::Builder::new(Vec::with_capacity((mb + 1) << 20));
    let mut docs = 0u64;
    let parts = (mb << 20).div_ceil(PART);
    for p in 0..parts {
        let coll = format!("coll{}", p % 4);
        let mut data = Vec::with_capacity(PART + 4096);
        while data.len() < PART {
            data.extend(document(&mut rng, docs));
            docs += 1;
        }
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let name = format!("bench/{coll}/data/{coll}_0_part{}.bson", p / 4);
        builder.append_data(&mut header, name, &data[..]).unwrap();
    }
    (builder.into_inner().unwrap(), docs)
}

/// A sink that only counts documents.
#[derive(Default)]
struct CountingSink {
    documents: AtomicU64,
}

struct Counter<'a> {
    sink: &'a CountingSink,
    documents: u64,
}

impl DocumentSink for CountingSink {
    type Writer<'s> = Counter<'s>;

    fn wants(&self, _: &Namespace, _: &CollectionMetadata) -> Result<(), SkipReason> {
        Ok(())
    }

    fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        panic!("{ns:?}: {failure}");
    }

    fn open(
        &self,
        _: &Namespace,
        _: &CollectionMetadata,
    ) -> Result<Option<Self::Writer<'_>>, SinkError> {
        Ok(Some(Counter {
            sink: self,
            documents: 0,
        }))
    }

    fn update_metadata(&self, _: &Namespace, _: &CollectionMetadata) -> Result<(), SinkError> {
        Ok(())
    }
}

impl CollectionWriter for Counter<'_> {
    fn set_origin(&mut self, _: &str) {}

    fn write_document(&mut self, doc: &[u8], _: u64) -> Result<(), SinkError> {
        std::hint::black_box(doc);
        self.documents += 1;
        Ok(())
    }

    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError> {
        Err(format!("corrupt at {offset}: {detail}").into())
    }

    fn finish(self) -> Result<(), SinkError> {
        self.sink
            .documents
            .fetch_add(self.documents, Ordering::Relaxed);
        Ok(())
    }
}

/// A `Read + Send + 'static` view of shared bytes (no copy per iteration).
struct Shared {
    data: Arc<Vec<u8>>,
    pos: usize,
}

impl Read for Shared {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out.len().min(self.data.len() - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The decoder exactly as the export runs it (`compression::decompress`: a 256 KiB buffered
/// multi-member gzip decoder), read in 1 MiB blocks like the read-ahead thread.
fn gunzip(data: &Arc<Vec<u8>>) -> u64 {
    let reader = Shared {
        data: Arc::clone(data),
        pos: 0,
    };
    let (_, mut d) = compression::decompress(reader).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        match d.read(&mut buf).unwrap() {
            0 => return total,
            n => total += n as u64,
        }
    }
}

fn export(data: &Arc<Vec<u8>>, spill: &std::path::Path) -> u64 {
    let sink = CountingSink::default();
    let reader = Shared {
        data: Arc::clone(data),
        pos: 0,
    };
    let options = ReadOptions {
        spill_dir: Some(spill.to_path_buf()),
        ..ReadOptions::default()
    };
    let input = Input::from_reader(reader, "bench.tar.gz", Some(data.len() as u64));
    let report = tar_set::read_into(input, &sink, &Progress::new(), &options);
    assert!(report.read_to_end);
    sink.documents.into_inner()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(c: &mut Criterion) {
    let mb: usize = std::env::var("BSONFLOW_BENCH_TAR_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let started = Instant::now();
    let (tar, docs) = make_tar(mb);
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(tar.len() / 3),
        flate2::Compression::new(6),
    );
    enc.write_all(&tar).unwrap();
    let gz = Arc::new(enc.finish().unwrap());
    let tar = Arc::new(tar);
    let spill = tempfile::tempdir().unwrap();
    eprintln!(
        "input: {} MiB of BSON, {docs} documents; tar {} bytes, tar.gz {} bytes (ratio {:.2}); generated in {:.1?}",
        mb,
        tar.len(),
        gz.len(),
        tar.len() as f64 / gz.len() as f64,
        started.elapsed()
    );
    assert_eq!(export(&gz, spill.path()), docs);

    let mut group = c.benchmark_group("tar_gz");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(gz.len() as u64));
    group.bench_function("gunzip", |b| b.iter(|| gunzip(&gz)));
    group.bench_function("export_tar", |b| b.iter(|| export(&gz, spill.path())));
    group.throughput(Throughput::Bytes(tar.len() as u64));
    group.bench_function("export_plain_tar", |b| {
        b.iter(|| export(&tar, spill.path()))
    });
    group.finish();

    // Decompression's share of the export, from a few more timed runs of each.
    let time = |f: &dyn Fn()| {
        median(
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed()
                })
                .collect(),
        )
    };
    let t_gunzip = time(&|| {
        gunzip(&gz);
    });
    let t_export = time(&|| {
        export(&gz, spill.path());
    });
    let t_plain = time(&|| {
        export(&tar, spill.path());
    });
    let rate = |bytes: usize, t: Duration| bytes as f64 / 1e6 / t.as_secs_f64();
    eprintln!(
        "gunzip {:.0?}: {:.0} MB/s compressed, {:.0} MB/s uncompressed",
        t_gunzip,
        rate(gz.len(), t_gunzip),
        rate(tar.len(), t_gunzip)
    );
    eprintln!(
        "export_tar {:.0?}: {:.0} MB/s compressed, {:.0} MB/s uncompressed; decompression = {:.0}% of its time",
        t_export,
        rate(gz.len(), t_export),
        rate(tar.len(), t_export),
        100.0 * t_gunzip.as_secs_f64() / t_export.as_secs_f64()
    );
    eprintln!(
        "export of the plain tar {:.0?}: {:.0} MB/s (parsing and framing alone)",
        t_plain,
        rate(tar.len(), t_plain)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
