"""The daemon through its socket (swupdate-daemon.socket/.service), the Conflicts= between the
OTA install and the daemon, and stopping an install in the middle (KillMode=mixed)."""

from __future__ import annotations

import time

from support.container import REPO
from support.device import TARGET, download_device, handoff, url
from support.swu import build_swu

# Where each release computes its IPC sockets (observed: "creating socket at ..." when started
# without the socket unit), and what its command-line clients need to find them.
SOCKET_DIR = {"bookworm": "/tmp", "trixie": "/run/swupdate", "sid": "/run/swupdate"}
# 2024.12's client library tries $RUNTIME_DIRECTORY, $TMPDIR, then /tmp; 2026.05 also finds
# /run/swupdate (created at boot by tmpfiles-swupdate-launcher.conf); 2022.12 uses /tmp.
CLIENT_ENV = {"bookworm": [], "trixie": ["RUNTIME_DIRECTORY=/run/swupdate"], "sid": []}
SOCKET_PATHS_WHY = {
    "bookworm": "/tmp (compiled in; RUNTIME_DIRECTORY ignored): drop-in `socket-paths-tmp.conf`",
    "trixie": "$RUNTIME_DIRECTORY = /run/swupdate: units as shipped",
    "sid": "$RUNTIME_DIRECTORY = /run/swupdate: units as shipped",
}


def daemon_device(make_device):
    def setup(dev):
        if dev.release == "bookworm":
            dev.write("/etc/systemd/system/swupdate-daemon.socket.d/paths.conf",
                      (REPO / "systemd/socket-paths-tmp.conf").read_text())
    return make_device(source=None, setup=setup)


def inodes(dev, d):
    out = dev.run(["stat", "-c", "%i", f"{d}/sockinstctrl", f"{d}/swupdateprog"]).stdout
    return out.split()


def test_daemon_without_socket_binds_where_the_socket_unit_listens(make_device, compat):
    dev = daemon_device(make_device)
    mark = dev.cursor()
    assert dev.start("swupdate-daemon.service").returncode == 0
    # Type=notify: active only after swupdate's READY=1.
    assert dev.result("swupdate-daemon.service")["ActiveState"] == "active"
    log = dev.unit_messages("swupdate-daemon.service", mark)
    d = SOCKET_DIR[dev.release]
    assert f"creating socket at {d}/sockinstctrl" in log, log
    assert f"creating socket at {d}/swupdateprog" in log, log
    listen = dev.run(["systemctl", "show", "swupdate-daemon.socket", "-p", "Listen"]).stdout
    assert f"{d}/sockinstctrl" in listen and f"{d}/swupdateprog" in listen, listen
    compat(dev.release, "ready", "yes (built with CONFIG_SYSTEMD)")
    compat(dev.release, "socket-paths", SOCKET_PATHS_WHY[dev.release])


def test_daemon_takes_systemds_sockets_and_installs_through_them(make_device, pkis, tmp_path,
                                                                  compat):
    dev = daemon_device(make_device)
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    dev.write("/root/u.swu", swu.path.read_bytes())
    dev.run(["systemctl", "start", "swupdate-daemon.socket"])
    d = SOCKET_DIR[dev.release]
    before = inodes(dev, d)
    assert dev.result("swupdate-daemon.service")["ActiveState"] == "inactive"
    mark = dev.cursor()
    # A client connecting to the control socket activates the daemon and installs through it.
    res = dev.run(["env", *CLIENT_ENV[dev.release], "swupdate-client", "-v", "/root/u.swu"],
                  check=False, timeout=90)
    log = dev.unit_messages("swupdate-daemon.service", mark)
    assert res.returncode == 0, res.stdout + res.stderr + log
    assert dev.target() == swu.image
    assert dev.result("swupdate-daemon.service")["ActiveState"] == "active"
    for name in ("sockinstctrl", "swupdateprog"):
        assert f"got socket fd=" in log and f"at {d}/{name} from systemd" in log, log
        assert f"creating socket at {d}/{name}" not in log, log
    # The very sockets systemd bound: not unlinked and replaced.
    assert inodes(dev, d) == before
    compat(dev.release, "socket-activation")


def test_starting_the_ota_unit_stops_the_daemon_and_its_socket(make_device):
    dev = daemon_device(make_device)
    dev.run(["systemctl", "start", "swupdate-daemon.socket"])
    assert dev.start("swupdate-daemon.service").returncode == 0
    # The OTA unit conflicts with both: they stop first. This device is configured for the daemon,
    # so the one-shot launcher then refuses (65): the daemon is not restarted behind its back.
    assert dev.start("swupdate.service").returncode != 0
    assert dev.result("swupdate-daemon.service")["ActiveState"] == "inactive"
    assert dev.show("swupdate-daemon.socket", "ActiveState")["ActiveState"] == "inactive"
    r = dev.result()
    assert (r["Result"], r["ExecMainStatus"]) == ("exit-code", "65"), r
    assert not dev.pids_of("swupdate")


def slow_install(make_device, pkis, tmp_path):
    """A download-mode install that takes about 10 s (a throttled server), started without
    blocking; returns once swupdate runs and has started writing."""
    dev = download_device(make_device, rate=100_000)
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    dev.write("/srv/www/update.swu", swu.path.read_bytes())
    handoff(dev, url())
    mark = dev.cursor()
    agent = dev.spawn(["systemctl", "start", "swupdate.service"])
    dev.wait_for(lambda: dev.pids_of("swupdate"), what="swupdate running")
    time.sleep(2)
    assert dev.result()["ActiveState"] == "activating"
    assert agent.poll() is None
    return dev, agent, mark


def assert_agent_told(dev, agent, mark):
    """The agent's blocking `systemctl start` fails: its job was cancelled. (Polling could not
    tell: swupdate ends on SIGTERM with status 0, so the unit is inactive/success afterwards,
    like after an install; systemd/README.md says so.)"""
    out, err = agent.communicate(timeout=60)
    assert agent.returncode != 0, (out, err)
    assert "canceled" in err or "cancelled" in err, err
    log = dev.unit_messages("swupdate.service", mark)
    assert "Stopping swupdate.service" in log or "Stopped swupdate.service" in log, log
    r = dev.result()
    return r


def assert_nothing_left(dev):
    dev.wait_for(lambda: dev.result()["ActiveState"] != "deactivating", what="stopped")
    assert not dev.pids_of("swupdate"), dev.run(["ps", "-ef"]).stdout
    procs = dev.run(["systemctl", "show", "swupdate.service", "-p", "MainPID"]).stdout
    assert procs.strip() == "MainPID=0", procs


def test_stopping_an_install_midway_leaves_nothing_running(make_device, pkis, tmp_path, compat):
    dev, agent, mark = slow_install(make_device, pkis, tmp_path)
    # swupdate and its downloader child both run now.
    assert len(dev.pids_of("swupdate")) >= 2, dev.run(["ps", "-ef"]).stdout
    dev.run(["systemctl", "stop", "swupdate.service"], timeout=120)
    assert_nothing_left(dev)
    r = assert_agent_told(dev, agent, mark)
    compat(dev.release, "stop", f"yes; agent's start: canceled; unit {r['ActiveState']}/"
                                f"{r['Result']}")


def test_starting_the_daemon_stops_a_running_install(make_device, pkis, tmp_path, compat):
    dev, agent, mark = slow_install(make_device, pkis, tmp_path)
    # This device is configured for download: the daemon's launcher refuses (65) once the
    # conflicting install has been stopped.
    dev.start("swupdate-daemon.service")
    assert_nothing_left(dev)
    assert_agent_told(dev, agent, mark)
    d = dev.result("swupdate-daemon.service")
    assert d["ExecMainStatus"] == "65", d
    compat(dev.release, "conflicts")
