//! The download preflight against real TLS servers on 127.0.0.1, with a CA and certificates made
//! here (rcgen) and a small rustls server per test. Every server stops by itself: its accept loop
//! ends when the test drops it (or after a hard deadline), and every connection has read and
//! write timeouts. Time in the preflight is a fake clock: backoff sleeps take no time.
#![cfg(feature = "streaming")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use swupdate_launcher::error::{Error, Kind};
use swupdate_launcher::net::client;
use swupdate_launcher::net::policy::{Backoff, Clock, Exchange, Probe, Wait};
use swupdate_launcher::plan::url::Url;

// ---------------------------------------------------------------------------------------------
// Certificates

struct Ca {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

fn make_ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        der: cert.der().clone(),
        issuer: Issuer::new(p, key),
    }
}

/// A server certificate and its chain.
#[derive(Clone)]
struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: Vec<u8>,
}

fn make_leaf(ca: &Ca, names: &[&str], expired: bool) -> Leaf {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if expired {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    Leaf {
        chain: vec![cert.der().clone(), ca.der.clone()],
        key: key.serialize_der(),
    }
}

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
        let trusted = make_ca("preflight test CA");
        let stranger_ca = make_ca("somebody else's CA");
        Pki {
            good: make_leaf(&trusted, &["127.0.0.1"], false),
            both_names: make_leaf(&trusted, &["127.0.0.1", "localhost"], false),
            other_host: make_leaf(&trusted, &["updates.example.com"], false),
            expired: make_leaf(&trusted, &["127.0.0.1"], true),
            stranger: make_leaf(&stranger_ca, &["127.0.0.1"], false),
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

// ---------------------------------------------------------------------------------------------
// A small HTTPS server: one request per connection, answers from a handler.

#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Default)]
struct Reply {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Wait this long before answering (at most 3 s).
    delay: Duration,
    /// Send no Content-Length (otherwise it is the body's unless a header gives one).
    omit_length: bool,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        ..Reply::default()
    }
}

impl Reply {
    fn h(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// What a good update looks like to a HEAD.
    fn update(self) -> Self {
        self.h("Content-Type", "application/octet-stream")
            .h("Content-Length", "4096")
    }
}

type Handler = dyn Fn(usize, &Request) -> Reply + Send + Sync;

struct Server {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    fn start(
        leaf: &Leaf,
        handler: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                leaf.chain.clone(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf.key.clone())),
            )
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let requests = requests.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(30);
                let count = Arc::new(AtomicUsize::new(0));
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((tcp, _)) => {
                            let (config, handler, requests, count) = (
                                config.clone(),
                                handler.clone(),
                                requests.clone(),
                                count.clone(),
                            );
                            std::thread::spawn(move || {
                                serve(tcp, config, &*handler, &requests, &count)
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Server {
            port,
            requests,
            stop,
            accept: Some(accept),
        }
    }

    fn url(&self, path: &str) -> Url {
        Url::parse(&format!("https://127.0.0.1:{}{path}", self.port)).unwrap()
    }

    /// The URL with credentials and a signed query, as a management server hands them out.
    fn secret_url(&self, path: &str) -> Url {
        Url::parse(&format!(
            "https://{USER}:{PASSWORD_ENCODED}@127.0.0.1:{}{path}?X-Amz-Signature={SIGNATURE}",
            self.port
        ))
        .unwrap()
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn methods(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.method).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    handler: &Handler,
    requests: &Mutex<Vec<Request>>,
    count: &AtomicUsize,
) {
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(3)));
    let Ok(conn) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    // Read the head of one request (a TLS failure ends here).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let request = Request {
        method: first.next().unwrap_or("").to_string(),
        target: first.next().unwrap_or("").to_string(),
        headers: lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect(),
    };
    requests.lock().unwrap().push(request.clone());
    let index = count.fetch_add(1, Ordering::SeqCst);
    let r = handler(index, &request);
    std::thread::sleep(r.delay.min(Duration::from_secs(3)));
    let mut out = format!("HTTP/1.1 {} Whatever\r\nConnection: close\r\n", r.status);
    let mut has_length = false;
    for (n, v) in &r.headers {
        has_length |= n.eq_ignore_ascii_case("content-length");
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    if !has_length && !r.omit_length {
        out.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if request.method != "HEAD" {
        bytes.extend_from_slice(&r.body);
    }
    let _ = tls.write_all(&bytes);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
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
    fn wall(&self) -> SystemTime {
        SystemTime::now()
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
    let srv = Server::start(&pki().good, |_, _| reply(200).update());
    let ca = ca_file();
    let o = run(&settings(srv.url("/fw/1.2.swu"), &ca));
    assert_eq!(
        o.result.unwrap(),
        Probe {
            status: 200,
            content_length: Some(4096),
            content_type: Some("application/octet-stream".into()),
            attempts: 1,
            used_range_get: false,
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
    let srv = Server::start(&pki().good, |_, r| match r.method.as_str() {
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
    let p = run(&settings(srv.url("/a.swu"), &ca)).result.unwrap();
    assert_eq!(p.status, 206);
    assert_eq!(p.content_length, Some(7_340_032));
    assert!(p.used_range_get);
    assert_eq!(p.attempts, 2);
    assert_eq!(srv.methods(), ["HEAD", "GET"]);
}

#[test]
fn a_head_answered_501_also_falls_back() {
    let srv = Server::start(&pki().good, |_, r| match r.method.as_str() {
        "HEAD" => reply(501),
        // A server that ignores Range: the full length comes in Content-Length, the body is
        // never read.
        _ => reply(200).update(),
    });
    let ca = ca_file();
    let p = run(&settings(srv.url("/a.swu"), &ca)).result.unwrap();
    assert_eq!(
        (p.status, p.content_length, p.used_range_get),
        (200, Some(4096), true)
    );
}

#[test]
fn a_head_refused_with_403_is_confirmed_by_the_ranged_get_like_presigned_s3_urls() {
    // S3 signs the method: a URL presigned for GET answers HEAD with 403.
    let srv = Server::start(&pki().good, |_, r| match r.method.as_str() {
        "HEAD" => reply(403),
        _ => Reply {
            body: b"0".to_vec(),
            ..reply(206)
                .h("Content-Type", "binary/octet-stream")
                .h("Content-Range", "bytes 0-0/1000")
        },
    });
    let ca = ca_file();
    let p = run(&settings(srv.secret_url("/a.swu"), &ca))
        .result
        .unwrap();
    assert_eq!((p.status, p.used_range_get), (206, true));
    assert_eq!(srv.methods(), ["HEAD", "GET"]);
}

#[test]
fn redirects_within_the_limit_are_followed() {
    let srv = Server::start(&pki().good, |_, r| match r.target.as_str() {
        "/start.swu" => reply(301).h("Location", "/hop1"),
        "/hop1" => reply(302).h("Location", "/hop2"),
        "/hop2" => reply(301).h("Location", "/final.swu"),
        "/final.swu" => reply(200).update(),
        _ => reply(404),
    });
    let ca = ca_file();
    let p = run(&settings(srv.url("/start.swu"), &ca)).result.unwrap();
    assert_eq!(p.status, 200);
    let targets: Vec<String> = srv.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/start.swu", "/hop1", "/hop2", "/final.swu"]);
    // HEAD stays HEAD through 301 and 302.
    assert!(srv.methods().iter().all(|m| m == "HEAD"));
}

#[test]
fn redirects_beyond_the_limit_fail() {
    let srv = Server::start(&pki().good, |_, r| {
        let n: u32 = r.target.trim_start_matches("/hop").parse().unwrap_or(0);
        if n < 4 {
            reply(if n % 2 == 0 { 301 } else { 302 }).h("Location", format!("/hop{}", n + 1))
        } else {
            reply(200).update()
        }
    });
    let ca = ca_file();
    let o = run(&settings(srv.secret_url("/hop0"), &ca));
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
    let srv = Server::start(&pki().good, |_, _| reply(302).h("Location", "/again"));
    let ca = ca_file();
    let o = run(&settings(srv.url("/again"), &ca));
    assert_error(&o.result, Kind::PreflightRedirects, 88, "redirects");
}

#[test]
fn unauthorized_is_denied_at_once() {
    let srv = Server::start(&pki().good, |_, _| {
        reply(401).h("WWW-Authenticate", "Basic")
    });
    let ca = ca_file();
    let o = run(&settings(srv.secret_url("/a.swu"), &ca));
    let e = assert_error(&o.result, Kind::PreflightDenied, 84, "401");
    assert!(e.message.contains("access denied"), "{e}");
    assert_eq!(srv.methods(), ["HEAD"]);
}

#[test]
fn forbidden_is_denied_after_the_ranged_get_confirms_it() {
    let srv = Server::start(&pki().good, |_, _| reply(403));
    let ca = ca_file();
    let o = run(&settings(srv.secret_url("/a.swu"), &ca));
    let e = assert_error(&o.result, Kind::PreflightDenied, 84, "403");
    assert!(e.message.contains("ranged GET"), "{e}");
    assert_eq!(srv.methods(), ["HEAD", "GET"]);
    assert!(o.clock.sleeps.is_empty());
}

#[test]
fn not_found_fails_at_once() {
    let srv = Server::start(&pki().good, |_, _| reply(404));
    let ca = ca_file();
    let o = run(&settings(srv.secret_url("/gone.swu"), &ca));
    let e = assert_error(&o.result, Kind::PreflightNotFound, 85, "404 Not Found");
    // The redacted URL names the place, without its secrets.
    assert!(e.message.contains("/gone.swu?X-Amz-Signature=***"), "{e}");
    assert!(e.message.contains("https://***@127.0.0.1"), "{e}");
    assert_eq!(srv.methods(), ["HEAD"]);
}

#[test]
fn gone_is_not_found() {
    let srv = Server::start(&pki().good, |_, _| reply(410));
    let ca = ca_file();
    let o = run(&settings(srv.url("/a.swu"), &ca));
    assert_error(&o.result, Kind::PreflightNotFound, 85, "410");
}

// ---------------------------------------------------------------------------------------------
// Retries

#[test]
fn a_server_error_then_success_is_retried_after_a_jittered_wait() {
    let srv = Server::start(&pki().good, |i, _| {
        if i == 0 {
            reply(500)
        } else {
            reply(200).update()
        }
    });
    let ca = ca_file();
    let mut s = settings(srv.url("/a.swu"), &ca);
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
    let srv = Server::start(&pki().good, |_, _| reply(503));
    let ca = ca_file();
    let mut s = settings(srv.secret_url("/a.swu"), &ca);
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
    let srv = Server::start(&pki().good, |i, _| {
        if i == 0 {
            reply(429).h("Retry-After", "7")
        } else {
            reply(200).update()
        }
    });
    let ca = ca_file();
    let mut s = settings(srv.url("/a.swu"), &ca);
    s.backoff.budget = secs(60);
    // No jitter: exactly Retry-After.
    let o = run_with(&s, 0);
    assert_eq!(o.result.unwrap().attempts, 2);
    assert_eq!(o.clock.sleeps, [secs(7)]);
    // With full jitter, Retry-After is the floor.
    let srv2 = Server::start(&pki().good, |i, _| {
        if i == 0 {
            reply(429).h("Retry-After", "7")
        } else {
            reply(200).update()
        }
    });
    let o = run_with(&settings_with_budget(srv2.url("/a.swu"), &ca, 60), u64::MAX);
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
    let srv = Server::start(&pki().good, |_, _| reply(429).h("Retry-After", "3600"));
    let ca = ca_file();
    let o = run(&settings_with_budget(srv.url("/a.swu"), &ca, 60));
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
    let srv = Server::start(&pki().good, |_, _| Reply {
        delay: Duration::from_secs(2),
        ..reply(200).update()
    });
    let ca = ca_file();
    let mut s = settings(srv.secret_url("/a.swu"), &ca);
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
    let srv = Server::start(&pki().other_host, |_, _| reply(200).update());
    let ca = ca_file();
    let o = run(&settings_with_budget(srv.secret_url("/a.swu"), &ca, 60));
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
    let srv = Server::start(&pki().expired, |_, _| reply(200).update());
    let ca = ca_file();
    let o = run(&settings_with_budget(srv.secret_url("/a.swu"), &ca, 60));
    assert_error(&o.result, Kind::PreflightTls, 83, "has expired");
    assert!(o.clock.sleeps.is_empty());
}

#[test]
fn a_certificate_from_an_unknown_ca_fails_as_tls() {
    let srv = Server::start(&pki().stranger, |_, _| reply(200).update());
    let ca = ca_file();
    let o = run(&settings_with_budget(srv.secret_url("/a.swu"), &ca, 60));
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
    let srv = Server::start(&pki().good, |_, _| reply(200).update());
    let mut s = Exchange {
        ca_file: None,
        ..settings(srv.url("/a.swu"), &ca_file())
    };
    s.backoff.budget = Duration::ZERO;
    let o = run(&s);
    let e = assert_error(&o.result, Kind::PreflightTls, 83, "TLS");
    assert!(e.hint.unwrap().contains("system's store"));
}

#[test]
fn a_configured_ca_file_is_the_only_trust() {
    // The good server passes with the CA file; with another CA in the file it fails.
    let srv = Server::start(&pki().good, |_, _| reply(200).update());
    let other = make_ca("unrelated CA");
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(other.pem.as_bytes()).unwrap();
    let o = run(&settings(srv.url("/a.swu"), &f));
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
        e.path.as_deref(),
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
    let srv = Server::start(&pki().good, |_, _| {
        reply(200)
            .h("Content-Type", "text/html; charset=utf-8")
            .h("Content-Length", "5120")
    });
    let ca = ca_file();
    let o = run(&settings_with_budget(srv.secret_url("/a.swu"), &ca, 60));
    assert_error(&o.result, Kind::PreflightNotAnUpdate, 87, "`text/html`");
    assert!(o.clock.sleeps.is_empty());
}

#[test]
fn an_empty_file_is_not_an_update() {
    let srv = Server::start(&pki().good, |_, _| {
        reply(200)
            .h("Content-Type", "application/octet-stream")
            .h("Content-Length", "0")
    });
    let ca = ca_file();
    let o = run(&settings(srv.secret_url("/a.swu"), &ca));
    assert_error(&o.result, Kind::PreflightNotAnUpdate, 87, "0 bytes");
}

#[test]
fn a_file_shorter_than_a_cpio_header_is_not_an_update() {
    let srv = Server::start(&pki().good, |_, _| reply(200).h("Content-Length", "109"));
    let ca = ca_file();
    let o = run(&settings(srv.url("/a.swu"), &ca));
    assert_error(&o.result, Kind::PreflightNotAnUpdate, 87, "109 bytes");
}

#[test]
fn no_content_type_and_no_length_are_accepted() {
    // HEAD without Content-Length (the server streams with chunked encoding).
    let srv = Server::start(&pki().good, |_, _| Reply {
        omit_length: true,
        ..reply(200).h("Transfer-Encoding", "chunked")
    });
    let ca = ca_file();
    let p = run(&settings(srv.url("/a.swu"), &ca)).result.unwrap();
    assert_eq!((p.content_type, p.content_length), (None, None));
}

// ---------------------------------------------------------------------------------------------
// Credentials and names

#[test]
fn credentials_in_the_url_arrive_as_basic_auth_and_never_in_the_request_line() {
    let srv = Server::start(&pki().good, |_, _| reply(200).update());
    let ca = ca_file();
    let p = run(&settings(srv.secret_url("/a.swu"), &ca))
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
    let srv = Server::start(&pki().good, |_, r| match r.target.split('?').next() {
        Some("/a.swu") => reply(302).h("Location", "/b.swu"),
        _ => reply(200).update(),
    });
    let ca = ca_file();
    run(&settings(srv.secret_url("/a.swu"), &ca))
        .result
        .unwrap();
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    assert!(reqs[1].header("authorization").is_some());
    // To another host (another server, named `localhost`): the header is dropped.
    let target = Server::start(&pki().both_names, |_, _| reply(200).update());
    let port = target.port;
    let srv2 = Server::start(&pki().good, move |_, _| {
        reply(302).h("Location", format!("https://localhost:{port}/b.swu"))
    });
    let p = run(&settings(srv2.secret_url("/a.swu"), &ca))
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
    let srv = Server::start(&pki().good, |_, _| reply(200).update());
    let ca = ca_file();
    let url = Url::parse(&format!("https://u:a%20b@127.0.0.1:{}/a.swu", srv.port)).unwrap();
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
    let srv = Server::start(&pki().good, move |_, _| Reply {
        body: served.clone(),
        ..reply(200).h("Content-Type", "application/octet-stream")
    });
    let ca = ca_file();
    let (result, got) = download(&settings(srv.url("/fw.pack"), &ca));
    assert_eq!(result.unwrap().status, 200);
    assert!(got == body, "the file holds the body");
    assert_eq!(srv.methods(), ["GET"]);
    assert_eq!(srv.requests()[0].header("range"), None);
}

#[test]
fn a_download_cut_short_is_retried_from_the_start() {
    let body = artifact();
    let served = body.clone();
    let srv = Server::start(&pki().good, move |n, _| {
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
    let mut s = settings(srv.url("/fw.pack"), &ca);
    s.backoff.budget = secs(60);
    let (result, got) = download(&s);
    assert_eq!(result.unwrap().attempts, 2);
    assert!(got == body, "the retry replaced the partial file");
}

#[test]
fn a_download_that_is_not_there_is_not_found() {
    let srv = Server::start(&pki().good, |_, _| reply(404));
    let ca = ca_file();
    let (result, got) = download(&settings(srv.url("/fw.pack"), &ca));
    assert_error(&result, Kind::PreflightNotFound, 85, "404");
    assert!(got.is_empty());
}
