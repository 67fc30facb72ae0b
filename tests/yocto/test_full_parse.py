"""The whole tree with `bitbake -p`, as a product would first try the layer: oe-core, meta-oe,
meta-swupdate and meta-tolomeo-rust of the release, with nothing configured, then with every flag
(and a key). 0 errors and 0 warnings; then `bitbake -e` of the recipes the layer touches, from the
same parse cache. One build directory per configuration, kept between runs (its cache makes a
re-run take seconds)."""

import re

import pytest

from conftest import BBLAYERS_WITH, LAUNCHER_RECIPE, PRODUCT_KEY_NAME, SWUPDATE_RECIPES, WORK, run_bitbake, write_build

FLAGGED_CONF = """
DISTRO_FEATURES:append = " systemd usrmerge update-ota update-ota-streaming update-local"
SWUPDATE_LAUNCHER_PUBLIC_KEY = "%s"
""" % PRODUCT_KEY_NAME


def assert_clean(result):
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert not re.search(r"^(WARNING|ERROR):", output, re.MULTILINE), output[-5000:]
    assert re.search(r"Parsing of \d+ \.bb files complete .* 0 errors", output) or "Loading cache" in output, output[-3000:]


def env_values(text, *names):
    values = {}
    for name in names:
        m = re.search(r'^(?:export )?%s="(.*)"$' % re.escape(name), text, re.MULTILINE)
        values[name] = m.group(1) if m else None
    return values


@pytest.fixture(scope="module")
def unconfigured():
    topdir = write_build(WORK / "full-unconfigured", BBLAYERS_WITH)
    result = run_bitbake(topdir, "-p")
    return topdir, result


@pytest.fixture(scope="module")
def flagged(product_layer):
    topdir = write_build(WORK / "full-flagged", BBLAYERS_WITH + [product_layer], FLAGGED_CONF)
    result = run_bitbake(topdir, "-p")
    return topdir, result


def test_the_layer_added_with_nothing_configured_parses_the_whole_tree_clean(unconfigured):
    assert_clean(unconfigured[1])


def test_the_whole_tree_parses_clean_with_every_flag_and_a_key(flagged):
    assert_clean(flagged[1])


def test_bitbake_e_of_swupdate_without_flags_has_none_of_the_layers_changes(unconfigured):
    result = run_bitbake(unconfigured[0], "-e", "swupdate")
    assert result.returncode == 0, result.stderr[-3000:]
    values = env_values(result.stdout, "SRC_URI", "RDEPENDS:swupdate", "SYSTEMD_PACKAGES", "SWUPDATE_SOURCE")
    assert ".cfg" not in values["SRC_URI"]
    assert "swupdate-launcher" not in (values["RDEPENDS:swupdate"] or "")
    assert values["SYSTEMD_PACKAGES"].split() == ["swupdate", "swupdate-progress", "swupdate-usb"]
    assert values["SWUPDATE_SOURCE"] is None


def test_bitbake_e_of_swupdate_with_every_flag_has_the_fragments_and_pulls_in_the_launcher(flagged):
    result = run_bitbake(flagged[0], "-e", "swupdate")
    assert result.returncode == 0, result.stderr[-3000:]
    values = env_values(result.stdout, "SRC_URI", "RDEPENDS:swupdate", "SYSTEMD_PACKAGES", "DEPENDS")
    for cfg in ("swupdate-signed-cms.cfg", "swupdate-download.cfg", "swupdate-systemd.cfg"):
        assert "file://" + cfg in values["SRC_URI"].split()
    assert "swupdate-launcher" in values["RDEPENDS:swupdate"].split()
    assert values["SYSTEMD_PACKAGES"].split() == ["swupdate-progress"]
    assert {"curl", "openssl", "systemd"} <= set(values["DEPENDS"].split())


def test_bitbake_e_of_the_launcher_with_every_flag(flagged):
    result = run_bitbake(flagged[0], "-e", "swupdate-launcher")
    assert result.returncode == 0, result.stderr[-3000:]
    values = env_values(result.stdout, "SWUPDATE_SOURCE", "PACKAGECONFIG", "SYSTEMD_SERVICE:swupdate-launcher",
                        "CARGO_PROFILE_RELEASE_STRIP")
    assert {k: v.split() for k, v in values.items()} == {
        "SWUPDATE_SOURCE": ["download"], "PACKAGECONFIG": ["streaming"],
        "SYSTEMD_SERVICE:swupdate-launcher": ["swupdate.service", "swupdate-local@.service"],
        "CARGO_PROFILE_RELEASE_STRIP": ["false"]}


def test_bitbake_e_of_the_device_policy_with_every_flag(flagged):
    result = run_bitbake(flagged[0], "-e", "swupdate-launcher-conf")
    assert result.returncode == 0, result.stderr[-3000:]
    values = env_values(result.stdout, "SWUPDATE_SOURCE", "RPROVIDES:swupdate-launcher-conf", "SRC_URI")
    assert values["SWUPDATE_SOURCE"] == "download"
    assert "virtual-swupdate-launcher-conf" in values["RPROVIDES:swupdate-launcher-conf"].split()
    assert "file://%s" % PRODUCT_KEY_NAME in values["SRC_URI"].split()
