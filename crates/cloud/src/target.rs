//! An export written to a prefix in object storage: the writer's [`Target`] for `s3://` and
//! `oss://`.
//!
//! - Claim: the prefix holds nothing, or only files of the export layout (an earlier export;
//!   anything else is refused before a byte is written). An old `.complete` is deleted
//!   first, then the [`MARKER`] is written.
//! - Files go up whole: one PUT up to [`PART_BYTES`], else a multipart upload of
//!   [`PART_BYTES`] parts with at most [`PARTS_IN_FLIGHT`] in flight. An object becomes
//!   visible only at Complete, so no temporary names are needed. A failed upload is aborted,
//!   and both errors are reported.
//! - Before `.complete`, layout objects this run did not write (chunks of an earlier, longer
//!   export) are deleted, so the listing is exactly the export.
//! - `.complete` is written last with `If-None-Match: *`: an existing one means another run
//!   finished this export meanwhile, unless it is byte for byte this run's own (a retried PUT
//!   whose first attempt landed).

use std::collections::BTreeSet;
use std::sync::Arc;

use bsonflow_export::{is_layout_name, Target, TargetError, MARKER};
use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::CloudError;
use crate::remote::{relative, Remote};

/// Size of each part of a multipart upload, and the largest object sent as one PUT: 8 MiB
/// (S3 refuses parts under 5 MiB except the last).
pub const PART_BYTES: usize = 8 << 20;

/// Parts of one upload sent at the same time.
pub const PARTS_IN_FLIGHT: usize = 4;

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
        let marker = format!(
            "{{\"writer\":\"bsonflow\",\"version\":\"{}\"}}\n",
            env!("CARGO_PKG_VERSION")
        );
        target
            .put(MARKER, marker.as_bytes())
            .map_err(|e| CloudError::Service {
                message: e.to_string(),
            })?;
        Ok((target, earlier))
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

    /// Uploads `bytes` as a multipart upload; aborts it when anything fails.
    fn put_multipart(&self, key: &str, bytes: Bytes) -> Result<(), CloudError> {
        let path = ObjectPath::from(key);
        let store = Arc::clone(self.remote.store());
        let p = path.clone();
        // Parts are slices of the one buffer (no copy); at most PARTS_IN_FLIGHT are sent at
        // once.
        let all = bytes.clone();
        let outcome = self.remote.block_on(async move {
            let mut upload = match store.put_multipart(&p).await {
                Ok(u) => u,
                Err(e) => return (Some(e), None, false),
            };
            let mut in_flight = FuturesUnordered::new();
            let mut first = None;
            for at in (0..all.len()).step_by(PART_BYTES) {
                let part = all.slice(at..(at + PART_BYTES).min(all.len()));
                if in_flight.len() == PARTS_IN_FLIGHT {
                    if let Some(Err(e)) = in_flight.next().await {
                        first = Some(e);
                        break;
                    }
                }
                in_flight.push(upload.put_part(PutPayload::from(part)));
            }
            while let Some(r) = in_flight.next().await {
                if let Err(e) = r {
                    first.get_or_insert(e);
                }
            }
            let mut completed = false;
            if first.is_none() {
                match upload.complete().await {
                    Ok(_) => return (None, None, true),
                    Err(e) => {
                        first = Some(e);
                        completed = true;
                    }
                }
            }
            // Keep the first error; the abort's own error is reported beside it.
            let abort = upload.abort().await.err();
            (first, abort, completed)
        });
        match outcome {
            (None, _, _) => Ok(()),
            (Some(e), abort, tried_complete) => {
                // A Complete retried after the server finished the first attempt: the object
                // is there, whole. Count it only when it is byte for byte ours.
                if tried_complete && self.holds(&path, &bytes) {
                    return Ok(());
                }
                let mut err = self.remote.error(&e, "uploading (multipart)", key);
                if let Some(a) = abort {
                    let a = self.remote.error(&a, "aborting the upload", key);
                    err = CloudError::Service {
                        message: format!("{err}; then {a}"),
                    };
                }
                if tried_complete {
                    err = CloudError::Service {
                        message: format!("{err} (the error answered the upload's Complete request, which may have been a retry)"),
                    };
                }
                Err(err)
            }
        }
    }

    /// Uploads `bytes` to `rel`: one PUT up to [`PART_BYTES`], else a multipart upload.
    fn put_bytes(&self, rel: &str, bytes: Bytes) -> Result<(), TargetError> {
        let key = self.key(rel);
        let located = |e: CloudError| located(self.remote.url().display_key(&key), e);
        if bytes.len() > PART_BYTES {
            return self.put_multipart(&key, bytes).map_err(located);
        }
        let store = Arc::clone(self.remote.store());
        let path = ObjectPath::from(key.as_str());
        let payload = PutPayload::from(bytes);
        self.remote
            .block_on(async move { store.put(&path, payload).await })
            .map(|_| ())
            .map_err(|e| located(self.remote.error(&e, "uploading", &key)))
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

    fn put(&self, rel: &str, bytes: &[u8]) -> Result<(), TargetError> {
        self.put_bytes(rel, Bytes::copy_from_slice(bytes))
    }

    fn put_owned(&self, rel: &str, bytes: Vec<u8>) -> Result<(), TargetError> {
        self.put_bytes(rel, Bytes::from(bytes))
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
