"""The real `bitbake` command (cooker, server, layer rules) on stub core + stub swupdate + this layer
+ a product layer: `bitbake -p` parses everything, `bitbake -e` shows what the layer decides, and the
cooker refuses the layer where its LAYERSERIES_COMPAT or LAYERDEPENDS say it cannot work."""

import shutil

import pytest

import bitbake_harness as h

FEATURES = ["update-ota", "update-ota-streaming", "update-local", "systemd", "usrmerge"]


def copy_layers(tmp_path, corenames="whinlatter"):
    """Copies of the stub layers (the core one with the given release) and the real layer."""
    layers = []
    for layer in h.ALL_LAYERS:
        if layer == h.LAYER:
            layers.append(layer)
            continue
        copy = tmp_path / "layers" / layer.name
        shutil.copytree(layer, copy)
        layers.append(copy)
    # The stub layers claim the core's release; only meta-tolomeo-rust keeps its own claim.
    for layer in layers:
        if layer != h.LAYER:
            conf = layer / "conf" / "layer.conf"
            text = conf.read_text().replace('"whinlatter wrynose"', '"%s"' % corenames)
            conf.write_text(text.replace('"whinlatter"', '"%s"' % corenames))
    return layers


# meta-swupdate's DEPENDS, which the stub core layer has no recipes for.
ASSUME_PROVIDED = 'ASSUME_PROVIDED += "curl openssl systemd"\n'


def build_dir(tmp_path, layers, features=FEATURES):
    return h.write_build_dir(tmp_path / "build", h.local_conf(features, extra=ASSUME_PROVIDED), layers)


@pytest.fixture(scope="module")
def parsed_build(tmp_path_factory, bitbake_command):
    tmp_path = tmp_path_factory.mktemp("bitbake-p")
    builddir = build_dir(tmp_path, copy_layers(tmp_path))
    return bitbake_command, builddir


def test_bitbake_parses_the_whole_layer_set(parsed_build):
    bitbake, builddir = parsed_build
    result = h.run_bitbake(bitbake, builddir, "-p")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ERROR" not in result.stdout + result.stderr


def test_bitbake_e_shows_the_launcher_built_for_streaming(parsed_build):
    bitbake, builddir = parsed_build
    result = h.run_bitbake(bitbake, builddir, "-e", "swupdate-launcher")
    assert result.returncode == 0, result.stdout + result.stderr
    assert h.bitbake_env_value(result.stdout, "SWUPDATE_SOURCE") == "download"
    assert h.bitbake_env_value(result.stdout, "CARGO_FEATURES") == "streaming"
    assert set(h.bitbake_env_value(result.stdout, "SYSTEMD_SERVICE:swupdate-launcher").split()) == {
        "swupdate.service", "swupdate-local@.service"}


def test_bitbake_applies_the_bbappend_to_meta_swupdates_recipe(parsed_build):
    bitbake, builddir = parsed_build
    result = h.run_bitbake(bitbake, builddir, "-e", "swupdate")
    assert result.returncode == 0, result.stdout + result.stderr
    src_uri = h.bitbake_env_value(result.stdout, "SRC_URI").split()
    assert "file://swupdate-download.cfg" in src_uri and "file://swupdate-systemd.cfg" in src_uri
    assert "swupdate.service" not in h.bitbake_env_value(result.stdout, "SYSTEMD_SERVICE:swupdate").split()


def test_bitbake_leaves_meta_swupdates_recipe_alone_without_a_flag(tmp_path, bitbake_command):
    builddir = build_dir(tmp_path, copy_layers(tmp_path), ["systemd", "usrmerge"])
    result = h.run_bitbake(bitbake_command, builddir, "-e", "swupdate")
    assert result.returncode == 0, result.stdout + result.stderr + result.daemon_log
    value = lambda var: h.bitbake_env_value(result.stdout, var)  # noqa: E731
    # The bbappend was parsed (BBINCLUDED lists the files of the recipe) and changed nothing.
    assert str(h.SWUPDATE_APPEND) in value("BBINCLUDED").split()
    assert not [u for u in value("SRC_URI").split() if u.endswith(".cfg")]
    assert value("SYSTEMD_SERVICE:swupdate").split() == ["swupdate.service", "swupdate.socket"]
    assert value("INHIBIT_UPDATERCD_BBCLASS") is None
    assert "tolomeo-update" not in value("OVERRIDES").split(":")


def test_bitbake_provides_the_native_launcher_for_the_image_check(parsed_build):
    bitbake, builddir = parsed_build
    result = h.run_bitbake(bitbake, builddir, "-e", "swupdate-launcher-native")
    assert result.returncode == 0, result.stdout + result.stderr
    assert h.bitbake_env_value(result.stdout, "PN") == "swupdate-launcher-native"


def test_bitbake_refuses_the_layer_on_walnascar(tmp_path, bitbake_command):
    builddir = build_dir(tmp_path, copy_layers(tmp_path, corenames="walnascar"))
    result = h.run_bitbake_failing(bitbake_command, builddir, "-p")
    assert result.returncode != 0
    assert "Layer tolomeo-rust is not compatible with the core layer" in result.stdout + result.stderr, (
        result.daemon_log)


def test_bitbake_refuses_the_layer_without_meta_swupdate(tmp_path, bitbake_command):
    layers = [layer for layer in copy_layers(tmp_path) if "swupdate" not in layer.name]
    builddir = build_dir(tmp_path, layers)
    result = h.run_bitbake_failing(bitbake_command, builddir, "-p")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "tolomeo-rust" in output and "swupdate" in output and "depends on layer" in output


def test_bitbake_stops_on_streaming_without_ota(tmp_path, bitbake_command):
    builddir = build_dir(tmp_path, copy_layers(tmp_path), ["update-ota-streaming", "systemd", "usrmerge"])
    result = h.run_bitbake_failing(bitbake_command, builddir, "-p")
    assert result.returncode != 0
    assert "'update-ota-streaming' without 'update-ota'" in result.stdout + result.stderr
