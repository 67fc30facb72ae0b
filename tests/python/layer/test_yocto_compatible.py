"""Yocto Project Compatible: adding the layer changes nothing until the product opts in.

Without any of the layer's DISTRO_FEATURES (update-ota, update-ota-streaming, update-local),
meta-swupdate's swupdate recipe (the stub) parsed with this layer's bbappend is the same recipe parsed
without it: the same variables and flags, the same task signatures (computed by bitbake's own
dependency code, what yocto-check-layer's test_signatures compares), the same fetched files and the
same installed files. With any flag, the same comparison sees the bbappend: it can fail."""

import re

import pytest

import bitbake_harness as h

SYSTEMD = [True, False]
SYSTEMD_IDS = ["systemd", "no-systemd"]
OPTED_IN = [(c, s) for c in h.VALID if h.opted_in(c) for s in SYSTEMD]
OVERRIDE = "tolomeo-update"

# What the comparisons read expanded, by name (they also compare every variable unexpanded).
NAMED = ("SRC_URI", "DEPENDS", "FILESPATH", "FILESEXTRAPATHS", "OVERRIDES", "INHIBIT_UPDATERCD_BBCLASS",
         "SYSTEMD_PACKAGES", "SWUPDATE_SOURCE", "do_install")


def named_values(d):
    values = {name: d.getVar(name) for name in NAMED}
    for package in d.getVar("SYSTEMD_PACKAGES").split():
        values["SYSTEMD_SERVICE:" + package] = d.getVar("SYSTEMD_SERVICE:" + package)
    values["do_fetch[file-checksums]"] = d.getVarFlag("do_fetch", "file-checksums")
    return values


def both(new_build, combo, systemd):
    """(with the bbappend, without it): the stub swupdate recipe parsed twice with one local.conf."""
    build = new_build(h.local_conf(h.distro_features(combo, systemd)))
    return build.swupdate()[""], build.swupdate(appends=())[""]


def inert(key):
    """A variable that only holds a statement of the bbappend guarded by the override (bitbake keeps
    `VAR:override` under that name until the override is active)."""
    return OVERRIDE in key.split(":")


@pytest.mark.parametrize("systemd", SYSTEMD, ids=SYSTEMD_IDS)
def test_without_any_flag_the_swupdate_recipe_is_untouched(new_build, systemd):
    with_append, without = both(new_build, (), systemd)
    # The bbappend was parsed (not skipped by the harness): the comparison is not vacuous.
    assert str(h.SWUPDATE_APPEND) in with_append.getVar("BBINCLUDED").split()
    assert str(h.SWUPDATE_APPEND) not in without.getVar("BBINCLUDED").split()
    assert with_append.getVar("__BBAPPEND") == str(h.SWUPDATE_APPEND)

    # meta-swupdate's own values, expanded.
    assert named_values(with_append) == named_values(without)
    assert with_append.getVar("SYSTEMD_SERVICE:swupdate").split() == ["swupdate.service", "swupdate.socket"]
    assert with_append.getVar("INHIBIT_UPDATERCD_BBCLASS") is None
    assert OVERRIDE not in with_append.getVar("OVERRIDES").split(":")

    # Every variable and flag, unexpanded: only the list of parsed files and the inert guarded
    # statements differ.
    view_with, view_without = h.datastore_view(with_append), h.datastore_view(without)
    differ = {k for k in set(view_with) | set(view_without) if view_with.get(k) != view_without.get(k)}
    assert {k for k in differ if not inert(k)} == {"BBINCLUDED"}
    assert {k for k in differ if inert(k)} == {"INHIBIT_UPDATERCD_BBCLASS:" + OVERRIDE, "do_install:append:" + OVERRIDE}

    # The task signatures.
    signatures = h.task_signatures(with_append)
    assert {"do_fetch", "do_unpack", "do_configure", "do_install"} <= set(signatures)
    assert signatures == h.task_signatures(without)

    # What do_install leaves in ${D}: the same files, modes and contents.
    installed = h.file_tree(h.install_swupdate(with_append))
    assert installed == h.file_tree(h.install_swupdate(without))
    assert "/usr/lib/swupdate/swupdate.sh" in installed


@pytest.mark.parametrize("combo,systemd", OPTED_IN, ids=[h.combo_id(c, s) for c, s in OPTED_IN])
def test_with_a_flag_the_same_comparison_sees_the_bbappend(new_build, combo, systemd):
    with_append, without = both(new_build, combo, systemd)
    assert OVERRIDE in with_append.getVar("OVERRIDES").split(":")
    values_with, values_without = named_values(with_append), named_values(without)
    for name in ("FILESEXTRAPATHS", "OVERRIDES", "INHIBIT_UPDATERCD_BBCLASS", "SYSTEMD_SERVICE:swupdate", "do_install"):
        assert values_with[name] != values_without[name], name
    signatures, signatures_without = h.task_signatures(with_append), h.task_signatures(without)
    assert signatures["do_install"] != signatures_without["do_install"]
    assert set(h.file_tree(h.install_swupdate(with_append))) < set(h.file_tree(h.install_swupdate(without)))


@pytest.mark.parametrize("combo", h.VALID, ids=[h.combo_id(c) for c in h.VALID])
def test_the_override_is_set_exactly_when_a_flag_is(new_build, combo):
    build = new_build(h.local_conf(h.distro_features(combo, True)))
    for d in (build.swupdate()[""], build.launcher()[""], build.image()[""]):
        assert (OVERRIDE in d.getVar("OVERRIDES").split(":")) == h.opted_in(combo), d.getVar("PN")


def test_the_bbappend_and_the_class_name_the_same_flags(new_build):
    # The bbappend cannot read the class's list before it inherits it: it repeats it.
    launcher = new_build(h.local_conf(h.distro_features((), True))).launcher()[""]
    flags = launcher.getVar("TOLOMEO_UPDATE_FEATURES").split()
    assert sorted(flags) == sorted(h.FLAGS)
    condition = re.findall(r"^inherit_defer \$\{@bb\.utils\.contains_any\('DISTRO_FEATURES', '([^']*)', "
                           r"'tolomeo-update-features', '', d\)\}$", h.SWUPDATE_APPEND.read_text(), re.MULTILINE)
    assert [c.split() for c in condition] == [flags]
