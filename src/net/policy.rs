//! The preflight's policy, pure (no I/O, no HTTP stack): what an answer or a failure means,
//! when to retry and how long to wait, and what the error says. `net::client` does the
//! requests (feature `streaming`); this part is compiled in both builds so that its tests run
//! in both (without the client nothing calls it, and the linker drops it).
//!
//! Failures and what is done about them ([`crate::error::Kind`], exit codes 80-88):
//!
//! | failure | kind | retried |
//! |---|---|---|
//! | the name does not resolve | `PreflightDns` (80) | no |
//! | connection refused, reset, unreachable, closed without an answer | `PreflightConnect` (81) | yes |
//! | no answer within the connect or request timeout, 408 | `PreflightTimeout` (82) | yes |
//! | TLS: unknown CA, wrong host name, expired or not yet valid certificate | `PreflightTls` (83) | no |
//! | 401, 403 (407) | `PreflightDenied` (84) | no |
//! | 404, 410 | `PreflightNotFound` (85) | no |
//! | 5xx (but 501), 429 | `PreflightServer` (86) | yes, honouring `Retry-After` |
//! | 501 to the ranged GET, any other 4xx | `PreflightServer` (86) | no |
//! | a content type that is no update, a length below one cpio header (110 bytes), 204, 416 | `PreflightNotAnUpdate` (87) | no |
//! | more redirects than allowed, a 3xx without a usable `Location` | `PreflightRedirects` (88) | no |
//!
//! DNS failures are not retried: the management agent reached its server to write the URL, so a
//! name that does not resolve is almost always a wrong URL, and it should be reported in
//! milliseconds rather than after the whole retry budget; a resolver that is not up yet is the
//! unit's ordering problem (`After=network-online.target`), and systemd's `Restart=` and the
//! agent retry the whole start anyway.
//!
//! Retries use exponential backoff with full jitter ([`Backoff::delay`]): the wait before retry
//! `n` (0-based) is uniformly random in `[0, min(cap, base·2ⁿ)]`, plus `Retry-After` when the
//! server sent one, so ten thousand devices told at once do not come back in step. No retry
//! starts after `budget` has passed since the first request; a wait is cut to what is left of it.
//! The worst case is therefore about `budget + 2 × request_timeout`.
//!
//! `Retry-After` is honoured as delta-seconds only ([`parse_retry_after`]); an HTTP date is no
//! hint, and the backoff alone decides. A date means something only against the device's wall
//! clock, and the launcher may run soon after boot, before the clock is set (no RTC, no time sync
//! yet: the units do not wait for `time-sync.target`): a clock years behind would turn any date
//! into a wait beyond the budget, a preflight that gives up at once. Delta-seconds need no
//! clock, and RFC 9110 makes the field advisory (how long the client "ought to" wait).
//!
//! Messages name the URL only as [`Url::redacted`] (no credentials, no query values); texts of
//! lower layers are used only where they cannot carry the URL. The URL's credentials are sent as
//! HTTP Basic auth (reqwest drops the header on a redirect to another host).

// Without the client (no `streaming`) the verdict and error parts have no caller; they stay
// compiled so their unit tests run in both builds.
#![cfg_attr(not(feature = "streaming"), allow(dead_code))]

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::{Error, Kind};
use crate::plan::url::Url;

/// An update (`.swu`) is a cpio archive: anything shorter than one header cannot be one.
pub const CPIO_HEADER_LEN: u64 = 110;

/// Content types an update may be served with (besides none at all).
pub const ACCEPTED_CONTENT_TYPES: [&str; 4] = [
    "application/octet-stream",
    "application/x-cpio",
    "application/vnd.swupdate",
    "binary/octet-stream",
];

/// Exponential backoff with full jitter within a total time budget; see [`Backoff::delay`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub base: Duration,
    /// No wait's ceiling grows beyond this.
    pub cap: Duration,
    /// No retry starts later than this after the first request started; zero: no retries.
    pub budget: Duration,
}

impl Backoff {
    /// The ceiling of the wait before retry `retry` (0-based): `min(cap, base·2^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        if retry >= 64 {
            return self.cap.min(if self.base.is_zero() {
                Duration::ZERO
            } else {
                Duration::MAX
            });
        }
        let nanos = self.base.as_nanos().saturating_mul(1u128 << retry);
        duration_from_nanos(nanos).min(self.cap)
    }

    /// Full jitter: `random` (uniform over all of `u64`) scaled into `[0, ceiling(retry)]`.
    pub fn jitter(&self, retry: u32, random: u64) -> Duration {
        let ceiling = self.ceiling(retry).as_nanos();
        // ceiling · (random + 1) / 2⁶⁴: 0 for small `random`, exactly `ceiling` for u64::MAX.
        let scaled = (ceiling.saturating_mul(u128::from(random) + 1)) >> 64;
        // The multiplication saturates only for ceilings beyond 2⁶⁴ ns (585 years).
        duration_from_nanos(scaled)
    }

    /// How long to wait before retry `retry` (0-based), `elapsed` after the first request
    /// started, or `None` to give up: the budget is spent, or the server's `Retry-After` asks for
    /// more than is left of it. The wait is `Retry-After` (or nothing) plus [`Self::jitter`], cut
    /// to what is left of the budget.
    pub fn delay(
        &self,
        retry: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
        random: u64,
    ) -> Option<Duration> {
        let left = self.budget.checked_sub(elapsed).filter(|l| !l.is_zero())?;
        let floor = retry_after.unwrap_or(Duration::ZERO);
        if floor > left {
            return None;
        }
        Some(floor.saturating_add(self.jitter(retry, random)).min(left))
    }
}

fn duration_from_nanos(nanos: u128) -> Duration {
    let secs = nanos / 1_000_000_000;
    match u64::try_from(secs) {
        Ok(s) => Duration::new(s, (nanos % 1_000_000_000) as u32),
        Err(_) => Duration::MAX,
    }
}

/// One exchange with the update server, a preflight or a download: the URL, whom to trust,
/// and the limits in time, redirects and retries. (The configuration's view of the same knobs is
/// [`crate::plan::Preflight`]; `net` turns one into the other.)
#[derive(Clone)]
pub struct Exchange {
    pub url: Url,
    /// PEM bundle: when set, the only trusted CAs; otherwise the system's store.
    pub ca_file: Option<PathBuf>,
    /// Limit for the TCP (and proxy) connection of each request.
    pub connect_timeout: Duration,
    /// Limit for each request as a whole: connect, TLS, redirects, headers.
    pub request_timeout: Duration,
    /// Redirects followed per request; one more is a `PreflightRedirects` error.
    pub max_redirects: usize,
    pub backoff: Backoff,
    /// Limit for a whole download (`client::download`): the artifact is large, a probe
    /// is not.
    pub transfer_timeout: Duration,
    /// Whether a redirect may lead to plain `http` (`SWUPDATE_ALLOW_HTTP`): a redirect obeys
    /// the same policy as the URL, so an `https` URL cannot be turned into `http` by its server.
    pub allow_http: bool,
    /// Bytes a download may write (`client::download`): the room checked beforehand. A server
    /// that sends more (or announces more) is refused with [`Kind::VerifyNoRoom`].
    pub max_download: u64,
}

impl Exchange {
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_MAX_REDIRECTS: usize = 5;
    pub const DEFAULT_TRANSFER_TIMEOUT: Duration = Duration::from_secs(3600);
    pub const DEFAULT_BACKOFF: Backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(30),
        budget: Duration::from_secs(120),
    };

    /// The defaults: connect 10 s, request 30 s, 5 redirects, backoff 1 s doubling to 30 s
    /// within 120 s, the system's CA store.
    pub fn new(url: Url) -> Exchange {
        Exchange {
            url,
            ca_file: None,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            max_redirects: Self::DEFAULT_MAX_REDIRECTS,
            backoff: Self::DEFAULT_BACKOFF,
            transfer_timeout: Self::DEFAULT_TRANSFER_TIMEOUT,
            allow_http: false,
            max_download: u64::MAX,
        }
    }
}

/// Why a redirect to `scheme` (shown as `to`, already redacted) after `hops` earlier ones is not
/// followed, or `None` to follow it: the URL's policy applies to every hop.
pub fn redirect_refusal(
    exchange: &Exchange,
    hops: usize,
    scheme: &str,
    to: &str,
) -> Option<String> {
    if hops >= exchange.max_redirects {
        return Some(format!(
            "the server redirected more than {} times",
            exchange.max_redirects
        ));
    }
    match scheme {
        "https" => None,
        "http" if exchange.allow_http => None,
        "http" => Some(format!(
            "the server redirected to plain http ({to}), which SWUPDATE_ALLOW_HTTP=no refuses"
        )),
        other => Some(format!(
            "the server redirected to a {other}: URL ({to}); only https (and http where allowed) is followed"
        )),
    }
}

/// Whether a download announced as `content_length` bytes, or `written` so far, is past the
/// room checked beforehand (`Exchange::max_download`); the reason when it is.
pub fn download_overflow(
    exchange: &Exchange,
    content_length: Option<u64>,
    written: u64,
) -> Option<String> {
    let bound = exchange.max_download;
    if let Some(len) = content_length.filter(|l| *l > bound) {
        return Some(format!(
            "the server announced {len} bytes; the room checked beforehand holds {bound}"
        ));
    }
    (written > bound).then(|| {
        format!("the server sent more than {bound} bytes, the room checked beforehand; stopped")
    })
}

/// Never shows the credentials or query values of the URL.
impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("url", &self.url.redacted())
            .field("ca_file", &self.ca_file)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_redirects", &self.max_redirects)
            .field("backoff", &self.backoff)
            .finish()
    }
}

/// What the server said about the update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// 200 (HEAD, or a GET whose range the server ignored) or 206.
    pub status: u16,
    /// The whole update's size, where the server told it.
    pub content_length: Option<u64>,
    pub content_type: Option<String>,
    /// Requests made, the ranged GET included.
    pub attempts: u32,
    /// HEAD was refused and the answer came from `Range: bytes=0-0`.
    pub used_range_get: bool,
    /// Where the answer came from when the server redirected (redacted), for the log.
    pub redirected_to: Option<String>,
}

/// Time, sleep and randomness, injectable so tests run instantly and deterministically.
pub trait Clock {
    fn sleep(&mut self, d: Duration);
    fn now(&self) -> Instant;
    /// Uniformly random over all of `u64`.
    fn random(&mut self) -> u64;
}

/// The real clock: `thread::sleep`, `Instant::now`, randomness seeded by `getrandom(2)`.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    /// Jitter needs no cryptography, only values no other device shares: std's `RandomState`
    /// takes its keys from the kernel's random source (getrandom) once per thread and every new
    /// one differs, so the current instant hashed with a fresh one is that, without unsafe.
    fn random(&mut self) -> u64 {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(Instant::now())
    }
}

/// A wait between two attempts, reported before the sleep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wait {
    /// How long the preflight is about to sleep.
    pub delay: Duration,
    /// Requests made so far.
    pub attempts: u32,
    /// Why, in a few words (`503 Service Unavailable`, `connection refused`); never the URL.
    pub reason: String,
    /// What the service's start timeout must grow by to cover the wait and the next attempt
    /// (up to two requests: HEAD and the ranged GET): `delay + 2 × request_timeout`.
    pub extend_by: Duration,
}

impl Wait {
    /// One line for STATUS= and the journal.
    pub fn describe(&self) -> String {
        format!(
            "preflight: {}; retrying in {} (after {} request{})",
            self.reason,
            human(self.delay),
            self.attempts,
            if self.attempts == 1 { "" } else { "s" }
        )
    }

    /// The datagram for NOTIFY_SOCKET: `STATUS=…` and `EXTEND_TIMEOUT_USEC=…`, so a unit with a
    /// start timeout is not killed while the preflight waits (send it with
    /// [`crate::notify::send`]).
    pub fn notify_state(&self) -> String {
        format!(
            "{}\nEXTEND_TIMEOUT_USEC={}",
            crate::notify::status(&self.describe()),
            self.extend_by.as_micros()
        )
    }
}

/// Where the retry loop stands when a request failed transiently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Requests made so far, the failed one included.
    pub(crate) attempts: u32,
    /// Waits so far (the retry about to be decided is number `retries`, 0-based).
    pub(crate) retries: u32,
    /// Since the first request started.
    pub(crate) elapsed: Duration,
    /// The failed request was a GET (ranged, or the full download).
    pub(crate) range_get: bool,
}

/// After a transient failure (`kind`, `reason`, the server's `Retry-After`): the wait before
/// the next attempt, or the error once the budget does not allow one. Pure: `random` is the
/// clock's, uniform over `u64`.
pub(crate) fn retry(
    exchange: &Exchange,
    at: &Progress,
    kind: Kind,
    reason: String,
    retry_after: Option<Duration>,
    random: u64,
) -> Result<Wait, Error> {
    if let Some(delay) = exchange
        .backoff
        .delay(at.retries, at.elapsed, retry_after, random)
    {
        return Ok(Wait {
            delay,
            attempts: at.attempts,
            reason,
            extend_by: delay.saturating_add(exchange.request_timeout.saturating_mul(2)),
        });
    }
    let attempts = at.attempts;
    let mut why = if exchange.backoff.budget.is_zero() {
        format!("{reason} (retries are off: the retry budget is 0)")
    } else {
        format!(
            "{reason}; gave up after {attempts} request{} in {} (retry budget {})",
            if attempts == 1 { "" } else { "s" },
            human(at.elapsed),
            human(exchange.backoff.budget),
        )
    };
    if let Some(ra) = retry_after {
        why.push_str(&format!(
            "; the server asked to wait {} (Retry-After)",
            human(ra)
        ));
    }
    Err(failure(
        kind,
        &exchange.url.redacted(),
        &why,
        exchange,
        at.range_get,
    ))
}

/// The error of a failure: what happened to which (redacted) URL, and what to do.
pub(crate) fn failure(
    kind: Kind,
    shown: &str,
    reason: &str,
    exchange: &Exchange,
    range_get: bool,
) -> Error {
    let (what, hint) = match kind {
        Kind::PreflightDns => (
            "cannot resolve the server's name",
            "check the host name in URL and the device's DNS configuration".to_string(),
        ),
        Kind::PreflightConnect => (
            "cannot connect to the server",
            "check that the server is up and reachable from the device (routes, firewall, proxy)"
                .to_string(),
        ),
        Kind::PreflightTimeout => (
            "no answer in time",
            "check the network path to the server and the server's load".to_string(),
        ),
        Kind::PreflightTls => (
            "TLS failed",
            match &exchange.ca_file {
                Some(p) => format!(
                    "the server's certificate must chain to a CA in {} and name the URL's host",
                    p.display()
                ),
                None => "the server's certificate must chain to a CA in the system's store \
                         (or configure a CA file) and name the URL's host; check the device's clock"
                    .to_string(),
            },
        ),
        Kind::PreflightDenied => (
            "access denied",
            "check the credentials in URL, or ask the management server for a fresh signed URL"
                .to_string(),
        ),
        Kind::PreflightNotFound => (
            "the update is not there",
            "check the path in URL; the management server may have removed the artifact"
                .to_string(),
        ),
        Kind::PreflightServer => (
            "the server failed",
            "the server reported an error; nothing is wrong on the device".to_string(),
        ),
        Kind::PreflightNotAnUpdate => (
            "this is not an update",
            "the URL must point at the .swu file itself, served as application/octet-stream"
                .to_string(),
        ),
        Kind::PreflightRedirects => (
            "redirects not followed",
            format!(
                "at most {} redirects are followed, each under the URL's own policy (https, or http with SWUPDATE_ALLOW_HTTP=yes); point URL at the file",
                exchange.max_redirects
            ),
        ),
        Kind::VerifyNoRoom => (
            "no room for the download",
            "the download and its verified copy must fit in SWUPDATE_VERIFY_DIR's file system"
                .to_string(),
        ),
        _ => ("failed", String::new()),
    };
    let how = if range_get { " (ranged GET)" } else { "" };
    let e = Error::new(kind, format!("preflight of {shown}{how}: {what}: {reason}"));
    if hint.is_empty() { e } else { e.hint(hint) }
}

pub(crate) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The headers of one answer: everything the verdict depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// `503 Service Unavailable`
    pub(crate) status_text: String,
    pub(crate) content_type: Option<String>,
    pub(crate) content_length: Option<u64>,
    /// The total of `Content-Range`, where the header was there and readable.
    pub(crate) range_total: Option<RangeTotal>,
    pub(crate) retry_after: Option<Duration>,
    pub(crate) has_location: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Assessment {
    Found {
        status: u16,
        content_length: Option<u64>,
        content_type: Option<String>,
    },
    /// HEAD refused: ask again with a ranged GET, at once.
    FallBack,
    Retry {
        kind: Kind,
        reason: String,
        retry_after: Option<Duration>,
    },
    Fail {
        kind: Kind,
        reason: String,
    },
}

/// The verdict on an answer; pure.
pub(crate) fn assess(a: &Answer, range_get: bool) -> Assessment {
    let fail = |kind, reason: String| Assessment::Fail { kind, reason };
    let answered = format!("the server answered {}", a.status_text);
    match a.status {
        405 | 501 | 403 if !range_get => Assessment::FallBack,
        401 | 403 | 407 => fail(Kind::PreflightDenied, answered),
        404 | 410 => fail(Kind::PreflightNotFound, answered),
        408 => Assessment::Retry {
            kind: Kind::PreflightTimeout,
            reason: answered,
            retry_after: a.retry_after,
        },
        429 => Assessment::Retry {
            kind: Kind::PreflightServer,
            reason: answered,
            retry_after: a.retry_after,
        },
        416 => fail(
            Kind::PreflightNotAnUpdate,
            format!("{answered} to `Range: bytes=0-0`: the file is empty"),
        ),
        501 => fail(Kind::PreflightServer, answered),
        500..=599 => Assessment::Retry {
            kind: Kind::PreflightServer,
            reason: answered,
            retry_after: a.retry_after,
        },
        204 | 205 => fail(
            Kind::PreflightNotAnUpdate,
            format!("{answered}: there is no content"),
        ),
        200..=299 => {
            let length = if a.status == 206 {
                a.range_total.and_then(RangeTotal::bytes)
            } else {
                a.content_length
            };
            match check_content(a.content_type.as_deref(), length) {
                Ok(()) => Assessment::Found {
                    status: a.status,
                    content_length: length,
                    content_type: a.content_type.clone(),
                },
                Err(reason) => fail(Kind::PreflightNotAnUpdate, reason),
            }
        }
        300..=399 => fail(
            Kind::PreflightRedirects,
            if a.has_location {
                format!("{answered} with a Location that cannot be followed")
            } else {
                format!("{answered} without a Location to follow")
            },
        ),
        _ => fail(Kind::PreflightServer, answered),
    }
}

/// Whether headers can describe an update: an accepted (or no) content type and, where the
/// length is known, at least one cpio header. Pure; `Err` says why not.
pub fn check_content(content_type: Option<&str>, length: Option<u64>) -> Result<(), String> {
    if let Some(t) = content_type {
        let media = t
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !media.is_empty() && !ACCEPTED_CONTENT_TYPES.contains(&media.as_str()) {
            return Err(format!(
                "the server serves it as `{}`, which cannot be an update (accepted: {}, or none)",
                printable(&media),
                ACCEPTED_CONTENT_TYPES.join(", ")
            ));
        }
    }
    match length {
        Some(n) if n < CPIO_HEADER_LEN => Err(format!(
            "the server says it is {n} byte{} long; an update is at least {CPIO_HEADER_LEN} bytes (one cpio header)",
            if n == 1 { "" } else { "s" }
        )),
        _ => Ok(()),
    }
}

/// A server-supplied text made safe to print: printable ASCII, at most 64 characters.
fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// `Retry-After` as delta-seconds (RFC 9110 10.2.3). Anything else, an HTTP date included, is
/// no hint (`None`): the backoff alone decides (why: the module's docs).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Absurdly long numbers mean "later than any budget".
    Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)))
}

/// The whole size in `Content-Range: bytes 0-0/TOTAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeTotal {
    /// `/TOTAL`: the update's size in bytes.
    Bytes(u64),
    /// `/*`: the server does not know it.
    Unknown,
}

impl RangeTotal {
    /// The size, where the server told it.
    fn bytes(self) -> Option<u64> {
        match self {
            RangeTotal::Bytes(n) => Some(n),
            RangeTotal::Unknown => None,
        }
    }
}

/// `Content-Range: bytes 0-0/TOTAL` (or `bytes */TOTAL`): its total, or `None` when
/// unreadable.
pub(crate) fn parse_content_range_total(v: &str) -> Option<RangeTotal> {
    let rest = v.trim().strip_prefix("bytes ")?;
    let (_, total) = rest.rsplit_once('/')?;
    match total.trim() {
        "*" => Some(RangeTotal::Unknown),
        t => t.parse().ok().map(RangeTotal::Bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(30),
        budget: Duration::from_secs(120),
    };

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    // --- backoff -------------------------------------------------------------------------

    #[test]
    fn ceiling_doubles_from_base() {
        let got: Vec<u64> = (0..5).map(|r| B.ceiling(r).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16]);
    }

    #[test]
    fn ceiling_stops_at_cap() {
        assert_eq!(B.ceiling(5), s(30));
        assert_eq!(B.ceiling(6), s(30));
        assert_eq!(B.ceiling(63), s(30));
        assert_eq!(B.ceiling(64), s(30));
        assert_eq!(B.ceiling(u32::MAX), s(30));
    }

    #[test]
    fn ceiling_of_a_zero_base_stays_zero() {
        let z = Backoff {
            base: Duration::ZERO,
            ..B
        };
        for r in [0, 1, 10, 63, 64, 1000] {
            assert_eq!(z.ceiling(r), Duration::ZERO);
        }
    }

    #[test]
    fn ceiling_with_a_huge_base_saturates() {
        let h = Backoff {
            base: Duration::MAX,
            cap: Duration::MAX,
            budget: Duration::MAX,
        };
        assert_eq!(h.ceiling(0), Duration::MAX);
        assert_eq!(h.ceiling(40), Duration::MAX);
    }

    #[test]
    fn jitter_spans_zero_to_the_ceiling() {
        for r in 0..8 {
            assert_eq!(B.jitter(r, 0), Duration::ZERO);
            assert_eq!(B.jitter(r, u64::MAX), B.ceiling(r));
        }
        // The middle of the random range is the middle of the interval.
        assert_eq!(B.jitter(3, 1 << 63), s(4));
        assert_eq!(B.jitter(0, u64::MAX / 4), Duration::from_millis(250));
    }

    #[test]
    fn jitter_is_monotonic_in_the_random_value() {
        let mut prev = Duration::ZERO;
        for k in 0..=64u32 {
            let random = if k == 64 { u64::MAX } else { (1u64 << k) - 1 };
            let j = B.jitter(4, random);
            assert!(j >= prev);
            prev = j;
        }
    }

    #[test]
    fn delay_is_the_jitter_while_budget_is_left() {
        assert_eq!(B.delay(0, s(0), None, u64::MAX), Some(s(1)));
        assert_eq!(B.delay(2, s(10), None, u64::MAX), Some(s(4)));
        assert_eq!(B.delay(2, s(10), None, 0), Some(Duration::ZERO));
        assert_eq!(B.delay(9, s(10), None, u64::MAX), Some(s(30)));
    }

    #[test]
    fn delay_is_cut_to_what_is_left_of_the_budget() {
        assert_eq!(B.delay(9, s(100), None, u64::MAX), Some(s(20)));
        assert_eq!(
            B.delay(9, Duration::from_millis(119_999), None, u64::MAX),
            Some(Duration::from_millis(1))
        );
    }

    #[test]
    fn no_delay_once_the_budget_is_spent() {
        assert_eq!(B.delay(0, s(120), None, 0), None);
        assert_eq!(B.delay(0, s(121), None, u64::MAX), None);
        let none = Backoff {
            budget: Duration::ZERO,
            ..B
        };
        assert_eq!(none.delay(0, Duration::ZERO, None, 0), None);
    }

    #[test]
    fn retry_after_is_a_floor_and_jitter_comes_on_top() {
        assert_eq!(B.delay(0, s(0), Some(s(10)), 0), Some(s(10)));
        assert_eq!(B.delay(0, s(0), Some(s(10)), u64::MAX), Some(s(11)));
        assert_eq!(B.delay(3, s(0), Some(s(10)), u64::MAX), Some(s(18)));
    }

    #[test]
    fn retry_after_beyond_the_budget_gives_up() {
        assert_eq!(B.delay(0, s(100), Some(s(21)), 0), None);
        assert_eq!(B.delay(0, s(0), Some(s(3600)), 0), None);
        // Exactly what is left is still honoured.
        assert_eq!(B.delay(0, s(100), Some(s(20)), u64::MAX), Some(s(20)));
    }

    #[test]
    fn retry_after_of_zero_is_plain_backoff() {
        assert_eq!(
            B.delay(2, s(5), Some(Duration::ZERO), u64::MAX),
            B.delay(2, s(5), None, u64::MAX)
        );
    }

    /// A whole schedule with the largest jitter: 1, 2, 4, 8, 16, 30, 30, then cut, then over.
    #[test]
    fn a_schedule_with_maximal_jitter_fills_the_budget() {
        let mut elapsed = Duration::ZERO;
        let mut waits = Vec::new();
        let mut retry = 0;
        while let Some(d) = B.delay(retry, elapsed, None, u64::MAX) {
            waits.push(d.as_secs());
            elapsed += d;
            retry += 1;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 29]);
        assert_eq!(elapsed, s(120));
    }

    proptest::proptest! {
        #[test]
        fn delay_stays_within_bounds(
            base_ms in 0u64..100_000,
            cap_ms in 0u64..1_000_000,
            budget_ms in 0u64..10_000_000,
            retry in 0u32..200,
            elapsed_ms in 0u64..20_000_000,
            retry_after in proptest::option::of(0u64..100_000),
            random in proptest::num::u64::ANY,
        ) {
            let b = Backoff {
                base: Duration::from_millis(base_ms),
                cap: Duration::from_millis(cap_ms),
                budget: Duration::from_millis(budget_ms),
            };
            let elapsed = Duration::from_millis(elapsed_ms);
            let ra = retry_after.map(Duration::from_millis);
            let ceiling = b.ceiling(retry);
            proptest::prop_assert!(ceiling <= b.cap);
            proptest::prop_assert!(b.jitter(retry, random) <= ceiling);
            match b.delay(retry, elapsed, ra, random) {
                Some(d) => {
                    proptest::prop_assert!(elapsed < b.budget);
                    proptest::prop_assert!(elapsed + d <= b.budget);
                    proptest::prop_assert!(d <= ra.unwrap_or_default() + ceiling);
                    proptest::prop_assert!(d >= ra.unwrap_or_default());
                }
                None => proptest::prop_assert!(
                    elapsed >= b.budget || ra.unwrap_or_default() > b.budget - elapsed
                ),
            }
        }

        #[test]
        fn ceiling_never_shrinks(base_ms in 0u64..10_000, cap_ms in 0u64..10_000_000, retry in 0u32..100) {
            let b = Backoff {
                base: Duration::from_millis(base_ms),
                cap: Duration::from_millis(cap_ms),
                budget: Duration::ZERO,
            };
            proptest::prop_assert!(b.ceiling(retry + 1) >= b.ceiling(retry));
        }
    }

    // --- Retry-After ---------------------------------------------------------------------

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after("120"), Some(s(120)));
        assert_eq!(parse_retry_after(" 0 "), Some(s(0)));
        assert_eq!(
            parse_retry_after("99999999999999999999999"),
            Some(s(u64::MAX))
        );
    }

    /// A date needs the device's clock, which at boot may be years off: no hint.
    #[test]
    fn retry_after_as_an_http_date_is_no_hint() {
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Fri, 31 Dec 2038 23:59:59 GMT",
        ] {
            assert_eq!(parse_retry_after(date), None, "{date}");
        }
    }

    #[test]
    fn retry_after_garbage_is_ignored() {
        for v in [
            "",
            "-5",
            "1.5",
            "soon",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 CET",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 25:49:37 GMT",
        ] {
            assert_eq!(parse_retry_after(v), None, "{v:?}");
        }
    }

    // --- answers ---------------------------------------------------------------------------

    fn answer(status: u16) -> Answer {
        Answer {
            status,
            status_text: status.to_string(),
            content_type: Some("application/octet-stream".into()),
            content_length: Some(4096),
            ..Answer::default()
        }
    }

    fn kind_of(a: Assessment) -> Option<(Kind, bool)> {
        match a {
            Assessment::Fail { kind, .. } => Some((kind, false)),
            Assessment::Retry { kind, .. } => Some((kind, true)),
            _ => None,
        }
    }

    #[test]
    fn head_refusals_fall_back_to_a_ranged_get() {
        for st in [403, 405, 501] {
            assert_eq!(assess(&answer(st), false), Assessment::FallBack, "{st}");
        }
    }

    #[test]
    fn refusals_of_the_ranged_get_are_final() {
        assert_eq!(
            kind_of(assess(&answer(403), true)),
            Some((Kind::PreflightDenied, false))
        );
        assert_eq!(
            kind_of(assess(&answer(501), true)),
            Some((Kind::PreflightServer, false))
        );
        assert_eq!(
            kind_of(assess(&answer(405), true)),
            Some((Kind::PreflightServer, false))
        );
    }

    #[test]
    fn status_table() {
        let table = [
            (401, Some((Kind::PreflightDenied, false))),
            (407, Some((Kind::PreflightDenied, false))),
            (404, Some((Kind::PreflightNotFound, false))),
            (410, Some((Kind::PreflightNotFound, false))),
            (408, Some((Kind::PreflightTimeout, true))),
            (429, Some((Kind::PreflightServer, true))),
            (500, Some((Kind::PreflightServer, true))),
            (502, Some((Kind::PreflightServer, true))),
            (503, Some((Kind::PreflightServer, true))),
            (504, Some((Kind::PreflightServer, true))),
            (599, Some((Kind::PreflightServer, true))),
            (400, Some((Kind::PreflightServer, false))),
            (418, Some((Kind::PreflightServer, false))),
            (416, Some((Kind::PreflightNotAnUpdate, false))),
            (204, Some((Kind::PreflightNotAnUpdate, false))),
            (300, Some((Kind::PreflightRedirects, false))),
            (304, Some((Kind::PreflightRedirects, false))),
            (302, Some((Kind::PreflightRedirects, false))),
            (100, Some((Kind::PreflightServer, false))),
            (200, None),
            (203, None),
        ];
        for get in [false, true] {
            for (st, want) in table {
                assert_eq!(kind_of(assess(&answer(st), get)), want, "{st} get={get}");
            }
        }
    }

    #[test]
    fn retry_after_travels_with_429_and_5xx() {
        for st in [429, 503] {
            let a = Answer {
                retry_after: Some(s(7)),
                ..answer(st)
            };
            match assess(&a, false) {
                Assessment::Retry { retry_after, .. } => assert_eq!(retry_after, Some(s(7))),
                other => panic!("{st}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_206_takes_its_length_from_content_range() {
        let a = Answer {
            content_length: Some(1),
            range_total: Some(RangeTotal::Bytes(1_000_000)),
            ..answer(206)
        };
        assert_eq!(
            assess(&a, true),
            Assessment::Found {
                status: 206,
                content_length: Some(1_000_000),
                content_type: Some("application/octet-stream".into()),
            }
        );
        // Unknown total: accepted, length unknown.
        let a = Answer {
            content_length: Some(1),
            range_total: Some(RangeTotal::Unknown),
            ..answer(206)
        };
        assert!(matches!(
            assess(&a, true),
            Assessment::Found {
                content_length: None,
                ..
            }
        ));
    }

    #[test]
    fn a_206_of_a_tiny_file_is_not_an_update() {
        let a = Answer {
            range_total: Some(RangeTotal::Bytes(1)),
            ..answer(206)
        };
        assert_eq!(
            kind_of(assess(&a, true)),
            Some((Kind::PreflightNotAnUpdate, false))
        );
    }

    #[test]
    fn content_types() {
        for ok in [
            None,
            Some(""),
            Some("application/octet-stream"),
            Some("Application/Octet-Stream; charset=binary"),
            Some("application/x-cpio"),
            Some("application/vnd.swupdate"),
            Some("binary/octet-stream"),
        ] {
            assert_eq!(check_content(ok, Some(1 << 20)), Ok(()), "{ok:?}");
        }
        for bad in [
            "text/html",
            "text/html; charset=utf-8",
            "application/json",
            "text/plain",
            "application/xml",
        ] {
            let e = check_content(Some(bad), Some(1 << 20)).unwrap_err();
            assert!(e.contains(bad.split(';').next().unwrap()), "{e}");
        }
    }

    #[test]
    fn lengths() {
        assert_eq!(check_content(None, None), Ok(()));
        assert_eq!(check_content(None, Some(110)), Ok(()));
        assert!(
            check_content(None, Some(0))
                .unwrap_err()
                .contains("0 bytes")
        );
        assert!(check_content(None, Some(109)).unwrap_err().contains("109"));
    }

    #[test]
    fn server_text_is_made_printable() {
        let e = check_content(Some("text/\u{1b}[31mred"), None).unwrap_err();
        assert!(!e.contains('\u{1b}'));
        let long = format!("x/{}", "y".repeat(200));
        let e = check_content(Some(&long), None).unwrap_err();
        assert!(
            e.contains(&"y".repeat(62)) && !e.contains(&"y".repeat(63)),
            "{e}"
        );
    }

    #[test]
    fn content_range_totals() {
        assert_eq!(
            parse_content_range_total("bytes 0-0/1234"),
            Some(RangeTotal::Bytes(1234))
        );
        assert_eq!(
            parse_content_range_total("bytes */0"),
            Some(RangeTotal::Bytes(0))
        );
        assert_eq!(
            parse_content_range_total("bytes 0-0/*"),
            Some(RangeTotal::Unknown)
        );
        assert_eq!(parse_content_range_total("items 0-0/5"), None);
        assert_eq!(parse_content_range_total("bytes 0-0/x"), None);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(s(3)), "3 s");
        assert_eq!(human(Duration::from_millis(2500)), "2.5 s");
    }

    #[test]
    fn wait_tells_systemd_how_long() {
        let w = Wait {
            delay: Duration::from_millis(1500),
            attempts: 2,
            reason: "the server answered 503 Service Unavailable".into(),
            extend_by: s(61),
        };
        assert_eq!(
            w.notify_state(),
            "STATUS=preflight: the server answered 503 Service Unavailable; retrying in 1.5 s (after 2 requests)\nEXTEND_TIMEOUT_USEC=61000000"
        );
    }

    // --- retry decisions --------------------------------------------------------------------

    fn exchange(budget: u64) -> Exchange {
        Exchange {
            backoff: Backoff {
                budget: s(budget),
                ..B
            },
            ..Exchange::new(Url::parse("https://user:pw@h/x.swu?sig=abc").unwrap())
        }
    }

    fn at(attempts: u32, retries: u32, elapsed: u64) -> Progress {
        Progress {
            attempts,
            retries,
            elapsed: s(elapsed),
            range_get: false,
        }
    }

    #[test]
    fn a_transient_failure_within_the_budget_waits_and_extends_the_start_timeout() {
        let w = retry(
            &exchange(120),
            &at(3, 2, 10),
            Kind::PreflightServer,
            "the server answered 503".into(),
            None,
            u64::MAX,
        )
        .unwrap();
        assert_eq!(
            w,
            Wait {
                delay: s(4),
                attempts: 3,
                reason: "the server answered 503".into(),
                extend_by: s(4 + 2 * 30),
            }
        );
    }

    #[test]
    fn a_spent_budget_gives_up_with_the_count_and_the_budget() {
        let e = retry(
            &exchange(120),
            &at(8, 7, 120),
            Kind::PreflightServer,
            "the server answered 503".into(),
            Some(s(5)),
            0,
        )
        .unwrap_err();
        assert_eq!(e.kind, Kind::PreflightServer);
        assert!(
            e.message
                .contains("gave up after 8 requests in 120 s (retry budget 120 s)")
        );
        assert!(
            e.message
                .contains("the server asked to wait 5 s (Retry-After)")
        );
        assert!(
            !e.message.contains("pw") && !e.message.contains("abc"),
            "{e}"
        );
    }

    #[test]
    fn a_zero_budget_says_retries_are_off() {
        let e = retry(
            &exchange(0),
            &Progress {
                range_get: true,
                ..at(1, 0, 0)
            },
            Kind::PreflightConnect,
            "connection refused".into(),
            None,
            0,
        )
        .unwrap_err();
        assert!(
            e.message
                .contains("(ranged GET): cannot connect to the server: connection refused (retries are off: the retry budget is 0)"),
            "{e}"
        );
    }

    #[test]
    fn exchange_debug_hides_secrets() {
        let u = Url::parse("https://user:pw@h/x.swu?sig=abc").unwrap();
        let d = format!("{:?}", Exchange::new(u));
        assert!(
            !d.contains("pw") && !d.contains("abc") && !d.contains("user"),
            "{d}"
        );
    }

    #[test]
    fn system_clock_random_varies() {
        let mut c = SystemClock;
        let a: Vec<u64> = (0..4).map(|_| c.random()).collect();
        assert!(a.windows(2).any(|w| w[0] != w[1]));
    }
}
