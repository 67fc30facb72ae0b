//! What the two configuration parsers share: the assignments they return, positions, syntax
//! errors, UTF-8 decoding with a position, and a character cursor that knows its line and
//! column. Pure: it reads bytes it is given, nothing else.

/// One `NAME=value` assignment, in the order the file makes it (later ones win when applied
/// in order); both formats produce these, so what is applied does not depend on which parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: String,
    pub line: usize,
    /// Behind `export` (or named by a later `export NAME` of the same file): a shell would
    /// hand it to every program it starts. Never in an EnvironmentFile.
    pub exported: bool,
    /// The variables the value expanded, each with the value it saw, in order (a fragment's
    /// `SWUPDATE_ARGS="-v ${SWUPDATE_EXTRA_ARGS}"` holds the extra options' words already).
    pub expanded: Vec<(String, String)>,
}

/// A syntax error inside one file; the caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl SyntaxError {
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        SyntaxError {
            line: pos.line,
            column: pos.column,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// Decodes a whole file, or says where the first invalid byte is: both file formats are
/// UTF-8 only, and a half-decoded file must not be half-applied.
pub fn decode_utf8(bytes: &[u8]) -> Result<&str, SyntaxError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = &bytes[..e.valid_up_to()];
        // The valid prefix decodes, so counting its characters is exact.
        let text = std::str::from_utf8(good).unwrap_or_default();
        let line = text.matches('\n').count() + 1;
        let column = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SyntaxError::new(
            Pos { line, column },
            format!(
                "invalid UTF-8 (byte 0x{:02x}); the file must be UTF-8",
                bytes[e.valid_up_to()]
            ),
        )
    })
}

/// Refuses what neither file format can hold and what a message would show as nothing: a
/// byte order mark (an editor's, invisible; sh and systemd take it as part of the first name)
/// and a NUL byte (systemd stops reading the file there, dash drops it).
pub fn check_text(bytes: &[u8], _quote: bool) -> Result<(), SyntaxError> {
    if bytes.starts_with(b"\xef\xbb\xbf") {
        return Err(SyntaxError::new(
            Pos { line: 1, column: 1 },
            "the file starts with a UTF-8 byte order mark (bytes ef bb bf, invisible in an editor)",
        )
        .hint(
            "save the file without a BOM; sh and systemd would take it as part of the first name",
        ));
    }
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        let before = &bytes[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        return Err(SyntaxError::new(Pos { line, column }, "a NUL byte")
            .hint("configuration is text: systemd stops reading at a NUL, sh drops it"));
    }
    Ok(())
}

impl SyntaxError {
    /// The same error without any byte of the file in its message.
    pub fn unquoted(mut self) -> Self {
        if self.message.starts_with("invalid UTF-8") {
            self.message = "invalid UTF-8; the file must be UTF-8".to_string();
        }
        // Whatever a message quotes stands between backticks.
        let mut out = String::new();
        for (i, part) in self.message.split('`').enumerate() {
            out.push_str(if i % 2 == 1 { "…" } else { part });
        }
        self.message = out;
        self
    }
}

/// A peekable character stream over a string that tracks the position of the next character.
#[derive(Clone)]
pub struct Cursor<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    at: usize,
    pos: Pos,
    /// A CR not followed by LF starts a new line (systemd's EnvironmentFile rules).
    cr_newline: bool,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Self {
        Cursor {
            text,
            at: 0,
            pos: Pos { line: 1, column: 1 },
            cr_newline: false,
        }
    }

    /// Counts a lone CR as a line end for positions.
    pub fn cr_ends_lines(mut self) -> Self {
        self.cr_newline = true;
        self
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.at..).unwrap_or_default()
    }

    /// Position of the next character (or of the end of input).
    pub fn pos(&self) -> Pos {
        self.pos
    }

    pub fn peek(&self) -> Option<char> {
        // Configuration is ASCII but for its values: one byte, decoded only when it is not.
        match self.text.as_bytes().get(self.at) {
            Some(&b) if b.is_ascii() => Some(char::from(b)),
            Some(_) => self.rest().chars().next(),
            None => None,
        }
    }

    /// The character after the next one, without consuming anything.
    pub fn peek2(&self) -> Option<char> {
        let mut it = self.rest().chars();
        it.next();
        it.next()
    }

    pub fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += c.len_utf8();
        if c == '\n' || (c == '\r' && self.cr_newline && self.peek() != Some('\n')) {
            self.pos.line += 1;
            self.pos.column = 1;
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    /// Consumes the next character if it is `c`.
    pub fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Consumes the longest run of characters on this line for which `keep` holds, and returns
    /// it as one slice (the parsers' common case, without a push per character).
    pub fn run_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let rest = self.rest();
        let (mut end, mut chars) = (0, 0);
        // Byte by byte while ASCII: no decoding, and the count of characters on the way.
        while let Some(&b) = rest.as_bytes().get(end) {
            let c = if b.is_ascii() {
                char::from(b)
            } else {
                match rest.get(end..).and_then(|r| r.chars().next()) {
                    Some(c) => c,
                    None => break,
                }
            };
            if c == '\n' || !keep(c) {
                break;
            }
            end += c.len_utf8();
            chars += 1;
        }
        self.at += end;
        self.pos.column += chars;
        rest.get(..end).unwrap_or_default()
    }

    /// The rest of the current line, without consuming it (for error messages).
    pub fn rest_of_line(&self) -> String {
        self.rest()
            .split('\n')
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// Text of a file as a message may show it: characters a terminal or the journal would not
/// show (controls, a byte order mark, zero-width and bidirectional marks) are written as
/// `\u{…}`, so what is quoted is what is there.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{feff}' | '\u{00ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}');
        if hidden {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A portable shell variable name: what both sh and systemd accept.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

pub fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

pub fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_located_by_line_and_column() {
        let e = decode_utf8(b"A=1\nB\xc3\xa9=\xff").unwrap_err();
        assert_eq!((e.line, e.column), (2, 4));
        assert!(e.message.contains("0xff"), "{}", e.message);
    }

    #[test]
    fn invisible_characters_are_shown_as_escapes() {
        assert_eq!(
            visible("a\u{feff}b\u{202e}c\td"),
            "a\\u{feff}b\\u{202e}c\\u{0009}d"
        );
        assert_eq!(visible("é ok"), "é ok");
    }

    #[test]
    fn valid_utf8_decodes() {
        assert_eq!(decode_utf8("é".as_bytes()).unwrap(), "é");
    }

    #[test]
    fn cursor_tracks_lines_and_columns() {
        let mut c = Cursor::new("ab\ncd");
        c.bump();
        c.bump();
        assert_eq!(c.pos(), Pos { line: 1, column: 3 });
        c.bump();
        assert_eq!(c.pos(), Pos { line: 2, column: 1 });
        assert_eq!(c.peek2(), Some('d'));
        assert_eq!(c.rest_of_line(), "cd");
    }

    #[test]
    fn runs_stop_at_the_first_other_character_or_the_line_end() {
        let mut c = Cursor::new("abé1-x\nyz");
        assert_eq!(c.run_while(|c| c.is_alphanumeric()), "abé1");
        assert_eq!(c.pos(), Pos { line: 1, column: 5 });
        assert_eq!(c.peek(), Some('-'));
        c.bump();
        assert_eq!(c.run_while(|_| true), "x");
        assert_eq!(c.peek(), Some('\n'));
    }

    #[test]
    fn names_follow_the_shell_rules() {
        assert!(is_valid_name("_A1"));
        assert!(!is_valid_name("1A"));
        assert!(!is_valid_name("A-B"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("É"));
    }
}
