//! What the launcher itself does on the network (the `streaming` feature): the preflight
//! before swupdate streams, and the download a verification stage needs. Three parts:
//! [`policy`], pure and compiled in both builds (what an answer or a failure means, when to
//! retry and how long to wait, the error's words); `client` (feature `streaming`), the requests
//! on reqwest and rustls; and this module, the glue [`crate::app`] calls: it turns the
//! configuration into a [`policy::Exchange`], tells systemd about waits and logs the outcome.
//!
//! Without the feature there is no HTTP stack in the binary; the preflight is then absent
//! (swupdate's downloader does all the network work) and the plan refuses a verification stage
//! in download mode.

#[cfg(feature = "streaming")]
pub mod client;
pub mod policy;

use std::fs::File;
use std::path::Path;

use crate::error::Error;
use crate::logging::Logger;
use crate::plan::url::Url;
use crate::plan::{Plan, Preflight};
use crate::rootfs::Root;

#[cfg(feature = "streaming")]
mod enabled {
    use std::io::Seek;
    use std::time::Duration;

    use super::*;
    use crate::error::Kind;
    use crate::logging::Level;
    use crate::net::client;
    use crate::net::policy::{Exchange, SystemClock, Wait};
    use crate::notify;
    use crate::plan::{DownloadUrl, Mode};
    use crate::verify;

    /// The exchange with the server that the configuration asks for (its CA under the root).
    fn exchange(url: &Url, config: &Preflight, root: &Root) -> Exchange {
        let mut s = Exchange::new(url.clone());
        s.allow_http = config.allow_http.value;
        s.ca_file = config.ca_file.as_ref().map(|c| root.host(&c.value));
        if let Some(t) = &config.timeout {
            s.request_timeout = Duration::from_secs(t.value.into());
        }
        if let Some(b) = &config.budget {
            s.backoff.budget = Duration::from_secs(b.value.into());
        }
        s
    }

    /// While it waits between retries: say so, and extend systemd's start timeout.
    fn waiting<'a>(
        env: &dyn Fn(&str) -> Option<String>,
        logger: &'a Logger,
    ) -> impl FnMut(&Wait) + 'a {
        let sock = env("NOTIFY_SOCKET");
        move |w: &Wait| {
            logger.log(Level::Info, &w.describe(), &[]);
            let _ = notify::send(sock.as_deref(), &w.notify_state());
        }
    }

    fn bytes(n: Option<u64>) -> String {
        n.map_or_else(|| "unknown".to_string(), |l| l.to_string())
    }

    /// The URL as the log shows it, with where a redirect took it.
    fn answered_by(url: &Url, redirected_to: Option<&String>) -> String {
        match redirected_to {
            Some(to) => format!("{} (redirected to {to})", url.redacted()),
            None => url.redacted(),
        }
    }

    /// Asks the server whether the artifact is there before swupdate streams it.
    pub fn preflight(
        plan: &Plan,
        root: &Root,
        env: &dyn Fn(&str) -> Option<String>,
        logger: &Logger,
    ) -> Result<(), Error> {
        let Mode::Download {
            url: DownloadUrl::Given(url),
            preflight: config,
            ..
        } = &plan.mode
        else {
            return Ok(());
        };
        if !config.enabled.value {
            return Ok(());
        }
        let s = exchange(&url.value, config, root);
        let probe = client::run(&s, &mut SystemClock, &mut waiting(env, logger))?;
        logger.log(
            Level::Info,
            &format!(
                "preflight: {} answered {} ({} bytes)",
                answered_by(&url.value, probe.redirected_to.as_ref()),
                probe.status,
                bytes(probe.content_length)
            ),
            &[],
        );
        Ok(())
    }

    /// Downloads the artifact into a private, unlinked file in `dir`, from its start.
    pub fn fetch(
        url: &Url,
        config: &Preflight,
        root: &Root,
        dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
        logger: &Logger,
    ) -> Result<File, Error> {
        let mut s = exchange(url, config, root);
        // The download and then its verified copy (as large, and a margin) must both fit.
        s.max_download = verify::download_bound(dir)?;
        logger.log(
            Level::Info,
            &format!(
                "downloading {} for verification (at most {} bytes)",
                url.redacted(),
                s.max_download
            ),
            &[],
        );
        let mut out = verify::private_file(dir, "download")?;
        let probe = client::download(&s, &mut SystemClock, &mut waiting(env, logger), &mut out)?;
        out.rewind()
            .map_err(|e| Error::new(Kind::Io, format!("cannot rewind the download: {e}")))?;
        logger.log(
            Level::Info,
            &format!(
                "downloaded {} ({} bytes)",
                answered_by(url, probe.redirected_to.as_ref()),
                bytes(probe.content_length)
            ),
            &[],
        );
        Ok(out)
    }
}

#[cfg(feature = "streaming")]
pub use enabled::{fetch, preflight};

/// Without the feature: no preflight.
#[cfg(not(feature = "streaming"))]
pub fn preflight(
    _: &Plan,
    _: &Root,
    _: &dyn Fn(&str) -> Option<String>,
    _: &Logger,
) -> Result<(), Error> {
    Ok(())
}

/// Without the feature the plan refuses a verification stage in download mode; this is never
/// reached, and says why if it were.
#[cfg(not(feature = "streaming"))]
pub fn fetch(
    _: &Url,
    _: &Preflight,
    _: &Root,
    _: &Path,
    _: &dyn Fn(&str) -> Option<String>,
    _: &Logger,
) -> Result<File, Error> {
    Err(Error::new(
        crate::error::Kind::Config,
        "downloading for a verification stage needs the streaming feature",
    ))
}
