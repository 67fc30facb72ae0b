"""What the three DISTRO_FEATURES decide at parse time, for all 8 combinations, with and without systemd.

Parsed by BitBake's real parser: the launcher recipe with a product layer's bbappend (which provides
the key), meta-swupdate's recipe (stub) with this layer's bbappend. Without any flag the bbappend
changes nothing (test_yocto_compatible.py compares the whole recipe with the one parsed without it)."""

import functools
import tomllib

import pytest

import bitbake_harness as h

ALL = [(c, s) for c in h.COMBINATIONS for s in (True, False)]
VALID = [(c, s) for c, s in ALL if h.is_valid(c)]
INVALID = [(c, s) for c, s in ALL if not h.is_valid(c)]


def ids(params):
    return [h.combo_id(c, s) for c, s in params]


@pytest.fixture(scope="module")
def parsed(tmp_path_factory):
    """parsed(combo, systemd) -> (launcher variants, swupdate variants), parsed once per module."""

    @functools.cache
    def parse(combo, systemd):
        topdir = tmp_path_factory.mktemp("parse-" + h.combo_id(combo, systemd).replace("/", "-"))
        build = h.Build(topdir, h.local_conf(h.distro_features(combo, systemd)))
        return build.launcher(), build.swupdate()

    return parse


# The file:// entries of the stub of meta-swupdate's recipe, in its order.
STUB_SRC_URI = ["file://defconfig", "file://swupdate", "file://swupdate.sh", "file://swupdate.service",
                "file://swupdate.socket.tmpl", "file://swupdate-usb.rules", "file://swupdate-usb@.service",
                "file://swupdate-progress.service", "file://tmpfiles-swupdate.conf", "file://10-mongoose-args",
                "file://90-start-progress"]


def src_uri_names(d):
    return [u.split(";")[0] for u in d.getVar("SRC_URI").split()]


# --- SWUPDATE_SOURCE --------------------------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_swupdate_source_is_download_exactly_with_update_ota_streaming(parsed, combo, systemd):
    launcher, swupdate = parsed(combo, systemd)
    expected = "download" if "update-ota-streaming" in combo else "file"
    assert launcher[""].getVar("SWUPDATE_SOURCE") == expected
    # Without a flag the bbappend does not even inherit the class.
    assert swupdate[""].getVar("SWUPDATE_SOURCE") == (expected if h.opted_in(combo) else None)


# --- swupdate's configuration fragments -------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_swupdate_gets_the_download_fragment_exactly_with_update_ota_streaming(parsed, combo, systemd):
    _, swupdate = parsed(combo, systemd)
    present = "file://swupdate-download.cfg" in src_uri_names(swupdate[""])
    assert present == ("update-ota-streaming" in combo)


@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_swupdate_gets_the_systemd_fragment_exactly_with_systemd_and_a_flag(parsed, combo, systemd):
    _, swupdate = parsed(combo, systemd)
    assert ("file://swupdate-systemd.cfg" in src_uri_names(swupdate[""])) == (systemd and h.opted_in(combo))


@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_swupdate_src_uri_is_meta_swupdates_plus_the_fragments_of_the_flags(parsed, combo, systemd):
    _, swupdate = parsed(combo, systemd)
    added = [u for u in src_uri_names(swupdate[""]) if u.endswith(".cfg")]
    expected = []
    if "update-ota-streaming" in combo:
        expected.append("file://swupdate-download.cfg")
    if systemd and h.opted_in(combo):
        expected.append("file://swupdate-systemd.cfg")
    assert added == expected
    assert [u for u in src_uri_names(swupdate[""]) if not u.endswith(".cfg")] == STUB_SRC_URI


@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_swupdate_recipe_sees_the_downloader_and_adds_curl(parsed, combo, systemd):
    # meta-swupdate's parse-time scan adds curl only for an exact `CONFIG_DOWNLOAD=y\n` line of the
    # merged configuration: the fragment was found through FILESEXTRAPATHS and is well formed.
    _, swupdate = parsed(combo, systemd)
    depends = swupdate[""].getVar("DEPENDS").split()
    assert ("curl" in depends) == ("update-ota-streaming" in combo)


@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_swupdate_recipe_sees_config_systemd_and_adds_systemd(parsed, combo, systemd):
    _, swupdate = parsed(combo, systemd)
    assert ("systemd" in swupdate[""].getVar("DEPENDS").split()) == (systemd and h.opted_in(combo))


def test_download_fragment_enables_the_downloader_with_https_and_ends_with_a_newline():
    text = (h.LAYER / "recipes-support" / "swupdate" / "files" / "swupdate-download.cfg").read_text()
    assert text.endswith("\n")
    assert set(text.splitlines()) == {"CONFIG_DOWNLOAD=y", "CONFIG_DOWNLOAD_SSL=y"}


def test_systemd_fragment_enables_config_systemd_and_ends_with_a_newline():
    text = (h.LAYER / "recipes-support" / "swupdate" / "files" / "swupdate-systemd.cfg").read_text()
    assert text == "CONFIG_SYSTEMD=y\n"


# --- the invalid combinations -----------------------------------------------------------------------

@pytest.mark.parametrize("recipe", ["launcher", "swupdate"])
@pytest.mark.parametrize("combo,systemd", INVALID, ids=ids(INVALID))
def test_streaming_without_ota_stops_the_parse_naming_both_flags_and_the_fix(new_build, recipe, combo, systemd):
    build = new_build(h.local_conf(h.distro_features(combo, systemd)))
    with pytest.raises(h.ParseFailed) as failed:
        getattr(build, recipe)()
    message = str(failed.value)
    assert "'update-ota-streaming' without 'update-ota'" in message
    assert "Fix: add 'update-ota' to DISTRO_FEATURES" in message
    assert "or remove 'update-ota-streaming'" in message


# --- the cargo feature --------------------------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_launcher_is_built_with_the_streaming_feature_exactly_with_update_ota_streaming(parsed, combo, systemd):
    launcher, _ = parsed(combo, systemd)
    streaming = "update-ota-streaming" in combo
    d = launcher[""]
    assert d.getVar("CARGO_FEATURES").split() == (["streaming"] if streaming else [])
    flags = d.getVar("CARGO_BUILD_FLAGS").split()
    if streaming:
        assert flags[flags.index("--features") + 1] == "streaming"
    else:
        assert "--features" not in flags


def test_every_cargo_feature_the_recipe_can_ask_for_exists_in_cargo_toml(parsed):
    launcher, _ = parsed(("update-ota", "update-ota-streaming", "update-local"), True)
    with open(h.REPO / "Cargo.toml", "rb") as f:
        features = tomllib.load(f)["features"]
    asked = launcher[""].getVar("CARGO_FEATURES").split()
    assert asked
    assert set(asked) <= set(features)


# --- SYSTEMD_SERVICE ------------------------------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_launcher_systemd_service_lists_the_units_of_the_enabled_features(parsed, combo, systemd):
    launcher, _ = parsed(combo, systemd)
    expected = set()
    if systemd and "update-ota" in combo:
        expected.add("swupdate.service")
    if systemd and "update-local" in combo:
        expected.add("swupdate-local@.service")
    assert set(launcher[""].getVar("SYSTEMD_SERVICE:swupdate-launcher").split()) == expected


@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_launcher_units_are_never_enabled_at_boot(parsed, combo, systemd):
    launcher, _ = parsed(combo, systemd)
    assert launcher[""].getVar("SYSTEMD_AUTO_ENABLE:swupdate-launcher") == "disable"


@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_swupdate_package_lists_its_service_and_socket_exactly_without_a_flag(parsed, combo, systemd):
    _, swupdate = parsed(combo, systemd)
    expected = [] if h.opted_in(combo) else ["swupdate.service", "swupdate.socket"]
    assert swupdate[""].getVar("SYSTEMD_SERVICE:swupdate").split() == expected
    # The other packages of the recipe keep theirs.
    assert swupdate[""].getVar("SYSTEMD_SERVICE:swupdate-progress").split() == ["swupdate-progress.service"]
    assert swupdate[""].getVar("SYSTEMD_SERVICE:swupdate-usb").split() == ["swupdate-usb@.service"]


@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_swupdate_postinst_for_the_init_script_is_inhibited_exactly_with_a_flag(parsed, combo, systemd):
    _, swupdate = parsed(combo, systemd)
    assert swupdate[""].getVar("INHIBIT_UPDATERCD_BBCLASS") == ("1" if h.opted_in(combo) else None)


def test_the_launcher_needs_swupdate_and_os_release_at_run_time(parsed):
    launcher, _ = parsed(("update-ota",), True)
    assert {"swupdate", "os-release"} <= set(launcher[""].getVar("RDEPENDS:swupdate-launcher").split())


# --- the public key ------------------------------------------------------------------------------------

SIGNED = [c for c in h.VALID if "update-ota" in c or "update-local" in c]


@pytest.mark.parametrize("combo", SIGNED, ids=[h.combo_id(c) for c in SIGNED])
def test_signed_updates_without_a_key_stop_the_parse_naming_the_variable(new_build, combo):
    build = new_build(h.local_conf(h.distro_features(combo, True), key=None))
    with pytest.raises(h.ParseFailed) as failed:
        build.launcher(appends=())
    message = str(failed.value)
    assert "SWUPDATE_LAUNCHER_PUBLIC_KEY is empty" in message
    assert "FILESEXTRAPATHS" in message
    for flag in ("update-ota", "update-local"):
        assert (("'%s'" % flag) in message) == (flag in combo)


def test_without_update_features_no_key_is_needed_and_none_is_fetched(new_build):
    build = new_build(h.local_conf(h.distro_features((), True), key=None))
    d = build.launcher(appends=())[""]
    assert d.getVar("__SKIPPED") is None
    assert not [u for u in d.getVar("SRC_URI").split() if u.endswith(".pem")]


@pytest.mark.parametrize("systemd", [True, False], ids=["systemd", "no-systemd"])
def test_without_update_features_the_launcher_fetches_no_file_even_with_a_key(parsed, systemd):
    # Only the sources and the crates: not the default file, not the key (local_conf sets one).
    launcher, _ = parsed((), systemd)
    d = launcher[""]
    assert d.getVar("SWUPDATE_LAUNCHER_PUBLIC_KEY") == h.KEY_NAME
    schemes = {u.split("://")[0] for u in d.getVar("SRC_URI").split()}
    assert schemes == {"git", "crate"}


def test_the_key_is_fetched_by_the_name_the_product_gives(parsed):
    launcher, _ = parsed(("update-ota",), True)
    assert "file://" + h.KEY_NAME in src_uri_names(launcher[""])


def test_a_key_written_as_a_file_url_is_fetched_once_as_that_file(new_build):
    build = new_build(h.local_conf(h.distro_features(("update-ota",), True), key="file://" + h.KEY_NAME))
    d = build.launcher()[""]
    assert src_uri_names(d).count("file://" + h.KEY_NAME) == 1
    assert d.getVar("SWUPDATE_LAUNCHER_PUBLIC_KEY_LOCAL") == h.KEY_NAME


# --- the source revision --------------------------------------------------------------------------------

def test_without_a_source_revision_the_recipe_is_skipped_with_the_reason(new_build):
    build = new_build(h.local_conf(h.distro_features(("update-ota",), True), srcrev=None))
    d = build.launcher()[""]
    assert "SWUPDATE_LAUNCHER_SRCREV is not set" in (d.getVar("__SKIPPED") or "")


def test_an_externalsrc_build_needs_no_source_revision(new_build):
    conf = h.local_conf(h.distro_features(("update-ota",), True), srcrev=None)
    build = new_build(conf + 'EXTERNALSRC:pn-swupdate-launcher = "%s"\n' % h.REPO)
    assert build.launcher()[""].getVar("__SKIPPED") is None


def test_the_sources_come_from_the_repository_that_holds_the_layer_at_the_pinned_revision(parsed):
    launcher, _ = parsed(("update-ota",), True)
    d = launcher[""]
    git = [u for u in d.getVar("SRC_URI").split() if u.startswith("git://")]
    assert len(git) == 1
    assert git[0].split(";")[0] == "git://" + str(h.REPO)
    assert "protocol=file" in git[0].split(";")
    assert d.getVar("SRCREV") == h.SRCREV


# --- the native variant -------------------------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", VALID, ids=ids(VALID))
def test_native_variant_installs_no_units(parsed, combo, systemd):
    launcher, _ = parsed(combo, systemd)
    native = launcher["native"]
    assert native.getVar("PN") == "swupdate-launcher-native"
    assert native.getVar("__SKIPPED") is None
    assert (native.getVar("SYSTEMD_PACKAGES") or "").split() == []
