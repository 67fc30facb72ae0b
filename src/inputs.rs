//! The files a plan names must be there before anything starts: a missing key or update file
//! is reported by the launcher, with its variable and origin, not by swupdate half-way.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{Error, Kind};
use crate::plan::{Mode, Plan, Stage, Traced};

/// A readable regular file.
fn readable_file(t: &Traced<std::path::PathBuf>, what: &str) -> Result<(), Error> {
    let origin = &t.origin;
    let fail = |m: String| {
        Error::new(
            Kind::MissingInput,
            format!("{what} ({} from {origin}): {m}", t.name),
        )
        .on(&t.value)
    };
    let meta = fs::metadata(&t.value).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    File::open(&t.value).map_err(|e| fail(format!("cannot be read: {e}")))?;
    Ok(())
}

fn executable(path: &Path) -> Result<(), Error> {
    match fs::metadata(path) {
        Err(e) => Err(Error::new(Kind::ExecNotFound, format!("swupdate binary: {e}")).on(path)),
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => Err(Error::new(
            Kind::ExecFailed,
            "swupdate binary is not an executable file",
        )
        .on(path)),
        Ok(_) => Ok(()),
    }
}

/// Checks the key and the update file. `with_binary` also checks swupdate itself (for
/// `check`; a run lets exec report it, with the same exit codes).
pub fn check(plan: &Plan, stage: Stage, with_binary: bool) -> Result<(), Error> {
    if with_binary {
        executable(&plan.bin.value)?;
    }
    if let Some(k) = &plan.public_key {
        readable_file(k, "public key")?;
    }
    if let (Mode::File { update_file }, Stage::Device) = (&plan.mode, stage) {
        readable_file(update_file, "update file")?;
    }
    Ok(())
}
