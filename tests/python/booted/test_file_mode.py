"""File mode through `systemctl start swupdate.service`, as the management agent does it
(systemd/README.md): the result of the call, of `systemctl show`, and of the journal."""

from __future__ import annotations

from support.device import LIB_CONFD, ETC_CONFD, TARGET, UPDATE_FILE
from support.compat import FAILURES
from support.swu import build_swu


DIGEST = {
    "bookworm": "CMS, the build's one signature check: nothing to select",
    "trixie": "CMS, the build's one signature check: nothing to select",
    "sid": "opensslCMS, selected in /etc/swupdate.cfg `globals` (default RSA fails)",
}


def place(dev, swu_path):
    dev.write(UPDATE_FILE, swu_path.read_bytes())


def test_file_install_succeeds_and_start_returns_its_result(device, pkis, tmp_path, compat):
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    place(device, swu.path)
    mark = device.cursor()
    res = device.start()
    assert res.returncode == 0, res.stderr + device.unit_messages("swupdate.service", mark)
    assert device.target() == swu.image
    r = device.result()
    # After a success the unit is inactive (and, without references, unloaded: defaults).
    assert r["ActiveState"] == "inactive"
    assert r["Result"] == "success"
    assert r["ExecMainStatus"] == "0"
    entries = device.launcher_entries(mark)
    assert any(e.get("SWUPDATE_MODE") == "file" and e.get("SWUPDATE_UPDATE_FILE") == UPDATE_FILE
               for e in entries), entries
    assert all("SWUPDATE_LAUNCHER_VERSION" in e for e in entries)
    compat(device.release, "file")
    compat(device.release, "digest-provider", DIGEST[device.release])


def _failed(dev, status: str):
    r = dev.result()
    assert r["ActiveState"] == "failed", r
    assert r["Result"] == "exit-code", r
    assert r["ExecMainCode"] == "1", r
    assert r["ExecMainStatus"] == status, r
    return r


def test_tampered_image_fails_with_1_and_leaves_the_target(device, pkis, tmp_path, compat):
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)
    place(device, swu.tampered(tmp_path / "t.swu"))
    before = device.target()
    mark = device.cursor()
    assert device.start().returncode != 0
    r = _failed(device, "1")
    # The launcher's last word before the exec; swupdate's reason is in the journal.
    assert r["StatusText"].startswith("file mode: installing"), r
    assert device.target() == before
    log = device.unit_messages("swupdate.service", mark).lower()
    assert "hash" in log or "sha256" in log or "corrupt" in log, log
    compat.part(device.release, "failures", "tampered", FAILURES)


def test_image_signed_by_another_key_fails_with_1(device, pkis, tmp_path, compat):
    swu = build_swu(tmp_path / "u.swu", pkis["other"], TARGET)
    place(device, swu.path)
    before = device.target()
    mark = device.cursor()
    assert device.start().returncode != 0
    _failed(device, "1")
    assert device.target() == before
    log = device.unit_messages("swupdate.service", mark).lower()
    assert "signature" in log or "verif" in log, log
    compat.part(device.release, "failures", "wrong key", FAILURES)


def test_missing_update_file_is_66_with_the_path_in_status_and_journal(device, compat):
    mark = device.cursor()
    assert device.start().returncode != 0
    r = _failed(device, "66")
    assert r["StatusText"].startswith("not started:"), r
    assert UPDATE_FILE in r["StatusText"], r
    errors = [e for e in device.launcher_entries(mark) if e.get("EXIT_CODE") == "66"]
    assert errors, device.launcher_entries(mark)
    e = errors[0]
    assert e["PRIORITY"] == "3" and UPDATE_FILE in e["MESSAGE"], e
    assert e.get("SWUPDATE_LAUNCHER_VERSION"), e
    assert not device.pids_of("swupdate")
    compat.part(device.release, "failures", "missing file", FAILURES)


def test_broken_fragment_is_65_with_file_line_column(device, pkis, tmp_path, compat):
    place(device, build_swu(tmp_path / "u.swu", pkis["good"], TARGET).path)
    device.write(f"{ETC_CONFD}/50-local", "# a device-local fragment\nSWUPDATE_EXTRA_ARGS=$(reboot)\n")
    before = device.target()
    mark = device.cursor()
    assert device.start().returncode != 0
    r = _failed(device, "65")
    assert f"{ETC_CONFD}/50-local:2" in r["StatusText"], r
    errors = [e for e in device.launcher_entries(mark) if e.get("EXIT_CODE") == "65"]
    assert errors, device.launcher_entries(mark)
    e = errors[0]
    assert e["CONFIG_FILE"] == f"{ETC_CONFD}/50-local", e
    assert e["CONFIG_LINE"] == "2", e
    assert e["CONFIG_COLUMN"] == "21", e
    assert e.get("HINT"), e
    assert device.target() == before
    compat.part(device.release, "failures", "broken fragment", FAILURES)


def test_a_failed_unit_reads_this_run_and_the_next_start_resets_it(device, pkis, tmp_path):
    assert device.start().returncode != 0
    first = _failed(device, "66")
    place(device, build_swu(tmp_path / "u.swu", pkis["good"], TARGET).path)
    assert device.start().returncode == 0
    after = device.result()
    assert after["Result"] == "success" and after["ExecMainStatus"] == "0", after
    assert after["InvocationID"] != first["InvocationID"]
    assert LIB_CONFD  # (the layer's fragment selected file mode in both runs)
