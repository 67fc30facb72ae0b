"""The systemd units and the udev rule in systemd/.

Three kinds of test:

- systemd's own verifier (`systemd-analyze verify`) on every unit, in a temporary root with stub
  targets and an executable stub at every Exec*= path; the template is verified as instances.
  Parse warnings (an unknown key, a bad Type=) keep exit status 0 and only print, so any output
  is a failure too.
- udev's own parser (`udevadm test`) on the rule, and, where a loop device can be attached, the
  rule's decisions on a real block device with a real filesystem (blkid builtin included).
- systemd-tmpfiles on the tmpfiles.d snippet, in a temporary root.
- the properties the design depends on, read from the unit files (see systemd/README.md for the
  reasons): each check returns its problems, and every check is also run on a broken copy of the
  unit to prove that it can fail.

Tests that need root (udevadm test, loop devices, tmpfiles ownership) skip with a message
otherwise; CI runs as root.
"""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
UNIT_DIR = REPO / "systemd"

LAUNCHER = "/usr/bin/swupdate-launcher"
ENV_FILE = "-/etc/default/swupdate"

OTA = "swupdate.service"
DAEMON = "swupdate-daemon.service"
SOCKET = "swupdate-daemon.socket"
LOCAL = "swupdate-local@.service"
CONFIRM = "swupdate-confirm.service"
RULES = "90-swupdate-local.rules"
TMPFILES = "tmpfiles-swupdate-launcher.conf"
# Drop-in for swupdate-daemon.socket on releases that bind their sockets in /tmp (2022.12).
SOCKET_PATHS_TMP = "socket-paths-tmp.conf"
UNITS = (OTA, DAEMON, SOCKET, LOCAL, CONFIRM)
# Instances the template is verified as: a USB partition and an SD card partition.
LOCAL_INSTANCES = ("swupdate-local@sda1.service", "swupdate-local@mmcblk1p1.service")

MEDIUM_DIR = "/run/swupdate-local/%i"
MEDIUM_DEVICE = "/dev/%I"
MEDIUM_DEVICE_UNIT = "dev-%i.device"
REQUIRED_MOUNT_OPTIONS = {"ro", "nosuid", "nodev", "noexec"}
# What swupdate appends to $RUNTIME_DIRECTORY for its control and progress sockets.
SWUPDATE_SOCKET_NAMES = {"sockinstctrl", "swupdateprog"}

# Targets that every unit with default dependencies pulls in; the verifier wants them present.
STUB_TARGETS = ("sysinit", "basic", "shutdown", "sockets", "multi-user", "boot-complete")
EXEC_KEYS = (
    "ExecCondition",
    "ExecStartPre",
    "ExecStart",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
)


# --------------------------------------------------------------------------------------------
# A small reader for unit files (systemd.syntax(7)): sections, "Key=value", comments with # or ;,
# backslash-newline continuation, repeated keys kept in order.


@dataclass
class Entry:
    section: str
    key: str
    value: str
    line: int


@dataclass
class Unit:
    name: str
    entries: list[Entry] = field(default_factory=list)

    @classmethod
    def parse(cls, name: str, text: str) -> Unit:
        unit = cls(name)
        section = None
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            lineno = i + 1
            line = lines[i].strip()
            i += 1
            if not line or line[0] in "#;":
                continue
            while line.endswith("\\"):
                line = line[:-1] + " "
                # Comment lines inside a continuation are skipped, as systemd does.
                while i < len(lines) and lines[i].strip()[:1] in ("#", ";"):
                    i += 1
                if i < len(lines):
                    line += lines[i].strip()
                    i += 1
            if line.startswith("["):
                if not line.endswith("]"):
                    raise ValueError(f"{name}:{lineno}: bad section header {line!r}")
                section = line[1:-1]
                continue
            if section is None:
                raise ValueError(f"{name}:{lineno}: assignment outside a section")
            if "=" not in line:
                raise ValueError(f"{name}:{lineno}: not an assignment: {line!r}")
            key, value = line.split("=", 1)
            unit.entries.append(Entry(section, key.strip(), value.strip(), lineno))
        return unit

    @property
    def sections(self) -> set[str]:
        return {e.section for e in self.entries}

    def values(self, section: str, key: str) -> list[str]:
        """Every value in order; an empty assignment resets the list, as for systemd's lists."""
        out: list[str] = []
        for e in self.entries:
            if e.section == section and e.key == key:
                if e.value == "":
                    out = []
                else:
                    out.append(e.value)
        return out

    def value(self, section: str, key: str) -> str | None:
        vals = [e.value for e in self.entries if e.section == section and e.key == key]
        return vals[-1] if vals else None

    def words(self, section: str, key: str) -> list[str]:
        return [w for v in self.values(section, key) for w in v.split()]

    def keys(self, section: str) -> list[str]:
        return [e.key for e in self.entries if e.section == section]


def read_unit(name: str, text: str | None = None) -> Unit:
    if text is None:
        text = (UNIT_DIR / name).read_text(encoding="utf-8")
    return Unit.parse(name, text)


@dataclass
class Command:
    prefix: str
    argv: list[str]

    @property
    def program(self) -> str:
        return self.argv[0] if self.argv else ""


def parse_exec(value: str) -> Command:
    """One Exec*= line: the special prefixes (-, @, :, +, !), then the command line."""
    m = re.match(r"[-@:+!]*", value)
    prefix = m.group(0)
    return Command(prefix, shlex.split(value[len(prefix) :]))


def commands(unit: Unit, key: str) -> list[Command]:
    return [parse_exec(v) for v in unit.values("Service", key)]


def effective_start_timeout(unit: Unit) -> str | None:
    """TimeoutSec= sets both timeouts: the last of TimeoutStartSec=/TimeoutSec= wins."""
    out = None
    for e in unit.entries:
        if e.section == "Service" and e.key in ("TimeoutStartSec", "TimeoutSec"):
            out = e.value
    return out


# --------------------------------------------------------------------------------------------
# Property checks. Each returns a list of problems; empty means the unit is as designed.


def install_problems(unit: Unit) -> list[str]:
    """A unit that runs an install must never start by itself (boot, enable)."""
    if "Install" in unit.sections:
        return [f"{unit.name}: has an [Install] section; an install must only start on request"]
    return []


def launcher_service_problems(unit: Unit, type_: str) -> list[str]:
    p = []
    s = "Service"
    if unit.value(s, "Type") != type_:
        p.append(f"{unit.name}: Type={unit.value(s, 'Type')}, expected {type_}")
    if unit.value(s, "KillMode") != "mixed":
        p.append(f"{unit.name}: KillMode={unit.value(s, 'KillMode')}, expected mixed")
    if unit.value(s, "NotifyAccess") != "main":
        p.append(f"{unit.name}: NotifyAccess={unit.value(s, 'NotifyAccess')}, expected main")
    if unit.values(s, "EnvironmentFile") != [ENV_FILE]:
        p.append(f"{unit.name}: EnvironmentFile={unit.values(s, 'EnvironmentFile')}, expected [{ENV_FILE}]")
    if unit.value(s, "IgnoreSIGPIPE") is not None:
        p.append(f"{unit.name}: IgnoreSIGPIPE= is set; it is meant to stay at its default")
    # RUNTIME_DIRECTORY tells swupdate where its sockets go; several directories would be joined
    # with ":" into one variable that swupdate takes as one path.
    if unit.words(s, "RuntimeDirectory") != ["swupdate"]:
        p.append(f"{unit.name}: RuntimeDirectory={unit.words(s, 'RuntimeDirectory')}, expected exactly swupdate")
    if unit.value(s, "RuntimeDirectoryPreserve") != "yes":
        p.append(f"{unit.name}: RuntimeDirectoryPreserve is not yes (would delete the socket unit's sockets)")
    starts = commands(unit, "ExecStart")
    if len(starts) != 1:
        p.append(f"{unit.name}: {len(starts)} ExecStart= lines, expected 1")
    for c in starts:
        if c.program != LAUNCHER:
            p.append(f"{unit.name}: ExecStart runs {c.program!r}, not the launcher directly (no shell)")
        if c.prefix:
            p.append(f"{unit.name}: ExecStart has prefix {c.prefix!r}; a failure must fail the unit")
    return p


def oneshot_problems(unit: Unit) -> list[str]:
    """What swupdate.service and swupdate-local@.service share."""
    p = launcher_service_problems(unit, "oneshot")
    timeout = effective_start_timeout(unit)
    if timeout not in ("infinity", "0"):
        p.append(f"{unit.name}: start timeout is {timeout!r}; an install must never be killed for time")
    if unit.value("Service", "Restart") not in (None, "no"):
        p.append(f"{unit.name}: Restart={unit.value('Service', 'Restart')}; a failed update is not retried")
    for key in unit.keys("Unit"):
        if key.startswith(("ConditionPath", "AssertPath", "ConditionFile", "ConditionDirectory")):
            p.append(f"{unit.name}: {key}= would skip a missing input silently")
    conflicts = unit.words("Unit", "Conflicts")
    after = unit.words("Unit", "After")
    for other in (DAEMON, SOCKET):
        if other not in conflicts:
            p.append(f"{unit.name}: does not conflict with {other}")
        if other not in after:
            p.append(f"{unit.name}: not ordered after {other} (the daemon's stop must finish first)")
    for other in conflicts:
        if other == OTA or other.startswith("swupdate-local@"):
            p.append(f"{unit.name}: conflicts with {other}; that would kill a running install")
    p += install_problems(unit)
    return p


def ota_problems(unit: Unit) -> list[str]:
    p = oneshot_problems(unit)
    for c in commands(unit, "ExecStart"):
        if c.argv[1:] != ["--one-shot"]:
            p.append(
                f"{unit.name}: ExecStart passes {c.argv[1:]}, expected ['--one-shot']: the configuration "
                "says what to install, and a daemon configuration must be refused, not block start forever"
            )
    return p


def daemon_problems(unit: Unit) -> list[str]:
    p = launcher_service_problems(unit, "notify")
    if "multi-user.target" not in unit.words("Install", "WantedBy"):
        p.append(f"{unit.name}: not WantedBy=multi-user.target")
    for c in commands(unit, "ExecStart"):
        if c.argv[1:] != ["--daemon"]:
            p.append(
                f"{unit.name}: ExecStart passes {c.argv[1:]}, expected ['--daemon']: a leftover "
                "one-shot configuration must be refused, not installed at every boot"
            )
    return p


def confirm_problems(unit: Unit) -> list[str]:
    """Once per boot, after the product's boot-complete checks, before swupdate reads ustate."""
    p = []
    n = unit.name
    s = "Service"
    for key, want in (("Type", "oneshot"), ("RemainAfterExit", "yes"), ("KillMode", "mixed"), ("NotifyAccess", "main")):
        if unit.value(s, key) != want:
            p.append(f"{n}: {key}={unit.value(s, key)}, expected {want}")
    if unit.values(s, "EnvironmentFile") != [ENV_FILE]:
        p.append(f"{n}: EnvironmentFile={unit.values(s, 'EnvironmentFile')}, expected [{ENV_FILE}]")
    starts = commands(unit, "ExecStart")
    if [(c.prefix, c.argv) for c in starts] != [("", [LAUNCHER, "confirm"])]:
        p.append(f"{n}: ExecStart={[(c.prefix, c.argv) for c in starts]}, expected the launcher's confirm, no prefix")
    timeout = effective_start_timeout(unit)
    if timeout not in ("infinity", "0"):
        p.append(f"{n}: start timeout is {timeout!r}: a kill midway leaves the checks' verdict unwritten; the launcher bounds each check")
    if unit.value(s, "Restart") not in (None, "no"):
        p.append(f"{n}: Restart={unit.value(s, 'Restart')}; a failed confirmation is the bootloader's to act on")
    for key in ("Requires", "After"):
        if "boot-complete.target" not in unit.words("Unit", key):
            p.append(f"{n}: not {key}=boot-complete.target (a product's check unit ordered before it must gate confirm)")
    before = unit.words("Unit", "Before")
    for other in (DAEMON, OTA):
        if other not in before:
            p.append(f"{n}: not Before={other}: swupdate must read ustate after confirm wrote it")
    if "multi-user.target" in unit.words("Unit", "After"):
        p.append(f"{n}: After=multi-user.target with Before={DAEMON}, which multi-user.target wants: an ordering cycle")
    if "multi-user.target" not in unit.words("Install", "WantedBy"):
        p.append(f"{n}: not WantedBy=multi-user.target")
    return p


def socket_problems(sock: Unit, daemon: Unit) -> list[str]:
    p = []
    if sock.name == "swupdate.socket":
        p.append("the socket is named swupdate.socket: it would activate the one-shot swupdate.service")
    service = sock.value("Socket", "Service") or sock.name.rsplit(".", 1)[0] + ".service"
    if service != daemon.name:
        p.append(f"{sock.name} activates {service}, not {daemon.name}")
    runtime = daemon.words("Service", "RuntimeDirectory")
    want = {f"/run/{d}/{n}" for d in runtime for n in SWUPDATE_SOCKET_NAMES}
    have = set(sock.values("Socket", "ListenStream"))
    if have != want:
        p.append(f"{sock.name}: ListenStream={sorted(have)}, swupdate computes {sorted(want)}")
    mode = sock.value("Socket", "SocketMode") or "0666"
    if int(mode, 8) & 0o007:
        p.append(f"{sock.name}: SocketMode={mode} lets every local user drive swupdate")
    if "sockets.target" not in sock.words("Install", "WantedBy"):
        p.append(f"{sock.name}: not WantedBy=sockets.target")
    return p


def mount_problems(c: Command) -> list[str]:
    p = []
    options: set[str] = set()
    positional: list[str] = []
    args = iter(c.argv[1:])
    for a in args:
        if a in ("-o", "--options"):
            options |= set(next(args, "").split(","))
        elif a.startswith("--options="):
            options |= set(a.split("=", 1)[1].split(","))
        elif a.startswith("-o") and len(a) > 2:
            options |= set(a[2:].split(","))
        elif a == "-t":
            next(args, None)
        elif a.startswith("-"):
            p.append(f"mount: unexpected option {a!r}")
        else:
            positional.append(a)
    missing = REQUIRED_MOUNT_OPTIONS - options
    if missing:
        p.append(f"mount options lack {sorted(missing)}")
    if "rw" in options:
        p.append("mount options say rw")
    if positional != [MEDIUM_DEVICE, MEDIUM_DIR]:
        p.append(f"mount {positional}, expected {[MEDIUM_DEVICE, MEDIUM_DIR]}")
    if "-" in c.prefix:
        p.append("a failed mount is ignored ('-' prefix): the launcher would search an empty directory")
    return p


def local_problems(unit: Unit) -> list[str]:
    p = oneshot_problems(unit)
    n = unit.name
    for c in commands(unit, "ExecStart"):
        if c.argv[1:] != ["--update-medium", MEDIUM_DIR]:
            p.append(f"{n}: ExecStart arguments {c.argv[1:]}, expected ['--update-medium', '{MEDIUM_DIR}']")
    pre = commands(unit, "ExecStartPre")
    mounts = [i for i, c in enumerate(pre) if c.program.endswith("/mount")]
    mkdirs = [i for i, c in enumerate(pre) if c.program.endswith("/mkdir") and MEDIUM_DIR in c.argv]
    if len(mounts) != 1:
        p.append(f"{n}: {len(mounts)} mount commands in ExecStartPre=, expected 1")
    else:
        p += [f"{n}: {msg}" for msg in mount_problems(pre[mounts[0]])]
        if not mkdirs or mkdirs[0] > mounts[0]:
            p.append(f"{n}: the mount point is not created before the mount")
    if any(c.program.endswith("/mount") for c in commands(unit, "ExecStart")):
        p.append(f"{n}: mounts in ExecStart=")
    post = commands(unit, "ExecStopPost")
    umounts = [i for i, c in enumerate(post) if c.program.endswith("/umount") and c.argv[-1:] == [MEDIUM_DIR]]
    if not umounts:
        p.append(f"{n}: no umount of {MEDIUM_DIR} in ExecStopPost= (the only hook that runs after failures)")
    for i in umounts:
        if "-" not in post[i].prefix:
            p.append(f"{n}: umount without '-': nothing mounted (failed mount) would fail the unit")
    for c in commands(unit, "ExecStop"):
        if c.program.endswith("/umount"):
            p.append(f"{n}: umount in ExecStop=, which does not run when the start fails")
    for i, c in enumerate(post):
        if c.program.endswith("/rm"):
            p.append(f"{n}: rm in ExecStopPost=; only rmdir, which never touches a still-mounted medium")
        if c.program.endswith("/rmdir") and (not umounts or i < umounts[0]):
            p.append(f"{n}: rmdir before the umount")
    if MEDIUM_DEVICE_UNIT not in unit.words("Unit", "BindsTo"):
        p.append(f"{n}: not BindsTo={MEDIUM_DEVICE_UNIT}: pulling the medium would not stop it")
    if MEDIUM_DEVICE_UNIT not in unit.words("Unit", "After"):
        p.append(f"{n}: not After={MEDIUM_DEVICE_UNIT}")
    return p


def rule_lines(text: str) -> list[str]:
    out, cur = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not cur and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            cur += line[:-1]
            continue
        out.append(cur + line)
        cur = ""
    return out


def rules_problems(text: str) -> list[str]:
    """The rule wants exactly the template, per kernel name, and adds to SYSTEMD_WANTS."""
    p = []
    lines = rule_lines(text)
    wants = re.findall(r'ENV\{SYSTEMD_WANTS\}\s*(\+?=)\s*"([^"]*)"', "\n".join(lines))
    if wants != [("+=", "swupdate-local@%k.service")]:
        p.append(f"SYSTEMD_WANTS assignments {wants}, expected one += of swupdate-local@%k.service")
    for unit in re.findall(r"[\w@.%-]+\.service", " ".join(v for _, v in wants)):
        template = re.sub(r"@[^.]*\.", "@.", unit)
        if not (UNIT_DIR / template).is_file():
            p.append(f"the rule wants {unit}, but systemd/{template} does not exist")
    if any(re.search(r"\bRUN(\{[^}]*\})?\s*\+?=", line) for line in lines):
        p.append("the rule runs a program; udev must only tag the device")
    return p


# --------------------------------------------------------------------------------------------
# systemd-analyze verify in a temporary root.


def tool(name: str) -> str:
    path = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin")
    if path is None:
        pytest.fail(f"{name} not found: install the Debian packages scripts/test lists (systemd, udev)")
    return path


def make_root(root: Path, units: dict[str, str], stubs: bool = True) -> Path:
    unit_dir = root / "usr/lib/systemd/system"
    unit_dir.mkdir(parents=True)
    for t in STUB_TARGETS:
        (unit_dir / f"{t}.target").write_text(f"[Unit]\nDescription=stub {t}\n")
    for name, text in units.items():
        (unit_dir / name).write_text(text)
        if not stubs:
            continue
        unit = Unit.parse(name, text)
        for key in EXEC_KEYS:
            for c in commands(unit, key):
                assert c.program.startswith("/"), f"{name}: {key}={c.program} is not an absolute path"
                stub = root / c.program.lstrip("/")
                stub.parent.mkdir(parents=True, exist_ok=True)
                stub.write_text("#!/bin/sh\nexit 0\n")
                stub.chmod(0o755)
    return root


def analyze_verify(root: Path, names: list[str]) -> tuple[int, str]:
    proc = subprocess.run(
        [tool("systemd-analyze"), "verify", "--man=no", "--generators=no", f"--root={root}", *names],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "LANG": "C.UTF-8", "SYSTEMD_LOG_COLOR": "0"},
        timeout=120,
    )
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def verify_problems(rc: int, output: str) -> list[str]:
    """Exit status and output: warnings such as an unknown key leave the status at 0."""
    p = []
    if rc != 0:
        p.append(f"systemd-analyze verify exited {rc}")
    if output:
        p.append(f"systemd-analyze verify printed:\n{output}")
    return p


def test_every_file_in_systemd_is_tested():
    files = {f.name for f in UNIT_DIR.iterdir() if f.is_file()} - {"README.md"}
    assert files == {*UNITS, RULES, TMPFILES, SOCKET_PATHS_TMP}, "a new file in systemd/ needs its tests here"


def all_units() -> dict[str, str]:
    return {n: (UNIT_DIR / n).read_text(encoding="utf-8") for n in UNITS}


@pytest.mark.parametrize("name", [OTA, DAEMON, SOCKET, CONFIRM, *LOCAL_INSTANCES])
def test_systemd_analyze_verify(tmp_path, name):
    root = make_root(tmp_path, all_units())
    assert verify_problems(*analyze_verify(root, [name])) == []


def test_systemd_analyze_verify_all_together(tmp_path):
    root = make_root(tmp_path, all_units())
    assert verify_problems(*analyze_verify(root, [OTA, DAEMON, SOCKET, CONFIRM, *LOCAL_INSTANCES])) == []


def test_systemd_analyze_verify_with_the_tmp_socket_paths_drop_in(tmp_path):
    root = make_root(tmp_path, all_units())
    dropin = root / "usr/lib/systemd/system" / f"{SOCKET}.d" / "paths.conf"
    dropin.parent.mkdir(parents=True)
    dropin.write_text((UNIT_DIR / SOCKET_PATHS_TMP).read_text(encoding="utf-8"))
    assert verify_problems(*analyze_verify(root, [SOCKET, DAEMON])) == []


def test_the_tmp_socket_paths_drop_in_replaces_every_listen_path_with_a_tmp_one():
    text = (UNIT_DIR / SOCKET_PATHS_TMP).read_text(encoding="utf-8")
    listens = [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("ListenStream=")]
    # An empty ListenStream= first clears the unit's /run/swupdate paths; then only /tmp paths.
    assert listens[0] == ""
    assert listens[1:] and all(p.startswith("/tmp/") for p in listens[1:])
    # (That these are the paths 2022.12 binds: tests/python/booted/test_daemon.py, booted.)


BAD_UNITS = {
    "unknown key": "[Service]\nType=oneshot\nExecStart=/usr/bin/swupdate-launcher\nTimeoutStartSecs=infinity\n",
    "bad Type=": "[Service]\nType=one-shot\nExecStart=/usr/bin/swupdate-launcher\n",
    "bad KillMode=": "[Service]\nType=oneshot\nKillMode=mix\nExecStart=/usr/bin/swupdate-launcher\n",
    "unknown section": "[Servcie]\nType=oneshot\n[Service]\nExecStart=/usr/bin/swupdate-launcher\n",
}


@pytest.mark.parametrize("what", sorted(BAD_UNITS))
def test_verify_harness_catches_a_bad_unit(tmp_path, what):
    root = make_root(tmp_path, {"bad.service": BAD_UNITS[what]})
    rc, output = analyze_verify(root, ["bad.service"])
    assert verify_problems(rc, output), f"a unit with {what} passed the harness"
    assert "bad.service" in output


def test_verify_harness_catches_a_missing_executable(tmp_path):
    root = make_root(tmp_path, all_units(), stubs=False)
    rc, output = analyze_verify(root, [OTA])
    assert verify_problems(rc, output)
    assert LAUNCHER in output


def test_verify_harness_catches_a_missing_unit(tmp_path):
    root = make_root(tmp_path, {OTA: (UNIT_DIR / OTA).read_text()})
    assert verify_problems(*analyze_verify(root, ["swupdate-locall@sda1.service"]))


# --------------------------------------------------------------------------------------------
# udevadm test.

UDEV_RULES_DIR = Path("/run/udev/rules.d")


def need_root_for(why: str):
    if os.geteuid() != 0:
        pytest.skip(f"needs root: {why} (CI runs as root)")


def need_root():
    need_root_for("udevadm test reads rules from /run/udev/rules.d")


@dataclass
class UdevRun:
    rc: int
    output: str
    rules_file: Path

    def problems(self) -> list[str]:
        """Every line that names our rules file, except udev saying that it read it."""
        path = str(self.rules_file)
        if f"Reading rules file: {path}" not in self.output:
            return [f"udevadm did not read {path}"]
        return [
            line
            for line in self.output.splitlines()
            if path in line and not line.startswith("Reading rules file:")
        ]

    def properties(self) -> dict[str, str]:
        props = {}
        for line in self.output.splitlines():
            m = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line)
            if m:
                props[m.group(1)] = m.group(2)
        return props

    def wants(self) -> list[str]:
        return self.properties().get("SYSTEMD_WANTS", "").split()


class UdevRules:
    """Install rules files under /run/udev/rules.d for one test, and remove them afterwards."""

    def __init__(self):
        self.tag = uuid.uuid4().hex[:8]
        self.files: list[Path] = []

    def add(self, name: str, text: str) -> Path:
        stem, ext = name.rsplit(".", 1)
        path = UDEV_RULES_DIR / f"{stem}-pytest-{self.tag}.{ext}"
        UDEV_RULES_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.files.append(path)
        return path

    def cleanup(self):
        for f in self.files:
            f.unlink(missing_ok=True)


@pytest.fixture
def udev_rules():
    """Rules files for one test. udevadm test reads every file in /run/udev/rules.d, so two test
    runs at once (two checkouts on one machine) would see each other's files: a lock serialises
    them."""
    need_root()
    UDEV_RULES_DIR.mkdir(parents=True, exist_ok=True)
    lock_dir = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")
    with open(lock_dir / "swupdate-launcher-pytest-udev.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rules = UdevRules()
        try:
            yield rules
        finally:
            rules.cleanup()


def udevadm_test(devpath: str, rules_file: Path, action: str = "add") -> UdevRun:
    proc = subprocess.run(
        [tool("udevadm"), "test", f"--action={action}", devpath],
        capture_output=True,
        text=True,
        env={**os.environ, "LANG": "C.UTF-8", "SYSTEMD_LOG_COLOR": "0"},
        timeout=120,
    )
    return UdevRun(proc.returncode, proc.stdout + proc.stderr, rules_file)


def test_udev_rule_parses_cleanly(udev_rules):
    path = udev_rules.add(RULES, (UNIT_DIR / RULES).read_text(encoding="utf-8"))
    run = udevadm_test("/sys/class/net/lo", path)
    assert run.problems() == [], run.output


BROKEN_RULES = {
    "unknown key": 'ACTION=="add", SUBSYSTEMZ=="block", ENV{SYSTEMD_WANTS}+="x.service"\n',
    "bad operator": 'ACTION="add", ENV{SYSTEMD_WANTS}+="x.service"\n',
    "goto without label": 'ACTION!="add", GOTO="nowhere"\n',
    "bad substitution": 'ACTION=="add", ENV{SYSTEMD_WANTS}+="x@%q.service"\n',
}


@pytest.mark.parametrize("what", sorted(BROKEN_RULES))
def test_udev_harness_catches_a_broken_rule(udev_rules, what):
    path = udev_rules.add("90-broken.rules", BROKEN_RULES[what])
    run = udevadm_test("/sys/class/net/lo", path)
    assert run.problems(), f"a rule with {what} passed the harness:\n{run.output}"


def test_udev_harness_notices_an_unread_rules_file(udev_rules):
    path = udev_rules.add(RULES, "")
    path.unlink()
    assert udevadm_test("/sys/class/net/lo", path).problems()


# The rule's decisions on a real block device: a loop device with a real filesystem, which the
# blkid builtin probes as it would a USB stick. A loop device is on no bus; an earlier rule
# (89-*, for this device only) plays the part of the USB properties.


@pytest.fixture
def loop_device(tmp_path, udev_rules):
    # Depends on udev_rules: set up after it (under its lock) and torn down before it.
    need_root()
    losetup = shutil.which("losetup", path="/usr/sbin:/sbin:/usr/bin:/bin")
    if losetup is None:
        pytest.skip("losetup not found (package mount)")

    created = []

    def attach(filesystem: bool) -> str:
        image = tmp_path / f"medium{len(created)}.img"
        with open(image, "wb") as f:
            f.truncate(8 * 1024 * 1024)
        if filesystem:
            mkfs = shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:/usr/bin:/bin")
            if mkfs is None:
                pytest.skip("mkfs.ext4 not found (package e2fsprogs)")
            subprocess.run([mkfs, "-q", "-F", str(image)], check=True, capture_output=True)
        proc = subprocess.run([losetup, "--find", "--show", str(image)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot attach a loop device here: {proc.stderr.strip()}")
        dev = proc.stdout.strip()
        created.append(dev)
        return Path(dev).name

    # udevadm test writes the udev database and /dev/disk symlinks for the device; a simulated
    # "remove" takes them away again, and directories that only the test created are removed.
    existed = {d: d.exists() for d in (Path("/dev/disk"), Path("/dev/block"))}
    yield attach
    for dev in created:
        subprocess.run(
            [tool("udevadm"), "test", "--action=remove", f"/sys/class/block/{Path(dev).name}"],
            capture_output=True,
        )
        subprocess.run([losetup, "-d", dev], capture_output=True)
    for d, was in existed.items():
        if not was and d.is_dir():
            for sub in sorted(d.rglob("*"), reverse=True):
                if sub.is_dir() and not any(sub.iterdir()):
                    sub.rmdir()
            if not any(d.iterdir()):
                d.rmdir()


def as_usb(name: str, extra: str = "") -> str:
    return f'SUBSYSTEM=="block", KERNEL=="{name}", ENV{{ID_BUS}}="usb"{extra}\n'


def local_rule(udev_rules) -> Path:
    return udev_rules.add(RULES, (UNIT_DIR / RULES).read_text(encoding="utf-8"))


def test_udev_rule_wants_the_template_for_a_usb_medium_with_a_filesystem(udev_rules, loop_device):
    name = loop_device(filesystem=True)
    udev_rules.add("89-usb.rules", as_usb(name))
    run = udevadm_test(f"/sys/class/block/{name}", local_rule(udev_rules))
    assert run.problems() == [], run.output
    props = run.properties()
    assert props.get("ID_FS_USAGE") == "filesystem", run.output
    assert run.wants() == [f"swupdate-local@{name}.service"], run.output
    assert "systemd" in props.get("TAGS", "").split(":"), run.output


def test_udev_rule_ignores_a_medium_off_usb_and_sd(udev_rules, loop_device):
    name = loop_device(filesystem=True)
    run = udevadm_test(f"/sys/class/block/{name}", local_rule(udev_rules))
    assert run.problems() == [], run.output
    assert run.properties().get("ID_FS_USAGE") == "filesystem", run.output
    assert run.wants() == [], run.output


def test_udev_rule_ignores_a_medium_without_filesystem(udev_rules, loop_device):
    name = loop_device(filesystem=False)
    udev_rules.add("89-usb.rules", as_usb(name))
    run = udevadm_test(f"/sys/class/block/{name}", local_rule(udev_rules))
    assert run.properties().get("ID_BUS") == "usb", run.output
    assert run.wants() == [], run.output


def test_udev_rule_honours_swupdate_local_ignore(udev_rules, loop_device):
    name = loop_device(filesystem=True)
    udev_rules.add("89-usb.rules", as_usb(name, ', ENV{SWUPDATE_LOCAL_IGNORE}="1"'))
    run = udevadm_test(f"/sys/class/block/{name}", local_rule(udev_rules))
    assert run.properties().get("ID_BUS") == "usb", run.output
    assert run.wants() == [], run.output


def test_udev_rule_ignores_change_events(udev_rules, loop_device):
    name = loop_device(filesystem=True)
    udev_rules.add("89-usb.rules", as_usb(name))
    run = udevadm_test(f"/sys/class/block/{name}", local_rule(udev_rules), action="change")
    assert run.properties().get("ID_BUS") == "usb", run.output
    assert run.wants() == [], run.output


# --------------------------------------------------------------------------------------------
# Properties, on the real files and on broken copies.


def test_ota_service_properties():
    assert ota_problems(read_unit(OTA)) == []


def test_local_template_properties():
    assert local_problems(read_unit(LOCAL)) == []


def test_daemon_service_properties():
    assert daemon_problems(read_unit(DAEMON)) == []


def test_daemon_socket_properties():
    assert socket_problems(read_unit(SOCKET), read_unit(DAEMON)) == []


def test_confirm_service_properties():
    assert confirm_problems(read_unit(CONFIRM)) == []


def test_udev_rule_properties():
    assert rules_problems((UNIT_DIR / RULES).read_text(encoding="utf-8")) == []


def mutate(text: str, line: str, replacement: str) -> str:
    """Replace one whole directive line (never a comment that happens to contain it)."""
    new, n = re.subn(rf"^{re.escape(line)}$", lambda _: replacement, text, count=1, flags=re.M)
    assert n == 1, f"{line!r} is not a line of the unit"
    return new


LAUNCH = f"ExecStart={LAUNCHER} --one-shot"
OTA_MUTATIONS = [
    (LAUNCH, f"ExecStart={LAUNCHER}"),
    (LAUNCH, f"ExecStart={LAUNCHER} --daemon"),
    ("Type=oneshot", "Type=notify"),
    ("Type=oneshot", "Type=exec"),
    ("TimeoutStartSec=infinity", "TimeoutStartSec=90s"),
    ("TimeoutStartSec=infinity", "TimeoutStartSec=infinity\nTimeoutSec=30min"),
    ("KillMode=mixed", "KillMode=control-group"),
    ("NotifyAccess=main", "NotifyAccess=none"),
    ("EnvironmentFile=-/etc/default/swupdate", "EnvironmentFile=/etc/default/swupdate"),
    ("EnvironmentFile=-/etc/default/swupdate", "EnvironmentFile=-/etc/swupdate.env"),
    (LAUNCH, f"ExecStart=/bin/sh -c '{LAUNCHER} --one-shot'"),
    (LAUNCH, f"ExecStart=-{LAUNCHER} --one-shot"),
    (LAUNCH, f"{LAUNCH} --update-file /data/update.swu"),
    (LAUNCH, f"{LAUNCH}\nRestart=on-failure"),
    (LAUNCH, f"{LAUNCH}\nIgnoreSIGPIPE=no"),
    ("RuntimeDirectoryPreserve=yes", "RuntimeDirectoryPreserve=yes\n[Install]\nWantedBy=multi-user.target"),
    ("RuntimeDirectory=swupdate", "RuntimeDirectory=swupdate swupdate-ota"),
    ("RuntimeDirectoryPreserve=yes", "RuntimeDirectoryPreserve=no"),
    ("Conflicts=swupdate-daemon.service swupdate-daemon.socket", "Conflicts=swupdate-daemon.service"),
    ("After=swupdate-daemon.service swupdate-daemon.socket", "After=swupdate-daemon.socket"),
    ("After=network-online.target", "After=network-online.target\nConditionPathExists=/etc/swupdate/conf.d/descriptor.env"),
    ("After=network-online.target", "After=network-online.target\nConflicts=swupdate-local@.service"),
    ("After=network-online.target", "After=network-online.target\nConflicts=swupdate-local@sda1.service"),
]


@pytest.mark.parametrize("line,replacement", OTA_MUTATIONS)
def test_ota_checks_catch(line, replacement):
    text = mutate((UNIT_DIR / OTA).read_text(encoding="utf-8"), line, replacement)
    assert ota_problems(read_unit(OTA, text))


MOUNT = "ExecStartPre=/bin/mount -o ro,nosuid,nodev,noexec /dev/%I /run/swupdate-local/%i"
MEDIUM_LAUNCH = f"ExecStart={LAUNCHER} --update-medium /run/swupdate-local/%i"
UMOUNT = "ExecStopPost=-/bin/umount -l /run/swupdate-local/%i"
LOCAL_MUTATIONS = [
    (MOUNT, MOUNT.replace("ro,nosuid,nodev,noexec", "ro,nosuid,nodev")),
    (MOUNT, MOUNT.replace("ro,nosuid,nodev,noexec", "nosuid,nodev,noexec")),
    (MOUNT, MOUNT.replace("ro,", "rw,")),
    (MOUNT, MOUNT.replace("ExecStartPre=", "ExecStartPre=-")),
    (MOUNT, MOUNT.replace("/run/swupdate-local/%i", "/mnt")),
    (MOUNT, MOUNT.replace("/dev/%I", "/dev/sda1")),
    (MOUNT, ""),
    ("ExecStartPre=/bin/mkdir -p /run/swupdate-local/%i", ""),
    (MEDIUM_LAUNCH, MEDIUM_LAUNCH.replace("/run/swupdate-local/%i", "/mnt")),
    (MEDIUM_LAUNCH, f"ExecStart={LAUNCHER} --update-file /run/swupdate-local/%i/update.swu"),
    (MEDIUM_LAUNCH, f"ExecStart=/bin/sh -c '{LAUNCHER} --update-medium /run/swupdate-local/%i'"),
    (UMOUNT, ""),
    (UMOUNT, UMOUNT.replace("ExecStopPost=-", "ExecStopPost=")),
    (UMOUNT, UMOUNT.replace("ExecStopPost=", "ExecStop=")),
    ("ExecStopPost=-/bin/rmdir /run/swupdate-local/%i", "ExecStopPost=-/bin/rm -rf /run/swupdate-local/%i"),
    ("BindsTo=dev-%i.device", "Wants=dev-%i.device"),
    ("After=dev-%i.device", ""),
    ("TimeoutStartSec=infinity", "TimeoutStartSec=15min"),
    ("Type=oneshot", "Type=simple"),
    ("KillMode=mixed", "KillMode=process"),
    ("NotifyAccess=main", "NotifyAccess=all"),
    ("RuntimeDirectory=swupdate", "RuntimeDirectory=swupdate swupdate-local/%i"),
    ("Conflicts=swupdate-daemon.service swupdate-daemon.socket", "Conflicts=swupdate.service swupdate-daemon.service swupdate-daemon.socket"),
    ("Conflicts=swupdate-daemon.service swupdate-daemon.socket", ""),
]


@pytest.mark.parametrize("line,replacement", LOCAL_MUTATIONS)
def test_local_checks_catch(line, replacement):
    text = mutate((UNIT_DIR / LOCAL).read_text(encoding="utf-8"), line, replacement)
    assert local_problems(read_unit(LOCAL, text))


DAEMON_LAUNCH = f"ExecStart={LAUNCHER} --daemon"
DAEMON_MUTATIONS = [
    ("Type=notify", "Type=oneshot"),
    ("KillMode=mixed", "KillMode=control-group"),
    ("NotifyAccess=main", "NotifyAccess=all"),
    ("RuntimeDirectory=swupdate", "RuntimeDirectory=swupdate-daemon"),
    ("RuntimeDirectoryPreserve=yes", "RuntimeDirectoryPreserve=restart"),
    ("WantedBy=multi-user.target", "WantedBy=sockets.target"),
    (DAEMON_LAUNCH, "ExecStart=/usr/lib/swupdate/swupdate.sh"),
    (DAEMON_LAUNCH, f"ExecStart={LAUNCHER}"),
    (DAEMON_LAUNCH, f"ExecStart={LAUNCHER} --one-shot"),
]


@pytest.mark.parametrize("line,replacement", DAEMON_MUTATIONS)
def test_daemon_checks_catch(line, replacement):
    text = mutate((UNIT_DIR / DAEMON).read_text(encoding="utf-8"), line, replacement)
    assert daemon_problems(read_unit(DAEMON, text))


CONFIRM_LAUNCH = f"ExecStart={LAUNCHER} confirm"
CONFIRM_MUTATIONS = [
    ("Type=oneshot", "Type=simple"),
    ("RemainAfterExit=yes", "RemainAfterExit=no"),
    ("TimeoutStartSec=infinity", "TimeoutStartSec=90s"),
    ("KillMode=mixed", "KillMode=process"),
    ("NotifyAccess=main", ""),
    ("EnvironmentFile=-/etc/default/swupdate", "EnvironmentFile=/etc/default/swupdate"),
    (CONFIRM_LAUNCH, f"ExecStart=-{LAUNCHER} confirm"),
    (CONFIRM_LAUNCH, f"ExecStart={LAUNCHER} check"),
    (CONFIRM_LAUNCH, f"ExecStart=/bin/sh -c '{LAUNCHER} confirm'"),
    (CONFIRM_LAUNCH, f"{CONFIRM_LAUNCH}\nRestart=on-failure"),
    ("Requires=boot-complete.target", "Wants=boot-complete.target"),
    ("After=boot-complete.target", "After=multi-user.target"),
    ("Before=swupdate-daemon.service swupdate.service", "Before=swupdate.service"),
    ("Before=swupdate-daemon.service swupdate.service", "Before=swupdate-daemon.service"),
    ("WantedBy=multi-user.target", "WantedBy=default.target"),
]


@pytest.mark.parametrize("line,replacement", CONFIRM_MUTATIONS)
def test_confirm_checks_catch(line, replacement):
    text = mutate((UNIT_DIR / CONFIRM).read_text(encoding="utf-8"), line, replacement)
    assert confirm_problems(read_unit(CONFIRM, text))


SOCKET_MUTATIONS = [
    ("ListenStream=/run/swupdate/sockinstctrl", "ListenStream=/tmp/sockinstctrl"),
    ("ListenStream=/run/swupdate/swupdateprog", ""),
    ("SocketMode=0600", "SocketMode=0666"),
    ("SocketMode=0600", ""),
    ("Service=swupdate-daemon.service", "Service=swupdate.service"),
    ("WantedBy=sockets.target", "WantedBy=multi-user.target"),
]


@pytest.mark.parametrize("line,replacement", SOCKET_MUTATIONS)
def test_socket_checks_catch(line, replacement):
    text = mutate((UNIT_DIR / SOCKET).read_text(encoding="utf-8"), line, replacement)
    assert socket_problems(read_unit(SOCKET, text), read_unit(DAEMON))


def test_socket_checks_follow_the_daemon_runtime_directory():
    daemon = mutate((UNIT_DIR / DAEMON).read_text(encoding="utf-8"), "RuntimeDirectory=swupdate", "RuntimeDirectory=swu")
    assert socket_problems(read_unit(SOCKET), read_unit(DAEMON, daemon))


def test_socket_checks_refuse_the_name_swupdate_socket():
    sock = (UNIT_DIR / SOCKET).read_text(encoding="utf-8")
    assert socket_problems(read_unit("swupdate.socket", sock.replace("Service=swupdate-daemon.service", "")), read_unit(DAEMON))


RULE_WANTS = 'TAG+="systemd", ENV{SYSTEMD_WANTS}+="swupdate-local@%k.service"'
RULE_MUTATIONS = [
    (RULE_WANTS, 'TAG+="systemd", ENV{SYSTEMD_WANTS}="swupdate-local@%k.service"'),
    (RULE_WANTS, RULE_WANTS.replace("swupdate-local@", "swupdate-usb@")),
    (RULE_WANTS, RULE_WANTS.replace("%k", "%n")),
    (RULE_WANTS, RULE_WANTS + ', RUN+="/usr/bin/swupdate-launcher --update-medium /media"'),
]


@pytest.mark.parametrize("line,replacement", RULE_MUTATIONS)
def test_rule_checks_catch(line, replacement):
    text = mutate((UNIT_DIR / RULES).read_text(encoding="utf-8"), line, replacement)
    assert rules_problems(text)


# --------------------------------------------------------------------------------------------
# tmpfiles.d: /run/swupdate exists from boot on, so that IPC clients compute the same socket path.


def tmpfiles_create(root: Path, conf: Path) -> tuple[int, str]:
    proc = subprocess.run(
        [tool("systemd-tmpfiles"), "--create", f"--root={root}", str(conf)],
        capture_output=True,
        text=True,
        env={**os.environ, "LANG": "C.UTF-8", "SYSTEMD_LOG_COLOR": "0"},
        timeout=60,
    )
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def test_tmpfiles_creates_the_runtime_directory(tmp_path):
    need_root_for("systemd-tmpfiles gives the directory to root")
    rc, output = tmpfiles_create(tmp_path, UNIT_DIR / TMPFILES)
    assert (rc, output) == (0, "")
    made = tmp_path / "run/swupdate"
    assert made.is_dir()
    assert made.stat().st_mode & 0o7777 == 0o755
    assert made.stat().st_uid == 0


def test_tmpfiles_harness_catches_a_bad_line(tmp_path):
    need_root_for("systemd-tmpfiles gives the directory to root")
    bad = tmp_path / "bad.conf"
    bad.write_text("d /run/swupdate 0755 nosuchuser root -\nq\n")
    rc, output = tmpfiles_create(tmp_path / "root", bad)
    assert rc != 0 or output


def test_tmpfiles_directory_is_every_units_runtime_directory():
    lines = [
        line.split()
        for line in (UNIT_DIR / TMPFILES).read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    made = {f[1] for f in lines if f[0] == "d"}
    wanted = {f"/run/{d}" for n in (OTA, DAEMON, LOCAL) for d in read_unit(n).words("Service", "RuntimeDirectory")}
    assert made == wanted == {"/run/swupdate"}
    for f in lines:
        assert f[0] == "d" and f[2] == "0755", f"{f}: the directory only, with RuntimeDirectoryMode='s default"


# --------------------------------------------------------------------------------------------
# The unit reader itself.


def test_reader_continuation_sections_and_resets():
    unit = Unit.parse(
        "x.service",
        "# c\n[Unit]\nAfter=a.service \\\n# inside\n  b.service\n[Service]\nExecStartPre=/bin/true\n"
        "ExecStartPre=\nExecStartPre=-/bin/false x\n; c\n",
    )
    assert unit.words("Unit", "After") == ["a.service", "b.service"]
    assert [(c.prefix, c.argv) for c in commands(unit, "ExecStartPre")] == [("-", ["/bin/false", "x"])]
    assert unit.value("Service", "Type") is None


@pytest.mark.parametrize("text", ["Type=oneshot\n", "[Service]\nType oneshot\n", "[Service\nType=oneshot\n"])
def test_reader_refuses_what_systemd_would_not_read(text):
    with pytest.raises(ValueError):
        Unit.parse("x.service", text)


# --------------------------------------------------------------------------------------------
# The launcher options the units pass exist (only when a launcher binary has been built).


def built_launcher() -> Path | None:
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    for profile in ("debug", "release"):
        exe = target / profile / "swupdate-launcher"
        if exe.is_file() and os.access(exe, os.X_OK):
            return exe
    return None


def test_units_pass_only_options_the_launcher_has():
    exe = built_launcher()
    if exe is None:
        pytest.skip("no built swupdate-launcher under target/ (cargo build)")
    help_text = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=30).stdout
    used = set()
    for name in UNITS:
        for key in EXEC_KEYS:
            for c in commands(read_unit(name), key):
                if c.program == LAUNCHER:
                    used |= {a.split("=", 1)[0] for a in c.argv[1:] if a.startswith("--")}
    missing = sorted(o for o in used if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", help_text))
    assert missing == [], f"{exe} --help does not list {missing}"
