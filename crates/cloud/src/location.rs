//! Where an input or an export lives: a local path, `s3://BUCKET/KEY`, `oss://BUCKET/KEY`
//! or one `http(s)://` object; and how the client for it is built (endpoint, region,
//! addressing style, credentials from the environment).

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::http::HttpBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, RetryConfig};

use crate::error::{CloudError, Secrets};

/// The storage service of a [`Url`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Amazon S3 or any S3-compatible server (`s3://`).
    S3,
    /// Alibaba Cloud OSS through its S3-compatible API (`oss://`).
    Oss,
    /// One object read over HTTP(S) by ranged GETs (`http://`, `https://`), such as a
    /// presigned download link.
    Http,
}

/// A location in object storage, as the user wrote it.
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    /// Which service.
    pub service: Service,
    /// The bucket (empty for [`Service::Http`]).
    pub bucket: String,
    /// The key or prefix inside the bucket, without a leading `/` (empty for the bucket's
    /// root and for [`Service::Http`]).
    pub key: String,
    /// Whether the user ended it with `/` (a prefix, not an object).
    pub trailing_slash: bool,
    /// The whole URL of a [`Service::Http`] object, query (signature) included.
    full: String,
}

impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the query string: it may hold a signature.
        write!(f, "Url({})", self.display())
    }
}

impl Url {
    /// `Some` when `text` is an object-storage URL (`s3://`, `oss://`, `http://`,
    /// `https://`), `None` for a local path; an error for a URL that names no bucket.
    pub fn parse(text: &str) -> Result<Option<Url>, CloudError> {
        let lower = text.to_ascii_lowercase();
        let (service, rest) = if lower.starts_with("s3://") {
            (Service::S3, &text[5..])
        } else if lower.starts_with("oss://") {
            (Service::Oss, &text[6..])
        } else if lower.starts_with("http://") || lower.starts_with("https://") {
            let parsed = url::Url::parse(text).map_err(|e| CloudError::Usage {
                message: format!("{}: not a valid URL: {e}", redact_url(text)),
            })?;
            let key = parsed
                .path_segments()
                .and_then(|mut s| s.next_back().map(str::to_string))
                .unwrap_or_default();
            return Ok(Some(Url {
                service: Service::Http,
                bucket: String::new(),
                key,
                trailing_slash: false,
                full: text.to_string(),
            }));
        } else {
            return Ok(None);
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(CloudError::Usage {
                message: format!(
                    "{text}: no bucket name (write {}://BUCKET/PREFIX)",
                    scheme(service)
                ),
            });
        }
        let trailing_slash = key.ends_with('/') || key.is_empty();
        Ok(Some(Url {
            service,
            bucket: bucket.to_string(),
            key: key.trim_matches('/').to_string(),
            trailing_slash,
            full: String::new(),
        }))
    }

    /// The URL for messages: `s3://bucket/key`, or an HTTP URL without its query string.
    pub fn display(&self) -> String {
        match self.service {
            Service::Http => redact_url(&self.full),
            s => match self.key.is_empty() {
                true => format!("{}://{}/", scheme(s), self.bucket),
                false => format!("{}://{}/{}", scheme(s), self.bucket, self.key),
            },
        }
    }

    /// The object or prefix inside the store (empty for [`Service::Http`]: the store's URL
    /// is the object's).
    pub fn path(&self) -> ObjectPath {
        match self.service {
            Service::Http => ObjectPath::default(),
            _ => ObjectPath::from(self.key.as_str()),
        }
    }

    /// The last component of the key (the object's or prefix's name); the bucket for the
    /// bucket's root.
    pub fn name(&self) -> String {
        match self.key.rsplit('/').next() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => self.bucket.clone(),
        }
    }

    /// The URL of `key` in the same bucket, for messages.
    pub fn display_key(&self, key: &str) -> String {
        match self.service {
            Service::Http => self.display(),
            s => format!("{}://{}/{key}", scheme(s), self.bucket),
        }
    }
}

fn scheme(s: Service) -> &'static str {
    match s {
        Service::S3 => "s3",
        Service::Oss => "oss",
        Service::Http => "https",
    }
}

/// An HTTP URL without its query string (which may carry a signature).
pub fn redact_url(text: &str) -> String {
    match text.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => text.to_string(),
    }
}

/// Host names answered from a fixed table, like curl's `--resolve`: requests for `HOST` go
/// to the address given. Names under `.localhost` are the loopback address (RFC 6761, as
/// curl and browsers have it; a virtual-hosted test server at `BUCKET.localhost:PORT`
/// works without DNS); other names are resolved by the system.
#[derive(Clone, Debug, Default)]
pub struct FixedHosts {
    table: Vec<(String, std::net::IpAddr)>,
}

impl FixedHosts {
    /// Parses `HOST=ADDRESS` (`b.s3.oss.test=127.0.0.1`).
    pub fn add(&mut self, spec: &str) -> Result<(), CloudError> {
        let bad = || CloudError::Usage {
            message: format!(
                "--resolve {spec}: write HOST=ADDRESS, e.g. bucket.s3.oss.test=127.0.0.1"
            ),
        };
        let (host, addr) = spec.split_once('=').ok_or_else(bad)?;
        let addr = addr.trim().parse().map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        self.table.push((host.trim().to_ascii_lowercase(), addr));
        Ok(())
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

impl object_store::client::DnsResolver for FixedHosts {
    fn resolve(&self, host: &str) -> object_store::client::DnsFuture {
        let host = host.to_ascii_lowercase();
        let fixed: Vec<std::net::IpAddr> = self
            .table
            .iter()
            .filter(|(h, _)| *h == host)
            .map(|(_, a)| *a)
            .collect();
        Box::pin(async move {
            if !fixed.is_empty() {
                return Ok(fixed);
            }
            if host == "localhost" || host.ends_with(".localhost") {
                return Ok(vec![std::net::Ipv4Addr::LOCALHOST.into()]);
            }
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|a| a.ip()).collect())
        })
    }
}

/// How to reach the service: what the user gave on the command line.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// `--endpoint URL`: an S3-compatible server (path-style unless `virtual_hosted`), or
    /// for `oss://` the service endpoint (the bucket is put in front of its host).
    pub endpoint: Option<String>,
    /// `--region`; else `AWS_REGION`/`AWS_DEFAULT_REGION` for `s3://`. Required for `oss://`.
    pub region: Option<String>,
    /// `--virtual-hosted`: address an `--endpoint` as `BUCKET.host` instead of `host/BUCKET`.
    pub virtual_hosted: bool,
    /// Resolves host names (default: [`FixedHosts`] with an empty table: `*.localhost` is
    /// the loopback address, other names go to the system's resolver). Tests point made-up
    /// bucket hosts such as `b.s3.oss.test` at 127.0.0.1 with it.
    pub resolver: Option<Arc<dyn object_store::client::DnsResolver>>,
}

/// A value of the environment: the process's by default, a map in tests.
pub trait Environment {
    /// The variable's value, when set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Environment for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// The OSS region ID: `oss-cn-hangzhou` and `cn-hangzhou` are the same.
pub fn oss_region(region: &str) -> &str {
    region.strip_prefix("oss-").unwrap_or(region)
}

/// The bucket endpoint of an OSS bucket: `https://BUCKET.s3.oss-REGION.aliyuncs.com`, or the
/// bucket put in front of the host of `endpoint`.
pub fn oss_bucket_endpoint(
    bucket: &str,
    region: &str,
    endpoint: Option<&str>,
) -> Result<String, CloudError> {
    let service = match endpoint {
        Some(e) => e.trim_end_matches('/').to_string(),
        None => format!("https://s3.oss-{}.aliyuncs.com", oss_region(region)),
    };
    bucket_in_host(bucket, &service)
}

/// `scheme://BUCKET.host[:port]` from `scheme://host[:port]`.
fn bucket_in_host(bucket: &str, endpoint: &str) -> Result<String, CloudError> {
    let (scheme, host) = endpoint
        .split_once("://")
        .ok_or_else(|| CloudError::Usage {
            message: format!("--endpoint {endpoint}: write it as http(s)://HOST[:PORT]"),
        })?;
    let host = host.trim_end_matches('/');
    if host.contains('/') {
        return Err(CloudError::Usage {
            message: format!("--endpoint {endpoint}: give the service's host only, without a path"),
        });
    }
    Ok(format!("{scheme}://{bucket}.{host}"))
}

/// Timeouts and retries of every client: each request (one range, one part) has its own
/// budget, so a slow reader never runs one long request out of time.
fn client_options(allow_http: bool, options: &ConnectOptions) -> ClientOptions {
    let mut o = ClientOptions::new()
        .with_timeout(Duration::from_secs(120))
        .with_connect_timeout(Duration::from_secs(10));
    let resolver = match &options.resolver {
        Some(r) => Arc::clone(r),
        None => Arc::new(FixedHosts::default()),
    };
    o = o.with_dns_resolver(resolver);
    // `allow_http` last, on the options themselves: `with_client_options` replaces them all.
    o.with_allow_http(allow_http)
}

fn retry_config() -> RetryConfig {
    RetryConfig {
        max_retries: 10,
        retry_timeout: Duration::from_secs(180),
        ..RetryConfig::default()
    }
}

/// What the client was built from, for messages: which variables held the credentials.
#[derive(Clone, Debug, Default)]
pub struct CredentialSource {
    /// E.g. "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET", or "instance or container
    /// credentials (no AWS_ACCESS_KEY_ID in the environment)".
    pub described: String,
}

/// Builds the client for `url`.
pub(crate) fn build_store(
    url: &Url,
    options: &ConnectOptions,
    env: &dyn Environment,
    secrets: &mut Secrets,
) -> Result<(Arc<dyn ObjectStore>, CredentialSource), CloudError> {
    let endpoint = options.endpoint.as_deref();
    let allow_http = endpoint.is_some_and(|e| e.to_ascii_lowercase().starts_with("http://"));
    if let Some(e) = endpoint {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            return Err(CloudError::Usage {
                message: format!("--endpoint {e}: write it as http(s)://HOST[:PORT]"),
            });
        }
    }
    match url.service {
        Service::Http => {
            let allow_http = url.full.to_ascii_lowercase().starts_with("http://");
            if let Some((_, query)) = url.full.split_once('?') {
                for pair in query.split('&') {
                    if let Some((_, value)) = pair.split_once('=') {
                        if value.len() >= 16 {
                            secrets.add(value);
                        }
                    }
                }
            }
            let builder = HttpBuilder::new()
                .with_url(url.full.clone())
                .with_retry(retry_config())
                .with_client_options(client_options(allow_http, options));
            let store = builder.build().map_err(|e| CloudError::Usage {
                message: format!("{}: {e}", url.display()),
            })?;
            Ok((
                Arc::new(store),
                CredentialSource {
                    described: "the URL's own signature, if any".into(),
                },
            ))
        }
        Service::S3 | Service::Oss => {
            let mut b = AmazonS3Builder::new()
                .with_bucket_name(&url.bucket)
                .with_conditional_put(S3ConditionalPut::ETagMatch)
                .with_retry(retry_config())
                .with_client_options(client_options(allow_http, options));
            let region;
            if url.service == Service::Oss {
                let r = options.region.clone().ok_or_else(|| CloudError::Usage {
                    message: format!(
                        "{}: oss:// needs --region (the bucket's region ID, e.g. cn-hangzhou)",
                        url.display()
                    ),
                })?;
                region = oss_region(&r).to_string();
                b = b
                    .with_endpoint(oss_bucket_endpoint(&url.bucket, &region, endpoint)?)
                    .with_virtual_hosted_style_request(true);
            } else {
                region = options
                    .region
                    .clone()
                    .or_else(|| env.var("AWS_REGION"))
                    .or_else(|| env.var("AWS_DEFAULT_REGION"))
                    .unwrap_or_else(|| "us-east-1".to_string());
                match (endpoint, options.virtual_hosted) {
                    (Some(e), true) => {
                        b = b
                            .with_endpoint(bucket_in_host(&url.bucket, e)?)
                            .with_virtual_hosted_style_request(true)
                    }
                    (Some(e), false) => b = b.with_endpoint(e.trim_end_matches('/')),
                    (None, _) => b = b.with_virtual_hosted_style_request(true),
                }
            }
            b = b.with_region(&region);
            let (b, source) = credentials(b, url.service, env, secrets);
            let store = b.build().map_err(|e| CloudError::Usage {
                message: format!("{}: {}", url.display(), secrets.redact(&e.to_string())),
            })?;
            Ok((Arc::new(store), source))
        }
    }
}

/// Static keys from the environment (`OSS_*` first for `oss://`, then `AWS_*`); without
/// keys, web identity, container (ECS/EKS) or instance (IMDSv2) credentials as the AWS SDKs
/// find them. Profiles in `~/.aws` are not read.
fn credentials(
    mut b: AmazonS3Builder,
    service: Service,
    env: &dyn Environment,
    secrets: &mut Secrets,
) -> (AmazonS3Builder, CredentialSource) {
    let mut sets = Vec::new();
    if service == Service::Oss {
        sets.push((
            "OSS_ACCESS_KEY_ID",
            "OSS_ACCESS_KEY_SECRET",
            "OSS_SESSION_TOKEN",
        ));
    }
    sets.push((
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
    ));
    for (id_var, secret_var, token_var) in sets {
        let (Some(id), Some(secret)) = (env.var(id_var), env.var(secret_var)) else {
            continue;
        };
        secrets.add(&secret);
        b = b.with_access_key_id(id).with_secret_access_key(secret);
        let mut described = format!("{id_var} and {secret_var}");
        if let Some(token) = env.var(token_var) {
            secrets.add(&token);
            b = b.with_token(token);
            described.push_str(&format!(" with {token_var}"));
        }
        return (b, CredentialSource { described });
    }
    for (var, key) in [
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            AmazonS3ConfigKey::WebIdentityTokenFile,
        ),
        ("AWS_ROLE_ARN", AmazonS3ConfigKey::RoleArn),
        ("AWS_ROLE_SESSION_NAME", AmazonS3ConfigKey::RoleSessionName),
        ("AWS_ENDPOINT_URL_STS", AmazonS3ConfigKey::StsEndpoint),
        (
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            AmazonS3ConfigKey::ContainerCredentialsRelativeUri,
        ),
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            AmazonS3ConfigKey::ContainerCredentialsFullUri,
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            AmazonS3ConfigKey::ContainerAuthorizationTokenFile,
        ),
    ] {
        if let Some(v) = env.var(var) {
            b = b.with_config(key, v);
        }
    }
    let described = match service {
        Service::Oss => "no OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment, so web-identity, container or instance credentials",
        _ => "no AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the environment, so web-identity, container or instance credentials",
    };
    (
        b,
        CredentialSource {
            described: described.into(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("s3://lake/exports/inst-1/").unwrap().unwrap();
        assert_eq!(
            (u.service, u.bucket.as_str(), u.key.as_str()),
            (Service::S3, "lake", "exports/inst-1")
        );
        assert!(u.trailing_slash);
        assert_eq!(u.display(), "s3://lake/exports/inst-1");
        assert_eq!(u.name(), "inst-1");
        let u = Url::parse("oss://b/k.tar.gz").unwrap().unwrap();
        assert_eq!(
            (u.service, u.key.as_str(), u.trailing_slash),
            (Service::Oss, "k.tar.gz", false)
        );
        let u = Url::parse("s3://b").unwrap().unwrap();
        assert_eq!((u.key.as_str(), u.name().as_str()), ("", "b"));
        assert!(Url::parse("./dump").unwrap().is_none());
        assert!(Url::parse("/abs/s3://x").unwrap().is_none());
        assert!(Url::parse("s3:///key").is_err());
        let u =
            Url::parse("https://h.example/a/backup.tar.gz?Expires=1&Signature=SECRETSECRETSECRET")
                .unwrap()
                .unwrap();
        assert_eq!(u.display(), "https://h.example/a/backup.tar.gz?…");
        assert_eq!(u.name(), "backup.tar.gz");
        assert!(!format!("{u:?}").contains("SECRET"));
    }

    #[test]
    fn fixed_hosts_and_localhost_names() {
        use object_store::client::DnsResolver;
        let mut hosts = FixedHosts::default();
        hosts.add("b.s3.oss.test=127.0.0.2").unwrap();
        assert!(hosts.add("nohost").is_err());
        assert!(hosts.add("h=not-an-ip").is_err());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let ip = |h: &str| rt.block_on(hosts.resolve(h)).unwrap();
        assert_eq!(
            ip("B.s3.oss.test"),
            vec!["127.0.0.2".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(
            ip("ossb.localhost"),
            vec!["127.0.0.1".parse::<std::net::IpAddr>().unwrap()]
        );
    }

    #[test]
    fn oss_mapping() {
        assert_eq!(
            oss_bucket_endpoint("b", "cn-hangzhou", None).unwrap(),
            "https://b.s3.oss-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            oss_bucket_endpoint("b", oss_region("oss-cn-hangzhou"), None).unwrap(),
            "https://b.s3.oss-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(
            oss_bucket_endpoint(
                "b",
                "cn-hangzhou",
                Some("https://s3.oss-cn-hangzhou-internal.aliyuncs.com/")
            )
            .unwrap(),
            "https://b.s3.oss-cn-hangzhou-internal.aliyuncs.com"
        );
        assert_eq!(
            oss_bucket_endpoint("b", "x", Some("http://s3.oss.test:9000")).unwrap(),
            "http://b.s3.oss.test:9000"
        );
        assert!(oss_bucket_endpoint("b", "x", Some("s3.oss.test")).is_err());
    }
}
