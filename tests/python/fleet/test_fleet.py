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
