//! `bsonflow convert`: tell the input, run its reader into the exporter, print the summary.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bsonflow_ejson::Mode;
use bsonflow_export::{CompleteMarker, ExportOptions, Exporter, KeyValue, DEFAULT_SHARD_NAME};
use bsonflow_model::{Namespace, NamespaceFilter, NamespacePattern, Progress};
use bsonflow_sources::archive;
use bsonflow_sources::detect::{self, InputKind};
use bsonflow_sources::folder::{self, CollectionFiles};
use bsonflow_sources::tar_set::{self, TarOptions};

use crate::cli::{ConvertArgs, Format};
use crate::physical::{self, Scratch};
use crate::progress::Bar;
use crate::summary::{self, Notes};

pub fn run(args: ConvertArgs) -> Result<u8> {
    let started = Instant::now();
    let kind = match detect::detect(&args.input) {
        // The user said the file is one collection's BSON: read it as such, so that damage
        // at its very start is reported with its offset like any other.
        Err(detect::DetectError::Unknown { .. }) if args.ns.is_some() || args.db.is_some() => {
            InputKind::BsonFile(bsonflow_sources::compression::Compression::None)
        }
        other => other?,
    };
    let filter = NamespaceFilter::with_patterns(
        parse_patterns(&args.include, "--include")?,
        parse_patterns(&args.exclude, "--exclude")?,
    );
    let threads = args.threads.map(|t| t as usize).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    // Readers that fan out over collections use the global rayon pool: size it too.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global();
    let marker = build_marker(&args)?;
    let progress = Arc::new(Progress::new());
    let mut notes = Notes {
        input: format!("{} ({})", args.input.display(), kind.describe()),
        ..Notes::default()
    };

    let make_exporter = |shard_name: Option<String>| -> Result<Exporter> {
        let mut options = ExportOptions::new(&args.out);
        options.mode = match args.format {
            Format::Canonical => Mode::Canonical,
            Format::Relaxed => Mode::Relaxed,
        };
        options.chunk_bytes = args.chunk_bytes;
        options.gzip_level = args.gzip_level;
        options.threads = threads;
        options.skip_corrupt = args.skip_corrupt;
        options.filter = filter.clone();
        options.shard_name = args
            .shard_name
            .clone()
            .or(shard_name)
            .unwrap_or_else(|| DEFAULT_SHARD_NAME.to_string());
        Ok(Exporter::new(options)?)
    };

    // A data directory: its replica-set name is the default shard name.
    let convert_data_dir = |path: &Path, notes: &mut Notes| -> Result<(Exporter, bool)> {
        let (dir, rs) = physical::open(path)?;
        let exporter = make_exporter(rs)?;
        let ok = physical::export(
            &dir,
            &exporter,
            args.skip_missing,
            notes,
            &progress,
            args.quiet,
        );
        Ok((exporter, ok))
    };

    let (exporter, inputs_complete) = match &kind {
        InputKind::BsonFolder => {
            let set = folder::scan(&args.input)?;
            notes.ignored = set
                .ignored
                .iter()
                .map(|p| {
                    (
                        p.display().to_string(),
                        "not part of a collection".to_string(),
                    )
                })
                .collect();
            let exporter = make_exporter(None)?;
            let bar = Bar::start("converting", Arc::clone(&progress), args.quiet);
            let report = folder::export(&set, &&exporter, &progress);
            drop(bar);
            for failure in report.failures {
                notes.errors.push(failure.to_string());
                if let Some(ns) = failure_namespace(&failure) {
                    exporter.record_failure(&ns, failure.to_string());
                }
            }
            (exporter, true)
        }
        InputKind::BsonFile(_) => {
            let ns = single_file_namespace(&args.input, args.ns.as_deref(), args.db.as_deref())?;
            let files = CollectionFiles {
                ns: ns.clone(),
                metadata: None,
                data: vec![args.input.clone()],
            };
            let exporter = make_exporter(None)?;
            progress.add_total(std::fs::metadata(&args.input)?.len());
            let bar = Bar::start("converting", Arc::clone(&progress), args.quiet);
            let result = folder::export_collection(&files, &&exporter, &progress);
            drop(bar);
            if let Err(e) = result {
                notes.errors.push(e.to_string());
                exporter.record_failure(&ns, e.to_string());
            }
            (exporter, true)
        }
        InputKind::MongodumpArchive(_) => {
            let exporter = make_exporter(None)?;
            let bar = Bar::start("converting", Arc::clone(&progress), args.quiet);
            let result = archive::export_archive_file(&args.input, &&exporter, &progress);
            drop(bar);
            let ok = match result {
                Ok(report) => {
                    notes.unpacked = Some(format!(
                        "mongodump archive from server {} (mongodump {}), {} namespaces",
                        or_unknown(&report.header.server_version),
                        or_unknown(&report.header.tool_version),
                        report.namespaces.len()
                    ));
                    true
                }
                Err(e) => {
                    notes.errors.push(e.to_string());
                    false
                }
            };
            (exporter, ok)
        }
        InputKind::BsonTar(_) => {
            let exporter = make_exporter(None)?;
            let spill = args
                .scratch
                .clone()
                .unwrap_or_else(|| parent_or_here(&args.out));
            let bar = Bar::start("converting", Arc::clone(&progress), args.quiet);
            let result = tar_set::export_tar_file(
                &args.input,
                &&exporter,
                &TarOptions::new(spill),
                &progress,
            );
            drop(bar);
            let ok = match result {
                Ok(report) => {
                    notes.ignored.extend(
                        report
                            .ignored
                            .iter()
                            .map(|m| (m.name.clone(), m.reason.to_string())),
                    );
                    let unlisted = report.ignored_count - report.ignored.len() as u64;
                    if unlisted > 0 {
                        notes
                            .ignored
                            .push((format!("{unlisted} more members"), "not listed".into()));
                    }
                    true
                }
                Err(e) => {
                    notes.errors.push(e.to_string());
                    false
                }
            };
            (exporter, ok)
        }
        InputKind::DataDirectory => convert_data_dir(&args.input, &mut notes)?,
        InputKind::PhysicalTar(_) | InputKind::Xbstream(_) | InputKind::Qpress => {
            let scratch = Scratch::new(args.scratch.as_deref(), &args.out, args.keep_scratch);
            let report = physical::unpack_into(&args.input, &scratch.path, threads, args.quiet)?;
            notes.unpacked = Some(format!(
                "unpacked {} ({} files, {:.1} MB) into {} at {:.0} MB/s{}",
                report.format.describe(),
                report.files,
                report.bytes_written as f64 / 1e6,
                scratch.path.display(),
                report.input_mb_per_s(),
                if args.keep_scratch {
                    ""
                } else {
                    " (removed afterwards)"
                }
            ));
            notes.ignored.extend(report.skipped.iter().map(|s| {
                (
                    s.path.clone(),
                    format!("{} in the archive, not created", s.kind),
                )
            }));
            convert_data_dir(&scratch.path, &mut notes)?
        }
        InputKind::UnsupportedDataDirectory(why) => {
            bail!("{}: {why}", args.input.display())
        }
    };

    let summary = exporter.finish(&marker, inputs_complete)?;
    summary::print(&summary, &notes, started.elapsed(), &args.out);
    Ok(summary::exit_code(&summary, &notes))
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "unknown"
    } else {
        s
    }
}

/// The folder that holds `path` (`.` for a bare name).
fn parent_or_here(path: &Path) -> PathBuf {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn parse_patterns(texts: &[String], flag: &str) -> Result<Vec<NamespacePattern>> {
    texts
        .iter()
        .map(|t| NamespacePattern::parse(t).with_context(|| format!("{flag} {t}")))
        .collect()
}

/// The namespace of a loose `.bson` file: `--ns`, else `--db` with the file name (without
/// `.bson`, `.bson.gz`, `.bson.zst`) as the collection.
pub fn single_file_namespace(path: &Path, ns: Option<&str>, db: Option<&str>) -> Result<Namespace> {
    if let Some(ns) = ns {
        return Ok(Namespace::parse(ns)?);
    }
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [".bson.gz", ".bson.zst", ".bson"]
        .iter()
        .find_map(|s| file.strip_suffix(s))
        .unwrap_or(&file);
    match db {
        Some(db) if !db.is_empty() && !stem.is_empty() => Ok(Namespace::new(db, stem)),
        _ => bail!(
            "{}: a single BSON file does not say which namespace it holds: pass --ns <db>.<collection>, or --db <db> to use `{stem}` as the collection",
            path.display()
        ),
    }
}

fn failure_namespace(e: &folder::FolderError) -> Option<Namespace> {
    use folder::FolderError as E;
    match e {
        E::Duplicate { ns, .. } | E::Read { ns, .. } | E::Sink { ns, .. } => Some(ns.clone()),
        _ => None,
    }
}

fn build_marker(args: &ConvertArgs) -> Result<CompleteMarker> {
    let m = &args.marker;
    let pairs = |items: &[String], flag: &str| -> Result<Vec<KeyValue>> {
        items
            .iter()
            .map(|t| KeyValue::parse(t).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
            .collect()
    };
    Ok(CompleteMarker {
        org_id: m.org_id.clone(),
        org_name: m.org_name.clone(),
        group_id: m.group_id.clone(),
        group_name: m.group_name.clone(),
        cluster_unique_id: m.cluster_id.clone(),
        cluster_name: m
            .cluster_name
            .clone()
            .unwrap_or_else(|| default_cluster_name(&args.input)),
        snapshot_initiation_date: m
            .snapshot_date
            .clone()
            .unwrap_or_else(|| iso_utc_millis(std::time::SystemTime::now())),
        labels: pairs(&m.label, "--label")?,
        custom_data: pairs(&m.custom_data, "--custom-data")?,
    })
}

/// The input's file name without its archive suffixes.
fn default_cluster_name(input: &Path) -> String {
    let name = input
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(input))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = name.as_str();
    for suffix in [".gz", ".zst", ".tar", ".ar", ".xb", ".bson"] {
        name = name.strip_suffix(suffix).unwrap_or(name);
    }
    name.to_string()
}

/// `2020-04-03T05:50:29.321Z`.
pub fn iso_utc_millis(t: std::time::SystemTime) -> String {
    let ms = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn iso_dates() {
        assert_eq!(iso_utc_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_585_893_029_321);
        assert_eq!(iso_utc_millis(t), "2020-04-03T05:50:29.321Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(iso_utc_millis(leap), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn single_file_namespaces() {
        let p = Path::new("/x/orders.bson.gz");
        assert_eq!(
            single_file_namespace(p, None, Some("shop")).unwrap(),
            Namespace::new("shop", "orders")
        );
        assert_eq!(
            single_file_namespace(p, Some("a.b.c"), None).unwrap(),
            Namespace::new("a", "b.c")
        );
        let err = single_file_namespace(p, None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--ns") && err.contains("orders"), "{err}");
        assert!(single_file_namespace(p, Some("nodot"), None).is_err());
    }

    #[test]
    fn cluster_names_drop_archive_suffixes() {
        assert_eq!(
            default_cluster_name(Path::new("hins1111_data_20190710.ar.gz")),
            "hins1111_data_20190710"
        );
        assert_eq!(default_cluster_name(Path::new("backup.tar.zst")), "backup");
    }
}
