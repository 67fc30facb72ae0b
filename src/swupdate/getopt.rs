//! The one reader of swupdate's getopt_long grammar, over the option tables of its command line,
//! its `-d`, `-u` and `-w` strings.
//!
//! glibc's `getopt_long`, as swupdate and its modules call it: short clusters (`-vk/x`: flags,
//! then at most one option that takes the rest of the word or the next word as its value), long
//! names with `=value` or the next word, unique prefixes of long names (an exact name wins over
//! a prefix; a prefix of several options is ambiguous), several long names for one option
//! letter, words that are not options read past (permuted to the end), and `--` ending the
//! options. Which options exist depends on the release: the tables say which release added each
//! option and each long name.
//!
//! What a word means to the launcher (refused, secret, owned) is in the table; what a caller
//! does with the options found is its [`Policy`], told of each option as it is read, so its
//! errors come in the order getopt_long would meet them.

use super::release::{Release, shown};

/// Whether and how an option takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    None,
    /// A value glued to it (`-l5`, `--loglevel=5`) or the next word.
    Required,
    /// A value glued to it, or the next word unless it begins with `-` (hawkBit's `-y`, which
    /// reads the next word itself).
    Optional,
    /// A value (glued or the next word) and then the next word (hawkBit's
    /// `-a NAME VALUE`, which reads the next word itself).
    Pair,
}

/// What the launcher makes of an option in the user's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Passed on.
    Free,
    /// Set by the launcher from this variable; refused in the user's words.
    Owned(&'static str),
    /// Makes swupdate print something and exit without doing its job: refused.
    Exits,
}

/// One long name of an option, with the release that introduced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Long {
    pub name: &'static str,
    pub since: Release,
}

/// One option: an option letter (or a long-only code) with all its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    pub short: Option<char>,
    /// The release that introduced the option (and its short letter).
    pub since: Release,
    pub longs: &'static [Long],
    pub arg: Arg,
    /// The build option that compiles it in, if any (`swupdate -h` of that build shows it).
    pub build: Option<&'static str>,
    pub role: Role,
    /// Its value (for [`Arg::Pair`], its second value) must never be shown.
    pub secret: bool,
}

impl Opt {
    /// `-k` or `--max-version`: the name people know it by.
    pub fn name(&self) -> String {
        match (self.short, self.longs.first()) {
            (Some(c), _) => format!("-{c}"),
            (None, Some(l)) => format!("--{}", l.name),
            (None, None) => String::new(),
        }
    }

    /// Every spelling: `-k`, `--key`, `--ca-path`.
    pub fn spellings(&self) -> Vec<String> {
        self.spellings_since().into_iter().map(|(s, _)| s).collect()
    }

    /// Every spelling with the release that introduced it (a long alias can be younger than
    /// its option).
    pub fn spellings_since(&self) -> Vec<(String, Release)> {
        let mut v: Vec<(String, Release)> = self
            .short
            .map(|c| (format!("-{c}"), self.since))
            .into_iter()
            .collect();
        v.extend(
            self.longs
                .iter()
                .map(|l| (format!("--{}", l.name), l.since)),
        );
        v
    }

    fn exists_in(&self, r: Option<Release>) -> bool {
        r.is_none_or(|r| self.since <= r)
    }
}

/// The long name `name` added in `since`.
pub(crate) const fn l(name: &'static str, since: Release) -> Long {
    Long { name, since }
}

/// An option table and how its reader treats what the table does not know.
#[derive(Debug)]
pub struct Table {
    /// What its options are, for messages: "a swupdate option".
    pub what: &'static str,
    pub options: &'static [Opt],
}

impl Table {
    fn knows_short(&self, c: char) -> bool {
        self.options.iter().any(|o| o.short == Some(c))
    }

    fn knows_long(&self, prefix: &str) -> bool {
        !prefix.is_empty()
            && self
                .options
                .iter()
                .flat_map(|o| o.longs)
                .any(|l| l.name.starts_with(prefix))
    }
}

/// Why words cannot be read, or cannot be handed to swupdate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub message: String,
    pub hint: Option<String>,
}

pub(crate) fn error(message: String, hint: Option<String>) -> OptionError {
    OptionError { message, hint }
}

/// One option found in the words, as getopt_long reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub opt: &'static Opt,
    /// How it was written (`--ca`, `-k`).
    pub spelled: String,
    pub value: Option<String>,
    /// The word after the value, for [`Arg::Pair`].
    pub second: Option<String>,
}

impl Found {
    /// The values that must never be shown.
    pub fn secret_values(&self) -> Option<&str> {
        if !self.opt.secret {
            return None;
        }
        match self.opt.arg {
            Arg::Pair => self.second.as_deref(),
            _ => self.value.as_deref(),
        }
    }
}

/// What a caller does with the words as they are read; each refusal stops the reading.
pub trait Policy {
    /// An option was recognised, in `word` (before its value is taken).
    fn option(
        &mut self,
        _opt: &'static Opt,
        _spelled: &str,
        _word: &str,
    ) -> Result<(), OptionError> {
        Ok(())
    }
    /// An option with its value(s).
    fn found(&mut self, _found: &Found) -> Result<(), OptionError> {
        Ok(())
    }
    /// A word that is no option (getopt_long passes it over).
    fn positional(&mut self, _word: &str) -> Result<(), OptionError> {
        Ok(())
    }
    /// `--`: the words after it are positional.
    fn end(&mut self) -> Result<(), OptionError> {
        Ok(())
    }
    /// Whether an abbreviation that could mean an owned option in any release is refused as
    /// that option, before the release decides what it means.
    fn refuses_owned_abbreviations(&self) -> bool {
        false
    }
    /// Whether an unknown option is passed over (getopt_long returns `?` and goes on; suricatta's
    /// own first pass ignores it) rather than refused.
    fn passes_over_unknown(&self) -> bool {
        false
    }
}

/// A policy that takes every word as getopt_long reads it.
pub struct Accept;

impl Policy for Accept {}

/// [`Accept`], passing over unknown options as getopt_long does when its caller ignores `?`.
pub struct PassOver;

impl Policy for PassOver {
    fn passes_over_unknown(&self) -> bool {
        true
    }
}

/// The words as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Read {
    pub found: Vec<Found>,
    pub positional: Vec<String>,
}

impl Read {
    /// The value of the last occurrence of the option with this short letter (swupdate takes
    /// the last one).
    pub fn last_value(&self, short: char) -> Option<&str> {
        last_value(&self.found, short)
    }

    /// Every value of a secret option.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.found.iter().filter_map(Found::secret_values)
    }
}

/// The value of the last occurrence of the option with this short letter.
pub fn last_value(found: &[Found], short: char) -> Option<&str> {
    found
        .iter()
        .rev()
        .find(|f| f.opt.short == Some(short))
        .and_then(|f| f.value.as_deref())
}

/// Reads `words` with `table`'s options of `release` (unknown: of every supported release), as
/// getopt_long does, telling `policy` of each option as it is read.
pub fn read(
    table: &Table,
    words: &[&str],
    release: Option<Release>,
    policy: &mut dyn Policy,
) -> Result<Read, OptionError> {
    let mut r = Reader {
        table,
        lenient: policy.passes_over_unknown(),
        words: words.to_vec(),
        next: 0,
        release,
        out: Read::default(),
    };
    while r.next < r.words.len() {
        let w = r.words[r.next];
        r.next += 1;
        if w == "--" {
            policy.end()?;
            for w in &r.words[r.next..] {
                policy.positional(w)?;
                r.out.positional.push(w.to_string());
            }
            break;
        }
        let begun = if let Some(long) = w.strip_prefix("--") {
            r.long(w, long, policy)?
        } else if let Some(shorts) = w.strip_prefix('-').filter(|s| !s.is_empty()) {
            r.cluster(w, shorts, policy)?
        } else {
            policy.positional(w)?;
            r.out.positional.push(w.to_string());
            None
        };
        if let Some((opt, spelled, inline)) = begun {
            if let Some(f) = r.values(opt, spelled, w, inline)? {
                policy.found(&f)?;
                r.out.found.push(f);
            }
        }
    }
    Ok(r.out)
}

/// An option that may take a value: the option, how it was spelled, and the value written in
/// the same word (`--key=/x`, `-k/x`).
type Taken = (&'static Opt, String, Option<String>);

struct Reader<'t, 'w> {
    table: &'t Table,
    /// Unknown options are passed over.
    lenient: bool,
    words: Vec<&'w str>,
    /// The next word to read.
    next: usize,
    release: Option<Release>,
    out: Read,
}

impl Reader<'_, '_> {
    /// `--name`, `--name=value`, or a unique abbreviation of the name.
    fn long(
        &mut self,
        w: &str,
        long: &str,
        policy: &mut dyn Policy,
    ) -> Result<Option<Taken>, OptionError> {
        let (name, value) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        let strict = policy.refuses_owned_abbreviations();
        let opt = match long_option(self.table, name, self.release, strict) {
            Ok(o) => o,
            Err(_) if self.lenient && !self.table.knows_long(name) => return Ok(None),
            Err(e) => return Err(e),
        };
        let spelled = format!("--{name}");
        policy.option(opt, &spelled, w)?;
        Ok(Some((opt, spelled, value)))
    }

    /// A cluster: flags, then at most one option that takes the rest (or the next word) as its
    /// value: `-vn`, `-l5`, `-vk/x`.
    fn cluster(
        &mut self,
        w: &str,
        shorts: &str,
        policy: &mut dyn Policy,
    ) -> Result<Option<Taken>, OptionError> {
        for (at, c) in shorts.char_indices() {
            let opt = match short_option(self.table, c, w, self.release) {
                Ok(o) => o,
                Err(_) if self.lenient && !self.table.knows_short(c) => continue,
                Err(e) => return Err(e),
            };
            let spelled = format!("-{c}");
            policy.option(opt, &spelled, w)?;
            if opt.arg != Arg::None {
                let rest = &shorts[at + c.len_utf8()..];
                return Ok(Some((
                    opt,
                    spelled,
                    (!rest.is_empty()).then(|| rest.into()),
                )));
            }
            let f = Found {
                opt,
                spelled,
                value: None,
                second: None,
            };
            policy.found(&f)?;
            self.out.found.push(f);
        }
        Ok(None)
    }

    /// The option's value(s): glued, or the next words.
    fn values(
        &mut self,
        opt: &'static Opt,
        spelled: String,
        w: &str,
        inline: Option<String>,
    ) -> Result<Option<Found>, OptionError> {
        let value = match (opt.arg, inline) {
            (Arg::None, Some(_)) => {
                return Err(error(
                    format!("`{spelled}` takes no value (in `{w}`)"),
                    None,
                ));
            }
            (Arg::None, None) => None,
            (_, Some(v)) => Some(v),
            (Arg::Optional, None) => self.take_if(|v| !v.starts_with('-')),
            (Arg::Required | Arg::Pair, None) => match self.take_if(|_| true) {
                Some(v) => Some(v),
                None if self.lenient => return Ok(None),
                None => return Err(error(format!("`{spelled}` needs a value"), None)),
            },
        };
        let second = match opt.arg {
            Arg::Pair => match self.take_if(|_| true) {
                Some(v) => Some(v),
                None => {
                    return Err(error(
                        format!(
                            "`{spelled}` needs two values (a name and a value); without the second, its reader stops at start"
                        ),
                        None,
                    ));
                }
            },
            _ => None,
        };
        Ok(Some(Found {
            opt,
            spelled,
            value,
            second,
        }))
    }

    /// The next word, when there is one and `ok` accepts it.
    fn take_if(&mut self, ok: impl Fn(&str) -> bool) -> Option<String> {
        let v = self.words.get(self.next).filter(|v| ok(v))?;
        self.next += 1;
        Some(v.to_string())
    }
}

fn too_old(what: &str, since: Release, release: Release) -> OptionError {
    error(
        format!(
            "`{what}` needs swupdate {} or later; this device has {release}",
            shown(since)
        ),
        Some(
            "SWUPDATE_VERSION (in the EnvironmentFile) names the installed release; drop the option or update swupdate"
                .into(),
        ),
    )
}

/// An unknown letter inside a cluster such as `-v=x`: the message names the whole word (not
/// just `-=`, which the user never wrote), and `=` gets the advice it needs.
fn unknown_in_cluster(table: &Table, word: &str, c: char) -> OptionError {
    if word.len() == 1 + c.len_utf8() {
        return unknown(table, word);
    }
    let hint = if c == '=' {
        "short options take no `=`: give the value as the next word (`-l 5`) or glued (`-l5`); `=` works with long options (`--loglevel=5`)".to_string()
    } else {
        "see `swupdate -h` for the options this swupdate knows".to_string()
    };
    error(
        format!("`{word}`: `-{c}` in it is not {}", table.what),
        Some(hint),
    )
}

fn unknown(table: &Table, w: &str) -> OptionError {
    error(
        format!("`{w}` is not {}", table.what),
        Some("see `swupdate -h` for the options this swupdate knows".into()),
    )
}

/// The short option `c`, found in `word` (the whole cluster, named in the error).
fn short_option(
    table: &Table,
    c: char,
    word: &str,
    release: Option<Release>,
) -> Result<&'static Opt, OptionError> {
    let Some(opt) = table.options.iter().find(|o| o.short == Some(c)) else {
        return Err(unknown_in_cluster(table, word, c));
    };
    match release {
        Some(r) if !opt.exists_in(Some(r)) => Err(too_old(&format!("-{c}"), opt.since, r)),
        _ => Ok(opt),
    }
}

/// A long name as getopt_long resolves it: an exact name, else the options whose names begin
/// with it; several different options are ambiguous. With `refuse_owned`, owned options are
/// searched across every release, so that an abbreviation which could mean an owned option
/// anywhere is refused.
fn long_option(
    table: &Table,
    name: &str,
    release: Option<Release>,
    refuse_owned: bool,
) -> Result<&'static Opt, OptionError> {
    if name.is_empty() {
        return Err(unknown(table, "--"));
    }
    let names = || {
        table
            .options
            .iter()
            .flat_map(|o| o.longs.iter().map(move |l| (o, l)))
    };
    let exists = |l: &Long| release.is_none_or(|r| l.since <= r);
    if let Some((o, l)) = names().find(|(_, l)| l.name == name) {
        if let (Some(r), false) = (release, exists(l)) {
            return Err(too_old(&format!("--{name}"), l.since, r));
        }
        return Ok(o);
    }
    // An abbreviation: refused outright when any option it could stand for is owned.
    let all: Vec<(&'static Opt, &Long)> =
        names().filter(|(_, l)| l.name.starts_with(name)).collect();
    if let Some((l, owner)) = all.iter().find_map(|(o, l)| match o.role {
        Role::Owned(owner) if refuse_owned => Some((l, owner)),
        _ => None,
    }) {
        return Err(error(
            format!(
                "`--{name}` is an abbreviation swupdate reads as `--{}`, which the launcher sets",
                l.name
            ),
            Some(format!("set {owner} instead")),
        ));
    }
    let mut distinct: Vec<&'static Opt> = Vec::new();
    for (o, _) in all.iter().filter(|(_, l)| exists(l)) {
        if !distinct.iter().any(|d| std::ptr::eq(*d, *o)) {
            distinct.push(o);
        }
    }
    match distinct.as_slice() {
        [one] => Ok(one),
        [] => match (release, all.first()) {
            (Some(r), Some((_, l))) => Err(too_old(&format!("--{}", l.name), l.since, r)),
            _ => Err(unknown(table, &format!("--{name}"))),
        },
        many => Err(error(
            format!(
                "`--{name}` is ambiguous: swupdate would refuse it (it begins {})",
                many.iter()
                    .flat_map(|o| o.longs.iter())
                    .filter(|l| l.name.starts_with(name))
                    .map(|l| format!("--{}", l.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some("write the option's full name".into()),
        )),
    }
}
