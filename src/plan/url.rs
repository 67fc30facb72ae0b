//! The download URL: validated, made safe for swupdate's whitespace-split `-d` string, split
//! from its credentials, and redacted for everything a person or the journal sees.
//!
//! A full URL crate (with IDNA tables) would triple the binary for what is a handful of
//! checks; this module does exactly those checks.
//!
//! Parsing a URL marks its secrets (userinfo, password, query values, fragment, raw and
//! decoded) as [`Secret`]s, so they are masked in every output from then on. The layers go one
//! way: this module uses [`crate::secret`] (the mask list, and the shape of a URL's secret parts
//! in any text), which uses nothing of the plan.

use crate::secret::{
    MASK, Secret, authority_len, mark_url, percent_decode, percent_encode_unsafe, redact_url,
};
// The URL-shaped masking of free text is the secret module's (it is how secrets are found in
// any output); the names stay reachable here for the callers that think of it as the URL's.
pub use crate::secret::{mark_embedded, redact_text, redact_whole};

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

/// What is wrong with `host[:port]`, if anything: a host a person could misread (any character
/// outside ASCII: bidi controls, zero-width joiners, look-alike letters; an IDN is written in
/// its `xn--` form, as DNS carries it) or a port no server can listen on.
fn host_problem(authority: &str) -> Option<UrlError> {
    if let Some(c) = authority.chars().find(|c| !c.is_ascii()) {
        return Some(UrlError(format!(
            "has the character U+{:04X} in its host: write an international host name in its xn-- (punycode) form",
            c as u32
        )));
    }
    // `[v6]:port` or `name:port`; a bare IPv6 literal has its colons inside the brackets.
    let (name, port) = match authority.rfind(']') {
        Some(end) => (&authority[..=end], authority[end + 1..].strip_prefix(':')),
        None => match authority.rsplit_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (authority, None),
        },
    };
    // A name is letters, digits, `-`, `_` and dots (an IPv4 address too); an IPv6 literal hex
    // digits, colons and dots. Nothing percent-encoded: `%0a` or `%1b[2J` in a host would be
    // decoded by the downloader into a name a person never saw.
    let (chars, ok): (&str, fn(char) -> bool) =
        match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            Some(v6) => (v6, |c| c.is_ascii_hexdigit() || c == ':' || c == '.'),
            None => (name, |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
        };
    if let Some(c) = chars.chars().find(|c| !ok(*c)) {
        return Some(UrlError(format!(
            "has the character U+{:04X} in its host: a host name is letters, digits, `-`, `_` and dots",
            c as u32
        )));
    }
    let port = port?;
    match port.parse::<u16>() {
        Ok(n) if n > 0 => None,
        _ if port.is_empty() => None,
        _ => Some(UrlError(format!(
            "has the port `{port}`: a port is a number from 1 to 65535"
        ))),
    }
}

impl Url {
    pub fn parse(text: &str) -> Result<Url, UrlError> {
        mark_url(text);
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
        host_problem(host).map_or(Ok(()), Err)?;
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
    fn an_impossible_port_is_refused() {
        for p in ["0", "65536", "99999", "8o80", "-1"] {
            let e = Url::parse(&format!("https://host.example:{p}/x.swu")).unwrap_err();
            assert!(e.0.contains("port"), "{p}: {}", e.0);
        }
        assert!(Url::parse("https://host.example:8443/x.swu").is_ok());
        assert!(Url::parse("https://[::1]:8443/x.swu").is_ok());
        assert!(Url::parse("https://[::1]/x.swu").is_ok());
    }

    #[test]
    fn a_host_with_characters_a_person_could_misread_is_refused() {
        for host in ["updates\u{202e}moc.example", "upd\u{200b}ates.example", "аpple.example"] {
            let e = Url::parse(&format!("https://{host}/x.swu")).unwrap_err();
            assert!(e.0.contains("xn--"), "{host}: {}", e.0);
        }
        assert!(Url::parse("https://xn--pple-43d.example/x.swu").is_ok());
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

    #[test]
    fn a_short_query_value_does_not_mask_every_digit() {
        let _ = Url::parse("https://h/x.swu?v=1&sig=sigvalue-long");
        assert_eq!(
            crate::secret::redact("line 1: sigvalue-long"),
            "line 1: ***"
        );
    }

    proptest::proptest! {
        /// Whatever a password holds (blanks, `/`, `@`, `:`, quotes), once its URL is parsed the
        /// password is never shown where it stands in a message.
        #[test]
        fn a_parsed_urls_password_is_never_shown(pw in "[ -~]{1,24}") {
            // A prefix of its own: the mask list is shared by every test of this binary, so a
            // generated password must not be a word other tests print.
            let pw = format!("Pq{}", pw.trim().replace(['@', '/', '?', '#'], "x"));
            let _ = Url::parse(&format!("https://user:{pw}@host.example/x.swu"));
            let shown = crate::secret::redact(&format!("quoted ({pw}) and \t{pw}\n"));
            proptest::prop_assert!(!shown.contains(&format!("({pw})")), "{}", shown);
            proptest::prop_assert!(!shown.contains(&format!("\t{pw}\n")), "{}", shown);
        }
    }
}
