//! A sink that counts instead of writing: what `bsonflow inspect` feeds the readers.
//!
//! [`Census`] decides what would be exported with the same [`NamespaceFilter`] the export
//! writer applies (so its skip reasons are the writer's, word for word), counts the documents
//! and BSON bytes of every namespace it accepts, keeps a copy of the first documents as a
//! sample (for an estimate of the export's size and time), and records failures like any
//! sink. It writes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use crate::{
    CollectionMetadata, CollectionWriter, DocumentSink, Failure, FailureKind, Namespace,
    NamespaceFilter, SinkError, SkipReason,
};

/// What a [`Census`] learned of one namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// Documents framed and counted.
    pub documents: u64,
    /// Their BSON bytes.
    pub bytes: u64,
    /// Spans that do not frame a document (bad length, missing `0x00`).
    pub corrupt: u64,
    /// The reader finished the collection: the counts are its whole content.
    pub finished: bool,
    /// Why the export would skip it, when it would.
    pub skipped: Option<SkipReason>,
    /// The first failure recorded for it.
    pub failure: Option<Failure>,
    /// Its metadata says it is a view.
    pub view: bool,
    /// A reader opened it (rather than it being only [`offer`](Census::offer)ed).
    pub reached: bool,
    /// Where its first documents came from (a file, a member), as the reader names it.
    pub origin: Option<String>,
}

/// Part of the message of the I/O error with which a survey ends its sample of an input:
/// a failure that carries it was caused by the sample's end, not by the input.
pub const SAMPLE_END: &str = "the sample ends here";

#[derive(Default)]
struct State {
    /// Namespaces (or `None`: the input as a whole) whose reading the sample's end stopped.
    cut: BTreeSet<Option<Namespace>>,
    namespaces: BTreeMap<Namespace, Counted>,
    /// Failures that concern no namespace.
    failures: Vec<Failure>,
    sample: Vec<Vec<u8>>,
    sample_bytes: usize,
}

/// A [`DocumentSink`] that counts: see the module documentation.
pub struct Census {
    filter: NamespaceFilter,
    skip_corrupt: bool,
    sample_limit: usize,
    state: Mutex<State>,
}

impl Census {
    /// A census that skips what `filter` skips, keeps up to `sample_limit` bytes of the
    /// documents of exported namespaces as a sample, and — like the export writer under
    /// `--skip-corrupt` — counts corrupt spans instead of failing their collection when
    /// `skip_corrupt` is set.
    pub fn new(filter: NamespaceFilter, skip_corrupt: bool, sample_limit: usize) -> Self {
        Census {
            filter,
            skip_corrupt,
            sample_limit,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every namespace offered to the census, by name.
    pub fn namespaces(&self) -> BTreeMap<Namespace, Counted> {
        self.state().namespaces.clone()
    }

    /// Whether the end of the sample stopped the reading of `ns` (`None`: of the input as a
    /// whole): its failure carried [`SAMPLE_END`] and is not recorded as one.
    pub fn was_cut(&self, ns: Option<&Namespace>) -> bool {
        self.state().cut.contains(&ns.cloned())
    }

    /// Whether the end of the sample stopped any reading.
    pub fn any_cut(&self) -> bool {
        !self.state().cut.is_empty()
    }

    /// Records `ns` as present in the input although no reader opened it (a namespace the
    /// sample did not reach): its skip reason is what the filter says from its name alone.
    pub fn offer(&self, ns: &Namespace) {
        if !self.state().namespaces.contains_key(ns) {
            let _ = self.decide(ns, &CollectionMetadata::default());
        }
    }

    /// Failures recorded for no namespace in particular.
    pub fn failures(&self) -> Vec<Failure> {
        self.state().failures.clone()
    }

    /// The sampled documents (raw BSON), in the order they arrived.
    pub fn sample(&self) -> Vec<Vec<u8>> {
        self.state().sample.clone()
    }

    /// What the filter says of `ns`, recorded as the export writer records it at `open`: the
    /// first decision stands.
    fn decide(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        let verdict = self.filter.check(ns, meta);
        let mut state = self.state();
        let entry = state.namespaces.entry(ns.clone()).or_default();
        match &entry.skipped {
            Some(first) => return Err(first.clone()),
            None if entry.documents > 0 || entry.finished => return Ok(()),
            None => {}
        }
        entry.skipped = verdict.clone().err();
        entry.view = meta.is_view();
        verdict
    }
}

impl DocumentSink for Census {
    type Writer<'s> = Tally<'s>;

    /// The filter's answer, recorded: a reader that asks names a namespace the input holds
    /// (its metadata telling views and time-series apart) even if it never opens it.
    fn wants(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason> {
        self.decide(ns, meta)
    }

    fn open(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<Self::Writer<'_>>, SinkError> {
        if self.decide(ns, meta).is_err() {
            return Ok(None);
        }
        self.state()
            .namespaces
            .entry(ns.clone())
            .or_default()
            .reached = true;
        Ok(Some(Tally {
            census: self,
            ns: ns.clone(),
            origin: String::new(),
            counted: Counted::default(),
            sampling: true,
        }))
    }

    fn update_metadata(&self, _: &Namespace, _: &CollectionMetadata) -> Result<(), SinkError> {
        Ok(())
    }

    fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        let mut state = self.state();
        if failure.message.contains(SAMPLE_END) {
            state.cut.insert(ns.cloned());
            return;
        }
        match ns {
            Some(ns) => {
                let entry = state.namespaces.entry(ns.clone()).or_default();
                if entry.failure.is_none() {
                    entry.failure = Some(failure);
                }
            }
            None => state.failures.push(failure),
        }
    }
}

/// The [`CollectionWriter`] of a [`Census`]: counts one collection.
pub struct Tally<'c> {
    census: &'c Census,
    ns: Namespace,
    origin: String,
    counted: Counted,
    sampling: bool,
}

impl Tally<'_> {
    /// Adds what this writer counted to the census.
    fn settle(&mut self, finished: bool) {
        let mut state = self.census.state();
        let entry = state.namespaces.entry(self.ns.clone()).or_default();
        entry.documents += self.counted.documents;
        entry.bytes += self.counted.bytes;
        entry.corrupt += self.counted.corrupt;
        entry.finished |= finished;
        if entry.origin.is_none() {
            entry.origin = self.counted.origin.take();
        }
        self.counted = Counted::default();
    }
}

impl CollectionWriter for Tally<'_> {
    fn set_origin(&mut self, origin: &str) {
        self.origin = origin.to_string();
        if self.counted.origin.is_none() {
            self.counted.origin = Some(origin.to_string());
        }
    }

    fn write_document(&mut self, doc: &[u8], _offset: u64) -> Result<(), SinkError> {
        self.counted.documents += 1;
        self.counted.bytes += doc.len() as u64;
        if self.sampling {
            let mut state = self.census.state();
            if state.sample_bytes + doc.len() <= self.census.sample_limit {
                state.sample_bytes += doc.len();
                state.sample.push(doc.to_vec());
            } else {
                self.sampling = false;
            }
        }
        Ok(())
    }

    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError> {
        self.counted.corrupt += 1;
        if self.census.skip_corrupt {
            return Ok(());
        }
        let failure = Failure::new(
            FailureKind::Corrupt,
            format!("{}: {} at byte {offset}: {detail}", self.ns, self.origin),
        );
        self.census.fail(Some(&self.ns), failure.clone());
        Err(Box::new(failure))
    }

    fn finish(mut self) -> Result<(), SinkError> {
        self.settle(true);
        Ok(())
    }
}

impl Drop for Tally<'_> {
    fn drop(&mut self) {
        // Unfinished (the reader stopped): what was counted still counts, as a lower bound.
        self.settle(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Namespace {
        Namespace::parse(s).unwrap()
    }

    #[test]
    fn counts_skips_and_samples() {
        let census = Census::new(NamespaceFilter::new(), false, 10);
        let meta = CollectionMetadata::default();
        assert!(census.open(&ns("admin.users"), &meta).unwrap().is_none());
        let mut w = census.open(&ns("shop.orders"), &meta).unwrap().unwrap();
        w.write_document(&[5, 0, 0, 0, 0], 0).unwrap();
        w.write_document(&[6, 0, 0, 0, 1, 0], 5).unwrap();
        w.finish().unwrap();
        let mut w = census.open(&ns("shop.cut"), &meta).unwrap().unwrap();
        w.write_document(&[5, 0, 0, 0, 0], 0).unwrap();
        assert!(w.corrupt(5, "bad length").is_err());
        drop(w);
        let all = census.namespaces();
        assert_eq!(
            all[&ns("admin.users")].skipped,
            Some(SkipReason::SystemDatabase)
        );
        let orders = &all[&ns("shop.orders")];
        assert_eq!(
            (orders.documents, orders.bytes, orders.finished),
            (2, 11, true)
        );
        let cut = &all[&ns("shop.cut")];
        assert_eq!((cut.documents, cut.corrupt, cut.finished), (1, 1, false));
        assert!(cut.failure.as_ref().unwrap().message.contains("at byte 5"));
        // The sample stops at its limit (10 bytes): the first two documents only.
        assert_eq!(census.sample().len(), 2);
    }

    #[test]
    fn the_first_decision_stands() {
        let census = Census::new(NamespaceFilter::new(), true, 0);
        let view = CollectionMetadata::from_mongodump_json(r#"{"type":"view"}"#).unwrap();
        assert!(census.open(&ns("a.v"), &view).unwrap().is_none());
        assert!(census
            .open(&ns("a.v"), &CollectionMetadata::default())
            .unwrap()
            .is_none());
        assert_eq!(
            census.namespaces()[&ns("a.v")].skipped,
            Some(SkipReason::View)
        );
    }
}
