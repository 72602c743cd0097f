//! A bare qpress archive unpacked: `D`/`U` records become directories, `F` records files
//! whose blocks go through the pipeline.

use std::io::{self, Read};
use std::sync::Arc;

use super::pipeline::{combine, Op, Pipeline, Stats};
use super::{qpress, Ctx, UnpackError};
use crate::safe_path;

pub(super) fn unpack_qpress<R: Read>(input: R, ctx: &mut Ctx) -> Result<Stats, UnpackError> {
    let mut pipeline = Pipeline::start(ctx);
    let parsed = qpress_records(input, &mut pipeline, ctx);
    let written = pipeline.finish();
    combine(parsed, written)
}

fn qpress_records<R: Read>(
    mut input: R,
    pipeline: &mut Pipeline,
    ctx: &mut Ctx,
) -> Result<(), UnpackError> {
    let label = ctx.label.clone();
    let qpress_err = |member: &str, source| UnpackError::Qpress {
        label: label.clone(),
        member: member.to_string(),
        source,
    };
    let mut parser = qpress::Parser::new();
    let mut events = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut current: Option<(usize, Arc<str>)> = None;
    let mut next_file = 0usize;
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(UnpackError::Input {
                    label: ctx.label.clone(),
                    source,
                })
            }
        };
        if n == 0 {
            let member = current.as_ref().map_or("-", |c| &*c.1).to_string();
            return parser.finish().map_err(|e| qpress_err(&member, e));
        }
        let at = parser.position();
        let member = current.as_ref().map_or("-", |c| &*c.1).to_string();
        parser
            .feed(&buf[..n], at, &mut events)
            .map_err(|e| qpress_err(&member, e))?;
        for event in events.drain(..) {
            match event {
                qpress::Event::DirDown { path, .. } => pipeline.send(Op::MkDir { path })?,
                qpress::Event::DirUp { .. } => {}
                qpress::Event::File { path, .. } => {
                    let member: Arc<str> = safe_path::display_path(&path).into();
                    pipeline.send(Op::Create {
                        file: next_file,
                        path,
                        member: Arc::clone(&member),
                    })?;
                    current = Some((next_file, member));
                    next_file += 1;
                }
                qpress::Event::Block(block) => {
                    let (file, member) = current.clone().expect("blocks only inside a file");
                    pipeline.send(Op::Block {
                        file,
                        block,
                        member,
                    })?;
                }
                qpress::Event::FileEnd => {
                    let (file, _) = current.take().expect("trailer only inside a file");
                    pipeline.send(Op::Close { file })?;
                }
            }
        }
    }
}
