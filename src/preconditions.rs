//! The files a plan names must be there before anything starts: a missing key or update file
//! is reported by the launcher, with its variable and origin, not by swupdate half-way.
//!
//! Touches the file system only, and only to look: it stats the binary and the verification
//! program, opens the key, the update file and the CA bundle, judges their owners (StrictModes),
//! and reads the version file for anti-rollback and swupdate's configuration file. For `check`
//! it also has [`crate::compat`] run the binary (`--version`, `-h`); a start never does.

use std::fs::{self, File};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Kind};
use crate::plan::argv::RunningVersion;
use crate::plan::{CheckAt, ConfigFile, Mode, Plan, Traced};
use crate::rollback;
use crate::rootfs::Root;
use crate::compat::{self, SwupdateCfg};
use crate::trust::{self, Policy};

/// What the checks learned from the device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// The version the device runs, read when anti-rollback is on.
    pub running: RunningVersion,
    /// Warnings for `check` (the release unknown, a token on the command line, ...).
    pub notes: Vec<String>,
}

/// A readable regular file (a device path, looked up under the root).
fn readable_file(t: &Traced<PathBuf>, root: &Root, what: &str) -> Result<(), Error> {
    let host = root.host(&t.value);
    open_regular(&host).map(drop).map_err(|m| {
        Error::new(
            Kind::MissingInput,
            format!("{what} ({} from {}): {m}", t.name, t.origin),
        )
        .on(&host)
    })
}

/// Opens `path` for reading without blocking (`O_NONBLOCK`: a FIFO swapped in for a file
/// never hangs the launcher, which holds the update lock, in `open(2)`) and judges what was
/// opened, not what a name said a moment before: it must be a regular file.
pub fn open_regular(path: &Path) -> Result<File, String> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => e.to_string(),
            _ => format!("cannot be read: {e}"),
        })?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        Ok(_) => Err("not a regular file".into()),
        Err(e) => Err(format!("cannot be read: {e}")),
    }
}

/// In file mode without a verification stage, the update file opened (without blocking) and
/// judged a regular file, handed to swupdate as `/proc/self/fd/N`: swupdate installs the file
/// the launcher checked, not whatever the agent renames onto `UPDATE_FILE` between this open
/// and swupdate's (a FIFO that would hold swupdate and the lock, a symlink to a root-only
/// file, another pack). `None` in the other modes (the verification stage hands over its own
/// copy; download and daemon mode name no file). The descriptor stays open for the exec.
pub fn hand_over_update_file(plan: &Plan, root: &Root) -> Result<Option<PathBuf>, Error> {
    let Mode::File { update_file } = &plan.mode else {
        return Ok(None);
    };
    if plan.verification.is_some() {
        return Ok(None);
    }
    let host = root.host(&update_file.value);
    let file = open_regular(&host).map_err(|m| {
        Error::new(
            Kind::MissingInput,
            format!("update file ({} from {}): {m}", update_file.name, update_file.origin),
        )
        .on(&host)
    })?;
    let fd = crate::exec::inherit(file);
    Ok(Some(PathBuf::from(format!("/proc/self/fd/{fd}"))))
}

/// No directory on the way to the verification directory may be the agent's: it could swap the
/// directory (or a parent) for one of its own and read or replace the verified copy.
fn agent_free_dir(root: &Root, dir: &Path, policy: &Policy) -> Result<(), Error> {
    for at in dir.ancestors() {
        let host = root.host(at);
        let Ok(m) = fs::symlink_metadata(&host) else {
            continue;
        };
        let st = crate::rootfs::Stat::from(&m);
        if policy.agent_owns(&st) {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "SWUPDATE_VERIFY_DIR {} is inside {}, which the agent (uid {}) owns: it could replace the verified copy",
                    dir.display(),
                    at.display(),
                    st.uid
                ),
            )
            .on(&host)
            .hint("put SWUPDATE_VERIFY_DIR in a directory of the image's (root's), such as /var/lib/swupdate/verify"));
        }
    }
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

/// Chooses swupdate's configuration file from `SWUPDATE_CONFIG_FILES`: the first candidate that
/// exists inside the root (symlinks followed there, as swupdate's `stat` follows them). One that
/// exists but cannot be examined is chosen, never passed over: [`check`] then says why it
/// cannot be used. Nothing chosen when none exists: [`check`] refuses that, `explain` shows it.
pub fn choose_config_file(plan: &mut Plan, root: &Root) {
    if let Some(c) = &mut plan.config_file {
        c.chosen = c
            .candidates
            .value
            .iter()
            .find(|p| {
                !root
                    .walk(p, &mut |_: &Path, _: &crate::rootfs::Stat, _| Ok(()))
                    .is_err_and(|e| e.is_not_found())
            })
            .cloned();
    }
}

/// Why this configuration file is the one swupdate reads, for a person.
pub fn config_file_reason(c: &ConfigFile) -> String {
    let list: Vec<String> = c
        .candidates
        .value
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let from = format!("{} from {}", c.candidates.name, c.candidates.origin);
    match &c.chosen {
        Some(p) => {
            let skipped = list.iter().take_while(|q| Path::new(q) != p).count();
            let missing = if skipped == 0 {
                String::new()
            } else {
                format!("; {} missing", list[..skipped].join(", "))
            };
            format!(
                "{}: the first of {} that exists ({from}{missing})",
                p.display(),
                list.join(" ")
            )
        }
        None => format!("none of {} exists ({from})", list.join(" ")),
    }
}

/// The configuration file `SWUPDATE_CONFIG_FILES` chose: there, readable, and the image's.
fn chosen_config_file(c: &ConfigFile, root: &Root, policy: Option<&Policy>) -> Result<(), Error> {
    let Some(chosen) = &c.chosen else {
        return Err(Error::new(
            Kind::MissingInput,
            format!("swupdate's configuration file: {}", config_file_reason(c)),
        )
        .hint("the image ships the last of the list; or correct the list"));
    };
    let what = "swupdate's configuration file";
    let traced = Traced {
        value: chosen.clone(),
        name: c.candidates.name,
        origin: c.candidates.origin.clone(),
    };
    readable_file(&traced, root, what)?;
    match policy {
        Some(policy) => trust::check_file(root, chosen, what, policy),
        None => Ok(()),
    }
}

/// An executable regular file at a device path, resolved inside the root: an absolute symlink
/// of the image (`/usr/libexec/unpack -> /opt/verify/unpack`) is the image's, never the build
/// host's, under `check --static --root`. A refusal names the file where the walk stopped (the
/// link's target, not the link). Only the image's programs: tests link the host's swupdate into
/// their roots, which only the host resolves (see [`trust::check_file`]).
fn executable_in_root(root: &Root, device_path: &Path) -> Result<(), (PathBuf, Error)> {
    let mut last = root.host(device_path);
    let walked = root.walk(device_path, &mut |p: &Path, _: &crate::rootfs::Stat, _| {
        last = p.to_path_buf();
        Ok(())
    });
    let not_executable = |at: PathBuf, what: String| {
        let e = Error::new(Kind::ExecFailed, what);
        Err((at, e))
    };
    match walked {
        Ok(crate::rootfs::Found::File(_, st)) if st.mode & 0o111 != 0 => Ok(()),
        Ok(crate::rootfs::Found::File(..)) => {
            not_executable(last, "it is not an executable file".into())
        }
        Ok(crate::rootfs::Found::DevNull) => {
            not_executable(last, "it is /dev/null, not an executable file".into())
        }
        Err(crate::rootfs::WalkError::Io(at, e)) => {
            let kind = if e.kind() == std::io::ErrorKind::NotFound {
                Kind::ExecNotFound
            } else {
                Kind::ExecFailed
            };
            Err((at, Error::new(kind, e.to_string())))
        }
        Err(crate::rootfs::WalkError::Kind(at, kind)) => {
            not_executable(at, format!("it is {kind}, not an executable file"))
        }
        Err(e) => {
            let e = trust::walk_error(e, "verification program");
            Err((last, e))
        }
    }
}

/// Checks the key, the update file and the preflight's CA. `with_binary` also checks swupdate
/// itself (for `check`; a run lets exec report it, with the same exit codes).
/// Returns what only the device can tell: the running version for anti-rollback, and warnings.
pub fn check(
    plan: &Plan,
    check_at: CheckAt,
    with_binary: bool,
    root: &Root,
    policy: Option<&Policy>,
) -> Result<Checked, Error> {
    if with_binary {
        executable(&root.host(&plan.bin.value))?;
    }
    if let Some(k) = &plan.public_key {
        readable_file(k, root, "public key")?;
    }
    // StrictModes over what decides the update too: swupdate, its key, the running version.
    if let Some(c) = &plan.config_file {
        chosen_config_file(c, root, policy)?;
    }
    if let Some(policy) = policy {
        trust::check_file(root, &plan.bin.value, "swupdate binary", policy)?;
        if let Some(k) = &plan.public_key {
            trust::check_file(root, &k.value, "public key", policy)?;
        }
        if plan.anti_rollback.enabled.value {
            trust::check_file(
                root,
                &plan.anti_rollback.version_file.value,
                "version file",
                policy,
            )?;
        }
    }
    // swupdate's configuration file, read once: the CA check needs it here, the release
    // checks at the end.
    let mut notes = Vec::new();
    let mut cfg = None;
    match (&plan.mode, check_at) {
        (Mode::File { update_file }, CheckAt::Device) => {
            readable_file(update_file, root, "update file")?;
        }
        (Mode::Download { preflight, .. }, _) => {
            if let Some(ca) = &preflight.ca_file {
                readable_file(ca, root, "CA bundle")?;
                let read = cfg.insert(SwupdateCfg::read(plan, root, &mut notes)?);
                compat::downloader_agrees(ca, read)?;
            }
        }
        _ => {}
    }
    if let Some(v) = &plan.verification {
        let program = &v.program.value.path;
        executable_in_root(root, program).map_err(|(at, e)| {
            Error::new(
                e.kind,
                format!(
                    "verification program (SWUPDATE_VERIFY_PROGRAM from {}): {}",
                    v.program.origin, e.message
                ),
            )
            .on(&at)
        })?;
        // It decides what swupdate gets: it must be the image's, like the configuration, and
        // neither its user nor its directory may be the agent's.
        if let Some(policy) = policy {
            trust::check_file(root, program, "verification program", policy)?;
            if let Some(why) = trust::agent_role_refusal(policy, Some(v.user.value.uid)) {
                return Err(Error::new(Kind::Config, why)
                    .hint("give SWUPDATE_VERIFY_USER a uid of its own, neither the agent's nor shared"));
            }
            agent_free_dir(root, &v.dir.value, policy)?;
        }
    }
    let current_version = current_version(plan, root)?;
    let cfg = match cfg {
        Some(read) => read,
        None => SwupdateCfg::read(plan, root, &mut notes)?,
    };
    if with_binary && check_at == CheckAt::Device {
        notes.extend(compat::binary_release(plan, &cfg, root)?);
    }
    notes.extend(compat::check(plan, &cfg, current_version.as_deref(), root)?);
    Ok(Checked {
        running: current_version.map_or(RunningVersion::NotRead, RunningVersion::Read),
        notes,
    })
}

/// The version the device runs, when anti-rollback is on; its absence is an error, so that an
/// unknown version never means "any version".
fn current_version(plan: &Plan, root: &Root) -> Result<Option<String>, Error> {
    let ar = &plan.anti_rollback;
    if !ar.enabled.value {
        return Ok(None);
    }
    let file = &ar.version_file;
    let host = root.host(&file.value);
    let hint = "set SWUPDATE_VERSION_FILE and SWUPDATE_VERSION_KEY to where the image records its release, or SWUPDATE_ANTI_ROLLBACK=no to allow installing older releases";
    let text = fs::read_to_string(&host).map_err(|e| {
        Error::new(
            Kind::Config,
            format!("anti-rollback needs the running version, but the version file ({} from {}) cannot be read: {e}", file.name, file.origin),
        )
        .on(&host)
        .hint(hint)
    })?;
    match rollback::find_version(&text, &ar.key.value) {
        Some(v) if rollback::usable(&v) => Ok(Some(v)),
        Some(v) => Err(Error::new(
            Kind::Config,
            format!("the running version `{v}` ({} in the version file) cannot be passed to swupdate", ar.key.value),
        )
        .on(&host)),
        None => Err(Error::new(
            Kind::Config,
            format!("anti-rollback needs the running version, but the version file has no {} ({} from {})", ar.key.value, ar.key.name, ar.key.origin),
        )
        .on(&host)
        .hint(hint)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_in_place_of_the_update_file_is_refused_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("update.swu");
        crate::system::fs::mkfifo(&p).unwrap();
        assert_eq!(open_regular(&p).unwrap_err(), "not a regular file");
    }

    #[test]
    fn a_regular_update_file_is_opened() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("update.swu");
        fs::write(&p, "swu").unwrap();
        assert!(open_regular(&p).is_ok());
    }
}
