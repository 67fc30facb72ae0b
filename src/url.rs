//! The download URL: validated, made safe for swupdate's whitespace-split `-d` string, split
//! from its credentials, and redacted for everything a person or the journal sees.
//!
//! A full URL crate (with IDNA tables) would triple the binary for what is a handful of
//! checks; this module does exactly those checks.

use std::fmt::Write as _;

/// A URL as swupdate's downloader will get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    scheme: String,
    /// The userinfo as written (percent-encoded), without the `@`.
    userinfo: Option<String>,
    /// host[:port]
    host: String,
    /// Path, query and fragment, percent-encoded where needed.
    rest: String,
}

/// Why a URL cannot be used; the caller adds where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl Url {
    pub fn parse(text: &str) -> Result<Url, UrlError> {
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
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u.to_string()), h),
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
    pub fn credentials(&self) -> Result<Option<String>, UrlError> {
        let Some(u) = &self.userinfo else {
            return Ok(None);
        };
        let decoded = percent_decode(u).ok_or_else(|| {
            UrlError("has credentials that are not valid percent-encoded UTF-8".into())
        })?;
        if decoded.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(UrlError(
                "has credentials with whitespace; swupdate's downloader cannot take them (its -d string is split on whitespace)".into(),
            ));
        }
        Ok(Some(decoded))
    }

    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// For logs, STATUS and `explain`: no userinfo, no query values.
    pub fn redacted(&self) -> String {
        let mut out = format!("{}://", self.scheme);
        if self.userinfo.is_some() {
            out.push_str("***@");
        }
        out.push_str(&self.host);
        let (before_fragment, fragment) = match self.rest.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (self.rest.as_str(), None),
        };
        match before_fragment.split_once('?') {
            Some((path, query)) => {
                out.push_str(path);
                out.push('?');
                let redacted: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((k, _)) => format!("{k}=***"),
                        None => "***".to_string(),
                    })
                    .collect();
                out.push_str(&redacted.join("&"));
            }
            None => out.push_str(before_fragment),
        }
        if fragment.is_some() {
            out.push_str("#***");
        }
        out
    }
}

/// Redacts whatever in `text` looks like a URL; for free text that may quote one.
pub fn redact_text(text: &str) -> String {
    text.split(' ')
        .map(|w| match Url::parse(w) {
            Ok(u) if w.contains("://") => u.redacted(),
            _ => w.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
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
        assert_eq!(u.credentials().unwrap().as_deref(), Some("us@er:p:ss"));
    }

    #[test]
    fn an_at_sign_in_the_path_is_not_userinfo() {
        let u = url("https://h/a@b");
        assert_eq!(u.credentials().unwrap(), None);
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
}
