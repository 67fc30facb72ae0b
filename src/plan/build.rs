//! [`build()`]: from the raw settings to a [`Plan`], or the first reason there is none.

use std::borrow::Cow;
use std::path::PathBuf;

use crate::config::settings::{self, Origin, Setting, Settings};
use crate::config::vocabulary::names::*;
use crate::error::{Error, Kind};
use crate::plan::url::Url;
use crate::plan::values::{
    absolute_path, daemon_string, non_empty, or_default, setting_error, switch, traced, user_words,
    whole_number, yes_no,
};
use crate::plan::verification::verification;
use crate::plan::*;
use crate::swupdate::Release;

/// The plan, or the first reason there is none; each step reads its variables in the order of
/// the argv (binary, key, options, mode), so the first error is the one nearest the start.
pub fn build(inputs: &Inputs) -> Result<Plan, Error> {
    let Inputs { topology, vars, .. } = inputs;

    let (bin, public_key) = binary_and_key(topology)?;
    let (release, digest_provider) = release_and_provider(topology)?;
    let known = release.as_ref().map(|r| r.value);
    let user_args = user_args(vars, known)?;
    let slots = slot_table(vars, &user_args, known)?;

    let (source, mode_origin) = source(inputs)?;
    fits_the_unit(inputs.expect, source, &mode_origin)?;
    // The daemon variables have no meaning in a one-shot mode: refuse rather than guess,
    // unless this run was told on its command line to install one file.
    if source != Source::Daemon && inputs.update_file_override.is_none() {
        no_daemon_strings(vars, source, &mode_origin)?;
    }
    let mode = match source {
        Source::File => file_mode(inputs, &mode_origin)?,
        Source::Download => download_mode(inputs, &mode_origin)?,
        Source::Daemon => daemon_mode(vars, known)?,
    };

    let anti_rollback = anti_rollback(vars, !matches!(mode, Mode::Daemon { .. }))?;
    let verification = verification_stage(inputs, &mode)?;
    let config_file = config_file(vars, &user_args, known)?;

    Ok(Plan {
        bin,
        public_key,
        release,
        digest_provider,
        user_args,
        mode,
        mode_origin,
        anti_rollback,
        verification,
        config_file,
        slots,
    })
}

/// `SWUPDATE_CONFIG_FILES`: absolute paths, the first that exists is passed as `-f`. With it
/// set, `-f` in the user's options would be a second answer to the same question: refused.
fn config_file(
    vars: &Settings,
    user_args: &[Traced<Vec<String>>],
    known: Option<Release>,
) -> Result<Option<ConfigFile>, Error> {
    let Some(s) = non_empty(vars, SWUPDATE_CONFIG_FILES) else {
        return Ok(None);
    };
    let mut candidates = Vec::new();
    for word in s.value.split_whitespace() {
        let path = PathBuf::from(word);
        if !path.is_absolute() || word.split('/').any(|c| c == "..") {
            return Err(setting_error(
                SWUPDATE_CONFIG_FILES,
                s,
                format!("`{word}` is not an absolute path without `..`"),
            ));
        }
        candidates.push(path);
    }
    for a in user_args {
        let found = crate::swupdate::options::parse(&a.value, known).unwrap_or_default();
        if crate::swupdate::options::last_value(&found, 'f').is_some() {
            let at = vars.get(a.name).unwrap_or(s);
            return Err(setting_error(
                a.name,
                at,
                format!("passes `-f`, but SWUPDATE_CONFIG_FILES ({}) chooses swupdate's configuration file", s.origin),
            )
            .hint("keep one: the list in SWUPDATE_CONFIG_FILES, or the -f option"));
        }
    }
    Ok(Some(ConfigFile {
        candidates: traced(candidates, SWUPDATE_CONFIG_FILES, s),
        chosen: None,
    }))
}

/// The A/B slot table, if `SWUPDATE_SLOTS` is set; then the table alone chooses `-e`: a
/// `-e`/`--select` in the user's options (in any spelling swupdate's getopt_long takes, read by
/// the one option reader) is refused at the line that set it.
fn slot_table(
    vars: &Settings,
    user_args: &[Traced<Vec<String>>],
    known: Option<Release>,
) -> Result<Option<Box<crate::slots::Table>>, Error> {
    let Some(table) = crate::slots::Table::from_settings(vars)? else {
        return Ok(None);
    };
    for args in user_args {
        let found = crate::swupdate::options::parse(&args.value, known).unwrap_or_default();
        if let Some(select) = found.iter().find(|f| f.opt.short == Some('e')) {
            let at = Setting {
                value: args.value.join(" "),
                origin: args.origin.clone(),
                expanded: Vec::new(),
            };
            return Err(setting_error(
                args.name,
                &at,
                format!(
                    "has {} {}, but SWUPDATE_SLOTS is set: the slot table chooses -e",
                    select.spelled,
                    select.value.as_deref().unwrap_or_default()
                ),
            )
            .hint("remove it; each SWUPDATE_SLOT_<NAME>'s selection= is passed as -e while that slot runs"));
        }
    }
    Ok(Some(Box::new(table)))
}

/// SWUPDATE_BIN and SWUPDATE_PUBLIC_KEY.
#[allow(clippy::type_complexity)]
fn binary_and_key(
    topology: &Settings,
) -> Result<(Traced<PathBuf>, Option<Traced<PathBuf>>), Error> {
    let bin_setting = topology
        .get(SWUPDATE_BIN)
        .ok_or_else(|| Error::new(Kind::Config, "SWUPDATE_BIN is not set"))?;
    let bin = absolute_path(SWUPDATE_BIN, bin_setting)?;
    let public_key = match non_empty(topology, SWUPDATE_PUBLIC_KEY) {
        Some(s) => Some(absolute_path(SWUPDATE_PUBLIC_KEY, s)?),
        None => None,
    };
    Ok((bin, public_key))
}

/// The words of SWUPDATE_ARGS and SWUPDATE_EXTRA_ARGS, each checked against the release's
/// options; an empty list is left out, and so are the extra options when SWUPDATE_ARGS holds
/// them already ([`extra_args_in_args`]).
fn user_args(vars: &Settings, known: Option<Release>) -> Result<Vec<Traced<Vec<String>>>, Error> {
    let mut user_args = Vec::new();
    for name in [SWUPDATE_ARGS, SWUPDATE_EXTRA_ARGS] {
        if name == SWUPDATE_EXTRA_ARGS && extra_args_in_args(vars).is_some() {
            continue;
        }
        if let Some(s) = vars.get(name) {
            let t = user_words(name, s, known)?;
            if !t.value.is_empty() {
                user_args.push(t);
            }
        }
    }
    Ok(user_args)
}

/// The SWUPDATE_ARGS setting whose value expanded SWUPDATE_EXTRA_ARGS as it is now: the
/// template's `SWUPDATE_ARGS="-v ${SWUPDATE_EXTRA_ARGS}"`, which holds the extra options'
/// words already. swupdate.sh passed them once, inside SWUPDATE_ARGS; so does the launcher
/// (appended again, swupdate would see them twice). A value set after the expansion is still
/// appended: never dropped.
pub fn extra_args_in_args(vars: &Settings) -> Option<&Setting> {
    let args = vars.get(SWUPDATE_ARGS)?;
    let extra = vars.get(SWUPDATE_EXTRA_ARGS)?;
    args.expanded
        .iter()
        .any(|(n, v)| n == SWUPDATE_EXTRA_ARGS && *v == extra.value)
        .then_some(args)
}

/// The mode, and what chose it: the command line's file, SWUPDATE_SOURCE, or (unset) the
/// vocabulary's default. Set but empty is not unset: it is refused like any other non-mode.
fn source(inputs: &Inputs) -> Result<(Source, Origin), Error> {
    if let Some(o) = &inputs.update_file_override {
        return Ok((Source::File, o.origin.clone()));
    }
    let s = match inputs.vars.get(SWUPDATE_SOURCE) {
        Some(s) => Cow::Borrowed(s),
        None => or_default(inputs.vars, SWUPDATE_SOURCE)?,
    };
    match Source::parse(&s.value) {
        Some(source) => Ok((source, s.origin.clone())),
        None => Err(
            setting_error(SWUPDATE_SOURCE, &s, format!("`{}` is not a mode", s.value)).hint(
                "use file, download or daemon (or leave it unset for daemon, as swupdate.sh)",
            ),
        ),
    }
}

/// The unit that started the launcher runs one-shot updates or the daemon, not both.
fn fits_the_unit(expect: Expect, source: Source, mode_origin: &Origin) -> Result<(), Error> {
    match (expect, source) {
        (Expect::OneShot, Source::Daemon) => {
            Err(Error::new(
                Kind::Config,
                format!("--one-shot: the configuration runs the long-lived daemon (SWUPDATE_SOURCE from {mode_origin}), which would never finish"),
            )
            .hint("set SWUPDATE_SOURCE=file or download, or start swupdate-daemon.service instead"))
        }
        (Expect::Daemon, Source::File | Source::Download) => {
            Err(Error::new(
                Kind::Config,
                format!("--daemon: SWUPDATE_SOURCE={} ({mode_origin}) installs one update and exits", source.name()),
            )
            .hint("the daemon unit runs swupdate for webserver/suricatta/IPC: leave SWUPDATE_SOURCE unset or set it to daemon"))
        }
        (Expect::Any, _)
        | (Expect::OneShot, Source::File | Source::Download)
        | (Expect::Daemon, Source::Daemon) => Ok(()),
    }
}

/// A one-shot mode with the daemon's `-w`/`-u` strings set (a blank one too: it starts the
/// daemon's part, [`daemon_part`]), or the daemon's parts switched on.
fn no_daemon_strings(vars: &Settings, source: Source, mode_origin: &Origin) -> Result<(), Error> {
    let mut on = Vec::new();
    for name in [SWUPDATE_WEBSERVER, SWUPDATE_SURICATTA] {
        if let Some(s) = non_empty(vars, name) {
            if settings::yes_or_no(name, s)? {
                on.push((name, s));
            }
        }
    }
    let set = |name| vars.get(name).filter(|s| !s.value.is_empty());
    let mut found = [SWUPDATE_WEBSERVER_ARGS, SWUPDATE_SURICATTA_ARGS]
        .into_iter()
        .filter_map(|n| Some((n, set(n)?)))
        .chain(on);
    match found.next() {
        Some((name, s)) => Err(setting_error(
            name,
            s,
            format!(
                "is set, but SWUPDATE_SOURCE={} ({mode_origin}) runs swupdate once",
                source.name()
            ),
        )
        .hint("a one-shot update and the long-lived webserver/suricatta exclude each other: unset one of them")),
        None => Ok(()),
    }
}

/// `-i`: the command line's file, else UPDATE_FILE.
fn file_mode(inputs: &Inputs, mode_origin: &Origin) -> Result<Mode, Error> {
    let s = match &inputs.update_file_override {
        Some(o) => o,
        None => non_empty(inputs.vars, UPDATE_FILE).ok_or_else(|| {
            Error::new(
                Kind::Config,
                format!("SWUPDATE_SOURCE=file ({mode_origin}) needs UPDATE_FILE, which is not set"),
            )
        })?,
    };
    Ok(Mode::File {
        update_file: absolute_path(UPDATE_FILE, s)?,
    })
}

/// `-d`: the URL, the downloader's retries and timeout, and the preflight's settings.
fn download_mode(inputs: &Inputs, mode_origin: &Origin) -> Result<Mode, Error> {
    let vars = inputs.vars;
    let retries = non_empty(vars, SWUPDATE_DOWNLOAD_RETRIES)
        .map(|s| whole_number(SWUPDATE_DOWNLOAD_RETRIES, s, 0))
        .transpose()?;
    let timeout = non_empty(vars, SWUPDATE_DOWNLOAD_TIMEOUT)
        .map(|s| whole_number(SWUPDATE_DOWNLOAD_TIMEOUT, s, 1))
        .transpose()?;
    let preflight = Box::new(preflight(vars)?);
    let url = match non_empty(vars, URL) {
        Some(s) => DownloadUrl::Given(url(s, preflight.allow_http.value)?),
        None if inputs.check_at == CheckAt::Image => DownloadUrl::WrittenAtStart,
        None => {
            return Err(Error::new(
                Kind::Config,
                format!("SWUPDATE_SOURCE=download ({mode_origin}) needs URL, which is not set"),
            )
            .hint("the management agent writes URL to descriptor.env in the etc conf.d directory before it starts the service"));
        }
    };
    Ok(Mode::Download {
        url,
        retries,
        timeout,
        preflight,
    })
}

fn preflight(vars: &Settings) -> Result<Preflight, Error> {
    Ok(Preflight {
        enabled: switch(vars, SWUPDATE_PREFLIGHT)?,
        allow_http: switch(vars, SWUPDATE_ALLOW_HTTP)?,
        ca_file: non_empty(vars, SWUPDATE_CA_FILE)
            .map(|s| absolute_path(SWUPDATE_CA_FILE, s))
            .transpose()?,
        timeout: non_empty(vars, SWUPDATE_PREFLIGHT_TIMEOUT)
            .map(|s| whole_number(SWUPDATE_PREFLIGHT_TIMEOUT, s, 1))
            .transpose()?,
        budget: non_empty(vars, SWUPDATE_PREFLIGHT_BUDGET)
            .map(|s| whole_number(SWUPDATE_PREFLIGHT_BUDGET, s, 0))
            .transpose()?,
    })
}

/// The URL: bounded, parsed, https unless plain http is allowed, credentials the downloader
/// can take.
fn url(s: &Setting, allow_http: bool) -> Result<Traced<Url>, Error> {
    if s.value.len() > MAX_URL_LEN {
        return Err(setting_error(
            URL,
            s,
            format!(
                "is {} bytes long; at most {MAX_URL_LEN} are accepted",
                s.value.len()
            ),
        ));
    }
    let u = Url::parse(&s.value).map_err(|e| setting_error(URL, s, format!("the URL {}", e.0)))?;
    if u.scheme() == "http" && !allow_http {
        return Err(setting_error(URL, s, format!("plain http ({}) is not allowed", u.redacted()))
            .hint("use https, or set SWUPDATE_ALLOW_HTTP=yes in the image's conf.d if the artifact is verified by its signature alone"));
    }
    u.credentials()
        .map_err(|e| setting_error(URL, s, format!("the URL {}", e.0)))?;
    Ok(traced(u, URL, s))
}

/// The long-lived daemon: the `-u` string read as suricatta reads it, and the `-w` string.
fn daemon_mode(vars: &Settings, known: Option<Release>) -> Result<Mode, Error> {
    let suricatta = daemon_part(SWUPDATE_SURICATTA, SWUPDATE_SURICATTA_ARGS, vars)?;
    if let (Some(t), Some(s)) = (&suricatta, vars.get(SWUPDATE_SURICATTA_ARGS)) {
        crate::swupdate::suricatta::parse(&t.value, known)
            .map_err(|e| setting_error(SWUPDATE_SURICATTA_ARGS, s, e))?;
    }
    Ok(Mode::Daemon {
        webserver: daemon_part(SWUPDATE_WEBSERVER, SWUPDATE_WEBSERVER_ARGS, vars)?,
        suricatta,
    })
}

/// Whether the daemon starts its webserver (`-w`) or suricatta (`-u`), and the string it gets:
/// `switch` (`SWUPDATE_WEBSERVER`, `SWUPDATE_SURICATTA`) says so explicitly, `yes` with an
/// empty string meaning every setting from swupdate's configuration file; unset, a set string
/// starts it, and a blank one (`" "`, meta-swupdate's template) starts it with an empty string,
/// as swupdate.sh's `-u " "` did (swupdate gives the part no options: its section of the
/// configuration file has them all). `no` with a string set is a contradiction, refused.
fn daemon_part(
    switch: &'static str,
    args: &'static str,
    vars: &Settings,
) -> Result<Option<Traced<String>>, Error> {
    let string = daemon_string(args, vars)?;
    let given = vars.get(args).filter(|s| !s.value.is_empty());
    let on = match non_empty(vars, switch) {
        Some(s) => Some((s, settings::yes_or_no(switch, s)?)),
        None => None,
    };
    Ok(match (on, given) {
        (Some((s, false)), Some(a)) => {
            return Err(setting_error(
                args,
                a,
                format!("is set, but {switch}=no ({}) does not start it", s.origin),
            )
            .hint(format!("unset one of them: {switch}=no wins over nothing")));
        }
        (Some((_, false)), None) | (None, None) => None,
        (Some((s, true)), _) => {
            Some(string.unwrap_or_else(|| traced(String::new(), switch, s)))
        }
        (None, Some(a)) => Some(string.unwrap_or_else(|| traced(String::new(), args, a))),
    })
}

/// SWUPDATE_VERIFY_PROGRAM, where the launcher can vet the update before swupdate sees it.
fn verification_stage(inputs: &Inputs, mode: &Mode) -> Result<Option<Box<Verification>>, Error> {
    let Inputs {
        vars,
        accounts,
        check_at,
        ..
    } = inputs;
    Ok(match (mode, non_empty(vars, SWUPDATE_VERIFY_PROGRAM)) {
        (_, None) => None,
        (Mode::File { .. }, Some(s)) => Some(Box::new(verification(vars, s, *accounts)?)),
        // An image-build check judges the image's configuration, not the checker's own build
        // (the layer builds the device's launcher with streaming exactly in download mode).
        (Mode::Download { .. }, Some(s))
            if cfg!(feature = "streaming") || *check_at == CheckAt::Image =>
        {
            Some(Box::new(verification(vars, s, *accounts)?))
        }
        (Mode::Download { .. }, Some(s)) => {
            return Err(setting_error(
                SWUPDATE_VERIFY_PROGRAM,
                s,
                "a verification stage in download mode needs the launcher to download the artifact itself, and this build has no HTTP stack (the streaming feature)",
            )
            .hint("build with the streaming feature (update-ota-streaming), use file mode, or unset SWUPDATE_VERIFY_PROGRAM"));
        }
        (Mode::Daemon { .. }, Some(s)) => {
            return Err(setting_error(
                SWUPDATE_VERIFY_PROGRAM,
                s,
                "the daemon receives updates over IPC, where the launcher cannot vet them",
            ));
        }
    })
}

/// The verifiers swupdate registers (2025.12+, `register_dgstlib` in crypto/).
pub const DIGEST_PROVIDERS: [&str; 9] = [
    "opensslCMS",
    "opensslRSA",
    "opensslRSAPSS",
    "GPG",
    "mbedtlsRSA",
    "mbedtlsRSAPSS",
    "pkcs#7mbedtls",
    "pkcs#7WolfSSL",
    "WolfSSLRSA",
];

/// SWUPDATE_VERSION and SWUPDATE_DIGEST_PROVIDER from the EnvironmentFile.
#[allow(clippy::type_complexity)]
fn release_and_provider(
    topology: &Settings,
) -> Result<(Option<Traced<Release>>, Option<Traced<String>>), Error> {
    let release = match non_empty(topology, SWUPDATE_VERSION) {
        None => None,
        Some(s) => match Release::parse(&s.value) {
            Some(r) => Some(traced(r, SWUPDATE_VERSION, s)),
            None => {
                return Err(setting_error(
                    SWUPDATE_VERSION,
                    s,
                    format!(
                        "`{}` is not a swupdate release (YYYY.MM or YYYY.MM.P)",
                        s.value
                    ),
                ));
            }
        },
    };
    let provider = match non_empty(topology, SWUPDATE_DIGEST_PROVIDER) {
        None => None,
        Some(s) => {
            if !DIGEST_PROVIDERS.contains(&s.value.as_str()) && !s.value.starts_with("WolfSSL") {
                return Err(setting_error(
                    SWUPDATE_DIGEST_PROVIDER,
                    s,
                    format!(
                        "`{}` is not a verification provider swupdate registers",
                        s.value
                    ),
                )
                .hint(format!("one of {}", DIGEST_PROVIDERS.join(", "))));
            }
            if let Some(r) = &release {
                if r.value < crate::swupdate::release::PROVIDERS {
                    return Err(setting_error(
                        SWUPDATE_DIGEST_PROVIDER,
                        s,
                        format!(
                            "`--digest-provider` needs swupdate {} or later; this device has {} (SWUPDATE_VERSION from {})",
                            crate::swupdate::release::PROVIDERS, r.value, r.origin
                        ),
                    )
                    .hint("before 2025.12 the verifier is chosen when swupdate is built: unset SWUPDATE_DIGEST_PROVIDER"));
                }
            }
            Some(traced(s.value.clone(), SWUPDATE_DIGEST_PROVIDER, s))
        }
    };
    Ok((release, provider))
}

/// On by default where the launcher installs (file, download): a device never installs an
/// older release unless its image says so. Off by default for the daemon, which reproduces
/// swupdate.sh (that never passed -N) for existing meta-swupdate configurations.
fn anti_rollback(vars: &Settings, one_shot: bool) -> Result<AntiRollback, Error> {
    let version_file = absolute_path(
        SWUPDATE_VERSION_FILE,
        &*or_default(vars, SWUPDATE_VERSION_FILE)?,
    )?;
    let key = {
        let s = or_default(vars, SWUPDATE_VERSION_KEY)?;
        traced(s.value.clone(), SWUPDATE_VERSION_KEY, &s)
    };
    let max_version = match non_empty(vars, SWUPDATE_MAX_VERSION) {
        Some(s) if !crate::rollback::usable(&s.value) => {
            return Err(setting_error(
                SWUPDATE_MAX_VERSION,
                s,
                format!("`{}` is not a version swupdate can take", s.value),
            ));
        }
        Some(s) => Some(traced(s.value.clone(), SWUPDATE_MAX_VERSION, s)),
        None => None,
    };
    Ok(AntiRollback {
        enabled: yes_no(vars, SWUPDATE_ANTI_ROLLBACK, one_shot)?,
        version_file,
        key,
        reinstall: switch(vars, SWUPDATE_REINSTALL)?,
        max_version,
    })
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::settings::Setting;
    use crate::plan::tests_support::FewAccounts;
    use std::path::PathBuf;

    fn at(line: usize) -> Origin {
        Origin::Fragment {
            path: "/etc/swupdate/conf.d/10-x".into(),
            line,
        }
    }

    pub(crate) struct T {
        topology: Settings,
        vars: Settings,
        over: Option<Setting>,
        check_at: CheckAt,
        expect: Expect,
    }

    impl T {
        pub(crate) fn new() -> T {
            let mut topology = Settings::default();
            topology.set(SWUPDATE_BIN, "/usr/bin/swupdate", Origin::Default);
            let mut vars = Settings::default();
            for &(n, v) in crate::config::vocabulary::SCRIPT_DEFAULTS.iter() {
                vars.set(n, v, Origin::Default);
            }
            T {
                topology,
                vars,
                over: None,
                check_at: CheckAt::Device,
                expect: Expect::Any,
            }
        }
        pub(crate) fn var(mut self, n: &str, v: &str) -> T {
            let line = self.vars.names().count() + 1;
            self.vars.set(n, v, at(line));
            self
        }
        /// A fragment's value that expanded `expanded` (name, value it saw).
        fn var_expanding(mut self, n: &str, v: &str, expanded: &[(&str, &str)]) -> T {
            let line = self.vars.names().count() + 1;
            let expanded = expanded
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            self.vars.set_expanded(n, v, at(line), expanded);
            self
        }
        fn topo(mut self, n: &str, v: &str) -> T {
            self.topology.set(n, v, Origin::Environment);
            self
        }
        pub(crate) fn build(&self) -> Result<Plan, Error> {
            build(&Inputs {
                accounts: &FewAccounts,
                expect: self.expect,
                topology: &self.topology,
                vars: &self.vars,
                update_file_override: self.over.clone(),
                check_at: self.check_at,
            })
        }
        fn ok(&self) -> Plan {
            self.build().unwrap()
        }
        fn err(&self) -> Error {
            self.build().unwrap_err()
        }
    }

    pub(crate) fn file_mode() -> T {
        T::new()
            .var(SWUPDATE_SOURCE, "file")
            .var(UPDATE_FILE, "/data/u.swu")
    }

    fn download_mode() -> T {
        T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, "https://h/u.swu")
    }

    #[test]
    fn one_shot_unit_refuses_the_daemon() {
        let mut t = T::new();
        t.expect = Expect::OneShot;
        assert!(t.err().message.contains("--one-shot"));
        let mut t = file_mode();
        t.expect = Expect::OneShot;
        assert_eq!(t.ok().mode.name(), "file");
    }

    #[test]
    fn daemon_unit_refuses_a_one_shot_configuration() {
        let mut t = download_mode();
        t.expect = Expect::Daemon;
        assert!(
            t.err()
                .message
                .contains("--daemon: SWUPDATE_SOURCE=download")
        );
        let mut t = T::new();
        t.expect = Expect::Daemon;
        assert_eq!(t.ok().mode.name(), "daemon");
    }
    #[test]
    fn plain_http_is_refused_unless_allowed() {
        let e = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, "http://h/u.swu")
            .err();
        assert!(e.message.contains("plain http"), "{}", e.message);
        let p = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(SWUPDATE_ALLOW_HTTP, "yes")
            .var(URL, "http://h/u.swu")
            .ok();
        assert_eq!(p.mode.name(), "download");
    }

    #[test]
    fn preflight_settings_are_read_and_checked() {
        let p = download_mode()
            .var(SWUPDATE_PREFLIGHT, "no")
            .var(SWUPDATE_CA_FILE, "/etc/ssl/fleet-ca.pem")
            .var(SWUPDATE_PREFLIGHT_TIMEOUT, "20")
            .var(SWUPDATE_PREFLIGHT_BUDGET, "0")
            .ok();
        let Mode::Download { preflight, .. } = p.mode else {
            panic!("download mode expected")
        };
        assert!(!preflight.enabled.value);
        assert_eq!(
            preflight.ca_file.unwrap().value,
            PathBuf::from("/etc/ssl/fleet-ca.pem")
        );
        assert_eq!(preflight.timeout.unwrap().value, 20);
        assert_eq!(preflight.budget.unwrap().value, 0);
        assert!(
            download_mode()
                .var(SWUPDATE_CA_FILE, "ca.pem")
                .build()
                .is_err()
        );
        assert!(
            download_mode()
                .var(SWUPDATE_PREFLIGHT_TIMEOUT, "0")
                .build()
                .is_err()
        );
        assert!(
            download_mode()
                .var(SWUPDATE_PREFLIGHT, "off")
                .build()
                .is_err()
        );
    }

    #[test]
    fn allow_http_takes_yes_or_no_only() {
        assert!(
            download_mode()
                .var(SWUPDATE_ALLOW_HTTP, "1")
                .build()
                .is_err()
        );
    }

    #[test]
    fn overlong_urls_are_refused() {
        let long = format!("https://h/{}", "a".repeat(MAX_URL_LEN));
        let e = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, &long)
            .err();
        assert!(e.message.contains("bytes long"));
    }

    #[test]
    fn each_mode_is_named_as_swupdate_source_names_it() {
        for source in [Source::File, Source::Download, Source::Daemon] {
            assert_eq!(Source::parse(source.name()), Some(source));
        }
        assert_eq!(
            crate::config::vocabulary::default_of(SWUPDATE_SOURCE).and_then(Source::parse),
            Some(Source::Daemon)
        );
    }

    #[test]
    fn unset_source_is_the_daemon_of_swupdate_sh() {
        let p = T::new().ok();
        assert_eq!(p.mode.name(), "daemon");
        assert_eq!(p.mode_origin, Origin::Default);
    }

    #[test]
    fn file_mode_takes_update_file() {
        let p = file_mode().ok();
        match p.mode {
            Mode::File { update_file } => {
                assert_eq!(update_file.value, PathBuf::from("/data/u.swu"));
                assert_eq!(update_file.name, UPDATE_FILE);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn file_mode_without_update_file_is_an_error() {
        let e = T::new().var(SWUPDATE_SOURCE, "file").err();
        assert_eq!(e.kind, Kind::Config);
        assert!(e.message.contains("needs UPDATE_FILE"), "{}", e.message);
    }

    #[test]
    fn relative_update_file_is_an_error_at_its_line() {
        let e = T::new()
            .var(SWUPDATE_SOURCE, "file")
            .var(UPDATE_FILE, "u.swu")
            .err();
        assert!(e.message.contains("not an absolute path"));
        assert!(e.location.is_some());
    }

    #[test]
    fn unknown_source_is_an_error_at_its_line() {
        let e = T::new().var(SWUPDATE_SOURCE, "usb").err();
        let loc = e.location.unwrap();
        assert_eq!(loc.file, PathBuf::from("/etc/swupdate/conf.d/10-x"));
        assert!(e.message.contains("`usb` is not a mode"));
    }

    #[test]
    fn empty_source_is_an_error_not_the_daemon() {
        assert!(T::new().var(SWUPDATE_SOURCE, "").build().is_err());
    }

    #[test]
    fn download_mode_takes_the_url_and_settings() {
        let p = download_mode()
            .var(SWUPDATE_DOWNLOAD_RETRIES, "0")
            .var(SWUPDATE_DOWNLOAD_TIMEOUT, "30")
            .ok();
        match p.mode {
            Mode::Download {
                url,
                retries,
                timeout,
                preflight,
            } => {
                assert!(preflight.enabled.value, "on unless switched off");
                assert!(preflight.ca_file.is_none());
                assert_eq!(
                    url.given().unwrap().value.for_downloader(),
                    "https://h/u.swu"
                );
                assert_eq!(retries.unwrap().value, 0);
                assert_eq!(timeout.unwrap().value, 30);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn download_without_url_is_an_error_on_the_device() {
        let e = T::new().var(SWUPDATE_SOURCE, "download").err();
        assert!(e.message.contains("needs URL"));
        assert!(e.hint.unwrap().contains("descriptor.env"));
    }

    #[test]
    fn download_without_url_passes_an_image_build_check() {
        let mut t = T::new().var(SWUPDATE_SOURCE, "download");
        t.check_at = CheckAt::Image;
        assert!(matches!(
            t.ok().mode,
            Mode::Download {
                url: DownloadUrl::WrittenAtStart,
                ..
            }
        ));
    }

    #[test]
    fn bad_url_is_an_error_at_its_line() {
        let e = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, "ftp://h/x")
            .err();
        assert!(e.message.starts_with("URL: the URL has the scheme"));
        assert!(e.location.is_some());
    }

    #[test]
    fn credentials_with_blanks_are_an_error() {
        let e = T::new()
            .var(SWUPDATE_SOURCE, "download")
            .var(URL, "https://u:a%20b@h/x")
            .err();
        assert!(e.message.contains("whitespace"));
    }

    #[test]
    fn retries_must_be_a_whole_number() {
        for bad in ["-1", "three", "1.5", "+3", " 3"] {
            assert!(
                download_mode()
                    .var(SWUPDATE_DOWNLOAD_RETRIES, bad)
                    .build()
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn timeout_must_be_positive() {
        assert!(
            download_mode()
                .var(SWUPDATE_DOWNLOAD_TIMEOUT, "0")
                .build()
                .is_err()
        );
    }

    #[test]
    fn daemon_takes_webserver_and_suricatta_strings() {
        let p = T::new()
            .var(SWUPDATE_WEBSERVER_ARGS, "-r /www  -p 8080 ")
            .var(SWUPDATE_SURICATTA_ARGS, "-t default -u http://h -i dev")
            .ok();
        match p.mode {
            Mode::Daemon {
                webserver,
                suricatta,
            } => {
                assert_eq!(webserver.unwrap().value, "-r /www -p 8080");
                assert_eq!(suricatta.unwrap().value, "-t default -u http://h -i dev");
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn empty_daemon_strings_are_not_passed() {
        match T::new().ok().mode {
            Mode::Daemon {
                webserver,
                suricatta,
            } => assert!(webserver.is_none() && suricatta.is_none()),
            m => panic!("{m:?}"),
        }
    }

    fn daemon_parts(t: T) -> (Option<Traced<String>>, Option<Traced<String>>) {
        match t.ok().mode {
            Mode::Daemon {
                webserver,
                suricatta,
            } => (webserver, suricatta),
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn a_blank_suricatta_string_starts_suricatta_with_no_options_as_swupdate_sh_did() {
        let (_, suricatta) = daemon_parts(T::new().var(SWUPDATE_SURICATTA_ARGS, " "));
        let s = suricatta.expect("started");
        assert_eq!(s.value, "");
        assert_eq!(s.name, SWUPDATE_SURICATTA_ARGS);
    }

    #[test]
    fn a_blank_webserver_string_starts_the_webserver_with_no_options_as_swupdate_sh_did() {
        let (webserver, _) = daemon_parts(T::new().var(SWUPDATE_WEBSERVER_ARGS, " \t"));
        assert_eq!(webserver.expect("started").value, "");
    }

    #[test]
    fn suricatta_yes_without_a_string_takes_every_setting_from_the_configuration_file() {
        let (_, suricatta) = daemon_parts(T::new().var(SWUPDATE_SURICATTA, "yes"));
        let s = suricatta.expect("started");
        assert_eq!((s.value.as_str(), s.name), ("", SWUPDATE_SURICATTA));
    }

    #[test]
    fn webserver_yes_with_a_string_passes_the_string() {
        let (webserver, _) = daemon_parts(
            T::new()
                .var(SWUPDATE_WEBSERVER, "yes")
                .var(SWUPDATE_WEBSERVER_ARGS, "-r /www"),
        );
        assert_eq!(webserver.expect("started").value, "-r /www");
    }

    #[test]
    fn suricatta_no_with_a_string_set_is_a_contradiction_at_the_strings_line() {
        let e = T::new()
            .var(SWUPDATE_SURICATTA, "no")
            .var(SWUPDATE_SURICATTA_ARGS, " ")
            .err();
        assert!(e.message.contains("SWUPDATE_SURICATTA=no"), "{}", e.message);
        assert!(e.location.is_some());
    }

    #[test]
    fn suricatta_no_with_an_empty_string_starts_nothing() {
        assert!(daemon_parts(T::new().var(SWUPDATE_SURICATTA, "no")).1.is_none());
    }

    #[test]
    fn a_daemon_switch_takes_yes_or_no_only() {
        let e = T::new().var(SWUPDATE_WEBSERVER, "on").err();
        assert!(e.message.contains("neither yes nor no"), "{}", e.message);
    }

    #[test]
    fn a_blank_daemon_string_in_a_one_shot_mode_is_an_error() {
        let e = file_mode().var(SWUPDATE_SURICATTA_ARGS, " ").err();
        assert!(e.message.contains("runs swupdate once"), "{}", e.message);
    }

    #[test]
    fn a_daemon_switch_takes_yes_or_no_only_in_a_one_shot_mode_too() {
        let e = file_mode().var(SWUPDATE_SURICATTA, "maybe").err();
        assert!(e.message.contains("neither yes nor no"), "{}", e.message);
    }

    #[test]
    fn a_daemon_switch_off_in_a_one_shot_mode_is_fine() {
        assert_eq!(file_mode().var(SWUPDATE_SURICATTA, "no").ok().mode.name(), "file");
    }

    #[test]
    fn a_daemon_switch_on_in_a_one_shot_mode_is_an_error() {
        let e = download_mode().var(SWUPDATE_WEBSERVER, "yes").err();
        assert!(e.message.starts_with("SWUPDATE_WEBSERVER:"), "{}", e.message);
    }

    #[test]
    fn extra_args_that_swupdate_args_expanded_are_passed_once() {
        let p = T::new()
            .var(SWUPDATE_EXTRA_ARGS, "-e stable,copy1")
            .var_expanding(
                SWUPDATE_ARGS,
                "-v -e stable,copy1",
                &[(SWUPDATE_EXTRA_ARGS, "-e stable,copy1")],
            )
            .ok();
        let words: Vec<&str> = p
            .user_args
            .iter()
            .flat_map(|a| a.value.iter().map(String::as_str))
            .collect();
        assert_eq!(words, ["-v", "-e", "stable,copy1"]);
    }

    #[test]
    fn extra_args_set_after_swupdate_args_expanded_them_are_still_appended() {
        let p = T::new()
            .var_expanding(SWUPDATE_ARGS, "-v -l 3", &[(SWUPDATE_EXTRA_ARGS, "-l 3")])
            .var(SWUPDATE_EXTRA_ARGS, "-L")
            .ok();
        assert_eq!(p.user_args[1].value, ["-L"]);
        assert_eq!(p.user_args[1].name, SWUPDATE_EXTRA_ARGS);
    }

    #[test]
    fn config_files_are_a_list_of_candidates_in_order() {
        let p = T::new()
            .var(SWUPDATE_CONFIG_FILES, "/data/swupdate.cfg  /etc/swupdate.cfg")
            .ok();
        let c = p.config_file.expect("configured");
        assert_eq!(
            c.candidates.value,
            [
                PathBuf::from("/data/swupdate.cfg"),
                PathBuf::from("/etc/swupdate.cfg")
            ]
        );
        assert_eq!(c.chosen, None, "chosen at the edge");
    }

    #[test]
    fn a_relative_config_file_candidate_is_an_error_at_its_line() {
        let e = T::new()
            .var(SWUPDATE_CONFIG_FILES, "/data/../etc/x.cfg swupdate.cfg")
            .err();
        assert!(e.message.contains("not an absolute path"), "{}", e.message);
        assert!(e.location.is_some());
    }

    #[test]
    fn f_in_the_users_options_with_config_files_set_is_an_error() {
        let e = T::new()
            .var(SWUPDATE_CONFIG_FILES, "/etc/swupdate.cfg")
            .var(SWUPDATE_EXTRA_ARGS, "--file=/x.cfg")
            .err();
        assert!(e.message.starts_with("SWUPDATE_EXTRA_ARGS: passes `-f`"), "{}", e.message);
    }

    #[test]
    fn quotes_in_a_daemon_string_are_an_error() {
        let e = T::new().var(SWUPDATE_WEBSERVER_ARGS, "-r '/tmp/a b'").err();
        assert!(e.message.contains("does not parse quotes"));
    }

    #[test]
    fn one_shot_mode_with_daemon_strings_is_an_error() {
        let e = file_mode().var(SWUPDATE_WEBSERVER_ARGS, "-r /www").err();
        assert!(e.message.contains("runs swupdate once"));
    }

    #[test]
    fn update_file_override_selects_file_mode_over_anything() {
        let mut t = download_mode().var(SWUPDATE_WEBSERVER_ARGS, "-r /www");
        t.over = Some(Setting {
            value: "/media/u.swu".into(),
            origin: Origin::CommandLine("--update-file"),
            expanded: Vec::new(),
        });
        let p = t.ok();
        assert_eq!(p.mode.name(), "file");
        assert_eq!(p.mode_origin, Origin::CommandLine("--update-file"));
    }

    #[test]
    fn user_args_are_split_with_shell_quoting() {
        let p = T::new().var(SWUPDATE_EXTRA_ARGS, "-e 'stable,copy 1'").ok();
        assert_eq!(p.user_args[0].value, ["-v"]);
        assert_eq!(p.user_args[1].value, ["-e", "stable,copy 1"]);
    }

    #[test]
    fn empty_swupdate_args_drops_the_default_verbose() {
        let p = T::new().var(SWUPDATE_ARGS, "").ok();
        assert!(p.user_args.is_empty());
    }

    #[test]
    fn unterminated_quote_in_user_args_is_an_error() {
        let e = T::new().var(SWUPDATE_EXTRA_ARGS, "-e 'x").err();
        assert!(e.message.contains("unterminated quote"));
    }

    #[test]
    fn owned_option_in_user_args_is_an_error_with_the_variable_to_use() {
        let e = T::new().var(SWUPDATE_ARGS, "-v -k /other.pem").err();
        assert!(e.message.contains("set by the launcher"));
        assert!(e.hint.unwrap().contains("SWUPDATE_PUBLIC_KEY"));
    }

    #[test]
    fn public_key_is_taken_from_topology() {
        let p = T::new().topo(SWUPDATE_PUBLIC_KEY, "/etc/k.pem").ok();
        assert_eq!(p.public_key.unwrap().value, PathBuf::from("/etc/k.pem"));
    }

    #[test]
    fn empty_public_key_means_none() {
        assert!(
            T::new()
                .topo(SWUPDATE_PUBLIC_KEY, "")
                .ok()
                .public_key
                .is_none()
        );
    }

    #[test]
    fn relative_binary_is_an_error_naming_the_environment() {
        let e = T::new().topo(SWUPDATE_BIN, "swupdate").err();
        assert!(e.message.contains("(environment)"), "{}", e.message);
    }
}
