//! Every way the launcher can refuse to start swupdate, and the exit code each one gets.
//!
//! The codes are part of the interface: the management agent and the unit read them, so each
//! category keeps its number and none of them collides with swupdate's own 1 and 2. This file
//! is the one place they are written: the `kinds!` list below gives each [`Kind`] its code,
//! name and one-line doc, and everything else is derived from it: [`Kind::exit_code`], the list
//! `--help` prints ([`exit_codes_text`]), `docs/exit-codes.md` ([`exit_codes_markdown`], kept in
//! step by `tests/generated_docs.rs`) and the man page's EXIT STATUS. New categories get new
//! numbers; existing numbers never change.

use std::fmt;
use std::path::{Path, PathBuf};

/// Defines [`Kind`] and [`Kind::ALL`] from one list, so that a code, its name and its doc
/// cannot be written in two places.
macro_rules! kinds {
    ($( $(#[$meta:meta])* $kind:ident = $code:literal, $doc:literal; )*) => {
        /// The category of a failure; decides the exit code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Kind {
            $( #[doc = $doc] $(#[$meta])* $kind, )*
        }

        impl Kind {
            /// Every kind, in the order of the list (by code within a group).
            pub const ALL: &[Kind] = &[$(Kind::$kind),*];

            /// The documented exit code (`docs/exit-codes.md`).
            pub fn exit_code(self) -> u8 {
                match self {
                    $( Kind::$kind => $code, )*
                }
            }

            /// The variant's name, as the code and the generated docs call it.
            pub fn name(self) -> &'static str {
                match self {
                    $( Kind::$kind => stringify!($kind), )*
                }
            }

            /// One line: what the code means.
            pub fn doc(self) -> &'static str {
                match self {
                    $( Kind::$kind => $doc, )*
                }
            }
        }
    };
}

kinds! {
    Usage = 64, "bad command line";
    Config = 65,
        "configuration error: syntax in the EnvironmentFile or a fragment, an invalid or contradictory value";
    MissingInput = 66,
        "an input the configuration names is missing or unreadable: UPDATE_FILE, the public key, an explicit --env-file, no single *.swu on a medium";
    SlotUnknown = 67,
        "A/B: the running slot could not be identified (no slot matched, two did, the sources disagree, or a source could not be read)";
    SlotIsBooted = 68,
        "A/B: the selection would write the booted root (its `writes` device is the root or the root's dm parent)";
    Unhealthy = 69,
        "confirm: a required health check failed; nothing was written, the bootloader's counter decides";
    FellBack = 70,
        "confirm: an update was pending but the device runs another slot than the bootloader tried; recorded as failed";
    BootEnv = 71,
        "the bootloader environment could not be read or written (fw_printenv or fw_setenv failed, timed out or said too much)";
    Io = 74,
        "a configuration file or directory could not be read, or is not what it must be (a FIFO, device or socket in place of a file; a symlink as descriptor.env or lock file)";
    Busy = 75, "another update is running (the lock is held)";
    PreflightDns = 80, "download preflight (streaming builds): the server's name does not resolve";
    PreflightConnect = 81,
        "download preflight: the connection is refused or the network unreachable";
    PreflightTimeout = 82, "download preflight: no answer within the configured time";
    PreflightTls = 83,
        "download preflight: TLS failed (unknown CA, wrong host name, expired certificate)";
    PreflightDenied = 84, "download preflight: access denied (401 or 403)";
    PreflightNotFound = 85, "download preflight: not found (404 or 410)";
    PreflightServer = 86,
        "download preflight: server error (5xx or 429) until the retry budget ran out";
    PreflightNotAnUpdate = 87,
        "download preflight: the answer cannot be an update (content type, length)";
    PreflightRedirects = 88,
        "download preflight: more redirects than allowed, or a redirect the URL's policy refuses (to http without SWUPDATE_ALLOW_HTTP=yes)";
    VerifySecurity = 90,
        "verification stage: security violation, the program said the pack is not authentic (its exit 1)";
    VerifyFailed = 91,
        "verification stage: the program failed otherwise (another exit), or cannot be executed";
    VerifyCrashed = 92, "verification stage: the program was killed by a signal";
    VerifyTimeout = 93, "verification stage: the program did not finish in time";
    VerifyNoOutput = 94, "verification stage: the program exited 0 but wrote nothing";
    /// Checked before the program runs; a full file system while it writes makes its failure
    /// no verdict, whatever its exit code.
    VerifyNoRoom = 95,
        "verification stage: not enough room for the download or the verified copy (before it ran, or the file system filled while it wrote, or the server sent more than the room)";
    /// The bound is the room checked beforehand: the update's size and a margin.
    VerifyTooLarge = 96,
        "verification stage: the program wrote as much as its bound and was stopped there";
    VerifyUserShared = 97,
        "verification stage: its user is not its own (root, or another process runs as it and could take the program's descriptors)";
    ExecFailed = 126, "swupdate could not be executed (permission, format)";
    ExecNotFound = 127, "swupdate not found";
}

/// The rows around the launcher's own codes: what 0 means, and the codes that are swupdate's.
const SUCCESS: (&str, &str) = (
    "0",
    "check, explain or --print-argv succeeded (run does not return: swupdate replaces it, and its status is the unit's)",
);
const SWUPDATES_OWN: (&str, &str) = (
    "1, 2",
    "never the launcher's: swupdate's own (1 failure, 2 IPC socket)",
);

/// Every row of the list, in order: code and meaning (also the man page's EXIT STATUS).
pub fn exit_code_rows() -> impl Iterator<Item = (String, &'static str)> {
    std::iter::once((SUCCESS.0.to_string(), SUCCESS.1))
        .chain(
            Kind::ALL
                .iter()
                .map(|k| (k.exit_code().to_string(), k.doc())),
        )
        .chain(std::iter::once((
            SWUPDATES_OWN.0.to_string(),
            SWUPDATES_OWN.1,
        )))
}

/// The exit codes, as `--help` lists them.
pub fn exit_codes_text() -> String {
    let mut out = String::from("Exit codes:\n");
    for (code, doc) in exit_code_rows() {
        out.push_str(&format!("  {code:<4} {doc}\n"));
    }
    out
}

/// `docs/exit-codes.md`: the table, with each kind's name in the code.
pub fn exit_codes_markdown() -> String {
    let mut out = String::from(
        "# Exit codes\n\n\
         <!-- Generated from the `kinds!` list in src/error.rs by tests/generated_docs.rs; \
         do not edit. Rewrite it with: SWUPDATE_LAUNCHER_BLESS=1 cargo test --test integration generated_docs -->\n\n\
         What `swupdate-launcher` exits with when it does not exec swupdate. The codes are an \
         interface (the agent and the units read them): a number never changes meaning. Under \
         systemd the code is `ExecMainStatus` and the reason is in `StatusText` and the journal \
         (`EXIT_CODE=` field); see [handoff.md](handoff.md).\n\n\
         | code | kind | meaning |\n|---:|---|---|\n",
    );
    let cell = |s: &str| s.replace('|', "\\|");
    out.push_str(&format!("| {} | | {} |\n", SUCCESS.0, cell(SUCCESS.1)));
    for k in Kind::ALL {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            k.exit_code(),
            k.name(),
            cell(k.doc())
        ));
    }
    out.push_str(&format!(
        "| {} | | {} |\n",
        SWUPDATES_OWN.0,
        cell(SWUPDATES_OWN.1)
    ));
    out
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
    /// The file or directory the refusal is about, when no line of it is: the update file, the
    /// key, the swupdate binary, a medium, an unreadable configuration directory. Any file, not
    /// only configuration (the journal's `FILE=`, not `CONFIG_FILE=`).
    pub file: Option<PathBuf>,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            location: None,
            file: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(Box::new(location));
        self
    }

    /// The file (or directory) the refusal is about.
    pub fn on(mut self, path: &Path) -> Self {
        self.file = Some(path.to_path_buf());
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
        let text = match (&self.location, &self.file) {
            (Some(l), _) => format!("{l}: {}", self.message),
            (None, Some(p)) => format!("{}: {}", p.display(), self.message),
            (None, None) => self.message.clone(),
        };
        printable(&text)
    }
}

/// One line a terminal, the journal and `STATUS=` show as it is: control characters (a line
/// break, an escape sequence in a file name the agent chose) are written as escapes.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
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

    #[test]
    fn a_file_name_with_control_characters_is_shown_escaped() {
        let e = Error::new(Kind::Io, "refusing it").on(Path::new("/etc/swupdate/conf.d/x\n\u{1b}[2Jy"));
        assert_eq!(e.summary(), "/etc/swupdate/conf.d/x\\n\\u{1b}[2Jy: refusing it");
        assert!(!e.to_string().lines().next().unwrap_or_default().contains('\u{1b}'));
    }

    #[test]
    fn exit_codes_are_distinct_and_never_swupdates_own() {
        let all = Kind::ALL;
        let codes: Vec<u8> = all.iter().map(|k| k.exit_code()).collect();
        for (i, c) in codes.iter().enumerate() {
            assert!(*c > 2, "{c} collides with swupdate's own codes");
            assert!(!codes[i + 1..].contains(c), "{c} used twice");
        }
    }

    #[test]
    fn every_exit_code_is_in_the_help_text() {
        let text = exit_codes_text();
        for k in Kind::ALL {
            let c = k.exit_code().to_string();
            assert!(
                text.lines()
                    .any(|l| l.split(|ch: char| !ch.is_ascii_digit()).any(|w| w == c)),
                "{k:?} ({c}) is not in the help's exit codes"
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
