//! Shared helpers for the benchmarks: a small deterministic random generator and a maker of
//! BSON documents with the texture of application data (benchmarks need repeatable inputs,
//! not statistical quality).

#![forbid(unsafe_code)]

/// xorshift64: deterministic for a given seed.
pub struct Rng(pub u64);

impl Rng {
    /// A generator for `seed` (0 is replaced: xorshift never leaves 0).
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Appends one BSON element header (type, name).
pub fn element(out: &mut Vec<u8>, kind: u8, name: &str) {
    out.push(kind);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
}

pub fn string(out: &mut Vec<u8>, name: &str, value: &str) {
    element(out, 0x02, name);
    out.extend_from_slice(&(value.len() as i32 + 1).to_le_bytes());
    out.extend_from_slice(value.as_bytes());
    out.push(0);
}

/// Wraps the elements in `body` into a document.
pub fn finish(body: Vec<u8>) -> Vec<u8> {
    let mut doc = ((body.len() + 5) as i32).to_le_bytes().to_vec();
    doc.extend(body);
    doc.push(0);
    doc
}

pub const WORDS: [&str; 16] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
    "kilo", "lima", "mike", "november", "oscar", "papa",
];

/// A document with the texture of application data: an ObjectId, numbers, a date, short
/// strings from a vocabulary, a nested document and an array (~250 bytes).
pub fn document(rng: &mut Rng, i: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(320);
    element(&mut b, 0x07, "_id");
    b.extend_from_slice(&(i as u32).to_be_bytes());
    b.extend_from_slice(&rng.next_u64().to_le_bytes());
    element(&mut b, 0x10, "n");
    b.extend_from_slice(&(i as i32).to_le_bytes());
    element(&mut b, 0x12, "total");
    b.extend_from_slice(&((rng.next_u64() % 1_000_000_000) as i64).to_le_bytes());
    element(&mut b, 0x01, "price");
    b.extend_from_slice(&((rng.next_u64() % 100_000) as f64 / 100.0).to_le_bytes());
    element(&mut b, 0x09, "when");
    b.extend_from_slice(&(1_700_000_000_000i64 + i as i64 * 1000).to_le_bytes());
    let w = |r: &mut Rng| WORDS[(r.next_u64() % 16) as usize];
    string(&mut b, "name", &format!("{} {}", w(rng), w(rng)));
    string(&mut b, "status", w(rng));
    let mut addr = Vec::new();
    string(&mut addr, "city", w(rng));
    string(
        &mut addr,
        "street",
        &format!("{} street {}", w(rng), rng.next_u64() % 500),
    );
    element(&mut addr, 0x10, "zip");
    addr.extend_from_slice(&((rng.next_u64() % 99_999) as i32).to_le_bytes());
    element(&mut b, 0x03, "address");
    b.extend(finish(addr));
    let mut tags = Vec::new();
    for k in 0..(rng.next_u64() % 5) {
        string(&mut tags, &k.to_string(), w(rng));
    }
    element(&mut b, 0x04, "tags");
    b.extend(finish(tags));
    element(&mut b, 0x08, "active");
    b.push((rng.next_u64() & 1) as u8);
    finish(b)
}
