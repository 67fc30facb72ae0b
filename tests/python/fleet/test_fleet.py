"""Fleet updates end to end: the launcher's swupdate-daemon.service with real swupdate 2026.05.1
(suricatta, hawkBit DDI) in a booted Debian sid device, against gooseBit on 127.0.0.1."""

from __future__ import annotations

import time

from support.device import FLEET_TARGET_LEN as TARGET_LEN, untouched


def test_device_registers_with_its_hardware_revision_and_polls(make_device, goosebit):
    d = make_device()
    dev = goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "registered"
                               and x["hardware"]["revision"] == "1.0", 60, "registered")
    assert dev["hardware"]["revision"] == "1.0"
    # It keeps polling at the server's interval (3 s here; 10 s right after registration).
    polls = f"GET /DEFAULT/controller/v1/{d.device_id} HTTP"
    deadline = time.monotonic() + 40
    while goosebit.ddi_log().count(polls) < 4 and time.monotonic() < deadline:
        time.sleep(1)
    assert goosebit.ddi_log().count(polls) >= 4, goosebit.ddi_log()[-3000:]
    assert d.show("swupdate-daemon.service", "ActiveState")["ActiveState"] == "active"
    # The image's configuration is one the launcher's own check accepts.
    d.run(["swupdate-launcher", "check"])


def _swu(tmp_path, keys, version, *, key="release", seed=1):
    from support.device import FLEET_TARGET as TARGET, FLEET_TARGET_LEN as TARGET_LEN
    from support.swu import build_swu, test_image
    return build_swu(tmp_path / f"update-{version}-{key}.swu", keys[key], device=TARGET,
                     version=version, image=test_image(TARGET_LEN, seed))


def test_rollout_is_installed_and_reported_success_after_the_reboot(make_device, goosebit, keys,
                                                                     tmp_path):
    # A feed of its own, so that the rollout reaches this device and no other test's.
    d = make_device(running_version="1.0.0", feed="canary")
    goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "registered", 60, "registered")
    swu = _swu(tmp_path, keys, "1.1.0")
    sw = goosebit.upload(swu.path)
    rollout = goosebit.rollout("canary 1.1.0", sw, feed="canary")
    # Downloaded, verified, installed into the target; swupdate records "installed" (ustate=1) in
    # the U-Boot environment and runs the product's post-update command: a reboot.
    d.wait_rebooted("1.1.0", timeout=120)
    assert d.target() == swu.image
    # The result and the new version reach the server in separate requests (the feedback, then
    # the attributes swupdate re-sends after a success): wait for both.
    dev = goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "finished"
                               and x["sw_version"] == "1.1.0", 60, "reported success and 1.1.0")
    assert dev["sw_version"] == "1.1.0"
    # suricatta reset the state after it reported; the rollout counts the success.
    assert d.ustate() == "0"
    assert [r["success_count"] for r in goosebit.rollouts() if r["id"] == rollout] == [1]
    assert d.show("swupdate-daemon.service", "NRestarts")["NRestarts"] == "0"


def test_a_release_the_bootloader_fell_back_from_is_reported_failed(make_device, goosebit, keys,
                                                                    tmp_path):
    d = make_device(running_version="1.0.0")
    _registered(goosebit, d)
    swu = _swu(tmp_path, keys, "1.6.0", seed=6)
    goosebit.assign(d.device_id, goosebit.upload(swu.path))
    d.wait_rebooted(timeout=120, bootloader_fell_back=True)
    dev = goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "error", 60,
                               "reported the fallback as failed")
    assert dev["sw_version"] == "1.0.0"
    assert d.ustate() == "0"
    assert d.show("swupdate-daemon.service", "ActiveState")["ActiveState"] == "active"


def _registered(goosebit, d):
    goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "registered", 60, "registered")


def _refused(goosebit, d, swu, what):
    """The .swu is assigned; the device downloads it, refuses it, and the server learns that."""
    goosebit.assign(d.device_id, goosebit.upload(swu))
    dev = goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "error", 60,
                               f"reported the {what} update as failed")
    assert d.target() == untouched(TARGET_LEN), "the target was written"
    # No reboot, no restart: the daemon goes on polling.
    assert d.proc.poll() is None
    assert d.show("swupdate-daemon.service", "ActiveState", "NRestarts") == {
        "ActiveState": "active", "NRestarts": "0"}
    assert d.ustate() == "0"
    return dev


def test_tampered_update_is_reported_failed_and_the_target_is_untouched(make_device, goosebit,
                                                                         keys, tmp_path):
    d = make_device()
    _registered(goosebit, d)
    swu = _swu(tmp_path, keys, "1.2.0", seed=2).tampered(tmp_path / "tampered.swu")
    _refused(goosebit, d, swu, "tampered")
    # At INFO level swupdate names no cause for a bad image hash; it refuses the image.
    journal = d.boot_journal()
    assert "Error happened. Not installing" in journal and "SWUPDATE successful" not in journal


def test_update_signed_by_another_key_is_reported_failed(make_device, goosebit, keys, tmp_path):
    d = make_device()
    _registered(goosebit, d)
    _refused(goosebit, d, _swu(tmp_path, keys, "1.3.0", key="other", seed=3).path, "wrongly signed")
    assert "Authentication of all signatures failed" in d.boot_journal()


def test_an_older_release_assigned_is_refused_by_anti_rollback(make_device, goosebit, keys,
                                                               tmp_path):
    # The device runs 2.0.0; the launcher passes -N 2.0.0 from /etc/sw-versions.
    d = make_device(running_version="2.0.0")
    _registered(goosebit, d)
    argv = d.run(["swupdate-launcher", "--print-argv"]).stdout
    assert "-N 2.0.0" in argv, argv
    _refused(goosebit, d, _swu(tmp_path, keys, "1.9.0", seed=4).path, "older")
    assert "No downgrading allowed: new version 1.9.0 < installed 2.0.0" in d.boot_journal()


def test_the_server_going_away_and_coming_back(make_device, goosebit):
    d = make_device()
    _registered(goosebit, d)
    goosebit.stop()
    try:
        # Several poll periods and retries without a server.
        time.sleep(25)
        assert d.show("swupdate-daemon.service", "ActiveState", "NRestarts") == {
            "ActiveState": "active", "NRestarts": "0"}, d.boot_journal()[-3000:]
    finally:
        goosebit.start()
    seen = time.time()
    goosebit.wait_device(d.device_id, lambda x: x["last_seen"] is not None and x["last_seen"] <= 2
                         and time.time() - seen > 1, 60, "polled again after the server came back")
    assert d.show("swupdate-daemon.service", "ActiveState", "NRestarts", "Result") == {
        "ActiveState": "active", "NRestarts": "0", "Result": "success"}


def test_a_second_install_is_refused_while_the_daemon_runs(make_device, goosebit, keys, tmp_path):
    d = make_device()
    _registered(goosebit, d)
    swu = _swu(tmp_path, keys, "1.4.0", seed=5)
    d.write("/var/lib/swupdate/manual.swu", swu.path.read_bytes())
    # The daemon holds the launcher's lock for its lifetime: a second launcher (a local install by
    # hand, a USB update) exits 75 and starts nothing.
    res = d.run(["swupdate-launcher", "--update-file", "/var/lib/swupdate/manual.swu"], check=False)
    assert res.returncode == 75, (res.returncode, res.stderr)
    # Not a terminal, and the journal is there: the launcher logs to the journal.
    logged = d.run(["journalctl", "-b", "--no-pager", "-o", "cat", "-t", "swupdate-launcher"]).stdout
    assert "another update is running" in logged, logged[-2000:]
    assert d.target() == untouched(TARGET_LEN)
    assert d.show("swupdate-daemon.service", "ActiveState")["ActiveState"] == "active"
    # The one-shot OTA unit conflicts with the daemon: systemd stops the daemon first (After=), so
    # the two never run together; on this daemon image the launcher then refuses the one-shot
    # unit (65: the configuration runs the daemon), and the daemon stays stopped until started.
    res = d.run(["systemctl", "start", "swupdate.service"], check=False)
    assert res.returncode != 0
    assert d.show("swupdate.service", "ExecMainStatus")["ExecMainStatus"] == "65"
    assert d.show("swupdate-daemon.service", "ActiveState")["ActiveState"] == "inactive"
    d.run(["systemctl", "start", "swupdate-daemon.service"])
    assert d.target() == untouched(TARGET_LEN)


def test_a_device_with_a_wrong_token_is_not_let_in(make_device, goosebit):
    d = make_device(register=False, token="0123456789abcdef0123456789abcdef")
    goosebit.register_device(d.device_id, "f" * 32)
    time.sleep(12)
    dev = goosebit.device(d.device_id)
    assert dev["last_state"] == "unknown" and dev["last_seen"] is None, dev
    assert f'GET /DEFAULT/controller/v1/{d.device_id} HTTP/1.1" 401' in goosebit.ddi_log()
    assert d.show("swupdate-daemon.service", "ActiveState")["ActiveState"] == "active"


def test_the_target_token_is_never_on_argv_status_or_journal(make_device, goosebit):
    d = make_device()
    _registered(goosebit, d)
    token = d.token
    assert oct(d.path("/etc/swupdate/identity.cfg").stat().st_mode & 0o777) == "0o600"
    cmdlines = d.sh("cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert "swupdate" in cmdlines and token not in cmdlines
    assert token not in d.show("swupdate-daemon.service", "StatusText")["StatusText"]
    assert token not in d.run(["swupdate-launcher", "explain"]).stdout
    journal = d.journal_all_boots()
    assert "suricatta" in journal.lower() and token not in journal
