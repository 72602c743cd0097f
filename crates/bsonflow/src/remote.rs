//! Inputs and outputs in object storage: which reader an `s3://`, `oss://` or `https://`
//! location gets, told by listing and by its first bytes as on disk; and the export target
//! for an `s3://` or `oss://` `--out`. The reading and writing itself is `bsonflow-cloud`'s.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Result};
use bsonflow_cloud::{ConnectOptions, FixedHosts, Remote, RemoteStore, RemoteTarget, Service, Url};
use bsonflow_export::Target;
use bsonflow_model::Progress;
use bsonflow_sources::detect::{self, InputKind};
use bsonflow_sources::folder::{self, BsonSet};
use bsonflow_sources::input::Input;
use bsonflow_sources::unpack::{self, UnpackOptions};
use bsonflow_sources::Store;
use bsonflow_wiredtiger::DataDir;

use crate::cli::{ConvertArgs, StorageArgs};
use crate::convert::{single_file_namespace, Opened, Prepared};
use crate::physical::{self, Scratch};
use crate::progress::Bar;

/// The object-storage URL `path` spells, if it spells one.
pub fn url_of(path: &Path) -> Result<Option<Url>> {
    match path.to_str() {
        Some(text) => Ok(Url::parse(text)?),
        None => Ok(None),
    }
}

/// The client settings from the command line.
pub fn connect_options(args: &StorageArgs) -> Result<ConnectOptions> {
    let mut hosts = FixedHosts::default();
    for spec in &args.resolve {
        hosts.add(spec)?;
    }
    Ok(ConnectOptions {
        endpoint: args.endpoint.clone(),
        region: args.region.clone(),
        virtual_hosted: args.virtual_hosted,
        resolver: (!hosts.is_empty()).then(|| Arc::new(hosts) as _),
    })
}

/// Claims `url` as the export's target.
pub fn claim_output(url: &Url, args: &StorageArgs) -> Result<(Arc<dyn Target>, bool)> {
    if url.service == Service::Http {
        bail!(
            "{}: an export is written to s3://BUCKET/PREFIX or oss://BUCKET/PREFIX, not to an http(s) URL",
            url.display()
        );
    }
    let remote = Remote::connect(url, &connect_options(args)?)?;
    let (target, restarted) = RemoteTarget::claim(remote)?;
    Ok((Arc::new(target), restarted))
}

/// What the input at `url` is and its reader: a prefix is listed (a BSON set, or a data
/// directory copied into the scratch folder); an object is told by its first bytes and read
/// by ranged GETs (a physical backup is unpacked into the scratch folder as it streams).
pub fn open_input(
    url: &Url,
    args: &ConvertArgs,
    threads: usize,
    unpack_physical: bool,
) -> Result<(InputKind, Prepared)> {
    let remote = Remote::connect(url, &connect_options(&args.storage)?)?;
    let key = url.path();
    // A prefix when anything is listed under it (a key ending in `/` always is one); else
    // one object, whose size the first ranged GET tells.
    if url.service != Service::Http {
        let listed = remote.list(&key)?;
        if !listed.is_empty() || url.trailing_slash {
            return open_prefix(remote, url, listed, args, unpack_physical);
        }
    }
    let Some(size) = remote.probe(&key)? else {
        bail!(
            "{}: nothing found there (no object by that name and no object under it as a prefix)",
            url.display()
        );
    };
    let (store, address) = RemoteStore::single(Arc::clone(&remote), key.clone(), size);
    let store: Arc<dyn Store> = Arc::new(store);
    let open = || store.open(&address);
    let kind = match detect::detect_stream(&address, &open) {
        Err(detect::DetectError::Unknown { .. }) if args.ns.is_some() || args.db.is_some() => {
            InputKind::BsonFile(bsonflow_sources::layers::compression::Compression::None)
        }
        other => other?,
    };
    let label = url.display();
    let input = || Input::from_reader(remote.reader(&key, size), label.clone(), Some(size));
    let opened = match &kind {
        InputKind::BsonFile(_) => {
            let ns = single_file_namespace(
                Path::new(&url.name()),
                args.ns.as_deref(),
                args.db.as_deref(),
            )?;
            Opened::Set(BsonSet::single_stored(Arc::clone(&store), &address, ns)?)
        }
        InputKind::MongodumpArchive(_) => Opened::Archive(input()),
        InputKind::BsonTar(_) => Opened::Tar(input()),
        InputKind::PhysicalTar(_) | InputKind::Xbstream(_) | InputKind::Qpress
            if !unpack_physical =>
        {
            Opened::Unopened
        }
        InputKind::PhysicalTar(_) | InputKind::Xbstream(_) | InputKind::Qpress => {
            let s = scratch(args);
            let progress = Arc::new(Progress::new());
            progress.add_total(size);
            let bar = Bar::start("unpacking", Arc::clone(&progress), args.quiet);
            let options = UnpackOptions {
                threads,
                ..UnpackOptions::default()
            };
            let report = unpack::unpack(
                remote.reader(&key, size),
                &label,
                &s.path,
                &options,
                &progress,
            )
            .map_err(|e| anyhow::anyhow!("{}", remote.redact(&e.to_string())))?;
            drop(bar);
            let unpacked = physical::describe_unpack(&report, &s.path, args.keep_scratch);
            let dir = DataDir::open(&physical::data_dir_root(&s.path))?;
            return Ok((
                kind,
                Prepared {
                    opened: Opened::DataDir(dir),
                    scratch: Some(s),
                    unpacked: Some(unpacked),
                },
            ));
        }
        InputKind::BsonFolder
        | InputKind::DataDirectory
        | InputKind::UnsupportedDataDirectory(_) => {
            bail!("{label}: an object cannot be a folder")
        }
    };
    Ok((
        kind,
        Prepared {
            opened,
            scratch: None,
            unpacked: None,
        },
    ))
}

/// A prefix: a BSON set read in place, or a data directory copied into scratch.
fn open_prefix(
    remote: Arc<Remote>,
    url: &Url,
    listed: Vec<bsonflow_cloud::ObjectMeta>,
    args: &ConvertArgs,
    unpack_physical: bool,
) -> Result<(InputKind, Prepared)> {
    let key = url.path();
    if listed.is_empty() {
        bail!(
            "{}: nothing found there (no object by that name and no object under it as a prefix)",
            url.display()
        );
    }
    let base = match url.key.as_str() {
        "" => String::new(),
        k => format!("{k}/"),
    };
    let names: std::collections::BTreeSet<String> = listed
        .iter()
        .filter_map(|m| {
            m.location
                .as_ref()
                .strip_prefix(base.as_str())
                .map(str::to_string)
        })
        .collect();
    let kind = detect::detect_listing(&|rel| names.contains(rel));
    let opened = match &kind {
        InputKind::BsonFolder => {
            let store = RemoteStore::prefix(Arc::clone(&remote), key, url.name(), listed);
            Opened::Set(folder::scan_store(
                Arc::new(store),
                Path::new(&url.display()),
            )?)
        }
        InputKind::DataDirectory if !unpack_physical => Opened::Unopened,
        InputKind::DataDirectory => {
            let s = scratch(args);
            let progress = Arc::new(Progress::new());
            let bar = Bar::start("downloading", Arc::clone(&progress), args.quiet);
            let files = remote.download_prefix(&key, &s.path, &progress)?;
            drop(bar);
            let note = format!(
                "copied {files} files of {} into {}{}",
                url.display(),
                s.path.display(),
                if args.keep_scratch {
                    ""
                } else {
                    " (removed afterwards)"
                }
            );
            let dir = DataDir::open(&s.path)?;
            return Ok((
                kind,
                Prepared {
                    opened: Opened::DataDir(dir),
                    scratch: Some(s),
                    unpacked: Some(note),
                },
            ));
        }
        InputKind::UnsupportedDataDirectory(why) => bail!("{}: {why}", url.display()),
        _ => unreachable!("a listing tells folders only"),
    };
    Ok((
        kind,
        Prepared {
            opened,
            scratch: None,
            unpacked: None,
        },
    ))
}

/// The scratch folder for an input in object storage: `--scratch`, else a fresh folder next
/// to a local `--out`, else in the system's temporary folder.
fn scratch(args: &ConvertArgs) -> Scratch {
    let beside = match url_of(&args.out) {
        Ok(None) => args.out.clone(),
        _ => std::env::temp_dir().join("bsonflow-export"),
    };
    Scratch::new(
        args.scratch.as_deref(),
        &beside,
        args.keep_scratch,
        args.scratch_tag.as_deref(),
    )
}
