"""BitBake's real parser and task runner on meta-tolomeo-rust, with stub oe-core and meta-swupdate layers.

In-process, as /work/shared/notes/yocto-testing.md describes: the layer.conf of every layer (with
LAYERDIR expanded as the cooker does), the stub bitbake.conf (which includes the build directory's
conf/local.conf), the base class, then each recipe with its bbappends; tasks run with
bb.build.exec_func. The `bitbake` command itself (bitbake -p / -e) runs from the same library with two
small scripts (see fixtures/bin/), for the layer rules the cooker enforces.
"""

import itertools
import logging
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
LAYER = REPO / "meta-tolomeo-rust"
FIXTURES = HERE / "fixtures"
PYLIB = FIXTURES / "pylib"
STUB_CORE = FIXTURES / "meta-stub-core"
STUB_SWUPDATE = FIXTURES / "meta-stub-swupdate"
STUB_PRODUCT = FIXTURES / "meta-stub-product"

if str(PYLIB) not in sys.path:
    sys.path.insert(0, str(PYLIB))

import bb  # noqa: E402  (after the stand-ins for hashserv and prserv are importable)
import bb.build  # noqa: E402
import bb.data  # noqa: E402
import bb.fetch2  # noqa: E402
import bb.parse  # noqa: E402
import bb.siggen  # noqa: E402
import bb.utils  # noqa: E402

LAUNCHER_RECIPE = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher_0.1.0.bb"
CRATES_INC = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher-crates.inc"
SWUPDATE_APPEND = LAYER / "recipes-support" / "swupdate" / "swupdate_%.bbappend"
SWUPDATE_RECIPE = STUB_SWUPDATE / "recipes-support" / "swupdate" / "swupdate_2026.05.bb"
PRODUCT_LAUNCHER_APPEND = STUB_PRODUCT / "recipes-support" / "swupdate-launcher" / "swupdate-launcher_%.bbappend"
PRODUCT_KEY = STUB_PRODUCT / "recipes-support" / "swupdate-launcher" / "files" / "product-public.pem"
IMAGE_RECIPE = STUB_PRODUCT / "recipes-core" / "images" / "stub-update-image.bb"
UNITS_DIR = REPO / "systemd"

ALL_LAYERS = (STUB_CORE, STUB_SWUPDATE, LAYER, STUB_PRODUCT)

FLAGS = ("update-ota", "update-ota-streaming", "update-local")
# All 8 combinations of the three flags, as sorted tuples.
COMBINATIONS = [tuple(c) for n in range(len(FLAGS) + 1) for c in itertools.combinations(FLAGS, n)]
SRCREV = "0123456789abcdef0123456789abcdef01234567"
KEY_NAME = "product-public.pem"


def is_valid(combo):
    return not ("update-ota-streaming" in combo and "update-ota" not in combo)


def opted_in(combo):
    """The product opted in: at least one of the layer's flags is set."""
    return bool(set(combo) & set(FLAGS))


VALID = [c for c in COMBINATIONS if is_valid(c)]
INVALID = [c for c in COMBINATIONS if not is_valid(c)]


def combo_id(combo, systemd=None):
    name = "+".join(combo) or "no-flags"
    if systemd is not None:
        name += "/systemd" if systemd else "/no-systemd"
    return name


def distro_features(combo, systemd):
    # oe-core makes usrmerge mandatory with systemd.
    return list(combo) + (["systemd", "usrmerge"] if systemd else ["sysvinit"])


def local_conf(features, key=KEY_NAME, srcrev=SRCREV, extra=""):
    lines = ['DISTRO_FEATURES = "%s"' % " ".join(features)]
    if srcrev is not None:
        lines.append('SWUPDATE_LAUNCHER_SRCREV = "%s"' % srcrev)
    if key is not None:
        lines.append('SWUPDATE_LAUNCHER_PUBLIC_KEY = "%s"' % key)
    return "\n".join(lines) + "\n" + extra


def write_build_dir(topdir, conf, layers=ALL_LAYERS):
    """A build directory like `oe-init-build-env` makes: conf/local.conf and conf/bblayers.conf."""
    confdir = Path(topdir) / "conf"
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / "local.conf").write_text(conf)
    (confdir / "bblayers.conf").write_text(
        'BBPATH = "${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS = " \\\n%s"\n'
        % "".join("    %s \\\n" % layer for layer in layers)
    )
    return Path(topdir)


class ParseFailed(Exception):
    """bb.fatal during the parse: the messages the BitBake logger got."""

    def __init__(self, messages):
        super().__init__("\n".join(messages))
        self.messages = messages


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def parse_configuration(topdir, layers=ALL_LAYERS):
    """The configuration datastore: layer.conf files, bitbake.conf (with conf/local.conf), base."""
    d = bb.data.init()
    d.setVar("TOPDIR", str(topdir))
    d.setVar("BBPATH", str(topdir))
    for layer in layers:
        d.setVar("LAYERDIR", str(layer))
        d = bb.parse.handle(str(Path(layer) / "conf" / "layer.conf"), d, 0) or d
        d.expandVarref("LAYERDIR")
        d.delVar("LAYERDIR")
    bb.parse.handle("conf/bitbake.conf", d, 0)
    bb.parse.siggen = bb.siggen.init(d)
    d.setVar("__bbclasstype", "global")
    bb.parse.BBHandler.inherit("base", "configuration", 0, d)
    d.setVar("__bbclasstype", "recipe")
    return d


def parse_recipe(config, recipe, appends=()):
    """Every variant of the recipe ({"": target, "native": ...}); ParseFailed on bb.fatal."""
    d = bb.data.createCopy(config)
    d.setVar("__BBAPPEND", " ".join(str(a) for a in appends))
    collect = _Collect()
    logger = logging.getLogger("BitBake")
    logger.addHandler(collect)
    try:
        return bb.parse.handle(str(recipe), d)
    except bb.BBHandledException:
        raise ParseFailed(collect.messages) from None
    finally:
        logger.removeHandler(collect)


class Build:
    """One build directory with one local.conf, and the recipes parsed with it."""

    def __init__(self, topdir, conf, layers=ALL_LAYERS):
        self.topdir = write_build_dir(topdir, conf, layers)
        self.config = parse_configuration(self.topdir, layers)

    def launcher(self, appends=(PRODUCT_LAUNCHER_APPEND,)):
        return parse_recipe(self.config, LAUNCHER_RECIPE, appends)

    def swupdate(self, appends=(SWUPDATE_APPEND,)):
        return parse_recipe(self.config, SWUPDATE_RECIPE, appends)

    def image(self):
        return parse_recipe(self.config, IMAGE_RECIPE)


def run_task(task, d):
    """A task as bb.build._exec_task runs it: its prefuncs, the task function, its postfuncs
    (systemd.bbclass removes directories from ${D} in do_install's postfuncs)."""
    for func in (d.getVarFlag(task, "prefuncs", expand=True) or "").split():
        bb.build.exec_func(func, d)
    bb.build.exec_func(task, d)
    for func in (d.getVarFlag(task, "postfuncs", expand=True) or "").split():
        bb.build.exec_func(func, d)


def _prepare_dirs(d):
    for var in ("WORKDIR", "T", "UNPACKDIR", "S", "B"):
        Path(d.getVar(var)).mkdir(parents=True, exist_ok=True)


def fetch_local_files(d):
    """do_fetch + do_unpack of the file:// entries only (git:// and crate:// need a network)."""
    urls = [u for u in d.getVar("SRC_URI").split() if u.startswith("file://")]
    if not urls:
        return  # bb.fetch2.Fetch([]) would fetch the whole SRC_URI
    fetcher = bb.fetch2.Fetch(urls, d)
    fetcher.download()
    fetcher.unpack(d.getVar("UNPACKDIR"))


def stage_launcher_sources(d):
    """What the git checkout and `cargo build` would leave: systemd/ in S, an executable in B."""
    _prepare_dirs(d)
    source = Path(d.getVar("S"))
    shutil.copytree(UNITS_DIR, source / "systemd", dirs_exist_ok=True)
    shutil.copy(REPO / "Cargo.toml", source / "Cargo.toml")
    target = Path(d.getVar("B")) / "target" / d.getVar("CARGO_TARGET_SUBDIR")
    target.mkdir(parents=True, exist_ok=True)
    exe = target / "swupdate-launcher"
    exe.write_text("#!/bin/sh\n# stand-in for the cross-compiled launcher\n")
    exe.chmod(0o755)


def install_launcher(d):
    """Runs the recipe's do_install for real; returns ${D}."""
    stage_launcher_sources(d)
    fetch_local_files(d)
    run_task("do_install", d)
    return Path(d.getVar("D"))


def install_swupdate(d):
    _prepare_dirs(d)
    run_task("do_fetch", d)
    run_task("do_unpack", d)
    run_task("do_install", d)
    return Path(d.getVar("D"))


def installed_files(root):
    """Every non-directory under root, as absolute paths of the target ("/usr/bin/x")."""
    root = Path(root)
    return sorted("/" + str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir() or p.is_symlink())


def split_packages(d, image_dir):
    """${D} split into packages as package.bbclass does: PACKAGES in order, each takes the files of
    its FILES patterns (a directory with everything below it) that no earlier package took.
    systemd.bbclass first adds every SYSTEMD_SERVICE unit to FILES of its package.
    Returns ({package: [files]}, [files no package ships])."""
    import glob

    image_dir = Path(image_dir)
    unitdir = d.getVar("systemd_system_unitdir")
    extra = {}
    for pkg in (d.getVar("SYSTEMD_PACKAGES") or "").split():
        extra[pkg] = [unitdir + "/" + u for u in (d.getVar("SYSTEMD_SERVICE:" + pkg) or "").split()]
    remaining = set(installed_files(image_dir))
    packages = {}
    for pkg in d.getVar("PACKAGES").split():
        taken = set()
        for pattern in (d.getVar("FILES:" + pkg) or "").split() + extra.get(pkg, []):
            for match in glob.glob(str(image_dir) + pattern):
                rel = "/" + os.path.relpath(match, image_dir)
                if os.path.isdir(match) and not os.path.islink(match):
                    taken |= {f for f in remaining if f.startswith(rel.rstrip("/") + "/")}
                elif rel in remaining:
                    taken.add(rel)
        remaining -= taken
        packages[pkg] = sorted(taken)
    return packages, sorted(remaining)


def install_packages(rootfs, d, image_dir, packages):
    """Copies the files of the given packages of a recipe into rootfs, as the package manager would."""
    import shutil as _shutil

    split, _ = split_packages(d, image_dir)
    rootfs = Path(rootfs)
    for pkg in packages:
        for path in split[pkg]:
            dest = rootfs / path.lstrip("/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            _shutil.copy2(Path(image_dir) / path.lstrip("/"), dest, follow_symlinks=False)
    return rootfs


def merge_into(rootfs, *trees):
    """What the package manager does with the packages of several recipes: one rootfs."""
    rootfs = Path(rootfs)
    rootfs.mkdir(parents=True, exist_ok=True)
    for tree in trees:
        shutil.copytree(tree, rootfs, symlinks=True, dirs_exist_ok=True)
    return rootfs


def datastore_view(d):
    """Every variable of a parsed recipe (internal "__" ones aside) with its value and its flags, all
    unexpanded, as bitbake resolved the overrides and :append/:prepend of the recipe."""
    view = {}
    for key in d.keys():
        if key.startswith("__"):
            continue
        flags = d.getVarFlags(key) or {}
        view[key] = (repr(d.getVar(key, False)), sorted((name, repr(value)) for name, value in flags.items()))
    return view


def task_signatures(d):
    """{task: basehash} as bitbake's signature generator computes it (bb.siggen's _build_data: every
    variable and function a task depends on, with its value). No variable is ignored, so this is
    stricter than oe-core's BB_BASEHASH_IGNORE_VARS."""
    d = bb.data.createCopy(d)
    if d.getVar("__exportlist", False) is None:
        d.setVar("__exportlist", [])
    tasklist, gendeps, lookupcache = bb.data.generate_dependencies(d, set())
    _, basehash = bb.data.generate_dependency_hash(tasklist, gendeps, lookupcache, set(), "recipe")
    return {key.split(":", 1)[1]: value for key, value in basehash.items()}


def file_tree(root):
    """{path: (mode, content)} of every file under root (a symlink as its target)."""
    root = Path(root)
    tree = {}
    for path in installed_files(root):
        full = root / path.lstrip("/")
        content = ("-> " + os.readlink(full)).encode() if full.is_symlink() else full.read_bytes()
        tree[path] = (oct(full.lstat().st_mode), content)
    return tree


def is_executable(path):
    return os.path.isfile(path) and bool(os.stat(path).st_mode & stat.S_IXUSR)


# --- the `bitbake` command -------------------------------------------------------------------------

BITBAKE_MAIN = '''#!{python}
# `bitbake` for the layer tests: BitBake's command-line entry point, from the library that PyPI's
# bitbake-setup ships (it ships no scripts).
import os, sys
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0:0] = [os.path.join(here, "lib"), {pylib!r}]
from bb import cookerdata
from bb.main import BitBakeConfigParameters, bitbake_main
sys.exit(bitbake_main(BitBakeConfigParameters(sys.argv), cookerdata.CookerConfiguration()))
'''

BITBAKE_SERVER = '''#!{python}
# `bitbake-server` for the layer tests: the library execs <lib>/../bin/bitbake-server with the
# server's file descriptors, log file, lock and socket, and this hands them to execServer.
import os, sys, logging
here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[0:0] = [os.path.join(here, "lib"), {pylib!r}]
if len(sys.argv) != 11 or not sys.argv[1].startswith("decafbad"):
    sys.exit("bitbake-server is started by bitbake")
import bb
import bb.event
import bb.server.process
lockfd, readypipeinfd = int(sys.argv[2]), int(sys.argv[3])
logfile, lockname, sockname = sys.argv[4], sys.argv[5], sys.argv[6]
timeout, profile = float(sys.argv[7]), sys.argv[8]
xmlrpcinterface = (None if sys.argv[9] == "None" else sys.argv[9], int(sys.argv[10]))
with open("/dev/null") as devnull:
    os.dup2(devnull.fileno(), 0)
with open(logfile, "a+") as log:
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
sys.stderr = sys.stdout
logging.getLogger("BitBake").addHandler(bb.event.LogHandler())
bb.server.process.execServer(lockfd, readypipeinfd, lockname, sockname, timeout, xmlrpcinterface, profile)
'''


def install_bitbake_command(destdir):
    """A copy of the bb library in destdir/lib and the two scripts in destdir/bin: the library finds
    bitbake-server at <bb>/../../bin, so the scripts must sit next to a copy, not the venv's."""
    destdir = Path(destdir)
    shutil.copytree(Path(bb.__file__).parent, destdir / "lib" / "bb", ignore=shutil.ignore_patterns("__pycache__"))
    (destdir / "bin").mkdir(parents=True, exist_ok=True)
    for name, text in (("bitbake", BITBAKE_MAIN), ("bitbake-server", BITBAKE_SERVER)):
        script = destdir / "bin" / name
        script.write_text(text.format(python=sys.executable, pylib=str(PYLIB)))
        script.chmod(0o755)
    return destdir / "bin" / "bitbake"


def run_bitbake(bitbake, builddir, *args, timeout=300):
    env = dict(os.environ)
    env.update(LANG="C.UTF-8", LC_ALL="C.UTF-8")
    for var in ("BBPATH", "BUILDDIR", "BB_ENV_PASSTHROUGH_ADDITIONS"):
        env.pop(var, None)
    result = subprocess.run(
        [str(bitbake), *args], cwd=builddir, env=env, capture_output=True, text=True, timeout=timeout
    )
    # What the server logged (its errors when it could not start): shown by the tests' assertions.
    log = Path(builddir) / "bitbake-cookerdaemon.log"
    result.daemon_log = log.read_text(errors="replace") if log.exists() else ""
    return result


def run_bitbake_failing(bitbake, builddir, *args, attempts=3):
    """A bitbake run that is expected to fail, with its error message. When the configuration cannot
    be parsed, the server sends the error as a log event and the command's failure as its reply; the
    UI may exit on the reply before the event arrives (seen about once in ten runs), and then prints
    nothing. The exit code is reliable: such a silent failure is run again to get the message."""
    for _ in range(attempts):
        result = run_bitbake(bitbake, builddir, *args)
        if result.returncode == 0 or (result.stdout + result.stderr).strip():
            break
    return result


def bitbake_env_value(output, var):
    """The value of `var` in `bitbake -e` output (its final `VAR="..."` line)."""
    prefix = var + '="'
    value = None
    for line in output.splitlines():
        if line.startswith(prefix) and line.endswith('"'):
            value = line[len(prefix):-1]
    return value
