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
//! Token values (`-k`/`--targettoken`, `-g`/`--gatewaytoken`) are marked secret word by word,
//! for redaction; on the command line they are readable in /proc by every local user.
//!
//! Pure: it reads the string it is given (the configuration file's `suricatta` section is the
//! caller's, [`crate::swupdate::compat`]).

use crate::swupdate::options::Release;

const Y22: Release = Release {
    year: 2022,
    month: 12,
    patch: 0,
    after: false,
};
/// `-S`/`--server` (module selection) appeared in 2023.05.
pub const SERVER_SINCE: Release = Release {
    year: 2023,
    month: 5,
    patch: 0,
    after: false,
};
const IDENTIFY_SINCE: Release = Release {
    year: 2024,
    month: 5,
    patch: 0,
    after: false,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Arg {
    None,
    /// One value.
    One,
    /// A value glued to it, or the next word unless it begins with `-` (`-y`).
    Optional,
    /// Two values: the option's and the next word (`-a name value`).
    Two,
}

struct Opt {
    short: Option<char>,
    long: &'static str,
    arg: Arg,
    since: Release,
    secret: bool,
}

const fn op(short: Option<char>, long: &'static str, arg: Arg, since: Release) -> Opt {
    Opt {
        short,
        long,
        arg,
        since,
        secret: false,
    }
}

/// suricatta's own options and the hawkBit module's, 2022.12 to 2026.05.x.
const HAWKBIT: &[Opt] = &[
    op(Some('e'), "enable", Arg::None, Y22),
    op(Some('d'), "disable", Arg::None, Y22),
    op(Some('S'), "server", Arg::One, SERVER_SINCE),
    op(Some('t'), "tenant", Arg::One, Y22),
    op(Some('i'), "id", Arg::One, Y22),
    op(Some('c'), "confirm", Arg::One, Y22),
    op(Some('u'), "url", Arg::One, Y22),
    op(Some('p'), "polldelay", Arg::One, Y22),
    op(Some('x'), "nocheckcert", Arg::None, Y22),
    op(Some('r'), "retry", Arg::One, Y22),
    op(Some('w'), "retrywait", Arg::One, Y22),
    op(Some('y'), "proxy", Arg::Optional, Y22),
    Opt {
        short: Some('k'),
        long: "targettoken",
        arg: Arg::One,
        since: Y22,
        secret: true,
    },
    Opt {
        short: Some('g'),
        long: "gatewaytoken",
        arg: Arg::One,
        since: Y22,
        secret: true,
    },
    op(Some('f'), "interface", Arg::One, Y22),
    op(None, "disable-token-for-dwl", Arg::None, Y22),
    op(None, "cache", Arg::One, Y22),
    op(Some('m'), "initial-report-resend-period", Arg::One, Y22),
    op(Some('s'), "connection-timeout", Arg::One, Y22),
    op(Some('a'), "custom-http-header", Arg::Two, Y22),
    op(None, "identify", Arg::Two, IDENTIFY_SINCE),
    op(Some('n'), "max-download-speed", Arg::One, Y22),
];

/// One word of the string, and whether it must never be shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub secret: bool,
}

/// The string as suricatta reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    pub words: Vec<Word>,
    /// `-S <module>`.
    pub server: Option<String>,
    pub tenant: bool,
    pub url: bool,
    pub id: bool,
    /// A token is among the words.
    pub has_token: bool,
    /// The token values, as read (without the option of a glued form).
    pub tokens: Vec<String>,
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

/// The token values in the string, as swupdate's getopt_long reads them (abbreviations such as
/// `--gatewaytok=`, clusters and glued forms included), for [`crate::secret`] to mask. A string
/// that does not parse, or is another module's, still gives every word that may be a token:
/// the word after one that may name a token option, and a glued form whole and its value.
pub fn token_values(s: &str) -> Vec<String> {
    // The hawkBit module's table knows its tokens; another module's words (`-S lua`) and a
    // string that does not parse get the guess.
    if let Ok(p) = parse(s, None) {
        if p.server.as_deref().is_none_or(|m| m == "hawkbit") {
            return p.tokens;
        }
    }
    let may_be_token = |w: &str| {
        let long = w
            .strip_prefix("--")
            .map(|l| l.split('=').next().unwrap_or(l));
        match long {
            Some(l) => {
                !l.is_empty() && ("targettoken".starts_with(l) || "gatewaytoken".starts_with(l))
            }
            None => w.starts_with('-') && (w.contains('k') || w.contains('g')),
        }
    };
    let mut out = Vec::new();
    let mut take_next = false;
    for w in s.split_whitespace() {
        if take_next {
            out.push(w.to_string());
            take_next = false;
        } else if may_be_token(w) {
            let glued = w.contains('=') || (!w.starts_with("--") && w.len() > 2);
            if glued {
                // The value alone as well as the whole word: `--gatewaytok=T` and `-kT` show T.
                let value = match w.split_once('=') {
                    Some((_, v)) if w.starts_with("--") => v,
                    _ => w
                        .trim_start_matches('-')
                        .split_once(['k', 'g'])
                        .map_or("", |(_, v)| v),
                };
                if !value.is_empty() {
                    out.push(value.to_string());
                }
                out.push(w.to_string());
            }
            take_next = !glued;
        }
    }
    out
}

/// Reads the string for the hawkBit module (or suricatta's own options only, for another
/// module named with `-S`), for the installed release or, unknown, any supported one.
pub fn parse(s: &str, release: Option<Release>) -> Result<Parsed, String> {
    let raw: Vec<&str> = s.split_whitespace().collect();
    // The module first: it decides which table the other words belong to.
    let server = selected_module(&raw);
    let mut r = Reader {
        hawkbit: server.as_deref().is_none_or(|s| s == "hawkbit"),
        raw,
        next: 0,
        release,
        p: Parsed {
            server,
            ..Parsed::default()
        },
    };
    while r.next < r.raw.len() {
        let w = r.raw[r.next];
        r.next += 1;
        let Some((opt, inline, shown)) = r.option(w)? else {
            continue;
        };
        flag(&mut r.p, opt, release)?;
        r.values(opt, w, inline, &shown)?;
        match opt.short {
            Some('t') => r.p.tenant = true,
            Some('u') => r.p.url = true,
            Some('i') => r.p.id = true,
            _ => {}
        }
        if opt.secret {
            r.p.has_token = true;
        }
    }
    Ok(r.p)
}

/// The module `-S`/`--server` names (the last one), if any.
fn selected_module(raw: &[&str]) -> Option<String> {
    let mut server = None;
    for (i, w) in raw.iter().enumerate() {
        if *w == "-S" || *w == "--server" {
            server = raw.get(i + 1).map(|v| v.to_string());
        } else if let Some(v) = w.strip_prefix("--server=").or_else(|| w.strip_prefix("-S")) {
            if !v.is_empty() {
                server = Some(v.to_string());
            }
        }
    }
    server
}

/// The option a word begins, with the value glued to it and its name as shown in messages;
/// `None` when the word was taken whole (flags only, or a word another module reads).
type Begun = Option<(&'static Opt, Option<String>, String)>;

/// The words, read left to right as suricatta's getopt_long does.
struct Reader<'a> {
    raw: Vec<&'a str>,
    /// The next word to read.
    next: usize,
    /// The hawkBit module reads the words (it refuses what it does not know; another module's
    /// options are passed over).
    hawkbit: bool,
    release: Option<Release>,
    p: Parsed,
}

impl Reader<'_> {
    fn token(&mut self, value: &str, secret: bool) {
        if secret {
            self.p.tokens.push(value.to_string());
        }
    }

    fn push(&mut self, text: &str, secret: bool) {
        self.p.words.push(Word {
            text: text.to_string(),
            secret,
        });
    }

    fn option(&mut self, w: &str) -> Result<Begun, String> {
        if let Some(long) = w.strip_prefix("--") {
            self.long_option(w, long)
        } else if let Some(cluster) = w.strip_prefix('-').filter(|c| !c.is_empty()) {
            self.cluster(w, cluster)
        } else {
            if !self.hawkbit {
                self.push(w, false);
                return Ok(None);
            }
            Err(format!(
                "`{w}` is a positional word: suricatta exits at start (\"Unused argument(s) given to suricatta\")"
            ))
        }
    }

    /// `--name`, `--name=value`, or an unambiguous abbreviation of the name.
    fn long_option(&mut self, w: &str, long: &str) -> Result<Begun, String> {
        let (name, v) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        let exact = HAWKBIT.iter().find(|o| o.long == name);
        let cands: Vec<&Opt> = HAWKBIT
            .iter()
            .filter(|o| o.long.starts_with(name))
            .collect();
        let opt = match (exact, cands.as_slice()) {
            (Some(o), _) => o,
            (None, [o]) if !name.is_empty() => o,
            (None, []) | (None, [_]) => {
                if !self.hawkbit {
                    self.push(w, false);
                    return Ok(None);
                }
                // Only the name: a mistyped token option must not show the token.
                return Err(format!(
                    "`--{name}` is not an option of suricatta's hawkBit module"
                ));
            }
            (None, many) => {
                return Err(format!(
                    "`{w}` is ambiguous: it begins {}",
                    many.iter()
                        .map(|o| format!("--{}", o.long))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        };
        Ok(Some((
            opt,
            v.map(str::to_string),
            format!("--{}", opt.long),
        )))
    }

    /// `-xyz`: flags, then at most one option that takes the rest (or the next word).
    fn cluster(&mut self, w: &str, cluster: &str) -> Result<Begun, String> {
        let mut found = None;
        for (at, c) in cluster.char_indices() {
            let Some(opt) = HAWKBIT.iter().find(|o| o.short == Some(c)) else {
                if !self.hawkbit {
                    break;
                }
                return Err(format!(
                    "`-{c}` is not an option of suricatta's hawkBit module"
                ));
            };
            if opt.arg != Arg::None {
                let rest = &cluster[at + c.len_utf8()..];
                found = Some((opt, (!rest.is_empty()).then(|| rest.to_string())));
                break;
            }
            flag(&mut self.p, opt, self.release)?;
        }
        match found {
            Some((opt, v)) => Ok(Some((opt, v, format!("-{}", opt.short.unwrap_or('?'))))),
            None => {
                self.push(w, false);
                Ok(None)
            }
        }
    }

    /// The option's value(s), glued or the next words, recorded with their secrecy.
    fn values(
        &mut self,
        opt: &Opt,
        w: &str,
        inline: Option<String>,
        shown: &str,
    ) -> Result<(), String> {
        let glued = inline.is_some();
        let mut value = inline;
        if value.is_none() {
            match opt.arg {
                Arg::One | Arg::Two => match self.raw.get(self.next) {
                    Some(v) => {
                        value = Some(v.to_string());
                        self.next += 1;
                    }
                    None => return Err(format!("`{shown}` needs a value")),
                },
                Arg::Optional => {
                    if let Some(v) = self.raw.get(self.next).filter(|v| !v.starts_with('-')) {
                        value = Some(v.to_string());
                        self.next += 1;
                    }
                }
                Arg::None => {}
            }
        }
        if opt.arg == Arg::None && glued {
            return Err(format!("`{shown}` takes no value (in `{w}`)"));
        }
        match (&value, glued) {
            (Some(v), true) => {
                // The option and its secret in one word: the whole word is secret.
                let prefix = &w[..w.len() - v.len()];
                self.push(&format!("{prefix}{v}"), opt.secret);
                self.token(v, opt.secret);
            }
            (Some(v), false) => {
                self.push(w, false);
                self.push(v, opt.secret);
                self.token(v, opt.secret);
            }
            (None, _) => self.push(w, false),
        }
        if opt.arg == Arg::Two {
            match self.raw.get(self.next) {
                Some(v) => {
                    let v = v.to_string();
                    self.push(&v, false);
                    self.next += 1;
                }
                None => {
                    return Err(format!(
                        "`{shown}` needs two values (a name and a value); suricatta exits without the second"
                    ));
                }
            }
        }
        Ok(())
    }
}

fn flag(_p: &mut Parsed, opt: &Opt, release: Option<Release>) -> Result<(), String> {
    match release {
        Some(r) if r < opt.since => Err(format!(
            "suricatta's `--{}` needs swupdate {} or later; this device has {r}",
            opt.long, opt.since
        )),
        _ => Ok(()),
    }
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
            assert_eq!(p.tokens, ["s3cret"], "{s}");
            assert!(
                p.words
                    .iter()
                    .any(|w| w.secret && w.text.contains("s3cret")),
                "{s}"
            );
        }
    }

    #[test]
    fn tokens_of_a_string_that_does_not_parse_are_still_found() {
        let t = token_values("-t D stray -k s3cret --gatewaytok=g3cret -kx3cret");
        assert_eq!(
            t,
            [
                "s3cret",
                "g3cret",
                "--gatewaytok=g3cret",
                "x3cret",
                "-kx3cret"
            ]
        );
    }

    #[test]
    fn tokens_of_another_modules_string_are_guessed() {
        let t = token_values("-S lua -k s3cret -gg3cret");
        assert!(t.contains(&"s3cret".to_string()), "{t:?}");
        assert!(t.contains(&"g3cret".to_string()), "{t:?}");
    }

    #[test]
    fn tokens_of_a_good_string_are_the_values_only() {
        assert_eq!(
            token_values("-t D -u http://h -i d -k s3cret --gatewaytok=g3cret"),
            ["s3cret", "g3cret"]
        );
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
