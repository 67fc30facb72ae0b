"""The A/B cycle on real block devices, booted (issue 20, "Proven on the real thing").

Each test gets a board (tests/python/support/ab.py): two ext4 root file systems on loop devices
(slot A, slot B) made from the release's cached root, a U-Boot environment file that survives the
reboots, and the harness as the bootloader (bootcount/bootlimit/altbootcmd, the script of
docs/ab-bootloader-model.md). The device boots slot A: `/` is ext4 on A's loop device. The update is
a signed .swu whose `stable,copy1`/`stable,copy2` selections extract a payload with swupdate's
archive handler into slot A's/B's file system and set the boot environment (bootenv section);
swupdate's U-Boot interface writes ustate=1. The launcher picks the selection from its slot table
(the device of `/`), `swupdate-confirm.service` confirms at boot. Nothing here is a stand-in but
the bootloader.
"""

from __future__ import annotations

import pytest

from support.ab import (BOOTLIMIT, CONFIRM_UNIT, FACTORY_ENV, FACTORY_RELEASE, RELEASE_FILE,
                        SLOT_FILE, SLOTS, Board, BootEnv, UBoot, build_ab_swu, health_check,
                        slot_table)
from support.device import LIB_CONFD, UPDATE_FILE, device_workdir

# The A/B cycle on the release the contract was written against first (trixie: swupdate
# 2024.12.1, systemd 257), and on the other two.
AB_RELEASES = ("bookworm", "trixie", "sid")
AB_FRAGMENT = f"{LIB_CONFD}/30-ab-slots"
NEW_RELEASE = "2.0.0"
# The kernel command line the launcher reads (SWUPDATE_KERNEL_CMDLINE): inside the container
# /proc/cmdline is the host's.
CMDLINE_FILE = "/etc/ab-kernel-cmdline"

@pytest.fixture(params=AB_RELEASES)
def release(request) -> str:
    return request.param


@pytest.fixture
def board(release, bins, pkis):
    with Board(release, device_workdir(), bins, pkis["good"]) as b:
        yield b


def factory(board: Board, *, table: str | None = None, health: str = "test -s /etc/ab-release\n"):
    """Both slots as the factory writes them: the launcher, the slot table (default: each slot by
    its own device, each selection writing the other), a required health check that passes."""
    table = table or slot_table(board.devices())

    def configure(dev, slot):
        dev.write(AB_FRAGMENT, table)
        health_check(dev, "10-release-readable", health)
    board.provision(configure)


def update(board: Board, tmp_path, **kw):
    return build_ab_swu(tmp_path / "ab.swu", board.pki, board.devices(), version=NEW_RELEASE,
                        **kw)


def install(dev, swu) -> dict[str, str]:
    dev.write(UPDATE_FILE, swu.read_bytes())
    mark = dev.cursor()
    res = dev.start("swupdate.service")
    r = dev.result("swupdate.service")
    assert res.returncode == 0, (r, dev.unit_messages("swupdate.service", mark)[-4000:])
    return r


def running_slot(dev) -> str:
    return dev.run(["cat", SLOT_FILE]).stdout.strip()


def root_source(dev) -> str:
    return dev.run(["findmnt", "-no", "SOURCE", "/"]).stdout.strip()


def confirm_result(dev) -> dict[str, str]:
    return dev.show(CONFIRM_UNIT, "ActiveState", "Result", "ExecMainStatus", "StatusText")


def env(board: Board, *names: str) -> dict[str, str | None]:
    e = board.env.all()
    return {n: e.get(n) for n in names}


STATE = ("boot_part", "ustate", "upgrade_available", "bootcount")


def test_update_from_a_goes_into_b_boots_b_and_is_confirmed_when_its_health_checks_pass(
        board, tmp_path):
    factory(board)
    swu = update(board, tmp_path)
    a = board.power_on()
    assert (running_slot(a), root_source(a)) == ("A", board.slots["A"].loop)
    # The selection swupdate gets is slot A's, found from the device of `/`; explain says so.
    a.write(UPDATE_FILE, swu.read_bytes())
    argv = a.run(["swupdate-launcher", "--print-argv"]).stdout
    assert "-e stable,copy2" in argv, argv
    explain = a.run(["swupdate-launcher", "explain"]).stdout
    assert "root-device" in explain and board.slots["A"].loop in explain, explain
    install(a, swu)
    # The install went into B: the running root is unchanged, the environment points at B.
    assert a.run(["cat", RELEASE_FILE]).stdout.strip() == FACTORY_RELEASE
    assert env(board, *STATE) == {"boot_part": "B", "ustate": "1", "upgrade_available": "1",
                                  "bootcount": "0"}

    b = board.reboot()
    assert (board.boots[-1].slot, board.boots[-1].command) == ("B", "bootcmd")
    assert (running_slot(b), root_source(b)) == ("B", board.slots["B"].loop)
    assert b.run(["cat", RELEASE_FILE]).stdout.strip() == NEW_RELEASE
    r = confirm_result(b)
    assert (r["ActiveState"], r["Result"], r["ExecMainStatus"]) == ("active", "success", "0"), r
    assert env(board, *STATE) == {"boot_part": "B", "ustate": "2", "upgrade_available": "0",
                                  "bootcount": "0"}

    # Confirmed: the next boot is B again, and the counter no longer runs.
    board.reboot()
    assert (board.boots[-1].slot, board.boots[-1].command) == ("B", "bootcmd")
    assert env(board, "bootcount")["bootcount"] == "0"
    board.power_off()
    assert (board.release_of("A"), board.release_of("B")) == (FACTORY_RELEASE, NEW_RELEASE)


def test_unhealthy_b_stays_unconfirmed_the_bootloader_falls_back_and_confirm_on_a_reports_70(
        board, tmp_path):
    factory(board)
    # The new release ships a required health check that fails.
    swu = update(board, tmp_path, files={
        "/usr/lib/swupdate/health.d/required/50-new-service": (
            b"#!/bin/sh\necho 'new-service did not come up' >&2\nexit 1\n", 0o755)})
    a = board.power_on()
    install(a, swu)

    # U-Boot tries B while bootcount <= bootlimit; confirm refuses each time and writes nothing.
    for attempt in range(1, BOOTLIMIT + 1):
        b = board.reboot()
        assert (board.boots[-1].slot, board.boots[-1].command,
                board.boots[-1].bootcount) == ("B", "bootcmd", attempt)
        assert running_slot(b) == "B"
        r = confirm_result(b)
        assert (r["Result"], r["ExecMainStatus"]) == ("exit-code", "69"), r
        assert "50-new-service" in r["StatusText"], r
        # No install while B is unconfirmed (the confirm unit is RequiredBy= the install units):
        # it would go into A, the good slot the bootloader falls back to.
        assert b.start("swupdate.service").returncode != 0
        assert b.show("swupdate.service", "ExecMainPID") == {"ExecMainPID": "0"}, "never ran"
        assert env(board, *STATE) == {"boot_part": "B", "ustate": "1",
                                      "upgrade_available": "1", "bootcount": str(attempt)}

    # Past the limit: altbootcmd boots A; confirm there sees the update it runs is not B's.
    a = board.reboot()
    assert (board.boots[-1].slot, board.boots[-1].command) == ("A", "altbootcmd")
    assert (running_slot(a), root_source(a)) == ("A", board.slots["A"].loop)
    r = confirm_result(a)
    # 70 is a success for systemd (SuccessExitStatus=70): the good slot runs, and the daemon
    # may start to report the failure.
    assert (r["Result"], r["ExecMainStatus"]) == ("success", "70"), r
    assert env(board, *STATE) == {"boot_part": "A", "ustate": "3", "upgrade_available": "0",
                                  "bootcount": "0"}
    assert a.run(["cat", RELEASE_FILE]).stdout.strip() == FACTORY_RELEASE

    # Recorded: the next boot is A by bootcmd, and there is nothing left to confirm.
    a = board.reboot()
    assert (board.boots[-1].slot, board.boots[-1].command) == ("A", "bootcmd")
    r = confirm_result(a)
    assert (r["Result"], r["ExecMainStatus"]) == ("success", "0"), r


def test_running_slot_not_in_the_table_is_refused_with_67_and_nothing_is_written(board, tmp_path):
    # The table names a partition that is not the booted root as slot A (a device booted from
    # somewhere the image does not know): no slot matches `/`.
    spare = board.spare_block_device()
    factory(board, table=slot_table({"A": spare, "B": board.slots["B"].loop}))
    swu = update(board, tmp_path)
    a = board.power_on()
    before = board.env.all()
    a.write(UPDATE_FILE, swu.read_bytes())
    mark = a.cursor()
    assert a.start("swupdate.service").returncode != 0
    r = a.result("swupdate.service")
    assert (r["Result"], r["ExecMainStatus"]) == ("exit-code", "67"), r
    # What the launcher said, in its STATUS= or its journal record (journald may not tie a
    # record to the unit when the process is gone before it is read: either place will do).
    said = r["StatusText"] + "\n" + a.unit_messages("swupdate.service", mark)
    assert "root-device" in said and board.slots["A"].loop in said, said
    assert board.env.all() == before
    board.power_off()
    assert (board.release_of("A"), board.release_of("B")) == (FACTORY_RELEASE, FACTORY_RELEASE)


def test_selection_that_writes_the_booted_root_is_refused_with_68_and_nothing_is_written(
        board, tmp_path):
    # The slot is identified from the kernel command line (rauc.slot=), and the boot script
    # passed slot B's name with slot A's root (a product's mistake in load_B, or a stale
    # variable): the launcher believes B runs, and B's selection writes A's device, which is `/`.
    factory(board, table=slot_table(board.devices(), sources="cmdline:rauc.slot"))
    for slot in SLOTS:
        with board.mounted(slot) as dev:
            dev.write(CMDLINE_FILE, f"root={board.slots['A'].loop} rootwait rauc.slot=B\n")
            topology = dev.path("/etc/default/swupdate")
            topology.write_text(topology.read_text() + f"SWUPDATE_KERNEL_CMDLINE={CMDLINE_FILE}\n")
    swu = update(board, tmp_path)
    a = board.power_on()
    assert root_source(a) == board.slots["A"].loop
    before = board.env.all()
    a.write(UPDATE_FILE, swu.read_bytes())
    mark = a.cursor()
    assert a.start("swupdate.service").returncode != 0
    r = a.result("swupdate.service")
    assert (r["Result"], r["ExecMainStatus"]) == ("exit-code", "68"), \
        (r, a.unit_messages("swupdate.service", mark))
    assert board.env.all() == before
    board.power_off()
    assert (board.release_of("A"), board.release_of("B")) == (FACTORY_RELEASE, FACTORY_RELEASE)


# -- the bootloader model itself (no boot): what the tests above rely on --------------------

def test_bootloader_model_counts_only_while_an_upgrade_is_available_and_falls_back_past_bootlimit(
        tmp_path):
    (tmp_path / "env").mkdir()
    e = BootEnv(tmp_path / "env")
    e.create(FACTORY_ENV)
    uboot = UBoot(e)
    assert (uboot.choose().slot, e.get("bootcount")) == ("A", "0")  # not saved: no upgrade
    e.set(boot_part="B", upgrade_available="1", bootcount="0")
    choices = [uboot.choose() for _ in range(BOOTLIMIT + 2)]
    seen = [(c.slot, c.command, c.bootcount) for c in choices]
    assert seen == [*[("B", "bootcmd", n) for n in range(1, BOOTLIMIT + 1)],
                    ("A", "altbootcmd", BOOTLIMIT + 1), ("A", "altbootcmd", BOOTLIMIT + 2)]
    assert (e.get("boot_part"), e.get("bootcount")) == ("B", str(BOOTLIMIT + 2))
