//! The files a plan names must be there before anything starts: a missing key or update file
//! is reported by the launcher, with its variable and origin, not by swupdate half-way.
//!
//! Touches the file system only, and only to look: it stats the binary and the verification
//! program, opens the key, the update file and the CA bundle, judges their owners (StrictModes),
//! and reads the version file for anti-rollback and swupdate's configuration file. For `check`
//! it also has [`crate::compat`] run the binary (`--version`, `-h`); a start never does.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::compat;
use crate::error::{Error, Kind};
use crate::plan::argv::{RunningVersion, Runtime};
use crate::plan::{CheckAt, Mode, Plan, Traced};
use crate::rollback;
use crate::rootfs::Root;
use crate::trust::{self, Policy};

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

/// Checks the key, the update file and the preflight's CA. `with_binary` also checks swupdate
/// itself (for `check`; a run lets exec report it, with the same exit codes).
/// Returns what only the device can tell: the running version for anti-rollback.
pub fn check(
    plan: &Plan,
    check_at: CheckAt,
    with_binary: bool,
    root: &Root,
    policy: Option<&Policy>,
) -> Result<Runtime, Error> {
    if with_binary {
        executable(&plan.bin.value)?;
    }
    if let Some(k) = &plan.public_key {
        readable_file(k, "public key")?;
    }
    // StrictModes over what decides the update too: swupdate, its key, the running version.
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
    match (&plan.mode, check_at) {
        (Mode::File { update_file }, CheckAt::Device) => readable_file(update_file, "update file")?,
        (Mode::Download { preflight, .. }, _) => {
            if let Some(ca) = &preflight.ca_file {
                readable_file(ca, "CA bundle")?;
                downloader_agrees(plan, ca, root)?;
            }
        }
        _ => {}
    }
    if let Some(v) = &plan.verification {
        let program = Path::new(&v.argv.value[0]);
        executable(program).map_err(|e| {
            Error::new(
                e.kind,
                format!(
                    "verification program (SWUPDATE_VERIFY_PROGRAM from {}): {}",
                    v.argv.origin, e.message
                ),
            )
            .on(program)
        })?;
        // It decides what swupdate gets: it must be the image's, like the configuration.
        if let Some(policy) = policy {
            trust::check_file(root, program, "verification program", policy)?;
        }
    }
    let current_version = current_version(plan)?;
    let mut notes = Vec::new();
    if with_binary && check_at == CheckAt::Device {
        notes.extend(compat::binary_release(plan)?);
    }
    notes.extend(compat::check(plan, current_version.as_deref(), root)?);
    Ok(Runtime {
        current_version: current_version.map_or(RunningVersion::NotRead, RunningVersion::Read),
        verified_input: None,
        notes,
    })
}

/// The version the device runs, when anti-rollback is on; its absence is an error, so that an
/// unknown version never means "any version".
fn current_version(plan: &Plan) -> Result<Option<String>, Error> {
    let ar = &plan.anti_rollback;
    if !ar.enabled.value {
        return Ok(None);
    }
    let file = &ar.version_file;
    let hint = "set SWUPDATE_VERSION_FILE and SWUPDATE_VERSION_KEY to where the image records its release, or SWUPDATE_ANTI_ROLLBACK=no to allow installing older releases";
    let text = fs::read_to_string(&file.value).map_err(|e| {
        Error::new(
            Kind::Config,
            format!("anti-rollback needs the running version, but the version file ({} from {}) cannot be read: {e}", file.name, file.origin),
        )
        .on(&file.value)
        .hint(hint)
    })?;
    match rollback::find_version(&text, &ar.key.value) {
        Some(v) if rollback::usable(&v) => Ok(Some(v)),
        Some(v) => Err(Error::new(
            Kind::Config,
            format!("the running version `{v}` ({} in the version file) cannot be passed to swupdate", ar.key.value),
        )
        .on(&file.value)),
        None => Err(Error::new(
            Kind::Config,
            format!("anti-rollback needs the running version, but the version file has no {} ({} from {})", ar.key.value, ar.key.name, ar.key.origin),
        )
        .on(&file.value)
        .hint(hint)),
    }
}

/// The `cafile` of the `download` section of swupdate's configuration file (libconfig, read
/// by [`crate::swupdate_config`]: comments, other sections and other names do not count); `Err`
/// if the text is not libconfig (swupdate would refuse it too).
pub fn cafile_settings(
    text: &str,
    include: crate::swupdate_config::Include,
) -> Result<Vec<String>, String> {
    let config = crate::swupdate_config::Config::parse_with(text, include)?;
    Ok(config
        .string("download", "cafile")
        .map(str::to_string)
        .into_iter()
        .collect())
}

/// The preflight must trust what swupdate's downloader trusts: the `-d` string has no CA
/// option, so a configured CA file must also be the `cafile` of swupdate's configuration.
fn downloader_agrees(plan: &Plan, ca: &Traced<PathBuf>, root: &Root) -> Result<(), Error> {
    let device_ca = match root.dir() {
        Some(r) => Path::new("/").join(ca.value.strip_prefix(r).unwrap_or(&ca.value)),
        None => ca.value.clone(),
    };
    let cfg = compat::config_file(plan);
    let host_cfg = root.host(&cfg);
    let hint = format!(
        "set `cafile = \"{}\";` in the download section of {} (the -d string has no CA option), or leave SWUPDATE_CA_FILE unset so both use the system store",
        device_ca.display(),
        cfg.display()
    );
    let text = read_bounded(&host_cfg).map_err(|e| {
        Error::new(
            Kind::Config,
            format!(
                "SWUPDATE_CA_FILE ({}) is set, but swupdate's configuration file cannot be read ({e}): its downloader would trust other CAs than the preflight",
                ca.origin
            ),
        )
        .on(&host_cfg)
        .hint(hint.clone())
    })?;
    let found = cafile_settings(&text, &crate::compat::include_reader(root)).map_err(|e| {
        Error::new(
            Kind::Config,
            format!("swupdate's configuration file is not valid libconfig ({e}): swupdate would refuse it"),
        )
        .on(&host_cfg)
    })?;
    if found.iter().any(|f| Path::new(f) == device_ca) {
        return Ok(());
    }
    Err(Error::new(
        Kind::Config,
        format!(
            "SWUPDATE_CA_FILE ({}) is {}, but swupdate's downloader is told {}",
            ca.origin,
            device_ca.display(),
            if found.is_empty() {
                "no cafile (it would use the system store)".to_string()
            } else {
                format!("cafile {}", found.join(", "))
            }
        ),
    )
    .on(&host_cfg)
    .hint(hint))
}

/// A configuration file, at most [`crate::swupdate_config::MAX_LEN`] bytes of it.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut buf = Vec::new();
    File::open(path)?
        .take(crate::swupdate_config::MAX_LEN as u64)
        .read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cafile_of(text: &str) -> Result<Vec<String>, String> {
        cafile_settings(text, &|p| Err(format!("no {p}")))
    }

    #[test]
    fn only_the_download_sections_cafile_counts() {
        let text = "globals: { verbose = true; };\ndownload: {\n  retries = 3;\n  cafile = \"/etc/ssl/a.pem\";\n};\nsuricatta: { cafile: \"/b.pem\" };\n";
        assert_eq!(cafile_of(text).unwrap(), ["/etc/ssl/a.pem"]);
    }

    #[test]
    fn words_that_merely_contain_cafile_are_not_settings() {
        assert!(
            cafile_of("# cafile is unset\nmycafile_note = 1;\n")
                .unwrap()
                .is_empty()
        );
        assert!(
            cafile_of("download: { mycafile = \"/x.pem\"; };\n")
                .unwrap()
                .is_empty()
        );
        assert!(
            cafile_of("# cafile = \"/old.pem\";\n// cafile = \"/x\";\n")
                .unwrap()
                .is_empty()
        );
    }
}
