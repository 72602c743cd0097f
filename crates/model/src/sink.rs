//! The small interface where readers hand documents to the writer.

use crate::{CollectionMetadata, Failure, Namespace, SkipReason};

/// Errors a sink returns to the reader that feeds it. Their message names the namespace
/// (and the origin and offset when a document is at fault); readers pass them on as they
/// are, and the binary prints them.
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Receives the collections a source reads, and the run's failures.
///
/// Implementations are shared by the threads of a run (`Sync`): a source that reads several
/// collections at once opens one writer per collection from whichever thread reads it. The
/// sink is the run's one ledger: it decides what is exported ([`wants`](Self::wants)), holds
/// the policy for corrupt documents (in its writers), and records every failure, whether a
/// writer met it or a reader reported it through [`fail`](Self::fail).
pub trait DocumentSink: Sync {
    /// The writer of one collection; it may borrow the sink.
    type Writer<'s>: CollectionWriter
    where
        Self: 's;

    /// Whether `ns` would be exported, without opening it: readers ask before doing work
    /// for a collection (e.g. checking that its file exists). `Err` says why not.
    fn wants(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SkipReason>;

    /// Starts a collection. Returns `Ok(None)` when the sink does not want it (it is filtered
    /// out); the sink records the reason itself, so the source simply skips its documents.
    /// Opening the same namespace twice in one run is an error.
    fn open(
        &self,
        ns: &Namespace,
        meta: &CollectionMetadata,
    ) -> Result<Option<Self::Writer<'_>>, SinkError>;

    /// Metadata learned after [`open`](DocumentSink::open), e.g. a `.metadata.json` member
    /// that follows the data in a tar: it replaces what `open` was given when the sink writes
    /// the collection's `metadata.json`. The decision to export or skip is not revisited.
    /// Ignored for namespaces that were skipped.
    fn update_metadata(&self, ns: &Namespace, meta: &CollectionMetadata) -> Result<(), SinkError>;

    /// Records a failure the reader met: of collection `ns`, or of the input as a whole when
    /// `ns` is `None`. The run then ends without its completion marker. For a collection,
    /// the first precise failure is kept: a later report never overwrites it (a writer that
    /// already failed has recorded its own error, which names the document).
    fn fail(&self, ns: Option<&Namespace>, failure: Failure);
}

/// Receives the documents of one collection, in order.
///
/// Dropping a writer without calling [`finish`](CollectionWriter::finish) marks the
/// collection as incomplete: the run then ends without its completion marker.
pub trait CollectionWriter: Send {
    /// Names where the next documents come from (a file, an archive member, a namespace
    /// segment) for error messages. Offsets passed later are relative to it.
    fn set_origin(&mut self, origin: &str);

    /// One whole BSON document whose outer frame the reader has checked with
    /// [`frame_len`](crate::frame_len) or [`check_frame`](crate::check_frame), read at byte
    /// `offset` of the current origin.
    fn write_document(&mut self, doc: &[u8], offset: u64) -> Result<(), SinkError>;

    /// Reports bytes at `offset` of the current origin that do not frame a document (a bad
    /// length prefix, a truncated tail). The sink holds the policy: it either counts them and
    /// returns `Ok` (the user asked to skip corrupt data; the reader then stops reading this
    /// origin, since it cannot find the next document boundary) or returns the error that
    /// fails the collection.
    fn corrupt(&mut self, offset: u64, detail: &str) -> Result<(), SinkError>;

    /// The collection is complete: the writer flushes what it holds and reports an error if
    /// anything it wrote failed.
    fn finish(self) -> Result<(), SinkError>;
}
