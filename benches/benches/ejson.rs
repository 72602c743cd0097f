//! Throughput of `bsonflow_ejson::write_document` on realistic documents, in bytes of BSON
//! read per second (canonical and relaxed). The JSON/BSON size ratio is printed first, so the
//! JSON output rate is the reported rate times that ratio.
//!
//! Documents are generated here, deterministically (fixed-seed xorshift): an ObjectId `_id`,
//! names, e-mails and free text (mostly ASCII, some accented, a few escapes), int32 and int64
//! counters, dates, a nested address document, an array of tags, an array of order
//! sub-documents with prices (doubles), booleans and an occasional null — the shape of a
//! typical application collection.
//!
//! Run: `cargo bench -p bsonflow-benches --bench ejson -- --quick`

use std::hint::black_box;

use bsonflow_benches::Rng;
use bsonflow_ejson::{write_document, Mode};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// Appends BSON elements to a document body; `end` frames it.
struct Body(Vec<u8>);

impl Body {
    fn new() -> Self {
        Body(Vec::with_capacity(512))
    }
    fn head(&mut self, t: u8, key: &str) {
        self.0.push(t);
        self.0.extend_from_slice(key.as_bytes());
        self.0.push(0);
    }
    fn string(&mut self, key: &str, s: &str) {
        self.head(0x02, key);
        self.0
            .extend_from_slice(&((s.len() + 1) as i32).to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
    }
    fn int32(&mut self, key: &str, v: i32) {
        self.head(0x10, key);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn int64(&mut self, key: &str, v: i64) {
        self.head(0x12, key);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn double(&mut self, key: &str, v: f64) {
        self.head(0x01, key);
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn date(&mut self, key: &str, ms: i64) {
        self.head(0x09, key);
        self.0.extend_from_slice(&ms.to_le_bytes());
    }
    fn oid(&mut self, key: &str, rng: &mut Rng) {
        self.head(0x07, key);
        self.0.extend_from_slice(&rng.next_u64().to_le_bytes());
        self.0
            .extend_from_slice(&(rng.next_u64() as u32).to_le_bytes());
    }
    fn boolean(&mut self, key: &str, v: bool) {
        self.head(0x08, key);
        self.0.push(v as u8);
    }
    fn null(&mut self, key: &str) {
        self.head(0x0a, key);
    }
    fn doc(&mut self, key: &str, inner: Body) {
        self.head(0x03, key);
        self.0.extend_from_slice(&inner.end());
    }
    fn array(&mut self, key: &str, inner: Body) {
        self.head(0x04, key);
        self.0.extend_from_slice(&inner.end());
    }
    fn end(self) -> Vec<u8> {
        let mut d = ((self.0.len() + 5) as i32).to_le_bytes().to_vec();
        d.extend_from_slice(&self.0);
        d.push(0);
        d
    }
}

const FIRST: &[&str] = &[
    "Alice",
    "Bob",
    "Chloé",
    "Dmitri",
    "Emma",
    "François",
    "Grace",
    "Hiroshi",
    "Ines",
    "Jürgen",
    "Kwame",
    "Li",
    "María",
    "Noah",
    "Olivia",
    "Priya",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Müller",
    "García",
    "Nguyen",
    "Kowalski",
    "O'Brien",
    "Rossi",
    "Tanaka",
    "Dubois",
    "Silva",
    "Andersson",
];
const CITIES: &[&str] = &[
    "Berlin",
    "São Paulo",
    "New York",
    "Tokyo",
    "Paris",
    "Lagos",
    "Sydney",
    "Toronto",
    "Zürich",
    "Mumbai",
];
const WORDS: &[&str] = &[
    "order",
    "shipped",
    "customer",
    "premium",
    "delivery",
    "invoice",
    "warehouse",
    "priority",
    "returned",
    "gift",
    "express",
    "standard",
    "the",
    "and",
    "with",
    "package",
    "damaged",
    "arrived",
    "late",
    "thanks",
];
const TAGS: &[&str] = &[
    "vip",
    "newsletter",
    "beta",
    "mobile",
    "web",
    "referral",
    "churn-risk",
    "b2b",
    "eu",
    "us",
];

fn sentence(rng: &mut Rng, words: u64) -> String {
    let mut s = String::new();
    for i in 0..words {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(rng.pick(WORDS));
    }
    match rng.below(20) {
        0 => s.push_str("\n-- sent from my phone"),
        1 => s.push_str(" \"quoted\""),
        _ => s.push('.'),
    }
    s
}

fn document(rng: &mut Rng) -> Vec<u8> {
    let mut b = Body::new();
    b.oid("_id", rng);
    let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
    b.string("firstName", first);
    b.string("lastName", last);
    b.string(
        "email",
        &format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            rng.below(1000)
        ),
    );
    b.int32("age", 18 + rng.below(70) as i32);
    b.date(
        "createdAt",
        1_500_000_000_000 + rng.below(300_000_000_000) as i64,
    );
    b.date(
        "updatedAt",
        1_600_000_000_000 + rng.below(150_000_000_000) as i64,
    );
    b.boolean("active", rng.below(4) != 0);
    b.int64("loginCount", rng.below(1 << 40) as i64);
    let mut addr = Body::new();
    addr.string(
        "street",
        &format!("{} {} Street", rng.below(9999), rng.pick(LAST)),
    );
    addr.string("city", rng.pick(CITIES));
    addr.string("zip", &format!("{:05}", rng.below(100_000)));
    addr.string(
        "country",
        rng.pick(&["DE", "BR", "US", "JP", "FR", "NG", "AU", "CA"]),
    );
    b.doc("address", addr);
    let mut tags = Body::new();
    for i in 0..rng.below(5) {
        tags.string(&i.to_string(), rng.pick(TAGS));
    }
    b.array("tags", tags);
    let mut orders = Body::new();
    for i in 0..rng.below(4) {
        let mut o = Body::new();
        o.oid("orderId", rng);
        o.int32("items", 1 + rng.below(9) as i32);
        o.double("total", rng.below(100_000) as f64 / 100.0);
        o.string(
            "status",
            rng.pick(&["pending", "shipped", "delivered", "returned"]),
        );
        o.date(
            "placedAt",
            1_600_000_000_000 + rng.below(150_000_000_000) as i64,
        );
        orders.doc(&i.to_string(), o);
    }
    b.array("orders", orders);
    let words = 3 + rng.below(25);
    b.string("notes", &sentence(rng, words));
    if rng.below(5) == 0 {
        b.null("deletedAt");
    }
    b.int32("version", rng.below(20) as i32);
    b.end()
}

fn bench(c: &mut Criterion) {
    // One contiguous buffer, as documents arrive from a reader (a BSON file, a WiredTiger page).
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut buf = Vec::new();
    let mut bounds = Vec::new();
    for _ in 0..2_000 {
        let start = buf.len();
        buf.extend_from_slice(&document(&mut rng));
        bounds.push(start..buf.len());
    }
    let docs: Vec<&[u8]> = bounds.into_iter().map(|r| &buf[r]).collect();
    let bson_bytes = buf.len();
    let mut out = Vec::with_capacity(bson_bytes * 3);

    let mut group = c.benchmark_group("ejson");
    group.throughput(Throughput::Bytes(bson_bytes as u64));
    for (name, mode) in [("canonical", Mode::Canonical), ("relaxed", Mode::Relaxed)] {
        out.clear();
        for d in &docs {
            write_document(&mut out, d, mode).expect("generated documents are valid");
            out.push(b'\n');
        }
        eprintln!(
            "ejson/{name}: {} documents, {bson_bytes} bytes of BSON -> {} bytes of JSON (x{:.2})",
            docs.len(),
            out.len(),
            out.len() as f64 / bson_bytes as f64
        );
        group.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                for d in &docs {
                    write_document(&mut out, black_box(d), mode).unwrap();
                    out.push(b'\n');
                }
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
