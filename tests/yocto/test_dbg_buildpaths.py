"""What a real package split leaves in swupdate-launcher-dbg with update-ota-streaming: no path of
the build's work directory (do_package_qa's `buildpaths`, an ERROR_QA of both releases).

The launcher is built the way the recipe's flags build it, in a work directory laid out as bitbake
lays it (TMPDIR under ~/.cache/swupdate-launcher/yocto-dbg/, .gitignored): the file:// sources and the crates of
swupdate-launcher-crates.inc fetched and unpacked with bb.fetch2 (the .crate files come from cargo's
own download cache, checked against the .inc's sha256sums, into ${CARGO_HOME}/bitbake), the recipe's
real do_configure (cargo_common's config.toml: the vendored sources, target-dir ${B}/target), then
`cargo build` with the cargo class's CARGO_BUILD_FLAGS and the recipe's PACKAGECONFIG_CONFARGS (--frozen --release --features streaming), its
exported CARGO_PROFILE_RELEASE_* (not stripped, debug info: cargo passes DEBUG=true to the cc
crate) and the prefix maps of its CFLAGS and RUSTFLAGS. Then do_install and do_package's steps run
with bb.build.exec_func and oe.package as package.bbclass runs them (perform_packagecopy, the strip
and debug split with dwarfsrcfiles and the -src copy, PACKAGESPLITFUNCS), and insane.bbclass's own
package_qa_check_buildpaths reads every file of every package.

What is stood in for: the cross toolchain. The host's rustc, cc and binutils build and split an
x86-64 binary for the host triple instead of the recipe's x86_64-poky-linux: the compiler gets only
the recipe's prefix-map flags (its other CFLAGS name the target sysroot), and the ring objects are
compiled from the same ${CARGO_HOME} path as in the recipe's build. dwarfsrcfiles is built from
oe-core's own source (what dwarfsrcfiles-native builds).

The cargo target directory is kept between runs (moved aside while do_configure empties ${B}/target,
as it does in every build): a first run compiles reqwest and ring from nothing (minutes on two
cores), later runs reuse it.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CORE, LAUNCHER_RECIPE, REPO, Captured
from test_combinations import KEY
from test_install import load_python_defs, oe, unpack_file_sources

import bb.build  # noqa: E402
import bb.data  # noqa: E402
import bb.fetch2  # noqa: E402
import logging  # noqa: E402

STREAMING = ("update-ota", "update-ota-streaming")
# One work directory for both releases (the same path: the cargo target directory of one release's
# run is reused by the other's, which only rebuilds what their flags change).
# On disk across runs (a fresh clone starts with an empty target/), beside the layer tier's caches.
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swupdate-launcher" / "yocto-dbg"
CARGO_TARGET_CACHE = CACHE / "cargo-target"
DEBUG_PACKAGES = ("swupdate-launcher-dbg", "swupdate-launcher-src")
PREFIX_MAP_FLAGS = ("-ffile-prefix-map=", "-fdebug-prefix-map=", "-fmacro-prefix-map=")


def cargo_registry_crate(name, version):
    """The .crate file cargo downloaded for name-version (cargo fetch puts every crate of Cargo.lock there)."""
    cargo_home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    found = sorted((cargo_home / "registry" / "cache").glob("*/%s-%s.crate" % (name, version)))
    assert found, "cargo fetch did not download %s %s" % (name, version)
    return found[0]


def fetch_and_unpack_crates(d):
    """do_fetch and do_unpack of the crate:// sources, with the files cargo already downloaded in DL_DIR."""
    subprocess.run(["cargo", "fetch", "--locked", "--manifest-path", str(REPO / "Cargo.toml")], check=True)
    urls = [u for u in d.getVar("SRC_URI").split() if u.startswith("crate://")]
    assert urls, "the recipe has no crate:// sources"
    fetcher = bb.fetch2.Fetch(urls, d)
    for url in urls:
        name, version = url.split(";")[0].split("/")[-2:]
        local = Path(fetcher.localpath(url))
        if not local.exists():
            local.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(cargo_registry_crate(name, version), local)
        bb.fetch2.update_stamp(fetcher.ud[url], d)  # verifies the file against the .inc's sha256sum
    fetcher.download()  # nothing left to download (the configuration has BB_NO_NETWORK)
    fetcher.unpack(d.getVar("UNPACKDIR"))


def dwarfsrcfiles():
    """oe-core's dwarfsrcfiles, which the debug split runs to list the sources of each binary."""
    binary = CACHE / "bin" / "dwarfsrcfiles"
    source = CORE / "recipes-devtools" / "dwarfsrcfiles" / "files" / "dwarfsrcfiles.c"
    if not binary.exists() or binary.stat().st_mtime < source.stat().st_mtime:
        binary.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-O2", "-o", str(binary), str(source), "-ldw", "-lelf"], check=True)
    return binary.parent


def recipe_build_env(d):
    """The environment of the recipe's cargo build, for a host build: its exported CARGO_* variables,
    CARGO_HOME, and the prefix maps of its CFLAGS (which the cc crate reads) and RUSTFLAGS."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CFLAGS", "HOST_CFLAGS", "TARGET_CFLAGS",
                        "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET_DIR", "CC", "HOST_CC")}
    for name in d.keys():
        if name.startswith("CARGO_PROFILE_") and d.getVarFlag(name, "export"):
            env[name] = d.getVar(name)
    env["CARGO_HOME"] = d.getVar("CARGO_HOME")
    env["CFLAGS"] = " ".join(f for f in d.getVar("CFLAGS").split() if f.startswith(PREFIX_MAP_FLAGS))
    env["RUSTFLAGS"] = " ".join(f for f in d.getVar("RUSTFLAGS").split() if f.startswith("--remap-path-prefix"))
    return env


def recipe_cargo_flags(d):
    """What oe-core's cargo class passes to `cargo build` (CARGO_BUILD_FLAGS, then
    PACKAGECONFIG_CONFARGS: the streaming feature) without the cross target (the host's rustc
    builds for the host)."""
    flags = (d.getVar("CARGO_BUILD_FLAGS") + " " + (d.getVar("PACKAGECONFIG_CONFARGS") or "")).split()
    kept, skip = [], False
    for flag in flags:
        if skip:
            skip = False
            continue
        if flag == "--target":
            skip = True
            continue
        kept.append(flag)
    return kept


class Split:
    def __init__(self, d, qa_errors):
        self.d = d
        self.pkgdest = Path(d.getVar("PKGDEST"))
        self.tmpdir = d.getVar("TMPDIR").encode()
        self.qa_errors = qa_errors

    def files(self, package):
        root = self.pkgdest / package
        return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())

    def work_paths(self, package):
        """How often the work directory (TMPDIR) appears in each file of package."""
        counts = {}
        for path in self.files(package):
            n = path.read_bytes().count(self.tmpdir)
            if n:
                counts[str(path.relative_to(self.pkgdest / package))] = n
        return counts


@pytest.fixture(scope="module")
def streaming_split(session):
    import importlib
    for module in oe.BBIMPORTS:
        importlib.import_module("oe." + module)
    parsed, _ = session.parse(LAUNCHER_RECIPE, STREAMING, True, **KEY)
    d = bb.data.createCopy(parsed)
    # The host tools the session linked at parse time (the tasks' PATH), then the work directory.
    d.setVar("HOSTTOOLS_DIR", parsed.getVar("HOSTTOOLS_DIR"))
    d.setVar("TMPDIR", str(CACHE / "tmp"))
    d.setVar("DL_DIR", str(CACHE / "downloads"))
    # The host's binutils for the x86-64 ELF that the host's toolchain built (see the module doc).
    d.setVar("OBJCOPY", "objcopy")
    d.setVar("STRIP", "strip")
    d.setVar("READELF", "readelf")
    load_python_defs(d, ("systemd_service_searchpaths", "systemd_service_exists", "systemd_service_path",
                         "systemd_filter_services", "get_package_var", "package_qa_clean_path",
                         "package_qa_check_buildpaths"))
    workdir = Path(d.getVar("WORKDIR"))
    assert workdir.is_relative_to(CACHE / "tmp"), workdir
    target = Path(d.getVar("B")) / "target"
    if target.is_dir() and not CARGO_TARGET_CACHE.exists():
        target.rename(CARGO_TARGET_CACHE)
    shutil.rmtree(workdir, ignore_errors=True)
    for name in ("T", "D", "B", "UNPACKDIR", "S"):
        os.makedirs(d.getVar(name), exist_ok=True)
    unpack_file_sources(d)
    fetch_and_unpack_crates(d)
    # The tasks before do_compile, in their order: the linker wrappers (the host triple is the
    # recipe's RUST_BUILD_SYS, which config.toml links with build-rust-ccld), then do_configure.
    bb.build.exec_func("do_rust_create_wrappers", d)
    bb.build.exec_func("do_configure", d)
    config = (Path(d.getVar("CARGO_HOME")) / "config.toml").read_text()
    assert 'target-dir = "%s"' % target in config and "replace-with = \"bitbake\"" in config, config
    if CARGO_TARGET_CACHE.exists():
        CARGO_TARGET_CACHE.rename(target)

    flags = recipe_cargo_flags(d)
    assert "--features" in flags and "streaming" in flags[flags.index("--features") + 1], flags
    subprocess.run(["cargo", "build", *flags], cwd=d.getVar("B"), env=recipe_build_env(d), check=True)
    built = target / "release" / "swupdate-launcher"
    installed_from = target / d.getVar("CARGO_TARGET_SUBDIR")
    installed_from.mkdir(parents=True, exist_ok=True)
    shutil.copy(built, installed_from / "swupdate-launcher")

    d.setVar("DEPLOY_DIR", str(workdir / "deploy"))
    env_path = os.environ["PATH"]
    os.environ["PATH"] = "%s:%s" % (dwarfsrcfiles(), env_path)
    try:
        bb.build.exec_func("do_install", d)
        bb.build.exec_func("perform_packagecopy", d)
        for func in (d.getVar("PACKAGE_PREPROCESS_FUNCS") or "").split():
            bb.build.exec_func(func, d)
        oe.package.process_split_and_strip_files(d)
        for func in d.getVar("PACKAGESPLITFUNCS").split():
            bb.build.exec_func(func, d)
    finally:
        os.environ["PATH"] = env_path

    # do_package_qa's path test, insane.bbclass's own function, on every file of the packages the
    # split puts the debug info and its sources in. Not on the main package: its binary is linked by
    # the native linker wrapper here, whose BUILD_LDFLAGS add an RPATH into the native sysroot that
    # the target link (target-rust-ccld, TARGET_LDFLAGS) does not.
    captured = Captured()
    logger = logging.getLogger("BitBake")
    logger.addHandler(captured)
    try:
        for package in DEBUG_PACKAGES:
            for path in Split(d, []).files(package):
                package_qa_check_buildpaths = bb.utils.get_context()["package_qa_check_buildpaths"]
                package_qa_check_buildpaths(str(path), package, d, None)
    finally:
        logger.removeHandler(captured)
    return Split(d, [m for m in captured.messages() if "[buildpaths]" in m])


def test_buildpaths_is_an_error_of_the_release(streaming_split):
    # What makes a path in -dbg fail the build rather than warn.
    assert "buildpaths" in streaming_split.d.getVar("ERROR_QA").split()


def test_the_split_puts_the_launchers_debug_info_in_the_dbg_package(streaming_split):
    files = [str(p.relative_to(streaming_split.pkgdest)) for p in streaming_split.files("swupdate-launcher-dbg")]
    assert "swupdate-launcher-dbg/usr/bin/.debug/swupdate-launcher" in files, files
    # ring's C and assembly are in it: the streaming build's debug info is the one under test.
    debug = (streaming_split.pkgdest / "swupdate-launcher-dbg" / "usr/bin/.debug/swupdate-launcher").read_bytes()
    assert b"curve25519" in debug


def test_the_dbg_package_has_no_path_of_the_work_directory(streaming_split):
    assert streaming_split.work_paths("swupdate-launcher-dbg") == {}


def test_the_src_package_has_the_c_sources_of_ring_from_cargo_home(streaming_split):
    # Where the map puts them: the debug split copies each source the debug info names from the
    # work directory, so the mapped C files of ring are in -src, under sources/cargo_home.
    sources = [str(p) for p in streaming_split.files("swupdate-launcher-src")]
    assert any("/sources/cargo_home/bitbake/ring-" in p and p.endswith(".c") for p in sources), sources[:20]


def test_no_debug_package_fails_the_buildpaths_qa_test(streaming_split):
    assert streaming_split.qa_errors == []
