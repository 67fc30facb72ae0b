"""The booted compatibility table (swupdate release x behaviour), filled by the booted tier's
tests as they observe each behaviour, written at the end of the run. A behaviour a test did not
reach (it failed first, or was deselected) shows as "not observed", so the committed table equals
the written one only after a full, passing run."""

from __future__ import annotations

from pathlib import Path

from support.device import RELEASES, SWUPDATE_RELEASE, SYSTEMD_RELEASE

# Row order and wording of the table; the tests record under these keys.
FEATURES = {
    "file": "file mode: `systemctl start swupdate.service` installs a signed .swu",
    "download": "download mode: swupdate's downloader streams `URL` (plain launcher)",
    "download-streaming": "download mode with the launcher's preflight (`streaming` build)",
    "failures": "tampered image, wrong key, 404 (1 / 85), broken fragment (65), missing UPDATE_FILE (66)",
    "no-secret": "download URL's password and token in the journal (`journalctl -o json`)",
    "digest-provider": "what verifies a CMS-signed .swu",
    "ready": "READY=1 from swupdate (`Type=notify` daemon unit becomes active)",
    "socket-paths": "where swupdate computes its IPC sockets (daemon unit)",
    "socket-activation": "takes swupdate-daemon.socket's descriptors (with the paths above)",
    "conflicts": "OTA install stops daemon and socket; daemon start stops an install",
    "stop": "`systemctl stop` mid-install leaves no process (KillMode=mixed)",
    "local": "swupdate-local@ from a loop-device medium (ro,nosuid,nodev,noexec)",
    "lock": "local install while an OTA install runs: 75",
    "progress": "swupdate-progress (from boot, -w) reports the install it belongs to",
    "envfile": "EnvironmentFile parser = this systemd's, for every case of the parser",
    "examples": "conf.d-examples file, download and daemon booted as on a device",
}

# The failure scenarios the "failures" row stands for.
FAILURES = {"tampered", "wrong key", "404 plain", "404 streaming", "broken fragment",
            "missing file"}

_results: dict[str, dict[str, str]] = {}
_parts: dict[tuple[str, str], set[str]] = {}


class Recorder:
    def __call__(self, release: str, feature: str, value: str = "yes") -> None:
        assert feature in FEATURES, feature
        _results.setdefault(feature, {})[release] = value

    def part(self, release: str, feature: str, part: str, parts: set[str],
             value: str = "yes") -> None:
        """Records `feature` once every one of `parts` has been seen on `release`."""
        seen = _parts.setdefault((release, feature), set())
        seen.add(part)
        if seen >= parts:
            self(release, feature, value)

    @staticmethod
    def render() -> str:
        head = ["behaviour"] + [
            f"{r}: swupdate {SWUPDATE_RELEASE[r]}, systemd {SYSTEMD_RELEASE[r]}" for r in RELEASES]
        rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for key, text in FEATURES.items():
            cells = [_results.get(key, {}).get(r, "not observed") for r in RELEASES]
            rows.append("| " + " | ".join([text] + cells) + " |")
        return (
            "# Booted compatibility: the launcher and its units on real swupdate and systemd\n\n"
            "Written by `scripts/test-system` from what the booted tier (`tests/python/booted`)\n"
            "observed in Debian containers booted under systemd-nspawn; the run fails when this\n"
            "file differs from what it saw. Do not edit by hand: run `scripts/test-system` and\n"
            "commit the file it writes (`SWUPDATE_LAUNCHER_COMPAT_OUT`).\n\n"
            + "\n".join(rows) + "\n")

    @staticmethod
    def write_all(path: Path) -> None:
        path.write_text(Recorder.render())
