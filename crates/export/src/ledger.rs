//! The run's one ledger: every collection's state, every skip and every failure.
//!
//! Writers ([`CollectionExport`](crate::CollectionExport)) and readers (through
//! [`DocumentSink::fail`](bsonflow_model::DocumentSink::fail)) report here; the
//! [`Exporter`](crate::Exporter) reads it once at the end to decide whether `.complete` may
//! be written. The rules:
//!
//! - a collection is registered once; a second registration is a failure of its own;
//! - a failure is never overwritten by a later success, nor by a later failure, except that
//!   [`FailureKind::Incomplete`] ("reading stopped") gives way to the precise failure that a
//!   reader reports after it dropped the writer;
//! - failures of the input as a whole (no namespace) are kept in order, each message once.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bsonflow_model::{CollectionMetadata, Failure, FailureKind, Namespace, SkipReason};

use crate::summary::CollectionSummary;

/// Where one collection stands.
#[derive(Clone, Debug)]
pub(crate) enum Status {
    /// Registered, not finished yet.
    Open,
    /// Written in full.
    Done(CollectionSummary),
    /// Not written in full, and why.
    Failed(Failure),
}

impl Status {
    /// How the collection ended once reading is over: written in full, or why not (a
    /// collection still open was left unfinished by its reader).
    pub fn outcome(self) -> Result<CollectionSummary, Failure> {
        match self {
            Status::Done(c) => Ok(c),
            Status::Open => Err(Failure::new(
                FailureKind::Incomplete,
                "reading stopped before the end of the collection",
            )),
            Status::Failed(f) => Err(f),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub metadata: CollectionMetadata,
    pub status: Status,
    /// Opened by a writer (not only failed by a reader before it was opened).
    pub registered: bool,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub collections: BTreeMap<Namespace, Entry>,
    pub skipped: Vec<(Namespace, SkipReason)>,
    pub input_failures: Vec<Failure>,
}

impl State {
    /// Nothing was opened, skipped or failed.
    pub fn is_empty(&self) -> bool {
        self.collections.is_empty() && self.skipped.is_empty() && self.input_failures.is_empty()
    }
}

/// Shared by the exporter and its collection writers.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    state: Mutex<State>,
}

impl Ledger {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A writer thread that panicked leaves its collection Open, which fails the run;
        // the rest of the ledger stays readable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `ns` as open. A namespace registered before is an error (and the first
    /// registration is failed too: its documents would be mixed with the second's). A
    /// namespace a reader already failed stays failed: its failure is returned.
    pub fn register(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), Failure> {
        let mut state = self.lock();
        if let Some(entry) = state.collections.get_mut(ns) {
            if entry.registered {
                let failure = Failure::new(
                    FailureKind::Namespace,
                    format!("{ns} appears twice in the input"),
                );
                fail_entry(entry, failure.clone());
                return Err(failure);
            }
            entry.registered = true;
            entry.metadata = meta.clone();
            if let Status::Failed(f) = &entry.status {
                return Err(f.clone());
            }
            return Ok(());
        }
        state.collections.insert(
            ns.clone(),
            Entry {
                metadata: meta.clone(),
                status: Status::Open,
                registered: true,
            },
        );
        Ok(())
    }

    /// Records that `ns` was filtered out (once, however often it is offered).
    pub fn skip(&self, ns: &Namespace, reason: SkipReason) {
        let mut state = self.lock();
        if !state.skipped.iter().any(|(s, _)| s == ns) {
            state.skipped.push((ns.clone(), reason));
        }
    }

    /// Replaces the metadata of a registered collection.
    pub fn update_metadata(&self, ns: &Namespace, meta: &CollectionMetadata) {
        if let Some(entry) = self.lock().collections.get_mut(ns) {
            entry.metadata = meta.clone();
        }
    }

    /// Marks `ns` written in full, unless it failed before: then that failure is returned.
    pub fn done(&self, ns: &Namespace, summary: CollectionSummary) -> Result<(), Failure> {
        if let Some(entry) = self.lock().collections.get_mut(ns) {
            match &entry.status {
                Status::Open => entry.status = Status::Done(summary),
                Status::Failed(f) => return Err(f.clone()),
                Status::Done(_) => {}
            }
        }
        Ok(())
    }

    /// Records a failure of `ns` (entering it if a reader failed it before opening), or of
    /// the whole input. A failure of a namespace the filter declined concerns no collection
    /// of the export: it is kept as a failure of the input.
    pub fn fail(&self, ns: Option<&Namespace>, failure: Failure) {
        let mut state = self.lock();
        let declined = |state: &State, ns: &Namespace| {
            !state.collections.contains_key(ns) && state.skipped.iter().any(|(s, _)| s == ns)
        };
        match ns {
            Some(ns) if !declined(&state, ns) => {
                let entry = state.collections.entry(ns.clone()).or_insert(Entry {
                    metadata: CollectionMetadata::default(),
                    status: Status::Open,
                    registered: false,
                });
                fail_entry(entry, failure);
            }
            _ => {
                if !state.input_failures.contains(&failure) {
                    state.input_failures.push(failure);
                }
            }
        }
    }

    /// The final state, once every writer is gone.
    pub fn into_state(self) -> State {
        self.state.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

fn fail_entry(entry: &mut Entry, failure: Failure) {
    let replace = match &entry.status {
        Status::Open | Status::Done(_) => true,
        Status::Failed(old) => {
            old.kind == FailureKind::Incomplete && failure.kind != FailureKind::Incomplete
        }
    };
    if replace {
        entry.status = Status::Failed(failure);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> Namespace {
        Namespace::new("a", "b")
    }

    fn status(ledger: Ledger) -> Status {
        ledger
            .into_state()
            .collections
            .remove(&ns())
            .unwrap()
            .status
    }

    #[test]
    fn the_first_precise_failure_wins() {
        let ledger = Ledger::default();
        ledger
            .register(&ns(), &CollectionMetadata::default())
            .unwrap();
        ledger.fail(
            Some(&ns()),
            Failure::new(FailureKind::Incomplete, "stopped"),
        );
        ledger.fail(Some(&ns()), Failure::new(FailureKind::Corrupt, "bad crc"));
        ledger.fail(Some(&ns()), Failure::new(FailureKind::Input, "later"));
        assert!(ledger.done(&ns(), CollectionSummary::default()).is_err());
        match status(ledger) {
            Status::Failed(f) => assert_eq!(f.message, "bad crc"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_done_collection_can_still_fail_but_not_the_reverse() {
        let ledger = Ledger::default();
        ledger
            .register(&ns(), &CollectionMetadata::default())
            .unwrap();
        ledger.done(&ns(), CollectionSummary::default()).unwrap();
        ledger.fail(Some(&ns()), Failure::new(FailureKind::Output, "late"));
        assert!(matches!(status(ledger), Status::Failed(_)));
    }

    #[test]
    fn a_failure_reported_before_open_survives_the_open() {
        let ledger = Ledger::default();
        ledger.fail(Some(&ns()), Failure::new(FailureKind::Missing, "gone"));
        let err = ledger
            .register(&ns(), &CollectionMetadata::default())
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Missing);
        assert!(ledger
            .register(&ns(), &CollectionMetadata::default())
            .is_err());
    }

    #[test]
    fn a_declined_namespace_fails_the_input_not_a_collection() {
        let ledger = Ledger::default();
        ledger.skip(&ns(), SkipReason::SystemDatabase);
        ledger.skip(&ns(), SkipReason::SystemDatabase);
        ledger.fail(Some(&ns()), Failure::new(FailureKind::Corrupt, "bad crc"));
        let state = ledger.into_state();
        assert!(state.collections.is_empty());
        assert_eq!(state.skipped.len(), 1);
        assert_eq!(state.input_failures.len(), 1);
    }

    #[test]
    fn input_failures_are_listed_once() {
        let ledger = Ledger::default();
        let f = Failure::new(FailureKind::Corrupt, "x.tar: truncated");
        ledger.fail(None, f.clone());
        ledger.fail(None, f.clone());
        assert_eq!(ledger.into_state().input_failures, vec![f]);
    }
}
