//! `bsonflow unpack`: a physical backup into a data directory.

use anyhow::{bail, Result};

use crate::cli::UnpackArgs;

pub fn run(args: UnpackArgs) -> Result<u8> {
    bail!(
        "{}: unpacking physical backups is not available yet",
        args.input.display()
    )
}
