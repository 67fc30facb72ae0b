"""Every combination of the three flags, with systemd and with sysvinit: the recipes as the real
parser makes them (tinfoil: the datastore `bitbake -e` prints), meta-swupdate's swupdate recipes
(every version of the release) with the layer's bbappend, the launcher and its native variant, and
the device policy's recipe (swupdate-launcher-conf)."""

import re
from pathlib import Path

import pytest

from conftest import (CONF_RECIPE, INVALID, LAUNCHER_RECIPE, OPTED_IN, PRODUCT_KEY_NAME, SWUPDATE_RECIPES, VALID,
                      Failed, combo_id, skipped)

ALL = [(c, s) for c in VALID for s in (True, False)]
ALL_IDS = [combo_id(c, s) for c, s in ALL]
WIRED = [(c, s) for c in OPTED_IN for s in (True, False)]
WIRED_IDS = [combo_id(c, s) for c, s in WIRED]
BAD = [(c, s) for c in INVALID for s in (True, False)]
BAD_IDS = [combo_id(c, s) for c, s in BAD]
KEY = {"SWUPDATE_LAUNCHER_PUBLIC_KEY": PRODUCT_KEY_NAME}


def launcher(session, combo, systemd, **extra):
    return session.parse(LAUNCHER_RECIPE, combo, systemd, **{**KEY, **extra})


def conf(session, combo, systemd, **extra):
    return session.parse(CONF_RECIPE, combo, systemd, **{**KEY, **extra})


def swupdates(session, combo, systemd, **extra):
    return [session.parse(r, combo, systemd, **{**KEY, **extra}) for r in SWUPDATE_RECIPES]


def find_in_filespath(d, name):
    for directory in d.getVar("FILESPATH").split(":"):
        if (Path(directory) / name).is_file():
            return Path(directory) / name
    raise AssertionError("%s is not in FILESPATH" % name)


def effective_config(d):
    """swupdate's .config as meta-swupdate's recipe computes it at parse time (its python () reads
    defconfig and every *.cfg of SRC_URI, each fragment line replacing the defconfig's): {name: value}."""
    text = find_in_filespath(d, "defconfig").read_text()
    for url in d.getVar("SRC_URI").split():
        if url.startswith("file://") and url.split(";")[0].endswith(".cfg"):
            fragment = find_in_filespath(d, url[len("file://"):].split(";")[0]).read_text()
            assert fragment.endswith("\n"), url
            for name in re.findall(r"^(?:# )?(CONFIG_\w*)[= ]", fragment, re.MULTILINE):
                text = re.sub(r"^(?:# )?%s[= ].*\n?" % name, "", text, flags=re.MULTILINE)
            text += fragment
    config = {}
    for line in text.splitlines():
        m = re.match(r"^(CONFIG_\w+)=(.*)$", line)
        if m:
            config[m.group(1)] = m.group(2)
        m = re.match(r"^# (CONFIG_\w+) is not set$", line)
        if m:
            config[m.group(1)] = "n"
    return config


def cfgs(d):
    return sorted(Path(u.split(";")[0]).name for u in d.getVar("SRC_URI").split() if u.split(";")[0].endswith(".cfg"))


# -- the parse is clean -------------------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_the_launcher_parses_without_warnings(session, combo, systemd):
    d, messages = launcher(session, combo, systemd)
    assert messages == []
    assert d.getVar("PN") == "swupdate-launcher"


@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_the_native_launcher_parses_without_warnings_and_is_never_wired(session, combo, systemd):
    # The native variant (the image check's tool): DISTRO_FEATURES of native recipes are filtered, so
    # it never sees a flag; it is built with `ab` alone, so that it checks an A/B image's slot table.
    # (It is parsed with the target variant of the same file, whose key check applies to both.)
    d, messages = session.parse("virtual:native:%s" % LAUNCHER_RECIPE, combo, systemd, **KEY)
    assert messages == []
    assert d.getVar("PN") == "swupdate-launcher-native"
    assert not d.getVar("TOLOMEO_UPDATE_ENABLED") and not skipped(d)
    assert d.getVar("SWUPDATE_LAUNCHER_UNITS").split() == [] and d.getVar("PACKAGECONFIG").split() == ["ab"]
    assert d.getVar("PACKAGECONFIG_CONFARGS").split() == ["--features", "ab"]
    assert "virtual-swupdate-launcher-conf" not in (d.getVar("RDEPENDS:swupdate-launcher-native") or "")


@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_every_swupdate_recipe_parses_without_warnings(session, combo, systemd):
    for d, messages in swupdates(session, combo, systemd):
        assert messages == [], d.getVar("FILE")
        assert not skipped(d), d.getVar("FILE")


@pytest.mark.parametrize("combo,systemd", WIRED, ids=WIRED_IDS)
def test_the_conf_recipe_parses_without_warnings_with_a_flag_and_provides_the_virtual(session, combo, systemd):
    d, messages = conf(session, combo, systemd)
    assert messages == [] and not skipped(d)
    assert "virtual-swupdate-launcher-conf" in d.getVar("RPROVIDES:swupdate-launcher-conf").split()


@pytest.mark.parametrize("systemd", [True, False])
def test_without_a_flag_the_conf_recipe_is_skipped_and_says_why(session, systemd):
    # Without a flag meta-swupdate's swupdate.sh would source its files as shell: nothing pulls it
    # in, and an image that names it stops with the reason.
    d, messages = conf(session, (), systemd)
    assert messages == []
    assert "DISTRO_FEATURES has none of update-ota update-ota-streaming update-local" in skipped(d)


# -- what the product must give, and the one invalid combination ---------------------------------

@pytest.mark.parametrize("combo", OPTED_IN, ids=["+".join(c) for c in OPTED_IN])
def test_a_flag_without_a_key_skips_the_conf_recipe_and_says_how_to_give_it(session, combo):
    d, messages = session.parse(CONF_RECIPE, combo, True)
    assert messages == []
    text = skipped(d)
    assert "SWUPDATE_LAUNCHER_PUBLIC_KEY is empty" in text
    assert "Fix:" in text and "FILESEXTRAPATHS" in text and "swupdate-launcher-conf_%.bbappend" in text
    # Only builds that install the device policy stop: the launcher and swupdate still parse.
    launcher_d, _ = session.parse(LAUNCHER_RECIPE, combo, True)
    assert not skipped(launcher_d)
    assert "virtual-swupdate-launcher-conf" in launcher_d.getVar("RDEPENDS:swupdate-launcher").split()
    for swupdate_d, _ in (session.parse(r, combo, True) for r in SWUPDATE_RECIPES):
        assert not skipped(swupdate_d)


@pytest.mark.parametrize("combo,systemd", BAD, ids=BAD_IDS)
def test_streaming_without_ota_stops_the_parse_with_the_fix(session, combo, systemd):
    for recipe in [LAUNCHER_RECIPE, CONF_RECIPE] + SWUPDATE_RECIPES:
        with pytest.raises(Failed) as failure:
            session.parse(recipe, combo, systemd, **KEY)
        text = str(failure.value)
        assert "'update-ota-streaming' without 'update-ota'" in text, recipe
        assert 'DISTRO_FEATURES:append = " update-ota update-ota-streaming"' in text


def test_an_unknown_signing_algorithm_skips_swupdate_and_the_conf_recipe(session):
    for d, messages in [conf(session, ("update-ota",), True, SWUPDATE_LAUNCHER_SIGNING="ecdsa")] + swupdates(
            session, ("update-ota",), True, SWUPDATE_LAUNCHER_SIGNING="ecdsa"):
        assert messages == []
        assert "SWUPDATE_LAUNCHER_SIGNING is 'ecdsa'" in (skipped(d) or ""), d.getVar("FILE")


# -- swupdate is built to do what the launcher asks ---------------------------------------------

@pytest.mark.parametrize("combo,systemd", WIRED, ids=WIRED_IDS)
def test_swupdate_gets_the_fragments_of_the_combination(session, combo, systemd):
    expected = ["swupdate-signed-cms.cfg"]
    if "update-ota-streaming" in combo:
        expected.append("swupdate-download.cfg")
    if systemd:
        expected.append("swupdate-systemd.cfg")
    for d, _ in swupdates(session, combo, systemd):
        assert cfgs(d) == sorted(expected)


@pytest.mark.parametrize("combo,systemd", WIRED, ids=WIRED_IDS)
def test_swupdate_checks_cms_signed_images_whenever_the_launcher_passes_a_key(session, combo, systemd):
    for d, _ in swupdates(session, combo, systemd):
        config = effective_config(d)
        assert config["CONFIG_SIGNED_IMAGES"] == "y"
        assert config["CONFIG_SIGALG_CMS"] == "y"
        assert config.get("CONFIG_SIGALG_RAWRSA", "n") == "n" and config.get("CONFIG_SIGALG_RSAPSS", "n") == "n"
        # CMS verification is OpenSSL's (meta-swupdate's defconfig): its python adds openssl to DEPENDS.
        assert config["CONFIG_SSL_IMPL_OPENSSL"] == "y"
        assert "openssl" in d.getVar("DEPENDS").split()


@pytest.mark.parametrize("algorithm,config_name", [("rsa", "CONFIG_SIGALG_RAWRSA"), ("rsapss", "CONFIG_SIGALG_RSAPSS")])
def test_the_signing_algorithm_follows_the_key_kind_the_product_names(session, algorithm, config_name):
    for d, _ in swupdates(session, ("update-ota",), True, SWUPDATE_LAUNCHER_SIGNING=algorithm):
        config = effective_config(d)
        assert config["CONFIG_SIGNED_IMAGES"] == "y" and config[config_name] == "y"
        assert config["CONFIG_SIGALG_CMS"] == "n"


@pytest.mark.parametrize("combo,systemd", WIRED, ids=WIRED_IDS)
def test_swupdate_has_the_downloader_exactly_with_streaming(session, combo, systemd):
    streaming = "update-ota-streaming" in combo
    for d, _ in swupdates(session, combo, systemd):
        config = effective_config(d)
        assert (config.get("CONFIG_DOWNLOAD") == "y") == streaming
        assert (config.get("CONFIG_DOWNLOAD_SSL") == "y") == streaming
        # meta-swupdate's parse-time scan saw the fragment (it needs the exact line and a newline).
        assert ("curl" in d.getVar("DEPENDS").split()) == streaming


@pytest.mark.parametrize("combo,systemd", WIRED, ids=WIRED_IDS)
def test_swupdate_notifies_systemd_exactly_with_systemd(session, combo, systemd):
    for d, _ in swupdates(session, combo, systemd):
        assert (effective_config(d).get("CONFIG_SYSTEMD") == "y") == systemd
        assert ("systemd" in d.getVar("DEPENDS").split()) == systemd


@pytest.mark.parametrize("combo,systemd", WIRED, ids=WIRED_IDS)
def test_swupdate_pulls_in_the_launcher(session, combo, systemd):
    # An image that installs swupdate the usual way gets what starts it.
    for d, _ in swupdates(session, combo, systemd):
        assert "swupdate-launcher" in d.getVar("RDEPENDS:swupdate").split()
        assert d.getVar("RDEPENDS:swupdate-usb").split() == ["swupdate-launcher"]
        assert d.getVar("ALLOW_EMPTY:swupdate-usb") == "1"


@pytest.mark.parametrize("combo,systemd", WIRED, ids=WIRED_IDS)
def test_swupdate_enables_no_unit_but_the_progress_reporter(session, combo, systemd):
    for d, _ in swupdates(session, combo, systemd):
        assert d.getVar("SYSTEMD_PACKAGES").split() == ["swupdate-progress"]
        assert d.getVar("SYSTEMD_SERVICE:swupdate-progress") == "swupdate-progress.service"
        assert d.getVar("INHIBIT_UPDATERCD_BBCLASS") == "1"


# -- the launcher recipe --------------------------------------------------------------------------

@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_the_launcher_is_built_with_each_cargo_feature_exactly_with_its_flag(session, combo, systemd):
    d, _ = launcher(session, combo, systemd)
    features = [f for f, flag in (("streaming", "update-ota-streaming"), ("ab", "update-ab")) if flag in combo]
    assert d.getVar("PACKAGECONFIG").split() == features
    # What oe-core's cargo class passes to `cargo build` (oe_cargo_build, which cargo_do_compile runs):
    # `--features F` for each (in the order PACKAGECONFIG_CONFARGS lists them).
    words = d.getVar("PACKAGECONFIG_CONFARGS").split()
    assert words[0::2] == ["--features"] * len(features) and sorted(words[1::2]) == sorted(features)
    assert "${PACKAGECONFIG_CONFARGS}" in d.getVar("oe_cargo_build", False)


def test_a_product_turns_streaming_on_or_off_as_any_packageconfig(session):
    d, _ = launcher(session, ("update-ota", "update-ota-streaming"), True, **{"PACKAGECONFIG:remove": "streaming"})
    assert d.getVar("PACKAGECONFIG_CONFARGS").split() == []
    d, _ = launcher(session, ("update-ota",), True, PACKAGECONFIG="streaming")
    assert d.getVar("PACKAGECONFIG_CONFARGS").split() == ["--features", "streaming"]


def test_a_product_turns_ab_on_as_any_packageconfig(session):
    d, _ = launcher(session, ("update-ota",), True, PACKAGECONFIG="ab")
    assert d.getVar("PACKAGECONFIG_CONFARGS").split() == ["--features", "ab"]


@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_swupdate_source_follows_the_flags(session, combo, systemd):
    for d in (launcher(session, combo, systemd)[0], conf(session, combo, systemd)[0]):
        assert d.getVar("SWUPDATE_SOURCE") == ("download" if "update-ota-streaming" in combo else "file")


@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_the_launcher_lists_exactly_the_units_of_its_features_and_enables_none(session, combo, systemd):
    d, _ = launcher(session, combo, systemd)
    units = []
    if systemd and "update-ota" in combo:
        units.append("swupdate.service")
    if systemd and "update-local" in combo:
        units.append("swupdate-local@.service")
    assert d.getVar("SYSTEMD_SERVICE:swupdate-launcher").split() == units
    assert d.getVar("SYSTEMD_AUTO_ENABLE:swupdate-launcher") == "disable"


@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_the_launcher_depends_on_swupdate_and_takes_over_its_unit_on_upgrade(session, combo, systemd):
    d, _ = launcher(session, combo, systemd)
    rdepends = d.getVar("RDEPENDS:swupdate-launcher").split()
    assert {"swupdate", "os-release"} <= set(rdepends)
    # The device policy comes with a flag, from whichever recipe provides the virtual.
    assert ("virtual-swupdate-launcher-conf" in rdepends) == bool(combo)
    replaces = (d.getVar("RREPLACES:swupdate-launcher") or "").split()
    assert replaces == (["swupdate"] if combo else [])


@pytest.mark.parametrize("combo,systemd", ALL, ids=ALL_IDS)
def test_the_launcher_is_built_unstripped_with_debug_info_for_oe_to_split(session, combo, systemd):
    d, _ = launcher(session, combo, systemd)
    for name, value in (("CARGO_PROFILE_RELEASE_STRIP", "false"), ("CARGO_PROFILE_RELEASE_DEBUG", "true")):
        assert d.getVar(name) == value and d.getVarFlag(name, "export")
    assert "already-stripped" in d.getVar("ERROR_QA").split()  # what a stripped binary would hit
    assert "already-stripped" not in (d.getVar("INSANE_SKIP:swupdate-launcher") or "")


def test_the_launcher_sources_need_no_branch_no_srcrev_and_no_build_host_path(session):
    d, _ = launcher(session, ("update-ota",), True)
    urls = d.getVar("SRC_URI").split()
    sources = [u for u in urls if not u.startswith("crate://")]
    assert sources[:5] == ["file://Cargo.toml;subdir=swupdate-launcher-0.1.0", "file://Cargo.lock;subdir=swupdate-launcher-0.1.0",
                           "file://LICENSE;subdir=swupdate-launcher-0.1.0", "file://src;subdir=swupdate-launcher-0.1.0",
                           "file://systemd;subdir=swupdate-launcher-0.1.0"]
    assert not any(u.startswith(("git://", "gitsm://")) for u in urls)
    # The recipe's variables that enter task signatures hold no path of this checkout (but the
    # build directory's, which may be inside it: TOLOMEO_YOCTO_BUILD).
    repo = str(LAUNCHER_RECIPE.parents[3])
    for name in ("SRC_URI", "LIC_FILES_CHKSUM", "S"):
        assert repo not in d.getVar(name).replace(d.getVar("TOPDIR"), "${TOPDIR}"), name
    # The repository top is found through FILESEXTRAPATHS, which signatures ignore.
    assert repo in d.getVar("FILESEXTRAPATHS")
    assert {"FILESEXTRAPATHS", "FILESPATH"} <= set(d.getVar("BB_BASEHASH_IGNORE_VARS").split())


def test_the_license_checksum_is_of_the_dedicated_license_file(session):
    import hashlib
    d, _ = launcher(session, (), True)
    (entry,) = d.getVar("LIC_FILES_CHKSUM").split()
    path, md5 = re.fullmatch(r"file://(\w+);md5=([0-9a-f]{32})", entry).groups()
    assert path == "LICENSE" and d.getVar("LICENSE") == "MIT"
    text = (LAUNCHER_RECIPE.parents[3] / path).read_bytes()
    assert hashlib.md5(text).hexdigest() == md5
    assert text.startswith(b"MIT License")


def test_the_recipe_fetches_every_crate_of_cargo_lock_with_its_checksum(session):
    import tomllib
    d, _ = launcher(session, ("update-ota",), True)
    with open(LAUNCHER_RECIPE.parents[3] / "Cargo.lock", "rb") as f:
        lock = [p for p in tomllib.load(f)["package"] if "crates.io" in p.get("source", "")]
    crates = [u for u in d.getVar("SRC_URI").split() if u.startswith("crate://")]
    assert crates == ["crate://crates.io/%s/%s" % (p["name"], p["version"]) for p in lock]
    for p in lock:
        assert d.getVarFlag("SRC_URI", "%s-%s.sha256sum" % (p["name"], p["version"])) == p["checksum"]
