"""Every option the layer's kconfig fragments enable survives swupdate's configuration, or the build
stops naming it and the dependency it lacks (recipes-support/swupdate/swupdate-kconfig-check.inc).

meta-swupdate's real do_configure runs with bb.build.exec_func on the datastore the real parser made
for swupdate with every flag (the layer's three fragments: signing, download, systemd): the
defconfig and the fragments merged with `merge_config.sh -m`, then `make oldconfig` in swupdate's
real sources, which runs swupdate's own Kconfiglib (scripts/Kconfiglib/oldconfig.py), then the
layer's check, a postfunc of do_configure. A product's defconfig is what a product layer's
file://defconfig puts in UNPACKDIR: meta-swupdate's own, or it with another SSL implementation.

swupdate's sources at the recipe's SRCREV (the release's newest fixed version: 2025.12 on
whinlatter, 2026.05.1 on wrynose), from the first that has them: a snapshot beside the layers'
(`git archive --prefix=swupdate-PV-COMMIT12/` as swupdate-PV-COMMIT12.tar.xz in ../shared/yocto or
$TOLOMEO_YOCTO_SNAPSHOTS), a git repository named by $TOLOMEO_SWUPDATE_GIT, the Debian source package of exactly that upstream version (Debian ships
2026.05.1, not 2025.12), the upstream git repository of the recipe's SRC_URI. None: the tests that need them are
skipped, naming every source tried (this workplace reaches package registries only).
merge_config.sh is the kernel's script, which kern-tools-native installs in a build; here the copy
U-Boot's Debian source package carries (scripts/kconfig/merge_config.sh).
"""

import glob
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import Captured, REPO, VALID
from test_combinations import KEY
from test_install import SWUPDATE, load_python_defs, unpack_file_sources

import bb.build  # noqa: E402
import bb.data  # noqa: E402

EVERY_FLAG = VALID[-1]
# On disk across runs (a fresh clone starts with an empty target/), beside the layer tier's caches.
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swupdate-launcher" / "yocto-kconfig"
SIGNING = ("cms", "rsa", "rsapss")


# -- swupdate's sources and merge_config.sh -------------------------------------------------------

def debian_archive():
    """The Debian archive this host's apt uses (its first deb source that is not the security one)."""
    for path in ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*"))]:
        if not os.path.isfile(path):
            continue
        text = Path(path).read_text()
        uris = re.findall(r"^URIs:\s*(\S+)", text, re.MULTILINE) + \
            re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+\S+", text, re.MULTILINE)
        for uri in uris:
            if "security" not in uri:
                return uri
    raise AssertionError("no Debian archive in this host's apt sources")


class DebianSources:
    """Debian's source packages, through apt with its own lists (deb-src of trixie and its backports)."""

    def __init__(self):
        self.root = CACHE / "apt"
        self.options = ["-o", "Dir::Etc::SourceList=%s" % (self.root / "sources.list"),
                        "-o", "Dir::Etc::SourceParts=/dev/null",
                        "-o", "Dir::State::Lists=%s" % (self.root / "lists"),
                        "-o", "Dir::Cache=%s" % (self.root / "cache")]
        self.updated = False

    def update(self):
        if self.updated:
            return
        for sub in ("lists/partial", "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        archive = debian_archive()
        (self.root / "sources.list").write_text("".join("deb-src %s %s main\n" % (archive, suite)
                                                        for suite in ("trixie", "trixie-backports")))
        subprocess.run(["apt-get", *self.options, "-qq", "update"], check=True, capture_output=True)
        self.updated = True

    def versions(self, package):
        self.update()
        out = subprocess.run(["apt-cache", *self.options, "showsrc", package], capture_output=True, text=True).stdout
        return re.findall(r"^Version: (\S+)", out, re.MULTILINE)

    def orig_tarball(self, package, version):
        """The upstream tarball of package at Debian version, downloaded once, or None. Only the
        tarball is used: apt may fail on the other files of the source package (.dsc) and still have it."""
        where = CACHE / "debian"
        where.mkdir(parents=True, exist_ok=True)
        upstream = re.sub(r"-[^-]+$", "", version.split(":")[-1])

        def found():
            return sorted(p for p in where.glob("%s_%s.orig.tar.*" % (package, upstream)) if not p.name.endswith(".asc"))
        if not found():
            subprocess.run(["apt-get", *self.options, "-qq", "source", "--download-only", "%s=%s" % (package, version)],
                           cwd=where, capture_output=True)
        return found()[0] if found() else None


DEBIAN = DebianSources()


def swupdate_sources(pv, srcrev, git_url):
    """A directory with swupdate's sources at srcrev (see the module doc for where they come from)."""
    dest = CACHE / ("swupdate-%s-%s" % (pv, srcrev[:12]))
    if (dest / ".complete").exists():
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    tried = []
    snapshots = Path(os.environ.get("TOLOMEO_YOCTO_SNAPSHOTS") or REPO.parent / "shared" / "yocto")
    snapshot = snapshots / ("swupdate-%s-%s.tar.xz" % (pv, srcrev[:12]))
    if snapshot.is_file():
        subprocess.run(["tar", "-xJf", str(snapshot), "-C", str(dest), "--strip-components=1"], check=True)
        (dest / ".complete").touch()
        return dest
    tried.append("no snapshot %s" % snapshot)
    git_dir = os.environ.get("TOLOMEO_SWUPDATE_GIT")
    if git_dir:
        archive = subprocess.run(["git", "--git-dir", git_dir, "archive", "--format=tar", srcrev], capture_output=True)
        if archive.returncode == 0:
            subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
            (dest / ".complete").touch()
            return dest
        tried.append("$TOLOMEO_SWUPDATE_GIT=%s has no %s" % (git_dir, srcrev))
    exact = [v for v in DEBIAN.versions("swupdate") if v.split(":")[-1].rsplit("-", 1)[0] in (pv, pv + "+dfsg")]
    tarball = DEBIAN.orig_tarball("swupdate", exact[0]) if exact else None
    if tarball:
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest), "--strip-components=1"], check=True)
        (dest / ".complete").touch()
        return dest
    tried.append("Debian's archive has no source package of swupdate %s (%s)" % (pv, "listed, not downloadable" if exact else "not listed"))
    clone = dest.parent / (dest.name + ".git")
    shutil.rmtree(clone, ignore_errors=True)
    if subprocess.run(["git", "clone", "-q", "--bare", git_url, str(clone)], capture_output=True).returncode == 0:
        archive = subprocess.run(["git", "--git-dir", str(clone), "archive", "--format=tar", srcrev], capture_output=True)
        if archive.returncode == 0:
            subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
            (dest / ".complete").touch()
            return dest
    tried.append("cannot clone %s at %s" % (git_url, srcrev))
    # Not a pass: pytest reports it as skipped, with every source tried. This workplace reaches
    # only package registries, and Debian's pool lists swupdate's source without serving it, so
    # CI has the sources only where shared/yocto carries the snapshots (see the module doc).
    pytest.skip("no sources of swupdate %s: %s" % (pv, "; ".join(tried)))


def merge_config_dir():
    """A directory with the kernel's merge_config.sh (from U-Boot's Debian source package)."""
    dest = CACHE / "merge_config"
    script = dest / "merge_config.sh"
    if not script.exists():
        versions = DEBIAN.versions("u-boot")
        assert versions, "Debian has no u-boot source package"
        tarball = DEBIAN.orig_tarball("u-boot", versions[0])
        assert tarball, "cannot download the source of u-boot %s from Debian" % versions[0]
        dest.mkdir(parents=True, exist_ok=True)
        subprocess.run(["tar", "-xf", str(tarball), "-C", str(dest), "--strip-components=3", "--wildcards",
                        "*/scripts/kconfig/merge_config.sh"], check=True)
        script.chmod(0o755)
    return dest


# -- meta-swupdate's do_configure ------------------------------------------------------------------

def sources_of(session):
    d, _ = session.parse(SWUPDATE, EVERY_FLAG, True, **KEY)
    git_url = next(u for u in d.getVar("SRC_URI").split() if u.startswith("git://")).split(";")[0]
    return swupdate_sources(d.getVar("PV"), d.getVar("SRCREV"), "https://" + git_url[len("git://"):])


class Configured:
    def __init__(self, d, config, errors):
        self.d, self.config, self.errors = d, config, errors


def configure(session, tmp_path, product_defconfig=None, signing="cms", check=True):
    """meta-swupdate's do_configure (and, unless check is False, the layer's check), with a
    product's defconfig if given."""
    sources = sources_of(session)
    parsed, _ = session.parse(SWUPDATE, EVERY_FLAG, True, SWUPDATE_LAUNCHER_SIGNING=signing, **KEY)
    d = bb.data.createCopy(parsed)
    assert "swupdate_kconfig_check" in (d.getVarFlag("do_configure", "postfuncs") or "").split()
    d.setVar("WORKDIR", str(tmp_path))
    for name in ("T", "B", "UNPACKDIR"):
        os.makedirs(d.getVar(name), exist_ok=True)
    unpack_file_sources(d)
    shutil.copytree(sources, d.getVar("S"), dirs_exist_ok=True)
    defconfig = Path(d.getVar("UNPACKDIR")) / "defconfig"
    if product_defconfig:
        defconfig.write_text(product_defconfig(defconfig.read_text()))
    load_python_defs(d, ("src_patches", "find_cfgs", "swupdate_kconfig_read", "swupdate_kconfig_dependency"))
    # Where kern-tools-native's merge_config.sh is in a build: on the task's PATH.
    d.prependVar("PATH", "%s:" % merge_config_dir())
    captured = Captured()
    logger = logging.getLogger("BitBake")
    logger.addHandler(captured)
    try:
        # do_configure, then the layer's postfunc, as _exec_task runs them (bb.build.exec_func runs
        # the function alone). Not the other pre- and postfuncs: the sysroot (extend_recipe_sysroot
        # needs a real build's task graph) and insane.bbclass's PACKAGECONFIG QA.
        bb.build.exec_func("do_configure", d)
        if check:
            bb.build.exec_func("swupdate_kconfig_check", d)
    except Exception as e:  # bb.fatal of the check (logged above), or a failed step of do_configure
        captured.records.append(logging.LogRecord("BitBake", logging.ERROR, "", 0, "%s: %s" % (type(e).__name__, e), None, None))
    finally:
        logger.removeHandler(captured)
    config = Path(d.getVar("B")) / ".config"
    return Configured(d, config.read_text() if config.exists() else "", captured.messages())


SSL_IMPLEMENTATIONS = ("OPENSSL", "MBEDTLS", "WOLFSSL")


def with_ssl(implementation):
    """A product defconfig: meta-swupdate's, with implementation as its only SSL implementation
    (None: none). swupdate's Kconfig has one bool per implementation, no choice."""
    def edit(text):
        text = re.sub(r"^(# )?CONFIG_SSL_IMPL_(NONE|%s)[ =].*$" % "|".join(SSL_IMPLEMENTATIONS), "", text, flags=re.MULTILINE)
        return text + "".join("CONFIG_SSL_IMPL_%s=y\n" % i if i == implementation else "# CONFIG_SSL_IMPL_%s is not set\n" % i
                              for i in SSL_IMPLEMENTATIONS)
    return edit


def swupdate_version(session):
    d, _ = session.parse(SWUPDATE, EVERY_FLAG, True, **KEY)
    return d.getVar("PV")


# -- the tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("signing", SIGNING)
def test_meta_swupdates_defconfig_keeps_every_option_of_the_fragments(session, tmp_path, signing):
    result = configure(session, tmp_path, signing=signing)
    assert result.errors == [], result.errors
    for option in ("CONFIG_SIGNED_IMAGES=y", "CONFIG_SIGALG_%s=y" % {"cms": "CMS", "rsa": "RAWRSA", "rsapss": "RSAPSS"}[signing],
                   "CONFIG_DOWNLOAD=y", "CONFIG_DOWNLOAD_SSL=y", "CONFIG_SYSTEMD=y"):
        assert option + "\n" in result.config, option


def test_oldconfig_drops_an_option_silently_without_the_check(session, tmp_path):
    # Why the check exists: meta-swupdate's do_configure alone succeeds, without a word, on a
    # configuration that lost CONFIG_SIGNED_IMAGES.
    result = configure(session, tmp_path, with_ssl(None), check=False)
    assert result.errors == [], result.errors
    assert "CONFIG_SIGNED_IMAGES=y\n" not in result.config
    assert "# CONFIG_SSL_IMPL_OPENSSL is not set\n" in result.config

def test_a_product_without_an_ssl_implementation_stops_naming_signed_images(session, tmp_path):
    result = configure(session, tmp_path, with_ssl(None))
    text = "\n".join(result.errors)
    assert "CONFIG_SIGNED_IMAGES=y (asked for by swupdate-signed-cms.cfg) is not in the final .config" in text, text
    assert "SSL_IMPL_OPENSSL || SSL_IMPL_WOLFSSL || SSL_IMPL_MBEDTLS" in text, text
    assert "SSL_IMPL_MBEDTLS=n" in text and "SSL_IMPL_OPENSSL=n" in text, text


@pytest.mark.parametrize("signing", ("rsa", "rsapss"))
def test_a_product_with_mbedtls_keeps_rsa_signing(session, tmp_path, signing):
    result = configure(session, tmp_path, with_ssl("MBEDTLS"), signing=signing)
    assert result.errors == [], result.errors
    assert "CONFIG_SIGNED_IMAGES=y\n" in result.config


def test_a_product_with_mbedtls_and_cms_stops_on_2025_12(session, tmp_path):
    if swupdate_version(session) != "2025.12":
        pytest.skip("on swupdate %s, CMS also works with mbedTLS" % swupdate_version(session))
    result = configure(session, tmp_path, with_ssl("MBEDTLS"))
    text = "\n".join(result.errors)
    assert "CONFIG_SIGALG_CMS=y (asked for by swupdate-signed-cms.cfg) is not in the final .config" in text, text
    assert "depends on (SSL_IMPL_OPENSSL || SSL_IMPL_WOLFSSL) && SIGNED_IMAGES" in text, text
    assert "(in the final .config: SIGNED_IMAGES=y, SSL_IMPL_OPENSSL=n, SSL_IMPL_WOLFSSL=n)" in text, text


def test_a_product_with_mbedtls_keeps_cms_from_2026_05(session, tmp_path):
    if swupdate_version(session) == "2025.12":
        pytest.skip("on swupdate 2025.12, CMS needs OpenSSL or wolfSSL")
    result = configure(session, tmp_path, with_ssl("MBEDTLS"))
    assert result.errors == [], result.errors
    assert "CONFIG_SIGALG_CMS=y\n" in result.config

