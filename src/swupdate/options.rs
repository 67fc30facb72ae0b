//! swupdate's own command line, as swupdate's getopt_long reads it, for every release the
//! launcher supports (2022.12 to 2026.05.x).
//!
//! The words a user adds (`SWUPDATE_ARGS`, `SWUPDATE_EXTRA_ARGS`) are parsed here exactly as
//! glibc's `getopt_long` parses swupdate's argv: short clusters (`-vk/x`), glued values (`-l5`,
//! `--key=/x`), the next word as a value, unique prefixes of long names (`--ca` is `--ca-path`,
//! an exact name wins over a prefix), and long aliases of one option letter (`--ca-path` and
//! `--key` are both `-k`). Reading them any other way lets an option through under a name the
//! launcher did not recognise: `--ca-path /x/evil.pem` replaces the launcher's key, since
//! swupdate takes the last `-k`.
//!
//! The table says in which release each option and each long name appeared (read in
//! `core/swupdate.c` of each tag, checked against Debian's binaries by `tests/releases.rs`), and
//! which build option compiles it in; an option that the installed release lacks is refused
//! naming both releases.

use super::getopt::{self, Arg, Found, Long, Opt, OptionError, Policy, Role, Table, error, l};
use super::release::{AFTER_2026_05_1, PROVIDERS, Release, rel};

const Y22: Release = rel(2022, 12);
const KEY: &str = "SWUPDATE_PUBLIC_KEY (in the EnvironmentFile)";
const PROVIDER: &str = "SWUPDATE_DIGEST_PROVIDER (in the EnvironmentFile)";

const fn o(
    short: Option<char>,
    since: Release,
    longs: &'static [Long],
    arg: Arg,
    build: Option<&'static str>,
    role: Role,
) -> Opt {
    Opt {
        short,
        since,
        longs,
        arg,
        build,
        role,
        secret: false,
    }
}

use Arg::{None as NoArg, Required as Val};

/// swupdate's options, 2022.12 to 2026.05.x and the snapshots after it (core/swupdate.c:
/// `long_options[]` and the short option string built in `main`).
pub const OPTIONS: &[Opt] = &[
    o(Some('f'), Y22, &[l("file", Y22)], Val, None, Role::Free),
    // The short letter needs CONFIG_MTD, the long name CONFIG_UBIATTACH.
    o(
        Some('b'),
        Y22,
        &[l("blacklist", Y22)],
        Val,
        Some("CONFIG_MTD"),
        Role::Free,
    ),
    o(
        Some('B'),
        Y22,
        &[l("bootloader", Y22)],
        Val,
        None,
        Role::Free,
    ),
    o(
        Some('p'),
        Y22,
        &[l("postupdate", Y22)],
        Val,
        None,
        Role::Free,
    ),
    o(
        Some('P'),
        Y22,
        &[l("preupdate", Y22)],
        Val,
        None,
        Role::Free,
    ),
    o(Some('e'), Y22, &[l("select", Y22)], Val, None, Role::Free),
    o(
        Some('g'),
        Y22,
        &[l("get-root", Y22)],
        NoArg,
        None,
        Role::Exits,
    ),
    o(
        Some('E'),
        rel(2024, 12),
        &[l("get-emmc-boot", rel(2024, 12))],
        Val,
        None,
        Role::Exits,
    ),
    o(
        Some('q'),
        Y22,
        &[l("accepted-select", Y22)],
        Val,
        None,
        Role::Free,
    ),
    o(Some('l'), Y22, &[l("loglevel", Y22)], Val, None, Role::Free),
    o(Some('L'), Y22, &[l("syslog", Y22)], NoArg, None, Role::Free),
    o(
        Some('k'),
        Y22,
        &[l("key", Y22), l("ca-path", Y22)],
        Val,
        Some("CONFIG_SIGNED_IMAGES"),
        Role::Owned(KEY),
    ),
    o(
        None,
        Y22,
        &[l("cert-purpose", Y22)],
        Val,
        Some("CONFIG_SIGNED_IMAGES"),
        Role::Free,
    ),
    o(
        None,
        Y22,
        &[l("forced-signer-name", Y22)],
        Val,
        Some("CONFIG_SIGALG_CMS (not with wolfSSL before 2026.05)"),
        Role::Free,
    ),
    o(
        None,
        PROVIDERS,
        &[l("gpg-home-dir", PROVIDERS)],
        Val,
        Some("CONFIG_SIGALG_GPG"),
        Role::Free,
    ),
    o(
        None,
        PROVIDERS,
        &[l("gpg-protocol", PROVIDERS)],
        Val,
        Some("CONFIG_SIGALG_GPG"),
        Role::Free,
    ),
    o(
        None,
        PROVIDERS,
        &[l("digest-provider", PROVIDERS)],
        Val,
        Some("CONFIG_SIGNED_IMAGES"),
        Role::Owned(PROVIDER),
    ),
    o(
        None,
        AFTER_2026_05_1,
        &[l("crl-path", AFTER_2026_05_1)],
        Val,
        Some("CONFIG_SIGNED_IMAGES with OpenSSL"),
        Role::Free,
    ),
    o(
        None,
        AFTER_2026_05_1,
        &[l("crl-check-all", AFTER_2026_05_1)],
        NoArg,
        Some("CONFIG_SIGNED_IMAGES with OpenSSL"),
        Role::Free,
    ),
    o(
        Some('K'),
        Y22,
        &[l("key-aes", Y22), l("decryption-key", PROVIDERS)],
        Val,
        Some("CONFIG_ENCRYPTED_IMAGES"),
        Role::Free,
    ),
    o(
        None,
        PROVIDERS,
        &[l("decrypt-provider", PROVIDERS)],
        Val,
        Some("CONFIG_ENCRYPTED_IMAGES"),
        Role::Free,
    ),
    o(
        None,
        PROVIDERS,
        &[l("hash-provider", PROVIDERS)],
        Val,
        Some("CONFIG_HASH_VERIFY"),
        Role::Free,
    ),
    o(
        Some('n'),
        Y22,
        &[l("dry-run", Y22)],
        NoArg,
        None,
        Role::Free,
    ),
    o(
        Some('N'),
        Y22,
        &[l("no-downgrading", Y22)],
        Val,
        None,
        Role::Owned("SWUPDATE_ANTI_ROLLBACK (with SWUPDATE_VERSION_FILE and SWUPDATE_VERSION_KEY)"),
    ),
    o(
        Some('R'),
        Y22,
        &[l("no-reinstalling", Y22)],
        Val,
        None,
        Role::Owned("SWUPDATE_REINSTALL=no"),
    ),
    o(
        None,
        Y22,
        &[l("max-version", Y22)],
        Val,
        None,
        Role::Owned("SWUPDATE_MAX_VERSION"),
    ),
    o(
        Some('M'),
        Y22,
        &[l("no-transaction-marker", Y22)],
        NoArg,
        None,
        Role::Free,
    ),
    o(
        Some('m'),
        Y22,
        &[l("no-state-marker", Y22)],
        NoArg,
        None,
        Role::Free,
    ),
    o(Some('o'), Y22, &[l("output", Y22)], Val, None, Role::Free),
    o(
        Some('s'),
        rel(2024, 5),
        &[l("gen-swversions", rel(2024, 5))],
        Val,
        None,
        Role::Free,
    ),
    o(
        Some('v'),
        Y22,
        &[l("verbose", Y22)],
        NoArg,
        None,
        Role::Free,
    ),
    o(None, Y22, &[l("version", Y22)], NoArg, None, Role::Exits),
    o(
        Some('H'),
        Y22,
        &[l("hwrevision", Y22)],
        Val,
        Some("CONFIG_HW_COMPATIBILITY"),
        Role::Free,
    ),
    o(Some('c'), Y22, &[l("check", Y22)], NoArg, None, Role::Free),
    o(Some('h'), Y22, &[l("help", Y22)], NoArg, None, Role::Exits),
    o(
        Some('i'),
        Y22,
        &[l("image", Y22)],
        Val,
        None,
        Role::Owned("UPDATE_FILE with SWUPDATE_SOURCE=file"),
    ),
    o(
        Some('d'),
        Y22,
        &[l("download", Y22)],
        Val,
        Some("CONFIG_DOWNLOAD"),
        Role::Owned("URL and SWUPDATE_DOWNLOAD_* with SWUPDATE_SOURCE=download"),
    ),
    o(
        Some('u'),
        Y22,
        &[l("suricatta", Y22)],
        Val,
        Some("CONFIG_SURICATTA"),
        Role::Owned("SWUPDATE_SURICATTA_ARGS"),
    ),
    o(
        Some('w'),
        Y22,
        &[l("webserver", Y22)],
        Val,
        Some("CONFIG_WEBSERVER"),
        Role::Owned("SWUPDATE_WEBSERVER_ARGS"),
    ),
];

/// swupdate's command line, for the reader.
pub static MAIN: Table = Table {
    what: "a swupdate option",
    options: OPTIONS,
};

/// The release the words are checked for: known (the EnvironmentFile's `SWUPDATE_VERSION`),
/// or unknown, when every option of any supported release is accepted.
pub type Target = Option<Release>;

/// Checks words for an unknown release (the union of all supported ones).
pub fn check(words: &[String]) -> Result<(), OptionError> {
    parse(words, None).map(|_| ())
}

/// Parses words meant for swupdate's command line as its getopt_long would: known options of
/// that release only, values where needed, no option the launcher owns or that makes swupdate
/// exit at once, no positional words (swupdate refuses those at start).
pub fn parse(words: &[String], release: Target) -> Result<Vec<Found>, OptionError> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    getopt::read(&MAIN, &words, release, &mut UserWords::default()).map(|r| r.found)
}

/// What the user may add to swupdate's command line.
#[derive(Default)]
struct UserWords {
    /// The word of a key option (`-k`, `--key`, `--ca-path`) whose value is being read: it is
    /// refused once the value is known, with the line that replaces it.
    key_word: Option<String>,
}

impl Policy for UserWords {
    fn option(&mut self, opt: &'static Opt, spelled: &str, word: &str) -> Result<(), OptionError> {
        if is_key(opt) {
            // Refused once its value is read: the refusal writes the line that replaces it.
            self.key_word = Some(word.to_string());
            return Ok(());
        }
        refuse(opt, spelled, word)
    }

    fn found(&mut self, f: &Found) -> Result<(), OptionError> {
        if is_key(f.opt) {
            let word = self.key_word.take().unwrap_or_else(|| f.spelled.clone());
            return Err(key_refusal(f, &word));
        }
        match &f.value {
            Some(v) if v.starts_with('-') => Err(error(
                format!(
                    "the value of `{}` begins with `-` (`{v}`), which swupdate refuses",
                    f.spelled
                ),
                None,
            )),
            _ => Ok(()),
        }
    }

    fn positional(&mut self, w: &str) -> Result<(), OptionError> {
        Err(error(
            format!("`{w}` is a positional word; swupdate takes none and would refuse to start"),
            Some("quote values that contain blanks so they stay one word with their option".into()),
        ))
    }

    fn refuses_owned_abbreviations(&self) -> bool {
        true
    }

    fn end(&mut self) -> Result<(), OptionError> {
        Err(error(
            "`--` ends swupdate's options: the launcher's own options after it would become positional words, which swupdate refuses".into(),
            None,
        ))
    }
}

pub use getopt::last_value;

/// The public key's option (`-k`, `--key`, `--ca-path`).
fn is_key(opt: &Opt) -> bool {
    opt.role == Role::Owned(KEY)
}

/// `-k` in the user's words (`word`): the key is the image's topology, set where a fragment
/// cannot change it; the refusal writes the EnvironmentFile line that replaces it, and names
/// the layer's variable that writes that line.
fn key_refusal(f: &Found, word: &str) -> OptionError {
    let path = f.value.as_deref().unwrap_or("/path/to/key.pem");
    let refused = refuse(f.opt, &f.spelled, word)
        .err()
        .map_or_else(|| format!("`{}` is set by the launcher", f.spelled), |e| e.message);
    error(
        refused,
        Some(format!(
            "set {KEY} instead: write `SWUPDATE_PUBLIC_KEY={path}` in /etc/default/swupdate, and every start passes it as -k and checks the file first; with meta-tolomeo-rust, set SWUPDATE_LAUNCHER_PUBLIC_KEY (the key's file in the product layer), which installs the key and writes that line"
        )),
    )
}

fn refuse(o: &Opt, spelled: &str, word: &str) -> Result<(), OptionError> {
    let within = if word == spelled || word.starts_with(&format!("{spelled}=")) {
        String::new()
    } else {
        format!(" (in `{word}`)")
    };
    match o.role {
        Role::Owned(owner) => Err(error(
            format!("`{spelled}`{within} is set by the launcher"),
            Some(format!("set {owner} instead")),
        )),
        Role::Exits => Err(error(
            format!("`{spelled}`{within} makes swupdate print something and exit without updating"),
            Some("run `swupdate` by hand for that, not through the service".into()),
        )),
        Role::Free => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swupdate::release::SUPPORTED;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn ok(s: &str) {
        assert_eq!(check(&words(s)), Ok(()), "{s}");
    }

    fn ok_for(s: &str, r: &str) {
        let r = Release::parse(r).unwrap();
        assert!(parse(&words(s), Some(r)).is_ok(), "{s} on {r}");
    }

    fn err(s: &str) -> OptionError {
        check(&words(s)).unwrap_err()
    }

    fn err_for(s: &str, r: &str) -> OptionError {
        parse(&words(s), Release::parse(r)).unwrap_err()
    }

    #[test]
    fn empty_is_fine() {
        ok("");
    }

    #[test]
    fn flags_and_options_with_values() {
        ok("-v -l 5 -H board:1.0 -e stable,copy1 --cert-purpose codeSigning");
    }

    #[test]
    fn repeated_accepted_select() {
        ok("-q a,b -q c,d");
    }

    #[test]
    fn long_option_with_equals() {
        ok("--loglevel=5 --cert-purpose=codeSigning");
    }

    #[test]
    fn bundled_short_options() {
        ok("-vn -l5");
    }

    #[test]
    fn bundled_flag_then_option_taking_the_next_word() {
        ok("-vH board:1");
    }

    #[test]
    fn unknown_short_option_is_refused() {
        assert!(err("-Z").message.contains("`-Z`"));
    }

    #[test]
    fn unknown_long_option_is_refused() {
        assert!(err("--frobnicate").message.contains("--frobnicate"));
    }

    #[test]
    fn positional_word_is_refused() {
        assert!(err("-v image.swu").message.contains("positional"));
    }

    #[test]
    fn a_lone_dash_is_a_positional_word() {
        assert!(err("-").message.contains("positional"));
    }

    #[test]
    fn missing_value_is_refused() {
        assert!(err("-l").message.contains("needs a value"));
    }

    #[test]
    fn value_starting_with_dash_is_refused() {
        assert!(err("-e -v").message.contains("begins with `-`"));
    }

    #[test]
    fn value_for_a_flag_is_refused() {
        assert!(err("--verbose=1").message.contains("takes no value"));
    }

    #[test]
    fn double_dash_is_refused() {
        assert!(err("--").message.contains("`--` ends"));
    }

    #[test]
    fn double_dash_after_options_is_refused() {
        assert!(err("-v --").message.contains("`--` ends"));
    }

    #[test]
    fn a_unique_abbreviation_is_the_option() {
        let f = parse(&words("--verb --logl 3"), None).unwrap();
        assert_eq!(f[0].opt.short, Some('v'));
        assert_eq!(f[1].opt.short, Some('l'));
        assert_eq!(f[1].value.as_deref(), Some("3"));
    }

    #[test]
    fn an_exact_name_wins_over_longer_names() {
        // `--key` is exact even though `--key-aes` begins with it.
        assert!(err("--key /k").message.contains("set by the launcher"));
        let f = parse(&words("--version-not"), None);
        assert!(f.is_err());
    }

    #[test]
    fn an_ambiguous_abbreviation_is_refused() {
        let e = err("--p /bin/true");
        assert!(e.message.contains("ambiguous"), "{e:?}");
        assert!(e.message.contains("--postupdate, --preupdate"), "{e:?}");
    }

    #[test]
    fn an_abbreviation_that_may_mean_an_owned_option_is_refused() {
        // `--ke` may be --key (owned) or --key-aes: refused as owned, not merely ambiguous.
        let e = err("--ke /x");
        assert!(e.message.contains("--key"), "{e:?}");
        assert!(e.hint.unwrap().contains("SWUPDATE_PUBLIC_KEY"));
    }

    #[test]
    fn a_key_in_the_users_words_is_refused_with_the_environment_file_line_to_write() {
        for spelled in [
            "-k /etc/k.pem",
            "-vk/etc/k.pem",
            "--key=/etc/k.pem",
            "--ca-path /etc/k.pem",
        ] {
            let e = err(spelled);
            assert!(e.message.contains("set by the launcher"), "{spelled}: {e:?}");
            let hint = e.hint.unwrap();
            assert!(
                hint.contains("`SWUPDATE_PUBLIC_KEY=/etc/k.pem` in /etc/default/swupdate"),
                "{spelled}: {hint}"
            );
            assert!(hint.contains("SWUPDATE_LAUNCHER_PUBLIC_KEY"), "{hint}");
        }
    }

    #[test]
    fn ca_path_is_the_key_option() {
        let e = err("--ca-path /x/evil.pem");
        assert!(e.message.contains("set by the launcher"));
        assert!(e.hint.unwrap().contains("SWUPDATE_PUBLIC_KEY"));
    }

    #[test]
    fn an_option_of_a_later_release_is_refused_naming_both() {
        let e = err_for("-s /etc/sw-versions", "2022.12");
        assert_eq!(
            e.message,
            "`-s` needs swupdate 2024.05 or later; this device has 2022.12"
        );
        let e = err_for("--gen-swversions=/x", "2023.12");
        assert!(
            e.message
                .contains("2024.05 or later; this device has 2023.12")
        );
    }

    #[test]
    fn an_option_of_the_installed_release_is_accepted() {
        ok_for("-s /etc/sw-versions", "2024.05");
        ok_for("--hash-provider opensslSHA256", "2025.12");
        ok_for("--crl-path /c.pem --crl-check-all", "2026.05.1+git20261001");
    }

    #[test]
    fn crl_options_are_refused_on_the_release_2026_05_1_itself() {
        let e = err_for("--crl-path /c.pem", "2026.05.1");
        assert!(e.message.contains("a snapshot after 2026.05.1"), "{e:?}");
    }

    #[test]
    fn an_alias_of_a_later_release_is_refused() {
        // -K is old; its alias --decryption-key came with 2025.12.
        ok_for("-K /aes", "2022.12");
        let e = err_for("--decryption-key /aes", "2025.05");
        assert!(e.message.contains("2025.12"));
    }

    #[test]
    fn an_abbreviation_unique_only_in_an_older_release_follows_that_release() {
        // `--dec` is --decryption-key or --decrypt-provider from 2025.12 on: ambiguous there,
        // unknown before.
        assert!(err_for("--dec x", "2025.12").message.contains("ambiguous"));
        assert!(err_for("--dec x", "2024.12").message.contains("2025.12"));
    }

    #[test]
    fn options_that_only_print_are_refused() {
        for w in [
            "-h",
            "--help",
            "--version",
            "-g",
            "-vg",
            "--get-root",
            "-E /dev/mmcblk0",
        ] {
            assert!(err(w).message.contains("exit without updating"), "{w}");
        }
    }

    #[test]
    fn last_value_is_the_last_occurrence() {
        let f = parse(&words("-f /a.cfg -v --file=/b.cfg"), None).unwrap();
        assert_eq!(last_value(&f, 'f'), Some("/b.cfg"));
    }

    /// Every spelling getopt_long accepts for an option: its short letter alone, glued to a
    /// value, at the end of a cluster; each long name, with `=value`, and every abbreviation
    /// down to the shortest that is unique.
    fn every_form(o: &Opt) -> Vec<String> {
        let value = if o.arg == Arg::Required { " /x" } else { "" };
        let glued = if o.arg == Arg::Required { "/x" } else { "" };
        let mut forms = Vec::new();
        if let Some(c) = o.short {
            forms.push(format!("-{c}{value}"));
            forms.push(format!("-v{c}{value}"));
            forms.push(format!("-vn{c}{value}"));
            if !glued.is_empty() {
                forms.push(format!("-{c}{glued}"));
                forms.push(format!("-v{c}{glued}"));
                forms.push(format!("-{c}x"));
            }
        }
        for long in o.longs {
            forms.push(format!("--{}{value}", long.name));
            if !glued.is_empty() {
                forms.push(format!("--{}={glued}", long.name));
                forms.push(format!("--{}=", long.name));
            }
            for n in 1..long.name.len() {
                forms.push(format!("--{}{value}", &long.name[..n]));
            }
        }
        forms
    }

    #[test]
    fn every_form_of_every_owned_option_is_refused_with_its_variable() {
        for o in OPTIONS {
            let Role::Owned(owner) = o.role else { continue };
            for form in every_form(o) {
                for release in SUPPORTED.iter().copied().map(Some).chain([None]) {
                    let r = parse(&words(&form), release);
                    let e = match r {
                        Err(e) => e,
                        Ok(f) => panic!("{form} accepted on {release:?}: {f:?}"),
                    };
                    // Refused as owned (by this option or another one the prefix may mean), or
                    // as too new for that release: never accepted.
                    if e.message.contains("set by the launcher") {
                        let h = e.hint.unwrap_or_default();
                        assert!(
                            OPTIONS
                                .iter()
                                .any(|p| matches!(p.role, Role::Owned(x) if h.contains(x))),
                            "{form}: {h}"
                        );
                    }
                    let _ = owner;
                }
            }
        }
    }

    #[test]
    fn every_full_spelling_of_an_owned_option_names_its_own_variable() {
        for o in OPTIONS {
            let Role::Owned(owner) = o.role else { continue };
            for s in o.spellings() {
                let form = if o.arg == Arg::Required {
                    format!("{s} /x")
                } else {
                    s.clone()
                };
                let e = err(&form);
                assert!(e.message.contains("set by the launcher"), "{form}");
                // The key's hint goes on with the line to write.
                let hint = e.hint.unwrap_or_default();
                assert!(
                    hint == format!("set {owner} instead")
                        || hint.starts_with(&format!("set {owner} instead: ")),
                    "{form}: {hint}"
                );
            }
        }
    }

    #[test]
    fn every_free_option_is_accepted_in_every_form_on_the_releases_that_have_it() {
        for o in OPTIONS.iter().filter(|o| o.role == Role::Free) {
            let value = if o.arg == Arg::Required { " x" } else { "" };
            for (s, since) in o.spellings_since() {
                for r in SUPPORTED
                    .iter()
                    .chain([&AFTER_2026_05_1])
                    .filter(|r| since <= **r)
                {
                    ok_for(&format!("{s}{value}"), &r.to_string());
                    if o.arg == Arg::Required {
                        let glued = if s.len() == 2 {
                            format!("{s}x")
                        } else {
                            format!("{s}=x")
                        };
                        ok_for(&glued, &r.to_string());
                    }
                }
            }
        }
    }

    #[test]
    fn every_option_is_refused_on_the_releases_before_it() {
        for o in OPTIONS.iter().filter(|o| o.role == Role::Free) {
            for (s, since) in o.spellings_since() {
                for r in SUPPORTED.iter().filter(|r| **r < since) {
                    let e = err_for(&format!("{s} x"), &r.to_string());
                    assert!(
                        e.message.contains("or later; this device has"),
                        "{s} {r}: {e:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn an_owned_option_glued_inside_a_cluster_is_refused() {
        for w in [
            "-vk/x",
            "-vkx",
            "-nvi/x.swu",
            "-vN1.0",
            "-vR",
            "-vd-u",
            "-vuX",
            "-vwX",
        ] {
            let e = err(w);
            assert!(e.message.contains("set by the launcher"), "{w}");
            assert!(e.message.contains(&format!("in `{w}`")), "{w}: {e:?}");
        }
    }

    #[test]
    fn a_cluster_value_does_not_hide_an_owned_option() {
        // `-lk` is -l with the value "k", not -k: getopt_long reads it so.
        ok("-lk");
    }
}
