//! What an export would weigh and take, from a sample of documents: the sample is converted
//! exactly as the writer converts (Extended JSON lines, gzip members of up to
//! [`MEMBER_BYTES`] of JSON at the chosen level), in memory, on one thread, and timed.

use std::time::Instant;

use bsonflow_ejson::Mode;

use crate::pool::{Encoder, GzipEncoder, MEMBER_BYTES};

/// What converting a sample gave.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SampleConversion {
    /// Documents converted (documents the writer would refuse are left out).
    pub documents: u64,
    /// Their BSON bytes.
    pub bson_bytes: u64,
    /// The JSON lines they became.
    pub json_bytes: u64,
    /// The gzip members those lines became.
    pub gzip_bytes: u64,
    /// Seconds of one thread spent converting and compressing them.
    pub seconds: f64,
}

/// An export's size and time, extrapolated from a [`SampleConversion`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExportEstimate {
    /// Bytes of Extended JSON.
    pub json_bytes: u64,
    /// Bytes of the gzip'd chunk files.
    pub gzip_bytes: u64,
    /// Seconds of conversion and compression with the given threads; reading the input
    /// (decompressing it, fetching it) and writing the output come on top.
    pub seconds: f64,
}

/// Converts `sample` (raw BSON documents) to Extended JSON in `mode` and gzips it at
/// `gzip_level` with the writer's own encoder for that level ([`GzipEncoder::for_level`]:
/// ISA-L or libdeflate), keeping nothing. `None` when there is no such level.
pub fn convert_sample(sample: &[Vec<u8>], mode: Mode, gzip_level: u32) -> Option<SampleConversion> {
    let mut encoder = Encoder::new(GzipEncoder::for_level(gzip_level)?);
    let mut out = SampleConversion::default();
    let started = Instant::now();
    let mut member = Vec::with_capacity(MEMBER_BYTES + (1 << 20));
    let mut flush = |member: &mut Vec<u8>, out: &mut SampleConversion| {
        if member.is_empty() {
            return;
        }
        out.gzip_bytes += encoder.gzip(member).map_or(0, |gz| gz.len()) as u64;
        out.json_bytes += member.len() as u64;
        member.clear();
    };
    for doc in sample {
        let before = member.len();
        if bsonflow_ejson::write_document(&mut member, doc, mode).is_err() {
            member.truncate(before);
            continue;
        }
        member.push(b'\n');
        out.documents += 1;
        out.bson_bytes += doc.len() as u64;
        if member.len() >= MEMBER_BYTES {
            flush(&mut member, &mut out);
        }
    }
    flush(&mut member, &mut out);
    out.seconds = started.elapsed().as_secs_f64();
    Some(out)
}

impl SampleConversion {
    /// The export of `bson_bytes` of documents like the sample's, converted on `threads`
    /// threads. `None` when the sample holds no document.
    pub fn extrapolate(&self, bson_bytes: u64, threads: usize) -> Option<ExportEstimate> {
        if self.bson_bytes == 0 {
            return None;
        }
        let scale = bson_bytes as f64 / self.bson_bytes as f64;
        Some(ExportEstimate {
            json_bytes: (self.json_bytes as f64 * scale).round() as u64,
            gzip_bytes: (self.gzip_bytes as f64 * scale).round() as u64,
            seconds: self.seconds * scale / threads.max(1) as f64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_converts_as_the_writer_would() {
        let docs: Vec<Vec<u8>> = (0..1000)
            .map(|i| {
                bson::doc! { "_id": i, "name": format!("item {i}") }
                    .to_vec()
                    .unwrap()
            })
            .collect();
        let bson: u64 = docs.iter().map(|d| d.len() as u64).sum();
        let c = convert_sample(&docs, Mode::Canonical, 6).unwrap();
        assert_eq!((c.documents, c.bson_bytes), (1000, bson));
        // {"_id":{"$numberInt":"0"},"name":"item 0"}\n
        let first = r#"{"_id":{"$numberInt":"0"},"name":"item 0"}"#.len() as u64 + 1;
        assert!(c.json_bytes > 1000 * first, "{c:?}");
        assert!(c.gzip_bytes > 0 && c.gzip_bytes < c.json_bytes / 3, "{c:?}");
        let relaxed = convert_sample(&docs, Mode::Relaxed, 6).unwrap();
        assert!(relaxed.json_bytes < c.json_bytes);
        let e = c.extrapolate(bson * 10, 2).unwrap();
        assert_eq!(e.json_bytes, c.json_bytes * 10);
        assert!((e.seconds - c.seconds * 5.0).abs() < 1e-9);
        // At level 1 the sample goes through ISA-L, as the writer's members do: one member
        // here, the size ISA-L's own one-shot call gives for the same lines.
        let one = convert_sample(&docs, Mode::Canonical, 1).unwrap();
        let mut json = Vec::new();
        for d in &docs {
            bsonflow_ejson::write_document(&mut json, d, Mode::Canonical).unwrap();
            json.push(b'\n');
        }
        assert_eq!(one.json_bytes, json.len() as u64);
        let mut gz = vec![0; json.len() * 2 + 64];
        let n = isal::compress_into(
            &json,
            &mut gz,
            isal::CompressionLevel::One,
            isal::Codec::Gzip,
        )
        .unwrap();
        assert_eq!(one.gzip_bytes, n as u64);
        assert!(convert_sample(&docs, Mode::Canonical, 99).is_none());
        assert!(convert_sample(&[], Mode::Canonical, 6)
            .unwrap()
            .extrapolate(10, 1)
            .is_none());
    }
}
