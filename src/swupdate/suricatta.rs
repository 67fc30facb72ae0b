//! The string given to `-u` (SWUPDATE_SURICATTA_ARGS), read as swupdate's suricatta reads it,
//! to catch what makes it exit at start instead of polling the fleet server.
//!
//! swupdate splits the string on whitespace only (no quotes), then suricatta reads `-e`, `-d`
//! and `-S <module>` (2023.05+), and the module reads the rest with its own getopt_long table.
//! The hawkBit module (server_hawkbit.c) ignores options it does not know, but exits at start
//! when `-t`, `-u` or `-i` is missing (unless the configuration file's `suricatta` section gives
//! `tenant`, `url`, `id`) and on a positional word. A build with several modules (Debian sid's
//! 2026.05.1: hawkbit, general, lua) exits without `-S`.
//!
//! The tokens (`-k`/`--targettoken`, `-g`/`--gatewaytoken`) and the value of a custom header
//! (`-a`/`--custom-http-header NAME VALUE`) are the table's secret options: [`super::secrets`]
//! masks every value the reader finds for them. On the command line they are readable in /proc
//! by every local user.
//!
//! Pure: it reads the string it is given (the configuration file's `suricatta` section is the
//! caller's, [`crate::compat`]).

use super::getopt::{
    self, Accept, Arg, Long, Opt, OptionError, PassOver, Policy, Read, Role, Table, l,
};
use super::release::{Release, rel};

const Y22: Release = rel(2022, 12);
/// `-S`/`--server` (module selection) appeared in 2023.05.
pub const SERVER_SINCE: Release = rel(2023, 5);
const IDENTIFY_SINCE: Release = rel(2024, 5);

const fn op(short: Option<char>, longs: &'static [Long], arg: Arg, since: Release) -> Opt {
    Opt {
        short,
        since,
        longs,
        arg,
        build: None,
        role: Role::Free,
        secret: false,
    }
}

const fn secret(short: char, longs: &'static [Long], arg: Arg) -> Opt {
    Opt {
        secret: true,
        ..op(Some(short), longs, arg, Y22)
    }
}

/// suricatta's own options (`suricatta.c`), followed by `$module`'s: written once for both tables.
macro_rules! suricatta_then {
    ($($module:expr),* $(,)?) => {
        &[
            op(Some('e'), &[l("enable", Y22)], Arg::None, Y22),
            op(Some('d'), &[l("disable", Y22)], Arg::None, Y22),
            op(
                Some('S'),
                &[l("server", SERVER_SINCE)],
                Arg::Required,
                SERVER_SINCE,
            ),
            $($module),*
        ]
    };
}

/// suricatta's own options, which it reads first, passing over the module's.
static SURICATTA: Table = Table {
    what: "an option of suricatta",
    options: suricatta_then!(),
};

/// suricatta's own options and the hawkBit module's (`server_hawkbit.c`), 2022.12 to 2026.05.x.
pub static HAWKBIT: Table = Table {
    what: "an option of suricatta's hawkBit module",
    options: suricatta_then![
        op(Some('t'), &[l("tenant", Y22)], Arg::Required, Y22),
        op(Some('i'), &[l("id", Y22)], Arg::Required, Y22),
        op(Some('c'), &[l("confirm", Y22)], Arg::Required, Y22),
        op(Some('u'), &[l("url", Y22)], Arg::Required, Y22),
        op(Some('p'), &[l("polldelay", Y22)], Arg::Required, Y22),
        op(Some('x'), &[l("nocheckcert", Y22)], Arg::None, Y22),
        op(Some('r'), &[l("retry", Y22)], Arg::Required, Y22),
        op(Some('w'), &[l("retrywait", Y22)], Arg::Required, Y22),
        op(Some('y'), &[l("proxy", Y22)], Arg::Optional, Y22),
        secret('k', &[l("targettoken", Y22)], Arg::Required),
        secret('g', &[l("gatewaytoken", Y22)], Arg::Required),
        op(Some('f'), &[l("interface", Y22)], Arg::Required, Y22),
        op(None, &[l("disable-token-for-dwl", Y22)], Arg::None, Y22),
        op(None, &[l("cache", Y22)], Arg::Required, Y22),
        op(
            Some('m'),
            &[l("initial-report-resend-period", Y22)],
            Arg::Required,
            Y22,
        ),
        op(
            Some('s'),
            &[l("connection-timeout", Y22)],
            Arg::Required,
            Y22,
        ),
        // NAME VALUE: the value is the secret (an API key, a bearer token).
        secret('a', &[l("custom-http-header", Y22)], Arg::Pair),
        op(
            None,
            &[l("identify", IDENTIFY_SINCE)],
            Arg::Pair,
            IDENTIFY_SINCE,
        ),
        op(
            Some('n'),
            &[l("max-download-speed", Y22)],
            Arg::Required,
            Y22,
        ),
    ],
};

/// The string as suricatta reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// `-S <module>`.
    pub server: Option<String>,
    pub tenant: bool,
    pub url: bool,
    pub id: bool,
    /// A secret (a token, a custom header's value) is among the words.
    pub has_token: bool,
}

impl Parsed {
    /// The mandatory options missing, given what the configuration file's `suricatta` section
    /// sets (`tenant`, `url`, `id`).
    pub fn missing(&self, from_config: &dyn Fn(&str) -> bool) -> Vec<&'static str> {
        let mut m = Vec::new();
        for (have, opt, key) in [
            (self.tenant, "-t", "tenant"),
            (self.url, "-u", "url"),
            (self.id, "-i", "id"),
        ] {
            if !have && !from_config(key) {
                m.push(opt);
            }
        }
        m
    }
}

/// The module `-S`/`--server` names (the last one), read as suricatta reads its own options.
pub fn module(words: &[&str]) -> Option<String> {
    let read = getopt::read(&SURICATTA, words, None, &mut PassOver).ok()?;
    read.last_value('S').map(str::to_string)
}

/// Whether the hawkBit module reads the words (no `-S`, or `-S hawkbit`).
fn is_hawkbit(server: Option<&str>) -> bool {
    server.is_none_or(|s| s == "hawkbit")
}

/// The string read as getopt_long reads it, with the module's table; `Err` with the reason
/// when the launcher has no table for it (another module) or cannot read it.
pub fn read(s: &str) -> Result<Read, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let server = module(&words);
    if !is_hawkbit(server.as_deref()) {
        return Err(format!(
            "its module `{}` is not one the launcher has an option table for",
            server.unwrap_or_default()
        ));
    }
    getopt::read(&HAWKBIT, &words, None, &mut Accept).map_err(|e| e.message)
}

/// The hawkBit module exits at start on a positional word.
struct HawkbitStart;

impl Policy for HawkbitStart {
    fn positional(&mut self, w: &str) -> Result<(), OptionError> {
        Err(getopt::error(
            format!(
                "`{w}` is a positional word: suricatta exits at start (\"Unused argument(s) given to suricatta\")"
            ),
            None,
        ))
    }
}

/// Reads the string for the hawkBit module (or suricatta's own options only, for another
/// module named with `-S`), for the installed release or, unknown, any supported one.
pub fn parse(s: &str, release: Option<Release>) -> Result<Parsed, String> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let server = module(&words);
    let read = if is_hawkbit(server.as_deref()) {
        getopt::read(&HAWKBIT, &words, release, &mut HawkbitStart)
    } else {
        getopt::read(&SURICATTA, &words, release, &mut PassOver)
    }
    .map_err(|e| e.message)?;
    let has = |c: char| read.found.iter().any(|f| f.opt.short == Some(c));
    Ok(Parsed {
        tenant: has('t'),
        url: has('u'),
        id: has('i'),
        has_token: read.found.iter().any(|f| f.opt.secret),
        server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Option<Release> {
        Release::parse(s)
    }

    #[test]
    fn a_complete_hawkbit_string_is_read() {
        let p = parse(
            "-S hawkbit -t DEFAULT -u http://h:8080 -i dev01 -p 10",
            r("2026.05.1"),
        )
        .unwrap();
        assert_eq!(p.server.as_deref(), Some("hawkbit"));
        assert!(p.tenant && p.url && p.id);
        assert!(p.missing(&|_| false).is_empty());
    }

    #[test]
    fn missing_mandatory_options_are_listed() {
        let p = parse("-t DEFAULT", None).unwrap();
        assert_eq!(p.missing(&|_| false), ["-u", "-i"]);
    }

    #[test]
    fn mandatory_options_may_come_from_the_configuration_file() {
        let p = parse("-t DEFAULT", None).unwrap();
        assert!(p.missing(&|k| k == "url" || k == "id").is_empty());
    }

    #[test]
    fn an_unknown_hawkbit_option_is_refused() {
        let e = parse("-t D -u h -i d -Z", None).unwrap_err();
        assert!(e.contains("`-Z`"), "{e}");
        let e = parse("-t D -u h -i d --targetoken x", None).unwrap_err();
        assert!(e.contains("--targetoken"), "{e}");
    }

    #[test]
    fn a_mistyped_token_option_does_not_show_the_token() {
        let e = parse("--targetoken=s3cret", None).unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn a_positional_word_is_refused() {
        let e = parse("-t D -u h -i d stray", None).unwrap_err();
        assert!(e.contains("Unused argument"), "{e}");
    }

    #[test]
    fn server_selection_needs_2023_05() {
        let e = parse("-S hawkbit -t D -u h -i d", r("2022.12")).unwrap_err();
        assert!(
            e.contains("2023.05 or later; this device has 2022.12"),
            "{e}"
        );
    }

    #[test]
    fn identify_needs_2024_05() {
        assert!(
            parse("--identify a b", r("2023.12"))
                .unwrap_err()
                .contains("2024.05")
        );
        assert!(parse("--identify a b", r("2024.05")).is_ok());
    }

    #[test]
    fn custom_header_takes_two_words() {
        let p = parse("-a X-Name value -t D", None).unwrap();
        assert!(p.tenant);
        assert!(
            parse("-t D -a X-Name", None)
                .unwrap_err()
                .contains("two values")
        );
    }

    #[test]
    fn tokens_are_marked_secret_in_every_form() {
        for s in [
            "-k s3cret",
            "--targettoken s3cret",
            "--targettoken=s3cret",
            "-ks3cret",
            "-g s3cret",
            "--gatewaytoken=s3cret",
            "--target s3cret",
        ] {
            let p = parse(s, None).unwrap();
            assert!(p.has_token, "{s}");
            let read = read(s).unwrap();
            assert_eq!(read.secrets().collect::<Vec<_>>(), ["s3cret"], "{s}");
        }
    }

    #[test]
    fn a_custom_headers_value_is_its_secret_and_its_name_is_not() {
        let r = read("-t D -a X-Api-Key k3y-value").unwrap();
        assert_eq!(r.secrets().collect::<Vec<_>>(), ["k3y-value"]);
    }

    #[test]
    fn another_modules_string_is_not_read() {
        let e = read("-S lua -k s3cret").unwrap_err();
        assert!(e.contains("`lua`"), "{e}");
    }

    #[test]
    fn abbreviations_of_module_options_are_read() {
        let p = parse("--ten D --ur h --id d", None).unwrap();
        assert!(p.tenant && p.url && p.id);
    }

    #[test]
    fn proxy_takes_a_value_only_when_one_follows() {
        let p = parse("-y -t D", None).unwrap();
        assert!(p.tenant);
        let p = parse("-y http://proxy:3128 -t D", None).unwrap();
        assert!(p.tenant);
    }

    #[test]
    fn another_module_is_not_judged_by_the_hawkbit_table() {
        let p = parse("-S lua -u http://wfx -i d -v", None).unwrap();
        assert_eq!(p.server.as_deref(), Some("lua"));
    }
}
