//! What only the installed swupdate, its key and its configuration file can tell: the checks
//! that make a configuration fit the release it runs on (run by `check` and before a start).
//!
//! - The release: SWUPDATE_VERSION (the layer writes the recipe's PV) is what the option table
//!   is checked against; `check` compares it with the binary's own `--version` (Debian's builds
//!   before 2026 print none). Unknown, every supported release's options are accepted and
//!   `check` warns.
//! - The verifier: 2025.12+ builds may register several providers and pick RSA by default; a
//!   CMS certificate then fails (Debian sid's 2026.05.1 crashes on it). The key file is sniffed
//!   and must agree with SWUPDATE_DIGEST_PROVIDER (or `digest-provider` in `globals`).
//! - Typed updates: from 2025.12 `-N`/`-R`/`--max-version` bound only the "default" update
//!   type; an `.swu` declaring another type is judged by the configuration file's
//!   `update-types` entry. With anti-rollback on, every entry must carry a floor no lower than
//!   the running version (and the launcher's max version and reinstall rule), or the launcher
//!   refuses to start: a typed `.swu` must not slip past the floor.
//! - Suricatta: the `-u` string must have what the hawkBit module needs at start.
//!
//! Reads the key file's first bytes, swupdate's configuration file and its `@include`s (in the
//! root, bounded); [`binary_release`] (for `check` only) runs the swupdate binary with
//! `--version` and `-h`, bounded in time and output.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Kind};
use crate::plan::{Mode, Plan, Traced};
use crate::rootfs::Root;
use crate::swupdate::config::{Config, MAX_LEN, version_cmp};
use crate::swupdate::getopt::{Arg, Found, last_value};
use crate::swupdate::options::parse;
use crate::swupdate::release::{PROVIDERS, Release};
use crate::swupdate::suricatta;
use crate::system::process;

/// What a key file holds, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// `-----BEGIN CERTIFICATE-----`: CMS/PKCS#7 verification.
    Certificate,
    /// `-----BEGIN PUBLIC KEY-----` or `RSA PUBLIC KEY`: RSA/RSA-PSS verification.
    PublicKey,
    Other,
}

pub fn key_kind(head: &[u8]) -> KeyKind {
    let t = String::from_utf8_lossy(head);
    if t.contains("-----BEGIN CERTIFICATE-----") || t.contains("-----BEGIN TRUSTED CERTIFICATE") {
        KeyKind::Certificate
    } else if t.contains("-----BEGIN PUBLIC KEY-----")
        || t.contains("-----BEGIN RSA PUBLIC KEY-----")
    {
        KeyKind::PublicKey
    } else {
        KeyKind::Other
    }
}

/// Whether a provider verifies CMS/PKCS#7 signatures with certificates.
pub fn is_cms_provider(p: &str) -> bool {
    p.contains("CMS") || p.starts_with("pkcs#7")
}

fn read_head(path: &Path, max: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.take(max as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// The release checks apply to: the stated one, or (unknown) every one from 2025.12 on too.
fn from_providers(plan: &Plan) -> Option<bool> {
    plan.release.as_ref().map(|r| r.value >= PROVIDERS)
}

/// The reader of swupdate.cfg's `@include` files: absolute device paths, resolved in the root and
/// bounded like the configuration file itself. Nothing of their content reaches a message (an
/// included file is where products keep tokens).
pub fn include_reader(root: &Root) -> impl Fn(&str) -> Result<String, String> + '_ {
    move |p: &str| {
        if !p.starts_with('/') {
            return Err(format!(
                "@include \"{p}\" is relative (swupdate resolves it from its working directory): give an absolute path"
            ));
        }
        match read_head(&root.host(Path::new(p)), MAX_LEN + 1) {
            Ok(b) if b.len() > MAX_LEN => {
                Err(format!("@include \"{p}\" is larger than {MAX_LEN} bytes"))
            }
            Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Err(e) => Err(format!("@include \"{p}\" cannot be read: {e}")),
        }
    }
}

fn config_error(path: &Path, msg: String) -> Error {
    Error::new(Kind::Config, msg).on(path)
}

/// What the checks look at.
pub(crate) struct Facts<'a> {
    pub plan: &'a Plan,
    /// swupdate's configuration file, read once per start.
    pub cfg: &'a SwupdateCfg,
    /// The running release (with anti-rollback).
    pub running: Option<&'a str>,
    /// The device: every path of the plan is a device path, placed under it here.
    pub root: &'a Root,
}

/// When a check runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Before every start, and in `check`: reads only files.
    Start,
    /// Only in `check` on the device: asks the swupdate binary (`--version`, `-h`).
    Check,
}

/// One named check: what must agree between the configuration and the installed swupdate.
pub struct Check {
    pub name: &'static str,
    pub when: When,
    /// What it refuses (or warns of), and why swupdate would fail.
    pub doc: &'static str,
    run: fn(&Facts, &mut Vec<String>) -> Result<(), Error>,
}

/// Every check, in the order they run. (The preflight's CA, which must be the downloader's
/// too, is [`downloader_agrees`]: it runs where the download mode's inputs are checked.)
pub static CHECKS: &[Check] = &[
    Check {
        name: "release-agrees",
        when: When::Check,
        doc: "SWUPDATE_VERSION is the release `SWUPDATE_BIN --version` reports (Debian's builds before 2026 report none; then the stated one is taken). Unset, the options of every supported release are accepted and `check` warns, naming the release the binary reports.",
        run: |f, notes| release_agrees(f.plan, &f.root.host(&f.plan.bin.value), notes),
    },
    Check {
        name: "options-compiled-in",
        when: When::Check,
        doc: "Every option of the user's words that a build may leave out (`-H`, `-k`, `--gpg-home-dir`, ...) is one the binary's getopt_long takes: it is asked, with `-h` after the option.",
        run: |f, _| options_compiled_in(f.plan, &f.root.host(&f.plan.bin.value)),
    },
    Check {
        name: "suricatta-module-selected",
        when: When::Check,
        doc: "A binary whose `-h` lists several suricatta modules (Debian's trixie and sid builds) exits at start without `-S`: the suricatta string must name one.",
        run: |f, _| suricatta_module_selected(f.plan, &f.root.host(&f.plan.bin.value)),
    },
    Check {
        name: "bootloader-environment-present",
        when: When::Check,
        doc: BOOTLOADER_ENVIRONMENT_DOC,
        run: |f, _| bootloader_environment_present(f),
    },
    Check {
        name: "key-fits-verifier",
        when: When::Start,
        doc: "The public key file and the verifier agree: a certificate with an RSA provider, a bare public key with a CMS provider, or (2025.12+, which may register several verifiers and default to RSA) a certificate with no provider (SWUPDATE_DIGEST_PROVIDER, or `digest-provider` in `globals`) is refused; with the release unknown, the last is a warning.",
        run: |f, notes| key_fits_verifier(f.plan, f.cfg, from_providers(f.plan), f.root, notes),
    },
    Check {
        name: "update-types-keep-the-floor",
        when: When::Start,
        doc: "With anti-rollback on (2025.12+, or the release unknown), every `update-types` entry of swupdate's configuration file but `default` carries a `no-downgrading` no lower than the running release, and the launcher's `max-version` and reinstall rule: an `.swu` of another type is judged by its entry, not by the launcher's `-N`/`-R`/`--max-version`.",
        run: |f, _| update_types_keep_the_floor(f.plan, f.cfg, f.running, from_providers(f.plan)),
    },
    Check {
        name: "suricatta-can-start",
        when: When::Start,
        doc: "The suricatta string has what the hawkBit module needs at start (`-t`, `-u`, `-i`, or `tenant`, `url`, `id` in the configuration file's `suricatta` section); warns without `-S` (2023.05+) and when a token is on the command line, readable in `/proc/PID/cmdline`.",
        run: |f, notes| suricatta_can_start(f.plan, f.cfg, notes),
    },
];

/// Runs the checks of `when`; returns the warnings.
fn run(when: When, facts: &Facts) -> Result<Vec<String>, Error> {
    let mut notes = Vec::new();
    for c in CHECKS.iter().filter(|c| c.when == when) {
        (c.run)(facts, &mut notes)?;
    }
    Ok(notes)
}

/// The checks of every start (key, configuration file, suricatta), over swupdate's
/// configuration file as [`SwupdateCfg::read`] read it (once per start: the preflight's CA
/// check reads the same). Returns warnings for `check`.
pub fn check(
    plan: &Plan,
    cfg: &SwupdateCfg,
    running: Option<&str>,
    root: &Root,
) -> Result<Vec<String>, Error> {
    run(
        When::Start,
        &Facts {
            plan,
            cfg,
            running,
            root,
        },
    )
}

/// The checks that ask the binary (`check` only: a start never runs it).
pub fn binary_release(plan: &Plan, cfg: &SwupdateCfg, root: &Root) -> Result<Vec<String>, Error> {
    run(
        When::Check,
        &Facts {
            plan,
            cfg,
            running: None,
            root,
        },
    )
}

/// The table of checks, for docs/swupdate-releases.md.
pub fn checks_markdown() -> String {
    let mut out = String::from("| check | when | what it refuses, and why |\n|---|---|---|\n");
    for c in CHECKS {
        let when = match c.when {
            When::Start => "every start and `check`",
            When::Check => "`check` (asks the binary)",
        };
        out.push_str(&format!("| `{}` | {when} | {} |\n", c.name, c.doc));
    }
    out
}

/// swupdate's configuration file, as far as the checks can read it.
pub struct SwupdateCfg {
    /// The device path (in messages) and this machine's.
    path: PathBuf,
    host: PathBuf,
    /// The settings, or why there are none.
    config: Result<Config, CfgProblem>,
    /// What was read, parsed or not.
    text: String,
}

/// Why there is no [`Config`].
enum CfgProblem {
    /// The file cannot be opened or read (swupdate runs without it when it is missing).
    Unreadable(String),
    /// Read, but not libconfig the launcher can read (swupdate would refuse it).
    NotLibconfig(String),
}

impl SwupdateCfg {
    /// Reads the file swupdate will read (bounded; `@include` followed in the root). Only a
    /// file over the bound is an error here; a missing or unparsable one is recorded, with a
    /// note for the latter, and each check decides what that means for it.
    pub fn read(plan: &Plan, root: &Root, notes: &mut Vec<String>) -> Result<SwupdateCfg, Error> {
        let path = config_file(plan);
        let host = root.host(&path);
        let (config, text) = match read_head(&host, MAX_LEN + 1) {
            Err(e) => (Err(CfgProblem::Unreadable(e.to_string())), String::new()),
            Ok(b) if b.len() > MAX_LEN => {
                return Err(config_error(
                    &host,
                    format!("swupdate's configuration file is larger than {MAX_LEN} bytes"),
                ));
            }
            Ok(b) => {
                let text = String::from_utf8_lossy(&b).into_owned();
                match Config::parse_with(&text, &include_reader(root)) {
                    Ok(c) => (Ok(c), text),
                    Err(e) => {
                        notes.push(format!(
                            "swupdate's configuration file {} could not be read fully ({e}); its settings were not checked",
                            path.display()
                        ));
                        (Err(CfgProblem::NotLibconfig(e)), text)
                    }
                }
            }
        };
        Ok(SwupdateCfg {
            path,
            host,
            config,
            text,
        })
    }
}

impl SwupdateCfg {
    /// The settings, when the file was read and parsed.
    fn settings(&self) -> Option<&Config> {
        self.config.as_ref().ok()
    }
}

/// The preflight must trust what swupdate's downloader trusts: the `-d` string has no CA
/// option, so a configured CA file must also be the `cafile` of the `download` section of
/// swupdate's configuration file.
pub(crate) fn downloader_agrees(ca: &Traced<PathBuf>, cfg: &SwupdateCfg) -> Result<(), Error> {
    let device_ca = &ca.value;
    let hint = format!(
        "set `cafile = \"{}\";` in the download section of {} (the -d string has no CA option), or leave SWUPDATE_CA_FILE unset so both use the system store",
        device_ca.display(),
        cfg.path.display()
    );
    let config = match &cfg.config {
        Ok(c) => c,
        Err(CfgProblem::NotLibconfig(e)) => {
            return Err(config_error(
                &cfg.host,
                format!(
                    "swupdate's configuration file is not valid libconfig ({e}): swupdate would refuse it"
                ),
            ));
        }
        Err(CfgProblem::Unreadable(e)) => {
            return Err(config_error(
                &cfg.host,
                format!(
                    "SWUPDATE_CA_FILE ({}) is set, but swupdate's configuration file cannot be read ({e}): its downloader would trust other CAs than the preflight",
                    ca.origin
                ),
            )
            .hint(hint));
        }
    };
    let found = config.string("download", "cafile");
    if found.is_some_and(|f| Path::new(f) == *device_ca) {
        return Ok(());
    }
    Err(config_error(
        &cfg.host,
        format!(
            "SWUPDATE_CA_FILE ({}) is {}, but swupdate's downloader is told {}",
            ca.origin,
            device_ca.display(),
            match found {
                None => "no cafile (it would use the system store)".to_string(),
                Some(f) => format!("cafile {f}"),
            }
        ),
    )
    .hint(hint))
}

/// The verifier and the key agree.
fn key_fits_verifier(
    plan: &Plan,
    cfg: &SwupdateCfg,
    modern: Option<bool>,
    root: &Root,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let Some(k) = &plan.public_key else {
        return Ok(());
    };
    let key = root.host(&k.value);
    let kind = read_head(&key, 8192).map_or(KeyKind::Other, |h| key_kind(&h));
    let from_cfg = cfg
        .settings()
        .and_then(|c| c.string("globals", "digest-provider"))
        .map(str::to_string);
    let provider = plan
        .digest_provider
        .as_ref()
        .map(|p| p.value.clone())
        .or(from_cfg);
    let hint_cms = "set SWUPDATE_DIGEST_PROVIDER=opensslCMS in the EnvironmentFile (or digest-provider = \"opensslCMS\"; in the globals of swupdate's configuration file)";
    match (kind, provider.as_deref(), modern) {
        (KeyKind::Certificate, Some(p), _) if !is_cms_provider(p) && p != "GPG" => {
            return Err(Error::new(
                Kind::Config,
                format!("the public key ({}) is a certificate, but the digest provider `{p}` expects an RSA public key: swupdate would fail to load it (2026.05.1 crashes)", k.origin),
            )
            .on(&key)
            .hint(hint_cms));
        }
        (KeyKind::PublicKey, Some(p), _) if is_cms_provider(p) => {
            return Err(Error::new(
                Kind::Config,
                format!("the public key ({}) is a bare public key, but the digest provider `{p}` verifies CMS signatures against a certificate", k.origin),
            )
            .on(&key)
            .hint("set SWUPDATE_DIGEST_PROVIDER=opensslRSA (or opensslRSAPSS) for RSA-signed images, or use the signer's certificate"));
        }
        (KeyKind::Certificate, None, Some(true)) => {
            return Err(Error::new(
                Kind::Config,
                format!("the public key ({}) is a certificate (CMS), and swupdate {} may register several verifiers and default to RSA, which cannot load it", k.origin, plan.release.as_ref().map_or(String::new(), |r| r.value.to_string())),
            )
            .on(&key)
            .hint(hint_cms));
        }
        (KeyKind::Certificate, None, None) => notes.push(format!(
            "the public key is a certificate: on swupdate 2025.12 or later with several verifiers (Debian's 2026.05.1) it needs --digest-provider opensslCMS; {hint_cms}, and SWUPDATE_VERSION"
        )),
        _ => {}
    }
    Ok(())
}

/// Typed updates keep the floor: with anti-rollback on, every update type but "default" must
/// carry the bounds the launcher's -N/-R/--max-version give the default one.
fn update_types_keep_the_floor(
    plan: &Plan,
    cfg: &SwupdateCfg,
    running: Option<&str>,
    modern: Option<bool>,
) -> Result<(), Error> {
    let ar = &plan.anti_rollback;
    if !ar.enabled.value || modern == Some(false) {
        return Ok(());
    }
    let types = match cfg.settings() {
        Some(c) => c.update_types(),
        None if cfg.text.contains("update-types") => {
            return Err(config_error(
                &cfg.host,
                "swupdate's configuration file has update-types that the launcher cannot read: anti-rollback for typed updates cannot be checked".into(),
            ));
        }
        None => Vec::new(),
    };
    for t in types.iter().filter(|t| t.name != "default") {
        let fail = |what: String| {
            Err(config_error(
                &cfg.host,
                format!(
                    "update type `{}` in {}: {what}; an .swu declaring update-type \"{}\" is judged by it, not by the launcher's -N/-R/--max-version (swupdate 2025.12+)",
                    t.name,
                    cfg.path.display(),
                    t.name
                ),
            ))
            .map_err(|e: Error| e.hint("give every update type no-downgrading (and max-version / no-reinstalling where the launcher sets them) at least the running release, e.g. generated with the image, or set SWUPDATE_ANTI_ROLLBACK=no"))
        };
        match (&t.no_downgrading, running) {
            (None, _) => {
                return fail("it has no no-downgrading, so it installs older releases".into());
            }
            (Some(f), Some(run)) if version_cmp(f, run).is_lt() => {
                return fail(format!(
                    "its floor no-downgrading = \"{f}\" is below the running release {run}"
                ));
            }
            _ => {}
        }
        if let Some(m) = &ar.max_version {
            match &t.max_version {
                None => {
                    return fail(format!(
                        "it has no max-version, while SWUPDATE_MAX_VERSION is {}",
                        m.value
                    ));
                }
                Some(tm) if version_cmp(tm, &m.value).is_gt() => {
                    return fail(format!(
                        "its max-version \"{tm}\" is above SWUPDATE_MAX_VERSION {}",
                        m.value
                    ));
                }
                _ => {}
            }
        }
        if !ar.reinstall.value {
            if let (Some(run), false) = (running, t.no_reinstalling.as_deref() == running) {
                return fail(format!(
                    "its no-reinstalling is not the running release {run}, while SWUPDATE_REINSTALL=no"
                ));
            }
        }
    }
    Ok(())
}

/// Suricatta has what it needs at start.
fn suricatta_can_start(
    plan: &Plan,
    cfg: &SwupdateCfg,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let Mode::Daemon {
        suricatta: Some(s), ..
    } = &plan.mode
    else {
        return Ok(());
    };
    let release = plan.release.as_ref().map(|r| r.value);
    let p = suricatta::parse(&s.value, release).map_err(|e| {
        Error::new(
            Kind::Config,
            format!("SWUPDATE_SURICATTA_ARGS ({}): {e}", s.origin),
        )
    })?;
    let in_cfg = |key: &str| {
        cfg.settings()
            .is_some_and(|c| c.0.get("suricatta").and_then(|g| g.get(key)).is_some())
    };
    let hawkbit = p.server.as_deref().is_none_or(|m| m == "hawkbit");
    let missing = p.missing(&in_cfg);
    if hawkbit && !missing.is_empty() {
        return Err(Error::new(
            Kind::Config,
            format!(
                "SWUPDATE_SURICATTA_ARGS ({}) lacks {}: suricatta's hawkBit module exits at start (\"Mandatory arguments missing\")",
                s.origin,
                missing.join(", ")
            ),
        )
        .hint("give -t TENANT -u URL -i DEVICE-ID, or tenant/url/id in the suricatta section of swupdate's configuration file"));
    }
    if p.server.is_none() && release.is_none_or(|r| r >= suricatta::SERVER_SINCE) {
        notes.push("SWUPDATE_SURICATTA_ARGS has no -S: a build with several suricatta modules (Debian's 2026.05.1) exits at start (\"Multiple suricatta modules available but none selected\"); add -S hawkbit".into());
    }
    if p.has_token {
        notes.push("SWUPDATE_SURICATTA_ARGS carries a hawkBit token or header value: everything on swupdate's command line is readable in /proc/PID/cmdline by every local user (unless /proc is mounted with hidepid); put targettoken/gatewaytoken in the suricatta section, and headers in the custom-http-headers section, of swupdate's configuration file (root-only) instead".into());
    }
    Ok(())
}

/// Where libubootenv finds the U-Boot environment's description: swupdate's
/// `CONFIG_UBOOT_FWENV` default (a build may change it; `fwenv-config-location` in `globals`
/// overrides it from 2023.12).
const FW_ENV_CONFIG: &str = "/etc/fw_env.config";

const BOOTLOADER_ENVIRONMENT_DOC: &str = "A swupdate whose bootloader interface is U-Boot keeps the update state in the U-Boot environment: on a device without the environment's description (`/etc/fw_env.config`, or `fwenv-config-location` in `globals` from 2023.12) it installs the image and then exits 1 (\"Cannot persistently store INSTALLED update state\"). The interface is the last `-B` of the user's options, else `bootloader` in `globals`, else the build's default, which `swupdate -h` prints (`bootloader interface (default: uboot)`: meta-swupdate's defconfig, `CONFIG_UBOOT=y`; Debian's builds say `none`). Refused unless `-m` (no state marker) is among the user's options; the hint says what to set instead.";

/// The U-Boot environment a U-Boot swupdate stores its update state in exists (unless `-m`).
fn bootloader_environment_present(f: &Facts) -> Result<(), Error> {
    let root = f.root;
    let found = user_options(f.plan);
    if found.iter().any(|o| o.opt.short == Some('m')) {
        return Ok(());
    }
    let globals = |key| f.cfg.settings().and_then(|c| c.string("globals", key));
    let chosen = last_value(&found, 'B')
        .map(|b| (b.to_string(), "-B among the user's options".to_string()))
        .or_else(|| {
            globals("bootloader").map(|b| {
                (
                    b.to_string(),
                    format!("`bootloader` in the globals of {}", f.cfg.path.display()),
                )
            })
        })
        .or_else(|| {
            let help = run_briefly(&root.host(&f.plan.bin.value), "-h")?;
            let b = build_default_bootloader(&help)?;
            Some((
                b,
                format!(
                    "the build's default, as `{} -h` prints it",
                    f.plan.bin.value.display()
                ),
            ))
        });
    let Some((bootloader, from)) = chosen else {
        return Ok(());
    };
    if bootloader != "uboot" {
        return Ok(());
    }
    let env = globals("fwenv-config-location").unwrap_or(FW_ENV_CONFIG);
    let host = root.host(Path::new(env));
    if File::open(&host).is_ok() {
        return Ok(());
    }
    Err(Error::new(
        Kind::Config,
        format!(
            "swupdate keeps its update state in the U-Boot environment (bootloader interface `uboot`: {from}), but this device has no {env}: every install would write the image and then exit 1 (\"Cannot persistently store INSTALLED update state\")"
        ),
    )
    .on(&host)
    .hint(format!(
        "describe the device's U-Boot environment in {env} (libubootenv's fw_env.config); on a device without one, add -m to SWUPDATE_EXTRA_ARGS (no update state in the bootloader) or choose another interface (-B none, or `bootloader = \"none\";` in globals)"
    )))
}

/// The default bootloader interface in `swupdate -h`: `-B, --bootloader : bootloader interface
/// (default: uboot)` (every supported release prints it).
fn build_default_bootloader(help: &str) -> Option<String> {
    let (_, rest) = help.split_once("bootloader interface (default: ")?;
    let name = rest.split(')').next()?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// SWUPDATE_VERSION is the release the binary reports (when it reports one).
fn release_agrees(plan: &Plan, bin: &Path, notes: &mut Vec<String>) -> Result<(), Error> {
    let reported = run_briefly(bin, "--version").and_then(|out| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix("SWUpdate v"))
            .and_then(Release::parse)
    });
    match (&plan.release, reported) {
        (Some(stated), Some(real)) if stated.value.line() != real.line() || stated.value.patch != real.patch => {
            return Err(Error::new(
                Kind::Config,
                format!(
                    "SWUPDATE_VERSION ({}) says {}, but {} reports {real}",
                    stated.origin,
                    stated.value,
                    bin.display()
                ),
            )
            .on(bin)
            .hint("SWUPDATE_VERSION must be the installed swupdate's release (the layer writes the recipe's PV)"));
        }
        (None, Some(real)) => notes.push(format!(
            "SWUPDATE_VERSION is not set: options were checked against every release from 2022.12 to 2026.05; {} reports {real}: set SWUPDATE_VERSION={real} in the EnvironmentFile",
            bin.display()
        )),
        (None, None) => notes.push(
            "SWUPDATE_VERSION is not set and swupdate does not report its release: options were checked against every release from 2022.12 to 2026.05".into(),
        ),
        _ => {}
    }
    Ok(())
}

/// Options a build may leave out: asked of this binary, as its getopt_long answers.
fn options_compiled_in(plan: &Plan, bin: &Path) -> Result<(), Error> {
    let found = user_options(plan);
    let mut asked: Vec<&str> = Vec::new();
    for f in found.iter().filter(|f| f.opt.build.is_some()) {
        if asked.contains(&f.spelled.as_str()) {
            continue;
        }
        asked.push(&f.spelled);
        let mut probe = vec![f.spelled.as_str()];
        if f.opt.arg == Arg::Required {
            probe.push("/nonexistent");
        }
        probe.push("-h");
        let refused = run_args(bin, &probe).is_some_and(|out| {
            out.contains("unrecognized option")
                || out.contains("invalid option")
                || out.contains("ambiguous")
        });
        if refused {
            let release = plan.release.as_ref().map(|r| r.value);
            let origin = plan
                .user_args
                .iter()
                .find(|a| {
                    parse(&a.value, release)
                        .is_ok_and(|found| found.iter().any(|g| g.spelled == f.spelled))
                })
                .map_or(String::new(), |a| {
                    format!(" ({} from {})", a.name, a.origin)
                });
            return Err(Error::new(
                Kind::Config,
                format!(
                    "`{}`{origin} is not compiled into {}: it answers \"unrecognized option\" (it needs {})",
                    f.spelled,
                    bin.display(),
                    f.opt.build.unwrap_or("a build option")
                ),
            )
            .on(bin)
            .hint("drop the option, or build swupdate with it"));
        }
    }
    Ok(())
}

/// A binary with several suricatta modules (its `-h` lists each) needs `-S`.
fn suricatta_module_selected(plan: &Plan, bin: &Path) -> Result<(), Error> {
    let Mode::Daemon {
        suricatta: Some(s), ..
    } = &plan.mode
    else {
        return Ok(());
    };
    let modules =
        run_briefly(bin, "-h").map_or(0, |h| h.matches("Options for suricatta module").count());
    let p = suricatta::parse(&s.value, plan.release.as_ref().map(|r| r.value));
    if modules > 1 && p.is_ok_and(|p| p.server.is_none()) {
        return Err(Error::new(
            Kind::Config,
            format!(
                "SWUPDATE_SURICATTA_ARGS ({}) has no -S, and {} has {modules} suricatta modules: it would exit at start (\"Multiple suricatta modules available but none selected\")",
                s.origin,
                bin.display()
            ),
        )
        .hint("add -S hawkbit"));
    }
    Ok(())
}

/// The user's options (every options variable, in argv order) as swupdate's getopt_long will
/// read them, by the one option table; none when they do not parse (the plan refused those).
pub(crate) fn user_options(plan: &Plan) -> Vec<Found> {
    let words: Vec<String> = plan
        .user_args
        .iter()
        .flat_map(|a| a.value.iter().cloned())
        .collect();
    parse(&words, plan.release.as_ref().map(|r| r.value)).unwrap_or_default()
}

/// The configuration file swupdate will read: the one `SWUPDATE_CONFIG_FILES` chose (its first
/// when none exists: the start is refused then), else the last `-f` among the user's options
/// (in any form its getopt_long accepts: `--file=`, `-vf/x`, `--fi /x`), else
/// `/etc/swupdate.cfg` (which swupdate reads when it exists).
pub(crate) fn config_file(plan: &Plan) -> PathBuf {
    if let Some(c) = &plan.config_file {
        let first = c.candidates.value.first();
        if let Some(p) = c.chosen.as_ref().or(first) {
            return p.clone();
        }
    }
    PathBuf::from(last_value(&user_options(plan), 'f').unwrap_or("/etc/swupdate.cfg"))
}

/// The output (stdout and stderr) of `bin arg`, at most 1 MiB within 5 seconds; `None` when it
/// cannot run.
fn run_briefly(bin: &Path, arg: &str) -> Option<String> {
    run_args(bin, &[arg])
}

fn run_args(bin: &Path, args: &[&str]) -> Option<String> {
    run_within(bin, args, Duration::from_secs(5))
}

/// [`run_args`] with its deadline.
fn run_within(bin: &Path, args: &[&str], within: Duration) -> Option<String> {
    use std::process::{Command, Stdio};
    let (mut out, write) = process::pipe().ok()?;
    let mut child = Command::new(bin)
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(write.try_clone().ok()?)
        .stderr(write)
        .spawn()
        .ok()?;
    let deadline = Instant::now() + within;
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        if !process::readable_within(&out, left) {
            continue;
        }
        match out.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
        if text.len() > 1 << 20 {
            timed_out = true;
            break;
        }
    }
    drop(out);
    if timed_out {
        let _ = child.kill();
    }
    let _ = child.wait();
    (!timed_out).then(|| String::from_utf8_lossy(&text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cafile_of(text: &str) -> Option<String> {
        Config::parse(text)
            .unwrap()
            .string("download", "cafile")
            .map(str::to_string)
    }

    #[test]
    fn only_the_download_sections_cafile_counts() {
        let text = "globals: { verbose = true; };\ndownload: {\n  retries = 3;\n  cafile = \"/etc/ssl/a.pem\";\n};\nsuricatta: { cafile: \"/b.pem\" };\n";
        assert_eq!(cafile_of(text).as_deref(), Some("/etc/ssl/a.pem"));
    }

    #[test]
    fn words_that_merely_contain_cafile_are_not_settings() {
        assert_eq!(cafile_of("# cafile is unset\nmycafile_note = 1;\n"), None);
        assert_eq!(cafile_of("download: { mycafile = \"/x.pem\"; };\n"), None);
        assert_eq!(
            cafile_of("# cafile = \"/old.pem\";\n// cafile = \"/x\";\n"),
            None
        );
    }

    const SH: &str = "/bin/sh";

    #[test]
    fn a_program_s_output_and_errors_are_read_whole() {
        let out = run_args(Path::new(SH), &["-c", "echo out; echo err >&2"]);
        assert_eq!(out.as_deref(), Some("out\nerr\n"));
    }

    #[test]
    fn a_program_runs_with_an_empty_environment_and_no_input() {
        let out = run_args(
            Path::new(SH),
            &["-c", "echo \"[$HOME]\"; /bin/cat; echo end"],
        );
        assert_eq!(out.as_deref(), Some("[]\nend\n"));
    }

    #[test]
    fn a_program_past_its_deadline_is_killed_and_gives_nothing() {
        let started = Instant::now();
        let out = run_within(
            Path::new(SH),
            &["-c", "exec /bin/sleep 30"],
            Duration::from_millis(200),
        );
        assert_eq!(out, None);
        assert!(started.elapsed() < Duration::from_secs(20), "not killed");
    }

    #[test]
    fn a_program_that_writes_more_than_a_mebibyte_gives_nothing() {
        let out = run_args(Path::new(SH), &["-c", "exec /usr/bin/yes"]);
        assert_eq!(out, None);
    }

    #[test]
    fn a_program_that_cannot_start_gives_nothing() {
        assert_eq!(
            run_args(Path::new("/nonexistent/swupdate"), &["--version"]),
            None
        );
    }

    #[test]
    fn a_pem_certificate_is_a_certificate() {
        assert_eq!(
            key_kind(b"-----BEGIN CERTIFICATE-----\nMII"),
            KeyKind::Certificate
        );
    }

    #[test]
    fn a_pem_public_key_is_a_public_key() {
        assert_eq!(
            key_kind(b"-----BEGIN PUBLIC KEY-----\nMII"),
            KeyKind::PublicKey
        );
        assert_eq!(
            key_kind(b"-----BEGIN RSA PUBLIC KEY-----\n"),
            KeyKind::PublicKey
        );
    }

    #[test]
    fn anything_else_is_not_judged() {
        assert_eq!(key_kind(b"\x30\x82\x01"), KeyKind::Other);
    }

    #[test]
    fn the_builds_default_bootloader_is_read_from_its_help() {
        let help =
            "Usage\n -B, --bootloader               : bootloader interface (default: uboot)\n -v\n";
        assert_eq!(build_default_bootloader(help).as_deref(), Some("uboot"));
        assert_eq!(build_default_bootloader("Usage\n -v\n"), None);
    }

    #[test]
    fn every_check_has_a_unique_name_and_a_doc() {
        for (i, c) in CHECKS.iter().enumerate() {
            assert!(c.doc.len() > 40, "{}", c.name);
            assert!(!CHECKS[..i].iter().any(|d| d.name == c.name), "{}", c.name);
        }
    }

    #[test]
    fn cms_providers_are_told_from_rsa_ones() {
        assert!(is_cms_provider("opensslCMS"));
        assert!(is_cms_provider("pkcs#7mbedtls"));
        assert!(!is_cms_provider("opensslRSAPSS"));
    }
}
