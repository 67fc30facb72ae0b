//! The download preflight against real TLS servers on 127.0.0.1, with a CA and certificates made
//! here (rcgen) and a rustls server per test (tests/support/http.rs). Every server stops by
//! itself: its accept loop ends when the test drops it (or after a hard deadline), and every
//! connection has read and write timeouts. Time in the preflight is a fake clock: backoff sleeps take no time.
#![cfg(feature = "streaming")]

use crate::support;

use std::io::Write;
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use support::http::tls::{Ca, Leaf};
use support::http::{HttpServer, Reply, Request, reply};

use swupdate_launcher::error::{Error, Kind};
use swupdate_launcher::net::client;
use swupdate_launcher::net::policy::{Backoff, Clock, Exchange, Probe, Wait};
use swupdate_launcher::plan::url::Url;

// ---------------------------------------------------------------------------------------------
// Certificates and servers (tests/support/http.rs)

/// The certificates the servers present.
struct Pki {
    trusted: Ca,
    good: Leaf,
    /// For `127.0.0.1` and `localhost`.
    both_names: Leaf,
    other_host: Leaf,
    expired: Leaf,
    /// Signed by a CA that nobody trusts.
    stranger: Leaf,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let trusted = Ca::new("preflight test CA");
        let stranger_ca = Ca::new("somebody else's CA");
        Pki {
            good: trusted.leaf(&["127.0.0.1"], false),
            both_names: trusted.leaf(&["127.0.0.1", "localhost"], false),
            other_host: trusted.leaf(&["updates.example.com"], false),
            expired: trusted.leaf(&["127.0.0.1"], true),
            stranger: stranger_ca.leaf(&["127.0.0.1"], false),
            trusted,
        }
    })
}

/// The trusted CA as a PEM file; lives as long as the returned handle.
fn ca_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(pki().trusted.pem.as_bytes()).unwrap();
    f
}

/// An HTTPS server on 127.0.0.1 presenting `leaf`, answering from `handler`.
fn server(
    leaf: &Leaf,
    handler: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static,
) -> HttpServer {
    HttpServer::start_tls(leaf, handler)
}

fn url(srv: &HttpServer, path: &str) -> Url {
    Url::parse(&srv.url(path)).unwrap()
}

/// The URL with credentials and a signed query, as a management server hands them out.
fn secret_url(srv: &HttpServer, path: &str) -> Url {
    Url::parse(&format!(
        "https://{USER}:{PASSWORD_ENCODED}@127.0.0.1:{}{path}?X-Amz-Signature={SIGNATURE}",
        srv.port()
    ))
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The preflight's side: a fake clock, settings, assertions.

const USER: &str = "device-0042";
const PASSWORD: &str = "s3cr@t:pw";
const PASSWORD_ENCODED: &str = "s3cr%40t%3Apw";
const SIGNATURE: &str = "f00dfacecafe";

#[derive(Debug)]
struct FakeClock {
    start: Instant,
    slept: Duration,
    sleeps: Vec<Duration>,
    random: u64,
}

impl FakeClock {
    /// `random`: u64::MAX waits the whole ceiling, 0 not at all.
    fn new(random: u64) -> FakeClock {
        FakeClock {
            start: Instant::now(),
            slept: Duration::ZERO,
            sleeps: Vec::new(),
            random,
        }
    }
}

impl Clock for FakeClock {
    fn sleep(&mut self, d: Duration) {
        self.sleeps.push(d);
        self.slept += d;
    }
    fn now(&self) -> Instant {
        self.start + self.slept
    }
    fn random(&mut self) -> u64 {
        self.random
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn settings(url: Url, ca: &tempfile::NamedTempFile) -> Exchange {
    Exchange {
        ca_file: Some(ca.path().to_path_buf()),
        connect_timeout: secs(2),
        request_timeout: secs(3),
        max_redirects: 3,
        backoff: Backoff {
            base: secs(1),
            cap: secs(4),
            budget: Duration::ZERO,
        },
        ..Exchange::new(url)
    }
}

struct Outcome {
    result: Result<Probe, Error>,
    clock: FakeClock,
    waits: Vec<Wait>,
}

fn run_with(s: &Exchange, random: u64) -> Outcome {
    let mut clock = FakeClock::new(random);
    let mut waits = Vec::new();
    let result = client::run(s, &mut clock, &mut |w: &Wait| waits.push(w.clone()));
    Outcome {
        result,
        clock,
        waits,
    }
}

fn run(s: &Exchange) -> Outcome {
    run_with(s, u64::MAX)
}

/// The error has `kind` (and its exit code), says `needle`, and shows no secret anywhere.
fn assert_error(result: &Result<Probe, Error>, kind: Kind, code: u8, needle: &str) -> Error {
    let e = match result {
        Err(e) => e.clone(),
        Ok(p) => panic!("expected {kind:?}, got {p:?}"),
    };
    eprintln!("{e}");
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!(e.exit_code(), code, "{e}");
    assert!(
        e.message.contains(needle),
        "{needle:?} not in {:?}",
        e.message
    );
    assert_no_secrets(&e.to_string());
    assert_no_secrets(&format!("{e:?}"));
    e
}

fn assert_no_secrets(text: &str) {
    for secret in [USER, "s3cr", PASSWORD_ENCODED, SIGNATURE] {
        assert!(!text.contains(secret), "{secret:?} leaked in {text:?}");
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Answers

#[test]
fn an_update_that_is_there_passes_with_one_head() {
    let srv = server(&pki().good, |_, _| reply(200).update());
    let ca = ca_file();
    let o = run(&settings(url(&srv, "/fw/1.2.swu"), &ca));
    assert_eq!(
        o.result.unwrap(),
        Probe {
            status: 200,
            content_length: Some(4096),
            content_type: Some("application/octet-stream".into()),
            attempts: 1,
            used_range_get: false,
            redirected_to: None,
        }
    );
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "HEAD");
    assert_eq!(reqs[0].target, "/fw/1.2.swu");
    assert_eq!(reqs[0].header("range"), None);
    assert_eq!(reqs[0].header("authorization"), None);
    assert!(o.clock.sleeps.is_empty());
}

#[test]
fn a_refused_head_falls_back_to_a_one_byte_ranged_get() {
    let srv = server(&pki().good, |_, r| match r.method.as_str() {
        "HEAD" => reply(405).h("Allow", "GET"),
        _ if r.header("range") == Some("bytes=0-0") => Reply {
            body: b"0".to_vec(),
            ..reply(206)
                .h("Content-Type", "application/vnd.swupdate")
                .h("Content-Range", "bytes 0-0/7340032")
        },
        _ => reply(400),
    });
    let ca = ca_file();
    let p = run(&settings(url(&srv, "/a.swu"), &ca)).result.unwrap();
    assert_eq!(p.status, 206);
    assert_eq!(p.content_length, Some(7_340_032));
    assert!(p.used_range_get);
    assert_eq!(p.attempts, 2);
    assert_eq!(srv.methods(), ["HEAD", "GET"]);
}

#[test]
fn a_head_answered_501_also_falls_back() {
    let srv = server(&pki().good, |_, r| match r.method.as_str() {
        "HEAD" => reply(501),
        // A server that ignores Range: the full length comes in Content-Length, the body is
        // never read.
        _ => reply(200).update(),
    });
    let ca = ca_file();
    let p = run(&settings(url(&srv, "/a.swu"), &ca)).result.unwrap();
    assert_eq!(
        (p.status, p.content_length, p.used_range_get),
        (200, Some(4096), true)
    );
}

#[test]
fn a_head_refused_with_403_is_confirmed_by_the_ranged_get_like_presigned_s3_urls() {
    // S3 signs the method: a URL presigned for GET answers HEAD with 403.
    let srv = server(&pki().good, |_, r| match r.method.as_str() {
        "HEAD" => reply(403),
        _ => Reply {
            body: b"0".to_vec(),
            ..reply(206)
                .h("Content-Type", "binary/octet-stream")
                .h("Content-Range", "bytes 0-0/1000")
        },
    });
    let ca = ca_file();
    let p = run(&settings(secret_url(&srv, "/a.swu"), &ca))
        .result
        .unwrap();
    assert_eq!((p.status, p.used_range_get), (206, true));
    assert_eq!(srv.methods(), ["HEAD", "GET"]);
}

#[test]
fn redirects_within_the_limit_are_followed() {
    let srv = server(&pki().good, |_, r| match r.target.as_str() {
        "/start.swu" => reply(301).h("Location", "/hop1"),
        "/hop1" => reply(302).h("Location", "/hop2"),
        "/hop2" => reply(301).h("Location", "/final.swu"),
        "/final.swu" => reply(200).update(),
        _ => reply(404),
    });
    let ca = ca_file();
    let p = run(&settings(url(&srv, "/start.swu"), &ca)).result.unwrap();
    assert_eq!(p.status, 200);
    let targets: Vec<String> = srv.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/start.swu", "/hop1", "/hop2", "/final.swu"]);
    // HEAD stays HEAD through 301 and 302.
    assert!(srv.methods().iter().all(|m| m == "HEAD"));
}

#[test]
fn redirects_beyond_the_limit_fail() {
    let srv = server(&pki().good, |_, r| {
        let n: u32 = r.target.trim_start_matches("/hop").parse().unwrap_or(0);
        if n < 4 {
            reply(if n % 2 == 0 { 301 } else { 302 }).h("Location", format!("/hop{}", n + 1))
        } else {
            reply(200).update()
        }
    });
    let ca = ca_file();
    let o = run(&settings(secret_url(&srv, "/hop0"), &ca));
    assert_error(
        &o.result,
        Kind::PreflightRedirects,
        88,
        "redirected more than 3 times",
    );
    // The limit is 3: the fourth redirect is not followed (the original plus 3 hops).
    assert_eq!(srv.requests().len(), 4);
    assert!(o.clock.sleeps.is_empty());
}

#[test]
fn a_redirect_loop_fails_as_redirects() {
    let srv = server(&pki().good, |_, _| reply(302).h("Location", "/again"));
    let ca = ca_file();
    let o = run(&settings(url(&srv, "/again"), &ca));
    assert_error(&o.result, Kind::PreflightRedirects, 88, "redirects");
}

/// An https server whose every answer redirects to `to` on a plain http server.
fn redirecting_to_plain_http(plain: &HttpServer) -> HttpServer {
    let to = plain.url("/fw.swu?token=plain-secret");
    server(&pki().good, move |_, _| {
        reply(302).h("Location", to.clone())
    })
}

#[test]
fn a_redirect_to_plain_http_is_refused_when_http_is_not_allowed() {
    let plain = HttpServer::start(|_, _| reply(200).update());
    let srv = redirecting_to_plain_http(&plain);
    let ca = ca_file();
    let o = run(&settings(url(&srv, "/fw.swu"), &ca));
    let e = assert_error(&o.result, Kind::PreflightRedirects, 88, "plain http");
    assert!(e.message.contains("SWUPDATE_ALLOW_HTTP"), "{e}");
    assert!(!e.message.contains("plain-secret"), "{e}");
    assert!(
        plain.requests().is_empty(),
        "the http server was never asked"
    );
}

#[test]
fn a_redirect_to_plain_http_is_followed_when_http_is_allowed() {
    let plain = HttpServer::start(|_, _| reply(200).update());
    let srv = redirecting_to_plain_http(&plain);
    let ca = ca_file();
    let mut s = settings(url(&srv, "/fw.swu"), &ca);
    s.allow_http = true;
    let p = run(&s).result.unwrap();
    assert_eq!(p.status, 200);
    assert_eq!(plain.requests().len(), 1);
}

#[test]
fn a_redirect_to_another_scheme_is_refused() {
    let srv = server(&pki().good, |_, _| {
        reply(302).h("Location", "ftp://127.0.0.1/fw.swu")
    });
    let ca = ca_file();
    let o = run(&settings(url(&srv, "/fw.swu"), &ca));
    assert_error(&o.result, Kind::PreflightRedirects, 88, "ftp");
}

#[test]
fn the_probe_says_where_a_redirect_took_it_without_its_secrets() {
    let srv = server(&pki().good, |_, r| match r.target.as_str() {
        "/start.swu" => reply(302).h("Location", "/final.swu?X-Amz-Signature=hop-secret"),
        _ => reply(200).update(),
    });
    let ca = ca_file();
    let p = run(&settings(url(&srv, "/start.swu"), &ca)).result.unwrap();
    let to = p
        .redirected_to
        .expect("the probe names the redirect's target");
    assert!(to.contains("/final.swu"), "{to}");
    assert!(!to.contains("hop-secret"), "{to}");
}

#[test]
fn unauthorized_is_denied_at_once() {
    let srv = server(&pki().good, |_, _| {
        reply(401).h("WWW-Authenticate", "Basic")
    });
    let ca = ca_file();
    let o = run(&settings(secret_url(&srv, "/a.swu"), &ca));
    let e = assert_error(&o.result, Kind::PreflightDenied, 84, "401");
    assert!(e.message.contains("access denied"), "{e}");
    assert_eq!(srv.methods(), ["HEAD"]);
}

#[test]
fn forbidden_is_denied_after_the_ranged_get_confirms_it() {
    let srv = server(&pki().good, |_, _| reply(403));
    let ca = ca_file();
    let o = run(&settings(secret_url(&srv, "/a.swu"), &ca));
    let e = assert_error(&o.result, Kind::PreflightDenied, 84, "403");
    assert!(e.message.contains("ranged GET"), "{e}");
    assert_eq!(srv.methods(), ["HEAD", "GET"]);
    assert!(o.clock.sleeps.is_empty());
}

#[test]
fn not_found_fails_at_once() {
    let srv = server(&pki().good, |_, _| reply(404));
    let ca = ca_file();
    let o = run(&settings(secret_url(&srv, "/gone.swu"), &ca));
    let e = assert_error(&o.result, Kind::PreflightNotFound, 85, "404 Not Found");
    // The redacted URL names the place, without its secrets.
    assert!(e.message.contains("/gone.swu?X-Amz-Signature=***"), "{e}");
    assert!(e.message.contains("https://***@127.0.0.1"), "{e}");
    assert_eq!(srv.methods(), ["HEAD"]);
}

#[test]
fn gone_is_not_found() {
    let srv = server(&pki().good, |_, _| reply(410));
    let ca = ca_file();
    let o = run(&settings(url(&srv, "/a.swu"), &ca));
    assert_error(&o.result, Kind::PreflightNotFound, 85, "410");
}

// ---------------------------------------------------------------------------------------------
// Retries

#[test]
fn a_server_error_then_success_is_retried_after_a_jittered_wait() {
    let srv = server(&pki().good, |i, _| {
        if i == 0 {
            reply(500)
        } else {
            reply(200).update()
        }
    });
    let ca = ca_file();
    let mut s = settings(url(&srv, "/a.swu"), &ca);
    s.backoff.budget = secs(60);
    let o = run_with(&s, u64::MAX / 2);
    let p = o.result.unwrap();
    assert_eq!((p.status, p.attempts), (200, 2));
    // Full jitter: half of the first ceiling (1 s).
    assert_eq!(o.clock.sleeps, [Duration::from_millis(500)]);
    assert_eq!(o.waits.len(), 1);
    assert_eq!(o.waits[0].delay, Duration::from_millis(500));
    assert_eq!(o.waits[0].attempts, 1);
    assert!(o.waits[0].reason.contains("500"), "{:?}", o.waits[0]);
    // Covers the wait and the next attempt (HEAD + ranged GET).
    assert_eq!(o.waits[0].extend_by, Duration::from_millis(6500));
    assert!(
        o.waits[0]
            .notify_state()
            .ends_with("\nEXTEND_TIMEOUT_USEC=6500000")
    );
}

#[test]
fn a_server_that_stays_unavailable_exhausts_the_budget() {
    let srv = server(&pki().good, |_, _| reply(503));
    let ca = ca_file();
    let mut s = settings(secret_url(&srv, "/a.swu"), &ca);
    s.backoff = Backoff {
        base: secs(1),
        cap: secs(4),
        budget: secs(10),
    };
    let o = run(&s);
    let e = assert_error(
        &o.result,
        Kind::PreflightServer,
        86,
        "503 Service Unavailable",
    );
    // Ceilings 1, 2, 4, then 4 cut to the 3 s left of the budget.
    assert_eq!(o.clock.sleeps, [secs(1), secs(2), secs(4), secs(3)]);
    assert!(e.message.contains("gave up after 5 requests"), "{e}");
    assert!(e.message.contains("retry budget 10 s"), "{e}");
    assert_eq!(srv.requests().len(), 5);
    assert_eq!(o.waits.len(), 4);
    for w in &o.waits {
        assert_no_secrets(&w.notify_state());
    }
}

#[test]
fn too_many_requests_honours_retry_after() {
    let srv = server(&pki().good, |i, _| {
        if i == 0 {
            reply(429).h("Retry-After", "7")
        } else {
            reply(200).update()
        }
    });
    let ca = ca_file();
    let mut s = settings(url(&srv, "/a.swu"), &ca);
    s.backoff.budget = secs(60);
    // No jitter: exactly Retry-After.
    let o = run_with(&s, 0);
    assert_eq!(o.result.unwrap().attempts, 2);
    assert_eq!(o.clock.sleeps, [secs(7)]);
    // With full jitter, Retry-After is the floor.
    let srv2 = server(&pki().good, |i, _| {
        if i == 0 {
            reply(429).h("Retry-After", "7")
        } else {
            reply(200).update()
        }
    });
    let o = run_with(
        &settings_with_budget(url(&srv2, "/a.swu"), &ca, 60),
        u64::MAX,
    );
    assert!(o.result.is_ok());
    assert_eq!(o.clock.sleeps, [secs(8)]);
}

fn settings_with_budget(url: Url, ca: &tempfile::NamedTempFile, budget: u64) -> Exchange {
    let mut s = settings(url, ca);
    s.backoff.budget = secs(budget);
    s
}

#[test]
fn a_retry_after_beyond_the_budget_fails_at_once() {
    let srv = server(&pki().good, |_, _| reply(429).h("Retry-After", "3600"));
    let ca = ca_file();
    let o = run(&settings_with_budget(url(&srv, "/a.swu"), &ca, 60));
    let e = assert_error(&o.result, Kind::PreflightServer, 86, "429");
    assert!(e.message.contains("Retry-After"), "{e}");
    assert!(e.message.contains("3600 s"), "{e}");
    assert!(o.clock.sleeps.is_empty());
    assert_eq!(srv.requests().len(), 1);
}

#[test]
fn a_refused_connection_is_retried_then_fails_as_connect() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ca = ca_file();
    let url = Url::parse(&format!(
        "https://{USER}:{PASSWORD_ENCODED}@127.0.0.1:{port}/a.swu?X-Amz-Signature={SIGNATURE}"
    ))
    .unwrap();
    let o = run(&settings_with_budget(url, &ca, 3));
    let e = assert_error(&o.result, Kind::PreflightConnect, 81, "cannot connect");
    assert!(e.message.to_lowercase().contains("refused"), "{e}");
    assert_eq!(o.clock.sleeps, [secs(1), secs(2)]);
}

#[test]
fn a_slow_server_times_out() {
    let srv = server(&pki().good, |_, _| Reply {
        delay: Duration::from_secs(2),
        ..reply(200).update()
    });
    let ca = ca_file();
    let mut s = settings(secret_url(&srv, "/a.swu"), &ca);
    s.request_timeout = Duration::from_millis(300);
    let started = Instant::now();
    let o = run(&s);
    let e = assert_error(
        &o.result,
        Kind::PreflightTimeout,
        82,
        "no answer within 300 ms",
    );
    assert!(started.elapsed() < Duration::from_millis(1500), "{e}");
    // Timeouts are transient: with a budget they are retried.
    let mut s = s.clone();
    s.backoff.budget = Duration::from_millis(1500);
    let o = run(&s);
    assert_error(
        &o.result,
        Kind::PreflightTimeout,
        82,
        "gave up after 3 requests",
    );
    // Fake time: 1 s, then the 2 s ceiling cut to the 0.5 s left of the budget.
    assert_eq!(o.clock.sleeps, [secs(1), Duration::from_millis(500)]);
}

// ---------------------------------------------------------------------------------------------
// TLS

#[test]
fn a_certificate_for_another_host_name_fails_as_tls() {
    let srv = server(&pki().other_host, |_, _| reply(200).update());
    let ca = ca_file();
    let o = run(&settings_with_budget(secret_url(&srv, "/a.swu"), &ca, 60));
    assert_error(
        &o.result,
        Kind::PreflightTls,
        83,
        "not valid for the URL's host name",
    );
    // Not transient: no retry, and no request ever reached the handler.
    assert!(o.clock.sleeps.is_empty());
    assert!(srv.requests().is_empty());
}

#[test]
fn an_expired_certificate_fails_as_tls() {
    let srv = server(&pki().expired, |_, _| reply(200).update());
    let ca = ca_file();
    let o = run(&settings_with_budget(secret_url(&srv, "/a.swu"), &ca, 60));
    assert_error(&o.result, Kind::PreflightTls, 83, "has expired");
    assert!(o.clock.sleeps.is_empty());
}

#[test]
fn a_certificate_from_an_unknown_ca_fails_as_tls() {
    let srv = server(&pki().stranger, |_, _| reply(200).update());
    let ca = ca_file();
    let o = run(&settings_with_budget(secret_url(&srv, "/a.swu"), &ca, 60));
    let e = assert_error(
        &o.result,
        Kind::PreflightTls,
        83,
        "not signed by a trusted CA",
    );
    assert!(e.hint.unwrap().contains(&ca.path().display().to_string()));
    assert!(srv.requests().is_empty());
}

#[test]
fn the_system_store_does_not_trust_a_private_ca() {
    // Without a CA file the system's store decides, and the test CA is not in it.
    let srv = server(&pki().good, |_, _| reply(200).update());
    let mut s = Exchange {
        ca_file: None,
        ..settings(url(&srv, "/a.swu"), &ca_file())
    };
    s.backoff.budget = Duration::ZERO;
    let o = run(&s);
    let e = assert_error(&o.result, Kind::PreflightTls, 83, "TLS");
    assert!(e.hint.unwrap().contains("system's store"));
}

#[test]
fn a_configured_ca_file_is_the_only_trust() {
    // The good server passes with the CA file; with another CA in the file it fails.
    let srv = server(&pki().good, |_, _| reply(200).update());
    let other = Ca::new("unrelated CA");
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(other.pem.as_bytes()).unwrap();
    let o = run(&settings(url(&srv, "/a.swu"), &f));
    assert_error(
        &o.result,
        Kind::PreflightTls,
        83,
        "not signed by a trusted CA",
    );
}

#[test]
fn a_missing_ca_file_is_a_missing_input() {
    let ca = ca_file();
    let mut s = settings(Url::parse("https://127.0.0.1:9/a.swu").unwrap(), &ca);
    s.ca_file = Some("/nonexistent/ca.pem".into());
    let e = assert_error(&run(&s).result, Kind::MissingInput, 66, "CA file");
    assert_eq!(
        e.file.as_deref(),
        Some(std::path::Path::new("/nonexistent/ca.pem"))
    );
}

#[test]
fn a_ca_file_without_certificates_is_a_config_error() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(b"not a certificate\n").unwrap();
    let s = settings(Url::parse("https://127.0.0.1:9/a.swu").unwrap(), &f);
    assert_error(&run(&s).result, Kind::Config, 65, "no PEM certificate");
}

// ---------------------------------------------------------------------------------------------
// Content

#[test]
fn an_html_page_is_not_an_update() {
    // A captive portal or a login page answering 200.
    let srv = server(&pki().good, |_, _| {
        reply(200)
            .h("Content-Type", "text/html; charset=utf-8")
            .h("Content-Length", "5120")
    });
    let ca = ca_file();
    let o = run(&settings_with_budget(secret_url(&srv, "/a.swu"), &ca, 60));
    assert_error(&o.result, Kind::PreflightNotAnUpdate, 87, "`text/html`");
    assert!(o.clock.sleeps.is_empty());
}

#[test]
fn an_empty_file_is_not_an_update() {
    let srv = server(&pki().good, |_, _| {
        reply(200)
            .h("Content-Type", "application/octet-stream")
            .h("Content-Length", "0")
    });
    let ca = ca_file();
    let o = run(&settings(secret_url(&srv, "/a.swu"), &ca));
    assert_error(&o.result, Kind::PreflightNotAnUpdate, 87, "0 bytes");
}

#[test]
fn a_file_shorter_than_a_cpio_header_is_not_an_update() {
    let srv = server(&pki().good, |_, _| reply(200).h("Content-Length", "109"));
    let ca = ca_file();
    let o = run(&settings(url(&srv, "/a.swu"), &ca));
    assert_error(&o.result, Kind::PreflightNotAnUpdate, 87, "109 bytes");
}

#[test]
fn no_content_type_and_no_length_are_accepted() {
    // HEAD without Content-Length (the server streams with chunked encoding).
    let srv = server(&pki().good, |_, _| Reply {
        omit_length: true,
        ..reply(200).h("Transfer-Encoding", "chunked")
    });
    let ca = ca_file();
    let p = run(&settings(url(&srv, "/a.swu"), &ca)).result.unwrap();
    assert_eq!((p.content_type, p.content_length), (None, None));
}

// ---------------------------------------------------------------------------------------------
// Credentials and names

#[test]
fn credentials_in_the_url_arrive_as_basic_auth_and_never_in_the_request_line() {
    let srv = server(&pki().good, |_, _| reply(200).update());
    let ca = ca_file();
    let p = run(&settings(secret_url(&srv, "/a.swu"), &ca))
        .result
        .unwrap();
    assert_eq!(p.status, 200);
    let reqs = srv.requests();
    let expected = format!("Basic {}", base64(format!("{USER}:{PASSWORD}").as_bytes()));
    assert_eq!(reqs[0].header("authorization"), Some(expected.as_str()));
    assert_eq!(
        reqs[0].target,
        format!("/a.swu?X-Amz-Signature={SIGNATURE}")
    );
    assert!(!reqs[0].target.contains(USER));
}

#[test]
fn credentials_follow_a_redirect_on_the_same_host_only() {
    let srv = server(&pki().good, |_, r| match r.target.split('?').next() {
        Some("/a.swu") => reply(302).h("Location", "/b.swu"),
        _ => reply(200).update(),
    });
    let ca = ca_file();
    run(&settings(secret_url(&srv, "/a.swu"), &ca))
        .result
        .unwrap();
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].header("authorization").is_some());
    // To another host (another server, named `localhost`): the header is dropped.
    let target = server(&pki().both_names, |_, _| reply(200).update());
    let port = target.port();
    let srv2 = server(&pki().good, move |_, _| {
        reply(302).h("Location", format!("https://localhost:{port}/b.swu"))
    });
    let p = run(&settings(secret_url(&srv2, "/a.swu"), &ca))
        .result
        .unwrap();
    assert_eq!(p.status, 200);
    assert!(srv2.requests()[0].header("authorization").is_some());
    let reached = target.requests();
    assert_eq!(reached.len(), 1);
    assert_eq!(reached[0].target, "/b.swu");
    assert_eq!(reached[0].header("authorization"), None);
}

#[test]
fn credentials_with_whitespace_are_refused_before_any_request() {
    let srv = server(&pki().good, |_, _| reply(200).update());
    let ca = ca_file();
    let url = Url::parse(&format!("https://u:a%20b@127.0.0.1:{}/a.swu", srv.port())).unwrap();
    let e = assert_error(
        &run(&settings(url, &ca)).result,
        Kind::Config,
        65,
        "whitespace",
    );
    assert!(!e.message.contains("a b"));
    assert!(srv.requests().is_empty());
}

#[test]
fn a_name_that_does_not_resolve_fails_fast_as_dns() {
    let ca = ca_file();
    let url = Url::parse(&format!(
        "https://{USER}:{PASSWORD_ENCODED}@updates.invalid/a.swu?X-Amz-Signature={SIGNATURE}"
    ))
    .unwrap();
    let started = Instant::now();
    let o = run(&settings_with_budget(url, &ca, 60));
    let e = assert_error(&o.result, Kind::PreflightDns, 80, "cannot resolve");
    assert!(e.message.contains("updates.invalid"), "{e}");
    // Not retried, and quick even without a network.
    assert!(o.clock.sleeps.is_empty());
    assert!(started.elapsed() < secs(5), "{:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------------
// Download (for a verification stage in download mode)

fn download(s: &Exchange) -> (Result<Probe, Error>, Vec<u8>) {
    let mut clock = FakeClock::new(u64::MAX);
    let mut out = tempfile::tempfile().unwrap();
    let result = client::download(s, &mut clock, &mut |_: &Wait| {}, &mut out);
    use std::io::{Read, Seek};
    out.rewind().unwrap();
    let mut body = Vec::new();
    out.read_to_end(&mut body).unwrap();
    (result, body)
}

fn artifact() -> Vec<u8> {
    (0..4096u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn a_download_writes_the_whole_body_with_one_get() {
    let body = artifact();
    let served = body.clone();
    let srv = server(&pki().good, move |_, _| Reply {
        body: served.clone(),
        ..reply(200).h("Content-Type", "application/octet-stream")
    });
    let ca = ca_file();
    let (result, got) = download(&settings(url(&srv, "/fw.pack"), &ca));
    assert_eq!(result.unwrap().status, 200);
    assert!(got == body, "the file holds the body");
    assert_eq!(srv.methods(), ["GET"]);
    assert_eq!(srv.requests()[0].header("range"), None);
}

#[test]
fn a_download_cut_short_is_retried_from_the_start() {
    let body = artifact();
    let served = body.clone();
    let srv = server(&pki().good, move |n, _| {
        let r = reply(200).h("Content-Type", "application/octet-stream");
        if n == 0 {
            // Promises 4096 bytes, sends 100, closes.
            Reply {
                body: served[..100].to_vec(),
                ..r.h("Content-Length", "4096")
            }
        } else {
            Reply {
                body: served.clone(),
                ..r
            }
        }
    });
    let ca = ca_file();
    let mut s = settings(url(&srv, "/fw.pack"), &ca);
    s.backoff.budget = secs(60);
    let (result, got) = download(&s);
    assert_eq!(result.unwrap().attempts, 2);
    assert!(got == body, "the retry replaced the partial file");
}

#[test]
fn a_download_that_is_not_there_is_not_found() {
    let srv = server(&pki().good, |_, _| reply(404));
    let ca = ca_file();
    let (result, got) = download(&settings(url(&srv, "/fw.pack"), &ca));
    assert_error(&result, Kind::PreflightNotFound, 85, "404");
    assert!(got.is_empty());
}

#[test]
fn a_download_announced_larger_than_the_room_is_refused_before_writing() {
    let srv = server(&pki().good, |_, _| {
        reply(200)
            .h("Content-Type", "application/octet-stream")
            .body(vec![b'x'; 4096])
    });
    let ca = ca_file();
    let mut s = settings(url(&srv, "/fw.pack"), &ca);
    s.max_download = 1000;
    let (result, got) = download(&s);
    assert_error(&result, Kind::VerifyNoRoom, 95, "announced 4096 bytes");
    assert!(got.is_empty());
}

#[test]
fn a_server_that_sends_past_the_room_is_stopped_as_no_room() {
    // No Content-Length and a body larger than the bound: as a server that never stops.
    let srv = server(&pki().good, |_, _| Reply {
        omit_length: true,
        ..reply(200)
            .h("Content-Type", "application/octet-stream")
            .body(vec![b'x'; 64 << 10])
    });
    let ca = ca_file();
    let mut s = settings(url(&srv, "/fw.pack"), &ca);
    s.max_download = 1000;
    s.backoff.budget = secs(60);
    let (result, got) = download(&s);
    let e = assert_error(&result, Kind::VerifyNoRoom, 95, "more than 1000 bytes");
    assert!(e.message.contains("room"), "{e}");
    assert!(got.len() <= 1001, "{} bytes written", got.len());
    assert_eq!(srv.requests().len(), 1, "not retried");
}
