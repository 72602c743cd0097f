//! `cargo xtask bench`: end-to-end benchmarks of the release binary. `cargo xtask man
//! [DIR]`: man pages generated from the command line's definition (`bsonflow.1` and one
//! `bsonflow-<subcommand>.1` each) into DIR, by default `target/man`.
//!
//! It makes the datasets it needs under `bench-data/` (kept between runs), runs `bsonflow
//! convert` on each several times, and prints a table of medians: input and output MB/s,
//! wall and CPU time, peak RSS, and the ratio to the *compression floor* measured in the same
//! run — bsonflow's own uncompressed JSON, split into one part per core, each part compressed
//! by `libdeflate-gzip` at the same level in parallel. When `bsondump` is on PATH it also
//! times `bsondump | gzip -6` on the same file.
//!
//! The *level sweep* (`--levels 1,3,6,9`, on by default; `--levels-only` runs nothing else)
//! converts the reference file at each level and compares it with the fastest external
//! encoder at that level — `igzip` where bsonflow uses ISA-L (levels 1 and 2), else
//! `libdeflate-gzip` — on bsonflow's own JSON split in one part per core, compressed in
//! parallel; the two are measured alternately, run after run, and the table gives medians
//! of wall, CPU, output size and the per-run ratios.
//!
//! Datasets:
//! - `events.bson`: `../shared/tools/gen_bench_bson.py events.bson <MiB> 42` (pymongo);
//! - `dump/bench/events.bson` + metadata, packed as `dump.tar.gz` (GNU tar + gzip -6) and
//!   `dump.tar.zst` (zstd -3);
//! - `big.bson`: `events.bson` repeated to `--big-mib` (for the memory check: peak RSS must
//!   not grow with the input);
//! - `wt-snappy-<N>/`: with `--wiredtiger`, a snappy data directory of N orders written by
//!   the real WiredTiger library with `../shared/tools/gen_wt_dbpath.py` (the library is
//!   built by `../shared/tools/build-wt-oracle.sh --mongodb` when missing);
//!   `--wiredtiger-dbpath DBPATH` converts an existing one instead.
//!
//! Requires: python3 with pymongo, GNU tar, gzip, zstd, libdeflate-gzip
//! (`apt-get install libdeflate-tools`), igzip (`apt-get install isal`), taskset.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

/// The `bsonflow` command line's definition, shared with the binary.
#[allow(dead_code)]
#[path = "../../crates/bsonflow/src/cli.rs"]
mod cli;

struct Options {
    runs: usize,
    mib: u64,
    big_mib: u64,
    /// Convert a WiredTiger data directory too: `Some(None)` = generate one.
    wiredtiger: Option<Option<PathBuf>>,
    wiredtiger_docs: u64,
    level: u32,
    /// Levels of the sweep (empty: no sweep).
    levels: Vec<u32>,
    /// Run only the level sweep.
    levels_only: bool,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("bench") => bench(parse(&args[1..])?),
        Some("man") => man(args.get(1).map(PathBuf::from)),
        // The whole-binary mutation test lives in xtask/mutate.py (`--help` there).
        Some("mutate") => std::process::exit(
            Command::new("python3")
                .arg(root().join("xtask/mutate.py"))
                .args(&args[1..])
                .status()?
                .code()
                .unwrap_or(1),
        ),
        _ => {
            eprintln!(
                "usage: cargo xtask man [DIR]   (man pages of bsonflow into DIR, default target/man)\n\
                 \x20      cargo xtask bench [--runs N] [--mib N] [--big-mib N] [--level L]\n\
                 \x20                        [--levels L,L,... | --levels-only]\n\
                 \x20                        [--wiredtiger [--wiredtiger-docs N] | --wiredtiger-dbpath DBPATH]\n\n\
                 Builds datasets under bench-data/, runs the release binary on each and prints a table.\n\
                 --levels (default 1,3,6,9; 'none' to skip) sweeps gzip levels against igzip / libdeflate-gzip\n\
                 on bsonflow's own JSON; --levels-only runs only that sweep.\n\
                 --wiredtiger generates a snappy data directory of N orders (default 1,400,000: a ~510 MB\n\
                 collection file) with the real WiredTiger library (../shared/tools; building the library\n\
                 takes ~3 min, generating ~12 min, both once)."
            );
            std::process::exit(2)
        }
    }
}

/// Writes the man pages into `dir` (default `target/man`) and names them.
fn man(dir: Option<PathBuf>) -> Result<()> {
    use clap::CommandFactory;
    let dir = dir.unwrap_or_else(|| root().join("target/man"));
    fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    clap_mangen::generate_to(cli::Cli::command(), &dir)
        .with_context(|| format!("writing man pages into {}", dir.display()))?;
    let mut pages: Vec<String> = fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".1"))
        .collect();
    pages.sort();
    println!("{}: {}", dir.display(), pages.join(" "));
    Ok(())
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        runs: 3,
        mib: 256,
        big_mib: 2048,
        wiredtiger: None,
        wiredtiger_docs: 1_400_000,
        level: 6,
        levels: vec![1, 3, 6, 9],
        levels_only: false,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = value()?.parse()?,
            "--mib" => o.mib = value()?.parse()?,
            "--big-mib" => o.big_mib = value()?.parse()?,
            "--level" => o.level = value()?.parse()?,
            "--wiredtiger" => o.wiredtiger = Some(None),
            "--wiredtiger-dbpath" => o.wiredtiger = Some(Some(PathBuf::from(value()?))),
            "--wiredtiger-docs" => o.wiredtiger_docs = value()?.parse()?,
            "--levels" => {
                let v = value()?;
                o.levels = if v == "none" {
                    Vec::new()
                } else {
                    v.split(',')
                        .map(|l| l.trim().parse::<u32>())
                        .collect::<Result<_, _>>()
                        .context("--levels takes levels like 1,3,6,9")?
                };
            }
            "--levels-only" => o.levels_only = true,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn sh(script: &str) -> Result<()> {
    run(Command::new("sh").arg("-c").arg(script))
}

/// One measured run of a child process.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    wall: f64,
    cpu: f64,
    max_rss_kib: i64,
}

/// Runs `cmd` and measures it with `wait4` (per-child CPU time and peak RSS).
fn measure(cmd: &mut Command) -> Result<Sample> {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("spawning {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `libc::rusage` is a plain C struct of integers and `timeval`s (integers too),
    // for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: plain FFI call; `&mut status` and `&mut usage` point to live, properly typed
    // locals that the call only writes into. `pid` is our own child, not yet waited for
    // (`Child` never waits on its own), so it cannot name a reused process id.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    if r != pid {
        bail!("wait4 failed for {cmd:?}");
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("{cmd:?} failed (status {status})");
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Sample {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kib: usage.ru_maxrss,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Medians of `runs` measurements; `prepare` runs before each (untimed).
fn repeat(
    runs: usize,
    mut prepare: impl FnMut() -> Result<()>,
    mut cmd: impl FnMut() -> Command,
) -> Result<Sample> {
    let mut samples = Vec::new();
    for _ in 0..runs {
        prepare()?;
        samples.push(measure(&mut cmd())?);
    }
    Ok(Sample {
        wall: median(samples.iter().map(|s| s.wall).collect()),
        cpu: median(samples.iter().map(|s| s.cpu).collect()),
        max_rss_kib: samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
    })
}

fn size(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            let path = e.path();
            total += if path.is_dir() {
                dir_size(&path)
            } else {
                size(&path)
            };
        }
    }
    total
}

/// Concatenation of every `*.json.gz` under `dir`, decompressed, in path order.
fn uncompressed_output(dir: &Path, into: &Path) -> Result<()> {
    sh(&format!(
        "find '{}' -name '*.json.gz' | sort -V | xargs cat | gzip -dc > '{}'",
        dir.display(),
        into.display()
    ))
}

struct Row {
    name: String,
    input_bytes: u64,
    output_bytes: u64,
    s: Sample,
    /// (median of the per-run ratios to the floor, median floor wall time)
    floor: Option<(f64, f64)>,
    note: String,
}

fn bench(o: Options) -> Result<()> {
    let root = root();
    let data = root.join("bench-data");
    fs::create_dir_all(&data)?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    for tool in [
        "libdeflate-gzip",
        "tar",
        "zstd",
        "gzip",
        "taskset",
        "python3",
        "igzip",
    ] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
        {
            bail!("{tool} is not installed (see xtask/src/main.rs for the list; igzip: apt-get install isal)");
        }
    }

    eprintln!("building the release binary…");
    run(Command::new("cargo")
        .args(["build", "--release", "-p", "bsonflow"])
        .current_dir(&root))?;
    let bin = root.join("target/release/bsonflow");

    // Datasets.
    let events = data.join(format!("events-{}.bson", o.mib));
    if !events.exists() {
        eprintln!("generating {} (pymongo, seed 42)…", events.display());
        let gen = root.join("../shared/tools/gen_bench_bson.py");
        run(Command::new("python3")
            .arg(&gen)
            .arg(&events)
            .arg(o.mib.to_string())
            .arg("42"))?;
    }
    let dump = data.join(format!("dump-{}", o.mib));
    if !o.levels_only && !dump.join("bench/events.bson").exists() {
        fs::create_dir_all(dump.join("bench"))?;
        fs::copy(&events, dump.join("bench/events.bson"))?;
        fs::write(
            dump.join("bench/events.metadata.json"),
            r#"{"options":{},"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],"uuid":"00000000000000000000000000000001","collectionName":"events","type":"collection"}"#,
        )?;
    }
    let tgz = data.join(format!("dump-{}.tar.gz", o.mib));
    if !o.levels_only && !tgz.exists() {
        eprintln!("packing {}…", tgz.display());
        sh(&format!(
            "cd '{}' && tar -cf - bench | gzip -6 > '{}'",
            dump.display(),
            tgz.display()
        ))?;
    }
    let tzst = data.join(format!("dump-{}.tar.zst", o.mib));
    if !o.levels_only && !tzst.exists() {
        eprintln!("packing {}…", tzst.display());
        sh(&format!(
            "cd '{}' && tar -cf - bench | zstd -q -3 -T0 > '{}'",
            dump.display(),
            tzst.display()
        ))?;
    }
    let big = data.join(format!("big-{}.bson", o.big_mib));
    if !o.levels_only && o.big_mib > 0 && !big.exists() {
        eprintln!("making {} by repeating the events file…", big.display());
        let copies = o.big_mib.div_ceil(o.mib.max(1));
        sh(&format!(
            "for i in $(seq {copies}); do cat '{}'; done > '{}'",
            events.display(),
            big.display()
        ))?;
    }

    let out = data.join("out");
    let clean = || -> Result<()> {
        let _ = fs::remove_dir_all(&out);
        Ok(())
    };
    let level = o.level.to_string();
    let convert = |input: &Path, extra: &[&str], pin_one_core: bool| {
        let mut c = if pin_one_core {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        c.arg("convert")
            .arg(input)
            .arg("--out")
            .arg(&out)
            .args(["--quiet", "--gzip-level", &level])
            .args(extra);
        c
    };

    if o.levels_only {
        let sweep = level_sweep(&o, &bin, &events, &data, &out, cores)?;
        let _ = fs::remove_dir_all(&out);
        print_sweep(&o, cores, &sweep);
        return Ok(());
    }

    let mut rows = Vec::new();

    // 1. The reference file, all cores, and the floor made from its own output. The two are
    //    measured alternately, run after run, so that both see the same machine; the ratio
    //    is the median of the per-pair ratios.
    eprintln!("bsonflow convert events, first run (to get its output for the floor)…");
    clean()?;
    measure(&mut convert(&events, &["--ns", "bench.events"], false))?;
    let (json_bytes, parts) = json_parts(&out, &data, cores)?;
    let floor_cmd = || {
        let mut c = Command::new("sh");
        c.arg("-c").arg(format!(
            "for p in '{}'/part.*; do libdeflate-gzip -{level} -c \"$p\" > /dev/null & done; wait",
            parts.display()
        ));
        c
    };
    let mut ours = Vec::new();
    let mut floors = Vec::new();
    let mut ratios = Vec::new();
    for i in 0..o.runs {
        eprintln!(
            "run {}/{}: bsonflow, then the floor (libdeflate-gzip -{level} on {cores} parts)…",
            i + 1,
            o.runs
        );
        clean()?;
        let s = measure(&mut convert(&events, &["--ns", "bench.events"], false))?;
        let f = measure(&mut floor_cmd())?;
        ratios.push(s.wall / f.wall);
        ours.push(s);
        floors.push(f);
    }
    let s = Sample {
        wall: median(ours.iter().map(|s| s.wall).collect()),
        cpu: median(ours.iter().map(|s| s.cpu).collect()),
        max_rss_kib: ours.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
    };
    let floor_wall = median(floors.iter().map(|f| f.wall).collect());
    let floor_ratio = median(ratios.clone());
    rows.push(Row {
        name: format!("events.bson ({} MiB), -j{cores}", o.mib),
        input_bytes: size(&events),
        output_bytes: dir_size(&out),
        s,
        floor: Some((floor_ratio, floor_wall)),
        note: format!(
            "per-run ratios {}",
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });

    // 2. One thread on one core against all threads on all cores, alternately.
    let mut ones = Vec::new();
    let mut speedups = Vec::new();
    for i in 0..o.runs {
        eprintln!("run {}/{}: -j1 on one core, then -j{cores}…", i + 1, o.runs);
        clean()?;
        let one = measure(&mut convert(
            &events,
            &["--ns", "bench.events", "-j", "1"],
            true,
        ))?;
        clean()?;
        let all = measure(&mut convert(&events, &["--ns", "bench.events"], false))?;
        speedups.push(one.wall / all.wall);
        ones.push(one);
    }
    let one = Sample {
        wall: median(ones.iter().map(|s| s.wall).collect()),
        cpu: median(ones.iter().map(|s| s.cpu).collect()),
        max_rss_kib: ones.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
    };
    rows.push(Row {
        name: format!("events.bson ({} MiB), -j1 on one core", o.mib),
        input_bytes: size(&events),
        output_bytes: dir_size(&out),
        s: one,
        floor: None,
        note: format!(
            "-j{cores} is {:.2}x as fast (median of per-run ratios {})",
            median(speedups.clone()),
            speedups
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });

    // 3. Archives. For the tar.gz target, gzip decompression alone, the folder's conversion
    //    and the tar.gz conversion are measured one after the other in each run.
    let (mut gz, mut fo, mut tg, mut targets) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..o.runs {
        eprintln!(
            "run {}/{}: gzip -dc alone, the folder, the tar.gz…",
            i + 1,
            o.runs
        );
        let g = measure(
            Command::new("sh")
                .arg("-c")
                .arg(format!("gzip -dc '{}' > /dev/null", tgz.display())),
        )?;
        clean()?;
        let f = measure(&mut convert(&dump, &[], false))?;
        clean()?;
        let t = measure(&mut convert(&tgz, &[], false))?;
        targets.push(t.wall / g.wall.max(f.wall));
        gz.push(g);
        fo.push(f);
        tg.push(t);
    }
    let med = |v: &[Sample]| Sample {
        wall: median(v.iter().map(|s| s.wall).collect()),
        cpu: median(v.iter().map(|s| s.cpu).collect()),
        max_rss_kib: v.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
    };
    let (gunzip, folder) = (med(&gz), med(&fo));
    rows.push(Row {
        name: "dump tar.gz".into(),
        input_bytes: size(&tgz),
        output_bytes: dir_size(&out),
        s: med(&tg),
        floor: None,
        note: format!(
            "{:.2}x max(gzip -dc {:.2} s, folder {:.2} s) (median of per-run ratios {})",
            median(targets.clone()),
            gunzip.wall,
            folder.wall,
            targets
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    });
    eprintln!("bsonflow convert tar.zst…");
    let s = repeat(o.runs, clean, || convert(&tzst, &[], false))?;
    rows.push(Row {
        name: "dump tar.zst".into(),
        input_bytes: size(&tzst),
        output_bytes: dir_size(&out),
        s,
        floor: None,
        note: String::new(),
    });
    rows.push(Row {
        name: "dump folder".into(),
        input_bytes: dir_size(&dump),
        output_bytes: 0,
        s: folder,
        floor: None,
        note: String::new(),
    });

    // 4. Memory: a large input must not need more memory.
    if o.big_mib > 0 {
        eprintln!("bsonflow convert big ({} MiB, 1 run)…", o.big_mib);
        let s = repeat(1, clean, || convert(&big, &["--ns", "bench.big"], false))?;
        rows.push(Row {
            name: format!("big.bson ({} MiB)", o.big_mib),
            input_bytes: size(&big),
            output_bytes: dir_size(&out),
            s,
            floor: None,
            note: "peak RSS must not grow with the input".into(),
        });
    }

    // 5. WiredTiger.
    let wiredtiger = match &o.wiredtiger {
        None => None,
        Some(Some(path)) => Some(path.clone()),
        Some(None) => Some(generate_wiredtiger(&root, &data, o.wiredtiger_docs)?),
    };
    if let Some(dbpath) = &wiredtiger {
        eprintln!("bsonflow convert {} …", dbpath.display());
        let s = repeat(o.runs, clean, || convert(dbpath, &[], false))?;
        rows.push(Row {
            name: "WiredTiger dbpath".into(),
            input_bytes: dir_size(dbpath),
            output_bytes: dir_size(&out),
            s,
            floor: None,
            note: String::new(),
        });
    }

    // 6. bsondump | gzip -6, when bsondump is installed.
    let bsondump = Command::new("sh")
        .arg("-c")
        .arg("command -v bsondump")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if bsondump {
        eprintln!("bsondump | gzip -6…");
        let s = repeat(
            o.runs,
            || Ok(()),
            || {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!(
                    "bsondump --quiet '{}' | gzip -6 > /dev/null",
                    events.display()
                ));
                c
            },
        )?;
        let ratio = rows[0].s.wall / s.wall;
        rows.push(Row {
            name: "bsondump | gzip -6".into(),
            input_bytes: size(&events),
            output_bytes: 0,
            s,
            floor: None,
            note: format!("bsonflow takes {ratio:.2}x its time"),
        });
    }
    // 7. The level sweep.
    let sweep = if o.levels.is_empty() {
        Vec::new()
    } else {
        level_sweep(&o, &bin, &events, &data, &out, cores)?
    };
    let _ = fs::remove_dir_all(&out);

    println!(
        "\nbsonflow benchmark — {} runs (medians), {cores} cores, gzip level {level}, {}\n",
        o.runs,
        chrono_free_now()
    );
    println!(
        "| run | input MB/s | output MB/s | wall s | CPU s | peak RSS MiB | wall / floor | note |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in &rows {
        let mbps = |b: u64| {
            if b == 0 {
                "-".to_string()
            } else {
                format!("{:.0}", b as f64 / 1e6 / r.s.wall)
            }
        };
        println!(
            "| {} | {} | {} | {:.2} | {:.2} | {:.0} | {} | {} |",
            r.name,
            mbps(r.input_bytes),
            mbps(r.output_bytes),
            r.s.wall,
            r.s.cpu,
            r.s.max_rss_kib as f64 / 1024.0,
            r.floor
                .map(|(ratio, f)| format!("{ratio:.2} (floor {f:.2} s)"))
                .unwrap_or_else(|| "-".into()),
            r.note
        );
    }
    println!(
        "\nfloor = libdeflate-gzip -{level} of bsonflow's own {:.0} MB of JSON split in {cores} parts, compressed in parallel",
        json_bytes as f64 / 1e6
    );
    if !sweep.is_empty() {
        print_sweep(&o, cores, &sweep);
    }
    Ok(())
}

/// bsonflow's JSON of the conversion in `out`, in `data/events.json`, and split at line ends
/// into `cores` parts under `data/parts/`: (JSON bytes, the parts' folder).
fn json_parts(out: &Path, data: &Path, cores: usize) -> Result<(u64, PathBuf)> {
    let json = data.join("events.json");
    uncompressed_output(out, &json)?;
    let parts = data.join("parts");
    let _ = fs::remove_dir_all(&parts);
    fs::create_dir_all(&parts)?;
    sh(&format!(
        "split -n l/{cores} -d '{}' '{}/part.'",
        json.display(),
        parts.display()
    ))?;
    Ok((size(&json), parts))
}

/// The fastest external gzip encoder at bsonflow's `level`, as a command line: `igzip`
/// where bsonflow uses ISA-L, `libdeflate-gzip` elsewhere. Mirrors
/// `bsonflow_export::GzipEncoder::for_level` (not a dependency: xtask stays quick to build).
fn external_encoder(level: u32) -> String {
    match level {
        1 => "igzip -1".into(),
        2 => "igzip -3".into(),
        l => format!("libdeflate-gzip -{l}"),
    }
}

/// One level of the sweep: medians over alternating runs of bsonflow and the floor.
struct SweepRow {
    level: u32,
    ours: Sample,
    output_bytes: u64,
    floor: Sample,
    floor_bytes: u64,
    /// `libdeflate-gzip -<level>` of the same parts.
    libdeflate_bytes: u64,
    ratios: Vec<f64>,
}

/// For each level: bsonflow on the reference file (all cores), then the external encoder on
/// bsonflow's own JSON in one part per core compressed in parallel (output to /dev/null),
/// alternately, `o.runs` times. The JSON is the output of a conversion at the first level
/// (the same JSON at every level).
fn level_sweep(
    o: &Options,
    bin: &Path,
    events: &Path,
    data: &Path,
    out: &Path,
    cores: usize,
) -> Result<Vec<SweepRow>> {
    let convert = |level: u32| {
        let mut c = Command::new(bin);
        c.arg("convert")
            .arg(events)
            .arg("--out")
            .arg(out)
            .args(["--quiet", "--ns", "bench.events", "--gzip-level"])
            .arg(level.to_string());
        c
    };
    let first = *o.levels.first().context("no levels to sweep")?;
    eprintln!("level sweep: bsonflow's JSON (one conversion at level {first})…");
    let _ = fs::remove_dir_all(out);
    measure(&mut convert(first))?;
    let (_, parts) = json_parts(out, data, cores)?;
    let mut rows = Vec::new();
    for &level in &o.levels {
        let tool = external_encoder(level);
        let floor_cmd = || {
            let mut c = Command::new("sh");
            c.arg("-c").arg(format!(
                "for p in '{}'/part.*; do {tool} -c \"$p\" > /dev/null & done; wait",
                parts.display()
            ));
            c
        };
        let floor_out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "for p in '{}'/part.*; do {tool} -c \"$p\"; done | wc -c",
                parts.display()
            ))
            .output()?;
        let floor_bytes: u64 = String::from_utf8_lossy(&floor_out.stdout).trim().parse()?;
        // Where the floor is igzip, libdeflate-gzip's size too (the size target is against it).
        let libdeflate_bytes = if tool.starts_with("libdeflate-gzip") {
            floor_bytes
        } else {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "for p in '{}'/part.*; do libdeflate-gzip -{level} -c \"$p\"; done | wc -c",
                    parts.display()
                ))
                .output()?;
            String::from_utf8_lossy(&out.stdout).trim().parse()?
        };
        let (mut ours, mut floors, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let mut output_bytes = 0;
        for i in 0..o.runs {
            eprintln!(
                "level {level}, run {}/{}: bsonflow, then {tool} on {cores} parts…",
                i + 1,
                o.runs
            );
            let _ = fs::remove_dir_all(out);
            let s = measure(&mut convert(level))?;
            output_bytes = dir_size(&out.join("bench"));
            let f = measure(&mut floor_cmd())?;
            ratios.push(s.wall / f.wall);
            ours.push(s);
            floors.push(f);
        }
        let med = |v: &[Sample]| Sample {
            wall: median(v.iter().map(|s| s.wall).collect()),
            cpu: median(v.iter().map(|s| s.cpu).collect()),
            max_rss_kib: v.iter().map(|s| s.max_rss_kib).max().unwrap_or(0),
        };
        rows.push(SweepRow {
            level,
            ours: med(&ours),
            output_bytes,
            floor: med(&floors),
            floor_bytes,
            libdeflate_bytes,
            ratios,
        });
    }
    Ok(rows)
}

fn print_sweep(o: &Options, cores: usize, rows: &[SweepRow]) {
    println!(
        "\nlevel sweep — {} runs (medians), {cores} cores, {}\n",
        o.runs,
        chrono_free_now()
    );
    println!(
        "| level | wall s | CPU s | peak RSS MiB | output MB | floor encoder | floor wall s | floor CPU s | floor MB | wall / floor | size / floor | size / libdeflate-gzip | per-run wall ratios |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.0} | {:.1} | `{}` | {:.2} | {:.2} | {:.1} | {:.2} | {:.3} | {:.3} | {} |",
            r.level,
            r.ours.wall,
            r.ours.cpu,
            r.ours.max_rss_kib as f64 / 1024.0,
            r.output_bytes as f64 / 1e6,
            external_encoder(r.level),
            r.floor.wall,
            r.floor.cpu,
            r.floor_bytes as f64 / 1e6,
            median(r.ratios.clone()),
            r.output_bytes as f64 / r.floor_bytes.max(1) as f64,
            r.output_bytes as f64 / r.libdeflate_bytes.max(1) as f64,
            r.ratios
                .iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "\nfloor = the encoder on bsonflow's own JSON split in {cores} parts, compressed in parallel \
         (igzip where bsonflow uses ISA-L, libdeflate-gzip elsewhere); bsonflow runs with all cores"
    );
}

/// A snappy data directory of `docs` orders written by the real WiredTiger library, made
/// once under `bench-data/` with the shared tools (the library is built first if needed).
fn generate_wiredtiger(root: &Path, data: &Path, docs: u64) -> Result<PathBuf> {
    let dbpath = data.join(format!("wt-snappy-{docs}"));
    if dbpath.join("WiredTiger.turtle").exists() {
        return Ok(dbpath);
    }
    let tools = root.join("../shared/tools");
    eprintln!("building the real WiredTiger library (once, ~3 min)…");
    run(Command::new("bash")
        .arg(tools.join("build-wt-oracle.sh"))
        .arg("--mongodb"))?;
    eprintln!(
        "generating {} ({docs} orders, ~12 min for 1.4 M)…",
        dbpath.display()
    );
    let _ = fs::remove_dir_all(&dbpath);
    run(Command::new("python3")
        .arg(tools.join("gen_wt_dbpath.py"))
        .arg(&dbpath)
        .args([
            "--compressor",
            "snappy",
            "--seed",
            "7",
            "--no-verify",
            "--docs",
        ])
        .arg(docs.to_string()))?;
    Ok(dbpath)
}

/// The date for the table header, from `date`.
fn chrono_free_now() -> String {
    Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod man_tests {
    #[test]
    fn man_pages_are_generated_for_every_subcommand() {
        let dir = std::env::temp_dir().join(format!("bsonflow-man-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        super::man(Some(dir.clone())).unwrap();
        use clap::CommandFactory;
        let cmd = super::cli::Cli::command();
        let mut names = vec!["bsonflow.1".to_string()];
        names.extend(
            cmd.get_subcommands()
                .map(|s| format!("bsonflow-{}.1", s.get_name())),
        );
        for name in &names {
            let page =
                std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                page.starts_with(".ie") || page.contains(".TH"),
                "{name}: {page}"
            );
        }
        let verify = std::fs::read_to_string(dir.join("bsonflow-verify.1")).unwrap();
        assert!(verify.contains("Examples"), "{verify}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
