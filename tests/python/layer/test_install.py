"""What do_install puts in ${D}, run for real (bb.build.exec_func) for every valid combination.

The launcher recipe's file:// sources are fetched and unpacked by BitBake's fetcher (the key from the
product layer's FILESEXTRAPATHS); its git checkout is stood in for by this repository's systemd/ and
an executable where cargo leaves the binary. The swupdate recipe is the stub of meta-swupdate's, with
this layer's bbappend. Without any flag the layer wires nothing: the launcher package holds its binary
alone and swupdate installs what meta-swupdate installs (swupdate.sh and the units that start it)."""

from pathlib import Path

import pytest

import bitbake_harness as h

VALID = [(c, s) for c in h.VALID for s in (True, False)]
IDS = [h.combo_id(c, s) for c, s in VALID]

UNITDIR = "/usr/lib/systemd/system"  # systemd implies usrmerge: nonarch_base_libdir is /usr/lib


def expected_launcher_files(combo, systemd):
    if not h.opted_in(combo):
        # Nothing in swupdate's conf.d, which meta-swupdate's swupdate.sh sources; nothing starts it.
        return {"/usr/bin/swupdate-launcher"}
    files = {
        "/usr/bin/swupdate-launcher",
        "/etc/default/swupdate",
        "/etc/swupdate/public.pem",
        "/usr/lib/swupdate/conf.d/00-tolomeo-source",
    }
    if systemd and "update-ota" in combo:
        files.add(UNITDIR + "/swupdate.service")
    if systemd and "update-local" in combo:
        files.add(UNITDIR + "/swupdate-local@.service")
        files.add("/usr/lib/udev/rules.d/90-swupdate-local.rules")
    if systemd and ("update-ota" in combo or "update-local" in combo):
        files.add("/usr/lib/tmpfiles.d/swupdate-launcher.conf")
    return files


def expected_swupdate_files(combo, systemd):
    files = {
        "/usr/bin/swupdate",
        "/usr/bin/swupdate-client",
        "/usr/bin/swupdate-progress",
        "/usr/bin/swupdate-ipc",
        "/www/index.html",
        "/usr/lib/swupdate/conf.d/10-mongoose-args",
    }
    if systemd:
        files |= {
            UNITDIR + "/swupdate-usb@.service",
            UNITDIR + "/swupdate-progress.service",
            "/usr/lib/tmpfiles.d/swupdate.conf",
            "/etc/udev/rules.d/swupdate-usb.rules",
        }
    if not h.opted_in(combo):
        # meta-swupdate's shell loader and what starts it, untouched.
        files.add("/usr/lib/swupdate/swupdate.sh")
        if systemd:
            files |= {UNITDIR + "/swupdate.service", UNITDIR + "/swupdate.socket"}
        else:
            files |= {"/etc/init.d/swupdate", "/usr/lib/swupdate/conf.d/90-start-progress"}
    return files


def installed_units(d, image_dir):
    unitdir = Path(image_dir) / d.getVar("systemd_system_unitdir").lstrip("/")
    return {p.name for p in unitdir.iterdir()} if unitdir.is_dir() else set()


def env_file(path):
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


@pytest.mark.parametrize("combo,systemd", VALID, ids=IDS)
def test_launcher_installs_exactly_the_files_of_its_enabled_features(installs, combo, systemd):
    _, _, launcher_d, _, _ = installs(combo, systemd)
    assert set(h.installed_files(launcher_d)) == expected_launcher_files(combo, systemd)


@pytest.mark.parametrize("combo,systemd", VALID, ids=IDS)
def test_launcher_systemd_service_lists_exactly_the_installed_units(installs, combo, systemd):
    # Real systemd.bbclass fails the build on an entry that is not installed; an installed unit that
    # is not listed would never be known to systemctl preset.
    _, launcher, launcher_d, _, _ = installs(combo, systemd)
    listed = launcher.getVar("SYSTEMD_SERVICE:swupdate-launcher").split()
    assert sorted(listed) == sorted(set(listed))
    assert set(listed) == installed_units(launcher, launcher_d)


@pytest.mark.parametrize("combo", h.VALID, ids=[h.combo_id(c, True) for c in h.VALID])
def test_swupdate_systemd_service_lists_exactly_the_installed_units(installs, combo):
    _, _, _, swupdate, swupdate_d = installs(combo, True)
    listed = [unit for package in swupdate.getVar("SYSTEMD_PACKAGES").split()
              for unit in (swupdate.getVar("SYSTEMD_SERVICE:" + package) or "").split()]
    assert listed
    assert set(listed) == installed_units(swupdate, swupdate_d)
    assert ("swupdate.service" in listed) == (not h.opted_in(combo))


@pytest.mark.parametrize("combo,systemd", VALID, ids=IDS)
def test_swupdate_installs_exactly_its_files_and_the_shell_loader_only_without_a_flag(installs, combo, systemd):
    _, _, _, _, swupdate_d = installs(combo, systemd)
    assert set(h.installed_files(swupdate_d)) == expected_swupdate_files(combo, systemd)


@pytest.mark.parametrize("systemd", [True, False], ids=["systemd", "no-systemd"])
def test_without_the_bbappend_swupdate_installs_the_shell_loader_and_its_units(new_build, systemd):
    # The stub installs what meta-swupdate installs: this is what the bbappend has to remove.
    build = new_build(h.local_conf(h.distro_features(("update-ota",), systemd)))
    files = set(h.installed_files(h.install_swupdate(build.swupdate(appends=())[""])))
    assert "/usr/lib/swupdate/swupdate.sh" in files
    if systemd:
        assert {UNITDIR + "/swupdate.service", UNITDIR + "/swupdate.socket"} <= files
    else:
        assert {"/etc/init.d/swupdate", "/usr/lib/swupdate/conf.d/90-start-progress"} <= files


@pytest.mark.parametrize("combo,systemd", VALID, ids=IDS)
def test_every_file_the_launcher_installs_is_shipped_in_the_launcher_package(installs, combo, systemd):
    _, launcher, launcher_d, _, _ = installs(combo, systemd)
    packages, unshipped = h.split_packages(launcher, launcher_d)
    assert unshipped == []
    assert packages["swupdate-launcher"] == h.installed_files(launcher_d)


@pytest.mark.parametrize("combo,systemd", VALID, ids=IDS)
def test_every_file_swupdate_installs_is_still_shipped(installs, combo, systemd):
    _, _, _, swupdate, swupdate_d = installs(combo, systemd)
    assert h.split_packages(swupdate, swupdate_d)[1] == []


@pytest.mark.parametrize("combo,systemd", VALID, ids=IDS)
def test_no_file_is_installed_by_both_swupdate_and_the_launcher(installs, combo, systemd):
    _, _, launcher_d, _, swupdate_d = installs(combo, systemd)
    assert set(h.installed_files(launcher_d)) & set(h.installed_files(swupdate_d)) == set()


def test_the_default_file_is_identical_whatever_the_flags(installs):
    texts = {h.combo_id(c, s): (installs(c, s)[2] / "etc/default/swupdate").read_text()
             for c, s in VALID if h.opted_in(c)}
    assert len(texts) == 2 * (len(h.VALID) - 1)
    assert len(set(texts.values())) == 1, texts


def test_the_default_file_holds_the_path_topology_and_nothing_else(installs):
    _, _, launcher_d, _, _ = installs(("update-ota",), True)
    assert env_file(launcher_d / "etc/default/swupdate") == {
        "SWUPDATE_BIN": "/usr/bin/swupdate",
        "SWUPDATE_PUBLIC_KEY": "/etc/swupdate/public.pem",
        "SWUPDATE_CONF_DIR_LIB": "/usr/lib/swupdate/conf.d",
        "SWUPDATE_CONF_DIR_ETC": "/etc/swupdate/conf.d",
    }


def test_the_key_the_default_file_names_is_the_products_key(installs):
    _, _, launcher_d, _, _ = installs(("update-local",), True)
    named = env_file(launcher_d / "etc/default/swupdate")["SWUPDATE_PUBLIC_KEY"]
    assert (launcher_d / named.lstrip("/")).read_bytes() == h.PRODUCT_KEY.read_bytes()


def test_a_key_given_as_an_absolute_path_is_installed(new_build):
    build = new_build(h.local_conf(h.distro_features(("update-ota",), True), key=str(h.PRODUCT_KEY)))
    launcher_d = h.install_launcher(build.launcher(appends=())[""])
    assert (launcher_d / "etc/swupdate/public.pem").read_bytes() == h.PRODUCT_KEY.read_bytes()


@pytest.mark.parametrize("key", [None, h.KEY_NAME], ids=["no-key", "key"])
def test_without_a_flag_the_launcher_installs_its_binary_alone(new_build, key):
    build = new_build(h.local_conf(h.distro_features((), True), key=key))
    launcher = build.launcher()[""]
    launcher_d = h.install_launcher(launcher)
    assert h.installed_files(launcher_d) == ["/usr/bin/swupdate-launcher"]
    assert (launcher.getVar("CONFFILES:swupdate-launcher") or "").split() == []
    assert launcher.getVar("SYSTEMD_SERVICE:swupdate-launcher").split() == []


OPTED_IN = [(c, s) for c, s in VALID if h.opted_in(c)]


@pytest.mark.parametrize("combo,systemd", OPTED_IN, ids=[h.combo_id(c, s) for c, s in OPTED_IN])
def test_with_a_flag_the_default_file_is_a_conffile(installs, combo, systemd):
    _, launcher, launcher_d, _, _ = installs(combo, systemd)
    assert launcher.getVar("CONFFILES:swupdate-launcher").split() == ["/etc/default/swupdate"]
    assert (launcher_d / "etc/default/swupdate").is_file()


@pytest.mark.parametrize("combo,systemd", OPTED_IN, ids=[h.combo_id(c, s) for c, s in OPTED_IN])
def test_the_fragment_carries_the_source_and_in_file_mode_the_default_update_file(installs, combo, systemd):
    _, _, launcher_d, _, _ = installs(combo, systemd)
    values = env_file(launcher_d / "usr/lib/swupdate/conf.d/00-tolomeo-source")
    if "update-ota-streaming" in combo:
        assert values == {"SWUPDATE_SOURCE": "download"}
    else:
        assert values == {"SWUPDATE_SOURCE": "file", "UPDATE_FILE": "/var/lib/swupdate/update.swu"}


def test_installed_units_rule_and_tmpfiles_are_the_repositorys_files(installs):
    _, _, launcher_d, _, _ = installs(("update-local", "update-ota"), True)
    for source, installed in (
        ("swupdate.service", UNITDIR + "/swupdate.service"),
        ("swupdate-local@.service", UNITDIR + "/swupdate-local@.service"),
        ("90-swupdate-local.rules", "/usr/lib/udev/rules.d/90-swupdate-local.rules"),
        ("tmpfiles-swupdate-launcher.conf", "/usr/lib/tmpfiles.d/swupdate-launcher.conf"),
    ):
        assert (launcher_d / installed.lstrip("/")).read_bytes() == (h.UNITS_DIR / source).read_bytes()


def test_installed_files_are_read_only_but_the_binary(installs):
    _, _, launcher_d, _, _ = installs(("update-local", "update-ota"), True)
    for path in h.installed_files(launcher_d):
        mode = (launcher_d / path.lstrip("/")).stat().st_mode & 0o777
        assert mode == (0o755 if path == "/usr/bin/swupdate-launcher" else 0o644), (path, oct(mode))


def test_the_etc_fragment_directory_exists_for_the_agent(installs):
    _, _, launcher_d, _, _ = installs(("update-ota",), True)
    assert (launcher_d / "etc/swupdate/conf.d").is_dir()


def test_the_native_variant_installs_only_the_binary(installs):
    build, _, _, _, _ = installs(("update-ota", "update-local"), True)
    native = build.launcher()["native"]
    assert h.installed_files(h.install_launcher(native)) == ["/usr/bin/swupdate-launcher"]
