//! What a look at an input found without converting it: the material of `bsonflow inspect`.
//!
//! A [`Survey`] lists every namespace with its document count and BSON bytes, each marked
//! with how it is known ([`Basis`]): counted to the end, counted as far as a sample went,
//! extrapolated from a sample, read from the storage engine's own bookkeeping, or unknown.
//! It says what would be skipped (the export writer's [`SkipReason`]s) and, in
//! [`unknowns`](Survey::unknowns), what the look could not tell without reading everything.

use std::fmt;

use crate::{Census, Ignored, Namespace, ReadReport, SkipReason};

/// How a count is known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Basis {
    /// Every document was counted.
    Exact,
    /// Counted as far as the look read: the true count is at least this.
    AtLeast,
    /// Extrapolated from the part that was read.
    Estimate,
    /// What the storage engine last recorded (WiredTiger's size storer, which mongod's fast
    /// `count()` reports): usually right, but it may lag behind after an unclean shutdown.
    Recorded,
    /// Not known without reading further.
    #[default]
    Unknown,
}

impl Basis {
    /// The word used in `inspect --json`: `exact`, `at_least`, `estimate`, `recorded`,
    /// `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Basis::Exact => "exact",
            Basis::AtLeast => "at_least",
            Basis::Estimate => "estimate",
            Basis::Recorded => "recorded",
            Basis::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Basis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One namespace of a [`Survey`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceSurvey {
    /// The namespace.
    pub ns: Namespace,
    /// Documents, when anything is known of them.
    pub documents: Option<u64>,
    /// BSON bytes, when anything is known of them.
    pub bytes: Option<u64>,
    /// How `documents` and `bytes` are known.
    pub basis: Basis,
    /// Why the export would skip it, when it would; its counts are then not read.
    pub skipped: Option<SkipReason>,
    /// What went wrong reading it (the input is damaged there).
    pub failure: Option<String>,
}

/// What a look at an input found.
#[derive(Clone, Debug, Default)]
pub struct Survey {
    /// The reader's account of the input (its format chain, notes, ignored members).
    pub read: ReadReport,
    /// Every namespace, by name.
    pub namespaces: Vec<NamespaceSurvey>,
    /// Documents of the namespaces the export would write, in total.
    pub documents: Option<u64>,
    /// Their BSON bytes, in total.
    pub bytes: Option<u64>,
    /// How the totals are known.
    pub totals: Basis,
    /// The whole input was read.
    pub read_whole: bool,
    /// Raw (as stored) bytes of the input read, when the reader counts them.
    pub raw_read: Option<u64>,
    /// The raw size of the input, when known.
    pub raw_size: Option<u64>,
    /// What the look could not tell, one sentence each.
    pub unknowns: Vec<String>,
    /// Failures that concern the input as a whole.
    pub failures: Vec<String>,
    /// Documents kept as a sample (raw BSON), for an estimate of the export.
    pub sample: Vec<Vec<u8>>,
}

impl Survey {
    /// The namespaces the export would write.
    pub fn exported(&self) -> impl Iterator<Item = &NamespaceSurvey> {
        self.namespaces.iter().filter(|n| n.skipped.is_none())
    }

    /// Files or members ignored, as the reader listed them.
    pub fn ignored(&self) -> &[Ignored] {
        &self.read.ignored
    }

    /// Adds up the exported namespaces into the totals: exact when every one is exact,
    /// unknown when any is unknown, else the sum of what is known, marked `basis`.
    pub fn add_up(&mut self, basis: Basis) {
        let exported: Vec<&NamespaceSurvey> = self.exported().collect();
        if exported.iter().any(|n| n.basis == Basis::Unknown) {
            (self.documents, self.bytes, self.totals) = (None, None, Basis::Unknown);
            return;
        }
        let documents = exported.iter().filter_map(|n| n.documents).sum();
        let bytes = exported.iter().filter_map(|n| n.bytes).sum();
        let totals = match exported.iter().all(|n| n.basis == Basis::Exact) {
            true => Basis::Exact,
            false => basis,
        };
        (self.documents, self.bytes, self.totals) = (Some(documents), Some(bytes), totals);
    }
}

impl Census {
    /// The census as a survey, with `read` (the reader's report): a namespace the reader
    /// finished, untouched by the sample's end and by failures, is [`Basis::Exact`] (also
    /// when the sample ended later, in another namespace); one it
    /// opened but did not finish is [`Basis::AtLeast`]; one it never reached is
    /// [`Basis::Unknown`]. Totals are added up with [`Survey::add_up`].
    pub fn into_survey(self, read: ReadReport) -> Survey {
        let mut survey = Survey {
            read_whole: !self.any_cut() && read.read_to_end,
            failures: self.failures().iter().map(|f| f.to_string()).collect(),
            sample: self.sample(),
            read,
            totals: Basis::Unknown,
            ..Survey::default()
        };
        for (ns, c) in self.namespaces() {
            // A namespace the reader finished before the sample ended is whole.
            let cut = self.was_cut(Some(&ns));
            let basis = match () {
                _ if c.skipped.is_some() || !c.reached => Basis::Unknown,
                _ if c.finished && !cut && c.failure.is_none() => Basis::Exact,
                _ => Basis::AtLeast,
            };
            let known = basis != Basis::Unknown;
            survey.namespaces.push(NamespaceSurvey {
                ns,
                documents: known.then_some(c.documents),
                bytes: known.then_some(c.bytes),
                basis,
                skipped: c.skipped,
                failure: c.failure.map(|f| f.to_string()),
            });
        }
        survey.add_up(Basis::AtLeast);
        survey
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CollectionMetadata, CollectionWriter, DocumentSink, NamespaceFilter};

    #[test]
    fn bases_and_totals() {
        let census = Census::new(NamespaceFilter::new(), false, 0);
        let meta = CollectionMetadata::default();
        let ns = |s| Namespace::parse(s).unwrap();
        let mut w = census.open(&ns("a.done"), &meta).unwrap().unwrap();
        w.write_document(&[5, 0, 0, 0, 0], 0).unwrap();
        w.finish().unwrap();
        assert!(census.open(&ns("local.x"), &meta).unwrap().is_none());
        let survey = Census::into_survey(
            census,
            ReadReport {
                read_to_end: true,
                ..ReadReport::default()
            },
        );
        assert!(survey.read_whole);
        assert_eq!(survey.totals, Basis::Exact);
        assert_eq!((survey.documents, survey.bytes), (Some(1), Some(5)));
        assert_eq!(survey.namespaces[1].basis, Basis::Unknown);

        let census = Census::new(NamespaceFilter::new(), false, 0);
        let mut w = census.open(&ns("a.cut"), &meta).unwrap().unwrap();
        w.write_document(&[5, 0, 0, 0, 0], 0).unwrap();
        drop(w);
        census.fail(
            Some(&ns("a.cut")),
            crate::Failure::new(crate::FailureKind::Input, crate::census::SAMPLE_END),
        );
        census.offer(&ns("a.later"));
        let mut w = census.open(&ns("a.before"), &meta).unwrap().unwrap();
        w.write_document(&[5, 0, 0, 0, 0], 0).unwrap();
        w.finish().unwrap();
        census.fail(
            None,
            crate::Failure::new(crate::FailureKind::Input, crate::census::SAMPLE_END),
        );
        let survey = census.into_survey(ReadReport::default());
        assert!(!survey.read_whole);
        assert_eq!(survey.namespaces[0].basis, Basis::Exact, "a.before");
        assert!(survey.namespaces[1].failure.is_none());
        assert_eq!(survey.namespaces[1].basis, Basis::AtLeast, "a.cut");
        assert_eq!(survey.namespaces[2].basis, Basis::Unknown, "a.later");
        assert!(survey.failures.is_empty());
        assert_eq!(survey.totals, Basis::Unknown);
    }
}
