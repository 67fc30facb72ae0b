//! The one loopback HTTP(S) server of the Rust integration tests: plain HTTP, or HTTPS with
//! rustls and certificates made at test time with rcgen ([`tls`], `streaming` feature only: that
//! is what links rustls). Answers come from a script, a handler that sees the request and its
//! index ([`HttpServer::start`]), or from the files of a directory ([`HttpServer::serve`]);
//! every request is logged with its headers ([`HttpServer::requests`]).
//!
//! One request per connection (`Connection: close`). The server cannot hang or outlive a test:
//! every socket has read and write timeouts, the accept loop ends when the server is dropped (or
//! after a hard deadline), a request head is bounded in size, and a scripted delay is capped.
//! std only, besides rustls for TLS: what is tested is the launcher's client (reqwest, or
//! swupdate's curl), not a server library.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Read and write timeout of every connection.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// The accept loop ends this long after the start even if the server is never dropped.
const LIFETIME: Duration = Duration::from_secs(300);
/// The longest scripted [`Reply::delay`].
const MAX_DELAY: Duration = Duration::from_secs(3);
/// The longest request head read.
const MAX_HEAD: usize = 64 * 1024;

/// One request the server received: its line and headers (the body is never read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// As sent: path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// One scripted answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// Sent to everything but HEAD.
    pub body: Vec<u8>,
    /// Wait this long before answering (at most 3 s).
    pub delay: Duration,
    /// Send no Content-Length (otherwise it is the body's unless a header gives one).
    pub omit_length: bool,
}

/// An answer with `status`, no headers and no body.
pub fn reply(status: u16) -> Reply {
    Reply {
        status,
        ..Reply::default()
    }
}

impl Reply {
    /// With the header `name: value`.
    pub fn h(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// What a good update looks like to a HEAD.
    pub fn update(self) -> Self {
        self.h("Content-Type", "application/octet-stream")
            .h("Content-Length", "4096")
    }

    /// With `body`.
    pub fn body(self, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            body: body.into(),
            ..self
        }
    }

    /// The head as sent: status line, the headers, Content-Length unless given or omitted.
    fn head(&self) -> String {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nConnection: close\r\n",
            self.status,
            reason(self.status)
        );
        let mut has_length = false;
        for (n, v) in &self.headers {
            has_length |= n.eq_ignore_ascii_case("content-length");
            out.push_str(&format!("{n}: {v}\r\n"));
        }
        if !has_length && !self.omit_length {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        out
    }
}

/// The reason phrase (clients show it; none of them decides on it).
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// The script: the 0-based index of the request (in arrival order) and the request.
pub type Handler = dyn Fn(usize, &Request) -> Reply + Send + Sync;

/// How a connection is spoken: as it comes, or through TLS.
#[derive(Clone)]
enum Transport {
    Plain,
    #[cfg(feature = "streaming")]
    Tls(Arc<rustls::ServerConfig>),
}

/// A server on 127.0.0.1 with a port of its own; dropping it stops it.
pub struct HttpServer {
    addr: SocketAddr,
    scheme: &'static str,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Plain HTTP, answered by `handler`.
    pub fn start(handler: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Self {
        Self::launch(Transport::Plain, Arc::new(handler))
    }

    /// Plain HTTP serving the files of `dir` for GET and HEAD (application/octet-stream), 404
    /// for anything missing or not a plain name, 405 for other methods.
    pub fn serve(dir: &Path) -> Self {
        let dir = dir.to_path_buf();
        Self::start(move |_, r| files(&dir, r))
    }

    /// HTTPS with `leaf`'s certificate chain, answered by `handler`.
    #[cfg(feature = "streaming")]
    pub fn start_tls(
        leaf: &tls::Leaf,
        handler: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static,
    ) -> Self {
        Self::launch(Transport::Tls(leaf.server_config()), Arc::new(handler))
    }

    fn launch(transport: Transport, handler: Arc<Handler>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let scheme = match transport {
            Transport::Plain => "http",
            #[cfg(feature = "streaming")]
            Transport::Tls(_) => "https",
        };
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (requests, stop) = (requests.clone(), stop.clone());
            thread::spawn(move || accept_loop(&listener, &transport, &handler, &requests, &stop))
        };
        HttpServer {
            addr,
            scheme,
            requests,
            stop,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/PATH` (or `https://`); `path` with or without its leading `/`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}://{}/{}",
            self.scheme,
            self.addr,
            path.trim_start_matches('/')
        )
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The methods of [`Self::requests`].
    pub fn methods(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.method).collect()
    }

    /// How many `method` requests for `path` (e.g. "/update.swu", without the query) came.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method && r.path() == path)
            .count()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    transport: &Transport,
    handler: &Arc<Handler>,
    requests: &Arc<Mutex<Vec<Request>>>,
    stop: &AtomicBool,
) {
    let deadline = Instant::now() + LIFETIME;
    let count = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match listener.accept() {
            Ok((tcp, _)) => {
                let (transport, handler, requests, count) = (
                    transport.clone(),
                    handler.clone(),
                    requests.clone(),
                    count.clone(),
                );
                thread::spawn(move || {
                    let _ = connection(tcp, &transport, &*handler, &requests, &count);
                });
            }
            Err(_) => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// One connection: one request, one answer.
fn connection(
    tcp: TcpStream,
    transport: &Transport,
    handler: &Handler,
    requests: &Mutex<Vec<Request>>,
    count: &AtomicUsize,
) -> io::Result<()> {
    tcp.set_nonblocking(false)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    match transport {
        Transport::Plain => {
            let mut s = tcp;
            exchange(&mut s, handler, requests, count)?;
            let _ = s.shutdown(std::net::Shutdown::Write);
        }
        #[cfg(feature = "streaming")]
        Transport::Tls(config) => {
            let conn = rustls::ServerConnection::new(config.clone()).map_err(io::Error::other)?;
            let mut s = rustls::StreamOwned::new(conn, tcp);
            // A failed handshake ends here, before a request is logged.
            exchange(&mut s, handler, requests, count)?;
            s.conn.send_close_notify();
            s.flush()?;
        }
    }
    Ok(())
}

/// Reads one request head (bounded), logs it, and writes the scripted answer.
fn exchange(
    s: &mut impl ReadWrite,
    handler: &Handler,
    requests: &Mutex<Vec<Request>>,
    count: &AtomicUsize,
) -> io::Result<()> {
    let Some(request) = read_head(s)? else {
        return Ok(());
    };
    requests.lock().unwrap().push(request.clone());
    let index = count.fetch_add(1, Ordering::SeqCst);
    let r = handler(index, &request);
    thread::sleep(r.delay.min(MAX_DELAY));
    let mut bytes = r.head().into_bytes();
    if request.method != "HEAD" {
        bytes.extend_from_slice(&r.body);
    }
    s.write_all(&bytes)?;
    s.flush()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The request line and headers, or `None` when the peer closes first or sends too much.
fn read_head(s: &mut impl Read) -> io::Result<Option<Request>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut chunk)?;
        if n == 0 || buf.len() > MAX_HEAD {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    Ok(Some(Request {
        method: first.next().unwrap_or("").to_string(),
        target: first.next().unwrap_or("").to_string(),
        headers: lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect(),
    }))
}

/// The answer of a static file server for the files (plain names only) of `dir`.
fn files(dir: &Path, r: &Request) -> Reply {
    let name = r.path().strip_prefix('/').unwrap_or_default();
    let plain_name = !name.is_empty() && !name.contains('/') && name != "." && name != "..";
    let file = if plain_name {
        fs::read(dir.join(name)).ok()
    } else {
        None
    };
    match (r.method.as_str(), file) {
        ("GET" | "HEAD", Some(bytes)) => reply(200)
            .h("Content-Type", "application/octet-stream")
            .body(bytes),
        ("GET" | "HEAD", None) => reply(404)
            .h("Content-Type", "text/plain")
            .body(&b"not found\n"[..]),
        _ => reply(405).h("Allow", "GET, HEAD"),
    }
}

/// Certificates made at test time (rcgen) for [`HttpServer::start_tls`].
#[cfg(feature = "streaming")]
pub mod tls {
    use std::sync::Arc;

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    /// A certificate authority: its certificate (PEM, for a client's CA file) and its key.
    pub struct Ca {
        pub pem: String,
        der: CertificateDer<'static>,
        issuer: Issuer<'static, KeyPair>,
    }

    impl Ca {
        /// A new self-signed CA named `name`.
        pub fn new(name: &str) -> Ca {
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

        /// A server certificate for `names` (the first is also the common name) signed by this
        /// CA; `expired`: valid in 2020 only.
        pub fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
            let mut p =
                CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            p.distinguished_name.push(DnType::CommonName, names[0]);
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            if expired {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, &self.issuer).unwrap();
            Leaf {
                chain: vec![cert.der().clone(), self.der.clone()],
                key: key.serialize_der(),
            }
        }
    }

    /// A server certificate, its chain up to the CA, and its key.
    #[derive(Clone)]
    pub struct Leaf {
        chain: Vec<CertificateDer<'static>>,
        key: Vec<u8>,
    }

    impl Leaf {
        /// rustls's server side with the ring provider (the one the launcher links).
        pub(super) fn server_config(&self) -> Arc<rustls::ServerConfig> {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    self.chain.clone(),
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone())),
                )
                .unwrap();
            Arc::new(config)
        }
    }
}
