"""The A/B cycle with suricatta against gooseBit (issue 20): the fleet tier's device on the booted
A/B tier's board (tests/python/support/ab.py: two slots on loop devices, the U-Boot environment
file, the bootloader played by the harness). The server learns the outcome from what `confirm`
wrote (ustate), which suricatta reads at its start after the reboot.

The shipped confirm unit keeps the daemon from running on a slot whose health checks failed
(RequiredBy=, enabled as an image enables it) and lets it run after a fallback
(SuccessExitStatus=70): without that (product drop-ins first did it), suricatta installed the
still-open deployment into the good slot in 2 runs of 4. Run by scripts/test-fleet."""

from __future__ import annotations

import secrets
from contextlib import contextmanager

from support.ab import (BOOTLIMIT, RELEASE_FILE, SLOT_FILE, Board, build_ab_swu, health_check,
                        slot_table)
from support.device import (AB_LAUNCHER, FLEET_BOARD, HW_REVISION, UNIT_DIR, device_workdir,
                            fleet_fragment, fleet_swupdate_cfg)

RELEASE = "sid"
RUNNING = "1.0.0"
NEW = "2.0.0"
# A release whose required health check fails (another version: gooseBit keeps one software
# per version and compatibility).
BROKEN = "2.1.0"


def fleet_slot(dev, *, table: str, server_url: str, device_id: str, token: str) -> None:
    """A slot of a suricatta product: daemon mode (swupdate-daemon.service enabled), the fleet's
    configuration (post-update reboot, anti-rollback from /etc/sw-versions), its identity."""
    dev.path("/usr/lib/swupdate/conf.d/20-hardware").unlink(missing_ok=True)
    dev.write("/usr/lib/swupdate/conf.d/10-fleet", fleet_fragment(reboot=True))
    dev.write("/usr/lib/swupdate/conf.d/30-ab-slots", table)
    wants = dev.path("/etc/systemd/system/multi-user.target.wants/swupdate-daemon.service")
    wants.parent.mkdir(parents=True, exist_ok=True)
    wants.symlink_to(f"{UNIT_DIR}/swupdate-daemon.service")
    dev.write("/etc/sw-versions", f"firmware {RUNNING}\n")
    dev.write("/etc/swupdate.cfg", fleet_swupdate_cfg(server_url, RUNNING))
    dev.write("/etc/hwrevision", f"{FLEET_BOARD} {HW_REVISION}\n")
    dev.write("/etc/swupdate/identity.cfg",
              f'\tid = "{device_id}";\n\ttargettoken = "{token}";\n', 0o600)
    health_check(dev, "10-release-readable", "test -s /etc/ab-release\n")


@contextmanager
def fleet_board(goosebit, keys):
    """The A/B board whose slots are a registered fleet device (the same identity in both), and
    that device's id; nothing booted yet."""
    device_id, token = f"ab-{secrets.token_hex(4)}", secrets.token_hex(16)
    goosebit.register_device(device_id, token)
    with Board(RELEASE, device_workdir(), {"ab": AB_LAUNCHER}, keys["release"],
               private_network=False) as board:
        table = slot_table(board.devices())
        board.provision(lambda dev, slot: fleet_slot(
            dev, table=table, server_url=goosebit.url, device_id=device_id, token=token),
            source=None)
        yield board, device_id


def test_ab_rollout_is_reported_success_once_confirm_passed_on_the_new_slot(goosebit, keys,
                                                                             tmp_path):
    with fleet_board(goosebit, keys) as (board, device_id):
        a = board.power_on()
        assert a.run(["cat", SLOT_FILE]).stdout.strip() == "A"
        goosebit.wait_device(device_id, lambda x: x["last_state"] == "registered", 60,
                             "registered")
        # The new release's files that say its version go into the slot with it.
        swu = build_ab_swu(tmp_path / "ab.swu", keys["release"], board.devices(), version=NEW,
                           files={"/etc/sw-versions": (f"firmware {NEW}\n".encode(), 0o644),
                                  "/etc/swupdate.cfg": (
                                      fleet_swupdate_cfg(goosebit.url, NEW).encode(), 0o644)})
        goosebit.assign(device_id, goosebit.upload(swu))
        # Downloaded, installed into B (-e stable,copy2 from the slot table), ustate=1, and the
        # product's post-update reboot; the bootloader boots B, confirm passes (ustate=2), and
        # suricatta reports success at its start.
        b = board.wait_reboot(timeout=180)
        assert (board.boots[-1].slot, board.boots[-1].command) == ("B", "bootcmd")
        assert b.run(["cat", RELEASE_FILE]).stdout.strip() == NEW
        r = b.show("swupdate-confirm.service", "Result", "ExecMainStatus")
        assert (r["Result"], r["ExecMainStatus"]) == ("success", "0"), r
        dev = goosebit.wait_device(device_id, lambda x: x["last_state"] == "finished"
                                   and x["sw_version"] == NEW, 90, "reported success and 2.0.0")
        assert dev["sw_version"] == NEW
        env = board.env.all()
        assert (env.get("boot_part"), env.get("upgrade_available"), env.get("ustate")) == \
            ("B", "0", "0"), env
        board.power_off()
        assert board.release_of("A") == "1.0"


def test_ab_rollout_failing_its_health_checks_is_reported_failed_after_the_fallback(
        goosebit, keys, tmp_path):
    with fleet_board(goosebit, keys) as (board, device_id):
        board.power_on()
        goosebit.wait_device(device_id, lambda x: x["last_state"] == "registered", 60,
                             "registered")
        swu = build_ab_swu(tmp_path / "ab.swu", keys["release"], board.devices(), version=BROKEN,
                           files={"/etc/sw-versions": (f"firmware {BROKEN}\n".encode(), 0o644),
                                  "/etc/swupdate.cfg": (
                                      fleet_swupdate_cfg(goosebit.url, BROKEN).encode(), 0o644),
                                  "/usr/lib/swupdate/health.d/required/50-new-service": (
                                      b"#!/bin/sh\nexit 1\n", 0o755)})
        goosebit.assign(device_id, goosebit.upload(swu))
        b = board.wait_reboot(timeout=180)
        assert b.show("swupdate-daemon.service", "ActiveState")["ActiveState"] == "inactive"
        # B is unhealthy: confirm writes nothing; the product reboots (here: the harness) until
        # the bootloader's counter passes bootlimit and altbootcmd boots A.
        for _ in range(BOOTLIMIT):
            assert board.boots[-1].slot == "B"
            r = b.show("swupdate-confirm.service", "Result", "ExecMainStatus")
            assert (r["Result"], r["ExecMainStatus"]) == ("exit-code", "69"), r
            b = board.reboot()
        a = b
        assert (board.boots[-1].slot, board.boots[-1].command) == ("A", "altbootcmd")
        r = a.show("swupdate-confirm.service", "Result", "ExecMainStatus")
        assert (r["Result"], r["ExecMainStatus"]) == ("success", "70"), r
        dev = goosebit.wait_device(device_id, lambda x: x["last_state"] == "error", 90,
                                   "reported the fallback as failed")
        assert dev["sw_version"] == RUNNING
        assert a.run(["cat", RELEASE_FILE]).stdout.strip() == "1.0"
        env = board.env.all()
        assert (env.get("boot_part"), env.get("upgrade_available")) == ("A", "0"), env
