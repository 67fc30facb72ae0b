//! Just enough of libconfig (the format of swupdate's configuration file) to read one setting
//! by its path, as swupdate's `config_lookup` would: `download.cafile` is the `cafile` of the
//! root group `download`, not a `cafile` of another section, not `mycafile`, not one in a
//! comment or inside a string.
//!
//! The grammar (libconfig's manual, "Configuration Files"): a file is a list of settings
//! `name = value` or `name : value`, each ended by an optional `;` or `,`; a value is a scalar
//! (a string, adjacent strings concatenated, a number, a boolean), an array `[ … ]`, a list
//! `( … )` or a group `{ settings }`. Comments are `#` and `//` to the end of the line and
//! `/* … */`. `@include "file"` lines are skipped (the launcher does not follow them; neither
//! setting it looks for belongs in an included file in swupdate's own examples). A setting
//! name appearing twice in one group is an error, as in libconfig. Nesting is bounded, so no
//! input can drive the recursion to a stack overflow.

/// Why the text is not libconfig, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Deeper nesting than this is refused (libconfig itself has no limit; real files nest 3).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    /// A number or boolean, as written.
    Scalar(String),
    Punct(char),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Scalar(String),
    Group(Vec<(String, Value)>),
    /// An array or a list.
    List(Vec<Value>),
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        line,
        message: message.into(),
    }
}

fn tokens(text: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_ascii_whitespace() => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let start = line;
                i += 2;
                loop {
                    match b.get(i) {
                        None => return Err(err(start, "unterminated /* comment")),
                        Some(b'*') if b.get(i + 1) == Some(&b'/') => {
                            i += 2;
                            break;
                        }
                        Some(b'\n') => {
                            line += 1;
                            i += 1;
                        }
                        Some(_) => i += 1,
                    }
                }
            }
            b'@' => {
                // `@include "file"`: the directive and its string.
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None | Some(b'\n') => return Err(err(line, "unterminated string")),
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(b'\\') => {
                            let e = b.get(i + 1).copied();
                            i += 2;
                            match e {
                                Some(b'n') => s.push(b'\n'),
                                Some(b't') => s.push(b'\t'),
                                Some(b'r') => s.push(b'\r'),
                                Some(b'f') => s.push(0x0c),
                                Some(b'\\') => s.push(b'\\'),
                                Some(b'"') => s.push(b'"'),
                                Some(b'x') => {
                                    let hex = text
                                        .get(i..i + 2)
                                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                                        .ok_or_else(|| err(line, "bad \\x escape"))?;
                                    s.push(hex);
                                    i += 2;
                                }
                                _ => return Err(err(line, "unknown escape in a string")),
                            }
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                let s = String::from_utf8(s).map_err(|_| err(line, "a string is not UTF-8"))?;
                // Adjacent strings are one: "a" "b" is "ab".
                match out.last_mut() {
                    Some((Tok::Str(prev), _)) => prev.push_str(&s),
                    _ => out.push((Tok::Str(s), line)),
                }
            }
            b'=' | b':' | b';' | b',' | b'{' | b'}' | b'[' | b']' | b'(' | b')' => {
                out.push((Tok::Punct(c as char), line));
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'*' => {
                let start = i;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'-' | b'_' | b'*'))
                {
                    i += 1;
                }
                let word = &text[start..i];
                let tok = if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false")
                {
                    Tok::Scalar(word.to_string())
                } else {
                    Tok::Name(word.to_string())
                };
                out.push((tok, line));
            }
            c if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.') => {
                let start = i;
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'.' | b'-' | b'+'))
                {
                    i += 1;
                }
                out.push((Tok::Scalar(text[start..i].to_string()), line));
            }
            _ => {
                let ch = text[i..].chars().next().unwrap_or('?');
                return Err(err(line, format!("unexpected `{ch}`")));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }

    fn line(&self) -> usize {
        self.toks
            .get(self.at)
            .or_else(|| self.toks.last())
            .map_or(1, |(_, l)| *l)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|(t, _)| t.clone());
        self.at += 1;
        t
    }

    /// Settings up to `end` (`}`), or to the end of the text at the top.
    fn settings(
        &mut self,
        end: Option<char>,
        depth: usize,
    ) -> Result<Vec<(String, Value)>, ParseError> {
        let mut out: Vec<(String, Value)> = Vec::new();
        loop {
            match (self.peek(), end) {
                (None, None) => return Ok(out),
                (None, Some(_)) => return Err(err(self.line(), "a group is not closed")),
                (Some(Tok::Punct(c)), Some(e)) if *c == e => {
                    self.at += 1;
                    return Ok(out);
                }
                _ => {}
            }
            let line = self.line();
            let name = match self.next() {
                Some(Tok::Name(n)) => n,
                _ => return Err(err(line, "a setting name was expected")),
            };
            match self.next() {
                Some(Tok::Punct('=' | ':')) => {}
                _ => return Err(err(line, format!("`=` or `:` was expected after `{name}`"))),
            }
            let value = self.value(depth)?;
            if matches!(self.peek(), Some(Tok::Punct(';' | ','))) {
                self.at += 1;
            }
            if out.iter().any(|(n, _)| *n == name) {
                return Err(err(line, format!("the setting `{name}` appears twice")));
            }
            out.push((name, value));
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, ParseError> {
        if depth >= MAX_DEPTH {
            return Err(err(self.line(), "nested too deeply"));
        }
        let line = self.line();
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::Str(s)),
            Some(Tok::Scalar(s)) => Ok(Value::Scalar(s)),
            Some(Tok::Punct('{')) => Ok(Value::Group(self.settings(Some('}'), depth + 1)?)),
            Some(Tok::Punct(open @ ('[' | '('))) => {
                let close = if open == '[' { ']' } else { ')' };
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(&Tok::Punct(close)) {
                        self.at += 1;
                        return Ok(Value::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                    match self.next() {
                        Some(Tok::Punct(',')) => {}
                        Some(Tok::Punct(c)) if c == close => return Ok(Value::List(items)),
                        _ => {
                            return Err(err(self.line(), format!("`,` or `{close}` was expected")));
                        }
                    }
                }
            }
            _ => Err(err(line, "a value was expected")),
        }
    }
}

/// Parses a whole libconfig text into its root group.
pub fn parse(text: &str) -> Result<Vec<(String, Value)>, ParseError> {
    let mut p = Parser {
        toks: tokens(text)?,
        at: 0,
    };
    p.settings(None, 0)
}

/// The setting at `path` (group names, then the setting's name), if the text has it.
pub fn lookup<'a>(root: &'a [(String, Value)], path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let v = root.iter().find(|(n, _)| n == first).map(|(_, v)| v)?;
    if rest.is_empty() {
        return Some(v);
    }
    match v {
        Value::Group(g) => lookup(g, rest),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_at(text: &str, path: &[&str]) -> Option<String> {
        match lookup(&parse(text).unwrap(), path) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    const CFG: &str = "globals: { verbose = true; loglevel = 5; };\n\
        suricatta: { cafile = \"/suricatta.pem\"; };\n\
        download: {\n  retries = 3;\n  mycafile = \"/my.pem\";\n  cafile = \"/etc/ssl/a.pem\";\n};\n";

    #[test]
    fn the_download_sections_cafile_is_found() {
        assert_eq!(
            string_at(CFG, &["download", "cafile"]).as_deref(),
            Some("/etc/ssl/a.pem")
        );
    }

    #[test]
    fn another_sections_cafile_is_not_the_downloads() {
        let t = "suricatta: { cafile = \"/s.pem\"; };\ndownload: { retries = 3; };\n";
        assert_eq!(string_at(t, &["download", "cafile"]), None);
    }

    #[test]
    fn a_name_that_merely_ends_in_cafile_is_not_cafile() {
        let t = "download: { mycafile = \"/my.pem\"; };\n";
        assert_eq!(string_at(t, &["download", "cafile"]), None);
    }

    #[test]
    fn comments_of_every_kind_hide_settings() {
        let t = "download: {\n # cafile = \"/a\";\n // cafile = \"/b\";\n /* cafile = \"/c\";\n */ retries = 1;\n};\n";
        assert_eq!(string_at(t, &["download", "cafile"]), None);
    }

    #[test]
    fn a_cafile_inside_a_string_is_text() {
        let t = "download: { url = \"x; cafile = \\\"/evil\\\"\"; };\n";
        assert_eq!(string_at(t, &["download", "cafile"]), None);
    }

    #[test]
    fn a_nested_group_named_download_is_not_the_section() {
        let t = "other: { download: { cafile = \"/n.pem\"; }; };\n";
        assert_eq!(string_at(t, &["download", "cafile"]), None);
    }

    #[test]
    fn adjacent_strings_and_escapes_are_one_value() {
        let t = "download: { cafile = \"/etc/\" \"ssl/\\x61.pem\"; };";
        assert_eq!(
            string_at(t, &["download", "cafile"]).as_deref(),
            Some("/etc/ssl/a.pem")
        );
    }

    #[test]
    fn lists_arrays_and_colons_parse() {
        let t = "identify = ( { name = \"board\"; value = \"x\"; } );\nlist = [1, 2, 0x10];\ndownload : { cafile : \"/c.pem\" }";
        assert_eq!(
            string_at(t, &["download", "cafile"]).as_deref(),
            Some("/c.pem")
        );
    }

    #[test]
    fn a_duplicate_setting_is_an_error_with_its_line() {
        let e = parse("download: {};\ndownload: {};\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("twice"), "{e}");
    }

    #[test]
    fn an_unclosed_group_is_an_error() {
        assert!(parse("download: { cafile = \"/x\";\n").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let t = format!("a = {}{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&t).unwrap_err().message.contains("nested too deeply"));
    }
}
