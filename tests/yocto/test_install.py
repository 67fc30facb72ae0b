"""do_install of the layer's recipes (the launcher, its device policy swupdate-launcher-conf) and of
swupdate with the bbappend, and oe-core's own package split (PACKAGESPLITFUNCS), run with bb.build.exec_func on the
datastores the real parser made for each combination (the real classes: cargo's cargo_do_install,
meta-swupdate's do_install, the layer's :append functions, package.bbclass's perform_packagecopy
and populate_packages with its installed-vs-shipped QA).

Only what cannot run here is stood in for: cargo's build (the launcher binary scripts/test-layer
built with the recipe's exported CARGO_PROFILE_RELEASE_* settings is put where cargo_do_install
looks), and swupdate's `make install` of sources that cannot be fetched (oe_runmake installs the
files swupdate's Makefile installs: the programs, the IPC library, its headers). The file:// sources
of both recipes are unpacked with bb.fetch2, as do_unpack does."""

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CONF_RECIPE, CORE, LAUNCHER_RECIPE, REPO, SWUPDATE_RECIPES, VALID, combo_id, skipped
from test_combinations import KEY

import bb.build  # noqa: E402
import bb.data  # noqa: E402
import bb.fetch2  # noqa: E402

sys.path.insert(0, str(CORE / "lib"))
import oe.package  # noqa: E402,F401  (what package.bbclass's python functions call)
import oe.qa  # noqa: E402,F401
import oe.path  # noqa: E402,F401
import oe.cachedpath  # noqa: E402,F401
import oe.license  # noqa: E402,F401

bb.utils.get_context().update({"oe": oe, "os": os, "bb": bb})

# Every valid combination with systemd (units, udev rule, tmpfiles.d differ by flag), and without
# it the two ends (no flag, every flag): installing takes seconds per recipe over tinfoil's
# connection, and without systemd the flags only change the conf.d fragment, checked by all of them.
ALL = [(c, True) for c in VALID] + [((), False), (VALID[-1], False)]
ALL_IDS = [combo_id(c, s) for c, s in ALL]
SWUPDATE = max(SWUPDATE_RECIPES, key=lambda p: ("git" not in p.name, p.name))  # the release's newest fixed version

# What swupdate's `make install` installs (Makefile: install target) for meta-swupdate's defconfig.
MAKE_INSTALL = """\
install -d ${D}${bindir} ${D}${libdir} ${D}${includedir}
for tool in swupdate swupdate-client swupdate-progress swupdate-ipc swupdate-hawkbitcfg swupdate-sendtohawkbit; do
    printf '#!/bin/sh\\n' > ${D}${bindir}/$tool
    chmod 0755 ${D}${bindir}/$tool
done
printf 'lib' > ${D}${libdir}/libswupdate.so.0.1
ln -s libswupdate.so.0.1 ${D}${libdir}/libswupdate.so.1
ln -s libswupdate.so.1 ${D}${libdir}/libswupdate.so
for header in network_ipc.h swupdate_status.h progress_ipc.h; do
    printf '/* */\\n' > ${D}${includedir}/$header
done
"""


def unpack_file_sources(d):
    urls = [u for u in d.getVar("SRC_URI").split() if u.startswith("file://")]
    bb.fetch2.Fetch(urls, d).unpack(d.getVar("UNPACKDIR"))


def files_under(root):
    found = set()
    for directory, dirs, files in os.walk(root):
        for name in files + [x for x in dirs if os.path.islink(os.path.join(directory, x))]:
            found.add("/" + os.path.relpath(os.path.join(directory, name), root))
    return found


class Installed:
    """One recipe, installed and split into packages in workdir."""

    def __init__(self, d, workdir):
        self.d = d
        self.image = Path(d.getVar("D"))
        self.files = files_under(self.image)
        self.pkgdest = Path(d.getVar("PKGDEST"))
        self.packages = {p: files_under(self.pkgdest / p) for p in d.getVar("PACKAGES").split()}
        self.qa_errors = d.getVar("QA_ERRORS_FOUND")

    def package_of(self, path):
        owners = [p for p, files in self.packages.items() if path in files]
        assert len(owners) <= 1, (path, owners)
        return owners[0] if owners else None

    def text(self, path):
        return (self.image / path.lstrip("/")).read_text()


_DEFS_LOADED = set()


def load_python_defs(d, names):
    """The `def` functions of the classes (systemd.bbclass's systemd_service_exists, ...): bitbake
    compiles them into its server's context while it parses; exec_func runs here, in the client."""
    for name in names:
        if name in _DEFS_LOADED:
            continue
        code = d.getVar(name, False)
        if code and code.lstrip().startswith("def "):
            exec(compile(code, name, "exec"), bb.utils.get_context())
            _DEFS_LOADED.add(name)


def install_and_package(d, workdir, prepare):
    d = bb.data.createCopy(d)
    load_python_defs(d, ("systemd_service_searchpaths", "systemd_service_exists", "systemd_service_path",
                         "systemd_filter_services", "get_package_var"))
    d.setVar("WORKDIR", str(workdir))
    d.setVar("DEPLOY_DIR", str(workdir / "deploy"))
    for name in ("T", "D", "B", "UNPACKDIR", "S"):
        os.makedirs(d.getVar(name), exist_ok=True)
    unpack_file_sources(d)
    prepare(d)
    bb.build.exec_func("do_install", d)
    bb.build.exec_func("perform_packagecopy", d)
    # do_package's split, as package.bbclass runs it: every function of PACKAGESPLITFUNCS in order
    # (systemd.bbclass's systemd_populate_packages adds each package's units to its FILES and
    # fails on a missing one; populate_packages splits and reports installed-vs-shipped).
    for func in d.getVar("PACKAGESPLITFUNCS").split():
        bb.build.exec_func(func, d)
    return Installed(d, workdir)


def prepare_launcher(binary):
    def prepare(d):
        target = Path(d.getVar("B")) / "target" / d.getVar("CARGO_TARGET_SUBDIR")
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(binary, target / "swupdate-launcher")
    return prepare


def prepare_swupdate(d):
    (Path(d.getVar("S")) / "www").mkdir(parents=True, exist_ok=True)
    (Path(d.getVar("S")) / "www" / "index.html").write_text("<html></html>\n")
    d.setVar("oe_runmake", MAKE_INSTALL)


class Built:
    """The recipes of one combination, installed and split: the launcher, swupdate, and the device
    policy (None without a flag, where swupdate-launcher-conf is skipped). Iterating gives the
    recipes that were built."""

    def __init__(self, launcher, swupdate, conf):
        self.launcher, self.swupdate, self.conf = launcher, swupdate, conf

    def __iter__(self):
        return iter([r for r in (self.launcher, self.swupdate, self.conf) if r is not None])


def no_preparation(d):
    pass


class Installs:
    def __init__(self, session, factory, binary):
        self.session, self.factory, self.binary, self.cache = session, factory, binary, {}

    def __call__(self, combo, systemd):
        key = (combo, systemd)
        if key not in self.cache:
            name = combo_id(combo, systemd).replace("/", "-")
            launcher_d, _ = self.session.parse(LAUNCHER_RECIPE, combo, systemd, **KEY)
            swupdate_d, _ = self.session.parse(SWUPDATE, combo, systemd, **KEY)
            conf_d, _ = self.session.parse(CONF_RECIPE, combo, systemd, **KEY)
            assert bool(skipped(conf_d)) == (not combo), skipped(conf_d)
            self.cache[key] = Built(
                install_and_package(launcher_d, self.factory.mktemp("launcher-" + name), prepare_launcher(self.binary)),
                install_and_package(swupdate_d, self.factory.mktemp("swupdate-" + name), prepare_swupdate),
                None if skipped(conf_d) else install_and_package(conf_d, self.factory.mktemp("conf-" + name), no_preparation),
            )
        return self.cache[key]


@pytest.fixture(scope="module")
def installs(session, tmp_path_factory, launcher_binary):
    # The oe modules bitbake imports for python functions (oe-core's addpylib: oe.BBIMPORTS), here
    # in the client, where exec_func runs them.
    import importlib
    for module in oe.BBIMPORTS:
        importlib.import_module("oe." + module)
    return Installs(session, tmp_path_factory, launcher_binary)


def expected_launcher_files(combo, systemd, d):
    files = {"/usr/bin/swupdate-launcher"}
    if not combo:
        return files
    if systemd:
        if "update-ota" in combo:
            files.add(d.getVar("systemd_system_unitdir") + "/swupdate.service")
        if "update-local" in combo:
            files.add(d.getVar("systemd_system_unitdir") + "/swupdate-local@.service")
            files.add(d.getVar("nonarch_base_libdir") + "/udev/rules.d/90-swupdate-local.rules")
        files.add("/usr/lib/tmpfiles.d/swupdate-launcher.conf")
    return files


# -- what each recipe installs --------------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_the_launcher_installs_exactly_the_files_of_its_features(installs, combo, systemd):
    launcher = installs(combo, systemd).launcher
    assert launcher.files == expected_launcher_files(combo, systemd, launcher.d)


@pytest.mark.parametrize("combo,systemd", [(c, s) for c, s in ALL if c], ids=[i for (c, s), i in zip(ALL, ALL_IDS) if c])
def test_the_device_policy_installs_the_topology_the_fragment_of_the_flags_and_the_key(installs, combo, systemd):
    conf = installs(combo, systemd).conf
    assert conf.files == {"/etc/default/swupdate", "/etc/swupdate/public.pem", "/usr/lib/swupdate/conf.d/00-tolomeo-source"}
    assert conf.packages["swupdate-launcher-conf"] == conf.files
    assert conf.d.getVar("CONFFILES:swupdate-launcher-conf").split() == ["/etc/default/swupdate"]


@pytest.mark.parametrize("combo,systemd", [(c, s) for c, s in ALL if c], ids=[i for (c, s), i in zip(ALL, ALL_IDS) if c])
def test_the_launcher_configuration_follows_the_flags(installs, combo, systemd):
    conf = installs(combo, systemd).conf
    source = conf.text("/usr/lib/swupdate/conf.d/00-tolomeo-source")
    if "update-ota-streaming" in combo:
        assert "SWUPDATE_SOURCE=download\n" in source and "UPDATE_FILE" not in source
    else:
        assert "SWUPDATE_SOURCE=file\nUPDATE_FILE=/var/lib/swupdate/update.swu\n" in source
    default = conf.text("/etc/default/swupdate")
    assert "SWUPDATE_PUBLIC_KEY=/etc/swupdate/public.pem\n" in default and "@" not in default


@pytest.mark.parametrize("combo,systemd", [(c, s) for c, s in ALL if not c], ids=[i for (c, s), i in zip(ALL, ALL_IDS) if not c])
def test_swupdate_without_a_flag_installs_what_meta_swupdate_installs(installs, combo, systemd):
    swupdate = installs(combo, systemd).swupdate
    unitdir = swupdate.d.getVar("systemd_system_unitdir")
    assert {"/usr/lib/swupdate/swupdate.sh", unitdir + "/swupdate.service", unitdir + "/swupdate.socket",
            unitdir + "/swupdate-usb@.service", "/etc/init.d/swupdate",
            "/usr/lib/swupdate/conf.d/10-mongoose-args"} <= swupdate.files
    assert "After=swupdate.service" in swupdate.text(unitdir + "/swupdate-progress.service")


@pytest.mark.parametrize("combo,systemd", [(c, s) for c, s in ALL if c], ids=[i for (c, s), i in zip(ALL, ALL_IDS) if c])
def test_swupdate_with_a_flag_drops_the_shell_loader_and_what_assumed_a_daemon(installs, combo, systemd):
    swupdate = installs(combo, systemd).swupdate
    unitdir = swupdate.d.getVar("systemd_system_unitdir")
    gone = {"/usr/lib/swupdate/swupdate.sh", unitdir + "/swupdate.service", unitdir + "/swupdate.socket",
            "/etc/init.d/swupdate", "/usr/lib/swupdate/conf.d/90-start-progress",
            "/usr/lib/swupdate/conf.d/10-mongoose-args", unitdir + "/swupdate-usb@.service",
            "/etc/udev/rules.d/swupdate-usb.rules"}
    assert not (gone & swupdate.files)
    assert {"/usr/bin/swupdate", "/usr/bin/swupdate-progress", "/www/index.html"} <= swupdate.files


@pytest.mark.parametrize("combo,systemd", [(c, s) for c, s in ALL if c], ids=[i for (c, s), i in zip(ALL, ALL_IDS) if c])
def test_the_progress_reporter_runs_from_boot_before_the_one_shot_install(installs, combo, systemd):
    swupdate = installs(combo, systemd).swupdate
    unit = swupdate.text(swupdate.d.getVar("systemd_system_unitdir") + "/swupdate-progress.service")
    assert "ExecStart=/usr/bin/swupdate-progress -w\n" in unit
    assert "Before=swupdate.service\n" in unit and "WantedBy=multi-user.target\n" in unit
    # Where swupdate's sockets are under the launcher's units (2024.12's client needs it).
    assert "RuntimeDirectory=swupdate\n" in unit and "RuntimeDirectoryPreserve=yes\n" in unit
    lines = [line for line in unit.splitlines() if not line.startswith("#")]
    assert "After=swupdate.service" not in lines and "WantedBy=swupdate.service" not in lines


# -- how the files are packaged -------------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_every_installed_file_is_shipped_and_no_qa_error(installs, combo, systemd):
    for recipe in installs(combo, systemd):
        assert recipe.qa_errors in (None, "", "False"), recipe.d.getVar("PN")
        shipped = set().union(*recipe.packages.values())
        assert recipe.files <= shipped, recipe.files - shipped


@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_no_file_is_in_two_packages(installs, combo, systemd):
    owners = {}
    for recipe in installs(combo, systemd):
        for package, files in recipe.packages.items():
            for path in files:
                owners.setdefault(path, []).append(package)
    assert {p: o for p, o in owners.items() if len(o) > 1} == {}


@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_every_unit_a_package_enables_is_in_that_package(installs, combo, systemd):
    # What systemd.bbclass checks at do_package: SYSTEMD_SERVICE of each of SYSTEMD_PACKAGES exists.
    for recipe in installs(combo, systemd):
        if not systemd:
            continue
        unitdir = recipe.d.getVar("systemd_system_unitdir")
        for package in (recipe.d.getVar("SYSTEMD_PACKAGES") or "").split():  # swupdate-launcher-conf: no unit
            for unit in (recipe.d.getVar("SYSTEMD_SERVICE:" + package) or "").split():
                assert unitdir + "/" + unit in recipe.packages[package], (package, unit)


@pytest.mark.parametrize("combo,systemd", [(c, s) for c, s in ALL if c], ids=[i for (c, s), i in zip(ALL, ALL_IDS) if c])
def test_a_file_that_moves_package_on_upgrade_is_replaced_not_clashed(installs, combo, systemd):
    # A device built from meta-swupdate alone has swupdate's packages of the no-flag build; the new
    # image's launcher package may ship a path one of them owned: it must RREPLACES that package.
    old_swupdate = installs((), systemd).swupdate
    built = installs(combo, systemd)
    for recipe, package in ((built.launcher, "swupdate-launcher"), (built.conf, "swupdate-launcher-conf")):
        replaces = (recipe.d.getVar("RREPLACES:" + package) or "").split()
        for path in recipe.packages[package]:
            old = old_swupdate.package_of(path)
            if old:
                assert old in replaces, (path, old)
    assert built.swupdate.packages["swupdate-usb"] == set()  # an empty transition package, which pulls in the launcher


def os_release(root):
    # What oe-core's os-release package (an RDEPENDS of the launcher) ships: the running version.
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc" / "os-release").write_text('ID=nodistro\nVERSION_ID="1.0"\n')


@pytest.mark.parametrize("combo,systemd", [(c, s) for c, s in ALL if c], ids=[i for (c, s), i in zip(ALL, ALL_IDS) if c])
def test_the_image_packages_pass_the_launchers_static_check(installs, launcher_binary, tmp_path, combo, systemd):
    # A rootfs with swupdate, swupdate-www, swupdate-progress, swupdate-usb and swupdate-launcher as
    # these packages ship them: the check the image class runs passes (the web UI's package no
    # longer carries the daemon's 10-mongoose-args that the launcher refuses next to a one-shot source).
    built = installs(combo, systemd)
    for recipe, packages in ((built.swupdate, ("swupdate", "swupdate-www", "swupdate-progress", "swupdate-usb")),
                             (built.launcher, ("swupdate-launcher",)), (built.conf, ("swupdate-launcher-conf",))):
        for package in packages:
            shutil.copytree(recipe.pkgdest / package, tmp_path, symlinks=True, dirs_exist_ok=True)
    os_release(tmp_path)
    result = subprocess.run([str(launcher_binary), "--root", str(tmp_path), "check", "--static"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_check_fails_with_meta_swupdates_mongoose_fragment(installs, launcher_binary, tmp_path):
    # Why swupdate-www's fragment goes: the same rootfs with meta-swupdate's swupdate-www.
    built = installs(("update-ota",), True)
    old_swupdate = installs((), True).swupdate
    for pkgdest, package in ((built.swupdate.pkgdest, "swupdate"), (old_swupdate.pkgdest, "swupdate-www"),
                             (built.launcher.pkgdest, "swupdate-launcher"), (built.conf.pkgdest, "swupdate-launcher-conf")):
        shutil.copytree(pkgdest / package, tmp_path, symlinks=True, dirs_exist_ok=True)
    os_release(tmp_path)
    result = subprocess.run([str(launcher_binary), "--root", str(tmp_path), "check", "--static"], capture_output=True, text=True)
    assert result.returncode == 65 and "10-mongoose-args" in result.stderr, result.stderr


def test_the_launcher_binary_is_built_unstripped_so_oe_strips_and_splits_it(launcher_binary):
    # oe.package.is_elf is what do_package's strip step uses: bit 2 = already stripped. A binary that
    # cargo stripped (Cargo.toml's strip = true) has it and fails with already-stripped.
    path, kind = oe.package.is_elf(str(launcher_binary))
    assert kind & 1 and not kind & 2, subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout
    assert "with debug_info" in subprocess.run(["file", "-b", path], capture_output=True, text=True).stdout


def test_the_unpacked_sources_are_a_complete_cargo_package_with_its_lockfile(installs):
    # What do_unpack made of the recipe's file:// sources is what cargo builds: the manifest
    # resolves offline against the unpacked Cargo.lock unchanged (--locked: oe-core's cargo class
    # builds with --frozen), and the binary's sources are there.
    launcher = installs(("update-ota",), True).launcher
    source = Path(launcher.d.getVar("S"))
    def crates(manifest):
        result = subprocess.run(["cargo", "tree", "--locked", "--offline", "--all-features", "--target", "x86_64-unknown-linux-gnu",
                                 "--prefix", "none", "--manifest-path", str(manifest)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return {" ".join(line.split()[:2]) for line in result.stdout.splitlines() if line.strip()}

    # The same crates, at the same versions, as the checkout's own manifest resolves to.
    unpacked = crates(source / "Cargo.toml")
    assert unpacked == crates(REPO / "Cargo.toml")
    assert any(c.startswith("reqwest v") for c in unpacked)
    assert (source / "src" / "main.rs").is_file() and (source / "LICENSE").is_file()
    assert (source / "systemd" / "swupdate.service").is_file()
