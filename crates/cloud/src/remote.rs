//! One connection to object storage, and everything that reads through it: listings, the
//! bounded range prefetcher ([`RangeReader`]) and the folder readers' [`Store`] over a prefix
//! ([`RemoteStore`]).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bsonflow_model::Progress;
use bsonflow_sources::store::{Store, StoredFile};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::error::{describe, CloudError, Context, Secrets};
use crate::location::{
    build_store, ConnectOptions, CredentialSource, Environment, ProcessEnv, Service, Url,
};

/// Sizes of the ranged GETs of one object, in order: small first (telling an input's kind
/// needs its first bytes only), then [`RANGE_BYTES`] each.
const RAMP: [u64; 3] = [256 << 10, 1 << 20, 4 << 20];

/// The size of each ranged GET once a stream is under way: 16 MiB. With [`RANGES_AHEAD`]
/// of them in flight, a reader holds at most 48 MiB.
pub const RANGE_BYTES: u64 = 16 << 20;

/// Ranged GETs in flight ahead of the one being read.
pub const RANGES_AHEAD: usize = 2;

/// A client for one bucket (or one HTTP object), with the runtime its requests run on.
pub struct Remote {
    url: Url,
    store: Arc<dyn ObjectStore>,
    runtime: Arc<Runtime>,
    secrets: Secrets,
    credentials: CredentialSource,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Remote({})", self.url.display())
    }
}

impl Remote {
    /// A client for `url`, with credentials from the process environment.
    pub fn connect(url: &Url, options: &ConnectOptions) -> Result<Arc<Remote>, CloudError> {
        Self::connect_with_env(url, options, &ProcessEnv)
    }

    /// A client for `url`, with credentials from `env`.
    pub fn connect_with_env(
        url: &Url,
        options: &ConnectOptions,
        env: &dyn Environment,
    ) -> Result<Arc<Remote>, CloudError> {
        let mut secrets = Secrets::default();
        let (store, credentials) = build_store(url, options, env, &mut secrets)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bsonflow-io")
            .enable_all()
            .build()
            .map_err(|e| CloudError::Usage {
                message: format!("cannot start the I/O runtime: {e}"),
            })?;
        Ok(Arc::new(Remote {
            url: url.clone(),
            store,
            runtime: Arc::new(runtime),
            secrets,
            credentials,
        }))
    }

    /// The location this client was made for.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Redacts secrets and URL signatures from `text`.
    pub fn redact(&self, text: &str) -> String {
        self.secrets.redact(text)
    }

    pub(crate) fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Runs `f` to completion on the I/O runtime (called from ordinary threads only).
    pub(crate) fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    pub(crate) fn spawn<F>(&self, f: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.runtime.spawn(f)
    }

    /// A user's message for a failed request on `key`.
    pub(crate) fn error(&self, e: &object_store::Error, what: &str, key: &str) -> CloudError {
        describe(
            e,
            what,
            &self.url.display_key(key),
            &Context {
                bucket: &self.url.bucket,
                credentials: &self.credentials.described,
                secrets: &self.secrets,
            },
        )
    }

    /// Every object under `prefix` (the bucket's root when empty).
    pub fn list(&self, prefix: &ObjectPath) -> Result<Vec<ObjectMeta>, CloudError> {
        let prefix_opt = (!prefix.as_ref().is_empty()).then_some(prefix);
        self.block_on(self.store.list(prefix_opt).try_collect::<Vec<_>>())
            .map_err(|e| self.error(&e, "listing", prefix.as_ref()))
    }

    /// The size of the object at `path`, learnt from a first ranged GET (never a HEAD: a
    /// presigned GET URL refuses HEAD); `None` when there is no such object.
    pub fn probe(&self, path: &ObjectPath) -> Result<Option<u64>, CloudError> {
        let store = Arc::clone(&self.store);
        let p = path.clone();
        let result = self.block_on(async move {
            let options = object_store::GetOptions {
                range: Some((0..RAMP[0]).into()),
                ..Default::default()
            };
            store.get_opts(&p, options).await.map(|r| r.meta.size)
        });
        match result {
            Ok(size) => Ok(Some(size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            // A range of an empty object: 416 Range Not Satisfiable.
            Err(e) if is_unsatisfiable(&e) => Ok(Some(0)),
            Err(e) => Err(self.error(&e, "reading", path.as_ref())),
        }
    }

    /// A reader of the object at `path`, of `size` bytes, from its start.
    pub fn reader(self: &Arc<Self>, path: &ObjectPath, size: u64) -> RangeReader {
        RangeReader::new(Arc::clone(self), path.clone(), size, 0)
    }

    /// A reader of the object at `path`, of `size` bytes, from byte `offset`.
    pub fn reader_at(self: &Arc<Self>, path: &ObjectPath, size: u64, offset: u64) -> RangeReader {
        RangeReader::new(Arc::clone(self), path.clone(), size, offset)
    }

    /// Copies every object under `prefix` into the folder `dest` (created; must not exist
    /// or be empty), keeping their relative paths; refuses a key that would leave `dest`.
    pub fn download_prefix(
        self: &Arc<Self>,
        prefix: &ObjectPath,
        dest: &Path,
        progress: &Progress,
    ) -> Result<u64, CloudError> {
        let objects = self.list(prefix)?;
        progress.add_total(objects.iter().map(|o| o.size).sum());
        let mut files = 0;
        for meta in objects {
            let Some(rel) = relative(prefix, &meta.location) else {
                continue;
            };
            let key = meta.location.as_ref().to_string();
            let unsafe_part = rel
                .iter()
                .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\\'));
            if unsafe_part {
                return Err(CloudError::Service {
                    message: format!(
                        "{}: a key that cannot be a file name inside the scratch folder",
                        self.url.display_key(&key)
                    ),
                });
            }
            let path = rel.iter().fold(dest.to_path_buf(), |p, c| p.join(c));
            let io_err = |e: io::Error| CloudError::Service {
                message: format!("{}: {e}", path.display()),
            };
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io_err)?;
            }
            let mut file = std::fs::File::create(&path).map_err(io_err)?;
            let mut reader = self.reader(&meta.location, meta.size);
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = reader.read(&mut buf).map_err(|e| CloudError::Service {
                    message: self.redact(&e.to_string()),
                })?;
                if n == 0 {
                    break;
                }
                file.write_all(&buf[..n]).map_err(io_err)?;
                progress.add(n as u64);
            }
            file.flush().map_err(io_err)?;
            files += 1;
        }
        Ok(files)
    }
}

fn is_unsatisfiable(e: &object_store::Error) -> bool {
    let t = e.to_string();
    t.contains("416") || t.contains("InvalidRange")
}

/// The components of `key` below `prefix`.
pub(crate) fn relative(prefix: &ObjectPath, key: &ObjectPath) -> Option<Vec<String>> {
    let key = key.as_ref();
    let rest = match prefix.as_ref() {
        "" => key,
        p => key.strip_prefix(p)?.strip_prefix('/')?,
    };
    (!rest.is_empty()).then(|| rest.split('/').map(str::to_string).collect())
}

type Pending = JoinHandle<Result<Bytes, object_store::Error>>;

/// Reads one object front to back by ranged GETs: a few small ranges first, then
/// [`RANGE_BYTES`] each, with [`RANGES_AHEAD`] requested ahead of the reader. Each range is
/// its own request with its own timeout and retries, so a slow consumer never runs a long
/// GET out of time and a broken connection costs one range.
pub struct RangeReader {
    remote: Arc<Remote>,
    path: ObjectPath,
    size: u64,
    /// The next offset not yet requested.
    next: u64,
    /// How many ranges were requested so far (for the ramp).
    requested: usize,
    pending: VecDeque<(Range<u64>, Pending)>,
    current: Bytes,
    pos: usize,
}

impl RangeReader {
    fn new(remote: Arc<Remote>, path: ObjectPath, size: u64, offset: u64) -> RangeReader {
        let mut r = RangeReader {
            remote,
            path,
            size,
            next: offset.min(size),
            requested: 0,
            pending: VecDeque::new(),
            current: Bytes::new(),
            pos: 0,
        };
        r.request_one();
        r
    }

    fn request_one(&mut self) {
        if self.next >= self.size {
            return;
        }
        let len = RAMP.get(self.requested).copied().unwrap_or(RANGE_BYTES);
        let range = self.next..(self.next + len).min(self.size);
        self.next = range.end;
        self.requested += 1;
        let store = Arc::clone(self.remote.store());
        let path = self.path.clone();
        let r = range.clone();
        let handle = self
            .remote
            .spawn(async move { store.get_range(&path, r).await });
        self.pending.push_back((range, handle));
    }

    /// Takes the next range, waiting for it; `Ok(false)` at the end of the object.
    fn advance(&mut self) -> io::Result<bool> {
        // The range just read is not needed while the next one is awaited.
        self.current = Bytes::new();
        self.pos = 0;
        let Some((range, handle)) = self.pending.pop_front() else {
            return Ok(false);
        };
        while self.pending.len() < RANGES_AHEAD {
            let before = self.pending.len();
            self.request_one();
            if self.pending.len() == before {
                break;
            }
        }
        let bytes = self
            .remote
            .block_on(handle)
            .map_err(|e| io::Error::other(format!("the read task failed: {e}")))?
            .map_err(|e| {
                let what = format!("reading bytes {}..{}", range.start, range.end);
                io::Error::other(self.remote.error(&e, &what, self.path.as_ref()).to_string())
            })?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: asked for bytes {}..{} and got {} bytes (the object changed while it was read?)",
                    self.remote.url.display_key(self.path.as_ref()),
                    range.start,
                    range.end,
                    bytes.len()
                ),
            ));
        }
        self.current = bytes;
        self.pos = 0;
        Ok(true)
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if !self.advance()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for RangeReader {
    fn drop(&mut self) {
        for (_, h) in self.pending.drain(..) {
            h.abort();
        }
    }
}

/// The files under a prefix (or one object) as the folder readers see a [`Store`]: listed
/// by the service, read by [`RangeReader`]s, never mapped.
#[derive(Debug)]
pub struct RemoteStore {
    remote: Arc<Remote>,
    prefix: ObjectPath,
    root_name: String,
    /// The prefix's listing, taken once (a prefix store only).
    listed: Vec<ObjectMeta>,
    /// Address (the object's URL, as messages show it) → key and size.
    known: Mutex<HashMap<PathBuf, (ObjectPath, u64)>>,
}

impl RemoteStore {
    /// The objects under `prefix`, as `listed` by [`Remote::list`] (the caller has listed
    /// the prefix already to tell what it holds; it is not listed again).
    pub fn prefix(
        remote: Arc<Remote>,
        prefix: ObjectPath,
        root_name: String,
        listed: Vec<ObjectMeta>,
    ) -> RemoteStore {
        RemoteStore {
            remote,
            prefix,
            root_name,
            listed,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// A store of the one object at `key`, of `size` bytes; its address is returned.
    pub fn single(remote: Arc<Remote>, key: ObjectPath, size: u64) -> (RemoteStore, PathBuf) {
        let address = PathBuf::from(match remote.url.service {
            Service::Http => remote.url.display(),
            _ => remote.url.display_key(key.as_ref()),
        });
        let store = RemoteStore {
            remote,
            prefix: key.clone(),
            root_name: String::new(),
            listed: Vec::new(),
            known: Mutex::new(HashMap::from([(address.clone(), (key, size))])),
        };
        (store, address)
    }

    fn lookup(&self, address: &Path) -> io::Result<(ObjectPath, u64)> {
        self.known
            .lock()
            .expect("not poisoned")
            .get(address)
            .cloned()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{}: not in the listing", address.display()),
                )
            })
    }
}

impl Store for RemoteStore {
    fn root_name(&self) -> io::Result<String> {
        Ok(self.root_name.clone())
    }

    fn list(&self) -> io::Result<Vec<StoredFile>> {
        let mut known = self.known.lock().expect("not poisoned");
        let mut files = Vec::new();
        for meta in &self.listed {
            let Some(components) = relative(&self.prefix, &meta.location) else {
                continue;
            };
            let address = PathBuf::from(self.remote.url.display_key(meta.location.as_ref()));
            known.insert(address.clone(), (meta.location.clone(), meta.size));
            files.push(StoredFile {
                components,
                address,
                size: meta.size,
            });
        }
        files.sort_by(|a, b| a.components.cmp(&b.components));
        Ok(files)
    }

    fn size(&self, address: &Path) -> io::Result<u64> {
        Ok(self.lookup(address)?.1)
    }

    fn open(&self, address: &Path) -> io::Result<Box<dyn Read + Send>> {
        let (key, size) = self.lookup(address)?;
        Ok(Box::new(self.remote.reader(&key, size)))
    }

    fn open_at(&self, address: &Path, offset: u64) -> io::Result<Box<dyn Read + Send>> {
        let (key, size) = self.lookup(address)?;
        Ok(Box::new(self.remote.reader_at(&key, size, offset)))
    }

    fn map(&self, _address: &Path) -> Option<io::Result<memmap2::Mmap>> {
        None
    }
}
