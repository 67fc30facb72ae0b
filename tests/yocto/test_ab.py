"""update-ab: the A/B wiring of the layer (swupdate-launcher-ab.inc, swupdate-launcher-conf-ab.inc),
on the real parser and the real do_install and package split, as test_combinations.py and
test_install.py do for the other flags: the slot table from the product's variables into the device
policy's fragment, the confirm unit in a package of its own that is enabled at boot, libubootenv's
tools, and the parse stopping for an A/B image without its table."""

import shutil
import subprocess

import pytest

from conftest import CONF_RECIPE, LAUNCHER_RECIPE, Failed, skipped
from test_combinations import KEY
from test_install import install_and_package, no_preparation, os_release, prepare_launcher

AB = ("update-ota", "update-ab")
TABLE = {
    "SWUPDATE_SLOTS": "A B",
    "SWUPDATE_SLOT_SOURCES": "root-device cmdline:rauc.slot",
    "SWUPDATE_SLOT_A": "device=PARTLABEL=rootfs-a bootname=A selection=stable,copy2 writes=PARTLABEL=rootfs-b",
    "SWUPDATE_SLOT_B": "device=PARTLABEL=rootfs-b bootname=B selection=stable,copy1 writes=PARTLABEL=rootfs-a",
}
FRAGMENT = "/usr/lib/swupdate/conf.d/00-tolomeo-source"


@pytest.fixture(scope="module")
def oe_modules():
    # The oe modules package.bbclass's python functions call, imported here where exec_func runs
    # them (as test_install.py's installs fixture does).
    import importlib
    import oe
    for module in oe.BBIMPORTS:
        importlib.import_module("oe." + module)


@pytest.fixture(scope="module")
def ab_install(session, tmp_path_factory, launcher_binary, oe_modules):
    """The launcher and the device policy of an A/B image with systemd, installed and split."""
    launcher_d, _ = session.parse(LAUNCHER_RECIPE, AB, True, **KEY, **TABLE)
    conf_d, _ = session.parse(CONF_RECIPE, AB, True, **KEY, **TABLE, SWUPDATE_CONFIRM="ustate bootcount")
    return (install_and_package(launcher_d, tmp_path_factory.mktemp("launcher-ab"), prepare_launcher(launcher_binary)),
            install_and_package(conf_d, tmp_path_factory.mktemp("conf-ab"), no_preparation))


def test_update_ab_writes_the_slot_table_into_the_fragment_of_the_flags(ab_install):
    _, conf = ab_install
    text = conf.text(FRAGMENT)
    assert text.index("SWUPDATE_SOURCE=file\n") < text.index('SWUPDATE_SLOTS="A B"\n')
    for name, value in TABLE.items():
        assert '%s="%s"\n' % (name, value) in text, name
    assert 'SWUPDATE_CONFIRM="ustate bootcount"\n' in text
    assert "SWUPDATE_CONFIRM_PRIMARY" not in text and "SWUPDATE_HEALTH_TIMEOUT" not in text


def test_update_ab_installs_the_confirm_unit_in_a_package_of_its_own_enabled_at_boot(ab_install):
    launcher, _ = ab_install
    unit = launcher.d.getVar("systemd_system_unitdir") + "/swupdate-confirm.service"
    assert launcher.package_of(unit) == "swupdate-launcher-confirm"
    assert launcher.d.getVar("SYSTEMD_SERVICE:swupdate-launcher-confirm").split() == ["swupdate-confirm.service"]
    assert launcher.d.getVar("SYSTEMD_AUTO_ENABLE:swupdate-launcher-confirm") == "enable"
    assert "swupdate-launcher-confirm" in launcher.d.getVar("SYSTEMD_PACKAGES").split()
    # The launcher's other units stay started on demand only.
    assert launcher.d.getVar("SYSTEMD_AUTO_ENABLE:swupdate-launcher") == "disable"
    assert "systemctl" in (launcher.d.getVar("pkg_postinst:swupdate-launcher-confirm") or "")


def test_update_ab_pulls_in_libubootenvs_tools_and_the_confirm_package(ab_install):
    launcher, _ = ab_install
    rdepends = launcher.d.getVar("RDEPENDS:swupdate-launcher").split()
    assert "libubootenv-bin" in rdepends and "swupdate-launcher-confirm" in rdepends
    assert launcher.d.getVar("RDEPENDS:swupdate-launcher-confirm").split() == ["swupdate-launcher"]


def test_update_ab_without_systemd_installs_no_unit_but_still_the_tools(session):
    d, messages = session.parse(LAUNCHER_RECIPE, AB, False, **KEY, **TABLE)
    assert messages == []
    assert d.getVar("SWUPDATE_LAUNCHER_CONFIRM_UNITS").split() == []
    rdepends = d.getVar("RDEPENDS:swupdate-launcher").split()
    assert "libubootenv-bin" in rdepends and "swupdate-launcher-confirm" not in rdepends


def test_the_ab_packages_are_shipped_whole_with_no_qa_error(ab_install):
    for recipe in ab_install:
        assert recipe.qa_errors in (None, "", "False"), recipe.d.getVar("PN")
        assert recipe.files <= set().union(*recipe.packages.values())


def test_the_ab_image_packages_pass_the_launchers_static_check(ab_install, launcher_binary, tmp_path):
    launcher, conf = ab_install
    for recipe, package in ((launcher, "swupdate-launcher"), (conf, "swupdate-launcher-conf")):
        shutil.copytree(recipe.pkgdest / package, tmp_path, symlinks=True, dirs_exist_ok=True)
    (tmp_path / "usr" / "bin" / "swupdate").write_text("#!/bin/sh\n")
    (tmp_path / "usr" / "bin" / "swupdate").chmod(0o755)
    os_release(tmp_path)
    result = subprocess.run([str(launcher_binary), "--root", str(tmp_path), "check", "--static"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_without_update_ab_the_slot_variables_are_not_written(session, tmp_path, oe_modules):
    d, _ = session.parse(CONF_RECIPE, ("update-ota",), True, **KEY, **TABLE)
    conf = install_and_package(d, tmp_path, no_preparation)
    assert "SWUPDATE_SLOT" not in conf.text(FRAGMENT)
    launcher_d, _ = session.parse(LAUNCHER_RECIPE, ("update-ota",), True, **KEY, **TABLE)
    assert "libubootenv-bin" not in launcher_d.getVar("RDEPENDS:swupdate-launcher").split()


def test_update_ab_without_a_slot_table_stops_the_parse_saying_what_to_set(session):
    with pytest.raises(Failed) as failure:
        session.parse(CONF_RECIPE, AB, True, **KEY)
    text = str(failure.value)
    assert "'update-ab', but SWUPDATE_SLOTS is empty" in text
    assert 'SWUPDATE_SLOTS = "A B"' in text and "SWUPDATE_SLOT_A" in text


def test_update_ab_with_a_listed_slot_without_its_variable_stops_the_parse_naming_it(session):
    table = {k: v for k, v in TABLE.items() if k != "SWUPDATE_SLOT_B"}
    with pytest.raises(Failed) as failure:
        session.parse(CONF_RECIPE, AB, True, **KEY, **table)
    assert "SWUPDATE_SLOT_B is not set" in str(failure.value)


def test_a_slot_value_a_fragment_cannot_hold_stops_the_parse(session):
    table = dict(TABLE, SWUPDATE_SLOT_A='device=/dev/"x" selection=stable,copy2')
    with pytest.raises(Failed) as failure:
        session.parse(CONF_RECIPE, AB, True, **KEY, **table)
    assert "SWUPDATE_SLOT_A" in str(failure.value) and "cannot be written" in str(failure.value)


@pytest.mark.parametrize("recipe", [LAUNCHER_RECIPE, CONF_RECIPE])
def test_update_ab_without_a_way_to_receive_updates_stops_the_parse(session, recipe):
    with pytest.raises(Failed) as failure:
        session.parse(recipe, ("update-ab",), True, **KEY, **TABLE)
    assert "'update-ab' without 'update-ota' or 'update-local'" in str(failure.value)


def test_update_ab_with_update_local_only_is_wired(session):
    d, messages = session.parse(CONF_RECIPE, ("update-local", "update-ab"), True, **KEY, **TABLE)
    assert messages == [] and not skipped(d)
