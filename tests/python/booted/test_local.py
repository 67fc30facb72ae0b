"""Local updates: swupdate-local@.service on a loop-device medium, and the lock between a local
and an OTA install.

The host makes the medium (an ext4 file system populated with mkfs.ext4 -d, attached with
losetup) and nspawn binds that one /dev/loopN into the container. One thing cannot be had in a
container: device units. systemd treats udev as unavailable when /sys is read-only (as in
nspawn), so `dev-loopN.device` never becomes active ("Starting of dev-loop0.device
unsupported") and the template's `BindsTo=`/`After=dev-%i.device` would fail the start as a
dependency. The test therefore installs the repository's template with exactly those two lines
removed, as /etc/systemd/system/swupdate-local@.service (asserting that nothing else differs);
everything else (mkdir, the mount with its options, the launcher's --update-medium rule, the
lazy unmount and rmdir, Conflicts=, the lock) is the unit as shipped. The device binding and the
udev rule are covered by tests/python/systemd on the host's udev.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from support.container import REPO
from support.device import TARGET, download_device, handoff, url
from support.swu import build_swu

DEVICE_LINES = ("BindsTo=dev-%i.device", "After=dev-%i.device")


def container_template() -> str:
    text = (REPO / "systemd/swupdate-local@.service").read_text()
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if line.strip() not in DEVICE_LINES]
    assert len(lines) - len(kept) == len(DEVICE_LINES), "the template's device binding changed"
    return "".join(kept)


# Records the options the medium is mounted with, right after the unit's own mount.
OBSERVE = ("[Service]\nExecStartPre=/bin/sh -c 'findmnt -no OPTIONS /run/swupdate-local/%i "
           "> /run/medium-options-%i'\n")


@pytest.fixture
def medium(tmp_path):
    """medium(files) -> loop device name (loopN) with an ext4 file system holding `files`."""
    attached = []

    def make(files: dict[str, bytes]) -> str:
        content = tmp_path / f"medium{len(attached)}"
        content.mkdir()
        for name, data in files.items():
            (content / name).write_bytes(data)
        img = tmp_path / f"medium{len(attached)}.img"
        subprocess.run(["truncate", "-s", "16M", str(img)], check=True)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-d", str(content), str(img)], check=True)
        dev = subprocess.run(["losetup", "-f", "--show", str(img)], check=True,
                             capture_output=True, text=True).stdout.strip()
        attached.append(dev)
        return dev.removeprefix("/dev/")

    yield make
    for dev in attached:
        subprocess.run(["losetup", "-d", dev], check=False)


def local_device(make_device, loop: str, **kw):
    def setup(dev):
        dev.write("/etc/systemd/system/swupdate-local@.service", container_template())
        dev.write("/etc/systemd/system/swupdate-local@.service.d/observe.conf", OBSERVE)
        if kw.get("source") == "download":
            dev.write("/usr/lib/swupdate/conf.d/40-http",
                      "SWUPDATE_ALLOW_HTTP=yes\nSWUPDATE_DOWNLOAD_RETRIES=1\n")
            dev.path("/srv/www").mkdir(parents=True, exist_ok=True)
    return make_device(nspawn_args=(f"--bind=/dev/{loop}",), setup=setup, **kw)


def assert_unmounted(dev, loop):
    assert dev.run(["findmnt", f"/run/swupdate-local/{loop}"], check=False).returncode != 0
    assert dev.run(["test", "-e", f"/run/swupdate-local/{loop}"], check=False).returncode != 0


def test_local_update_installs_the_one_swu_read_only_and_unmounts(make_device, medium, pkis,
                                                                   tmp_path, compat):
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    loop = medium({"update.swu": swu.path.read_bytes(), "README.txt": b"not an update\n"})
    dev = local_device(make_device, loop)
    mark = dev.cursor()
    res = dev.start(f"swupdate-local@{loop}.service")
    assert res.returncode == 0, dev.unit_messages(f"swupdate-local@{loop}.service", mark)
    assert dev.target() == swu.image
    opts = dev.run(["cat", f"/run/medium-options-{loop}"]).stdout.strip().split(",")
    assert {"ro", "nosuid", "nodev", "noexec"} <= set(opts), opts
    assert_unmounted(dev, loop)
    compat(dev.release, "local")


def test_a_medium_with_two_updates_is_refused_with_66_and_unmounted(make_device, medium, pkis,
                                                                    tmp_path):
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    loop = medium({"a.swu": swu.path.read_bytes(), "b.swu": swu.path.read_bytes()})
    dev = local_device(make_device, loop)
    before = dev.target()
    assert dev.start(f"swupdate-local@{loop}.service").returncode != 0
    r = dev.result(f"swupdate-local@{loop}.service")
    assert (r["Result"], r["ExecMainStatus"]) == ("exit-code", "66"), r
    assert "a.swu" in r["StatusText"] and "b.swu" in r["StatusText"], r
    assert dev.target() == before
    assert_unmounted(dev, loop)


def test_local_install_while_an_ota_install_runs_exits_75(make_device, medium, pkis, tmp_path,
                                                          compat):
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    loop = medium({"update.swu": swu.path.read_bytes()})
    dev = local_device(make_device, loop, source="download")
    dev.serve_http("/srv/www", rate=100_000)
    dev.write("/srv/www/update.swu", swu.path.read_bytes())
    handoff(dev, url())
    agent = dev.spawn(["systemctl", "start", "swupdate.service"])
    dev.wait_for(lambda: dev.pids_of("swupdate"), what="the OTA install running")
    time.sleep(1)
    ota_pid = dev.show("swupdate.service", "MainPID")["MainPID"]
    assert dev.start(f"swupdate-local@{loop}.service").returncode != 0
    r = dev.result(f"swupdate-local@{loop}.service")
    assert (r["Result"], r["ExecMainStatus"]) == ("exit-code", "75"), r
    assert ota_pid in r["StatusText"], (ota_pid, r)
    assert_unmounted(dev, loop)
    # The OTA install was not disturbed.
    out, err = agent.communicate(timeout=120)
    assert agent.returncode == 0, err
    assert dev.target() == swu.image
    compat(dev.release, "lock")
