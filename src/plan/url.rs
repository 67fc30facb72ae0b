//! The download URL: validated, made safe for swupdate's whitespace-split `-d` string, split
//! from its credentials, and redacted for everything a person or the journal sees.
//!
//! A full URL crate (with IDNA tables) would triple the binary for what is a handful of
//! checks; this module does exactly those checks.
//!
//! Parsing a URL marks its secrets (userinfo, password, query values, fragment, raw and
//! decoded) as [`Secret`]s, so they are masked in every output from then on (see
//! [`crate::secret`]).

use std::fmt::Write as _;
use std::ops::Range;

use crate::secret::{self, MASK, Secret};

/// A URL as swupdate's downloader will get it. `Debug` shows it [`Url::redacted`].
#[derive(Clone, PartialEq, Eq)]
pub struct Url {
    scheme: String,
    /// The userinfo as written (percent-encoded), without the `@`.
    userinfo: Option<Secret>,
    /// `host[:port]`
    host: String,
    /// Path, query and fragment, percent-encoded where needed.
    rest: String,
}

impl std::fmt::Debug for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Url({})", self.redacted())
    }
}

/// Why a URL cannot be used; the caller adds where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl Url {
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        mark_secrets(text);
        if let Some(c) = text
            .chars()
            .find(|c| c.is_control() && !c.is_ascii_whitespace())
        {
            return Err(UrlError(format!(
                "contains the control character U+{:04X}",
                c as u32
            )));
        }
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        let Some((scheme, after)) = text.split_once("://") else {
            return Err(UrlError(
                "is not an absolute URL (scheme://host/path)".into(),
            ));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(UrlError(format!(
                "has the scheme `{scheme}`; swupdate's downloader is given http or https"
            )));
        }
        let (authority, rest) = after.split_at(authority_len(after));
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(Secret::new(u)), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(UrlError("has no host".into()));
        }
        if host.chars().any(|c| c.is_whitespace()) {
            return Err(UrlError("has whitespace in its host name".into()));
        }
        Ok(Url {
            scheme,
            userinfo,
            host: host.to_string(),
            rest: percent_encode_unsafe(rest),
        })
    }

    /// The URL for `-d "-u …"`: without credentials (they go to `-a`), and with no whitespace,
    /// since swupdate splits that string on whitespace.
    pub fn for_downloader(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.rest)
    }

    /// `user:password`, decoded, for the downloader's `-a`; an error if swupdate could not carry
    /// it inside its whitespace-split string.
    pub fn credentials(&self) -> Result<Option<Secret>, UrlError> {
        let Some(u) = &self.userinfo else {
            return Ok(None);
        };
        let decoded = percent_decode(u.expose()).ok_or_else(|| {
            UrlError("has credentials that are not valid percent-encoded UTF-8".into())
        })?;
        if decoded.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError(
                "has credentials with whitespace; swupdate's downloader cannot take them (its -d string is split on whitespace)".into(),
            ));
        }
        Ok(Some(Secret::new(decoded)))
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// For logs, STATUS and `explain`: no userinfo, no query values, no fragment.
    pub fn redacted(&self) -> String {
        let mut out = format!("{}://", self.scheme);
        if self.userinfo.is_some() {
            out.push_str(MASK);
            out.push('@');
        }
        out.push_str(&self.host);
        out.push_str(&redact_url(&self.rest));
        out
    }
}

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
fn authority_len(s: &str) -> usize {
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
fn redact_url(url: &str) -> String {
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
        secret::record(raw);
        secret::record(&percent_encode_unsafe(raw));
        if let Some(d) = percent_decode(raw) {
            secret::record(&d);
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
pub fn mark_secrets(text: &str) {
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
/// fragment become `***`. The backstop behind [`crate::secret::redact`] for text that quotes
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
fn percent_encode_unsafe(s: &str) -> String {
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

fn percent_decode(s: &str) -> Option<String> {
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

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn plain_https_url_is_passed_unchanged() {
        let u = url("https://updates.example.com/fw/1.2.swu");
        assert_eq!(u.for_downloader(), "https://updates.example.com/fw/1.2.swu");
    }

    #[test]
    fn port_query_and_fragment_are_kept() {
        let u = url("http://127.0.0.1:8080/a.swu?x=1#f");
        assert_eq!(u.for_downloader(), "http://127.0.0.1:8080/a.swu?x=1#f");
    }

    #[test]
    fn scheme_is_case_insensitive() {
        assert_eq!(url("HTTPS://h/x").for_downloader(), "https://h/x");
    }

    #[test]
    fn whitespace_is_percent_encoded() {
        assert_eq!(
            url("https://h/my file\t.swu").for_downloader(),
            "https://h/my%20file%09.swu"
        );
    }

    #[test]
    fn non_ascii_is_percent_encoded_as_utf8() {
        assert_eq!(
            url("https://h/é.swu").for_downloader(),
            "https://h/%C3%A9.swu"
        );
    }

    #[test]
    fn surrounding_whitespace_is_trimmed() {
        assert_eq!(url("  https://h/x \n").for_downloader(), "https://h/x");
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(
            Url::parse("https://h/\u{1b}x")
                .unwrap_err()
                .0
                .contains("U+001B")
        );
    }

    #[test]
    fn relative_urls_are_refused() {
        assert!(Url::parse("/srv/x.swu").is_err());
        assert!(Url::parse("h/x.swu").is_err());
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!(Url::parse("ftp://h/x").unwrap_err().0.contains("ftp"));
        assert!(Url::parse("file:///x").is_err());
    }

    #[test]
    fn missing_host_is_refused() {
        assert!(Url::parse("https:///x").unwrap_err().0.contains("no host"));
        assert!(Url::parse("https://user@/x").is_err());
    }

    #[test]
    fn whitespace_in_the_host_is_refused() {
        assert!(Url::parse("https://a b/x").is_err());
    }

    #[test]
    fn credentials_leave_the_url_and_are_decoded() {
        let u = url("https://us%40er:p%3Ass@h/x");
        assert_eq!(u.for_downloader(), "https://h/x");
        assert_eq!(
            u.credentials().unwrap().as_ref().map(Secret::expose),
            Some("us@er:p:ss")
        );
    }

    #[test]
    fn an_at_sign_in_the_path_is_not_userinfo() {
        let u = url("https://h/a@b");
        assert!(u.credentials().unwrap().is_none());
        assert_eq!(u.for_downloader(), "https://h/a@b");
    }

    #[test]
    fn credentials_with_whitespace_are_refused() {
        assert!(url("https://u:a%20b@h/x").credentials().is_err());
    }

    #[test]
    fn bad_percent_encoding_in_credentials_is_refused() {
        assert!(url("https://u:%zz@h/x").credentials().is_err());
    }

    #[test]
    fn redaction_hides_userinfo_query_values_and_fragment() {
        let r = url("https://user:secret@host/x.swu?token=abc&sig=def#frag").redacted();
        assert_eq!(r, "https://***@host/x.swu?token=***&sig=***#***");
    }

    #[test]
    fn debug_shows_the_redacted_url() {
        let u = url("https://user:dbgpw@h/x?token=dbgtok");
        assert_eq!(format!("{u:?}"), "Url(https://***@h/x?token=***)");
    }

    #[test]
    fn redaction_keeps_a_plain_url() {
        assert_eq!(url("https://h/x.swu").redacted(), "https://h/x.swu");
    }

    #[test]
    fn redact_text_finds_urls_in_a_sentence() {
        assert_eq!(
            redact_text("cannot reach https://u:p@h/x?t=1 now"),
            "cannot reach https://***@h/x?t=*** now"
        );
    }

    #[test]
    fn redact_text_finds_a_url_after_a_tab() {
        assert_eq!(redact_text("x\thttps://u:p@h/x"), "x\thttps://***@h/x");
    }

    #[test]
    fn redact_text_finds_a_url_inside_another_value() {
        assert_eq!(
            redact_text("MIRROR=https://u:p@h/x?k=v;b"),
            "MIRROR=https://***@h/x?k=***;***"
        );
    }

    #[test]
    fn redact_text_finds_a_url_in_parentheses() {
        assert_eq!(
            redact_text("(see https://u:p@h/x)"),
            "(see https://***@h/x)"
        );
    }

    #[test]
    fn redact_text_finds_urls_of_any_scheme() {
        assert_eq!(
            redact_text("ftp://u:p@h/x mqtts://a:b@broker:8883"),
            "ftp://***@h/x mqtts://***@broker:8883"
        );
    }

    #[test]
    fn redact_text_takes_a_userinfo_with_a_blank_whole() {
        assert_eq!(
            redact_text("https://user:pa ss@host/x next"),
            "https://***@host/x next"
        );
    }

    #[test]
    fn a_password_with_a_slash_is_the_userinfo_not_the_path() {
        let u = url("https://user:pa/wd@host/x.swu");
        assert_eq!(u.redacted(), "https://***@host/x.swu");
        assert_eq!(u.for_downloader(), "https://host/x.swu");
        assert_eq!(
            u.credentials().unwrap().as_ref().map(Secret::expose),
            Some("user:pa/wd")
        );
    }

    #[test]
    fn a_password_with_a_blank_is_one_secret_of_the_parsed_url() {
        let u = url("https://user:pb ss/wd@host/x.swu");
        assert_eq!(u.redacted(), "https://***@host/x.swu");
        assert!(u.credentials().is_err());
        // The whole password is masked wherever it is quoted afterwards.
        assert_eq!(crate::secret::redact("was pb ss/wd"), "was ***");
    }

    #[test]
    fn a_port_is_not_a_password() {
        let u = url("https://h:8443/users/@me");
        assert_eq!(u.for_downloader(), "https://h:8443/users/@me");
        assert!(u.credentials().unwrap().is_none());
    }

    #[test]
    fn a_query_value_with_a_blank_is_one_secret() {
        let u = url("https://h/x.swu?token=qv with blank&b=2");
        assert_eq!(u.redacted(), "https://h/x.swu?token=***&b=***");
        assert_eq!(crate::secret::redact("qv with blank"), "***");
        assert_eq!(crate::secret::redact("qv%20with%20blank"), "***");
    }
}
