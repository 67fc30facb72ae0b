"""The layer tier: meta-tolomeo-rust in a build with the REAL openembedded-core, bitbake,
meta-swupdate and meta-oe of one release (scripts/test-layer runs pytest once per release, with that
release's bitbake on PYTHONPATH and the layers' directories in the environment).

Three kinds of evidence, each from the real classes and recipes:
- `bitbake -p` / `bitbake -e` (the command, in a build directory of its own whose parse cache later
  runs reuse): the whole tree parses clean;
- one tinfoil session (config parsed once) in which the recipes of interest are parsed for every
  combination of DISTRO_FEATURES: the values, the bb.fatal messages, the task signatures;
- the do_install shell functions and oe-core's package split run with bb.build.exec_func on the
  datastores of that session: which files each package ships.
"""

import itertools
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
LAYER = REPO / "meta-tolomeo-rust"
LAUNCHER_RECIPE = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher_0.1.0.bb"
CONF_RECIPE = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher-conf_0.1.0.bb"

FLAGS = ("update-ota", "update-ota-streaming", "update-local")
COMBINATIONS = [tuple(c) for n in range(len(FLAGS) + 1) for c in itertools.combinations(FLAGS, n)]


def is_valid(combo):
    return not ("update-ota-streaming" in combo and "update-ota" not in combo)


VALID = [c for c in COMBINATIONS if is_valid(c)]
INVALID = [c for c in COMBINATIONS if not is_valid(c)]
OPTED_IN = [c for c in VALID if c]


def combo_id(combo, systemd):
    return ("+".join(combo) or "no-flags") + ("/systemd" if systemd else "/sysvinit")


def _environment():
    missing = [v for v in ("TOLOMEO_YOCTO_RELEASE", "TOLOMEO_YOCTO_LAYERS", "TOLOMEO_YOCTO_WORK") if not os.environ.get(v)]
    if missing:
        raise pytest.UsageError("tests/yocto runs from scripts/test-layer (missing %s)" % ", ".join(missing))
    layers = dict(item.split("=", 1) for item in os.environ["TOLOMEO_YOCTO_LAYERS"].split())
    return os.environ["TOLOMEO_YOCTO_RELEASE"], {k: Path(v) for k, v in layers.items()}


RELEASE, LAYERS = _environment()
WORK = Path(os.environ["TOLOMEO_YOCTO_WORK"]) / RELEASE
CORE = LAYERS["openembedded-core"] / "meta"
META_SWUPDATE = LAYERS["meta-swupdate"]
BBLAYERS_WITHOUT = [CORE, LAYERS["meta-openembedded"] / "meta-oe", META_SWUPDATE]
BBLAYERS_WITH = BBLAYERS_WITHOUT + [LAYER]
SWUPDATE_RECIPES = sorted((META_SWUPDATE / "recipes-support" / "swupdate").glob("swupdate_*.bb"))
IMAGE_RECIPES = [CORE / "recipes-core" / "images" / "core-image-minimal.bb",
                 CORE / "recipes-core" / "images" / "core-image-minimal-initramfs.bb"]

import bb  # noqa: E402  (the release's bitbake, from PYTHONPATH)
import bb.build  # noqa: E402
import bb.data  # noqa: E402
import bb.fetch2  # noqa: E402
import bb.tinfoil  # noqa: E402

assert Path(bb.__file__).resolve().is_relative_to(LAYERS["bitbake"].resolve()), (bb.__file__, LAYERS["bitbake"])


def missing_hosttools():
    """HOSTTOOLS entries of oe-core's bitbake.conf that this host lacks (base.bbclass links every one
    at parse time and fails on a missing one): a parse-only build drops them."""
    text = (CORE / "conf" / "bitbake.conf").read_text()
    names = set()
    for block in re.findall(r'^HOSTTOOLS \+= "([^"$]*)"', text, re.MULTILINE | re.DOTALL):
        names |= set(block.replace("\\", " ").split())
    return sorted(n for n in names if not shutil.which(n))


PARSE_ONLY_CONF = """\
MACHINE = "qemux86-64"
# Parse-only build on a bare host: nothing is fetched or built.
INHERIT:remove = "sanity"
BB_NO_NETWORK = "1"
BB_HASHSERVE = ""
PRSERV_HOST = ""
BB_SIGNATURE_HANDLER = "OEBasicHash"
HOSTTOOLS:remove = "{missing}"
# The tinfoil session parses the same recipe once per DISTRO_FEATURES combination: its basehash
# changes on purpose.
BB_HASH_IGNORE_MISMATCH = "1"
"""


def write_build(topdir, bblayers, extra=""):
    conf = Path(topdir) / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "bblayers.conf").write_text(
        'BBPATH = "${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS = " \\\n%s"\n' % "".join("    %s \\\n" % p for p in bblayers))
    text = PARSE_ONLY_CONF.format(missing=" ".join(missing_hosttools())) + extra
    local = conf / "local.conf"
    if not local.exists() or local.read_text() != text:  # an unchanged file keeps the parse cache
        local.write_text(text)
    return Path(topdir)


def run_bitbake(topdir, *args, timeout=1800):
    env = dict(os.environ)
    env.pop("BBPATH", None)
    return subprocess.run(["bitbake", *args], cwd=topdir, env=env, capture_output=True, text=True, timeout=timeout)


class Captured(logging.Handler):
    """The warnings and errors bitbake logs while a recipe is parsed."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def messages(self):
        return [r.getMessage() for r in self.records]


class Session:
    """One tinfoil session of a build directory: the configuration is parsed once; each recipe is
    parsed with a copy of it in which DISTRO_FEATURES (and what a test adds) differ."""

    def __init__(self, topdir):
        self.topdir = topdir
        self.cwd = os.getcwd()
        os.chdir(topdir)
        self.tinfoil = bb.tinfoil.Tinfoil(output=sys.stderr)
        self.tinfoil.prepare(config_only=True, quiet=2)
        self.base_features = self.tinfoil.config_data.getVar("DISTRO_FEATURES").split()
        self.cache = {}
        # A config-only session has no list of bbappends (the cooker collects it while it parses
        # every recipe): the same list, by the cooker's rule, from the BBFILES globs of the layers.
        import glob
        self.bbappends = [f for pattern in self.tinfoil.config_data.getVar("BBFILES").split()
                          if pattern.endswith(".bbappend") for f in sorted(glob.glob(pattern))]

    def appends(self, fn):
        """The bbappends of recipe fn, as bb.cooker.CookerCollectFiles.get_file_appends picks them."""
        name = os.path.basename(fn.split(":")[-1])
        found = []
        for path in self.bbappends:
            append = os.path.basename(path)[:-len("append")]
            if append == name or ("%" in append and name.startswith(append[:append.index("%")])):
                found.append(path)
        return found

    def close(self):
        self.tinfoil.shutdown()
        os.chdir(self.cwd)

    def features(self, combo, systemd):
        base = [f for f in self.base_features if f not in ("systemd", "sysvinit") + FLAGS]
        init = ["systemd", "usrmerge"] if systemd else ["sysvinit"]
        return " ".join(dict.fromkeys(base + init + list(combo)))

    def config(self, combo, systemd, **extra):
        cd = bb.data.createCopy(self.tinfoil.config_data)
        cd.setVar("DISTRO_FEATURES", self.features(combo, systemd))
        for name, value in extra.items():
            cd.setVar(name, value)
        return cd

    def parse(self, recipe, combo, systemd, appends=True, **extra):
        """(datastore, [warning and error messages]) of recipe; a bb.fatal raises Failed(messages)."""
        key = (str(recipe), combo, systemd, appends, tuple(sorted(extra.items())))
        if key not in self.cache:
            captured = Captured()
            logger = logging.getLogger("BitBake")
            logger.addHandler(captured)
            try:
                appendlist = self.appends(str(recipe)) if appends else []
                d = self.tinfoil.parse_recipe_file(str(recipe), appends=bool(appendlist), appendlist=appendlist or None,
                                                   config_data=self.config(combo, systemd, **extra))
            except Exception as e:  # bb.fatal: TinfoilCommandFailed with the message logged before it
                # The log record of a bb.fatal can arrive after the command's failure: drain the queue.
                for _ in range(20):
                    event = self.tinfoil.wait_event(0.25)
                    if event is None and captured.records:
                        break
                    if isinstance(event, logging.LogRecord) and event.levelno >= logging.WARNING:
                        captured.records.append(event)
                self.cache[key] = Failed(captured.messages() + [str(e)])
            else:
                self.cache[key] = (d, captured.messages())
            finally:
                logger.removeHandler(captured)
        value = self.cache[key]
        if isinstance(value, Failed):
            raise value
        return value


def skipped(d):
    """Why the recipe of datastore d was skipped (bb.parse.SkipRecipe: a build that needs it stops
    with this reason, `bitbake world` leaves it out), or None."""
    return d.getVar("__SKIPPED")


class Failed(Exception):
    def __init__(self, messages):
        super().__init__("\n".join(messages))
        self.messages = messages


PRODUCT_KEY_NAME = "product-public.pem"


@pytest.fixture(scope="session")
def product_layer(tmp_path_factory):
    """A product layer as the layer README tells a product to write one: the key in files/ and a
    swupdate-launcher-conf bbappend that adds the directory to FILESEXTRAPATHS."""
    root = WORK / "meta-product"
    files = root / "recipes-support" / "swupdate-launcher" / "files"
    files.mkdir(parents=True, exist_ok=True)
    (root / "conf").mkdir(exist_ok=True)
    (root / "conf" / "layer.conf").write_text(
        'BBPATH .= ":${LAYERDIR}"\nBBFILES += "${LAYERDIR}/recipes-*/*/*.bbappend"\n'
        'BBFILE_COLLECTIONS += "product"\nBBFILE_PATTERN_product = "^${LAYERDIR}/"\n'
        'BBFILE_PRIORITY_product = "10"\nLAYERDEPENDS_product = "tolomeo-rust"\n'
        'LAYERSERIES_COMPAT_product = "%s"\n' % RELEASE)
    (root / "recipes-support" / "swupdate-launcher" / "swupdate-launcher-conf_%.bbappend").write_text(
        'FILESEXTRAPATHS:prepend := "${THISDIR}/files:"\n')
    key = files / PRODUCT_KEY_NAME
    if not key.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                        "-subj", "/CN=swupdate-launcher layer test", "-addext", "extendedKeyUsage=emailProtection",
                        "-keyout", str(WORK / "product-private.pem"), "-out", str(key)],
                       check=True, capture_output=True)
    return root


@pytest.fixture(scope="session")
def session(product_layer):
    """The tinfoil session of the build with the layer and a product layer (the key)."""
    topdir = write_build(WORK / "tinfoil", BBLAYERS_WITH + [product_layer])
    s = Session(topdir)
    yield s
    s.close()


@pytest.fixture(scope="session")
def launcher_binary():
    path = os.environ.get("TOLOMEO_LAUNCHER_BINARY")
    assert path and os.access(path, os.X_OK), "scripts/test-layer builds the launcher (TOLOMEO_LAUNCHER_BINARY)"
    return Path(path)
