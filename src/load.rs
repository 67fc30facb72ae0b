//! Reading the configuration from disk: the EnvironmentFile, the two conf.d directories, every
//! fragment. This is the only place that reads configuration files; what it returns is data.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::confd::{self, Decision, Dir, Entry, EntryKind, Verdict};
use crate::envfile;
use crate::error::{Error, Kind, Location};
use crate::fragment;
use crate::plan::{FROM_ENVIRONMENT, SCRIPT_DEFAULTS};
use crate::rootfs::Root;
use crate::settings::{
    self, Origin, SWUPDATE_CONF_DIR_ETC, SWUPDATE_CONF_DIR_LIB, Settings, TOPOLOGY,
};
use crate::syntax::SyntaxError;
use crate::trust::{self, Policy, Role};

pub const DEFAULT_ENV_FILE: &str = "/etc/default/swupdate";

/// What was asked for.
pub struct Request<'a> {
    /// `--env-file`; `None` means the default, which may be missing.
    pub env_file: Option<&'a Path>,
    pub root: &'a Root,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// The EnvironmentFile that was (or would have been) read, as a host path.
#[derive(Debug, Clone)]
pub struct EnvFileUse {
    pub path: PathBuf,
    pub found: bool,
}

/// One conf.d entry, what happened to it, as a host path.
#[derive(Debug, Clone)]
pub struct ConfFile {
    pub path: PathBuf,
    pub dir: Dir,
    pub verdict: Verdict,
}

/// Everything read, before interpretation.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub env_file: EnvFileUse,
    pub topology: Settings,
    pub conf_dirs: [(Dir, PathBuf, bool); 2],
    pub files: Vec<ConfFile>,
    pub vars: Settings,
    /// Whose files are trusted; `None` with SWUPDATE_STRICT_MODES=no.
    pub policy: Option<Policy>,
}

impl Loaded {
    /// The etc conf.d directory (host path): where the agent hands over.
    pub fn etc_dir(&self) -> &Path {
        &self.conf_dirs[1].1
    }
}

fn located(e: SyntaxError, file: &Path) -> Error {
    let err = Error::new(Kind::Config, e.message).at(Location {
        file: file.to_path_buf(),
        line: e.line,
        column: Some(e.column),
    });
    match e.hint {
        Some(h) => err.hint(h),
        None => err,
    }
}

fn io_error(path: &Path, what: &str, e: &std::io::Error) -> Error {
    Error::new(Kind::Io, format!("cannot {what}: {e}")).on(path)
}

pub fn load(req: &Request) -> Result<Loaded, Error> {
    let env_path = req
        .root
        .resolve(req.env_file.unwrap_or(Path::new(DEFAULT_ENV_FILE)));
    // Read through one descriptor, whose fstat is what StrictModes judges later.
    let (assignments, env_meta) = match read_with_meta(&env_path) {
        Ok((bytes, meta)) => (
            envfile::parse(&bytes).map_err(|e| located(e, &env_path))?,
            Some(meta),
        ),
        Err(e) if e.kind() == ErrorKind::NotFound && req.env_file.is_none() => (Vec::new(), None),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::new(Kind::MissingInput, "EnvironmentFile not found").on(&env_path));
        }
        Err(e) => return Err(io_error(&env_path, "read the EnvironmentFile", &e)),
    };
    let topology = settings::topology(&assignments, &env_path, req.env);

    let mut dirs = Vec::new();
    for (dir, name) in [
        (Dir::Lib, SWUPDATE_CONF_DIR_LIB),
        (Dir::Etc, SWUPDATE_CONF_DIR_ETC),
    ] {
        let s = topology
            .get(name)
            .ok_or_else(|| Error::new(Kind::Config, format!("{name} is not set")))?;
        if !Path::new(&s.value).is_absolute() {
            return Err(crate::plan::setting_error(
                name,
                s,
                format!("`{}` is not an absolute path", s.value),
            ));
        }
        let host = req.root.resolve(Path::new(&s.value));
        let entries = scan(&host, req.root)?;
        dirs.push((dir, host, entries));
    }
    let [(_, lib_dir, lib), (_, etc_dir, etc)] = <[_; 2]>::try_from(dirs)
        .map_err(|_| Error::new(Kind::Config, "internal: two conf.d directories expected"))?;

    let decisions = confd::merge(
        lib.as_deref().unwrap_or_default(),
        etc.as_deref().unwrap_or_default(),
    );
    let dir_path = |d: Dir| if d == Dir::Lib { &lib_dir } else { &etc_dir };
    let files: Vec<ConfFile> = decisions
        .iter()
        .map(|Decision { name, dir, verdict }| ConfFile {
            path: dir_path(*dir).join(name),
            dir: *dir,
            verdict: *verdict,
        })
        .collect();

    let policy = trust_policy(&topology)?;
    let found = env_meta.is_some();
    if let Some(policy) = &policy {
        if let Some(meta) = env_meta {
            trust::check_link(&env_path, Role::Image, policy)?;
            trust::judge(&env_path, meta, Role::Image, policy)?;
        }
        for (dir, path, exists) in [
            (Dir::Lib, &lib_dir, lib.is_some()),
            (Dir::Etc, &etc_dir, etc.is_some()),
        ] {
            if exists {
                trust::check(path, role_of(dir, None), policy)?;
            }
        }
        // Files that are read are judged as they are read (below); masks are not read.
        for f in files.iter().filter(|f| f.verdict == Verdict::Mask) {
            trust::check(&f.path, role_of(f.dir, f.path.file_name()), policy)?;
        }
    }

    let mut vars = Settings::default();
    for (name, value) in SCRIPT_DEFAULTS {
        vars.set(name, value, Origin::Default);
    }
    for name in FROM_ENVIRONMENT {
        if let Some(v) = (req.env)(name) {
            vars.set(name, v, Origin::Environment);
        }
    }
    for f in files.iter().filter(|f| f.verdict == Verdict::Read) {
        let role = role_of(f.dir, f.path.file_name());
        let (bytes, meta) = read_with_meta(&resolve_entry(&f.path, req.root))
            .map_err(|e| io_error(&f.path, "read the fragment", &e))?;
        if let Some(policy) = &policy {
            trust::check_link(&f.path, role, policy)?;
            trust::judge(&f.path, meta, role, policy)?;
        }
        let assignments = {
            let lookup = |n: &str| {
                vars.value(n)
                    .map(str::to_string)
                    .or_else(|| (req.env)(n))
                    .or_else(|| topology.value(n).map(str::to_string))
            };
            fragment::evaluate(&bytes, &lookup).map_err(|e| located(e, &f.path))?
        };
        let handoff = role == Role::Handoff;
        for a in assignments {
            if handoff && !HANDOFF.contains(&a.name.as_str()) {
                return Err(Error::new(
                    Kind::Config,
                    format!("{DESCRIPTOR} may only set {}, not {}", HANDOFF.join(", "), a.name),
                )
                .at(Location {
                    file: f.path.clone(),
                    line: a.line,
                    column: None,
                })
                .hint("the management agent hands over what to install; how it is verified belongs to the image"));
            }
            if TOPOLOGY.contains(&a.name.as_str()) {
                return Err(Error::new(
                    Kind::Config,
                    format!("{} is path topology and cannot be set in conf.d", a.name),
                )
                .at(Location {
                    file: f.path.clone(),
                    line: a.line,
                    column: None,
                })
                .hint(format!(
                    "set it in the EnvironmentFile ({})",
                    req.env_file
                        .unwrap_or(Path::new(DEFAULT_ENV_FILE))
                        .display()
                )));
            }
            vars.set(
                &a.name,
                a.value,
                Origin::Fragment {
                    path: f.path.clone(),
                    line: a.line,
                },
            );
        }
    }

    Ok(Loaded {
        env_file: EnvFileUse {
            path: env_path,
            found,
        },
        topology,
        conf_dirs: [
            (Dir::Lib, lib_dir, lib.is_some()),
            (Dir::Etc, etc_dir, etc.is_some()),
        ],
        files,
        vars,
        policy,
    })
}

/// A file's bytes and the metadata of the very descriptor they were read from.
fn read_with_meta(path: &Path) -> std::io::Result<(Vec<u8>, trust::Meta)> {
    use std::io::Read;
    let mut f = fs::File::open(path)?;
    let meta = trust::meta_of(&f.metadata()?);
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok((bytes, meta))
}

/// The management agent's file in the etc directory.
pub const DESCRIPTOR: &str = "descriptor.env";
/// What the agent may set in it: what to install, nothing about how.
pub const HANDOFF: [&str; 1] = ["URL"];

/// The etc directory and the agent's descriptor are the agent's to write; the rest the image's.
fn role_of(dir: Dir, name: Option<&std::ffi::OsStr>) -> Role {
    match (dir, name) {
        (Dir::Etc, None) => Role::Handoff,
        (Dir::Etc, Some(n)) if n == DESCRIPTOR => Role::Handoff,
        _ => Role::Image,
    }
}

/// The ownership policy, or `None` when SWUPDATE_STRICT_MODES=no.
fn trust_policy(topology: &Settings) -> Result<Option<Policy>, Error> {
    let uid = |name: &str| -> Result<Option<u32>, Error> {
        match topology.get(name).filter(|s| !s.value.is_empty()) {
            None => Ok(None),
            Some(s) => s.value.parse::<u32>().map(Some).map_err(|_| {
                crate::plan::setting_error(name, s, format!("`{}` is not a numeric uid", s.value))
            }),
        }
    };
    if !crate::plan::yes_no(topology, trust::SWUPDATE_STRICT_MODES, true)?.value {
        return Ok(None);
    }
    Ok(Some(Policy {
        trusted_uid: uid(trust::SWUPDATE_TRUSTED_UID)?.unwrap_or(0),
        agent_uid: uid(trust::SWUPDATE_AGENT_UID)?,
    }))
}

/// Lists a conf.d directory; `None` when it does not exist (that is fine).
fn scan(dir: &Path, root: &Root) -> Result<Option<Vec<Entry>>, Error> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error(dir, "list the conf.d directory", &e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| io_error(dir, "list the conf.d directory", &e))?;
        out.push(Entry {
            kind: classify(&entry, root),
            name: entry.file_name(),
        });
    }
    Ok(Some(out))
}

/// The directory entry's type comes with the listing; only a symlink needs looking further.
fn classify(entry: &fs::DirEntry, root: &Root) -> EntryKind {
    let of = |m: std::io::Result<fs::Metadata>| match m {
        Ok(m) if m.is_file() => EntryKind::File {
            empty: m.len() == 0,
        },
        Ok(_) => EntryKind::NotAFile,
        // Reading it will report the real problem (a dangling link, a permission).
        Err(_) => EntryKind::File { empty: false },
    };
    match entry.file_type() {
        Ok(t) if t.is_symlink() => {
            let path = entry.path();
            if fs::read_link(&path).is_ok_and(|t| t == Path::new("/dev/null")) {
                return EntryKind::DevNull;
            }
            of(fs::metadata(resolve_entry(&path, root)))
        }
        Ok(t) if t.is_file() => of(entry.metadata()),
        Ok(_) => EntryKind::NotAFile,
        Err(_) => EntryKind::File { empty: false },
    }
}

/// Under --root an absolute symlink points into the image, not at this machine.
fn resolve_entry(path: &Path, root: &Root) -> PathBuf {
    let Some(r) = root.dir() else {
        return path.to_path_buf();
    };
    match fs::read_link(path) {
        Ok(_) => path
            .strip_prefix(r)
            .map(|device| root.resolve(&Path::new("/").join(device)))
            .unwrap_or_else(|_| path.to_path_buf()),
        Err(_) => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_keep_line_column_and_hint() {
        let e = located(
            SyntaxError::new(crate::syntax::Pos { line: 2, column: 5 }, "bad").hint("h"),
            Path::new("/f"),
        );
        assert_eq!(e.summary(), "/f:2:5: bad");
        assert_eq!(e.hint.as_deref(), Some("h"));
    }
}
