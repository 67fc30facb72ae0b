"""Fixtures of the fleet tier: gooseBit on 127.0.0.1, the signing keys, devices booted from Debian
sid. Run by scripts/test-fleet (which installs gooseBit and builds the launcher); the generic
pytest run of scripts/test does not collect this directory (tests/python/conftest.py)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support.device import FleetDevice  # noqa: E402
from goosebit_server import GooseBit  # noqa: E402
from support.container import debian_root  # noqa: E402
from support.swu import Pki  # noqa: E402

# Collected only by scripts/test-fleet, which sets this: the generic pytest run of scripts/test
# walks into this directory too and must not boot devices and servers.
if os.environ.get("SWUPDATE_LAUNCHER_TIER") != "fleet":
    collect_ignore_glob = ["*"]

RELEASE = "sid"
# libubootenv-tool: fw_printenv/fw_setenv and libubootenv, which swupdate's U-Boot interface uses.
EXTRA_PACKAGES = ("libubootenv-tool",)


@pytest.fixture(scope="session")
def template() -> Path:
    return debian_root(RELEASE, *EXTRA_PACKAGES)


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> dict[str, Pki]:
    d = tmp_path_factory.mktemp("keys")
    return {"release": Pki.generate(d, "fleet-release-signing"),
            "other": Pki.generate(d, "someone-else")}


@pytest.fixture(scope="session")
def goosebit(tmp_path_factory):
    """gooseBit in strict device authentication: every device must be registered, with its
    target token, before it may talk to the server (as a fleet operator runs it)."""
    with GooseBit(tmp_path_factory.mktemp("goosebit"), device_auth="strict") as g:
        yield g


@pytest.fixture
def make_device(template, tmp_path, goosebit, keys):
    """Returns a function that configures and boots a device registered with `goosebit`."""
    made: list[FleetDevice] = []

    def make(device_id: str | None = None, *, running_version: str = "1.0.0",
             server: GooseBit | None = None, register: bool = True, token: str | None = "auto",
             boot: bool = True, feed: str | None = None, **kw) -> FleetDevice:
        server = server or goosebit
        device_id = device_id or f"dev-{secrets.token_hex(4)}"
        if token == "auto":
            token = secrets.token_hex(16)
        if register and token is not None:
            server.register_device(device_id, token, feed)
        workdir = tmp_path / f"dev{len(made)}"
        workdir.mkdir()
        d = FleetDevice(template, workdir)
        d.__enter__()
        made.append(d)
        d.device_id, d.token = device_id, token
        d.configure(server_url=server.url, device_id=device_id, token=token,
                    running_version=running_version, cert=keys["release"].cert, **kw)
        if boot:
            d.boot()
        return d

    yield make
    for d in made:
        d.__exit__(None, None, None)


@pytest.fixture(scope="session", autouse=True)
def _tools():
    for tool in ("openssl", "systemd-nspawn", "nsenter"):
        assert shutil.which(tool), f"{tool} missing: scripts/test-fleet installs it"
    subprocess.run(["openssl", "version"], check=True, capture_output=True)
