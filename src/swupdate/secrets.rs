//! Which words handed to swupdate are secret: every value the reader ([`super::getopt`]) finds
//! for a secret option of its table, in the variables that become swupdate's words. Nothing is
//! guessed: a string the launcher cannot read (another suricatta module, a parse failure) fails
//! closed, every value word of it masked, and [`unreadable`] says why (`explain` shows it).
//!
//! Recorded in [`crate::secret`]'s mask list when the variables are loaded, before anything is
//! shown: from then on [`crate::secret::redact`] hides them in every output.

use super::getopt::{self, Accept, PassOver, Read, Table};
use super::{options, strings, suricatta};
use crate::config::settings::Settings;
use crate::config::vocabulary::names;
use crate::secret;

/// Words of a string that cannot be read, shorter than this, are masked in the string but not
/// recorded for every output: a lone `5` or `D` protects nothing, and masking every `5` of
/// every message (a line number) hides what the message is for. (A secret option's value is
/// recorded at any length.)
const MIN_RECORDED_UNREAD: usize = 4;

/// Records every secret the variables carry in their values: URL parts (of `URL`, parsed
/// whole, and of anything URL-shaped in any value), and every value of a secret option in the
/// options variables and the `-d`, `-u`, `-w` strings, in every value a variable had (a value a
/// later file overrides is still shown by `explain`). Of the agent's `URL` only the last value
/// is recorded: a hostile descriptor.env of thousands of `URL=` lines must not make every later
/// message cost thousands of comparisons; `explain` shows its earlier values with
/// [`crate::secret::redact_whole`].
pub fn mark_settings(vars: &Settings) {
    // Unordered: which values are secret does not depend on the order they are looked at.
    for (name, history) in vars.histories() {
        // Every value an image file wrote, overridden ones too (`explain` shows them): secrecy is
        // a property of the value, not of which file won. The agent's handoff keeps its last
        // value only (see above); `explain` masks its earlier ones whole.
        let values = if name == names::URL {
            history.last().into_iter().collect::<Vec<_>>()
        } else {
            history.iter().collect()
        };
        for setting in values {
            let v = setting.value.as_str();
            if name == names::URL {
                secret::mark_url(v);
            }
            secret::mark_embedded(v);
            if let Some(m) = of_variable(name, v) {
                m.secrets.iter().for_each(|s| secret::record(s));
            }
        }
    }
}

/// The options variables whose words could not be read, each with why: every value word of
/// them is masked.
pub fn unreadable(vars: &Settings) -> Vec<String> {
    let mut out = Vec::new();
    // Only options variables can be unreadable: those are sorted, not every name.
    let mut options: Vec<&str> = vars
        .histories()
        .map(|(n, _)| n)
        .filter(|n| n.ends_with("_ARGS"))
        .collect();
    options.sort_unstable();
    for name in options {
        let Some(last) = vars.history(name).last() else {
            continue;
        };
        if let Some(m) = of_variable(name, &last.value) {
            out.extend(
                m.unread
                    .into_iter()
                    .map(|why| format!("{name}: every value word is masked: {why}")),
            );
        }
    }
    out
}

/// What reading a variable found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Marked {
    /// The values to mask.
    secrets: Vec<String>,
    /// Why a string (or a string inside it) could not be read.
    unread: Vec<String>,
}

/// The secrets of a variable that becomes swupdate's words, by the table that reads it.
fn of_variable(name: &str, value: &str) -> Option<Marked> {
    Some(match name {
        names::SWUPDATE_SURICATTA_ARGS => suricatta_string(value),
        names::SWUPDATE_WEBSERVER_ARGS => string(&strings::WEBSERVER, value),
        n if n.ends_with("_ARGS") => command_line(value),
        _ => return None,
    })
}

/// Words swupdate's command line gets (split with shell quoting), and the `-d`, `-u`, `-w`
/// strings among them.
fn command_line(value: &str) -> Marked {
    let Ok(words) = shell_words::split(value) else {
        return unread(value, "it has an unterminated quote".into());
    };
    // As getopt_long reads it, unknown options passed over: swupdate's own options are never
    // secret, only the strings of `-d`, `-u`, `-w` can be, and a typo elsewhere must not hide
    // the word its error names.
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let read = match getopt::read(&options::MAIN, &words, None, &mut PassOver) {
        Ok(r) => r,
        Err(e) => return unread(value, e.message),
    };
    // Its own words are never secret, positional ones included (swupdate refuses those).
    let mut m = Marked::default();
    for f in &read.found {
        let Some(v) = &f.value else { continue };
        let inner = match f.opt.short {
            Some('d') => string(&strings::DOWNLOADER, v),
            Some('u') => suricatta_string(v),
            Some('w') => string(&strings::WEBSERVER, v),
            _ => continue,
        };
        m.secrets.extend(inner.secrets);
        m.unread.extend(
            inner
                .unread
                .into_iter()
                .map(|why| format!("in its `{}` string, {why}", f.spelled)),
        );
    }
    m
}

/// A `-d` or `-w` string, split as swupdate splits it.
fn string(table: &Table, value: &str) -> Marked {
    let words: Vec<&str> = value.split_whitespace().collect();
    match getopt::read(table, &words, None, &mut Accept) {
        Ok(r) => found(&r),
        Err(e) => unread(value, e.message),
    }
}

/// A `-u` string, read with its module's table.
fn suricatta_string(value: &str) -> Marked {
    match suricatta::read(value) {
        Ok(r) => found(&r),
        Err(why) => unread(value, why),
    }
}

/// The values of secret options, and the words no option took (their meaning is unknown:
/// masked, fail closed).
fn found(read: &Read) -> Marked {
    let mut secrets: Vec<String> = read.secrets().map(str::to_string).collect();
    secrets.extend(
        read.positional
            .iter()
            .filter(|w| w.len() >= MIN_RECORDED_UNREAD)
            .cloned(),
    );
    Marked {
        secrets,
        unread: Vec::new(),
    }
}

/// A string that cannot be read, failed closed: every word that may be or hold a value (all
/// but a lone option name such as `-t` or `--tenant`), whole, and what follows a `=` in it.
fn unread(value: &str, why: String) -> Marked {
    let mut secrets = Vec::new();
    for w in value.split_whitespace() {
        let lone_name =
            (w.len() == 2 && w.starts_with('-')) || (w.starts_with("--") && !w.contains('='));
        if lone_name {
            continue;
        }
        if let Some((_, v)) = w.split_once('=') {
            secrets.push(v.to_string());
        }
        secrets.push(w.to_string());
    }
    secrets.retain(|s| s.len() >= MIN_RECORDED_UNREAD);
    Marked {
        secrets,
        unread: vec![format!(
            "the launcher cannot read it ({why}), so it cannot tell its secrets from the rest"
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::redact;
    use crate::swupdate::getopt::Opt;

    fn mark(name: &str, value: &str) -> Marked {
        let m = of_variable(name, value).unwrap();
        m.secrets.iter().for_each(|s| secret::record(s));
        m
    }

    fn suricatta(value: &str) -> Marked {
        mark(names::SWUPDATE_SURICATTA_ARGS, value)
    }

    #[test]
    fn suricatta_tokens_are_secrets_in_every_spelling() {
        suricatta(
            "-t default -k tok-short-1 -g gw-tok-2 --targettoken=tt-3 --gatewaytoken gg-4 -ktok5x -a Authorization Bearer hdr-6",
        );
        let r = redact("tok-short-1 gw-tok-2 tt-3 gg-4 tok5x hdr-6 default");
        assert_eq!(r, "*** *** *** *** *** *** default");
    }

    #[test]
    fn abbreviated_and_glued_suricatta_tokens_are_secrets() {
        suricatta("-t D -u http://h -i d --gatewaytok=ab-g3cret -kab-k3cret");
        let r = redact("ab-g3cret ab-k3cret -t D -u http://h -i d");
        assert_eq!(r, "*** *** -t D -u http://h -i d");
    }

    #[test]
    fn tokens_of_a_suricatta_string_with_a_stray_word_are_secrets_and_so_is_the_word() {
        // A positional word: no option took it, so what it is cannot be known (fail closed).
        let s = "-t D stray -k ab-s3cret --gatewaytok=ab-g3cret -kab-x3cret";
        suricatta(s);
        let r = redact(s);
        assert!(
            !r.contains("s3cret") && !r.contains("g3cret") && !r.contains("x3cret"),
            "{r}"
        );
        assert!(!r.contains("stray"), "{r}");
        assert!(r.contains("-t D"), "{r}");
    }

    #[test]
    fn a_suricatta_string_that_does_not_parse_fails_closed() {
        let m = suricatta("-t D -Q -k s3cret-unparsed -gg3cret-unparsed --gatewaytok=g4cret");
        assert_eq!(m.unread.len(), 1, "{m:?}");
        assert!(m.unread[0].contains("`-Q`"), "{m:?}");
        let r = redact("s3cret-unparsed -gg3cret-unparsed g4cret");
        assert_eq!(r, "*** *** ***");
    }

    #[test]
    fn another_modules_string_fails_closed_and_says_why() {
        let m = suricatta("-S lua -k s3cret-lua -gg3cret-lua");
        assert!(m.unread[0].contains("`lua`"), "{m:?}");
        assert_eq!(redact("s3cret-lua -gg3cret-lua"), "*** ***");
    }

    #[test]
    fn a_good_suricatta_strings_other_words_stay_shown() {
        let m = suricatta("-t D -u http://h -i dev-plain -k s3cret-good --gatewaytok=g3cret-good");
        assert!(m.unread.is_empty(), "{m:?}");
        assert_eq!(m.secrets, ["s3cret-good", "g3cret-good"]);
    }

    #[test]
    fn downloader_credentials_are_secrets() {
        let m = string(&strings::DOWNLOADER, "-u https://h/x -a dl-user:dl-pw -r 3");
        m.secrets.iter().for_each(|s| secret::record(s));
        assert_eq!(redact("-a dl-user:dl-pw"), "-a ***");
    }

    #[test]
    fn credentials_in_a_download_string_of_extra_args_are_secrets() {
        mark(
            "SWUPDATE_EXTRA_ARGS",
            "-v -d '-u https://h/x -a xa-user:xa-pw'",
        );
        assert_eq!(redact("xa-user:xa-pw"), "***");
    }

    #[test]
    fn a_suricatta_string_inside_extra_args_is_read_by_its_table() {
        mark(
            "SWUPDATE_EXTRA_ARGS",
            "-v --suri='-t D --custom X-K hdr-in-extra' -d'-uhttps://h -aglued-user:pw'",
        );
        assert_eq!(redact("hdr-in-extra glued-user:pw X-K"), "*** *** X-K");
    }

    #[test]
    fn unread_words_shorter_than_four_are_not_recorded() {
        let m = suricatta("-S lua -p 5 -k long-enough");
        assert_eq!(m.secrets, ["long-enough"]);
    }

    /// Every spelling getopt_long accepts for the secret option `o` of `table`, with `value`:
    /// its short letter with the value as the next word and glued, at the end of a cluster of
    /// the table's flags; each long name with the next word and with `=`, and every
    /// abbreviation that only this option's names begin with. A pair (`-a NAME VALUE`) gets
    /// its name where a value would be, and the value after it.
    fn every_spelling(table: &Table, o: &Opt, value: &str) -> Vec<String> {
        let (first, then) = match o.arg {
            getopt::Arg::Pair => ("X-Name", format!(" {value}")),
            _ => (value, String::new()),
        };
        let flags: Vec<char> = table
            .options
            .iter()
            .filter(|f| f.arg == getopt::Arg::None)
            .filter_map(|f| f.short)
            .collect();
        let mut forms = Vec::new();
        if let Some(c) = o.short {
            forms.push(format!("-{c} {first}{then}"));
            forms.push(format!("-{c}{first}{then}"));
            for f in flags.iter().take(2) {
                forms.push(format!("-{f}{c} {first}{then}"));
                forms.push(format!("-{f}{c}{first}{then}"));
            }
            if let [a, b, ..] = flags.as_slice() {
                forms.push(format!("-{a}{b}{c} {first}{then}"));
            }
        }
        let others = |prefix: &str| {
            table
                .options
                .iter()
                .any(|p| !std::ptr::eq(p, o) && p.longs.iter().any(|l| l.name.starts_with(prefix)))
        };
        for long in o.longs {
            forms.push(format!("--{} {first}{then}", long.name));
            forms.push(format!("--{}={first}{then}", long.name));
            for n in 1..long.name.len() {
                let prefix = &long.name[..n];
                if !others(prefix) {
                    forms.push(format!("--{prefix} {first}{then}"));
                    forms.push(format!("--{prefix}={first}{then}"));
                }
            }
        }
        forms
    }

    /// The variable a string of `table` is written in, with the form among other words; and
    /// the same string inside SWUPDATE_EXTRA_ARGS (`-u '…'`, `-d '…'`).
    fn written(table: &Table, form: &str) -> Vec<(&'static str, String)> {
        if std::ptr::eq(table, &suricatta::HAWKBIT) {
            let s = format!("-t D -u http://h -i dev {form} -p 10");
            vec![
                (names::SWUPDATE_SURICATTA_ARGS, s.clone()),
                ("SWUPDATE_EXTRA_ARGS", format!("-v --suricatta='{s}'")),
                ("SWUPDATE_EXTRA_ARGS", format!("-vu'{s}'")),
            ]
        } else if std::ptr::eq(table, &strings::DOWNLOADER) {
            let s = format!("-u https://h/x.swu {form} -r 3");
            vec![
                ("SWUPDATE_EXTRA_ARGS", format!("-d '{s}'")),
                ("SWUPDATE_EXTRA_ARGS", format!("-v --down='{s}'")),
            ]
        } else if std::ptr::eq(table, &strings::WEBSERVER) {
            vec![(names::SWUPDATE_WEBSERVER_ARGS, format!("-r /www {form}"))]
        } else {
            vec![("SWUPDATE_EXTRA_ARGS", form.to_string())]
        }
    }

    #[test]
    fn every_spelling_of_every_secret_option_of_every_table_is_read_and_masked() {
        let tables: [&Table; 4] = [
            &options::MAIN,
            &suricatta::HAWKBIT,
            &strings::DOWNLOADER,
            &strings::WEBSERVER,
        ];
        let mut checked = 0;
        for table in tables {
            for o in table.options.iter().filter(|o| o.secret) {
                for (n, form) in every_spelling(table, o, "SECRETVALUE").iter().enumerate() {
                    for (m, (name, text)) in written(table, form).into_iter().enumerate() {
                        // A value of its own per case: the mask list is shared by every test.
                        let value = format!("Gv{}{n:03}{m}x{}", o.name(), table.what.len());
                        let text = text.replace("SECRETVALUE", &value);
                        let marked = mark(name, &text);
                        assert!(marked.unread.is_empty(), "{name}={text}: {marked:?}");
                        assert!(marked.secrets.contains(&value), "{name}={text}: {marked:?}");
                        let shown = redact(&text);
                        assert!(!shown.contains(&value), "{name}={text} shown as {shown}");
                        checked += 1;
                    }
                }
            }
        }
        // -k, -g and -a of hawkBit, -a of the downloader, in each of their spellings.
        assert!(checked > 100, "only {checked} cases");
    }
}
