"""Download mode through `systemctl start swupdate.service`: the agent writes descriptor.env
(hidden temp file, rename), starts the unit; swupdate's downloader (plain build) or the
launcher's preflight and then swupdate's downloader (streaming build) fetch the .swu from an
HTTP server on the device's loopback."""

from __future__ import annotations

import pytest

from support.device import ETC_CONFD, TARGET, PASSWORD, SECRETS, download_device, handoff, url
from support.compat import FAILURES
from support.swu import build_swu

# journald's trusted fields, read from /proc of the sender when the entry arrives: for a record the
# launcher sent just before its exec they can already describe swupdate (same PID).
PROCESS_FIELDS = ("_CMDLINE", "_EXE", "_COMM")


def secret_fields(entry: dict) -> set[str]:
    return {k for k, v in entry.items() if any(s in repr(v) for s in SECRETS)}


def assert_no_secret(dev, mark) -> str:
    """The launcher's records (every field it sends), the service manager's (every field) and
    StatusText carry no password and no token. Returns where swupdate's own lines expose them
    (its argv: `-d "-u URL -a user:password"` is readable in /proc/PID/cmdline, so journald copies
    it into _CMDLINE; with -v swupdate traces the URL), for the compatibility table: the launcher
    cannot redact another program's argv or log lines."""
    bad, swupdate_fields = [], set()
    for e in dev.journal(mark):
        leak = secret_fields(e)
        if not leak or e.get("_SYSTEMD_UNIT") == "httpd.service":
            continue  # (the test server's access log is the server's business)
        if e.get("_TRANSPORT") == "journal" and e.get("SYSLOG_IDENTIFIER") == "swupdate-launcher":
            if leak - set(PROCESS_FIELDS):
                bad.append(e)
        elif e.get("_PID") == "1" or e.get("_COMM") == "systemd":
            bad.append(e)
        elif e.get("_COMM") == "swupdate" or "swupdate" in e.get("_EXE", ""):
            swupdate_fields |= leak
        else:
            bad.append(e)
    assert not bad, [{k: e[k] for k in secret_fields(e)} for e in bad]
    status = dev.result()["StatusText"]
    assert not any(s in status for s in SECRETS), status
    return ", ".join(sorted(swupdate_fields)) or "none"


@pytest.mark.parametrize("variant", ["plain", "streaming"])
def test_download_installs_moves_the_descriptor_aside_and_a_restart_does_not_repeat(
        make_device, pkis, tmp_path, variant, compat):
    dev = download_device(make_device, variant)
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    dev.write("/srv/www/update.swu", swu.path.read_bytes())
    handoff(dev, url())
    mark = dev.cursor()
    res = dev.start()
    assert res.returncode == 0, dev.unit_messages("swupdate.service", mark)
    assert dev.target() == swu.image
    r = dev.result()
    assert (r["Result"], r["ExecMainStatus"]) == ("success", "0"), r
    assert not dev.path(f"{ETC_CONFD}/descriptor.env").exists()
    assert PASSWORD in dev.path(f"{ETC_CONFD}/.descriptor.env.last").read_text()
    entries = dev.launcher_entries(mark)
    modes = [e for e in entries if e.get("SWUPDATE_MODE") == "download"]
    assert modes, entries
    assert all("127.0.0.1:8000/update.swu" in e.get("SWUPDATE_URL", "") for e in modes), modes
    swupdate_leaks = assert_no_secret(dev, mark)

    # A restart (or a reboot in the middle) without a new handoff: refused, nothing installed.
    dev.prefill_target()
    before = dev.target()
    mark = dev.cursor()
    assert dev.start().returncode != 0
    r = dev.result()
    assert (r["Result"], r["ExecMainStatus"]) == ("exit-code", "65"), r
    assert "URL" in r["StatusText"], r
    assert dev.target() == before
    compat(dev.release, "download" if variant == "plain" else "download-streaming")
    if variant == "plain":
        # (Which of journald's fields carry swupdate's argv varies from run to run: _CMDLINE is
        # read from /proc when the entry arrives. The -v trace of the URL is always there.)
        compat(dev.release, "no-secret",
               "none from the launcher, the manager or StatusText; swupdate's own -v trace "
               "and argv (_CMDLINE) carry them" if "MESSAGE" in swupdate_leaks else "none")


@pytest.mark.parametrize("variant,code", [("plain", "1"), ("streaming", "85")])
def test_download_of_a_missing_artifact_fails_with_the_documented_code(
        make_device, variant, code, compat):
    dev = download_device(make_device, variant)
    handoff(dev, url("/gone.swu"))
    before = dev.target()
    mark = dev.cursor()
    assert dev.start().returncode != 0
    r = dev.result()
    assert (r["Result"], r["ExecMainCode"], r["ExecMainStatus"]) == ("exit-code", "1", code), r
    assert dev.target() == before
    if variant == "streaming":
        # The preflight's reason, in StatusText and as a structured journal record.
        assert r["StatusText"].startswith("not started:") and "404" in r["StatusText"], r
        errs = [e for e in dev.launcher_entries(mark) if e.get("EXIT_CODE") == "85"]
        assert errs and errs[0]["PRIORITY"] == "3", dev.launcher_entries(mark)
        assert not dev.pids_of("swupdate")
    else:
        # swupdate's downloader tried and said so.
        assert r["StatusText"].startswith("download mode"), r
        log = dev.unit_messages("swupdate.service", mark).lower()
        assert "404" in log or "download" in log, log
    assert_no_secret(dev, mark)
    compat.part(dev.release, "failures", f"404 {variant}", FAILURES)
