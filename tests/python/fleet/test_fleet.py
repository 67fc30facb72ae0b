"""Fleet updates end to end: the launcher's swupdate-daemon.service with real swupdate 2026.05.1
(suricatta, hawkBit DDI) in a booted Debian sid device, against gooseBit on 127.0.0.1."""

from __future__ import annotations


def test_device_registers_with_its_hardware_revision_and_polls(make_device, goosebit):
    d = make_device()
    dev = goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "registered"
                               and x["hardware"]["revision"] == "1.0", 60, "registered")
    assert dev["hardware"]["revision"] == "1.0"
    # It keeps polling at the server's interval (3 s here).
    first = goosebit.wait_device(d.device_id, lambda x: x["last_seen"] is not None, 10, "seen")
    goosebit.wait_device(d.device_id, lambda x: x["polling"], 20, "polling")
    assert d.show("swupdate-daemon.service", "ActiveState")["ActiveState"] == "active"


def _swu(tmp_path, keys, version, *, key="release", seed=1):
    from device import TARGET, TARGET_LEN
    from swu import build_swu, test_image
    return build_swu(tmp_path / f"update-{version}-{key}.swu", keys[key], device=TARGET,
                     version=version, image=test_image(TARGET_LEN, seed))


def test_rollout_is_installed_and_reported_success_after_the_reboot(make_device, goosebit, keys,
                                                                     tmp_path):
    d = make_device(running_version="1.0.0")
    goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "registered", 60, "registered")
    swu = _swu(tmp_path, keys, "1.1.0")
    sw = goosebit.upload(swu.path)
    goosebit.assign(d.device_id, sw)
    # Downloaded, verified, installed into the target; swupdate records "installed" (ustate=1) in
    # the U-Boot environment and runs the product's post-update command: a reboot.
    d.wait_rebooted("1.1.0", timeout=120)
    assert d.target() == swu.image
    dev = goosebit.wait_device(d.device_id, lambda x: x["last_state"] == "finished", 60,
                               "reported success")
    assert dev["sw_version"] == "1.1.0"
    assert d.ustate() == "0"
