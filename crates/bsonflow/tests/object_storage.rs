//! End to end against a real S3 server (`s3s-fs`, one per test): every input kind read from
//! it, exports written to it, presigned URLs, `oss://`, wrong keys, damaged inputs, a read
//! that fails once and a server killed mid-upload. The export must equal the disk export:
//! same names, the same bytes.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bsonflow_testkit::s3::S3Server;
use common::*;

/// Runs the binary with only the given storage variables set (none from the caller's
/// environment leak in).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = bsonflow_without_credentials();
    cmd.args(args).arg("--quiet").envs(env.iter().copied());
    cmd.output().expect("bsonflow runs")
}

fn keys(s: &S3Server) -> [(&'static str, String); 2] {
    [
        ("AWS_ACCESS_KEY_ID", s.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", s.secret_key.clone()),
    ]
}

fn run_s3(s: &S3Server, args: &[&str]) -> Output {
    let k = keys(s);
    let env: Vec<(&str, &str)> = k.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let endpoint = s.endpoint();
    let mut all = args.to_vec();
    all.extend(["--endpoint", endpoint.as_str()]);
    run(&all, &env)
}

fn disk_export(input: &Path, extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["convert", input.to_str().unwrap(), "--out"];
    let o = out.path().join("x");
    args.push(o.to_str().unwrap());
    args.extend_from_slice(extra);
    assert_status(&run(&args, &[]), 0);
    out
}

/// Asserts that `got` holds exactly the files of `want` (`.complete` aside) with the same
/// bytes, and a `.complete` whose `totalFiles` counts the data files.
fn assert_same_export(got: &Path, want: &Path, what: &str) {
    let g = tree(got);
    let w = tree(want);
    assert_eq!(
        g.keys().collect::<Vec<_>>(),
        w.keys().collect::<Vec<_>>(),
        "{what}: file names"
    );
    for (p, bytes) in &w {
        assert!(g[p] == *bytes, "{what}: {} differs", p.display());
    }
    let complete: serde_json::Value =
        serde_json::from_slice(&std::fs::read(got.join(".complete")).expect(".complete")).unwrap();
    let data_files = w
        .keys()
        .filter(|p| p.to_string_lossy().ends_with(".json.gz"))
        .count();
    assert_eq!(
        complete["totalFiles"], data_files as u64,
        "{what}: totalFiles"
    );
}

fn sample() -> PathBuf {
    bsonflow_testkit::workspace_root().join("testdata/sample-dump")
}

/// A BSON file of `count` documents with `size` random (incompressible) bytes each, from
/// pymongo's encoder; with `corrupt_last`, the last document's terminating byte is damaged.
fn random_blobs(
    dir: &Path,
    name: &str,
    count: usize,
    size: usize,
    corrupt_last: bool,
) -> Option<PathBuf> {
    let py = python(&["bson"])?;
    let path = dir.join(name);
    let script = r#"
import os, sys, bson
path, count, size, corrupt = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
rnd = __import__("random").Random(42)
with open(path, "wb") as f:
    for i in range(count):
        doc = bson.encode({"_id": i, "blob": bson.Binary(rnd.randbytes(size))})
        if corrupt and i == count - 1:
            doc = doc[:-1] + b"\x07"
        f.write(doc)
"#;
    run_python(
        &py,
        script,
        &[
            path.to_str().unwrap(),
            &count.to_string(),
            &size.to_string(),
            if corrupt_last { "1" } else { "0" },
        ],
    );
    Some(path)
}

#[test]
fn every_input_kind_read_from_s3_gives_the_disk_export() {
    let Some(s) = S3Server::start() else { return };
    let bucket = s.bucket("backups");
    let parent = sample().parent().unwrap().to_path_buf();
    let mut inputs: Vec<(String, PathBuf, Vec<&str>)> = Vec::new();
    // A mongodump folder as a prefix, and one database folder without the trailing slash.
    copy_dir(&sample(), &bucket.join("dumps/sample-dump"));
    inputs.push(("dumps/sample-dump/".into(), sample(), vec![]));
    inputs.push((
        "dumps/sample-dump/shop".into(),
        sample().join("shop"),
        vec![],
    ));
    // One .bson.
    let orders = sample().join("shop/orders.bson");
    std::fs::copy(&orders, bucket.join("orders.bson")).unwrap();
    inputs.push(("orders.bson".into(), orders, vec!["--db", "shop"]));
    // GNU tar: .tar.gz and .tar.zst.
    let work = tempfile::tempdir().unwrap();
    for (name, flags) in [
        ("s.tar.gz", vec!["-czf"]),
        ("s.tar.zst", vec!["--zstd", "-cf"]),
    ] {
        let file = work.path().join(name);
        let mut args = flags;
        args.extend([file.to_str().unwrap(), "sample-dump"]);
        if gnu_tar(&args, &parent) {
            std::fs::copy(&file, bucket.join(name)).unwrap();
            inputs.push((name.into(), file, vec![]));
        } else {
            bsonflow_testkit::skip::<()>(&format!("GNU tar cannot write {name}"));
        }
    }
    // A mongodump archive (mongo-tools' own fixture).
    if let Some(ar) = shared("testdata/mongo-tools/dump-w-oplog.archive") {
        std::fs::copy(&ar, bucket.join("dump.archive")).unwrap();
        inputs.push(("dump.archive".into(), ar, vec![]));
    }
    // Physical backups of a real data directory: _qp.xb, tar.gz, and the directory itself.
    if let (Some(dbpath), Some(py)) = (
        shared("testdata/real-dbpaths/mongo42-products/dbpath"),
        python(&["quicklz"]),
    ) {
        let pack = bsonflow_testkit::workspace_root().join("testdata/physical/pack.py");
        let pack = std::fs::read_to_string(pack).unwrap();
        let xb = work.path().join("p_qp.xb");
        let tgz = work.path().join("p.tar.gz");
        run_python(
            &py,
            &pack,
            &["qpxb", dbpath.to_str().unwrap(), xb.to_str().unwrap(), "3"],
        );
        run_python(
            &py,
            &pack,
            &["targz", dbpath.to_str().unwrap(), tgz.to_str().unwrap()],
        );
        std::fs::copy(&xb, bucket.join("p_qp.xb")).unwrap();
        std::fs::copy(&tgz, bucket.join("p.tar.gz")).unwrap();
        copy_dir(&dbpath, &bucket.join("dbpath"));
        inputs.push(("p_qp.xb".into(), xb, vec![]));
        inputs.push(("p.tar.gz".into(), tgz, vec![]));
        inputs.push(("dbpath/".into(), dbpath, vec![]));
    }
    assert!(
        inputs.len() >= 5,
        "too few inputs were made: {}",
        inputs.len()
    );
    for (key, local, extra) in &inputs {
        let want = disk_export(local, extra);
        let out = tempfile::tempdir().unwrap();
        let url = format!("s3://backups/{key}");
        let o = out.path().join("x");
        let mut args = vec!["convert", url.as_str(), "--out", o.to_str().unwrap()];
        args.extend_from_slice(extra);
        let r = run_s3(&s, &args);
        assert_status(&r, 0);
        assert_same_export(&o, &want.path().join("x"), key);
    }
    // Never a HEAD, never one GET of more than 64 MiB.
    for r in s.requests() {
        assert_ne!(r.method, "HEAD", "{}", r.line);
        if let Some((a, b)) = r.range {
            assert!(b - a < 64 << 20, "{}", r.line);
        }
    }
}

#[test]
fn exports_to_s3_equal_the_disk_export_and_replace_an_earlier_longer_one() {
    let Some(s) = S3Server::start() else { return };
    let work = tempfile::tempdir().unwrap();
    let dump = work.path().join("dump");
    copy_dir(&sample(), &dump);
    // 20 MiB of incompressible documents: one chunk of 64 MiB goes up in 3 parts.
    let Some(_) = random_blobs(&dump.join("shop"), "blobs.bson", 80, 256 << 10, false) else {
        return;
    };
    let lake = s.bucket("lake");
    // An earlier, longer export under the same prefix: many small chunks and a `.complete`.
    let r = run_s3(
        &s,
        &[
            "convert",
            dump.to_str().unwrap(),
            "--out",
            "s3://lake/exports/inst-1/",
            "--chunk-bytes",
            "2M",
        ],
    );
    assert_status(&r, 0);
    let earlier = objects(&lake.join("exports/inst-1"));
    assert!(
        earlier
            .iter()
            .any(|k| k.ends_with("blobs/bsonflow-shard-0.5.json.gz")),
        "{earlier:?}"
    );
    let before = s.requests().len();

    let r = run_s3(
        &s,
        &[
            "convert",
            dump.to_str().unwrap(),
            "--out",
            "s3://lake/exports/inst-1/",
            "--chunk-bytes",
            "64M",
        ],
    );
    assert_status(&r, 0);
    let want = disk_export(&dump, &["--chunk-bytes", "64M"]);
    let got = lake.join("exports/inst-1");
    assert_same_export(
        &got,
        &want.path().join("x"),
        "disk -> s3 over an earlier export",
    );
    assert!(!got.join("shop/blobs/bsonflow-shard-0.1.json.gz").exists());

    // From the server's log of the second run.
    let requests = &s.requests()[before..];
    let complete: Vec<_> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.method == "PUT" && r.uri.ends_with("/.complete"))
        .collect();
    assert_eq!(complete.len(), 1, "one PUT of .complete");
    let (at, put) = complete[0];
    assert!(
        put.if_none_match,
        "If-None-Match: * on .complete: {}",
        put.line
    );
    assert!(
        requests[at + 1..].iter().all(|r| r.method == "GET"),
        "nothing is written after .complete"
    );
    let parts = requests
        .iter()
        .filter(|r| {
            r.method == "PUT"
                && r.uri.contains("blobs/bsonflow-shard-0.0.json.gz?")
                && r.uri.contains("partNumber=")
        })
        .count();
    assert!(parts >= 2, "the 20 MiB chunk went up in {parts} parts");
    assert!(s.open_uploads().is_empty(), "{:?}", s.open_uploads());
    assert_complete_is_newest(&got);

    // s3 -> s3 gives the same export.
    copy_dir(&dump, &s.bucket("backups").join("dump"));
    let r = run_s3(
        &s,
        &[
            "convert",
            "s3://backups/dump/",
            "--out",
            "s3://lake/y",
            "--chunk-bytes",
            "64M",
        ],
    );
    assert_status(&r, 0);
    assert_same_export(&lake.join("y"), &want.path().join("x"), "s3 -> s3");
    assert!(s.open_uploads().is_empty());
}

fn objects(dir: &Path) -> Vec<String> {
    bsonflow_testkit::s3::objects_under(dir)
}

/// `.complete` is at least as new as every other object of the export.
fn assert_complete_is_newest(dir: &Path) {
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let complete = mtime(&dir.join(".complete"));
    for rel in objects(dir) {
        assert!(
            mtime(&dir.join(&rel)) <= complete,
            "{rel} is newer than .complete"
        );
    }
}

/// A presigned GET URL of `key`, made by object_store's own signer.
fn presign(s: &S3Server, bucket: &str, key: &str) -> String {
    use object_store::signer::Signer;
    let store = object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_endpoint(s.endpoint())
        .with_access_key_id(&s.access_key)
        .with_secret_access_key(&s.secret_key)
        .with_allow_http(true)
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(store.signed_url(
        http::Method::GET,
        &object_store::path::Path::from(key),
        Duration::from_secs(600),
    ))
    .unwrap()
    .to_string()
}

#[test]
fn a_presigned_url_is_read_by_ranged_gets_without_a_head_and_never_shown() {
    let Some(s) = S3Server::start() else { return };
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("backup.tar.gz");
    let parent = sample().parent().unwrap().to_path_buf();
    if !gnu_tar(&["-czf", file.to_str().unwrap(), "sample-dump"], &parent) {
        bsonflow_testkit::skip::<()>("GNU tar cannot write .tar.gz");
        return;
    }
    std::fs::copy(&file, s.bucket("backups").join("hins1_backup.tar.gz")).unwrap();
    let url = presign(&s, "backups", "hins1_backup.tar.gz");
    let signature = url
        .split("X-Amz-Signature=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(signature.len() >= 32, "{url}");
    let want = disk_export(&file, &[]);
    let out = work.path().join("out");
    // No credentials at all: the URL carries its own.
    let r = run(&["convert", &url, "--out", out.to_str().unwrap()], &[]);
    assert_status(&r, 0);
    assert_same_export(&out, &want.path().join("x"), "presigned URL");
    let complete = std::fs::read_to_string(out.join(".complete")).unwrap();
    assert!(
        complete.contains("\"clusterName\":\"hins1_backup\""),
        "{complete}"
    );
    for text in [stdout(&r), stderr(&r), complete] {
        assert!(!text.contains(signature), "the signature was shown: {text}");
    }
    let requests = s.requests();
    assert!(requests.iter().all(|r| r.method == "GET"), "GETs only");
    assert!(
        requests.iter().all(|r| r.range.is_some()),
        "ranged GETs only"
    );

    // A damaged signature: refused, and the message shows no query string.
    let bad = url.replace(signature, &"0".repeat(signature.len()));
    let r = run(
        &[
            "convert",
            &bad,
            "--out",
            work.path().join("bad").to_str().unwrap(),
        ],
        &[],
    );
    assert_status(&r, 1);
    assert!(
        stderr(&r).contains("SignatureDoesNotMatch"),
        "{}",
        stderr(&r)
    );
    assert!(!stderr(&r).contains("X-Amz-Signature"), "{}", stderr(&r));
}

#[test]
fn oss_urls_are_virtual_hosted_and_take_the_oss_keys() {
    let Some(s) = S3Server::start_with_domain(Some("s3.oss.test")) else {
        return;
    };
    let bucket = s.bucket("ossb");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("d.tar.gz");
    let parent = sample().parent().unwrap().to_path_buf();
    if !gnu_tar(&["-czf", file.to_str().unwrap(), "sample-dump"], &parent) {
        bsonflow_testkit::skip::<()>("GNU tar cannot write .tar.gz");
        return;
    }
    std::fs::copy(&file, bucket.join("hins1_data.tar.gz")).unwrap();
    let endpoint = format!("http://s3.oss.test:{}", s.port);
    let args = [
        "convert",
        "oss://ossb/hins1_data.tar.gz",
        "--out",
        "oss://ossb/exports/hins1",
        "--region",
        "oss-cn-hangzhou",
        "--endpoint",
        &endpoint,
        "--resolve",
        "ossb.s3.oss.test=127.0.0.1",
    ];
    // OSS_* keys only.
    let env = [
        ("OSS_ACCESS_KEY_ID", s.access_key.as_str()),
        ("OSS_ACCESS_KEY_SECRET", s.secret_key.as_str()),
    ];
    let r = run(&args, &env);
    assert_status(&r, 0);
    let want = disk_export(&file, &[]);
    assert_same_export(
        &bucket.join("exports/hins1"),
        &want.path().join("x"),
        "oss://",
    );
    let host = format!("ossb.s3.oss.test:{}", s.port);
    let requests = s.requests();
    assert!(!requests.is_empty());
    for r in &requests {
        assert_eq!(
            r.host.as_deref(),
            Some(host.as_str()),
            "virtual-hosted: {}",
            r.line
        );
        assert!(!r.uri.starts_with("/ossb/"), "path-style: {}", r.line);
        assert!(
            r.line.contains("/cn-hangzhou/s3/aws4_request"),
            "signed for the region ID: {}",
            r.line
        );
    }
    // Without --region: told what to add.
    let r = run(
        &args[..4]
            .iter()
            .chain(&args[6..])
            .copied()
            .collect::<Vec<_>>(),
        &env,
    );
    assert_status(&r, 1);
    assert!(stderr(&r).contains("--region"), "{}", stderr(&r));
}

#[test]
fn a_wrong_secret_fails_fast_names_the_credentials_and_writes_nothing() {
    let Some(s) = S3Server::start() else { return };
    std::fs::copy(
        sample().join("shop/orders.bson"),
        s.bucket("backups").join("orders.bson"),
    )
    .unwrap();
    let lake = s.bucket("lake");
    let wrong = "wRoNgSeCrEtThAtMuStNoTbEsHoWn";
    let endpoint = s.endpoint();
    let env = [
        ("AWS_ACCESS_KEY_ID", s.access_key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", wrong),
    ];
    let out_local = tempfile::tempdir().unwrap();
    let local = out_local.path().join("x");
    for (what, args) in [
        (
            "s3 input",
            vec![
                "convert",
                "s3://backups/orders.bson",
                "--db",
                "shop",
                "--out",
                local.to_str().unwrap(),
            ],
        ),
        (
            "s3 output",
            vec![
                "convert",
                sample().to_str().unwrap(),
                "--out",
                "s3://lake/x/",
            ],
        ),
    ] {
        let started = Instant::now();
        let mut all = args.clone();
        all.extend(["--endpoint", endpoint.as_str()]);
        let r = run(&all, &env);
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{what}: too slow"
        );
        assert_status(&r, 1);
        let err = stderr(&r);
        assert!(
            err.contains("SignatureDoesNotMatch") && err.contains("AWS_SECRET_ACCESS_KEY"),
            "{what}: {err}"
        );
        assert!(
            !err.contains(wrong) && !stdout(&r).contains(wrong),
            "{what}: the secret was shown"
        );
    }
    assert!(objects(&lake).is_empty(), "{:?}", objects(&lake));
    assert!(!local.join(".complete").exists());
}

#[test]
fn a_corrupt_input_leaves_no_complete_and_no_open_upload() {
    let Some(s) = S3Server::start() else { return };
    let work = tempfile::tempdir().unwrap();
    // 30 × 1 MiB incompressible documents, the last one damaged: the first 24 MiB chunk goes
    // up as a multipart upload before the damage is read.
    let Some(bad) = random_blobs(work.path(), "bad.bson", 30, 1 << 20, true) else {
        return;
    };
    s.bucket("lake");
    let r = run_s3(
        &s,
        &[
            "convert",
            bad.to_str().unwrap(),
            "--db",
            "shop",
            "--out",
            "s3://lake/x/",
            "--chunk-bytes",
            "24M",
        ],
    );
    assert_status(&r, 1);
    assert!(stderr(&r).contains("bad.bson"), "{}", stderr(&r));
    assert!(!s.root().join("lake/x/.complete").exists());
    assert!(s.open_uploads().is_empty(), "{:?}", s.open_uploads());
    let parts = s
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.uri.contains("partNumber="))
        .count();
    assert!(
        parts >= 2,
        "a multipart upload was under way: {parts} parts"
    );
}

/// A TCP proxy in front of `upstream` that answers the first request carrying a `Range`
/// header with `503 Service Unavailable` (once) and forwards everything else unchanged.
fn flaky_proxy(upstream: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let failed = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&failed);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let f = Arc::clone(&f);
            std::thread::spawn(move || {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let (mut c_read, mut s_write) =
                    (client.try_clone().unwrap(), server.try_clone().unwrap());
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut s_read, &mut c_write);
                });
                let mut buf = vec![0u8; 64 << 10];
                loop {
                    let n = match c_read.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let head = String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase();
                    if head.contains("\r\nrange: bytes=") && f.fetch_add(1, Ordering::SeqCst) == 0 {
                        let _ = c_read.write_all(
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                        );
                        let _ = c_read.shutdown(std::net::Shutdown::Both);
                        let _ = s_write.shutdown(std::net::Shutdown::Both);
                        break;
                    }
                    if s_write.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, failed)
}

#[test]
fn a_range_read_that_fails_once_is_retried() {
    let Some(s) = S3Server::start() else { return };
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("d.tar.gz");
    let parent = sample().parent().unwrap().to_path_buf();
    if !gnu_tar(&["-czf", file.to_str().unwrap(), "sample-dump"], &parent) {
        bsonflow_testkit::skip::<()>("GNU tar cannot write .tar.gz");
        return;
    }
    std::fs::copy(&file, s.bucket("backups").join("d.tar.gz")).unwrap();
    let (port, failed) = flaky_proxy(s.port);
    let k = keys(&s);
    let env: Vec<(&str, &str)> = k.iter().map(|(a, b)| (*a, b.as_str())).collect();
    let out = work.path().join("out");
    let endpoint = format!("http://127.0.0.1:{port}");
    let r = run(
        &[
            "convert",
            "s3://backups/d.tar.gz",
            "--out",
            out.to_str().unwrap(),
            "--endpoint",
            &endpoint,
        ],
        &env,
    );
    assert_status(&r, 0);
    assert!(
        failed.load(Ordering::SeqCst) >= 2,
        "the proxy failed one ranged GET and let the retry through"
    );
    let want = disk_export(&file, &[]);
    assert_same_export(&out, &want.path().join("x"), "after a failed range");
}

#[test]
fn a_server_killed_mid_upload_and_restarted_never_shows_a_partial_export_as_complete() {
    let Some(mut s) = S3Server::start() else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let Some(input) = random_blobs(work.path(), "blobs.bson", 64, 1 << 20, false) else {
        return;
    };
    let want = disk_export(&input, &["--db", "shop", "--chunk-bytes", "16M"]);
    let want = want.path().join("x");
    let lake = s.bucket("lake");
    let got = lake.join("x");
    let k = keys(&s);
    let spawn = |s: &S3Server| {
        bsonflow_without_credentials()
            .args([
                "convert",
                input.to_str().unwrap(),
                "--db",
                "shop",
                "--out",
                "s3://lake/x/",
                "--chunk-bytes",
                "16M",
                "-q",
                "--endpoint",
                &s.endpoint(),
            ])
            .envs(k.iter().map(|(a, b)| (*a, b.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // A `.complete` seen at any moment must cover the whole export.
    let check_complete = |when: &str| {
        if got.join(".complete").exists() {
            let now = tree(&got);
            let full = tree(&want);
            assert!(
                now.keys().collect::<Vec<_>>() == full.keys().collect::<Vec<_>>(),
                "{when}: .complete over a partial export"
            );
        }
    };
    let mut child = spawn(&s);
    let started = Instant::now();
    loop {
        check_complete("before the kill");
        let uploading = !s.open_uploads().is_empty() || got.join("shop/blobs").exists();
        if uploading
            || child.try_wait().unwrap().is_some()
            || started.elapsed() > Duration::from_secs(60)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let open_at_kill = s.open_uploads().len();
    let chunks_at_kill = objects(&got).len();
    s.kill();
    let down = Instant::now();
    while down.elapsed() < Duration::from_millis(1500) {
        check_complete("while the server was down");
        std::thread::sleep(Duration::from_millis(20));
    }
    s.restart();
    let status = loop {
        check_complete("after the restart");
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run hangs"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "killed with {} upload(s) open and {} chunk(s) written; the run {}",
        open_at_kill,
        chunks_at_kill,
        if status.success() {
            "finished by itself"
        } else {
            "failed and was rerun"
        }
    );
    if !status.success() {
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(!err.is_empty(), "a failed run says why");
        assert!(
            !got.join(".complete").exists(),
            "failed run, yet .complete: {err}"
        );
        // One rerun finishes the export.
        let mut again = spawn(&s);
        assert!(again.wait().unwrap().success(), "the rerun");
    }
    assert_same_export(&got, &want, "after the server was killed and restarted");
}

#[test]
fn verify_reads_an_export_in_s3_and_names_damage_there() {
    let Some(s) = S3Server::start() else { return };
    let lake = s.bucket("lake");
    let sample = sample();
    let r = run_s3(
        &s,
        &[
            "convert",
            sample.to_str().unwrap(),
            "--out",
            "s3://lake/v/",
            "--chunk-bytes",
            "16K",
        ],
    );
    assert_status(&r, 0);
    // Whole, alone and against its input (read from disk).
    let r = run_s3(&s, &["verify", "s3://lake/v/"]);
    assert_status(&r, 0);
    let r = run_s3(
        &s,
        &[
            "verify",
            "s3://lake/v/",
            "--input",
            sample.to_str().unwrap(),
        ],
    );
    assert_status(&r, 0);
    assert!(
        stdout(&r).contains("shop.orders: 300 documents"),
        "{}",
        stdout(&r)
    );

    // A chunk cut short in the bucket, and a metadata.json gone.
    let chunk = lake.join("v/shop/orders/bsonflow-shard-0.1.json.gz");
    let bytes = std::fs::read(&chunk).unwrap();
    std::fs::write(&chunk, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(lake.join("v/shop/customers/metadata.json")).unwrap();
    let r = run_s3(&s, &["verify", "s3://lake/v/", "--json"]);
    assert_status(&r, 1);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    let files: Vec<&str> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert!(
        files.contains(&"shop/orders/bsonflow-shard-0.1.json.gz"),
        "{files:?}"
    );
    assert!(files.contains(&"shop/customers/metadata.json"), "{files:?}");
    // Nothing secret in what it printed.
    assert!(!stdout(&r).contains(&s.secret_key) && !stderr(&r).contains(&s.secret_key));
}
