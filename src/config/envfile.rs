//! The systemd EnvironmentFile format, as `systemd.exec(5)` and systemd's own parser read it.
//!
//! The launcher must see the same values that systemd put into its environment from the same
//! file, so this follows systemd's state machine (not shell, not INI). Where systemd silently
//! drops a line (no `=`, an invalid name, an unterminated quote) this parser refuses instead:
//! a topology file that is only half understood must not start an update.
//!
//! Pure: it parses the bytes [`crate::config::load`] read.

use crate::config::syntax::{
    Cursor, Pos, SyntaxError, check_text, decode_utf8, is_valid_name, visible,
};

/// One `KEY=value` line (the type both parsers return).
pub use crate::config::syntax::Assignment;

/// systemd's WHITESPACE set; Unicode spaces are ordinary characters to it.
fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// systemd's NEWLINE set: a carriage return ends a line too (a CRLF line end is an empty line
/// after it, which is blank).
fn is_newline(c: char) -> bool {
    matches!(c, '\n' | '\r')
}

/// Parses a whole EnvironmentFile.
pub fn parse(bytes: &[u8]) -> Result<Vec<Assignment>, SyntaxError> {
    check_text(bytes, true)?;
    let text = decode_utf8(bytes)?;
    let mut cur = Cursor::new(text).cr_ends_lines();
    let mut out = Vec::new();
    loop {
        // Before a key: blank space and empty lines.
        while matches!(cur.peek(), Some(c) if is_blank(c)) {
            cur.bump();
        }
        let Some(c) = cur.peek() else { break };
        if c == '#' || c == ';' {
            skip_comment(&mut cur);
            continue;
        }
        out.push(assignment(&mut cur)?);
    }
    Ok(out)
}

/// A comment runs to the end of its line. Since systemd 254 a trailing backslash no longer
/// continues it (252 read the next line as part of the comment).
fn skip_comment(cur: &mut Cursor) {
    while let Some(c) = cur.bump() {
        if is_newline(c) {
            break;
        }
    }
}

fn assignment(cur: &mut Cursor) -> Result<Assignment, SyntaxError> {
    let start = cur.pos();
    let mut key = String::new();
    loop {
        match cur.peek() {
            None | Some('\n' | '\r') => {
                return Err(SyntaxError::new(
                    start,
                    format!(
                        "`{}` is not an assignment (no `=`)",
                        visible(key.trim_end())
                    ),
                )
                .hint("write KEY=value; systemd would silently ignore this line"));
            }
            Some('=') => {
                cur.bump();
                break;
            }
            Some(c) => {
                key.push(c);
                cur.bump();
            }
        }
    }
    let key = key.trim_end_matches(is_blank).to_string();
    if !is_valid_name(&key) {
        return Err(SyntaxError::new(
            start,
            format!("`{}` is not a valid variable name", visible(&key)),
        )
        .hint("names are letters, digits and `_`, not starting with a digit; systemd would silently ignore this line (and `export` is not part of this format)"));
    }
    let value = value(cur)?;
    Ok(Assignment {
        name: key,
        value,
        line: start.line,
        exported: false,
        expanded: Vec::new(),
    })
}

/// The value after `=`: systemd's PRE_VALUE / VALUE / quote states.
fn value(cur: &mut Cursor) -> Result<String, SyntaxError> {
    let mut value = String::new();
    // Length of `value` up to which it is not trailing unescaped whitespace.
    let mut keep = 0;
    // systemd's PRE_VALUE state: whitespace is skipped and a quote may open.
    let mut pre_value = true;
    while let Some(c) = cur.peek() {
        if is_newline(c) {
            cur.bump();
            break;
        }
        if pre_value && is_blank(c) {
            cur.bump();
            continue;
        }
        if pre_value && (c == '\'' || c == '"') {
            let open = cur.pos();
            cur.bump();
            quoted(cur, c, open, &mut value)?;
            keep = value.len();
            continue;
        }
        pre_value = false;
        cur.bump();
        match c {
            '\\' => match cur.bump() {
                // Line continuation (a CR is a line end too).
                Some('\n' | '\r') | None => {}
                Some(e) => {
                    value.push(e);
                    keep = value.len();
                }
            },
            c if is_blank(c) => value.push(c),
            c => {
                value.push(c);
                keep = value.len();
            }
        }
    }
    value.truncate(keep);
    Ok(value)
}

fn quoted(cur: &mut Cursor, quote: char, open: Pos, value: &mut String) -> Result<(), SyntaxError> {
    loop {
        let Some(c) = cur.bump() else {
            return Err(
                SyntaxError::new(open, format!("unterminated {quote} quote"))
                    .hint("close the quote; systemd would take the rest of the file as the value"),
            );
        };
        match c {
            c if c == quote => return Ok(()),
            '\\' if quote == '"' => match cur.bump() {
                Some(e @ ('"' | '\\' | '`' | '$')) => value.push(e),
                Some('\n') => {}
                Some(e) => {
                    value.push('\\');
                    value.push(e);
                }
                None => value.push('\\'),
            },
            c => value.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> String {
        let a = parse(text.as_bytes()).unwrap();
        assert_eq!(a.len(), 1, "{a:?}");
        a[0].value.clone()
    }

    fn err(text: &str) -> SyntaxError {
        parse(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn plain_assignment() {
        assert_eq!(one("A=b\n"), "b");
    }

    #[test]
    fn assignment_without_final_newline() {
        assert_eq!(one("A=b"), "b");
    }

    #[test]
    fn empty_value() {
        assert_eq!(one("A=\n"), "");
    }

    #[test]
    fn whitespace_around_key_and_before_value_is_dropped() {
        let a = parse(b"  A =   b\n").unwrap();
        assert_eq!((a[0].name.as_str(), a[0].value.as_str()), ("A", "b"));
    }

    #[test]
    fn interior_whitespace_is_kept_trailing_is_dropped() {
        assert_eq!(one("A=b  c   \n"), "b  c");
    }

    #[test]
    fn hash_and_semicolon_lines_are_comments() {
        assert!(parse(b"# x\n; y\n").unwrap().is_empty());
    }

    #[test]
    fn indented_comment_is_a_comment() {
        let a = parse(b"   # A=1\nB=2\n").unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].name, "B");
    }

    #[test]
    fn a_comment_ends_at_its_line_even_after_a_trailing_backslash() {
        // systemd >= 254 (every claimed Yocto release ships 257+); 252 swallowed A=1.
        let a = parse(b"# x \\\nA=1\n").unwrap();
        assert_eq!(
            (a[0].name.as_str(), a[0].value.as_str(), a[0].line),
            ("A", "1", 2)
        );
    }

    #[test]
    fn a_carriage_return_ends_a_line() {
        let a = parse(b"A=b\rB=c\n").unwrap();
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!((a[1].name.as_str(), a[1].value.as_str()), ("B", "c"));
    }

    #[test]
    fn a_carriage_return_ends_a_comment() {
        let a = parse(b"# x\rA=1\n").unwrap();
        assert_eq!(a[0].name, "A");
    }

    #[test]
    fn a_lone_carriage_return_counts_as_a_line_for_positions() {
        let e = err("A=1\rfoo\n");
        assert_eq!((e.line, e.column), (2, 1));
    }

    #[test]
    fn backslash_carriage_return_continues_an_unquoted_value() {
        assert_eq!(one("A=a\\\rb\n"), "ab");
    }

    #[test]
    fn a_carriage_return_inside_quotes_is_kept() {
        assert_eq!(one("A=\"a\rb\"\n"), "a\rb");
    }

    #[test]
    fn a_byte_order_mark_is_refused_by_name_not_shown_as_an_invisible_key() {
        let e = err("\u{feff}A=1\n");
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("byte order mark"), "{}", e.message);
        assert!(!e.message.contains('\u{feff}'));
    }

    #[test]
    fn a_nul_byte_is_refused_with_its_position() {
        let e = parse(b"A=1\nB=x\0y\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 4));
        assert!(e.message.contains("NUL"), "{}", e.message);
    }

    #[test]
    fn an_unquoted_error_shows_no_text_of_the_file() {
        let e = err("root:$y$j9T$secret:19000:0:99999:7:::\n").unquoted();
        assert!(!e.message.contains("root"), "{}", e.message);
        assert!(!e.message.contains("secret"), "{}", e.message);
    }

    #[test]
    fn hash_inside_a_value_is_literal() {
        assert_eq!(one("A=b # c\n"), "b # c");
    }

    #[test]
    fn unquoted_backslash_escapes_the_next_character() {
        assert_eq!(one(r"A=a\nb\\c\ "), r"anb\c ");
    }

    #[test]
    fn unquoted_trailing_backslash_continues_the_line() {
        let a = parse(b"A=one\\\ntwo\nB=3\n").unwrap();
        assert_eq!(a[0].value, "onetwo");
        assert_eq!(a[1].name, "B");
    }

    #[test]
    fn quotes_after_the_first_character_are_literal() {
        assert_eq!(one("A=x\"y\"\n"), "x\"y\"");
    }

    #[test]
    fn single_quotes_take_no_escapes() {
        assert_eq!(one(r"A='a\b $c'"), r"a\b $c");
    }

    #[test]
    fn double_quotes_unescape_only_shell_specials() {
        assert_eq!(one(r#"A="q\" b\\ t\` d\$ n\n""#), r#"q" b\ t` d$ n\n"#);
    }

    #[test]
    fn double_quotes_keep_whitespace_and_newlines() {
        assert_eq!(one("A=\" a\nb \"\n"), " a\nb ");
    }

    #[test]
    fn backslash_newline_in_double_quotes_continues() {
        assert_eq!(one("A=\"a\\\nb\"\n"), "ab");
    }

    #[test]
    fn text_after_a_closing_quote_is_joined_like_systemd() {
        assert_eq!(one("A=\"a\" b\n"), "ab");
    }

    #[test]
    fn last_duplicate_is_last_in_order() {
        let a = parse(b"A=1\nA=2\n").unwrap();
        assert_eq!(a.last().unwrap().value, "2");
        assert_eq!(a.last().unwrap().line, 2);
    }

    #[test]
    fn lines_are_counted_across_continuations() {
        let a = parse(b"A=\"x\ny\"\n\nB=1\n").unwrap();
        assert_eq!(a[1].line, 4);
    }

    #[test]
    fn a_line_without_equals_is_an_error() {
        let e = err("A=1\nfoo\n");
        assert_eq!((e.line, e.column), (2, 1));
        assert!(e.message.contains("no `=`"), "{}", e.message);
    }

    #[test]
    fn export_prefix_is_an_invalid_name() {
        let e = err("export A=1\n");
        assert!(e.message.contains("`export A`"), "{}", e.message);
    }

    #[test]
    fn invalid_name_is_an_error() {
        let e = err("  1A=2\n");
        assert_eq!((e.line, e.column), (1, 3));
    }

    #[test]
    fn unterminated_quote_is_an_error_at_the_quote() {
        let e = err("A=1\nB=  'abc\n");
        assert_eq!((e.line, e.column), (2, 5));
        assert!(e.message.contains("unterminated"), "{}", e.message);
    }

    #[test]
    fn invalid_utf8_refuses_the_whole_file() {
        let e = parse(b"A=1\nB=\xc3\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 3));
    }

    #[test]
    fn non_breaking_space_is_not_whitespace_for_systemd() {
        assert_eq!(one("A=b\u{a0}\n"), "b\u{a0}");
    }

    #[test]
    fn crlf_line_ends_leave_no_carriage_return() {
        assert_eq!(one("A=b\r\n"), "b");
    }
}
