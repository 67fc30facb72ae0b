//! Download preflight (cargo feature `streaming`): before swupdate is exec'd in download mode,
//! ask the server whether the update is there, so that a wrong URL, an expired signed link or a
//! certificate problem is reported with its own exit code instead of a failed install.
//!
//! One probe is a `HEAD` request; where the server refuses `HEAD` (405, 501, or 403, which S3
//! answers to a `HEAD` on a URL presigned for `GET`) a one-byte ranged `GET` (`Range: bytes=0-0`)
//! asks again; a 403 there is final (access denied). Only the headers are read, never the body.
//!
//! The policy (retries, verdicts, failure kinds) is in [`super::policy`].
//!
//! The TLS client is reqwest's blocking client on rustls with the ring provider. With a
//! configured CA file only that file's certificates are trusted; without one, the system's store
//! through rustls-platform-verifier (on Linux: `SSL_CERT_FILE`/`SSL_CERT_DIR`, else the
//! distribution's bundle and directory). The client is built only when a preflight runs.

use std::time::Duration;

use crate::error::{Error, Kind};
use crate::net::policy::{
    Answer, Assessment, Clock, Exchange, Probe, Progress, Wait, assess, download_overflow, failure,
    human, parse_content_range_total, parse_retry_after, redirect_refusal, retry,
};

/// Asks the server whether the update at `exchange.url` is there, retrying transient failures
/// within the budget; `on_wait` is called before every sleep (to extend the unit's start
/// timeout and say why in STATUS). Builds the TLS client (and loads the CA store) only now.
pub fn run(
    exchange: &Exchange,
    clock: &mut dyn Clock,
    on_wait: &mut dyn FnMut(&Wait),
) -> Result<Probe, Error> {
    attempts(exchange, clock, on_wait, None)
}

/// Downloads the artifact into `out` (truncated first, and again before every retry), with
/// the same client, TLS rules, failure kinds, retries and budget as [`run`]; for a verification
/// stage in download mode, which must see the whole pack before swupdate does. A body that ends
/// short of its Content-Length, or breaks off, is a transient failure and retried.
pub fn download(
    exchange: &Exchange,
    clock: &mut dyn Clock,
    on_wait: &mut dyn FnMut(&Wait),
    out: &mut std::fs::File,
) -> Result<Probe, Error> {
    attempts(exchange, clock, on_wait, Some(out))
}

/// The attempts of one exchange: a probe (`fetch` is `None`) or a download into `fetch`, until
/// an answer is found, a failure is final, or the retry budget is spent.
fn attempts(
    exchange: &Exchange,
    clock: &mut dyn Clock,
    on_wait: &mut dyn FnMut(&Wait),
    mut fetch: Option<&mut std::fs::File>,
) -> Result<Probe, Error> {
    let shown = exchange.url.redacted();
    let credentials = exchange
        .url
        .credentials()
        .map_err(|e| Error::new(Kind::Config, format!("preflight: the URL {shown} {}", e.0)))?;
    let credentials = credentials.as_ref().map(crate::secret::Secret::expose);
    let client = build_client(exchange)?;
    let target = exchange.url.for_downloader();

    let start = clock.now();
    let mut at = Progress {
        attempts: 0,
        retries: 0,
        elapsed: Duration::ZERO,
        // A full GET is not a HEAD: a 403 to it is final, as to the ranged GET.
        range_get: fetch.is_some(),
    };
    let mut landed = None;
    loop {
        at.attempts += 1;
        let assessment = match fetch.as_deref_mut() {
            None => match send(&client, &target, credentials, at.range_get, &mut landed) {
                Ok(answer) => assess(&answer, at.range_get),
                Err(e) => classify_transport(&e, exchange),
            },
            Some(out) => fetch_into(&client, &target, credentials, exchange, out, &mut landed),
        };
        match assessment {
            Assessment::Found {
                status,
                content_length,
                content_type,
            } => {
                return Ok(Probe {
                    status,
                    content_length,
                    content_type,
                    attempts: at.attempts,
                    used_range_get: at.range_get,
                    redirected_to: landed,
                });
            }
            Assessment::FallBack => at.range_get = true,
            Assessment::Fail { kind, reason } => {
                return Err(failure(kind, &shown, &reason, exchange, at.range_get));
            }
            Assessment::Retry {
                kind,
                reason,
                retry_after,
            } => {
                at.elapsed = clock.now().saturating_duration_since(start);
                let wait = retry(exchange, &at, kind, reason, retry_after, clock.random())?;
                on_wait(&wait);
                clock.sleep(wait.delay);
                at.retries += 1;
            }
        }
    }
}

fn build_client(exchange: &Exchange) -> Result<reqwest::blocking::Client, Error> {
    // reqwest built with `rustls-no-provider` panics (an abort in release) without a process
    // default; another one already installed is just as good.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let mut builder = reqwest::blocking::Client::builder()
        .user_agent(concat!(
            "swupdate-launcher/",
            env!("CARGO_PKG_VERSION"),
            " (preflight)"
        ))
        .connect_timeout(exchange.connect_timeout)
        .timeout(exchange.request_timeout)
        .redirect(redirect_policy(exchange))
        .pool_max_idle_per_host(0);
    if let Some(path) = &exchange.ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            Error::new(
                Kind::MissingInput,
                format!("preflight: cannot read the CA file: {e}"),
            )
            .on(path)
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    "preflight: the CA file holds no PEM certificate",
                )
                .on(path)
                .hint("give a PEM bundle: one or more -----BEGIN CERTIFICATE----- blocks")
            })?;
        builder = builder.tls_certs_only(certs);
    }
    builder.build().map_err(|e| {
        let e = Error::new(
            Kind::PreflightTls,
            format!("preflight: cannot set up TLS: {}", cause(&e)),
        );
        match &exchange.ca_file {
            Some(p) => e.on(p),
            None => e.hint("the system's CA store could not be loaded; configure a CA file"),
        }
    })
}

/// Every hop obeys the URL's policy ([`redirect_refusal`]): a refused one ends the request
/// with a redirect error that says why.
fn redirect_policy(exchange: &Exchange) -> reqwest::redirect::Policy {
    let exchange = exchange.clone();
    reqwest::redirect::Policy::custom(move |attempt| {
        let to = shown(attempt.url());
        let hops = attempt.previous().len().saturating_sub(1);
        match redirect_refusal(&exchange, hops, attempt.url().scheme(), &to) {
            Some(why) => attempt.error(why),
            None => attempt.follow(),
        }
    })
}

/// A URL as the log may show it: credentials, query values and fragment masked.
fn shown(url: &reqwest::Url) -> String {
    crate::plan::url::redact_text(&printable_line(url.as_str()))
}

/// Where the answer to a request for `target` came from, when a redirect moved it.
fn landing(response: &reqwest::blocking::Response, target: &str) -> Option<String> {
    (response.url().as_str() != target).then(|| shown(response.url()))
}

/// One request; only the headers are read.
fn send(
    client: &reqwest::blocking::Client,
    target: &str,
    credentials: Option<&str>,
    range_get: bool,
    landed: &mut Option<String>,
) -> Result<Answer, reqwest::Error> {
    let mut request = if range_get {
        client
            .get(target)
            .header(reqwest::header::RANGE, "bytes=0-0")
    } else {
        client.head(target)
    };
    if let Some(c) = credentials {
        request = with_basic_auth(request, c);
    }
    let response = request.send()?;
    *landed = landing(&response, target);
    let answer = answer_of(&response);
    // Dropping the response closes the connection without reading a body.
    drop(response);
    Ok(answer)
}

/// The URL's userinfo (`user[:password]`) as HTTP Basic auth.
fn with_basic_auth(
    request: reqwest::blocking::RequestBuilder,
    userinfo: &str,
) -> reqwest::blocking::RequestBuilder {
    match userinfo.split_once(':') {
        Some((user, password)) => request.basic_auth(user, Some(password)),
        None => request.basic_auth(userinfo, None::<&str>),
    }
}

/// What the headers of a response say.
fn answer_of(response: &reqwest::blocking::Response) -> Answer {
    let headers = response.headers();
    let text = |name: reqwest::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let status = response.status();
    Answer {
        status: status.as_u16(),
        status_text: match status.canonical_reason() {
            Some(r) => format!("{} {r}", status.as_u16()),
            None => status.as_u16().to_string(),
        },
        content_type: text(reqwest::header::CONTENT_TYPE),
        // From the header: reqwest's content_length() is 0 for every HEAD answer.
        content_length: text(reqwest::header::CONTENT_LENGTH).and_then(|v| v.trim().parse().ok()),
        range_total: text(reqwest::header::CONTENT_RANGE)
            .as_deref()
            .and_then(parse_content_range_total),
        retry_after: text(reqwest::header::RETRY_AFTER)
            .as_deref()
            .and_then(parse_retry_after),
        has_location: headers.contains_key(reqwest::header::LOCATION),
    }
}

/// One full GET whose body goes to `out`; the verdict as for a probe, and a body that is short
/// or breaks off is retried.
fn fetch_into(
    client: &reqwest::blocking::Client,
    target: &str,
    credentials: Option<&str>,
    exchange: &Exchange,
    out: &mut std::fs::File,
    landed: &mut Option<String>,
) -> Assessment {
    use std::io::Seek;
    let mut request = client.get(target).timeout(exchange.transfer_timeout);
    if let Some(c) = credentials {
        request = with_basic_auth(request, c);
    }
    let mut response = match request.send() {
        Ok(r) => r,
        Err(e) => return classify_transport(&e, exchange),
    };
    *landed = landing(&response, target);
    let answer = answer_of(&response);
    let verdict = assess(&answer, true);
    if !matches!(verdict, Assessment::Found { .. }) {
        return verdict;
    }
    if let Some(reason) = download_overflow(exchange, answer.content_length, 0) {
        return Assessment::Fail {
            kind: Kind::VerifyNoRoom,
            reason,
        };
    }
    let rewound = out.set_len(0).and_then(|_| out.rewind());
    if let Err(e) = rewound {
        return Assessment::Fail {
            kind: Kind::Io,
            reason: format!("cannot write the download: {e}"),
        };
    }
    // One byte past the bound tells a server that sends too much from one that sends exactly it.
    let mut body = std::io::Read::take(&mut response, exchange.max_download.saturating_add(1));
    match std::io::copy(&mut body, out) {
        Ok(n) => match download_overflow(exchange, None, n) {
            Some(reason) => Assessment::Fail {
                kind: Kind::VerifyNoRoom,
                reason,
            },
            None if answer.content_length.is_some_and(|l| l != n) => Assessment::Retry {
                kind: Kind::PreflightConnect,
                reason: format!(
                    "the download ended after {n} of {} bytes",
                    answer.content_length.unwrap_or_default()
                ),
                retry_after: None,
            },
            None => verdict,
        },
        Err(e) => match classify_io(&e, exchange) {
            Assessment::Fail { kind, reason }
                if !matches!(kind, Kind::PreflightTimeout | Kind::VerifyNoRoom) =>
            {
                Assessment::Retry {
                    kind,
                    reason: format!("the download broke off: {reason}"),
                    retry_after: None,
                }
            }
            other => other,
        },
    }
}

/// The verdict on a download that broke off: reading the body (reqwest's error inside, or its
/// timeout) or writing the file (a full file system is a lack of room, never a network fault).
fn classify_io(e: &std::io::Error, exchange: &Exchange) -> Assessment {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<reqwest::Error>()) {
        return classify_transport(inner, exchange);
    }
    if let Some(libc::ENOSPC | libc::EFBIG | libc::EDQUOT) = e.raw_os_error() {
        return Assessment::Fail {
            kind: Kind::VerifyNoRoom,
            reason: format!("the file system filled while downloading: {e}"),
        };
    }
    let kind = if e.kind() == std::io::ErrorKind::TimedOut {
        Kind::PreflightTimeout
    } else {
        Kind::PreflightConnect
    };
    Assessment::Retry {
        kind,
        reason: printable_line(&e.to_string()),
        retry_after: None,
    }
}

/// The verdict on a request that got no answer.
fn classify_transport(e: &reqwest::Error, exchange: &Exchange) -> Assessment {
    let fail = |kind, reason: String| Assessment::Fail { kind, reason };
    let retry = |kind, reason: String| Assessment::Retry {
        kind,
        reason,
        retry_after: None,
    };
    if e.is_redirect() {
        // The policy's own reason (redirect_policy), or reqwest's if it stopped first.
        return fail(Kind::PreflightRedirects, cause(e));
    }
    if e.is_builder() {
        return fail(
            Kind::Config,
            format!("the URL cannot be requested: {}", cause(e)),
        );
    }
    if let Some(tls) = rustls_error(e) {
        return fail(Kind::PreflightTls, describe_tls(tls));
    }
    if e.is_timeout() {
        return retry(
            Kind::PreflightTimeout,
            format!(
                "no answer within {} (connect {})",
                human(exchange.request_timeout),
                human(exchange.connect_timeout)
            ),
        );
    }
    if e.is_dns() {
        return fail(Kind::PreflightDns, cause(e));
    }
    retry(Kind::PreflightConnect, cause(e))
}

/// The rustls error somewhere in the chain. tokio-rustls wraps it in an `io::Error`, and the
/// connector that again in another: `io::Error::source()` skips the wrapped error itself, so
/// custom `io::Error`s are opened with `get_ref()`.
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        next = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn describe_tls(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the server's certificate is not signed by a trusted CA".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the server's certificate is not valid for the URL's host name".into()
            }
            C::Expired | C::ExpiredContext { .. } => "the server's certificate has expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the server's certificate is not valid yet (check the device's clock)".into()
            }
            C::Revoked => "the server's certificate is revoked".into(),
            C::BadSignature => "the server's certificate has a bad signature".into(),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                "the server's certificate is not meant for a TLS server".into()
            }
            other => format!("the server's certificate is invalid: {other:?}"),
        },
        other => format!("TLS error: {other}"),
    }
}

/// The innermost description of an error, never the reqwest level (which names the URL).
fn cause(e: &reqwest::Error) -> String {
    let mut last: Option<String> = None;
    let mut next = std::error::Error::source(e);
    while let Some(err) = next {
        if err.downcast_ref::<reqwest::Error>().is_none() {
            last = Some(err.to_string());
        }
        next = err.source();
    }
    let text = last.unwrap_or_else(|| "request failed".to_string());
    // Lower layers do not quote the URL, but make sure.
    crate::plan::url::redact_text(&printable_line(&text))
}

fn printable_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
