//! Secrets: marked where they enter, carried as [`Secret`], and masked in every output.
//!
//! A secret is known as one when it enters: the userinfo, query values and fragment of a URL
//! when the URL is parsed (the whole value, so a password with a blank or a `/` is still one
//! secret), the downloader's `-a user:password` built from them, and every value swupdate's
//! getopt reader finds for a secret option in the words handed to swupdate, read when the
//! variables are loaded ([`crate::swupdate::secrets::mark_settings`]). Each becomes a
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
//! This module is the bottom layer of masking: it uses nothing else of the crate. The plan's
//! URL ([`crate::plan::url`]) and swupdate's reader ([`crate::swupdate::secrets`]) record here.
//!
//! Masking errs on the side of hiding: a recorded value of 8 characters or more is masked
//! anywhere; a shorter one only where it stands alone (not inside a longer word), so a query
//! value `1` does not turn every digit of a message into `***`.

use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Mutex;

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

/// Values of a private file that are recorded all the same are no secret: the switches and
/// modes of the vocabulary (every reader of the docs knows them), and values shorter than
/// this, which protect nothing and would blank every lone `3` of every message.
const PUBLIC_WORDS: [&str; 5] = ["yes", "no", "file", "download", "daemon"];
const MIN_RECORDED_PRIVATE: usize = 4;

/// Records a value set by a file not every reader of the output could read (a `0600`
/// fragment, or one in a `0700` directory): what only such a file holds is as private as the
/// file, whatever the variable (a helper variable holding a token, a path, a header). The
/// vocabulary's switch and mode words and values shorter than 4 characters are left shown
/// (see [`PUBLIC_WORDS`]).
pub fn mark_private(value: &str) {
    let v = value.trim();
    if v.len() < MIN_RECORDED_PRIVATE || PUBLIC_WORDS.contains(&v) {
        return;
    }
    record(value);
    if v != value {
        record(v);
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
    redact_text(&masked)
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

// URL-shaped text: where a URL's secrets are, in a value meant as one URL or anywhere in free
// text (any scheme). Url::parse (crate::plan::url) reads its URL with the same rules.

/// The parts of a URL that are secret, as byte ranges of `url` (which starts at its scheme,
/// or at its path when it has none, and ends where the URL ends).
#[derive(Debug, Default, PartialEq, Eq)]
struct Parts {
    userinfo: Option<Range<usize>>,
    /// Query values (a pair without `=` is all value).
    values: Vec<Range<usize>>,
    fragment: Option<Range<usize>>,
}

/// How long the authority (`[userinfo@]host[:port]`) at the start of `s` is. It ends at the
/// first `/`, `?` or `#`, except when what comes before that is `user:pass` (a `:` followed by
/// something that is not a port) and an `@` follows before the query: a password with an
/// unencoded `/` (`user:pa/ss@host`) is then still the userinfo, not a path to show.
pub(crate) fn authority_len(s: &str) -> usize {
    let first = s.find(['/', '?', '#']).unwrap_or(s.len());
    if s[..first].contains('@') || s.starts_with('[') {
        return first;
    }
    let Some(colon) = s[..first].find(':') else {
        return first;
    };
    let port = &s[colon + 1..first];
    if port.is_empty() || port.bytes().all(|b| b.is_ascii_digit()) {
        return first;
    }
    let query = s.find(['?', '#']).unwrap_or(s.len());
    match s[..query].rfind('@') {
        Some(at) => s[at..].find(['/', '?', '#']).map_or(s.len(), |i| at + i),
        None => first,
    }
}

fn parts(url: &str) -> Parts {
    let after = url.find("://").map_or(0, |i| i + 3);
    let auth_end = after + authority_len(&url[after..]);
    let userinfo = url[after..auth_end].rfind('@').map(|i| after..after + i);
    let hash = url[auth_end..].find('#').map(|i| auth_end + i);
    let query_end = hash.unwrap_or(url.len());
    let mut values = Vec::new();
    if let Some(q) = url[auth_end..query_end].find('?') {
        let mut at = auth_end + q + 1;
        for pair in url[at..query_end].split(['&', ';']) {
            let start = pair.find('=').map_or(at, |e| at + e + 1);
            values.push(start..at + pair.len());
            at += pair.len() + 1;
        }
    }
    Parts {
        userinfo,
        values,
        fragment: hash.map(|h| h + 1..url.len()),
    }
}

/// `url` with its secret parts replaced by `***`.
pub(crate) fn redact_url(url: &str) -> String {
    let p = parts(url);
    let mut cuts: Vec<Range<usize>> = p.userinfo.into_iter().collect();
    cuts.extend(p.values.into_iter().filter(|r| !r.is_empty()));
    cuts.extend(p.fragment);
    let mut out = String::with_capacity(url.len());
    let mut at = 0;
    for c in cuts {
        out.push_str(&url[at..c.start]);
        out.push_str(MASK);
        at = c.end;
    }
    out.push_str(&url[at..]);
    out
}

/// Query values and fragments shorter than this are masked in the URL itself but not recorded
/// for masking elsewhere: `?v=1` would otherwise turn every lone `1` of every message into
/// `***`, and a value that short protects nothing. Userinfo is recorded at any length.
const MIN_RECORDED_QUERY_VALUE: usize = 4;

/// Records the secret parts of `url`, raw and percent-decoded (and the password alone).
fn record_parts(url: &str) {
    let p = parts(url);
    let record = |r: Range<usize>| {
        let raw = &url[r];
        record(raw);
        record(&percent_encode_unsafe(raw));
        if let Some(d) = percent_decode(raw) {
            record(&d);
        }
    };
    if let Some(u) = p.userinfo {
        if let Some(colon) = url[u.clone()].find(':') {
            record(u.start + colon + 1..u.end);
        }
        record(u);
    }
    p.values
        .into_iter()
        .chain(p.fragment)
        .filter(|r| r.len() >= MIN_RECORDED_QUERY_VALUE)
        .for_each(record);
}

/// Marks the secrets of a whole value meant as one URL (the `URL` variable): everything up to
/// the end is the URL, so a password or query value with a blank is still one secret.
pub fn mark_url(text: &str) {
    record_parts(text.trim_matches(|c: char| c.is_ascii_whitespace()));
}

/// A whole value meant as one URL (the `URL` variable) with its secret parts masked, blanks in
/// a password or a query value included.
pub fn redact_whole(text: &str) -> String {
    redact_url(text)
}

/// Marks the secrets of every URL-shaped part of free text (see [`redact_text`]).
pub fn mark_embedded(text: &str) {
    for r in embedded_urls(text) {
        record_parts(&text[r]);
    }
}

/// Characters that end a URL quoted in free text.
fn ends_url(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | '`' | '<' | '>' | '(' | ')' | '{' | '}' | '|'
        )
}

/// Where URLs are in free text: any `scheme://` (letters, digits, `+.-`, starting with a
/// letter) wherever it is (after a tab, inside another value, in parentheses), up to a blank,
/// a quote, a bracket or the end. A userinfo with a blank in it (`u:pa ss@host`) is taken
/// whole when an `@` follows before any `/`, `?`, `#` or line end.
fn embedded_urls(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let sep = from + i;
        let start = text[..sep]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
            .last()
            .map_or(sep, |(i, _)| i);
        let start = text[start..sep]
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(sep, |i| start + i);
        let body = sep + 3;
        let mut end = text[body..].find(ends_url).map_or(text.len(), |i| body + i);
        let authority_end = text[body..end]
            .find(['/', '?', '#'])
            .map_or(end, |i| body + i);
        if authority_end == end && !text[body..end].contains('@') {
            // `u:pa ss@host/x`: the `@` further on ends a userinfo that holds a blank.
            if let Some(at) = text[end..].find(['@', '/', '?', '#', '\n']) {
                let at = end + at;
                if text[at..].starts_with('@') {
                    end = text[at..].find(ends_url).map_or(text.len(), |i| at + i);
                }
            }
        }
        if start < sep {
            out.push(start..end);
        }
        from = end.max(body);
    }
    out
}

/// Redacts every URL-shaped part of `text` (any scheme, anywhere): userinfo, query values and
/// fragment become `***`. The backstop behind [`redact`] for text that quotes
/// a URL the launcher never parsed.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in embedded_urls(text) {
        out.push_str(&text[at..r.start]);
        out.push_str(&redact_url(&text[r.clone()]));
        at = r.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Encodes whitespace and non-ASCII characters; leaves everything else as written.
pub(crate) fn percent_encode_unsafe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() && !c.is_ascii_whitespace() {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
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
    fn a_private_files_value_is_recorded_but_not_a_switch_a_mode_or_a_short_one() {
        for v in ["yes", "no", "download", "file", "daemon", "42"] {
            mark_private(v);
        }
        mark_private("private-helper-value");
        assert_eq!(
            redact("yes no download file daemon 42 private-helper-value"),
            "yes no download file daemon 42 ***"
        );
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
}
