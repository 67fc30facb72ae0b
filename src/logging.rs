//! Where the launcher's few messages go: the journal, with structured fields, when it runs
//! under systemd; readable lines on stderr otherwise.
//!
//! The launcher writes at most a handful of records per run, all before it execs swupdate. The
//! journal's native protocol (`KEY=value` lines in one datagram, systemd.journal-fields(7)) is
//! a few dozen lines, so it is spoken here directly rather than through tracing,
//! tracing-subscriber and tracing-journald, whose size and start-up this binary would pay on
//! every boot for no records of their own (docs/design.md, "Dependencies, and the crates not used").

use std::io::{IsTerminal, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use crate::error::{Error, Kind};
use crate::secret::redact;

/// syslog priorities, as the journal stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 3,
    Warning = 4,
    Info = 6,
    Debug = 7,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "error" | "err" => Some(Level::Error),
            "warning" | "warn" => Some(Level::Warning),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            _ => None,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

/// The journal's socket; an environment variable may point elsewhere (tests).
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
pub const JOURNAL_SOCKET_VAR: &str =
    crate::config::vocabulary::names::SWUPDATE_LAUNCHER_JOURNAL_SOCKET;
/// Lowest level that is written: error, warning, info (default) or debug.
pub const LEVEL_VAR: &str = crate::config::vocabulary::names::SWUPDATE_LAUNCHER_LOG_LEVEL;

#[derive(Debug)]
enum Sink {
    Journal(PathBuf),
    Stderr,
}

#[derive(Debug)]
pub struct Logger {
    sink: Sink,
    max: Level,
}

/// JOURNAL_STREAM is `device:inode` of the stream systemd connected to stdout/stderr.
///
/// std's metadata needs a `File`, so fd 2 is asked through a duplicate of it (280 bytes more
/// than an `fstat` by hand, measured: not worth an unsafe block).
fn stderr_is_journal_stream(journal_stream: Option<&str>) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|v| v.split_once(':')) else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(st) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    dev.parse::<u64>().ok() == Some(st.dev()) && ino.parse::<u64>().ok() == Some(st.ino())
}

impl Logger {
    /// Decides the sink as the issue of record says: the journal when stderr is systemd's
    /// journal stream, or when the journal socket exists and stderr is not a terminal.
    pub fn for_service(env: &dyn Fn(&str) -> Option<String>) -> Logger {
        let socket =
            PathBuf::from(env(JOURNAL_SOCKET_VAR).unwrap_or_else(|| JOURNAL_SOCKET.into()));
        let journal = stderr_is_journal_stream(env("JOURNAL_STREAM").as_deref())
            || (socket.exists() && !std::io::stderr().is_terminal());
        Logger {
            sink: if journal {
                Sink::Journal(socket)
            } else {
                Sink::Stderr
            },
            max: env(LEVEL_VAR)
                .and_then(|v| Level::parse(&v))
                .unwrap_or(Level::Info),
        }
    }

    /// For the commands a person runs (check, explain, --print-argv): always stderr.
    pub fn for_terminal() -> Logger {
        Logger {
            sink: Sink::Stderr,
            max: Level::Info,
        }
    }

    pub fn is_journal(&self) -> bool {
        matches!(self.sink, Sink::Journal(_))
    }

    /// Writes one record. `fields` are extra journal fields (upper-case names); on stderr they
    /// are not shown, the message says it all. Text is redacted of URL secrets either way.
    pub fn log(&self, level: Level, message: &str, fields: &[(&str, String)]) {
        if level > self.max {
            return;
        }
        let message = redact(message);
        if let Sink::Journal(path) = &self.sink {
            let datagram = encode(level, &message, fields);
            let sent = UnixDatagram::unbound().and_then(|s| s.send_to(&datagram, path));
            if sent.is_ok() {
                return;
            }
        }
        let prefix = if level <= Level::Warning {
            format!("{}: ", level.word())
        } else {
            String::new()
        };
        let _ = writeln!(std::io::stderr(), "swupdate-launcher: {prefix}{message}");
    }
}

/// Writes a command's output (explain, check, --print-argv) to stdout. A reader that went away
/// (`explain | head`) ends the output quietly; any other write error is reported. Never
/// `print!`, which panics (an abort, with panic = "abort") when stdout is a closed pipe.
pub fn print(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::new(
            Kind::Io,
            format!("cannot write the output: {e}"),
        )),
    }
}

/// The journal's native format: `NAME=value\n`, or for values with a newline
/// `NAME\n<u64 little-endian length><value>\n`.
pub fn encode(level: Level, message: &str, fields: &[(&str, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut field = |name: &str, value: &str| {
        if value.contains('\n') {
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        } else {
            out.extend_from_slice(format!("{name}={value}\n").as_bytes());
        }
    };
    field("MESSAGE", message);
    field("PRIORITY", &(level as u8).to_string());
    field("SYSLOG_IDENTIFIER", "swupdate-launcher");
    field("SWUPDATE_LAUNCHER_VERSION", env!("CARGO_PKG_VERSION"));
    for (name, value) in fields {
        field(name, &redact(value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_fields_are_name_equals_value_lines() {
        let d = encode(Level::Info, "hello", &[("SWUPDATE_MODE", "file".into())]);
        let t = String::from_utf8(d).unwrap();
        assert!(t.starts_with("MESSAGE=hello\nPRIORITY=6\nSYSLOG_IDENTIFIER=swupdate-launcher\n"));
        assert!(t.ends_with("SWUPDATE_MODE=file\n"));
    }

    #[test]
    fn multi_line_values_are_length_prefixed() {
        let d = encode(Level::Error, "a\nb", &[]);
        assert_eq!(&d[..8], b"MESSAGE\n");
        assert_eq!(&d[8..16], &3u64.to_le_bytes());
        assert_eq!(&d[16..20], b"a\nb\n");
    }

    #[test]
    fn field_values_are_redacted() {
        let d = encode(
            Level::Info,
            "x",
            &[("SWUPDATE_URL", "https://u:secret@h/x?t=abc".into())],
        );
        let t = String::from_utf8(d).unwrap();
        assert!(!t.contains("secret") && !t.contains("abc"), "{t}");
    }

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse("WARN"), Some(Level::Warning));
        assert!(Level::Error < Level::Debug);
        assert_eq!(Level::parse("loud"), None);
    }

    #[test]
    fn a_stream_that_is_not_stderr_is_not_the_journal() {
        assert!(!stderr_is_journal_stream(Some("1:1")));
        assert!(!stderr_is_journal_stream(Some("garbage")));
        assert!(!stderr_is_journal_stream(None));
    }

    #[test]
    fn stderr_s_own_device_and_inode_are_the_journal_stream() {
        use std::os::unix::fs::MetadataExt;
        // The file fd 2 is, by another way than the one under test.
        let m = std::fs::metadata("/proc/self/fd/2").unwrap();
        assert!(stderr_is_journal_stream(Some(&format!(
            "{}:{}",
            m.dev(),
            m.ino()
        ))));
    }
}
