//! An export written to a prefix in object storage: the writer's [`Target`] for `s3://` and
//! `oss://`.
//!
//! - Claim: the prefix holds nothing, or only files of the export layout (an earlier export;
//!   anything else is refused before a byte is written). An old `.complete` is deleted
//!   first, then the [`MARKER`] is written.
//! - Files stream up ([`Target::create`], which `put` uses too): pieces are gathered into
//!   [`PART_BYTES`] parts of a multipart upload with at most [`PARTS_IN_FLIGHT`] in flight;
//!   a file that never fills a part is one PUT. An object becomes visible only at Complete,
//!   so no temporary names are needed. A failed upload is aborted, and both errors are
//!   reported.
//! - Before `.complete`, layout objects this run did not write (chunks of an earlier, longer
//!   export) are deleted, so the listing is exactly the export.
//! - `.complete` is written last with `If-None-Match: *`: an existing one means another run
//!   finished this export meanwhile, unless it is byte for byte this run's own (a retried PUT
//!   whose first attempt landed).

use std::collections::BTreeSet;
use std::sync::Arc;

use bsonflow_export::{is_layout_name, ObjectWriter, Target, TargetError, MARKER};
use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::MultipartUpload;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use tokio::task::JoinHandle;

use crate::error::CloudError;
use crate::remote::{relative, RangeReader, Remote};

/// Size of each part of a multipart upload, and the largest object sent as one PUT: 8 MiB
/// (S3 refuses parts under 5 MiB except the last).
pub const PART_BYTES: usize = 8 << 20;

/// Parts of one upload sent at the same time: a chunk being written holds at most
/// `PARTS_IN_FLIGHT + 1` parts.
pub const PARTS_IN_FLIGHT: usize = 2;

/// A prefix in object storage, claimed for one export.
#[derive(Debug)]
pub struct RemoteTarget {
    remote: Arc<Remote>,
    prefix: String,
}

impl RemoteTarget {
    /// Claims the prefix of `remote`'s URL; `Ok((target, true))` when it held an earlier
    /// export.
    pub fn claim(remote: Arc<Remote>) -> Result<(RemoteTarget, bool), CloudError> {
        let prefix = remote.url().key.clone();
        let target = RemoteTarget { remote, prefix };
        let listed = target
            .remote
            .list(&ObjectPath::from(target.prefix.as_str()))?;
        let base = ObjectPath::from(target.prefix.as_str());
        let mut earlier = false;
        let mut complete = None;
        for meta in &listed {
            let Some(rel) = relative(&base, &meta.location) else {
                continue;
            };
            let rel = rel.join("/");
            if !is_layout_name(&rel) {
                return Err(CloudError::Usage {
                    message: format!(
                        "{}: holds {}, which is not part of an export; nothing was written or removed — choose an empty prefix or move it away",
                        target.describe(),
                        target.remote.url().display_key(meta.location.as_ref())
                    ),
                });
            }
            earlier = true;
            if rel == ".complete" {
                complete = Some(meta.location.clone());
            }
        }
        if let Some(path) = complete {
            let store = Arc::clone(target.remote.store());
            target
                .remote
                .block_on(async move { store.delete(&path).await })
                .map_err(|e| {
                    target
                        .remote
                        .error(&e, "deleting the old .complete", &target.key(".complete"))
                })?;
        }
        let marker = bsonflow_export::marker_contents();
        target
            .put(MARKER, marker.as_bytes())
            .map_err(|e| CloudError::Service {
                message: e.to_string(),
            })?;
        Ok((target, earlier))
    }

    /// The prefix of `remote`'s URL as it is, without claiming it: for the scale-out
    /// commands, whose tasks write into one export side by side.
    pub fn shared(remote: Arc<Remote>) -> RemoteTarget {
        let prefix = remote.url().key.clone();
        RemoteTarget { remote, prefix }
    }

    /// A streamed reader of the export's file `rel` (of `size` bytes, as listed): ranged
    /// GETs, never the whole object in memory (`bsonflow verify` reads chunks this way).
    pub fn reader(&self, rel: &str, size: u64) -> RangeReader {
        self.remote
            .reader(&ObjectPath::from(self.key(rel).as_str()), size)
    }

    fn key(&self, rel: &str) -> String {
        match self.prefix.as_str() {
            "" => rel.to_string(),
            p => format!("{p}/{rel}"),
        }
    }

    fn fail(&self, e: CloudError) -> TargetError {
        located(self.describe(), e)
    }

    /// Whether the object at `path` holds exactly `bytes`.
    fn holds(&self, path: &ObjectPath, bytes: &[u8]) -> bool {
        let store = Arc::clone(self.remote.store());
        let p = path.clone();
        match self
            .remote
            .block_on(async move { store.get(&p).await?.bytes().await })
        {
            Ok(found) => found.as_ref() == bytes,
            Err(_) => false,
        }
    }
}

/// A [`TargetError`] at `location`, its message without a repeat of the location.
fn located(location: String, e: CloudError) -> TargetError {
    let text = e.to_string();
    let message = match text.strip_prefix(&format!("{location}: ")) {
        Some(rest) => rest.to_string(),
        None => text,
    };
    TargetError { location, message }
}

impl Target for RemoteTarget {
    fn describe(&self) -> String {
        self.remote.url().display()
    }

    fn create(&self, rel: &str) -> Result<Box<dyn ObjectWriter>, TargetError> {
        Ok(Box::new(RemoteWriter {
            remote: Arc::clone(&self.remote),
            key: self.key(rel),
            buffer: Vec::new(),
            upload: None,
            in_flight: Vec::new(),
        }))
    }

    fn remove_others(&self, keep: &BTreeSet<String>) -> Result<(), TargetError> {
        let base = ObjectPath::from(self.prefix.as_str());
        let listed = self.remote.list(&base).map_err(|e| self.fail(e))?;
        for meta in listed {
            let Some(rel) = relative(&base, &meta.location) else {
                continue;
            };
            let rel = rel.join("/");
            if rel == ".complete" || !is_layout_name(&rel) || keep.contains(&rel) {
                continue;
            }
            let store = Arc::clone(self.remote.store());
            let path = meta.location.clone();
            self.remote
                .block_on(async move { store.delete(&path).await })
                .map_err(|e| {
                    self.fail(self.remote.error(
                        &e,
                        "deleting a file of an earlier export",
                        meta.location.as_ref(),
                    ))
                })?;
        }
        Ok(())
    }

    fn get(&self, rel: &str) -> Result<Option<Vec<u8>>, TargetError> {
        let key = self.key(rel);
        let store = Arc::clone(self.remote.store());
        let path = ObjectPath::from(key.as_str());
        match self
            .remote
            .block_on(async move { store.get(&path).await?.bytes().await })
        {
            Ok(b) => Ok(Some(b.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(located(
                self.remote.url().display_key(&key),
                self.remote.error(&e, "reading", &key),
            )),
        }
    }

    fn list(&self) -> Result<Vec<(String, u64)>, TargetError> {
        let base = ObjectPath::from(self.prefix.as_str());
        let listed = self.remote.list(&base).map_err(|e| self.fail(e))?;
        let mut out: Vec<(String, u64)> = listed
            .iter()
            .filter_map(|m| relative(&base, &m.location).map(|r| (r.join("/"), m.size)))
            .collect();
        out.sort();
        Ok(out)
    }

    fn delete(&self, rel: &str) -> Result<(), TargetError> {
        let key = self.key(rel);
        let store = Arc::clone(self.remote.store());
        let path = ObjectPath::from(key.as_str());
        match self
            .remote
            .block_on(async move { store.delete(&path).await })
        {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(located(
                self.remote.url().display_key(&key),
                self.remote.error(&e, "deleting", &key),
            )),
        }
    }

    fn put_complete(&self, bytes: &[u8]) -> Result<(), TargetError> {
        let key = self.key(".complete");
        let store = Arc::clone(self.remote.store());
        let path = ObjectPath::from(key.as_str());
        let payload = PutPayload::from(Bytes::copy_from_slice(bytes));
        let options = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        let p = path.clone();
        match self
            .remote
            .block_on(async move { store.put_opts(&p, payload, options).await })
        {
            Ok(_) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) if self.holds(&path, bytes) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(TargetError {
                location: self.remote.url().display_key(&key),
                message: "another run completed this export while this one was writing (the service answered 412 to If-None-Match: *); nothing was overwritten — check which run's files you want and rerun".into(),
            }),
            Err(e) => Err(located(
                self.remote.url().display_key(&key),
                self.remote.error(&e, "writing .complete", &key),
            )),
        }
    }
}

type PartTask = JoinHandle<object_store::Result<()>>;

/// A chunk streamed into object storage: pieces are gathered into [`PART_BYTES`] parts of a
/// multipart upload started with the first full part; a file that never fills one part is
/// sent as one PUT at the end. Nothing is visible until Complete.
struct RemoteWriter {
    remote: Arc<Remote>,
    key: String,
    buffer: Vec<u8>,
    upload: Option<Box<dyn MultipartUpload>>,
    in_flight: Vec<PartTask>,
}

impl RemoteWriter {
    fn failed(&self, e: &object_store::Error, what: &str) -> TargetError {
        located(
            self.remote.url().display_key(&self.key),
            self.remote.error(e, what, &self.key),
        )
    }

    /// Sends the buffer as the next part, waiting first when too many are in flight.
    fn send_part(&mut self, part: Vec<u8>) -> Result<(), TargetError> {
        if self.upload.is_none() {
            let store = Arc::clone(self.remote.store());
            let path = ObjectPath::from(self.key.as_str());
            let upload = self
                .remote
                .block_on(async move { store.put_multipart(&path).await })
                .map_err(|e| self.failed(&e, "starting a multipart upload"))?;
            self.upload = Some(upload);
        }
        while self.in_flight.len() >= PARTS_IN_FLIGHT {
            let oldest = self.in_flight.remove(0);
            self.wait(oldest)?;
        }
        let upload = self.upload.as_mut().expect("started above");
        let part = upload.put_part(PutPayload::from(Bytes::from(part)));
        let task = self.remote.spawn(part);
        self.in_flight.push(task);
        Ok(())
    }

    fn wait(&self, task: PartTask) -> Result<(), TargetError> {
        match self.remote.block_on(task) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.failed(&e, "uploading a part")),
            Err(e) => Err(TargetError {
                location: self.remote.url().display_key(&self.key),
                message: format!("the upload task failed: {e}"),
            }),
        }
    }

    fn abort_upload(&mut self) -> Option<TargetError> {
        for t in self.in_flight.drain(..) {
            t.abort();
        }
        let mut upload = self.upload.take()?;
        self.remote
            .block_on(async move { upload.abort().await })
            .err()
            .map(|e| self.failed(&e, "aborting the upload"))
    }
}

impl ObjectWriter for RemoteWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<(), TargetError> {
        if self.buffer.is_empty() && bytes.len() >= PART_BYTES {
            // A piece as large as a part goes as one.
            return self.send_part(bytes.to_vec()).inspect_err(|_| {
                self.abort_upload();
            });
        }
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= PART_BYTES {
            let part = std::mem::take(&mut self.buffer);
            if let Err(e) = self.send_part(part) {
                self.abort_upload();
                return Err(e);
            }
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), TargetError> {
        if self.upload.is_none() {
            // Never filled a part: one PUT.
            let store = Arc::clone(self.remote.store());
            let path = ObjectPath::from(self.key.as_str());
            let payload = PutPayload::from(Bytes::from(std::mem::take(&mut self.buffer)));
            return self
                .remote
                .block_on(async move { store.put(&path, payload).await })
                .map(|_| ())
                .map_err(|e| self.failed(&e, "uploading"));
        }
        let rest = std::mem::take(&mut self.buffer);
        let mut first = None;
        if !rest.is_empty() {
            first = self.send_part(rest).err();
        }
        for t in std::mem::take(&mut self.in_flight) {
            if let Err(e) = self.wait(t) {
                first.get_or_insert(e);
            }
        }
        if first.is_none() {
            let mut upload = self.upload.take().expect("started");
            match self.remote.block_on(async { upload.complete().await }) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    first = Some(self.failed(
                        &e,
                        "completing the upload (the error answered its Complete request, which may have been a retry)",
                    ));
                    self.upload = Some(upload);
                }
            }
        }
        let err = first.expect("an error");
        match self.abort_upload() {
            Some(a) => Err(TargetError {
                location: err.location,
                message: format!("{}; then {}", err.message, a.message),
            }),
            None => Err(err),
        }
    }

    fn abort(mut self: Box<Self>) {
        if let Some(e) = self.abort_upload() {
            eprintln!("bsonflow: warning: {e}");
        }
    }
}
