//! conf.d fragments: the subset of POSIX shell that `swupdate.sh` fragments use, read and
//! evaluated here, never executed.
//!
//! The fragments in the wild are shell (`SWUPDATE_WEBSERVER_ARGS="-r /www ${EXTRA}"`), so
//! assignments, quoting and simple parameter expansion must give exactly what `sh` would give.
//! Anything beyond that (a command, a substitution, an operator) cannot be evaluated without
//! running code; it is refused at its position, with what to do instead, so that swupdate is
//! never started from a half-understood configuration.
//!
//! Pure: it evaluates the bytes [`crate::config::load`] read; variables it does not assign are
//! answered by the lookup it is given.

use std::collections::HashMap;

use crate::config::syntax::{
    Cursor, Pos, SyntaxError, check_text, decode_utf8, is_name_char, is_name_start, visible,
};

/// One assignment, in the order the shell would perform it (the type both parsers return).
pub use crate::config::syntax::Assignment;

/// What a file may do, by who wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// `$NAME` and `${…}` are expanded; without, any expansion is refused (descriptor.env:
    /// its values are literals, so the agent cannot copy a secret of the image's into them).
    pub expansions: bool,
    /// Error messages may quote the file's text; without, they say what and where, never the
    /// bytes (a file whose content the reader of the journal or STATUS= may not see).
    pub quote: bool,
}

impl Rules {
    /// The image's fragments.
    pub const IMAGE: Rules = Rules {
        expansions: true,
        quote: true,
    };
    /// The agent's descriptor.env.
    pub const AGENT: Rules = Rules {
        expansions: false,
        quote: false,
    };
}

/// Bounds that hold for every fragment, whoever wrote it: no input may make the launcher use
/// unbounded memory, time or stack (`A=$A$A` doubles per line; nested `${A:-` recurses).
pub mod limits {
    /// Nested `${…}` (and the quotes inside them) per word.
    pub const DEPTH: usize = 32;
    /// Bytes of one value.
    pub const VALUE: usize = 64 * 1024;
    /// Bytes that expansions may copy, summed over one file.
    pub const EXPANDED: usize = 1024 * 1024;
    /// Assignments in one file.
    pub const ASSIGNMENTS: usize = 10_000;
}

/// Evaluates a fragment. `lookup` answers for variables not assigned earlier in this file
/// (earlier fragments, then the environment); `None` means unset.
pub fn evaluate(
    bytes: &[u8],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Assignment>, SyntaxError> {
    evaluate_with(bytes, lookup, Rules::IMAGE)
}

/// [`evaluate`] under the given rules.
pub fn evaluate_with(
    bytes: &[u8],
    lookup: &dyn Fn(&str) -> Option<String>,
    rules: Rules,
) -> Result<Vec<Assignment>, SyntaxError> {
    check_text(bytes, rules.quote)?;
    let text = decode_utf8(bytes).map_err(|e| if rules.quote { e } else { e.unquoted() })?;
    let mut p = Parser {
        cur: Cursor::new(text),
        lookup,
        out: Vec::new(),
        latest: HashMap::new(),
        rules,
        depth: 0,
        expanded: 0,
        seen: Vec::new(),
    };
    p.script()?;
    Ok(p.out)
}

/// Where a word is being read; decides what ends it and what quotes mean.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// An assignment value: ends at a blank, a newline or an operator.
    Value,
    /// The default word of `${NAME:-word}`: ends at `}`; `in_quotes` when the `${` itself
    /// stands inside double quotes, where single quotes are literal.
    Braced { in_quotes: bool },
}

/// `${NAME-word}` (unset) or `${NAME:-word}` (unset or empty).
#[derive(Clone, Copy)]
enum DefaultIf {
    Unset,
    UnsetOrEmpty,
}

struct Parser<'a, 'l> {
    cur: Cursor<'a>,
    lookup: &'l dyn Fn(&str) -> Option<String>,
    out: Vec<Assignment>,
    /// Index in `out` of each name's latest assignment: a lookup is not a scan.
    latest: HashMap<String, usize>,
    rules: Rules,
    /// `${` nesting of the word being read.
    depth: usize,
    /// Bytes copied by expansions so far.
    expanded: usize,
    /// The variables the word being read expanded, with the values they had.
    seen: Vec<(String, String)>,
}

const OPERATORS: &[char] = &[';', '&', '|', '<', '>', '(', ')'];

impl Parser<'_, '_> {
    fn script(&mut self) -> Result<(), SyntaxError> {
        loop {
            self.skip_blanks();
            match self.cur.peek() {
                None => return Ok(()),
                Some('\n') => {
                    self.cur.bump();
                }
                Some('#') => self.skip_comment(),
                Some(_) => self.statement()?,
            }
        }
    }

    /// Spaces, tabs and backslash-newline continuations.
    fn skip_blanks(&mut self) {
        loop {
            match self.cur.peek() {
                Some(' ' | '\t') => {
                    self.cur.bump();
                }
                Some('\\') if self.cur.peek2() == Some('\n') => {
                    self.cur.bump();
                    self.cur.bump();
                }
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        self.cur.run_while(|_| true);
    }

    /// A simple command made only of assignments, optionally behind `export`.
    fn statement(&mut self) -> Result<(), SyntaxError> {
        let export = self.peek_word_is("export");
        if !export {
            return self.assignments(None);
        }
        for _ in 0.."export".len() {
            self.cur.bump();
        }
        // `export` is a command: sh expands all its words before it assigns any of them, so
        // `export A=1 B=$A` gives B the value A had before the line.
        let mut pending = Vec::new();
        self.assignments(Some(&mut pending))?;
        for a in pending {
            self.record(a);
        }
        Ok(())
    }

    /// The assignments of one line; with `export` they are collected in `pending`.
    fn assignments(
        &mut self,
        mut pending: Option<&mut Vec<Assignment>>,
    ) -> Result<(), SyntaxError> {
        // Kept to quote the line in an error; the text itself is built only then.
        let line_start = self.cur.clone();
        let export = pending.is_some();
        let mut first = !export;
        loop {
            self.skip_blanks();
            match self.cur.peek() {
                None => return Ok(()),
                Some('\n') => {
                    self.cur.bump();
                    return Ok(());
                }
                Some('#') => {
                    self.skip_comment();
                    return Ok(());
                }
                Some(c) if OPERATORS.contains(&c) => return Err(self.operator_error(c)),
                Some(_) => {}
            }
            let pos = self.cur.pos();
            if let Some(name) = self.assignment_name() {
                self.seen.clear();
                let value = self.word(Ctx::Value)?;
                let a = Assignment {
                    name,
                    value,
                    line: pos.line,
                    exported: export,
                    expanded: std::mem::take(&mut self.seen),
                };
                if self.out.len() + pending.as_ref().map_or(0, |p| p.len()) >= limits::ASSIGNMENTS {
                    return Err(SyntaxError::new(
                        pos,
                        format!("more than {} assignments in one file", limits::ASSIGNMENTS),
                    ));
                }
                if a.value.len() > limits::VALUE {
                    return Err(SyntaxError::new(
                        pos,
                        format!("a value longer than {} bytes", limits::VALUE),
                    )
                    .hint("values are bounded so that no file can exhaust memory"));
                }
                match pending.as_deref_mut() {
                    Some(p) => p.push(a),
                    None => self.record(a),
                }
            } else if let Some(name) = export.then(|| self.export_name()).flatten() {
                self.export_existing(name, pos.line);
            } else if first {
                return Err(self.command_error(line_start.pos(), &line_start.rest_of_line()));
            } else {
                return Err(self.command_error(pos, &self.cur.rest_of_line()).hint(
                    "a command after assignments (`NAME=value cmd`) runs cmd; \
                     fragments are read, never executed: only NAME=value assignments are understood",
                ));
            }
            first = false;
        }
    }

    /// True when the next word is exactly `word`, followed by a blank or the end of the line.
    fn peek_word_is(&self, word: &str) -> bool {
        let mut probe = self.cur.clone();
        for w in word.chars() {
            if probe.bump() != Some(w) {
                return false;
            }
        }
        matches!(probe.peek(), None | Some(' ' | '\t' | '\n' | '#'))
    }

    /// Consumes `NAME=` and returns NAME, or consumes nothing.
    fn assignment_name(&mut self) -> Option<String> {
        let mut probe = self.cur.clone();
        let name = take_name(&mut probe)?;
        if probe.peek() != Some('=') {
            return None;
        }
        probe.bump();
        self.cur = probe;
        Some(name)
    }

    /// Consumes a bare `NAME` that ends the word (`export NAME`), or consumes nothing.
    fn export_name(&mut self) -> Option<String> {
        let mut probe = self.cur.clone();
        let name = take_name(&mut probe)?;
        if !matches!(probe.peek(), None | Some(' ' | '\t' | '\n' | '#')) {
            return None;
        }
        self.cur = probe;
        Some(name)
    }

    fn command_error(&self, pos: Pos, text: &str) -> SyntaxError {
        if self.rules.quote {
            command_error(pos, text)
        } else {
            SyntaxError::new(pos, "a command, not an assignment").hint(
                "only NAME=value assignments are understood (the text is not shown: \
                 the file may hold what the reader of this message must not see)",
            )
        }
    }

    /// `export NAME`: the variable, set earlier in this file or before it, is handed to the
    /// programs the shell starts from now on; unset, nothing is. A file whose values are
    /// literals (the agent's) never takes a value from before it this way either.
    fn export_existing(&mut self, name: String, line: usize) {
        if let Some(a) = self.latest.get(&name).and_then(|&i| self.out.get_mut(i)) {
            a.exported = true;
        } else if let Some(value) = self
            .rules
            .expansions
            .then(|| (self.lookup)(&name))
            .flatten()
        {
            self.record(Assignment {
                expanded: vec![(name.clone(), value.clone())],
                name,
                value,
                line,
                exported: true,
            });
        }
    }

    fn record(&mut self, a: Assignment) {
        self.latest.insert(a.name.clone(), self.out.len());
        self.out.push(a);
    }

    fn operator_error(&mut self, c: char) -> SyntaxError {
        let pos = self.cur.pos();
        if !self.rules.quote {
            return SyntaxError::new(pos, "an unquoted shell operator").hint(
                "fragments are read, never executed: only NAME=value assignments are understood",
            );
        }
        let what = match (c, self.cur.peek2()) {
            ('&', Some('&')) => "`&&` joins commands",
            ('|', Some('|')) => "`||` joins commands",
            ('&', _) => "`&` starts a background command",
            (';', _) => "`;` separates commands",
            ('|', _) => "`|` is a pipe",
            ('<' | '>', _) => "a redirection",
            _ => "a subshell or function",
        };
        SyntaxError::new(pos, format!("unquoted `{c}`: {what}")).hint(
            "fragments are read, never executed: only NAME=value assignments are understood; \
             quote the character if it belongs to the value",
        )
    }

    /// Reads one word, performing quote removal and parameter expansion.
    fn word(&mut self, ctx: Ctx) -> Result<String, SyntaxError> {
        let mut out = String::new();
        let mut first = true;
        // sh expands an unquoted `~` at the start of an assignment value or of a `${N:-word}`
        // outside double quotes, and after an unquoted `:` in them.
        let tilde_ctx = !matches!(ctx, Ctx::Braced { in_quotes: true });
        let mut after_colon = false;
        loop {
            if ctx == Ctx::Value && !first {
                // Plain characters stand for themselves: take them as one slice.
                let run = self.cur.run_while(is_plain);
                if !run.is_empty() {
                    after_colon = run.ends_with(':');
                }
                out.push_str(run);
            }
            let Some(c) = self.cur.peek() else { break };
            if c == '~' && tilde_ctx && (first || after_colon) {
                let pos = self.cur.pos();
                let what = if first {
                    "a leading `~` (tilde expansion)"
                } else {
                    "a `~` after `:` (tilde expansion in an assignment)"
                };
                return Err(SyntaxError::new(pos, what)
                    .hint("write the absolute path, or quote the `~` if it is literal"));
            }
            let colon = c == ':';
            let pos = self.cur.pos();
            match (c, ctx) {
                (' ' | '\t' | '\n', Ctx::Value) => break,
                (c, Ctx::Value) if OPERATORS.contains(&c) => break,
                ('}', Ctx::Braced { .. }) => break,
                ('"', _) => self.double_quoted(&mut out)?,
                ('\'', Ctx::Braced { in_quotes: true }) => {
                    self.cur.bump();
                    out.push('\'');
                }
                ('\'', _) => self.single_quoted(&mut out)?,
                ('\\', Ctx::Braced { in_quotes: true }) => {
                    self.cur.bump();
                    // Inside "${N:-…}" dash also takes `\}` as a literal `}`.
                    if self.cur.eat('}') {
                        out.push('}');
                    } else {
                        self.quoted_backslash(&mut out);
                    }
                }
                ('\\', _) => {
                    self.cur.bump();
                    match self.cur.bump() {
                        Some('\n') => {}
                        Some(e) => out.push(e),
                        None => {
                            return Err(SyntaxError::new(pos, "backslash at the end of the file"));
                        }
                    }
                }
                ('$', _) => {
                    self.cur.bump();
                    let in_quotes = matches!(ctx, Ctx::Braced { in_quotes: true });
                    let v = self.expansion(pos, in_quotes)?;
                    out.push_str(&v);
                }
                ('`', _) => return Err(backtick_error(pos)),
                ('\r', Ctx::Value) => {
                    return Err(SyntaxError::new(pos, "a carriage return")
                        .hint("the file has DOS line ends; convert it to Unix line ends (LF)"));
                }
                (c, _) => {
                    self.cur.bump();
                    out.push(c);
                }
            }
            after_colon = colon && !matches!(c, '"' | '\'');
            first = false;
        }
        Ok(out)
    }

    fn single_quoted(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        let open = self.cur.pos();
        self.cur.bump();
        loop {
            match self.cur.bump() {
                None => return Err(unterminated(open, "single quote (')")),
                Some('\'') => return Ok(()),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self, out: &mut String) -> Result<(), SyntaxError> {
        let open = self.cur.pos();
        self.cur.bump();
        loop {
            out.push_str(self.cur.run_while(|c| !matches!(c, '"' | '\\' | '$' | '`')));
            let pos = self.cur.pos();
            match self.cur.peek() {
                None => return Err(unterminated(open, "double quote (\")")),
                Some('"') => {
                    self.cur.bump();
                    return Ok(());
                }
                Some('\\') => {
                    self.cur.bump();
                    self.quoted_backslash(out);
                }
                Some('$') => {
                    self.cur.bump();
                    let v = self.expansion(pos, true)?;
                    out.push_str(&v);
                }
                Some('`') => return Err(backtick_error(pos)),
                Some(c) => {
                    self.cur.bump();
                    out.push(c);
                }
            }
        }
    }

    /// A backslash inside double quotes: it escapes only `$`, `` ` ``, `"`, `\` and newline.
    fn quoted_backslash(&mut self, out: &mut String) {
        match self.cur.peek() {
            Some(e @ ('$' | '`' | '"' | '\\')) => {
                self.cur.bump();
                out.push(e);
            }
            Some('\n') => {
                self.cur.bump();
            }
            _ => out.push('\\'),
        }
    }

    /// After a `$` at `dollar`; `in_quotes` when it stands inside double quotes.
    fn expansion(&mut self, dollar: Pos, in_quotes: bool) -> Result<String, SyntaxError> {
        if !self.rules.expansions
            && matches!(self.cur.peek(), Some(c) if c == '{' || c == '(' || is_name_start(c) || is_special_parameter(c))
        {
            return Err(SyntaxError::new(dollar, "an expansion (`$`) in a file whose values are literals")
                .hint("descriptor.env may not refer to other variables: write the URL itself (a literal `$` is written `\\$` or inside '…')"));
        }
        match self.cur.peek() {
            Some('{') => {
                self.cur.bump();
                self.braced(dollar, in_quotes)
            }
            Some('(') => Err(if self.cur.peek2() == Some('(') {
                SyntaxError::new(dollar, "arithmetic expansion `$((…))`")
                    .hint("write the computed number")
            } else {
                SyntaxError::new(dollar, "command substitution `$(…)`").hint(
                    "fragments are read, never executed: write the value itself, \
                     or have the image build write it",
                )
            }),
            Some(c) if is_name_start(c) => {
                let name = take_name(&mut self.cur).unwrap_or_default();
                let v = self.value_of(&name).unwrap_or_default();
                self.seen.push((name, v.clone()));
                self.account(dollar, v)
            }
            Some(c) if is_special_parameter(c) => Err(special_parameter_error(dollar, c)),
            // A `$` that starts no expansion is literal, as in sh.
            _ => Ok("$".to_string()),
        }
    }

    /// After `${`.
    fn braced(&mut self, dollar: Pos, in_quotes: bool) -> Result<String, SyntaxError> {
        if self.depth >= limits::DEPTH {
            return Err(SyntaxError::new(
                dollar,
                format!("`${{…}}` nested more than {} deep", limits::DEPTH),
            ));
        }
        self.depth += 1;
        let r = self.braced_inner(dollar, in_quotes);
        self.depth -= 1;
        r
    }

    /// Counts what an expansion copies against the file's budget.
    fn account(&mut self, at: Pos, v: String) -> Result<String, SyntaxError> {
        self.expanded = self.expanded.saturating_add(v.len());
        if self.expanded > limits::EXPANDED || v.len() > limits::VALUE {
            return Err(SyntaxError::new(
                at,
                format!(
                    "expansions copy more than {} bytes in this file",
                    limits::EXPANDED
                ),
            )
            .hint("values are bounded so that no file can exhaust memory or time"));
        }
        Ok(v)
    }

    fn braced_inner(&mut self, dollar: Pos, in_quotes: bool) -> Result<String, SyntaxError> {
        let supported = "supported: ${NAME}, ${NAME:-default}, ${NAME-default}";
        if self.cur.peek() == Some('#') && self.cur.peek2() != Some('}') {
            return Err(
                SyntaxError::new(dollar, "`${#NAME}` (string length) is not supported")
                    .hint(supported),
            );
        }
        let name = match self.cur.peek() {
            Some(c) if is_name_start(c) => take_name(&mut self.cur).unwrap_or_default(),
            Some(c) if is_special_parameter(c) => return Err(special_parameter_error(dollar, c)),
            None => return Err(unterminated(dollar, "`${`")),
            Some(_) => {
                return Err(SyntaxError::new(
                    dollar,
                    "bad substitution: `${` needs a variable name",
                )
                .hint(supported));
            }
        };
        let op = match self.cur.peek() {
            Some('}') => {
                self.cur.bump();
                let v = self.value_of(&name).unwrap_or_default();
                self.seen.push((name, v.clone()));
                return self.account(dollar, v);
            }
            Some(':') if self.cur.peek2() == Some('-') => {
                self.cur.bump();
                self.cur.bump();
                DefaultIf::UnsetOrEmpty
            }
            Some('-') => {
                self.cur.bump();
                DefaultIf::Unset
            }
            None => return Err(unterminated(dollar, "`${`")),
            Some(_) => {
                let form: String = self.cur.rest_of_line().chars().take(3).collect();
                return Err(SyntaxError::new(
                    dollar,
                    format!(
                        "`${{{name}{}…}}` is not a supported expansion",
                        visible(&form)
                    ),
                )
                .hint(supported));
            }
        };
        let default = self.word(Ctx::Braced { in_quotes })?;
        if !self.cur.eat('}') {
            return Err(unterminated(dollar, "`${`"));
        }
        let current = self.value_of(&name);
        self.seen
            .push((name, current.clone().unwrap_or_default()));
        match (op, current) {
            (DefaultIf::Unset, Some(v)) => self.account(dollar, v),
            (DefaultIf::UnsetOrEmpty, Some(v)) if !v.is_empty() => self.account(dollar, v),
            _ => self.account(dollar, default),
        }
    }

    /// Variables assigned earlier in this file win over everything the caller knows.
    fn value_of(&self, name: &str) -> Option<String> {
        match self.latest.get(name).and_then(|&i| self.out.get(i)) {
            Some(a) => Some(a.value.clone()),
            None => (self.lookup)(name),
        }
    }
}

fn take_name(cur: &mut Cursor) -> Option<String> {
    match cur.peek() {
        Some(c) if is_name_start(c) => Some(cur.run_while(is_name_char).to_string()),
        _ => None,
    }
}

/// A character that means itself in an unquoted value (and cannot end it).
fn is_plain(c: char) -> bool {
    !matches!(
        c,
        ' ' | '\t'
            | '\n'
            | '\r'
            | ';'
            | '&'
            | '|'
            | '<'
            | '>'
            | '('
            | ')'
            | '"'
            | '\''
            | '\\'
            | '$'
            | '`'
            | '~'
    )
}

fn is_special_parameter(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!')
}

fn special_parameter_error(dollar: Pos, c: char) -> SyntaxError {
    SyntaxError::new(
        dollar,
        format!("`${c}` is a positional or special parameter"),
    )
    .hint("fragments have no arguments or exit statuses; write the value itself, or escape the `$` (\\$)")
}

fn backtick_error(pos: Pos) -> SyntaxError {
    SyntaxError::new(pos, "command substitution with backticks").hint(
        "fragments are read, never executed: write the value itself, or quote it with '…' if the backtick is literal",
    )
}

fn unterminated(open: Pos, what: &str) -> SyntaxError {
    SyntaxError::new(open, format!("unterminated {what}"))
        .hint("close it; the shell would report the same error")
}

fn command_error(pos: Pos, text: &str) -> SyntaxError {
    let text = text.trim_end();
    let first = text.split_whitespace().next().unwrap_or("");
    let hint = if text.contains("swupdate-progress") {
        "swupdate-progress runs as a service of its own: enable swupdate-progress.service \
         (meta-swupdate's swupdate-progress package ships it) and mask this fragment with an \
         empty file of the same name in /etc/swupdate/conf.d"
    } else if text.ends_with('&') {
        "a background program belongs in a systemd unit of its own (with After=/Wants= on the \
         swupdate unit), not in a fragment"
    } else if matches!(
        first,
        "if" | "then"
            | "else"
            | "elif"
            | "fi"
            | "for"
            | "while"
            | "until"
            | "case"
            | "do"
            | "done"
            | "["
            | "[["
            | "test"
    ) {
        "conditions are not evaluated: compute the value when the image is built, or use \
         ${NAME:-default}"
    } else if matches!(first, "." | "source") {
        "fragments cannot include files: every file in the conf.d directories is read already"
    } else if first == "unset" {
        "to drop a shipped fragment, mask it with an empty file of the same name in \
         /etc/swupdate/conf.d; to clear a variable, assign it an empty value"
    } else {
        "fragments are read, never executed: only NAME=value assignments (optionally after \
         export) are understood; run programs from a systemd unit (ExecStartPre=)"
    };
    SyntaxError::new(
        pos,
        format!("`{}` is a command, not an assignment", visible(text)),
    )
    .hint(hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn eval_with(text: &str, env: &[(&str, &str)]) -> Result<Vec<Assignment>, SyntaxError> {
        let env: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        evaluate(text.as_bytes(), &|n| env.get(n).cloned())
    }

    fn vars(text: &str) -> Vec<(String, String)> {
        eval_with(text, &[])
            .unwrap()
            .into_iter()
            .map(|a| (a.name, a.value))
            .collect()
    }

    fn value(text: &str) -> String {
        let v = vars(text);
        assert_eq!(v.len(), 1, "{v:?}");
        v[0].1.clone()
    }

    fn value_env(text: &str, env: &[(&str, &str)]) -> String {
        eval_with(text, env).unwrap().pop().unwrap().value
    }

    fn error(text: &str) -> SyntaxError {
        eval_with(text, &[]).unwrap_err()
    }

    fn at(e: &SyntaxError) -> (usize, usize) {
        (e.line, e.column)
    }

    // --- what is understood ---

    #[test]
    fn empty_file_has_no_assignments() {
        assert!(vars("").is_empty());
    }

    #[test]
    fn blank_lines_and_comments_are_ignored() {
        assert!(vars("\n  \n# c\n   # indented\n").is_empty());
    }

    #[test]
    fn plain_assignment() {
        assert_eq!(value("A=b\n"), "b");
    }

    #[test]
    fn empty_assignment() {
        assert_eq!(value("A=\n"), "");
    }

    #[test]
    fn trailing_comment_after_assignment() {
        assert_eq!(value("A=b # comment\n"), "b");
    }

    #[test]
    fn hash_inside_a_word_is_literal() {
        assert_eq!(value("A=b#c\n"), "b#c");
    }

    #[test]
    fn export_assignment() {
        assert_eq!(vars("export A=1\n"), [("A".into(), "1".into())]);
    }

    #[test]
    fn export_of_a_bare_name_is_accepted() {
        assert_eq!(vars("A=1\nexport A\n"), [("A".into(), "1".into())]);
    }

    #[test]
    fn several_assignments_on_one_line_apply_left_to_right() {
        assert_eq!(
            vars("A=1 B=$A\n"),
            [("A".into(), "1".into()), ("B".into(), "1".into())]
        );
    }

    #[test]
    fn export_of_several_assignments() {
        assert_eq!(vars("export A=1 B=2\n").len(), 2);
    }

    #[test]
    fn export_expands_all_its_words_before_assigning_as_sh_does() {
        assert_eq!(vars("A=0\nexport A=1 B=$A\n")[2], ("B".into(), "0".into()));
    }

    fn exported(text: &str) -> Vec<(String, bool)> {
        eval_with(text, &[("FROM_BEFORE", "1")])
            .unwrap()
            .into_iter()
            .map(|a| (a.name, a.exported))
            .collect()
    }

    #[test]
    fn an_export_assignment_is_marked_exported() {
        assert_eq!(exported("export TMPDIR=/var/\n"), [("TMPDIR".into(), true)]);
    }

    #[test]
    fn a_plain_assignment_is_not_exported() {
        assert_eq!(exported("TMPDIR=/var/\n"), [("TMPDIR".into(), false)]);
    }

    #[test]
    fn export_of_a_name_assigned_earlier_in_the_file_marks_that_assignment() {
        assert_eq!(exported("A=1\nexport A\n"), [("A".into(), true)]);
    }

    #[test]
    fn export_of_a_name_set_before_the_file_exports_its_value() {
        let a = eval_with("export FROM_BEFORE\n", &[("FROM_BEFORE", "1")]).unwrap();
        assert_eq!((a[0].value.as_str(), a[0].exported), ("1", true));
    }

    #[test]
    fn export_in_the_agents_file_never_takes_a_value_from_before_it() {
        let a = evaluate_with(b"export URL\n", &|_| Some("IMAGE".into()), Rules::AGENT).unwrap();
        assert!(a.is_empty(), "{a:?}");
    }

    #[test]
    fn export_of_an_unset_name_assigns_nothing() {
        assert!(exported("export NEVER_SET\n").is_empty());
    }

    #[test]
    fn an_assignment_records_the_variables_it_expanded_with_their_values() {
        let a = eval_with(
            "E=\"-e a,b\"\nSWUPDATE_ARGS=\"-v ${E} $OUTSIDE ${UNSET:-x}\"\n",
            &[("OUTSIDE", "-l 3")],
        )
        .unwrap();
        let seen: Vec<(&str, &str)> = a[1]
            .expanded
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(seen, [("E", "-e a,b"), ("OUTSIDE", "-l 3"), ("UNSET", "")]);
        assert!(a[0].expanded.is_empty());
    }

    #[test]
    fn a_variable_named_export_can_be_assigned() {
        assert_eq!(vars("export=1\n"), [("export".into(), "1".into())]);
    }

    #[test]
    fn single_quotes_are_literal() {
        assert_eq!(value(r#"A='a $B \n "c"'"#), r#"a $B \n "c""#);
    }

    #[test]
    fn double_quotes_keep_blanks() {
        assert_eq!(value("A=\"a  b\"\n"), "a  b");
    }

    #[test]
    fn double_quotes_unescape_only_specials() {
        assert_eq!(value(r#"A="\$ \` \" \\ \n""#), r#"$ ` " \ \n"#);
    }

    #[test]
    fn quotes_concatenate_within_a_word() {
        assert_eq!(value(r#"A=a'b c'"d e"f"#), "ab cd ef");
    }

    #[test]
    fn quoted_values_span_lines() {
        assert_eq!(value("A='a\nb'\n"), "a\nb");
    }

    #[test]
    fn unquoted_backslash_escapes_anything() {
        assert_eq!(value(r"A=a\ b\;c\$d\\"), r"a b;c$d\");
    }

    #[test]
    fn line_continuation_joins_unquoted_words() {
        assert_eq!(value("A=ab\\\ncd\n"), "abcd");
    }

    #[test]
    fn line_continuation_between_assignments() {
        assert_eq!(vars("A=1 \\\n  B=2\n").len(), 2);
    }

    #[test]
    fn line_continuation_inside_double_quotes() {
        assert_eq!(value("A=\"ab\\\ncd\"\n"), "abcd");
    }

    #[test]
    fn glob_characters_are_literal_in_assignments() {
        assert_eq!(value("A=*.swu?[a]\n"), "*.swu?[a]");
    }

    #[test]
    fn dollar_name_expands_an_earlier_assignment() {
        assert_eq!(vars("A=x\nB=$A/y\n")[1].1, "x/y");
    }

    #[test]
    fn braced_name_expands() {
        assert_eq!(vars("A=x\nB=${A}y\n")[1].1, "xy");
    }

    #[test]
    fn name_ends_at_first_non_name_character() {
        assert_eq!(vars("A=x\nB=$A-y\n")[1].1, "x-y");
    }

    #[test]
    fn expansion_falls_back_to_the_lookup() {
        assert_eq!(value_env("B=$E\n", &[("E", "env")]), "env");
    }

    #[test]
    fn earlier_assignment_wins_over_the_lookup() {
        assert_eq!(value_env("E=file\nB=$E\n", &[("E", "env")]), "file");
    }

    #[test]
    fn unset_variable_expands_to_empty() {
        assert_eq!(value("B=a${NOPE}b\n"), "ab");
    }

    #[test]
    fn expansion_inside_double_quotes() {
        assert_eq!(
            value_env("B=\"[$E] [${E}]\"\n", &[("E", "a b")]),
            "[a b] [a b]"
        );
    }

    #[test]
    fn expansion_result_is_not_split_or_reparsed() {
        assert_eq!(value_env("B=$E\n", &[("E", "a 'b' $C")]), "a 'b' $C");
    }

    #[test]
    fn colon_dash_default_applies_to_unset_and_empty() {
        assert_eq!(value("B=${N:-d}\n"), "d");
        assert_eq!(value_env("B=${N:-d}\n", &[("N", "")]), "d");
        assert_eq!(value_env("B=${N:-d}\n", &[("N", "v")]), "v");
    }

    #[test]
    fn dash_default_applies_only_to_unset() {
        assert_eq!(value("B=${N-d}\n"), "d");
        assert_eq!(value_env("B=${N-d}\n", &[("N", "")]), "");
    }

    #[test]
    fn default_word_may_hold_blanks_quotes_and_expansions() {
        assert_eq!(value_env("B=${N:-a 'b c' $E}\n", &[("E", "e")]), "a b c e");
    }

    #[test]
    fn single_quotes_are_literal_in_a_default_inside_double_quotes() {
        assert_eq!(value("B=\"${N:-'x'}\"\n"), "'x'");
    }

    #[test]
    fn nested_defaults() {
        assert_eq!(value_env("B=${N:-${M:-$E}}\n", &[("E", "e")]), "e");
    }

    #[test]
    fn operators_inside_a_default_are_literal() {
        assert_eq!(value("B=${N:-a;b}\n"), "a;b");
    }

    #[test]
    fn lone_dollar_is_literal() {
        assert_eq!(value("A=$\n"), "$");
        assert_eq!(value("A=\"a$\"\n"), "a$");
        assert_eq!(value("A=a$/b\n"), "a$/b");
    }

    #[test]
    fn later_assignments_are_listed_after_earlier_ones() {
        let v = eval_with("A=1\n\nA=2\n", &[]).unwrap();
        assert_eq!((v[1].value.as_str(), v[1].line), ("2", 3));
    }

    #[test]
    fn meta_swupdate_mongoose_fragment_behaves_as_the_shell() {
        let text = "SWUPDATE_WEBSERVER_ARGS=\"-r /www ${SWUPDATE_MONGOOSE_EXTRA_ARGS}\"\n";
        assert_eq!(value(text), "-r /www ");
        assert_eq!(
            value_env(text, &[("SWUPDATE_MONGOOSE_EXTRA_ARGS", "-p 8080")]),
            "-r /www -p 8080"
        );
    }

    // --- what is refused, and where ---

    #[test]
    fn meta_swupdate_start_progress_fragment_is_refused_with_advice() {
        let e = error("exec /usr/bin/swupdate-progress -w -p -r &\n");
        assert_eq!(at(&e), (1, 1));
        assert!(e.message.contains("is a command"), "{}", e.message);
        assert!(
            e.hint.unwrap().contains("swupdate-progress.service"),
            "the hint names the unit to use instead"
        );
    }

    #[test]
    fn a_plain_command_is_refused_at_its_start() {
        let e = error("A=1\n  echo hi\n");
        assert_eq!(at(&e), (2, 3));
        assert!(e.message.contains("`echo hi`"), "{}", e.message);
    }

    #[test]
    fn a_background_command_gets_the_unit_advice() {
        let e = error("/usr/bin/helper &\n");
        assert!(e.hint.unwrap().contains("systemd unit"));
    }

    #[test]
    fn a_condition_is_refused() {
        let e = error("if [ -x /bin/x ]; then A=1; fi\n");
        assert!(e.hint.unwrap().contains("conditions"));
    }

    #[test]
    fn sourcing_another_file_is_refused() {
        let e = error(". /etc/other\n");
        assert!(e.hint.unwrap().contains("cannot include"));
    }

    #[test]
    fn a_command_after_assignments_is_refused_at_the_command() {
        let e = error("A=1 run\n");
        assert_eq!(at(&e), (1, 5));
    }

    #[test]
    fn command_substitution_is_refused() {
        let e = error("A=$(cat /x)\n");
        assert_eq!(at(&e), (1, 3));
        assert!(e.message.contains("command substitution"));
    }

    #[test]
    fn command_substitution_in_double_quotes_is_refused() {
        let e = error("A=\"x $(cat /x)\"\n");
        assert_eq!(at(&e), (1, 6));
    }

    #[test]
    fn arithmetic_expansion_is_refused() {
        assert!(error("A=$((1+2))\n").message.contains("arithmetic"));
    }

    #[test]
    fn backticks_are_refused() {
        let e = error("A=`date`\n");
        assert_eq!(at(&e), (1, 3));
        let e = error("A=\"`date`\"\n");
        assert_eq!(at(&e), (1, 4));
    }

    #[test]
    fn each_operator_is_refused_at_its_column() {
        for (text, col) in [
            ("A=1; B=2\n", 4),
            ("A=1 & \n", 5),
            ("A=1 && B=2\n", 5),
            ("A=1 | x\n", 5),
            ("A=1 > x\n", 5),
            ("A=1 <x\n", 5),
            ("A=(1)\n", 3),
            ("A=1)\n", 4),
        ] {
            let e = error(text);
            assert_eq!(at(&e), (1, col), "{text:?}: {}", e.message);
            assert!(e.message.contains("unquoted"), "{text:?}");
        }
    }

    #[test]
    fn quoted_operators_are_values() {
        assert_eq!(value("A='a;b&c|d<e>f(g)'\n"), "a;b&c|d<e>f(g)");
    }

    #[test]
    fn unterminated_single_quote_is_reported_at_the_quote() {
        let e = error("A=1\nB=x'abc\n");
        assert_eq!(at(&e), (2, 4));
        assert!(e.message.contains("unterminated single quote"));
    }

    #[test]
    fn unterminated_double_quote_is_reported_at_the_quote() {
        let e = error("B=\"abc\n\n");
        assert_eq!(at(&e), (1, 3));
    }

    #[test]
    fn unterminated_brace_is_reported_at_the_dollar() {
        let e = error("B=${A:-x\n");
        assert_eq!(at(&e), (1, 3));
        assert!(e.message.contains("unterminated"));
    }

    #[test]
    fn bad_names_are_commands() {
        let e = error("1A=2\n");
        assert!(e.message.contains("is a command"));
        let e = error("A-B=2\n");
        assert!(e.message.contains("is a command"));
    }

    #[test]
    fn positional_and_special_parameters_are_refused() {
        for text in ["A=$1\n", "A=$@\n", "A=$?\n", "A=$$\n", "A=${1}\n", "A=$#\n"] {
            let e = error(text);
            assert_eq!(at(&e), (1, 3), "{text:?}");
            assert!(e.message.contains("special parameter"), "{text:?}");
        }
    }

    #[test]
    fn other_brace_forms_are_refused() {
        for text in [
            "A=${B:=x}\n",
            "A=${B=x}\n",
            "A=${B:?x}\n",
            "A=${B+x}\n",
            "A=${B%x}\n",
            "A=${B#x}\n",
            "A=${#B}\n",
            "A=${}\n",
            "A=${ B}\n",
        ] {
            let e = error(text);
            assert_eq!(at(&e), (1, 3), "{text:?}: {}", e.message);
        }
    }

    #[test]
    fn leading_tilde_is_refused() {
        let e = error("A=~/x\n");
        assert_eq!(at(&e), (1, 3));
        assert_eq!(value("A=a~b\n"), "a~b");
        assert_eq!(value("A='~'\n"), "~");
    }

    #[test]
    fn dos_line_ends_are_refused() {
        let e = error("A=1\r\n");
        assert!(e.hint.unwrap().contains("DOS"));
    }

    #[test]
    fn backslash_at_end_of_file_is_refused() {
        assert_eq!(at(&error("A=x\\")), (1, 4));
    }

    #[test]
    fn invalid_utf8_is_refused_with_its_position() {
        let e = evaluate(b"A=1\nB=\"\xfe\"\n", &|_| None).unwrap_err();
        assert_eq!(at(&e), (2, 4));
    }

    // --- parity with dash ---

    #[test]
    fn tilde_after_an_unquoted_colon_is_refused_as_sh_expands_it() {
        for text in [
            "A=x:~/y\n",
            "A=:~\n",
            "A=${U:-x:~}\n",
            "A=$A:~\n",
            "A='a':~\n",
        ] {
            let e = error(text);
            assert!(e.message.contains("tilde"), "{text:?}: {}", e.message);
        }
    }

    #[test]
    fn tilde_at_the_start_of_an_unquoted_default_is_refused() {
        for text in ["A=${U:-~}\n", "A=x${U-~/a}\n"] {
            assert!(error(text).message.contains("tilde"), "{text:?}");
        }
    }

    #[test]
    fn quoted_or_escaped_tildes_are_literal_as_in_sh() {
        assert_eq!(value("A=\"x:~\"\n"), "x:~");
        assert_eq!(value("A=x\\:~\n"), "x:~");
        assert_eq!(value("A=\"${U:-~}\"\n"), "~");
        assert_eq!(value("A=${U:-\\~}\n"), "~");
        assert_eq!(value("A=x=~\n"), "x=~");
    }

    #[test]
    fn an_escaped_closing_brace_in_a_default_is_a_brace_as_in_dash() {
        assert_eq!(value("A=${U:-\\}x}\n"), "}x");
        assert_eq!(value("A=\"${U:-\\}x}\"\n"), "}x");
    }

    #[test]
    fn a_byte_order_mark_is_named_not_shown() {
        let e = error("\u{feff}A=1\n");
        assert!(e.message.contains("byte order mark"), "{}", e.message);
    }

    #[test]
    fn an_invisible_character_in_a_quoted_command_is_shown_as_an_escape() {
        let e = error("A=1\n\u{feff}B=2\n");
        assert!(e.message.contains("\\u{feff}B=2"), "{}", e.message);
        assert!(!e.message.contains('\u{feff}'));
    }

    #[test]
    fn a_nul_byte_is_refused() {
        let e = evaluate(b"A=x\0\n", &|_| None).unwrap_err();
        assert_eq!(at(&e), (1, 4));
    }

    // --- the agent's rules: literals, nothing quoted ---

    fn agent(text: &str) -> Result<Vec<Assignment>, SyntaxError> {
        evaluate_with(text.as_bytes(), &|_| Some("SECRET".into()), Rules::AGENT)
    }

    #[test]
    fn agent_values_cannot_expand_a_variable() {
        for text in [
            "URL=https://a.example/${TOKEN}\n",
            "URL=https://a.example/$TOKEN\n",
            "URL=\"https://a.example/$TOKEN\"\n",
            "URL=${TOKEN:-x}\n",
            "URL=$(cat /etc/shadow)\n",
            "URL=$1\n",
        ] {
            let e = agent(text).unwrap_err();
            assert!(e.message.contains("literals"), "{text:?}: {}", e.message);
            assert_eq!(at(&e).0, 1);
        }
    }

    #[test]
    fn agent_values_may_hold_a_literal_dollar() {
        let v = agent("URL='https://a.example/$x' B=a\\$b C=a$/b\n").unwrap();
        assert_eq!(v[0].value, "https://a.example/$x");
        assert_eq!(v[1].value, "a$b");
        assert_eq!(v[2].value, "a$/b");
    }

    #[test]
    fn agent_errors_quote_nothing_of_the_file() {
        for text in [
            "root:$y$j9T$hash:19000:0:99999:7:::\n",
            "-----BEGIN PRIVATE KEY-----\n",
            "URL=x secret-word\n",
            "URL=a;b\n",
            "if secret; then\n",
        ] {
            let e = agent(text).unwrap_err();
            let shown = format!("{} {}", e.message, e.hint.unwrap_or_default());
            for word in ["root", "hash", "PRIVATE", "secret", "BEGIN", "if"] {
                assert!(!shown.contains(word), "{text:?} shows {word}: {shown}");
            }
        }
    }

    // --- bounds: no input exhausts memory, time or stack ---

    #[test]
    fn doubling_expansions_stop_at_the_budget_with_a_line() {
        let text = "URL=x\n".to_string() + &"URL=$URL$URL\n".repeat(45);
        let e = error(&text);
        assert!(e.message.contains("bytes"), "{}", e.message);
        assert!(e.line > 1 && e.line <= 46);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = "A=".to_string() + &"${A:-".repeat(100_000) + "x" + &"}".repeat(100_000) + "\n";
        let e = error(&text);
        assert!(e.message.contains("nested"), "{}", e.message);
        assert_eq!(e.line, 1);
    }

    #[test]
    fn nesting_within_the_bound_works() {
        let n = limits::DEPTH - 1;
        let text = "A=".to_string() + &"${U:-".repeat(n) + "x" + &"}".repeat(n) + "\n";
        assert_eq!(value(&text), "x");
    }

    #[test]
    fn deep_quote_nesting_is_bounded_too() {
        let text = "A=".to_string() + &"\"${A:-".repeat(50_000) + "\n";
        assert!(error(&text).message.contains("nested"));
    }

    #[test]
    fn many_lookups_are_not_quadratic() {
        // 10,000 lines of `URL=$U` took seconds with a scan per lookup.
        let text = "U=x\n".to_string() + &"URL=$U\n".repeat(limits::ASSIGNMENTS - 2);
        let t = std::time::Instant::now();
        assert_eq!(vars(&text).len(), limits::ASSIGNMENTS - 1);
        // Not a timing assertion on speed, a guard against a hang: generous on any machine.
        assert!(t.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn too_many_assignments_are_an_error_at_the_line() {
        let text = "A=1\n".repeat(limits::ASSIGNMENTS + 1);
        let e = error(&text);
        assert_eq!(e.line, limits::ASSIGNMENTS + 1);
    }

    #[test]
    fn a_value_longer_than_the_bound_is_an_error() {
        let text = format!("A={}\n", "x".repeat(limits::VALUE + 1));
        assert!(error(&text).message.contains("longer"));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let e = error("A=\"é\" ;\n");
        assert_eq!(at(&e), (1, 7));
    }
}
