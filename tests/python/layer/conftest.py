"""Shared fixtures of the meta-tolomeo-rust tests (BitBake's real parser, stub core/swupdate layers)."""

import os
import subprocess

import pytest

import bitbake_harness as h


@pytest.fixture
def new_build(tmp_path):
    """new_build(conf_text) -> a parsed configuration in a fresh build directory."""
    count = [0]

    def make(conf, layers=h.ALL_LAYERS):
        count[0] += 1
        return h.Build(tmp_path / ("build%d" % count[0]), conf, layers)

    return make


class _Installs:
    """do_install of both recipes for one DISTRO_FEATURES set, run once per test session."""

    def __init__(self, factory):
        self.factory = factory
        self.cache = {}

    def __call__(self, combo, systemd):
        key = (combo, systemd)
        if key not in self.cache:
            topdir = self.factory.mktemp("install-" + h.combo_id(combo, systemd).replace("/", "-"))
            build = h.Build(topdir, h.local_conf(h.distro_features(combo, systemd)))
            launcher = build.launcher()[""]
            swupdate = build.swupdate()[""]
            self.cache[key] = (build, launcher, h.install_launcher(launcher), swupdate, h.install_swupdate(swupdate))
        return self.cache[key]


@pytest.fixture(scope="session")
def installs(tmp_path_factory):
    """installs(combo, systemd) -> (build, launcher datastore, launcher ${D}, swupdate datastore, swupdate ${D})."""
    return _Installs(tmp_path_factory)


@pytest.fixture(scope="session")
def launcher_binary():
    """The launcher of this repository (target/debug/swupdate-launcher), brought up to date once per
    session by `cargo build` (a no-op when it is current): never an older binary than the sources."""
    binary = h.REPO / "target" / "debug" / "swupdate-launcher"
    result = subprocess.run(["cargo", "build", "--quiet"], cwd=h.REPO, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail("cargo build failed, the launcher cannot check the layer's output:\n" + result.stderr)
    assert h.is_executable(binary), binary
    return binary


@pytest.fixture(scope="session")
def bitbake_command(tmp_path_factory):
    return h.install_bitbake_command(tmp_path_factory.mktemp("bitbake-command"))


@pytest.fixture
def launcher_on_path(launcher_binary, tmp_path, monkeypatch):
    """PATH with a directory holding `swupdate-launcher`, as the native sysroot gives an image."""
    bindir = tmp_path / "native-bin"
    bindir.mkdir()
    os.symlink(launcher_binary, bindir / "swupdate-launcher")
    return bindir
