//! A real S3 server for tests: `s3s-fs` (pinned to 0.14.1, installed by `.ci/run` into its
//! cache folder), one process per test on a free 127.0.0.1 port, killed when dropped.
//!
//! Objects are plain files under `root()/<bucket>/<key>`, so a test puts an input in place
//! by copying a file and reads an export back from the folder. The server logs every
//! request (`RUST_LOG=s3s=debug`); [`S3Server::requests`] parses that log.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `s3s-fs` binary: `$BSONFLOW_S3S_FS`, else `bin/s3s-fs` in `.ci/run`'s cache folder
/// (`$BSONFLOW_CI_CACHE`, default `~/.cache/bsonflow-ci`), else on `PATH`. `None` (with the
/// reason printed, or a panic under `BSONFLOW_REQUIRE_SHARED=1`) when there is none.
pub fn s3s_fs() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BSONFLOW_S3S_FS") {
        return Some(PathBuf::from(p));
    }
    let cache = std::env::var_os("BSONFLOW_CI_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/bsonflow-ci")));
    if let Some(c) = cache {
        let p = c.join("bin/s3s-fs");
        if p.is_file() {
            return Some(p);
        }
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("s3s-fs"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        crate::skip("s3s-fs is not installed (run .ci/run, or: cargo install s3s-fs --version 0.14.1 --features binary --locked --root ~/.cache/bsonflow-ci)")
    })
}

/// One request as the server logged it.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `PUT`, …
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// The `host` header, when logged.
    pub host: Option<String>,
    /// The `range` header.
    pub range: Option<(u64, u64)>,
    /// Whether `if-none-match: *` was sent.
    pub if_none_match: bool,
    /// The logged line, whole.
    pub line: String,
}

/// A running `s3s-fs`.
pub struct S3Server {
    binary: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// The port it listens on (kept across restarts).
    pub port: u16,
    /// The access key ID.
    pub access_key: String,
    /// The secret access key.
    pub secret_key: String,
    domain: Option<String>,
    logs: usize,
}

impl S3Server {
    /// Starts a server with fresh random keys and an empty root; `None` when s3s-fs is not
    /// installed (see [`s3s_fs`]).
    pub fn start() -> Option<S3Server> {
        Self::start_with_domain(None)
    }

    /// Starts a server that also answers virtual-hosted requests for `BUCKET.<domain>:PORT`.
    pub fn start_with_domain(domain: Option<&str>) -> Option<S3Server> {
        let binary = s3s_fs()?;
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("root")).expect("root");
        let nonce = format!(
            "{:x}{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let mut server = S3Server {
            binary,
            dir,
            child: None,
            port: free_port(),
            access_key: format!("AKID{}", &nonce[..8.min(nonce.len())]),
            secret_key: format!("secret{nonce}"),
            domain: domain.map(str::to_string),
            logs: 0,
        };
        server.launch();
        Some(server)
    }

    fn launch(&mut self) {
        self.logs += 1;
        let log = self.dir.path().join(format!("log.{}", self.logs));
        let mut cmd = Command::new(&self.binary);
        cmd.env("RUST_LOG", "info,s3s::service=debug,s3s::ops=debug")
            .env("NO_COLOR", "1")
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--access-key",
                &self.access_key,
                "--secret-key",
                &self.secret_key,
            ]);
        if let Some(d) = &self.domain {
            cmd.args(["--domain", &format!("{d}:{}", self.port)]);
        }
        cmd.arg(self.root())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(Stdio::null());
        self.child = Some(cmd.spawn().expect("start s3s-fs"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("server is running at") {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "s3s-fs did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// The folder that holds the buckets.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// Creates `bucket` (at least 3 characters) and returns its folder.
    pub fn bucket(&self, bucket: &str) -> PathBuf {
        let p = self.root().join(bucket);
        std::fs::create_dir_all(&p).expect("bucket");
        p
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The server's process ID.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILLs the server.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port and root.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Multipart uploads the server holds open (files `.upload-*.json` in its root).
    pub fn open_uploads(&self) -> Vec<String> {
        std::fs::read_dir(self.root())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with(".upload-"))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every request logged so far (all runs of the server), in order.
    pub fn requests(&self) -> Vec<Request> {
        let mut out = Vec::new();
        for i in 1..=self.logs {
            let log = self.dir.path().join(format!("log.{i}"));
            let Ok(f) = std::fs::File::open(&log) else {
                continue;
            };
            for line in BufReader::new(f).lines().map_while(Result::ok) {
                if let Some(r) = parse_request(&line) {
                    out.push(r);
                }
            }
        }
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `… s3s::service: req: Request { method: GET, uri: /b/k, version: HTTP/1.1, headers: {"range": "bytes=0-9", …} …`
fn parse_request(line: &str) -> Option<Request> {
    let rest = &line[line.find("req: Request { method: ")? + 23..];
    let method = rest.split(',').next()?.trim().to_string();
    let uri = rest
        .split("uri: ")
        .nth(1)?
        .split(',')
        .next()?
        .trim()
        .to_string();
    let header = |name: &str| -> Option<String> {
        let key = format!("\"{name}\": \"");
        let start = line.find(&key)? + key.len();
        let end = line[start..].find('"')? + start;
        Some(line[start..end].to_string())
    };
    let range = header("range").and_then(|r| {
        let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    });
    Some(Request {
        method,
        uri,
        host: header("host"),
        range,
        if_none_match: header("if-none-match").is_some_and(|v| v == "*"),
        line: line.to_string(),
    })
}

/// Files under `dir` by relative path (`/`-separated), skipping nothing.
pub fn objects_under(dir: &Path) -> Vec<String> {
    crate::files_under(dir).into_keys().collect()
}
