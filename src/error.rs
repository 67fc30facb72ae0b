//! Every way the launcher can refuse to start swupdate, and the exit code each one gets.
//!
//! The codes are part of the interface: the management agent and the unit read them, so each
//! category keeps its number and none of them collides with swupdate's own 1 and 2. This file
//! is the one place they are defined: [`Kind::exit_code`] is the mapping, [`EXIT_CODES`] the
//! text `--help` shows (a test keeps the two in step), and the README's table copies it. New
//! categories get new numbers; existing numbers never change.

use std::fmt;
use std::path::{Path, PathBuf};

/// The exit codes, as `--help` lists them.
pub const EXIT_CODES: &str = "\
Exit codes:
  0    check, explain or --print-argv succeeded (run does not return: swupdate replaces it)
  64   bad command line
  65   configuration error (syntax, invalid or contradictory value)
  66   an input the configuration names is missing or unreadable (update file, key, --env-file)
  74   a configuration file or directory could not be read
  75   another update is running
  80-88  download preflight (streaming builds): 80 DNS, 81 connect, 82 timeout, 83 TLS,
       84 denied, 85 not found, 86 server error, 87 not an update, 88 redirects
  90-96  verification stage: 90 security violation (the program's exit 1), 91 failed
       (another exit, or it cannot be executed), 92 killed by a signal, 93 timeout,
       94 no output, 95 no room (before it ran, or the file system filled while it wrote),
       96 output as large as its bound
  126  swupdate could not be executed
  127  swupdate not found
  1, 2 are never the launcher's: they are swupdate's own.";

/// The category of a failure; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line itself is wrong.
    Usage,
    /// Syntax or meaning of the configuration is wrong.
    Config,
    /// An input that the configuration names (update file, key, explicit env file) is missing.
    MissingInput,
    /// A configuration file or directory exists but cannot be read.
    Io,
    /// Another update holds the lock.
    Busy,
    /// swupdate exists but cannot be executed.
    ExecFailed,
    /// swupdate is not there.
    ExecNotFound,
    /// Download preflight: the server's name does not resolve.
    PreflightDns,
    /// Download preflight: the connection is refused or the network unreachable.
    PreflightConnect,
    /// Download preflight: no answer within the configured time.
    PreflightTimeout,
    /// Download preflight: TLS failed (unknown CA, wrong host name, expired certificate).
    PreflightTls,
    /// Download preflight: 401 or 403.
    PreflightDenied,
    /// Download preflight: 404 or 410.
    PreflightNotFound,
    /// Download preflight: 5xx or 429 until the retry budget ran out.
    PreflightServer,
    /// Download preflight: the answer cannot be an update (content type, length).
    PreflightNotAnUpdate,
    /// Download preflight: more redirects than allowed.
    PreflightRedirects,
    /// Verification stage: the program said the pack is not authentic (its exit code 1).
    VerifySecurity,
    /// Verification stage: the program failed otherwise (any other non-zero exit).
    VerifyFailed,
    /// Verification stage: the program was killed by a signal.
    VerifyCrashed,
    /// Verification stage: the program did not finish in time.
    VerifyTimeout,
    /// Verification stage: the program exited 0 but wrote nothing.
    VerifyNoOutput,
    /// Verification stage: not enough room for the verified copy, checked before the program
    /// runs, or the file system filled up while it wrote (its failure is then not a verdict).
    VerifyNoRoom,
    /// Verification stage: the program wrote as much as its bound (the room checked
    /// beforehand: the update's size and a margin) and was stopped there.
    VerifyTooLarge,
}

impl Kind {
    /// The documented exit code (README, "Exit codes").
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Usage => 64,
            Kind::Config => 65,
            Kind::MissingInput => 66,
            Kind::Io => 74,
            Kind::Busy => 75,
            Kind::ExecFailed => 126,
            Kind::ExecNotFound => 127,
            Kind::PreflightDns => 80,
            Kind::PreflightConnect => 81,
            Kind::PreflightTimeout => 82,
            Kind::PreflightTls => 83,
            Kind::PreflightDenied => 84,
            Kind::PreflightNotFound => 85,
            Kind::PreflightServer => 86,
            Kind::PreflightNotAnUpdate => 87,
            Kind::PreflightRedirects => 88,
            Kind::VerifySecurity => 90,
            Kind::VerifyFailed => 91,
            Kind::VerifyCrashed => 92,
            Kind::VerifyTimeout => 93,
            Kind::VerifyNoOutput => 94,
            Kind::VerifyNoRoom => 95,
            Kind::VerifyTooLarge => 96,
        }
    }
}

/// Where in a file something was found; columns count characters, both are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        Ok(())
    }
}

/// A refusal: what is wrong, where, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub location: Option<Box<Location>>,
    /// Names a file without a line (a missing key, an unreadable directory).
    pub path: Option<PathBuf>,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            location: None,
            path: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(Box::new(location));
        self
    }

    pub fn on(mut self, path: &Path) -> Self {
        self.path = Some(path.to_path_buf());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn exit_code(&self) -> u8 {
        self.kind.exit_code()
    }

    /// One line, for STATUS= and the journal: no newlines.
    pub fn summary(&self) -> String {
        match (&self.location, &self.path) {
            (Some(l), _) => format!("{l}: {}", self.message),
            (None, Some(p)) => format!("{}: {}", p.display(), self.message),
            (None, None) => self.message.clone(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Kind; 23] = [
        Kind::Usage,
        Kind::Config,
        Kind::MissingInput,
        Kind::Io,
        Kind::Busy,
        Kind::ExecFailed,
        Kind::ExecNotFound,
        Kind::PreflightDns,
        Kind::PreflightConnect,
        Kind::PreflightTimeout,
        Kind::PreflightTls,
        Kind::PreflightDenied,
        Kind::PreflightNotFound,
        Kind::PreflightServer,
        Kind::PreflightNotAnUpdate,
        Kind::PreflightRedirects,
        Kind::VerifySecurity,
        Kind::VerifyFailed,
        Kind::VerifyCrashed,
        Kind::VerifyTimeout,
        Kind::VerifyNoOutput,
        Kind::VerifyNoRoom,
        Kind::VerifyTooLarge,
    ];

    #[test]
    fn exit_codes_are_distinct_and_never_swupdates_own() {
        let all = ALL;
        let codes: Vec<u8> = all.iter().map(|k| k.exit_code()).collect();
        for (i, c) in codes.iter().enumerate() {
            assert!(*c > 2, "{c} collides with swupdate's own codes");
            assert!(!codes[i + 1..].contains(c), "{c} used twice");
        }
    }

    #[test]
    fn every_exit_code_is_in_the_help_text() {
        for k in ALL {
            let c = k.exit_code().to_string();
            assert!(
                EXIT_CODES
                    .lines()
                    .any(|l| l.split(|ch: char| !ch.is_ascii_digit()).any(|w| w == c)),
                "{k:?} ({c}) is not in EXIT_CODES"
            );
        }
    }

    #[test]
    fn summary_names_file_line_and_column() {
        let e = Error::new(Kind::Config, "bad").at(Location {
            file: "/etc/x".into(),
            line: 3,
            column: Some(7),
        });
        assert_eq!(e.summary(), "/etc/x:3:7: bad");
    }

    #[test]
    fn hint_goes_on_its_own_line() {
        let e = Error::new(Kind::Config, "bad").hint("do this");
        assert_eq!(e.to_string(), "bad\n  hint: do this");
    }
}
