//! swupdate's own configuration file (`-f`, else `/etc/swupdate.cfg`), libconfig syntax, read as
//! far as the launcher must know it: `globals` (`digest-provider`), `download` (`cafile`),
//! `suricatta` (`tenant`, `id`, `url`, tokens) and the `update-types` list of 2025.12+, whose
//! floors decide anti-rollback for an `.swu` that declares its type.
//!
//! The file is the image's (never the agent's); still, the reader is bounded: the caller reads at
//! most [`MAX_LEN`] bytes and nesting deeper than [`MAX_DEPTH`] is an error, never a stack
//! overflow.
//!
//! Pure: the text and the reader of `@include`d files are the caller's ([`crate::compat`] reads
//! them from the device).

/// Longest configuration file read.
pub const MAX_LEN: usize = 1 << 20;
/// Deepest nesting of groups and lists.
pub const MAX_DEPTH: usize = 32;
/// Deepest chain of `@include` files (libconfig's own limit is 10).
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Reads the text of an `@include`d file (a device path, as written). The parser stays pure: the
/// caller decides where a device path is on the host and how much of it is read.
pub type Include<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// A libconfig value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    /// A number or boolean, as written.
    Scalar(String),
    Group(Vec<(String, Value)>),
    List(Vec<Value>),
}

impl Value {
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Group(g) => g.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }
}

/// One entry of `update-types`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateType {
    pub name: String,
    pub no_downgrading: Option<String>,
    pub no_reinstalling: Option<String>,
    pub max_version: Option<String>,
}

/// The parsed file: its top-level group.
#[derive(Debug, Clone, PartialEq)]
pub struct Config(pub Value);

impl Config {
    /// A file whose `@include` directives are refused (no reader for them): the tests' reader.
    #[cfg(test)]
    pub fn parse(text: &str) -> Result<Config, String> {
        Self::parse_with(text, &|path| {
            Err(format!("@include \"{path}\" cannot be followed here"))
        })
    }

    /// A file whose `@include "path"` directives are replaced by the settings of the file
    /// `include` returns, as libconfig does (products keep tokens in a separate, root-only file
    /// that swupdate.cfg includes).
    pub fn parse_with(text: &str, include: Include) -> Result<Config, String> {
        let settings = Parser::new(text, include, 0).settings(0, None)?;
        Ok(Config(Value::Group(settings)))
    }

    /// `section.name` when it is a string.
    pub fn string(&self, section: &str, name: &str) -> Option<&str> {
        self.0.get(section)?.str(name)
    }

    /// The `update-types` entries with a name, as swupdate registers them (a duplicate name
    /// is ignored, as swupdate does).
    pub fn update_types(&self) -> Vec<UpdateType> {
        let Some(Value::List(items)) = self.0.get("update-types") else {
            return Vec::new();
        };
        let mut out: Vec<UpdateType> = Vec::new();
        for item in items {
            let Some(name) = item.str("name") else {
                continue;
            };
            if out.iter().any(|t| t.name == name) {
                continue;
            }
            out.push(UpdateType {
                name: name.to_string(),
                no_downgrading: item.str("no-downgrading").map(str::to_string),
                no_reinstalling: item.str("no-reinstalling").map(str::to_string),
                max_version: item.str("max-version").map(str::to_string),
            });
        }
        out
    }
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    include: Include<'a>,
    /// How many `@include` files deep this text is.
    included: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, include: Include<'a>, included: usize) -> Self {
        Parser {
            s: text.as_bytes(),
            at: 0,
            include,
            included,
        }
    }

    /// `@include "path"`: the included file's settings, in place.
    fn included_settings(&mut self, depth: usize) -> Result<Vec<(String, Value)>, String> {
        self.at += "@include".len();
        let Some(b'"') = self.peek() else {
            return Err(self.err("@include is not followed by a file name in quotes"));
        };
        let Value::Str(path) = self.value(depth)? else {
            return Err(self.err("@include is not followed by a file name in quotes"));
        };
        if self.included >= MAX_INCLUDE_DEPTH {
            return Err(self.err(&format!(
                "@include \"{path}\": more than {MAX_INCLUDE_DEPTH} files deep"
            )));
        }
        let text = (self.include)(&path).map_err(|e| self.err(&e))?;
        Parser::new(&text, self.include, self.included + 1)
            .settings(depth, None)
            .map_err(|e| format!("{} (in @include \"{path}\")", self.err(&e)))
    }
    fn err(&self, what: &str) -> String {
        let line = self.s[..self.at.min(self.s.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!("line {line}: {what}")
    }

    fn skip(&mut self) {
        loop {
            while self.at < self.s.len() && self.s[self.at].is_ascii_whitespace() {
                self.at += 1;
            }
            let rest = &self.s[self.at..];
            if rest.starts_with(b"#") || rest.starts_with(b"//") {
                while self.at < self.s.len() && self.s[self.at] != b'\n' {
                    self.at += 1;
                }
            } else if rest.starts_with(b"/*") {
                match rest[2..].windows(2).position(|w| w == b"*/") {
                    Some(end) => self.at += 2 + end + 2,
                    None => self.at = self.s.len(),
                }
            } else {
                return;
            }
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip();
        self.s.get(self.at).copied()
    }

    /// Settings up to `close` (or the end of the file at the top).
    fn settings(
        &mut self,
        depth: usize,
        close: Option<u8>,
    ) -> Result<Vec<(String, Value)>, String> {
        let mut out = Vec::new();
        loop {
            match (self.peek(), close) {
                (None, None) => return Ok(out),
                (None, Some(_)) => return Err(self.err("the file ends inside a group")),
                (Some(c), Some(cl)) if c == cl => {
                    self.at += 1;
                    return Ok(out);
                }
                _ => {}
            }
            if self.s[self.at..].starts_with(b"@include") {
                out.extend(self.included_settings(depth)?);
                continue;
            }
            let start = self.at;
            while self.at < self.s.len()
                && (self.s[self.at].is_ascii_alphanumeric() || b"-_*".contains(&self.s[self.at]))
            {
                self.at += 1;
            }
            if start == self.at {
                return Err(self.err("a setting name was expected"));
            }
            let name = String::from_utf8_lossy(&self.s[start..self.at]).into_owned();
            match self.peek() {
                Some(b'=' | b':') => self.at += 1,
                _ => return Err(self.err(&format!("`{name}` is not followed by = or :"))),
            }
            let v = self.value(depth)?;
            if let Some(b';' | b',') = self.peek() {
                self.at += 1;
            }
            out.push((name, v));
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth >= MAX_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => {
                self.at += 1;
                Ok(Value::Group(self.settings(depth + 1, Some(b'}'))?))
            }
            Some(c @ (b'(' | b'[')) => {
                self.at += 1;
                let close = if c == b'(' { b')' } else { b']' };
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.at += 1;
                        return Ok(Value::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(c) if c == close => {}
                        _ => return Err(self.err("a list item is not followed by , or its end")),
                    }
                }
            }
            Some(b'"') => {
                let mut s = Vec::new();
                // Adjacent strings are one string.
                while self.peek() == Some(b'"') {
                    self.at += 1;
                    loop {
                        match self.s.get(self.at) {
                            None => return Err(self.err("unterminated string")),
                            Some(b'"') => {
                                self.at += 1;
                                break;
                            }
                            Some(b'\\') => {
                                let e = self.s.get(self.at + 1).copied();
                                s.push(match e {
                                    Some(b'n') => b'\n',
                                    Some(b't') => b'\t',
                                    Some(b'r') => b'\r',
                                    Some(b'f') => 0x0c,
                                    Some(other) => other,
                                    None => return Err(self.err("unterminated string")),
                                });
                                self.at += 2;
                            }
                            Some(b) => {
                                s.push(*b);
                                self.at += 1;
                            }
                        }
                    }
                }
                Ok(Value::Str(String::from_utf8_lossy(&s).into_owned()))
            }
            Some(_) => {
                let start = self.at;
                while self.at < self.s.len()
                    && (self.s[self.at].is_ascii_alphanumeric()
                        || b"+-._".contains(&self.s[self.at]))
                {
                    self.at += 1;
                }
                if start == self.at {
                    return Err(self.err("a value was expected"));
                }
                Ok(Value::Scalar(
                    String::from_utf8_lossy(&self.s[start..self.at]).into_owned(),
                ))
            }
            None => Err(self.err("the file ends where a value was expected")),
        }
    }
}

/// swupdate's order of versions, as far as releases are written: dotted parts compared as
/// numbers when both are numbers, else as text.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<String> { s.split(['.', '-', '+']).map(str::to_string).collect() };
    let (pa, pb) = (parts(a), parts(b));
    for i in 0..pa.len().max(pb.len()) {
        let x = pa.get(i).map_or("0", String::as_str);
        let y = pb.get(i).map_or("0", String::as_str);
        let o = match (x.parse::<u64>(), y.parse::<u64>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
# swupdate's example, shortened
globals: {
    verbose = true;
    loglevel = 5;
    digest-provider = "opensslCMS";
};
download: { retries = 3; cafile = "/etc/ssl/a.pem"; };
/* a block
   comment */
suricatta: { tenant = "DEFAULT"; id = "dev01"; url = "http://h:8080"; targettoken = "s3cr" "et"; };
update-types: (
    { name = "OS"; no-downgrading = "5.0"; max-version = "8.99"; },
    { name = "Application"; postupdatecmd = "/bin/true"; },
    { name = "OS"; no-downgrading = "0.1"; }
);
"#;

    #[test]
    fn settings_are_found_by_section_and_name() {
        let c = Config::parse(EXAMPLE).unwrap();
        assert_eq!(c.string("globals", "digest-provider"), Some("opensslCMS"));
        assert_eq!(c.string("download", "cafile"), Some("/etc/ssl/a.pem"));
        assert_eq!(c.string("suricatta", "id"), Some("dev01"));
    }

    #[test]
    fn adjacent_strings_are_one_string() {
        let c = Config::parse(EXAMPLE).unwrap();
        assert_eq!(c.string("suricatta", "targettoken"), Some("s3cret"));
    }

    #[test]
    fn update_types_are_listed_with_their_limits_first_name_wins() {
        let t = Config::parse(EXAMPLE).unwrap().update_types();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].name, "OS");
        assert_eq!(t[0].no_downgrading.as_deref(), Some("5.0"));
        assert_eq!(t[0].max_version.as_deref(), Some("8.99"));
        assert_eq!(t[1].name, "Application");
        assert_eq!(t[1].no_downgrading, None);
    }

    #[test]
    fn a_setting_in_another_section_is_not_found() {
        let c = Config::parse("suricatta: { cafile = \"/x\"; };").unwrap();
        assert_eq!(c.string("download", "cafile"), None);
    }

    #[test]
    fn a_name_that_contains_another_is_not_it() {
        let c = Config::parse("download: { mycafile = \"/x\"; };").unwrap();
        assert_eq!(c.string("download", "cafile"), None);
    }

    #[test]
    fn commented_settings_are_not_settings() {
        let c =
            Config::parse("download: {\n # cafile = \"/old\";\n // cafile = \"/x\";\n};").unwrap();
        assert_eq!(c.string("download", "cafile"), None);
    }

    #[test]
    fn an_include_brings_its_settings_into_the_group_it_stands_in() {
        let text = "suricatta: {\n  tenant = \"DEFAULT\";\n  @include \"/etc/swupdate/identity.cfg\"\n};\n";
        let c = Config::parse_with(text, &|p| {
            assert_eq!(p, "/etc/swupdate/identity.cfg");
            Ok("id = \"dev1\";\ntargettoken = \"t\";\n".into())
        })
        .unwrap();
        assert_eq!(c.string("suricatta", "tenant"), Some("DEFAULT"));
        assert_eq!(c.string("suricatta", "id"), Some("dev1"));
    }

    #[test]
    fn an_include_that_includes_itself_is_an_error_not_a_stack_overflow() {
        let text = "@include \"/self.cfg\"\n";
        let e = Config::parse_with(text, &|_| Ok(text.to_string())).unwrap_err();
        assert!(e.contains("files deep"), "{e}");
    }

    #[test]
    fn an_include_without_a_reader_is_an_error() {
        let e = Config::parse("@include \"/x.cfg\"\n").unwrap_err();
        assert!(e.contains("@include"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = format!("a = {}{};", "(".repeat(100_000), ")".repeat(100_000));
        assert!(
            Config::parse(&text)
                .unwrap_err()
                .contains("nested too deeply")
        );
    }

    #[test]
    fn an_unterminated_group_is_an_error() {
        assert!(Config::parse("globals: { verbose = true;").is_err());
    }

    #[test]
    fn versions_compare_numerically_by_part() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("1.10", "1.9"), Greater);
        assert_eq!(version_cmp("1.0", "1.0.0"), Equal);
        assert_eq!(version_cmp("0.9", "1.0"), Less);
    }
}
