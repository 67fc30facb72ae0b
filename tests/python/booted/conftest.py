"""The booted system-test tier (scripts/test-system): every scenario on Debian bookworm, trixie and
sid, each a fresh copy of a cached root booted under systemd-nspawn (a copy and a boot cost a few
seconds, and no scenario can then leak into another).

Results that the compatibility table needs are recorded with the `compat` fixture; at the end of
the session the table is written to $SWUPDATE_LAUNCHER_COMPAT_OUT (scripts/test-system compares it
with docs/compatibility-booted.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.container import debian_root
from support.device import RELEASES, Device, device_workdir, launcher_binaries
from support.swu import Pki
from support import compat as compat_table


@pytest.fixture(scope="session")
def bins():
    return launcher_binaries()


@pytest.fixture(scope="session")
def pkis(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    return {"good": Pki.generate(d, "device-signer"), "other": Pki.generate(d, "stranger")}


_templates: dict[str, Path] = {}


def template(release: str) -> Path:
    if release not in _templates:
        _templates[release] = debian_root(release)
    return _templates[release]


@pytest.fixture(params=RELEASES)
def release(request) -> str:
    return request.param


@pytest.fixture
def make_device(release, bins, pkis):
    """make_device(source=..., variant=..., nspawn_args=..., setup=callable) -> a booted Device."""
    made: list[Device] = []

    def make(*, source: str | None = "file", variant: str = "plain", nspawn_args=(),
             setup=None, boot: bool = True, **provision) -> Device:
        dev = Device(release, template(release), device_workdir(), bins, pkis["good"],
                     nspawn_args=nspawn_args)
        dev.__enter__()
        made.append(dev)
        dev.provision(source=source, variant=variant, **provision)
        if setup:
            setup(dev)
        if boot:
            dev.boot()
        return dev

    yield make
    for dev in made:
        workdir = dev.root.parent
        dev.__exit__(None, None, None)
        try:
            dev.log.unlink(missing_ok=True)
            workdir.rmdir()
        except OSError:
            pass


@pytest.fixture
def device(make_device) -> Device:
    """A booted device in file mode (update-ota): the layer's configuration, plain launcher."""
    return make_device()


@pytest.fixture(scope="session")
def compat():
    return compat_table.Recorder()


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("SWUPDATE_LAUNCHER_COMPAT_OUT")
    if out:
        compat_table.Recorder.write_all(Path(out))
