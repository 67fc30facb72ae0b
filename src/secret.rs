//! Secrets: marked where they enter, carried as [`Secret`], and masked in every output.
//!
//! A secret is known as one when it enters: the userinfo, query values and fragment of a URL
//! when the URL is parsed (the whole value, so a password with a blank or a `/` is still one
//! secret), the downloader's `-a user:password` built from them, and the values of token
//! options in strings handed to swupdate (`-k`/`--targettoken`, `-g`/`--gatewaytoken` and the
//! header values of `-a`/`--custom-http-header` in SWUPDATE_SURICATTA_ARGS, `-a` inside a
//! `-d` string), read when the variables are loaded ([`mark_settings`]). Each becomes a
//! [`Secret`], whose `Display` and `Debug` show `***`; only [`Secret::expose`] gives the value,
//! and only the argv and the preflight's basic-auth header call it.
//!
//! Creating a `Secret` also records its value in a process-wide mask list, and every output of
//! the launcher (stderr, the journal, STATUS=, `explain`, `--print-argv` unless secrets are
//! asked for) passes through [`redact`], which replaces every recorded value wherever it
//! appears, whatever the text around it: a message that quotes a variable holding a secret,
//! a variable that only held a token later expanded into the suricatta string. [`redact`]
//! then also hides the userinfo, query values and fragment of anything shaped like a URL
//! (any scheme, anywhere in the text), for secrets that were never parsed as such.
//!
//! Masking errs on the side of hiding: a recorded value of 8 characters or more is masked
//! anywhere; a shorter one only where it stands alone (not inside a longer word), so a query
//! value `1` does not turn every digit of a message into `***`.

use std::fmt;
use std::sync::Mutex;

use crate::config::settings::Settings;
use crate::config::vocabulary::names;

/// What a secret looks like in any output.
pub const MASK: &str = "***";

/// Every secret value seen so far in this process: a set (recording is O(1), so a hostile
/// descriptor.env with thousands of URL lines cannot make loading quadratic), and the same
/// values longest first, sorted again only when something new was recorded.
struct Masks {
    seen: std::collections::HashSet<String>,
    longest_first: Vec<String>,
    sorted: bool,
}

static MASKS: Mutex<Option<Masks>> = Mutex::new(None);

/// Below this length a recorded value is masked only where it stands alone.
const ANYWHERE_FROM: usize = 8;

/// A value that must never be shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Marks `value` as secret: from now on [`redact`] hides it in any text.
    pub fn new(value: impl Into<String>) -> Secret {
        let value = value.into();
        record(&value);
        Secret(value)
    }

    /// The value itself, for the one place that must send it (the argv, an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

/// Records `value` in the mask list (without a [`Secret`] to carry it).
pub fn record(value: &str) {
    if value.is_empty() || value == MASK {
        return;
    }
    let mut guard = MASKS.lock().unwrap_or_else(|e| e.into_inner());
    let m = guard.get_or_insert_with(|| Masks {
        seen: std::collections::HashSet::new(),
        longest_first: Vec::new(),
        sorted: true,
    });
    if m.seen.insert(value.to_string()) {
        m.longest_first.push(value.to_string());
        m.sorted = false;
    }
}

/// `text` with every recorded secret and every URL's userinfo, query values and fragment
/// replaced by `***`. Every output goes through this.
pub fn redact(text: &str) -> String {
    let masked = {
        let mut guard = MASKS.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_mut() {
            Some(m) => {
                if !m.sorted {
                    // Longest first: a secret that contains another is masked whole.
                    m.longest_first
                        .sort_unstable_by_key(|v| std::cmp::Reverse(v.len()));
                    m.sorted = true;
                }
                mask(text, &m.longest_first)
            }
            None => text.to_string(),
        }
    };
    crate::plan::url::redact_text(&masked)
}

fn alone(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
}

/// Replaces each of `secrets` (longest first) in `text`; linear in the text per secret.
pub fn mask(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets {
        if !out.contains(s.as_str()) {
            continue;
        }
        let mut next = String::with_capacity(out.len());
        let mut rest = 0;
        for (at, _) in out.match_indices(s.as_str()) {
            if at < rest {
                continue;
            }
            let end = at + s.len();
            if s.len() >= ANYWHERE_FROM || alone(&out, at, end) {
                next.push_str(&out[rest..at]);
                next.push_str(MASK);
                rest = end;
            }
        }
        next.push_str(&out[rest..]);
        out = next;
    }
    out
}

/// The words of a string swupdate splits on whitespace (`-d`, `-u`, `-w`): its own rule.
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split_whitespace()
}

/// Records the secrets in a suricatta string: every token value as swupdate's getopt_long
/// reads the string (`-k`/`--targettoken`, `-g`/`--gatewaytoken`, abbreviated, glued, in
/// clusters: [`crate::swupdate::suricatta::token_values`]), and the value (every word up to the next
/// option) of `-a`/`--custom-http-header NAME VALUE`.
pub fn mark_suricatta(value: &str) {
    for v in crate::swupdate::suricatta::token_values(value) {
        record(&v);
    }
    let w: Vec<&str> = words(value).collect();
    let mut i = 0;
    while i < w.len() {
        let word = w[i];
        i += 1;
        if word == "-a" || word == "--custom-http-header" {
            // NAME, then the header's value, which may be several words ("Bearer xyz").
            i += 1;
            let from = i;
            while i < w.len() && !w[i].starts_with('-') {
                record(w[i]);
                i += 1;
            }
            if i > from {
                record(&w[from..i].join(" "));
            }
        }
    }
}

/// Records the `-a user:password` of a downloader string.
pub fn mark_downloader(value: &str) {
    let w: Vec<&str> = words(value).collect();
    for pair in w.windows(2) {
        if pair[0] == "-a" || pair[0] == "--authentication" {
            record(pair[1]);
        }
    }
    for word in &w {
        if let Some(v) = word
            .strip_prefix("-a")
            .filter(|v| !v.is_empty() && !v.starts_with('-'))
        {
            record(v);
        }
    }
}

/// Records every secret the variables carry in their values: URL parts (of `URL`, parsed
/// whole, and of anything URL-shaped in any value), suricatta tokens, and the credentials of
/// `-d`/`-u` strings inside the option variables. Runs once, when the variables are loaded,
/// before anything is shown. Only the value each variable ends with is recorded: a hostile
/// descriptor.env of thousands of `URL=` lines must not make every later message cost
/// thousands of comparisons; `explain` shows the earlier values with [`crate::plan::url::redact_whole`]
/// for URL and the URL-shaped masking for the rest.
pub fn mark_settings(vars: &Settings) {
    for name in vars.names() {
        let Some(last) = vars.history(name).last() else {
            continue;
        };
        let v = last.value.as_str();
        if name == names::URL {
            crate::plan::url::mark_secrets(v);
        }
        crate::plan::url::mark_embedded(v);
        if name == names::SWUPDATE_SURICATTA_ARGS {
            mark_suricatta(v);
        }
        if name.ends_with("_ARGS") {
            mark_option_strings(v);
        }
    }
}

/// `-d "…"` and `-u "…"` inside a list of swupdate options (SWUPDATE_ARGS and friends, which
/// the plan refuses, but `explain` still shows them).
fn mark_option_strings(value: &str) {
    let Ok(w) = shell_words::split(value) else {
        mark_downloader(value);
        mark_suricatta(value);
        return;
    };
    let mut it = w.iter();
    while let Some(word) = it.next() {
        match word.as_str() {
            "-d" | "--download" => it.next().into_iter().for_each(|v| mark_downloader(v)),
            "-u" | "--suricatta" => it.next().into_iter().for_each(|v| mark_suricatta(v)),
            _ => {
                if let Some(v) = word.strip_prefix("-d").filter(|v| !v.is_empty()) {
                    mark_downloader(v);
                }
                if let Some(v) = word.strip_prefix("-u").filter(|v| !v.is_empty()) {
                    mark_suricatta(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_displays_as_the_mask() {
        let s = Secret::new("s3cr3t-display-value");
        assert_eq!(s.to_string(), MASK);
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "s3cr3t-display-value");
    }

    #[test]
    fn a_recorded_secret_is_masked_in_any_text() {
        let _ = Secret::new("pa ss/w0rd-with-blank");
        assert_eq!(redact("x=(pa ss/w0rd-with-blank)\tnext"), "x=(***)\tnext");
    }

    #[test]
    fn a_short_secret_is_masked_only_where_it_stands_alone() {
        let secrets = vec!["q7".to_string()];
        assert_eq!(mask("-a q7 and aq7b", &secrets), "-a *** and aq7b");
    }

    #[test]
    fn a_long_secret_is_masked_inside_a_word() {
        let secrets = vec!["abcdefgh".to_string()];
        assert_eq!(mask("Bearerabcdefghx", &secrets), "Bearer***x");
    }

    #[test]
    fn suricatta_tokens_are_secrets_in_every_spelling() {
        mark_suricatta(
            "-t default -k tok-short-1 -g gw-tok-2 --targettoken=tt-3 --gatewaytoken gg-4 -ktok5x -a Authorization Bearer hdr-6",
        );
        let r = redact("tok-short-1 gw-tok-2 tt-3 gg-4 tok5x hdr-6 default");
        assert_eq!(r, "*** *** *** *** *** *** default");
    }

    #[test]
    fn abbreviated_and_glued_suricatta_tokens_are_secrets() {
        mark_suricatta("-t D -u http://h -i d --gatewaytok=ab-g3cret -kab-k3cret");
        let r = redact("ab-g3cret ab-k3cret -t D -u http://h -i d");
        assert_eq!(r, "*** *** -t D -u http://h -i d");
    }

    #[test]
    fn tokens_of_a_suricatta_string_that_does_not_parse_are_secrets() {
        let s = "-t D stray -k ab-s3cret --gatewaytok=ab-g3cret -kab-x3cret";
        mark_suricatta(s);
        let r = redact(s);
        assert!(
            !r.contains("s3cret") && !r.contains("g3cret") && !r.contains("x3cret"),
            "{r}"
        );
        assert!(r.contains("-t D stray"), "{r}");
    }

    #[test]
    fn downloader_credentials_are_secrets() {
        mark_downloader("-u https://h/x -a dl-user:dl-pw -r 3");
        assert_eq!(redact("-a dl-user:dl-pw"), "-a ***");
    }

    #[test]
    fn credentials_in_a_download_string_of_extra_args_are_secrets() {
        mark_option_strings("-v -d '-u https://h/x -a xa-user:xa-pw'");
        assert_eq!(redact("xa-user:xa-pw"), "***");
    }

    #[test]
    fn thousands_of_secrets_are_recorded_once_each() {
        for i in 0..5000 {
            record(&format!("bulk-secret-{i:05}"));
            record(&format!("bulk-secret-{i:05}"));
        }
        assert_eq!(redact("bulk-secret-04999"), "***");
        let guard = MASKS.lock().unwrap();
        let m = guard.as_ref().unwrap();
        assert_eq!(m.seen.len(), m.longest_first.len());
    }

    #[test]
    fn a_short_query_value_does_not_mask_every_digit() {
        let _ = crate::plan::url::Url::parse("https://h/x.swu?v=1&sig=sigvalue-long");
        assert_eq!(redact("line 1: sigvalue-long"), "line 1: ***");
    }

    proptest::proptest! {
        /// Whatever a password holds (blanks, `/`, `@`, `:`, quotes), once its URL is parsed the
        /// password is never shown where it stands in a message.
        #[test]
        fn a_parsed_urls_password_is_never_shown(pw in "[ -~]{1,24}") {
            // A prefix of its own: the mask list is shared by every test of this binary, so a
            // generated password must not be a word other tests print.
            let pw = format!("Pq{}", pw.trim().replace(['@', '/', '?', '#'], "x"));
            let _ = crate::plan::url::Url::parse(&format!("https://user:{pw}@host.example/x.swu"));
            let shown = redact(&format!("quoted ({pw}) and \t{pw}\n"));
            proptest::prop_assert!(!shown.contains(&format!("({pw})")), "{}", shown);
            proptest::prop_assert!(!shown.contains(&format!("\t{pw}\n")), "{}", shown);
        }
    }
}
