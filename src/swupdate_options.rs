//! swupdate's own command line, as far as the launcher must understand it to check the words
//! a user adds (`SWUPDATE_ARGS`, `SWUPDATE_EXTRA_ARGS`).
//!
//! swupdate takes the last of most options, so a user's `-i` or `-k` would silently replace the
//! launcher's; and it rejects positional words only after starting. Checking the words against
//! swupdate's getopt table here turns both into an error at the file and line that wrote them.

/// One swupdate option.
struct Opt {
    short: Option<char>,
    long: &'static str,
    takes_value: bool,
    /// Which launcher variable sets this option, if the launcher owns it.
    owner: Option<&'static str>,
}

const fn opt(short: char, long: &'static str, takes_value: bool) -> Opt {
    Opt {
        short: Some(short),
        long,
        takes_value,
        owner: None,
    }
}

const fn long_only(long: &'static str, takes_value: bool) -> Opt {
    Opt {
        short: None,
        long,
        takes_value,
        owner: None,
    }
}

const fn owned(short: char, long: &'static str, owner: &'static str) -> Opt {
    Opt {
        short: Some(short),
        long,
        takes_value: true,
        owner: Some(owner),
    }
}

/// swupdate 2022.12 to 2026.05 (`swupdate -h`, core/swupdate.c).
const OPTIONS: &[Opt] = &[
    opt('f', "file", true),
    opt('b', "blacklist", true),
    opt('B', "bootloader", true),
    opt('p', "postupdate", true),
    opt('P', "preupdate", true),
    opt('e', "select", true),
    opt('g', "get-root", false),
    opt('q', "accepted-select", true),
    opt('l', "loglevel", true),
    opt('L', "syslog", false),
    long_only("cert-purpose", true),
    long_only("forced-signer-name", true),
    long_only("ca-path", true),
    opt('K', "key-aes", true),
    opt('n', "dry-run", false),
    owned(
        'N',
        "no-downgrading",
        "SWUPDATE_ANTI_ROLLBACK (with SWUPDATE_VERSION_FILE and SWUPDATE_VERSION_KEY)",
    ),
    owned('R', "no-reinstalling", "SWUPDATE_REINSTALL=no"),
    Opt {
        short: None,
        long: "max-version",
        takes_value: true,
        owner: Some("SWUPDATE_MAX_VERSION"),
    },
    opt('M', "no-transaction-marker", false),
    opt('m', "no-state-marker", false),
    opt('o', "output", true),
    opt('s', "swversions", true),
    opt('v', "verbose", false),
    long_only("version", false),
    opt('H', "hwrevision", true),
    opt('c', "check", false),
    opt('h', "help", false),
    owned('k', "key", "SWUPDATE_PUBLIC_KEY (in the EnvironmentFile)"),
    owned('i', "image", "UPDATE_FILE with SWUPDATE_SOURCE=file"),
    owned(
        'd',
        "download",
        "URL and SWUPDATE_DOWNLOAD_* with SWUPDATE_SOURCE=download",
    ),
    owned('u', "suricatta", "SWUPDATE_SURICATTA_ARGS"),
    owned('w', "webserver", "SWUPDATE_WEBSERVER_ARGS"),
];

/// Why a word list cannot be handed to swupdate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub message: String,
    pub hint: Option<String>,
}

fn error(message: String, hint: Option<String>) -> OptionError {
    OptionError { message, hint }
}

/// Checks words meant for swupdate's command line: known options only, values where needed,
/// no option the launcher owns, no positional words.
pub fn check(words: &[String]) -> Result<(), OptionError> {
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        i += 1;
        let (o, shown, inline_value) = if let Some(long) = w.strip_prefix("--") {
            if long.is_empty() {
                return Err(error(
                    "`--` would make the rest positional words, which swupdate refuses".into(),
                    None,
                ));
            }
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(o) = OPTIONS.iter().find(|o| o.long == name) else {
                return Err(unknown(w));
            };
            (o, format!("--{name}"), value)
        } else if let Some(shorts) = w.strip_prefix('-').filter(|s| !s.is_empty()) {
            // Bundled short options: `-vn`, `-l5`, `-vH board:1`.
            let mut found = None;
            for (at, c) in shorts.char_indices() {
                let Some(o) = OPTIONS.iter().find(|o| o.short == Some(c)) else {
                    return Err(unknown_in_cluster(w, c));
                };
                if o.takes_value || o.owner.is_some() {
                    let rest = &shorts[at + c.len_utf8()..];
                    found = Some((
                        o,
                        format!("-{c}"),
                        (!rest.is_empty()).then(|| rest.to_string()),
                    ));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => continue,
            }
        } else {
            return Err(error(
                format!(
                    "`{w}` is a positional word; swupdate takes none and would refuse to start"
                ),
                Some(
                    "quote values that contain blanks so they stay one word with their option"
                        .into(),
                ),
            ));
        };
        refuse_owned(o, &shown)?;
        if !o.takes_value {
            if inline_value.is_some() {
                return Err(error(format!("`{shown}` takes no value"), None));
            }
            continue;
        }
        let value = match inline_value {
            Some(v) => v,
            None => {
                let Some(v) = words.get(i) else {
                    return Err(error(format!("`{shown}` needs a value"), None));
                };
                i += 1;
                v.clone()
            }
        };
        if value.starts_with('-') {
            return Err(error(
                format!(
                    "the value of `{shown}` begins with `-` (`{value}`), which swupdate refuses"
                ),
                None,
            ));
        }
    }
    Ok(())
}

fn refuse_owned(o: &Opt, shown: &str) -> Result<(), OptionError> {
    match o.owner {
        Some(owner) => Err(error(
            format!("`{shown}` is set by the launcher"),
            Some(format!("set {owner} instead")),
        )),
        None => Ok(()),
    }
}

/// An unknown letter inside a cluster such as `-v=x`: the message names the whole word (not
/// just `-=`, which the user never wrote), and `=` gets the advice it needs.
fn unknown_in_cluster(word: &str, c: char) -> OptionError {
    if word.len() == 1 + c.len_utf8() {
        return unknown(word);
    }
    let hint = if c == '=' {
        "short options take no `=`: give the value as the next word (`-l 5`) or glued (`-l5`); `=` works with long options (`--loglevel=5`)".to_string()
    } else {
        "see `swupdate -h` for the options this swupdate knows".to_string()
    };
    error(
        format!("`{word}`: `-{c}` in it is not a swupdate option"),
        Some(hint),
    )
}

fn unknown(w: &str) -> OptionError {
    error(
        format!("`{w}` is not a swupdate option"),
        Some("see `swupdate -h` for the options this swupdate knows".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn ok(s: &str) {
        assert_eq!(check(&words(s)), Ok(()), "{s}");
    }

    fn err(s: &str) -> OptionError {
        check(&words(s)).unwrap_err()
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
        assert!(err("--").message.contains("positional"));
    }

    #[test]
    fn every_owned_option_is_refused_with_its_variable() {
        for (w, var) in [
            ("-k /k.pem", "SWUPDATE_PUBLIC_KEY"),
            ("--key=/k.pem", "SWUPDATE_PUBLIC_KEY"),
            ("-i /x.swu", "UPDATE_FILE"),
            ("--image /x.swu", "UPDATE_FILE"),
            ("-d -u", "URL"),
            ("-u x", "SWUPDATE_SURICATTA_ARGS"),
            ("-w x", "SWUPDATE_WEBSERVER_ARGS"),
            ("-vi/x.swu", "UPDATE_FILE"),
            ("-N 1.0", "SWUPDATE_ANTI_ROLLBACK"),
            ("-R 1.0", "SWUPDATE_REINSTALL"),
            ("--max-version=2.0", "SWUPDATE_MAX_VERSION"),
        ] {
            let e = err(w);
            assert!(e.message.contains("set by the launcher"), "{w}");
            assert!(e.hint.unwrap().contains(var), "{w}");
        }
    }
}
