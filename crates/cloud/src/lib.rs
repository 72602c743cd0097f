//! Object storage for bsonflow: where inputs are read from and exports written to when they
//! are not on the local disk. Everything goes through Apache Arrow's `object_store`; this
//! crate writes no HTTP or signing code of its own.
//!
//! ```text
//! "s3://b/p" ──Url::parse──▶ Url ──Remote::connect(ConnectOptions, env)──▶ Remote (client + runtime)
//!   input:  Remote::probe / list ──▶ RangeReader (bounded ranged GETs)  ──▶ sources' Input
//!                                ──▶ RemoteStore (a prefix as a Store)   ──▶ sources' BsonSet
//!                                ──▶ Remote::download_prefix             ──▶ a data directory in scratch
//!   output: RemoteTarget::claim ──▶ export's Target (PUT / multipart, tidy, .complete create-only)
//! ```
//!
//! - [`Url`]: `s3://BUCKET/KEY`, `oss://BUCKET/KEY` (Alibaba OSS, virtual-hosted, SigV4 with
//!   the region ID) or one `http(s)://` object such as a presigned link; shown in messages
//!   without any query string.
//! - [`Remote`]: the client for one bucket, built from [`ConnectOptions`] (endpoint, region,
//!   addressing) and credentials from the environment; its requests run on a small tokio
//!   runtime of its own, and callers block on them from ordinary threads.
//! - [`RangeReader`]: reads one object front to back by ranged GETs of at most
//!   [`RANGE_BYTES`], [`RANGES_AHEAD`] in flight — never one long GET, whose whole-request
//!   timeout a slow consumer would run out.
//! - [`RemoteStore`]: a prefix (or one object) as the folder readers' `Store`.
//! - [`RemoteTarget`]: an export into a prefix, as the writer's `Target`.
//! - [`CloudError`]: messages a user can act on; no secret or URL signature is ever in one
//!   ([`Secrets::redact`]).

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod location;
mod remote;
mod target;

pub use error::{CloudError, Secrets};
pub use location::{
    oss_bucket_endpoint, oss_region, redact_url, ConnectOptions, CredentialSource, Environment,
    FixedHosts, ProcessEnv, Service, Url,
};
pub use object_store::ObjectMeta;
pub use remote::{RangeReader, Remote, RemoteStore, RANGES_AHEAD, RANGE_BYTES};
pub use target::{RemoteTarget, PARTS_IN_FLIGHT, PART_BYTES};
