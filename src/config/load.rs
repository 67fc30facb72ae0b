//! Reading the configuration from disk: the EnvironmentFile, the two conf.d directories, every
//! fragment and the agent's descriptor. This is the only place that reads the launcher's own
//! configuration files (swupdate's is read by [`crate::compat`]); what it returns is data.
//!
//! Its one write is the claim: a run renames `descriptor.env` to [`CLAIMED_DESCRIPTOR`] before
//! reading it, and renames it back when swupdate is not started ([`Loaded::release_claim`]).
//!
//! Every file is opened by [`Root::walk`] (component by component, `O_NOFOLLOW`, inside the
//! root), judged on the descriptor it is read from before a byte is read, must be a regular
//! file, and is read with a size bound (docs/threat-model.md).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::confd::{self, Decision, Dir, Entry, EntryKind, Verdict};
use crate::config::envfile;
use crate::config::fragment::{self, Rules};
use crate::config::settings::{self, Origin, Settings};
use crate::config::syntax::SyntaxError;
use crate::config::vocabulary::names::{
    SWUPDATE_CONF_DIR_ETC, SWUPDATE_CONF_DIR_LIB, SWUPDATE_DESCRIPTOR_DIR,
};
use crate::config::vocabulary::{FROM_ENVIRONMENT, HANDOFF, SCRIPT_DEFAULTS, TOPOLOGY};
use crate::error::{Error, Kind, Location};
use crate::rootfs::{DirHandle, Found, Hop, Root, Stat, WalkError};
use crate::trust::{self, Policy, Role};

pub const DEFAULT_ENV_FILE: &str = "/etc/default/swupdate";

/// The management agent's file.
pub const DESCRIPTOR: &str = "descriptor.env";
/// The name a descriptor is claimed under before it is read (hidden: never read again by a
/// later start, kept for a person to look at).
pub const CLAIMED_DESCRIPTOR: &str = ".descriptor.env.last";

/// Size bounds: nothing is read whole whatever its size.
pub mod limits {
    /// The EnvironmentFile and each fragment.
    pub const FILE: u64 = 1024 * 1024;
    /// descriptor.env (a URL is at most 4096 bytes).
    pub const DESCRIPTOR: u64 = 64 * 1024;
}

/// What was asked for.
pub struct Request<'a> {
    /// `--env-file`; `None` means the default, which may be missing.
    pub env_file: Option<&'a Path>,
    pub root: &'a Root,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Claim the descriptor (rename it to [`CLAIMED_DESCRIPTOR`]) before reading it: a run that
    /// starts an update; `check`, `explain` and `--print-argv` only look.
    pub claim: bool,
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
    /// The directory of a descriptor this run claimed.
    pub claimed: Option<DirHandle>,
}

impl Loaded {
    /// Gives a claimed descriptor back (swupdate was not started: the handoff is unused), unless
    /// the agent has written a newer one meanwhile, which then wins.
    pub fn release_claim(&self) {
        if let Some(dir) = &self.claimed {
            release(dir);
        }
    }

    /// The etc conf.d directory (host path).
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

/// The hops of a walk, kept to be judged once the policy is known (or not at all: a shadowed
/// file is never judged, as before).
type Hops = Vec<(PathBuf, Stat, Hop)>;

fn recorder(hops: &mut Hops) -> impl FnMut(&Path, &Stat, Hop) -> Result<(), Error> + '_ {
    move |p: &Path, st: &Stat, h: Hop| {
        hops.push((p.to_path_buf(), *st, h));
        Ok(())
    }
}

fn judge_all(hops: &Hops, role: Role, policy: Option<&Policy>) -> Result<(), Error> {
    let Some(policy) = policy else { return Ok(()) };
    for (p, st, h) in hops {
        // Only the file itself (and its own directory, judged by the caller) may be the agent's.
        let r = if *h == Hop::File { role } else { Role::Image };
        trust::hop(p, st, *h, r, policy)?;
    }
    Ok(())
}

/// A file opened by a walk, judged later, read with a bound.
struct Opened {
    file: std::fs::File,
    stat: Stat,
    hops: Hops,
}

/// Reads at most `limit` bytes; a larger file is refused without reading the rest.
fn read_bounded(o: &Opened, path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    (&o.file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_error(path, &format!("read the {what}"), &e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::new(
            Kind::Config,
            format!("the {what} is larger than {limit} bytes; none of it was used"),
        )
        .on(path));
    }
    Ok(bytes)
}

/// Whether a message may quote this file's text: only a file that everybody may read, and
/// never the agent's (what a message shows reaches the journal and `systemctl status`).
fn may_quote(st: &Stat, role: Role) -> bool {
    role == Role::Image && st.mode & 0o004 != 0
}

/// A directory of the device, opened with every component judged as the image's but its own
/// (`own`: the descriptor's directory may be the agent's). `None` when it does not exist.
fn open_conf_dir(
    root: &Root,
    device: &Path,
    own: Role,
    policy: Option<&Policy>,
) -> Result<Option<DirHandle>, Error> {
    let mut hops = Hops::new();
    let dir = root.open_dir(device, &mut recorder(&mut hops));
    let dir = match dir {
        Ok(d) => d,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(WalkError::Io(p, e)) => return Err(io_error(&p, "open the conf.d directory", &e)),
        Err(WalkError::Kind(p, kind)) => {
            return Err(Error::new(
                Kind::Io,
                format!("refusing the conf.d directory: it is {kind}, not a directory"),
            )
            .on(&p));
        }
        Err(e) => return Err(trust::walk_error(e, "conf.d directory")),
    };
    if let Some(policy) = policy {
        let last = hops.iter().rposition(|(_, st, h)| {
            *h == Hop::Dir && (st.dev, st.ino) == (dir.stat.dev, dir.stat.ino)
        });
        for (i, (p, st, h)) in hops.iter().enumerate() {
            let role = if Some(i) == last { own } else { Role::Image };
            trust::hop(p, st, *h, role, policy)?;
        }
    }
    Ok(Some(dir))
}

/// What an entry of a conf.d directory turned out to be when it was opened.
enum Opening {
    File(Opened),
    DevNull(Hops),
    Directory,
    /// Could not be opened; reported if it is to be read.
    Failed(Error),
}

fn open_entry(dir: &DirHandle, name: &OsStr, follow: bool) -> Option<Opening> {
    let mut hops = Hops::new();
    let r = dir.open(name, follow, &mut recorder(&mut hops));
    Some(match r {
        Ok(Found::File(file, stat)) => Opening::File(Opened { file, stat, hops }),
        Ok(Found::DevNull) => Opening::DevNull(hops),
        // Gone between the listing and the open: as if it had not been listed.
        Err(e) if e.is_not_found() && hops.is_empty() => return None,
        Err(WalkError::Kind(_, "a directory")) => Opening::Directory,
        Err(WalkError::Io(at, e)) => {
            let shown = dir.host_path().join(name);
            let via = if at == shown {
                String::new()
            } else {
                format!(" (at {})", at.display())
            };
            Opening::Failed(
                Error::new(Kind::Io, format!("cannot open the fragment: {e}{via}")).on(&shown),
            )
        }
        Err(e) => Opening::Failed(trust::walk_error(e, "fragment")),
    })
}

fn kind_of(o: &Opening) -> EntryKind {
    match o {
        Opening::File(f) => EntryKind::File {
            empty: f.stat.size == 0,
        },
        Opening::DevNull(_) => EntryKind::DevNull,
        Opening::Directory => EntryKind::NotAFile,
        Opening::Failed(_) => EntryKind::File { empty: false },
    }
}

/// A listed directory: its entries, opened (skipped names are not opened).
struct Listing {
    host: PathBuf,
    entries: Vec<Entry>,
    opened: HashMap<OsString, Opening>,
}

fn list(dir: &DirHandle, skip: &dyn Fn(&OsStr) -> bool) -> Result<Listing, Error> {
    let host = dir.host_path();
    let names = dir
        .list()
        .map_err(|e| io_error(&host, "list the conf.d directory", &e))?;
    let mut entries = Vec::new();
    let mut opened = HashMap::new();
    for name in names {
        if skip(&name) {
            continue;
        }
        if confd::skip_reason(&name).is_some() {
            entries.push(Entry {
                name,
                kind: EntryKind::File { empty: false },
            });
            continue;
        }
        let Some(o) = open_entry(dir, &name, true) else {
            continue;
        };
        entries.push(Entry {
            name: name.clone(),
            kind: kind_of(&o),
        });
        opened.insert(name, o);
    }
    Ok(Listing {
        host,
        entries,
        opened,
    })
}

fn release(dir: &DirHandle) {
    let _ = dir.rename_noreplace(OsStr::new(CLAIMED_DESCRIPTOR), OsStr::new(DESCRIPTOR));
}

/// Reads the whole configuration. A descriptor claimed before a later refusal is given back.
pub fn load(req: &Request) -> Result<Loaded, Error> {
    let mut claimed = None;
    match load_claiming(req, &mut claimed) {
        Ok(mut l) => {
            l.claimed = claimed;
            Ok(l)
        }
        Err(e) => {
            if let Some(d) = &claimed {
                release(d);
            }
            Err(e)
        }
    }
}

fn load_claiming(req: &Request, claimed: &mut Option<DirHandle>) -> Result<Loaded, Error> {
    let env_device = req.env_file.unwrap_or(Path::new(DEFAULT_ENV_FILE));
    let env_path = req.root.host(env_device);
    let (assignments, env_opened) = read_env_file(req, env_device, &env_path)?;
    let topology = settings::topology(&assignments, &env_path, req.env);
    let policy = trust_policy(&topology)?;
    let found = env_opened.is_some();
    if let Some(o) = &env_opened {
        judge_all(&o.hops, Role::Image, policy.as_ref())?;
    }

    let layout = layout(&topology)?;
    let mut dirs = open_conf_dirs(req.root, &layout, policy.as_ref())?;
    let empty = Vec::new();
    let decisions = confd::merge(
        dirs.lib.as_ref().map_or(&empty, |l| &l.entries),
        dirs.etc.as_ref().map_or(&empty, |l| &l.entries),
    );
    let mut files: Vec<ConfFile> = decisions
        .iter()
        .map(|Decision { name, dir, verdict }| ConfFile {
            path: dirs.host(*dir).join(name),
            dir: *dir,
            verdict: *verdict,
        })
        .collect();
    judge_masks(&decisions, &mut dirs, policy.as_ref())?;

    let mut vars = Settings::default();
    for &(name, value) in SCRIPT_DEFAULTS.iter() {
        vars.set(name, value, Origin::Default);
    }
    for &name in FROM_ENVIRONMENT.iter() {
        if let Some(v) = (req.env)(name) {
            vars.set(name, v, Origin::Environment);
        }
    }
    let ctx = Apply {
        env: req.env,
        topology: &topology,
        env_file: env_device,
    };
    read_fragments(&decisions, &mut dirs, &ctx, &mut vars, policy.as_ref())?;
    let descriptor = Descriptor {
        req,
        layout: &layout,
        etc_handle: dirs.etc_handle.as_ref(),
        policy: policy.as_ref(),
    };
    if let Some(f) = descriptor.read(&ctx, &mut vars, claimed)? {
        files.push(f);
    }

    Ok(Loaded {
        env_file: EnvFileUse {
            path: env_path,
            found,
        },
        topology,
        conf_dirs: [
            (Dir::Lib, dirs.lib_host, dirs.lib_handle.is_some()),
            (Dir::Etc, dirs.etc_host, dirs.etc_handle.is_some()),
        ],
        files,
        vars,
        policy,
        claimed: None,
    })
}

/// Reads and parses the EnvironmentFile (`None` opened: missing where that is allowed, or
/// /dev/null). It is judged before it is read, against what is known without it (the
/// environment, else root): a file that sets the policy must pass the policy it finds. The
/// caller judges it again under the policy it sets.
fn read_env_file(
    req: &Request,
    env_device: &Path,
    env_path: &Path,
) -> Result<(Vec<envfile::Assignment>, Option<Opened>), Error> {
    let pre = provisional_policy(req.env);
    let mut env_hops = Hops::new();
    let walked = req
        .root
        .walk(env_device, &mut |p: &Path, st: &Stat, h: Hop| {
            env_hops.push((p.to_path_buf(), *st, h));
            match &pre {
                Some(policy) => trust::hop(p, st, h, Role::Image, policy),
                None => Ok(()),
            }
        });
    match walked {
        Ok(Found::File(file, stat)) => {
            let o = Opened {
                file,
                stat,
                hops: std::mem::take(&mut env_hops),
            };
            let bytes = read_bounded(&o, env_path, limits::FILE, "EnvironmentFile")?;
            let assignments = envfile::parse(&bytes).map_err(|e| {
                let e = if may_quote(&o.stat, Role::Image) {
                    e
                } else {
                    e.unquoted()
                };
                located(e, env_path)
            })?;
            Ok((assignments, Some(o)))
        }
        Ok(Found::DevNull) => Ok((Vec::new(), None)),
        Err(e) if e.is_not_found() && req.env_file.is_none() => Ok((Vec::new(), None)),
        Err(e) if e.is_not_found() => {
            Err(Error::new(Kind::MissingInput, "EnvironmentFile not found").on(env_path))
        }
        Err(WalkError::Io(p, e)) => Err(io_error(&p, "read the EnvironmentFile", &e)),
        Err(e) => Err(trust::walk_error(e, "EnvironmentFile")),
    }
}

/// Where the configuration lives on the device (device paths), from the topology.
struct Layout {
    lib: PathBuf,
    etc: PathBuf,
    descriptor: PathBuf,
    /// The descriptor has a directory of its own (SWUPDATE_DESCRIPTOR_DIR), not the etc one.
    separate: bool,
}

fn layout(topology: &Settings) -> Result<Layout, Error> {
    let device_dir = |name: &str| -> Result<PathBuf, Error> {
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
        Ok(PathBuf::from(&s.value))
    };
    let lib = device_dir(SWUPDATE_CONF_DIR_LIB)?;
    let etc = device_dir(SWUPDATE_CONF_DIR_ETC)?;
    let descriptor = match topology.get(SWUPDATE_DESCRIPTOR_DIR) {
        Some(s) if !s.value.is_empty() => device_dir(SWUPDATE_DESCRIPTOR_DIR)?,
        _ => etc.clone(),
    };
    let separate = descriptor != etc;
    Ok(Layout {
        lib,
        etc,
        descriptor,
        separate,
    })
}

/// The two conf.d directories, opened and listed (`None`: the directory does not exist).
struct ConfDirs {
    lib_handle: Option<DirHandle>,
    etc_handle: Option<DirHandle>,
    lib_host: PathBuf,
    etc_host: PathBuf,
    lib: Option<Listing>,
    /// Without the descriptor: it is not part of the merge, but read last, by itself.
    etc: Option<Listing>,
}

impl ConfDirs {
    fn host(&self, d: Dir) -> &Path {
        if d == Dir::Lib {
            &self.lib_host
        } else {
            &self.etc_host
        }
    }

    /// The opened entry of a listed name, taken out (each is used once).
    fn take(&mut self, d: Dir, name: &OsStr) -> Option<Opening> {
        let l = if d == Dir::Lib {
            self.lib.as_mut()
        } else {
            self.etc.as_mut()
        };
        l.and_then(|l| l.opened.remove(name))
    }
}

fn open_conf_dirs(
    root: &Root,
    layout: &Layout,
    policy: Option<&Policy>,
) -> Result<ConfDirs, Error> {
    let lib_handle = open_conf_dir(root, &layout.lib, Role::Image, policy)?;
    let etc_role = if layout.separate {
        Role::Image
    } else {
        Role::Handoff
    };
    let etc_handle = open_conf_dir(root, &layout.etc, etc_role, policy)?;
    let is_descriptor = |n: &OsStr| n == DESCRIPTOR;
    let lib = match &lib_handle {
        Some(d) => Some(list(d, &|_| false)?),
        None => None,
    };
    let etc = match &etc_handle {
        Some(d) => Some(list(d, &is_descriptor)?),
        None => None,
    };
    let dirs = ConfDirs {
        lib_handle,
        etc_handle,
        lib_host: root.host(&layout.lib),
        etc_host: root.host(&layout.etc),
        lib,
        etc,
    };
    refuse_misplaced_files(&dirs, layout, policy)?;
    Ok(dirs)
}

/// What the directories may not hold: a descriptor in the lib one (or in the etc one when the
/// agent has its own directory), and anything but the descriptor in an etc directory the agent
/// owns.
fn refuse_misplaced_files(
    dirs: &ConfDirs,
    layout: &Layout,
    policy: Option<&Policy>,
) -> Result<(), Error> {
    if let Some(l) = dirs
        .lib
        .as_ref()
        .filter(|l| l.entries.iter().any(|e| e.name == DESCRIPTOR))
    {
        return Err(Error::new(
            Kind::Config,
            format!("{DESCRIPTOR} in the lib conf.d directory: it is the agent's handoff, never the image's"),
        )
        .on(&l.host.join(DESCRIPTOR)));
    }
    if let (Some(policy), Some(d), Some(l)) = (policy, &dirs.etc_handle, &dirs.etc) {
        // A directory the agent owns: it can rename anything there, so nothing there may add
        // to or shadow the image's configuration.
        if policy.agent_owns(&d.stat) {
            if let Some(e) = l
                .entries
                .iter()
                .find(|e| confd::skip_reason(&e.name).is_none())
            {
                return Err(Error::new(
                    Kind::Config,
                    format!(
                        "the etc conf.d directory belongs to the agent (uid {}), so it may hold only {DESCRIPTOR}; `{}` would add to or shadow the image's configuration",
                        d.stat.uid,
                        e.name.to_string_lossy()
                    ),
                )
                .on(&l.host.join(&e.name))
                .hint("give the agent its own directory (SWUPDATE_DESCRIPTOR_DIR) and make the etc directory root's, or remove the file"));
            }
        }
    }
    if layout.separate {
        if let Some(l) = &dirs.etc_handle {
            if l.lstat_entry(OsStr::new(DESCRIPTOR)).is_ok() {
                return Err(Error::new(
                    Kind::Config,
                    format!("{DESCRIPTOR} in the etc conf.d directory, but SWUPDATE_DESCRIPTOR_DIR is {}", layout.descriptor.display()),
                )
                .on(&dirs.etc_host.join(DESCRIPTOR))
                .hint("the agent writes its descriptor only to SWUPDATE_DESCRIPTOR_DIR; remove this one (a leftover of the old layout)"));
            }
        }
    }
    Ok(())
}

/// Masks are judged (their owner chose to hide a file), shadowed files are not.
fn judge_masks(
    decisions: &[Decision],
    dirs: &mut ConfDirs,
    policy: Option<&Policy>,
) -> Result<(), Error> {
    for d in decisions.iter().filter(|d| d.verdict == Verdict::Mask) {
        match dirs.take(d.dir, &d.name) {
            Some(Opening::File(o)) => judge_all(&o.hops, Role::Image, policy)?,
            Some(Opening::DevNull(hops)) => judge_all(&hops, Role::Image, policy)?,
            _ => {}
        }
    }
    Ok(())
}

/// Judges, reads and applies every fragment the merge decided to read, in its order.
fn read_fragments(
    decisions: &[Decision],
    dirs: &mut ConfDirs,
    ctx: &Apply,
    vars: &mut Settings,
    policy: Option<&Policy>,
) -> Result<(), Error> {
    for d in decisions.iter().filter(|d| d.verdict == Verdict::Read) {
        let path = dirs.host(d.dir).join(&d.name);
        let o = match dirs.take(d.dir, &d.name) {
            Some(Opening::File(o)) => o,
            Some(Opening::Failed(e)) => return Err(e),
            _ => {
                return Err(Error::new(
                    Kind::Io,
                    "cannot read the fragment: it changed while it was read",
                )
                .on(&path));
            }
        };
        judge_all(&o.hops, Role::Image, policy)?;
        let bytes = read_bounded(&o, &path, limits::FILE, "fragment")?;
        let rules = Rules {
            expansions: true,
            quote: may_quote(&o.stat, Role::Image),
        };
        ctx.apply(vars, &bytes, &path, rules, Role::Image)?;
    }
    Ok(())
}

/// Where the agent's descriptor is read from, and under which policy.
struct Descriptor<'a> {
    req: &'a Request<'a>,
    layout: &'a Layout,
    /// The etc directory, already open: the descriptor's own unless it has a separate one.
    etc_handle: Option<&'a DirHandle>,
    policy: Option<&'a Policy>,
}

impl Descriptor<'_> {
    /// The agent's descriptor, last: it can only set the handoff variables. Claimed first
    /// when the request says so (`claimed` then holds its directory). `None`: no descriptor.
    fn read(
        &self,
        ctx: &Apply,
        vars: &mut Settings,
        claimed: &mut Option<DirHandle>,
    ) -> Result<Option<ConfFile>, Error> {
        let handle = if self.layout.separate {
            open_conf_dir(
                self.req.root,
                &self.layout.descriptor,
                Role::Handoff,
                self.policy,
            )?
        } else {
            self.etc_handle.cloned()
        };
        let Some(dir) = &handle else {
            return Ok(None);
        };
        let host = self.req.root.host(&self.layout.descriptor).join(DESCRIPTOR);
        let Some(o) = claim_descriptor(dir, self.req.claim, &host, claimed)? else {
            return Ok(None);
        };
        judge_all(&o.hops, Role::Handoff, self.policy)?;
        let bytes = read_bounded(&o, &host, limits::DESCRIPTOR, DESCRIPTOR)?;
        ctx.apply(vars, &bytes, &host, Rules::AGENT, Role::Handoff)?;
        Ok(Some(ConfFile {
            path: host,
            dir: Dir::Etc,
            verdict: Verdict::Read,
        }))
    }
}

/// Opens the descriptor; with `claim`, first renames it to [`CLAIMED_DESCRIPTOR`] (atomic:
/// a descriptor the agent writes after this moment is a new `descriptor.env`, left for the
/// next start) and opens the claimed file. Never follows a symlink. `None`: no descriptor.
fn claim_descriptor(
    dir: &DirHandle,
    claim: bool,
    shown: &Path,
    claimed: &mut Option<DirHandle>,
) -> Result<Option<Opened>, Error> {
    let name = if claim {
        match dir.rename(OsStr::new(DESCRIPTOR), OsStr::new(CLAIMED_DESCRIPTOR)) {
            Ok(()) => {
                *claimed = Some(dir.clone());
                CLAIMED_DESCRIPTOR
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(shown, "claim the descriptor", &e)),
        }
    } else {
        DESCRIPTOR
    };
    let mut hops = Hops::new();
    let opened = dir.open(OsStr::new(name), false, &mut recorder(&mut hops));
    match opened {
        Ok(Found::File(file, stat)) => Ok(Some(Opened { file, stat, hops })),
        Ok(Found::DevNull) => Ok(None),
        Err(e) if e.is_not_found() => Ok(None),
        Err(WalkError::Kind(_, kind)) => Err(Error::new(
            Kind::Io,
            format!("refusing {DESCRIPTOR}: it is {kind}, not a regular file; nothing was read"),
        )
        .on(shown)
        .hint("the agent writes a regular file (a hidden temporary file, renamed onto descriptor.env)")),
        Err(e) => Err(trust::walk_error(e, DESCRIPTOR)),
    }
}

/// What evaluating a file needs besides its bytes.
struct Apply<'a> {
    env: &'a dyn Fn(&str) -> Option<String>,
    topology: &'a Settings,
    env_file: &'a Path,
}

impl Apply<'_> {
    fn apply(
        &self,
        vars: &mut Settings,
        bytes: &[u8],
        path: &Path,
        rules: Rules,
        role: Role,
    ) -> Result<(), Error> {
        let assignments = {
            let lookup = |n: &str| {
                vars.value(n)
                    .map(str::to_string)
                    .or_else(|| (self.env)(n))
                    .or_else(|| self.topology.value(n).map(str::to_string))
            };
            fragment::evaluate_with(bytes, &lookup, rules).map_err(|e| located(e, path))?
        };
        let handoff = role == Role::Handoff;
        for a in assignments {
            let at = Location {
                file: path.to_path_buf(),
                line: a.line,
                column: None,
            };
            if handoff && !HANDOFF.contains(&a.name.as_str()) {
                return Err(Error::new(
                    Kind::Config,
                    format!("{DESCRIPTOR} may only set {}, not {}", HANDOFF.join(", "), a.name),
                )
                .at(at)
                .hint("the management agent hands over what to install; how it is verified belongs to the image"));
            }
            if TOPOLOGY.contains(&a.name.as_str()) {
                return Err(Error::new(
                    Kind::Config,
                    format!("{} is path topology and cannot be set in conf.d", a.name),
                )
                .at(at)
                .hint(format!(
                    "set it in the EnvironmentFile ({})",
                    self.env_file.display()
                )));
            }
            vars.set(
                &a.name,
                a.value,
                Origin::Fragment {
                    path: path.to_path_buf(),
                    line: a.line,
                },
            );
        }
        Ok(())
    }
}

/// The policy the EnvironmentFile itself is judged by before it is read: from the environment
/// (systemd loaded the same file, or an operator set it), else the defaults.
fn provisional_policy(env: &dyn Fn(&str) -> Option<String>) -> Option<Policy> {
    if env(trust::SWUPDATE_STRICT_MODES).as_deref() == Some("no") {
        return None;
    }
    let uid = |n: &str| env(n).and_then(|v| v.parse::<u32>().ok());
    Some(Policy {
        trusted_uid: uid(trust::SWUPDATE_TRUSTED_UID).unwrap_or(0),
        agent_uid: None,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_keep_line_column_and_hint() {
        let e = located(
            SyntaxError::new(crate::config::syntax::Pos { line: 2, column: 5 }, "bad").hint("h"),
            Path::new("/f"),
        );
        assert_eq!(e.summary(), "/f:2:5: bad");
        assert_eq!(e.hint.as_deref(), Some("h"));
    }
}
