//! A tar of a data directory unpacked on the calling thread; links, devices and FIFOs are
//! listed in the report, not created.

use std::io::{self, Read, Write};

use std::sync::atomic::Ordering;

use super::pipeline::{OutDir, SpaceGuard, Stats};
use super::{Ctx, SkippedMember, UnpackError};
use crate::compression::CountingReader;
use crate::layers::tar_end::{self, AfterEnd};
use crate::safe_path::{self, PathError};

pub(super) fn unpack_tar<R: Read>(input: R, ctx: &mut Ctx) -> Result<Stats, UnpackError> {
    let label = ctx.label.clone();
    let counted = CountingReader::new(input);
    let tar_pos = counted.position();
    let at = |ctx: &Ctx| ctx.at(tar_pos.load(Ordering::Relaxed));
    let tar_err = |ctx: &Ctx, member: Option<&str>, source| UnpackError::Tar {
        label: label.clone(),
        member: member.map(str::to_string),
        pos: at(ctx),
        source,
    };
    let mut dir = OutDir::new(ctx.out);
    let mut guard = SpaceGuard::new(ctx.out, ctx.options);
    let mut stats = Stats::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut archive = tar::Archive::new(counted);
    let entries = archive.entries().map_err(|e| tar_err(ctx, None, e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| tar_err(ctx, None, e))?;
        tar_end::check_pax_records(&mut entry).map_err(|e| tar_err(ctx, None, e))?;
        let raw = entry.path_bytes().into_owned();
        let member = safe_path::display(&raw);
        let kind = entry.header().entry_type();
        let data_at = ctx.at(entry.raw_file_position());
        let unsafe_path = |source| UnpackError::UnsafeTarPath {
            label: ctx.label.clone(),
            member: member.clone(),
            pos: data_at,
            source,
        };
        if is_regular(kind) {
            let rel = safe_path::relative_path(&raw).map_err(unsafe_path)?;
            // The size a header claims is not trusted for the space check: a damaged or lying
            // header is found when the member's bytes run out, not reported as a full disk.
            // Free space is checked as the bytes are written.
            let size = entry.size();
            let mut file = dir.create_file(&rel).map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    UnpackError::Duplicate {
                        label: ctx.label.clone(),
                        member: member.clone(),
                        path: rel.clone(),
                    }
                } else {
                    UnpackError::Output {
                        path: ctx.out.join(&rel),
                        source: e,
                    }
                }
            })?;
            let mut copied = 0u64;
            loop {
                let n = match entry.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(tar_err(ctx, Some(&member), e)),
                };
                guard.before_write(n as u64, &member)?;
                file.write_all(&buf[..n])
                    .map_err(|source| UnpackError::Output {
                        path: ctx.out.join(&rel),
                        source,
                    })?;
                copied += n as u64;
            }
            if copied != size {
                return Err(tar_err(
                    ctx,
                    Some(&member),
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("archive cut short: {copied} of {size} bytes"),
                    ),
                ));
            }
            stats.files += 1;
            stats.bytes += copied;
            continue;
        }
        let skipped = |kind: &'static str| SkippedMember {
            path: member.clone(),
            kind,
            target: None,
        };
        match kind {
            tar::EntryType::Directory => match safe_path::relative_path(&raw) {
                Ok(rel) => dir.ensure_dir(&rel).map_err(|source| UnpackError::Output {
                    path: ctx.out.join(&rel),
                    source,
                })?,
                Err(PathError::Empty) => {} // `./`: the target itself
                Err(e) => return Err(unsafe_path(e)),
            },
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| safe_path::display(&t));
                let kind = if kind == tar::EntryType::Symlink {
                    "symlink"
                } else {
                    "hard link"
                };
                ctx.skipped.push(SkippedMember {
                    target,
                    ..skipped(kind)
                });
            }
            tar::EntryType::Char => ctx.skipped.push(skipped("character device")),
            tar::EntryType::Block => ctx.skipped.push(skipped("block device")),
            tar::EntryType::Fifo => ctx.skipped.push(skipped("FIFO")),
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
            _ => ctx.skipped.push(skipped("unknown tar entry type")),
        }
    }
    stats.directories = dir.directories;
    // Read to the true end: zero padding only, and a compressed stream's trailer checked.
    let mut rest = archive.into_inner();
    let end = tar_pos.load(Ordering::Relaxed);
    match tar_end::check_after_end(&mut rest) {
        Ok(AfterEnd::Zeros(_)) => Ok(stats),
        Ok(AfterEnd::Data(offset)) => Err(UnpackError::Tar {
            label,
            member: None,
            pos: ctx.at(end + offset),
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                "data after the tar's end-of-archive marker: whatever follows would be lost \
                 (two tars concatenated, or a damaged block?)",
            ),
        }),
        Err(source) => Err(tar_err(ctx, None, source)),
    }
}

/// A tar entry whose bytes are a regular file.
pub(super) fn is_regular(kind: tar::EntryType) -> bool {
    matches!(
        kind,
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse
    )
}
