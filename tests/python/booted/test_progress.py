"""swupdate-progress, as meta-tolomeo-rust keeps it: its own swupdate-progress.service, started
at boot (-w: wait for swupdate's progress socket, reconnect after every install), ordered before
the one-shot swupdate.service. It must report the progress of the install it belongs to.

The unit is the layer's files/swupdate-progress.service (@BINDIR@ and @SWUPDATE_PROGRESS_ARGS@
filled in as the bbappend does, with the layer's default "-w"). The unit carries
RuntimeDirectory=swupdate and RuntimeDirectoryPreserve=yes because 2024.12 needs them (found
here): that release's client library looks for the progress socket in $RUNTIME_DIRECTORY, then
$TMPDIR, then /tmp, while swupdate under swupdate.service binds it in its $RUNTIME_DIRECTORY,
/run/swupdate; without the directory setting the reporter waits on /tmp for ever and reports
nothing (Debian's trixie unit has the same two lines for this reason).
2022.12 uses /tmp on both sides; 2026.05 also finds /run/swupdate by itself.
"""

from __future__ import annotations

from support.container import REPO
from support.device import TARGET, UNIT_DIR, download_device, handoff, url
from support.swu import build_swu

LAYER_UNIT = REPO / "meta-tolomeo-rust/recipes-support/swupdate/files/swupdate-progress.service"


def progress_unit() -> str:
    return LAYER_UNIT.read_text().replace("@BINDIR@", "/usr/bin").replace("@SWUPDATE_PROGRESS_ARGS@", "-w")


def test_progress_reporter_from_boot_reports_the_ota_install(make_device, pkis, tmp_path,
                                                             compat):
    def setup(dev):
        dev.write(f"{UNIT_DIR}/swupdate-progress.service", progress_unit())
        wants = dev.path("/etc/systemd/system/multi-user.target.wants")
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "swupdate-progress.service").unlink(missing_ok=True)
        (wants / "swupdate-progress.service").symlink_to(f"{UNIT_DIR}/swupdate-progress.service")
    # An install of some seconds (a throttled download), as on a device: -w polls for the
    # socket, and an install shorter than its polling interval can pass unseen.
    dev = download_device(make_device, rate=250_000, also=setup)
    assert dev.show("swupdate-progress.service", "ActiveState")["ActiveState"] == "active"
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    dev.write("/srv/www/update.swu", swu.path.read_bytes())
    handoff(dev, url())
    mark = dev.cursor()
    assert dev.start().returncode == 0
    assert dev.target() == swu.image
    # The reporter saw this install: its one image, up to 100 %. 2022.12's reporter prints its
    # bar with printf and no fflush, so under systemd (stdout is a pipe: block-buffered) the bar
    # reaches the journal only in 4 KiB chunks; what it flushes at once is the install's start.
    def reported():
        log = dev.unit_messages("swupdate-progress.service", mark)
        if dev.release == "bookworm":
            return "Update started" in log
        return "image.bin" in log and "100%" in log
    try:
        dev.wait_for(reported, timeout=20, what="swupdate-progress reporting the install")
    except TimeoutError:
        raise AssertionError(dev.unit_messages("swupdate-progress.service", mark)[-3000:])
    # -w: still there for the next install.
    assert dev.show("swupdate-progress.service", "ActiveState")["ActiveState"] == "active"
    compat(dev.release, "progress", "start only (bar block-buffered)" if dev.release == "bookworm"
           else "yes (with RuntimeDirectory=swupdate in its unit)" if dev.release == "trixie"
           else "yes")
