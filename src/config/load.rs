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

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::confd::{self, Decision, Dir, Entry, EntryKind, EtcUse, Misplaced, Verdict};
pub use crate::config::confd::{CLAIMED_DESCRIPTOR, DESCRIPTOR};
use crate::config::envfile;
use crate::config::fragment::{self, Rules};
use crate::config::settings::{self, Origin, Settings};
use crate::config::syntax::SyntaxError;
use crate::config::vocabulary::names::{
    SWUPDATE_CONF_DIR_ETC, SWUPDATE_CONF_DIR_LIB, SWUPDATE_DESCRIPTOR_DIR, SWUPDATE_SOURCE,
};
use crate::config::vocabulary::{FROM_ENVIRONMENT, HANDOFF, SCRIPT_DEFAULTS};
use crate::error::{Error, Kind, Location};
use crate::rootfs::{DirHandle, EntryType, Found, Hop, Root, Stat, WalkError};
use crate::secret;
use crate::system::signals;
use crate::trust::{self, Policy, Role};

pub const DEFAULT_ENV_FILE: &str = "/etc/default/swupdate";

/// Size bounds: nothing is read whole whatever its size, no directory listed whole whatever
/// it holds.
pub mod limits {
    /// The EnvironmentFile and each fragment.
    pub const FILE: u64 = 1024 * 1024;
    /// descriptor.env (a URL is at most 4096 bytes).
    pub const DESCRIPTOR: u64 = 64 * 1024;
    /// Entries of one conf.d directory, hidden ones included (a device has tens; the agent
    /// may write hidden files into its directory, and a listing costs memory per name).
    pub const ENTRIES: usize = 4096;
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
    /// The run installs a file the command line names (`--update-file`, `--update-medium`):
    /// the agent's descriptor is the OTA path's alone, so it is neither read nor claimed.
    pub local_update: bool,
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

/// One conf.d directory: where it is, and, when it exists, its handle and what it holds.
#[derive(Debug, Clone)]
pub struct ConfDir {
    pub which: Dir,
    /// Its host path.
    pub path: PathBuf,
    /// `None`: the directory does not exist.
    handle: Option<DirHandle>,
    /// Everybody may search every directory on the way to it, itself included.
    reached: bool,
    /// The listing, in the order the directory gave it (the merge sorts).
    entries: Vec<Entry>,
    /// What the listing said each entry is (parallel to `entries`).
    types: Vec<EntryType>,
}

impl ConfDir {
    pub fn exists(&self) -> bool {
        self.handle.is_some()
    }
}

/// Everything read, before interpretation.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub env_file: EnvFileUse,
    pub topology: Settings,
    pub lib: ConfDir,
    pub etc: ConfDir,
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

    /// The two conf.d directories, lib first.
    pub fn conf_dirs(&self) -> [&ConfDir; 2] {
        [&self.lib, &self.etc]
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

/// The hops of a walk, kept to be judged once the policy is known.
type Hops = Vec<(PathBuf, Stat, Hop)>;

fn recorder(hops: &mut Hops) -> impl FnMut(&Path, &Stat, Hop) -> Result<(), Error> + '_ {
    move |p: &Path, st: &Stat, h: Hop| {
        hops.push((p.to_path_buf(), *st, h));
        Ok(())
    }
}

/// Judges every hop of a walk as it is made: the file at the end as `role` (only it, and its
/// own directory, judged by the caller, may be the agent's), everything on the way as the
/// image's.
fn judge_as(
    role: Role,
    policy: Option<&Policy>,
) -> impl FnMut(&Path, &Stat, Hop) -> Result<(), Error> + '_ {
    move |p: &Path, st: &Stat, h: Hop| match policy {
        Some(policy) => {
            let r = if h == Hop::File { role } else { Role::Image };
            trust::hop(p, st, h, r, policy)
        }
        None => Ok(()),
    }
}

fn judge_all(hops: &Hops, role: Role, policy: Option<&Policy>) -> Result<(), Error> {
    let mut judge = judge_as(role, policy);
    hops.iter().try_for_each(|(p, st, h)| judge(p, st, *h))
}

/// Reads at most `limit` bytes; a larger file is refused without reading the rest.
fn read_bounded(
    file: &std::fs::File,
    stat: &Stat,
    path: &Path,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, Error> {
    // Room for what fstat said and one byte more: a read that stops short of the room, at or
    // past the size fstat gave, is the end of a regular file, seen without a second read (a
    // thousand fragments, a thousand system calls fewer). A file that grew is read on to the
    // limit and one byte.
    let room = usize::try_from(stat.size.min(limit) + 1).unwrap_or(0);
    let mut bytes = vec![0u8; room];
    let mut reader = file;
    let first = loop {
        match reader.read(&mut bytes) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            r => break r,
        }
    }
    .map_err(|e| io_error(path, &format!("read the {what}"), &e))?;
    bytes.truncate(first);
    if first == room || (first as u64) < stat.size {
        reader
            .take((limit + 1).saturating_sub(first as u64))
            .read_to_end(&mut bytes)
            .map_err(|e| io_error(path, &format!("read the {what}"), &e))?;
    }
    if bytes.len() as u64 > limit {
        return Err(Error::new(
            Kind::Config,
            format!("the {what} is larger than {limit} bytes; none of it was used"),
        )
        .on(path));
    }
    Ok(bytes)
}

/// Whether a message may quote this file's text, and show the values it sets: only a file that
/// everybody may read, at the end of a path everybody may search (a `0644` file in a `0700`
/// directory is as private as a `0600` one), and never the agent's (what a message shows
/// reaches the journal and `systemctl status`). `reached`: every directory on the way to it is
/// searchable by others ([`everybody_searches`]).
fn may_quote(st: &Stat, role: Role, reached: bool) -> bool {
    role == Role::Image && reached && st.mode & 0o004 != 0
}

/// Whether every directory among `hops` may be searched by users other than its owner and
/// group (`o+x`): a reader of the output could reach what is below them.
fn everybody_searches<'a>(mut hops: impl Iterator<Item = (&'a Stat, Hop)>) -> bool {
    hops.all(|(st, h)| h != Hop::Dir || st.mode & 0o001 != 0)
}

/// A file's values are private when a message may not quote it: each is recorded as a secret
/// ([`secret::mark_private`]) before anything can show it, so neither `explain` nor an error
/// in STATUS= prints what only a private file holds.
fn mark_private_values<'a>(quotable: bool, values: impl Iterator<Item = &'a str>) {
    if !quotable {
        values.for_each(secret::mark_private);
    }
}

/// A directory of the device, opened with every component judged as the image's but its own
/// (`own`: the descriptor's directory may be the agent's). `None` when it does not exist.
/// With it, whether everybody may search every directory on the way ([`everybody_searches`]).
fn open_conf_dir(
    root: &Root,
    device: &Path,
    own: Role,
    policy: Option<&Policy>,
) -> Result<Option<(DirHandle, bool)>, Error> {
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
    let reached = everybody_searches(hops.iter().map(|(_, st, h)| (st, *h)));
    Ok(Some((dir, reached)))
}

impl ConfDir {
    /// Opens (judging the way to it) and lists a conf.d directory. Nothing in it is opened
    /// but symlinks of names that may be merged, followed to learn what they stand for
    /// (nothing is read, no descriptor kept). A regular file is `lstat`ed for its size only
    /// when `shadows(name)`: an empty file masks the lib file of its name, and elsewhere
    /// emptiness changes nothing (an empty file read gives nothing), so a thousand fragments
    /// cost no thousand `lstat`s.
    fn open(
        root: &Root,
        which: Dir,
        device: &Path,
        own: Role,
        policy: Option<&Policy>,
        shadows: &dyn Fn(&OsStr) -> bool,
    ) -> Result<ConfDir, Error> {
        let path = root.host(device);
        let opened = open_conf_dir(root, device, own, policy)?;
        let mut dir = ConfDir {
            which,
            path,
            reached: opened.as_ref().is_some_and(|(_, r)| *r),
            handle: opened.map(|(h, _)| h),
            entries: Vec::new(),
            types: Vec::new(),
        };
        let Some(handle) = &dir.handle else {
            return Ok(dir);
        };
        // Only names that may be merged are looked at: never the descriptor (read by itself,
        // never followed: a symlink there is refused, not opened) nor a name that never counts.
        let merged = |n: &OsStr| confd::skip_reason(n).is_none() && n != DESCRIPTOR;
        let listed = handle
            .list_typed(limits::ENTRIES, &|n| merged(n) && shadows(n))
            .map_err(|e| io_error(&dir.path, "list the conf.d directory", &e))?
            .ok_or_else(|| {
                Error::new(
                    Kind::Config,
                    format!(
                        "refusing the conf.d directory: it holds more than {} entries (hidden files count too); nothing was read",
                        limits::ENTRIES
                    ),
                )
                .on(&dir.path)
                .hint("remove what does not belong there: a device's conf.d holds tens of files")
            })?;
        for (name, ty) in listed {
            let kind = match ty {
                _ if !merged(&name) => EntryKind::File { empty: false },
                EntryType::File { size } => EntryKind::File {
                    empty: size == Some(0),
                },
                EntryType::Dir => EntryKind::NotAFile,
                // Read, to be refused then with what it is.
                EntryType::Other => EntryKind::File { empty: false },
                EntryType::Symlink => match symlink_kind(handle, &name) {
                    Some(k) => k,
                    None => continue,
                },
            };
            dir.entries.push(Entry { name, kind });
            dir.types.push(ty);
        }
        Ok(dir)
    }

    /// Opens the chosen entry `at` for reading, judging every hop as the image's. `None`:
    /// it stands for /dev/null now. With the file, whether a message may quote it
    /// ([`may_quote`]: everybody may read it and search every directory on the way).
    fn open_chosen(
        &self,
        at: usize,
        shown: &Path,
        policy: Option<&Policy>,
    ) -> Result<Option<(std::fs::File, Stat, bool)>, Error> {
        let (Some(handle), Some(entry), Some(ty)) =
            (&self.handle, self.entries.get(at), self.types.get(at))
        else {
            return Err(
                Error::new(Kind::Io, "cannot open the fragment: it was not listed").on(shown),
            );
        };
        let name = &entry.name;
        if matches!(ty, EntryType::File { .. }) {
            // A regular file when listed: opened directly (O_NOFOLLOW, O_NONBLOCK) and judged
            // on what was opened. A symlink swapped in meanwhile is followed below.
            match handle.open_entry_file(name) {
                Ok((file, st)) if st.is_file() => {
                    judge_as(Role::Image, policy)(shown, &st, Hop::File)?;
                    let quotable = may_quote(&st, Role::Image, self.reached);
                    return Ok(Some((file, st, quotable)));
                }
                Ok((_, st)) => {
                    return Err(Error::new(
                        Kind::Io,
                        format!(
                            "refusing the fragment: it is {}, not a regular file; nothing was read",
                            st.kind_name()
                        ),
                    )
                    .on(shown));
                }
                Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {}
                Err(e) => return Err(io_error(shown, "open the fragment", &e)),
            }
        }
        // Followed through symlinks: every directory the walk passes must be searchable too.
        let mut reached = self.reached;
        let mut judge = judge_as(Role::Image, policy);
        let opened = handle.open(name, true, &mut |p: &Path, st: &Stat, h: Hop| {
            reached &= everybody_searches(std::iter::once((st, h)));
            judge(p, st, h)
        });
        match opened {
            Ok(Found::File(file, st)) => {
                let quotable = may_quote(&st, Role::Image, reached);
                Ok(Some((file, st, quotable)))
            }
            Ok(Found::DevNull) => Ok(None),
            Err(WalkError::Io(at, e)) => {
                let via = if at == shown {
                    String::new()
                } else {
                    format!(" (at {})", at.display())
                };
                Err(Error::new(Kind::Io, format!("cannot open the fragment: {e}{via}")).on(shown))
            }
            Err(e) => Err(trust::walk_error(e, "fragment")),
        }
    }
}

/// What a listed symlink stands for, followed inside the root (nothing judged or read yet:
/// that happens if the merge chooses it). `None`: the entry is gone since the listing.
fn symlink_kind(dir: &DirHandle, name: &OsStr) -> Option<EntryKind> {
    let mut hops = 0;
    let r = dir.open(name, true, &mut |_: &Path, _: &Stat, _| {
        hops += 1;
        Ok(())
    });
    Some(match r {
        Ok(Found::File(_, st)) => EntryKind::File {
            empty: st.size == 0,
        },
        Ok(Found::DevNull) => EntryKind::DevNull,
        Err(e) if e.is_not_found() && hops == 0 => return None,
        Err(WalkError::Kind(_, "a directory")) => EntryKind::NotAFile,
        // Could not be followed: reading it will say why.
        Err(_) => EntryKind::File { empty: false },
    })
}

fn release(dir: &DirHandle) {
    signals::disarm();
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
    let (assignments, env_hops) = read_env_file(req, env_device, &env_path)?;
    let topology = settings::topology(&assignments, &env_path, req.env);
    let policy = trust_policy(&topology)?;
    let found = env_hops.is_some();
    if let Some(hops) = &env_hops {
        judge_all(hops, Role::Image, policy.as_ref())?;
    }

    let layout = layout(&topology)?;
    let (mut lib, mut etc) = open_conf_dirs(req.root, &layout, policy.as_ref())?;
    let decisions = confd::merge(&lib.entries, &etc.entries);
    let mut files: Vec<ConfFile> = decisions
        .iter()
        .map(|d| ConfFile {
            path: dir_of(&lib, &etc, d.dir).path.join(&d.name),
            dir: d.dir,
            verdict: d.verdict,
        })
        .collect();

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
    let chosen = Chosen {
        lib: &lib,
        etc: &etc,
        policy: policy.as_ref(),
    };
    chosen.read(&decisions, &files, &ctx, &mut vars)?;
    let descriptor = Descriptor {
        req,
        layout: &layout,
        etc_handle: etc.handle.as_ref(),
        policy: policy.as_ref(),
    };
    if ota_path(req.local_update, vars.value(SWUPDATE_SOURCE)) {
        if let Some(f) = descriptor.read(&ctx, &mut vars, claimed)? {
            files.push(f);
        }
    }
    // The listing was for the merge; what is kept says where each directory is.
    for d in [&mut lib, &mut etc] {
        d.entries = Vec::new();
        d.types = Vec::new();
    }

    Ok(Loaded {
        env_file: EnvFileUse {
            path: env_path,
            found,
        },
        topology,
        lib,
        etc,
        files,
        vars,
        policy,
        claimed: None,
    })
}

/// Whether the agent's descriptor belongs to this run: it hands over a download's URL, so it is
/// the OTA path's alone. A local update or the daemon neither consume it (a pending OTA
/// handoff stays for its own start) nor depend on it being valid (a malformed descriptor
/// cannot switch off the rescue path). The descriptor cannot set `SWUPDATE_SOURCE` itself.
pub fn ota_path(local_update: bool, source: Option<&str>) -> bool {
    !local_update && source == Some("download")
}

fn dir_of<'a>(lib: &'a ConfDir, etc: &'a ConfDir, d: Dir) -> &'a ConfDir {
    match d {
        Dir::Lib => lib,
        Dir::Etc => etc,
    }
}

/// Reads and parses the EnvironmentFile (`None` hops: missing where that is allowed, or
/// /dev/null). It is judged before it is read, against what is known without it (the
/// environment, else root): a file that sets the policy must pass the policy it finds. The
/// caller judges its hops again under the policy it sets.
fn read_env_file(
    req: &Request,
    env_device: &Path,
    env_path: &Path,
) -> Result<(Vec<envfile::Assignment>, Option<Hops>), Error> {
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
            let bytes = read_bounded(&file, &stat, env_path, limits::FILE, "EnvironmentFile")?;
            let reached = everybody_searches(env_hops.iter().map(|(_, st, h)| (st, *h)));
            let quotable = may_quote(&stat, Role::Image, reached);
            let assignments = envfile::parse(&bytes).map_err(|e| {
                let e = if quotable { e } else { e.unquoted() };
                located(e, env_path)
            })?;
            mark_private_values(quotable, assignments.iter().map(|a| a.value.as_str()));
            Ok((assignments, Some(env_hops)))
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
            return Err(settings::setting_error(
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

/// The two conf.d directories, opened and listed; the descriptor is left out of the etc
/// listing (it is not part of the merge, but read last, by itself).
fn open_conf_dirs(
    root: &Root,
    layout: &Layout,
    policy: Option<&Policy>,
) -> Result<(ConfDir, ConfDir), Error> {
    let lib = ConfDir::open(root, Dir::Lib, &layout.lib, Role::Image, policy, &|_| false)?;
    let in_lib: std::collections::HashSet<&OsStr> =
        lib.entries.iter().map(|e| e.name.as_os_str()).collect();
    let etc_role = if layout.separate {
        Role::Image
    } else {
        Role::Handoff
    };
    let mut etc = ConfDir::open(root, Dir::Etc, &layout.etc, etc_role, policy, &|n| {
        in_lib.contains(n)
    })?;
    let etc_use = EtcUse {
        agent_owned: match (policy, &etc.handle) {
            (Some(policy), Some(d)) => policy.agent_owns(&d.stat),
            _ => false,
        },
        descriptor_elsewhere: layout.separate,
    };
    refuse_misplaced(&lib, &etc, etc_use, layout)?;
    if let Some(i) = etc.entries.iter().position(|e| e.name == DESCRIPTOR) {
        etc.entries.remove(i);
        etc.types.remove(i);
    }
    Ok((lib, etc))
}

/// Refuses the configuration for the first entry that may not be where it is
/// ([`confd::misplaced`]).
fn refuse_misplaced(
    lib: &ConfDir,
    etc: &ConfDir,
    etc_use: EtcUse,
    layout: &Layout,
) -> Result<(), Error> {
    let found = [lib, etc]
        .into_iter()
        .flat_map(|d| d.entries.iter().map(move |e| (d, e)))
        .filter_map(|(d, e)| Some((confd::misplaced(d.which, &e.name, etc_use)?, d, e)))
        .min_by_key(|(why, _, _)| *why);
    let Some((why, dir, entry)) = found else {
        return Ok(());
    };
    let at = dir.path.join(&entry.name);
    Err(match why {
        Misplaced::DescriptorInLib => Error::new(
            Kind::Config,
            format!("{DESCRIPTOR} in the lib conf.d directory: it is the agent's handoff, never the image's"),
        )
        .on(&at),
        Misplaced::AgentAddsConfiguration => {
            let uid = dir.handle.as_ref().map_or(0, |d| d.stat.uid);
            Error::new(
                Kind::Config,
                format!(
                    "the etc conf.d directory belongs to the agent (uid {uid}), so it may hold only {DESCRIPTOR}; `{}` would add to or shadow the image's configuration",
                    entry.name.to_string_lossy()
                ),
            )
            .on(&at)
            .hint("give the agent its own directory (SWUPDATE_DESCRIPTOR_DIR) and make the etc directory root's, or remove the file")
        }
        Misplaced::DescriptorOutsideItsDirectory => Error::new(
            Kind::Config,
            format!("{DESCRIPTOR} in the etc conf.d directory, but SWUPDATE_DESCRIPTOR_DIR is {}", layout.descriptor.display()),
        )
        .on(&at)
        .hint("the agent writes its descriptor only to SWUPDATE_DESCRIPTOR_DIR; remove this one (a leftover of the old layout)"),
    })
}

/// The files the merge chose, opened, judged and read one at a time.
struct Chosen<'a> {
    lib: &'a ConfDir,
    etc: &'a ConfDir,
    policy: Option<&'a Policy>,
}

impl Chosen<'_> {
    /// Judges every mask (its owner chose to hide a file; a shadowed file is never judged),
    /// then judges, reads and applies every fragment to read, in the merge's order. Each is
    /// closed before the next is opened.
    fn read(
        &self,
        decisions: &[Decision],
        files: &[ConfFile],
        ctx: &Apply,
        vars: &mut Settings,
    ) -> Result<(), Error> {
        for (d, f) in decisions.iter().zip(files) {
            if d.verdict != Verdict::Mask {
                continue;
            }
            let dir = dir_of(self.lib, self.etc, d.dir);
            match dir.open_chosen(d.at, &f.path, self.policy) {
                // Refused for its owner or mode (or a hop's): whoever could write it chose
                // what it hides.
                Err(e) if e.kind == Kind::Config => return Err(e),
                // Opened (and closed at once), or not openable: it hides the lib file all
                // the same.
                Ok(_) | Err(_) => {}
            }
        }
        for (d, f) in decisions.iter().zip(files) {
            if d.verdict != Verdict::Read {
                continue;
            }
            let dir = dir_of(self.lib, self.etc, d.dir);
            let Some((file, stat, quotable)) = dir.open_chosen(d.at, &f.path, self.policy)? else {
                return Err(Error::new(
                    Kind::Io,
                    "cannot read the fragment: it changed while it was read",
                )
                .on(&f.path));
            };
            let bytes = read_bounded(&file, &stat, &f.path, limits::FILE, "fragment")?;
            drop(file);
            let rules = Rules {
                expansions: true,
                quote: quotable,
            };
            ctx.apply(vars, &bytes, &f.path, rules, Role::Image)?;
        }
        Ok(())
    }
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
            .map(|(h, _)| h)
        } else {
            self.etc_handle.cloned()
        };
        let Some(dir) = &handle else {
            return Ok(None);
        };
        let host = self.req.root.host(&self.layout.descriptor).join(DESCRIPTOR);
        let Some((file, stat)) =
            claim_descriptor(dir, self.req.claim, &host, claimed, self.policy)?
        else {
            return Ok(None);
        };
        let bytes = read_bounded(&file, &stat, &host, limits::DESCRIPTOR, DESCRIPTOR)?;
        ctx.apply(vars, &bytes, &host, Rules::AGENT, Role::Handoff)?;
        Ok(Some(ConfFile {
            path: host,
            dir: Dir::Etc,
            verdict: Verdict::Read,
        }))
    }
}

/// Opens the descriptor and judges it as the agent's; with `claim`, first renames it to
/// [`CLAIMED_DESCRIPTOR`] (atomic: a descriptor the agent writes after this moment is a new
/// `descriptor.env`, left for the next start) and opens the claimed file. Never follows a
/// symlink. `None`: no descriptor.
fn claim_descriptor(
    dir: &DirHandle,
    claim: bool,
    shown: &Path,
    claimed: &mut Option<DirHandle>,
    policy: Option<&Policy>,
) -> Result<Option<(std::fs::File, Stat)>, Error> {
    let name = if claim {
        // A stop signal from here until swupdate runs gives the claim back (system::signals).
        let renamed = dir.fd().and_then(|fd| {
            signals::claim_given_back_on_stop(fd, confd::CLAIMED_DESCRIPTOR_C, confd::DESCRIPTOR_C, || {
                dir.rename(OsStr::new(DESCRIPTOR), OsStr::new(CLAIMED_DESCRIPTOR))
            })
        });
        match renamed {
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
    let opened = dir.open(
        OsStr::new(name),
        false,
        &mut judge_as(Role::Handoff, policy),
    );
    match opened {
        Ok(Found::File(file, stat)) => Ok(Some((file, stat))),
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
        if role == Role::Image {
            mark_private_values(rules.quote, assignments.iter().map(|a| a.value.as_str()));
        }
        let handoff = role == Role::Handoff;
        for a in assignments {
            let at = Location {
                file: path.to_path_buf(),
                line: a.line,
                column: None,
            };
            match confd::refused_assignment(&a.name, handoff) {
                None => {}
                Some(confd::Refused::NotHandoff) => {
                    return Err(Error::new(
                        Kind::Config,
                        format!("{DESCRIPTOR} may only set {}, not {}", HANDOFF.join(", "), a.name),
                    )
                    .at(at)
                    .hint("the management agent hands over what to install; how it is verified belongs to the image"));
                }
                Some(confd::Refused::Topology) => {
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
            }
            if let Some(how) = confd::reaches_swupdate(&a, (self.env)(&a.name).is_some()) {
                return Err(reaches_swupdate_error(&a, how, self.env_file).at(at));
            }
            vars.set_expanded(
                &a.name,
                a.value,
                Origin::Fragment {
                    path: path.to_path_buf(),
                    line: a.line,
                },
                a.expanded,
            );
        }
        Ok(())
    }
}

/// A fragment hands a variable to swupdate's environment, as swupdate.sh's shell did: refused
/// with the place that does it for the unit.
fn reaches_swupdate_error(a: &fragment::Assignment, how: confd::Handed, env_file: &Path) -> Error {
    let name = &a.name;
    let what = match how {
        confd::Handed::Exported => format!("`export {name}`"),
        confd::Handed::AlreadyInTheEnvironment => {
            format!("{name}, which is in the launcher's environment,")
        }
    };
    Error::new(
        Kind::Config,
        format!(
            "{what} would reach swupdate's environment under swupdate.sh; the launcher reads fragments as configuration and passes none of their variables to swupdate"
        ),
    )
    .hint(format!(
        "set it for the service: `{name}=...` in the EnvironmentFile ({}), which systemd loads into the environment of every swupdate unit, or a drop-in /etc/systemd/system/swupdate.service.d/{}.conf (and swupdate-daemon.service.d/, swupdate-local@.service.d/) with [Service] Environment={name}=...; swupdate inherits the launcher's environment unchanged",
        env_file.display(),
        name.to_ascii_lowercase(),
    ))
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
                settings::setting_error(name, s, format!("`{}` is not a numeric uid", s.value))
            }),
        }
    };
    if !settings::yes_no(topology, trust::SWUPDATE_STRICT_MODES, true)? {
        return Ok(None);
    }
    let policy = Policy {
        trusted_uid: uid(trust::SWUPDATE_TRUSTED_UID)?.unwrap_or(0),
        agent_uid: uid(trust::SWUPDATE_AGENT_UID)?,
    };
    if let (Some(why), Some(s)) = (
        trust::agent_role_refusal(&policy, None),
        topology.get(trust::SWUPDATE_AGENT_UID),
    ) {
        return Err(settings::setting_error(trust::SWUPDATE_AGENT_UID, s, why)
            .hint("the agent needs a uid of its own, which owns nothing of the image"));
    }
    Ok(Some(policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with `text`, and a Stat that says it is `size` bytes long.
    fn file_said(text: &[u8], size: u64) -> (std::fs::File, Stat) {
        let mut f = unlinked_temp_file();
        std::io::Write::write_all(&mut f, text).unwrap();
        std::io::Seek::rewind(&mut f).unwrap();
        let stat = Stat {
            uid: 0,
            mode: libc::S_IFREG | 0o644,
            nlink: 1,
            size,
            dev: 0,
            ino: 0,
        };
        (f, stat)
    }

    fn unlinked_temp_file() -> std::fs::File {
        let dir = std::env::temp_dir().join(format!("load-read-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{:?}", std::thread::current().id()).replace(['(', ')'], ""));
        let f = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        let _ = std::fs::remove_file(&path);
        f
    }

    #[test]
    fn a_file_that_grew_after_its_fstat_is_read_whole() {
        let (f, st) = file_said(b"A=1\nB=2\nC=3\n", 4);
        let bytes = read_bounded(&f, &st, Path::new("/f"), 100, "fragment").unwrap();
        assert_eq!(bytes, b"A=1\nB=2\nC=3\n");
    }

    #[test]
    fn a_file_that_shrank_after_its_fstat_is_read_as_it_is() {
        let (f, st) = file_said(b"A=1\n", 40);
        let bytes = read_bounded(&f, &st, Path::new("/f"), 100, "fragment").unwrap();
        assert_eq!(bytes, b"A=1\n");
    }

    #[test]
    fn a_file_that_grew_past_the_limit_after_its_fstat_is_refused() {
        let (f, st) = file_said(&[b'#'; 200], 4);
        let e = read_bounded(&f, &st, Path::new("/f"), 100, "fragment").unwrap_err();
        assert!(e.to_string().contains("larger than 100 bytes"), "{e}");
    }

    #[test]
    fn the_descriptor_is_the_ota_paths_alone() {
        assert!(ota_path(false, Some("download")));
        assert!(!ota_path(true, Some("download")), "a local update");
        assert!(!ota_path(false, Some("file")));
        assert!(!ota_path(false, Some("daemon")));
        assert!(!ota_path(false, None), "unset is the daemon");
    }

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
