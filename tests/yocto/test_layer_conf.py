"""conf/layer.conf: the collection, what it depends on, and the releases it claims."""

import re
import tomllib

import bb.data
import bb.parse
import pytest

import paths_of_repo as h

# The Rust of oe-core's rust recipes, per release (yocto-testing.md). A release the layer claims must
# be in this table, and its Rust must build the launcher (Cargo.toml's rust-version).
RUST_OF_RELEASE = {
    "scarthgap": "1.75",
    "walnascar": "1.84",
    "whinlatter": "1.90",
    "wrynose": "1.94",
}


def layer_conf():
    d = bb.data.init()
    d.setVar("LAYERDIR", str(h.LAYER))
    bb.parse.handle(str(h.LAYER / "conf" / "layer.conf"), d, 0)
    d.expandVarref("LAYERDIR")
    return d


def version(text):
    return tuple(int(part) for part in text.split("."))


def test_the_layer_is_the_tolomeo_rust_collection():
    assert layer_conf().getVar("BBFILE_COLLECTIONS").split() == ["tolomeo-rust"]


def test_the_layer_depends_on_core_and_swupdate():
    assert sorted(layer_conf().getVar("LAYERDEPENDS_tolomeo-rust").split()) == ["core", "swupdate"]


def test_the_layer_claims_whinlatter_and_wrynose():
    assert layer_conf().getVar("LAYERSERIES_COMPAT_tolomeo-rust").split() == ["whinlatter", "wrynose"]


def test_the_layer_files_pattern_covers_its_recipes_and_appends():
    d = layer_conf()
    pattern = re.compile(d.getVar("BBFILE_PATTERN_tolomeo-rust"))
    assert pattern.match(str(h.LAUNCHER_RECIPE)) and pattern.match(str(h.SWUPDATE_APPEND))
    globs = d.getVar("BBFILES").split()
    assert any(h.LAUNCHER_RECIPE.match(g) for g in globs)
    assert any(h.SWUPDATE_APPEND.match(g) for g in globs)


@pytest.mark.parametrize("release", layer_conf().getVar("LAYERSERIES_COMPAT_tolomeo-rust").split())
def test_cargo_rust_version_is_at_most_the_rust_of_every_claimed_release(release):
    with open(h.REPO / "Cargo.toml", "rb") as f:
        rust_version = tomllib.load(f)["package"]["rust-version"]
    assert release in RUST_OF_RELEASE, "no Rust version known for %s: add it to RUST_OF_RELEASE" % release
    assert version(rust_version) <= version(RUST_OF_RELEASE[release]), (
        "Cargo.toml needs Rust %s, %s ships %s" % (rust_version, release, RUST_OF_RELEASE[release])
    )
