"""A booted Debian container provisioned like a device with the launcher: what the layer installs
(the launcher, the repository's systemd/ units, udev rule and tmpfiles.d file, the path topology
from meta-tolomeo-rust's swupdate.default, the conf.d fragment its flags write, the key), plus a
product fragment with the board's `-H`, and helpers to drive the agent protocol from outside.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

from support.container import REPO, Container
from support.swu import IMAGE_LEN, Pki

RELEASES = ("bookworm", "trixie", "sid")
# What each Debian release ships (checked in the roots: dpkg -l, systemctl --version).
SWUPDATE_RELEASE = {"bookworm": "2022.12", "trixie": "2024.12.1", "sid": "2026.05.1"}
SYSTEMD_RELEASE = {"bookworm": 252, "trixie": 257, "sid": 262}

BOARD = "testboard"
HW_REVISION = "1.0"
# The firmware release the device runs (VERSION_ID of its os-release): the launcher's
# anti-rollback passes it as -N, so the test .swu files (2.0.0) are newer.
RUNNING_VERSION = "1.0"
TARGET = "/var/lib/target.img"
UPDATE_FILE = "/var/lib/swupdate/update.swu"
PUBLIC_KEY = "/etc/swupdate/public.pem"
LIB_CONFD = "/usr/lib/swupdate/conf.d"
ETC_CONFD = "/etc/swupdate/conf.d"
UNIT_DIR = "/usr/lib/systemd/system"
# The repository's units, which the layer installs.
SYSTEMD_DIR = REPO / "systemd"

UNTOUCHED = b"untouched target "


def untouched(length: int) -> bytes:
    """What a target holds before an update: a pattern no test image contains."""
    return (UNTOUCHED * (length // len(UNTOUCHED) + 1))[:length]


def device_workdir() -> Path:
    """A fresh directory for one device, where the root cache is (the overlay's upper layer on
    the same file system), not /tmp."""
    base = Path(os.environ.get("SWUPDATE_LAUNCHER_CACHE",
                               Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                               / "swupdate-launcher")) / "devices"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=base))


# The release build with the `ab` feature (scripts/test-system and scripts/test-fleet build it):
# the launcher of the A/B devices (`Device.provision(variant="ab")`); the plain build refuses the
# A/B variables and `confirm`.
AB_LAUNCHER = Path(os.environ.get("SWUPDATE_LAUNCHER_AB",
                                  REPO / "target" / "ab" / "release" / "swupdate-launcher"))


def launcher_binaries() -> dict[str, Path]:
    """The release builds scripts/test-system made (plain, with the streaming feature, with the
    ab feature); a device installs them all and runs `variant`'s."""
    bins = {
        "plain": Path(os.environ.get("SWUPDATE_LAUNCHER_PLAIN",
                                     REPO / "target" / "release" / "swupdate-launcher")),
        "streaming": Path(os.environ.get(
            "SWUPDATE_LAUNCHER_STREAMING",
            REPO / "target" / "streaming" / "release" / "swupdate-launcher")),
        "ab": AB_LAUNCHER,
    }
    for name, path in bins.items():
        assert path.is_file(), (f"{path} missing: scripts/test-system builds the {name} launcher "
                                "(cargo build --release [--features streaming|ab]) before pytest")
    return bins


def layer_topology() -> str:
    """/etc/default/swupdate as the recipe's do_install writes it from files/swupdate.default."""
    text = (REPO / "meta-tolomeo-rust/recipes-support/swupdate-launcher/files/swupdate.default"
            ).read_text()
    for k, v in {"@BINDIR@": "/usr/bin", "@LIBDIR@": "/usr/lib", "@SYSCONFDIR@": "/etc",
                 "@PUBLIC_KEY@": PUBLIC_KEY}.items():
        text = text.replace(k, v)
    return text


def layer_source_fragment(source: str) -> str:
    """The recipe's 00-tolomeo-source for a SWUPDATE_SOURCE (file: update-ota / update-local;
    download: update-ota-streaming)."""
    lines = ["# Installed by swupdate-launcher (meta-tolomeo-rust) from DISTRO_FEATURES.",
             "# Override it with a fragment of the same name in /etc/swupdate/conf.d.",
             f"SWUPDATE_SOURCE={source}"]
    if source == "file":
        lines.append(f"UPDATE_FILE={UPDATE_FILE}")
    return "\n".join(lines) + "\n"


class Device(Container):
    """A booted device of one Debian release; provisioned on its copy of the root before boot."""

    # The regular file standing in for the partition an update writes.
    TARGET = TARGET

    def __init__(self, release: str, template: Path, workdir: Path, bins: dict[str, Path],
                 pki: Pki | None, **kw):
        super().__init__(template, workdir, **kw)
        self.release = release
        self.bins = bins
        self.pki = pki

    # -- provisioning (before boot, on the copy) --------------------------------------------
    def write(self, inside: str, data: bytes | str, mode: int = 0o644) -> Path:
        p = self.path(inside)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.is_symlink():
            p.unlink()
        if isinstance(data, str):
            data = data.encode()
        p.write_bytes(data)
        os.chmod(p, mode)
        return p

    def provision(self, *, source: str | None = "file", variant: str = "plain",
                  hardware: bool = True) -> None:
        """The launcher, the units and the layer's configuration for `source` (None: no
        00-tolomeo-source, i.e. daemon mode)."""
        for name, path in self.bins.items():
            self.write(f"/usr/libexec/swupdate-launcher.{name}", path.read_bytes(), 0o755)
        self.use_variant(variant)
        for unit in ("swupdate.service", "swupdate-local@.service", "swupdate-daemon.service",
                     "swupdate-daemon.socket"):
            self.write(f"{UNIT_DIR}/{unit}", (SYSTEMD_DIR / unit).read_text())
        self.write("/usr/lib/tmpfiles.d/swupdate-launcher.conf",
                   (SYSTEMD_DIR / "tmpfiles-swupdate-launcher.conf").read_text())
        self.write("/usr/lib/udev/rules.d/90-swupdate-local.rules",
                   (SYSTEMD_DIR / "90-swupdate-local.rules").read_text())
        # The layer removes what only ran swupdate.sh or assumed a long-lived swupdate.service.
        for f in ("swupdate-usb@.service", "swupdate.socket"):
            self.path(f"{UNIT_DIR}/{f}").unlink(missing_ok=True)
        self.path("/usr/lib/swupdate/swupdate.sh").unlink(missing_ok=True)
        self.write("/etc/default/swupdate", layer_topology())
        self.write(PUBLIC_KEY, self.pki.cert.read_text())
        self.path(ETC_CONFD).mkdir(parents=True, exist_ok=True)
        self.path(LIB_CONFD).mkdir(parents=True, exist_ok=True)
        self.path("/var/lib/swupdate").mkdir(parents=True, exist_ok=True)
        if source is not None:
            self.write(f"{LIB_CONFD}/00-tolomeo-source", layer_source_fragment(source))
        if hardware:
            # The product's fragment: the board swupdate checks hardware-compatibility against.
            self.write(f"{LIB_CONFD}/20-hardware", f'SWUPDATE_ARGS="-v -H {BOARD}:{HW_REVISION}"\n')
        self.set_running_version(RUNNING_VERSION)
        if self.release == "sid":
            # 2026.05.1 registers several verification providers and defaults to RSA; a
            # CMS-signed .swu needs opensslCMS. Until the launcher accepts --digest-provider in
            # SWUPDATE_ARGS (issue 12 item 3), the device's swupdate.cfg selects it.
            self.write("/etc/swupdate.cfg", 'globals: {\n\tdigest-provider = "opensslCMS";\n};\n')
        self.prefill_target()

    def set_running_version(self, version: str) -> None:
        """A device's os-release carries its firmware release (sid's Debian one has none)."""
        osr = self.path("/usr/lib/os-release").read_text().splitlines()
        osr = [line for line in osr if not line.startswith("VERSION_ID=")]
        osr.append(f'VERSION_ID="{version}"')
        self.write("/etc/os-release", "\n".join(osr) + "\n")

    def use_variant(self, variant: str) -> None:
        shutil.copyfile(self.path(f"/usr/libexec/swupdate-launcher.{variant}"),
                        self.path("/usr/bin/swupdate-launcher"))
        os.chmod(self.path("/usr/bin/swupdate-launcher"), 0o755)

    def prefill_target(self, length: int = IMAGE_LEN) -> bytes:
        data = untouched(length)
        self.write(self.TARGET, data)
        return data

    def target(self) -> bytes:
        return self.path(self.TARGET).read_bytes()

    # -- the agent protocol ------------------------------------------------------------------
    def start(self, unit: str = "swupdate.service", *, timeout: float = 180):
        return self.run(["systemctl", "start", unit], check=False, timeout=timeout)

    def result(self, unit: str = "swupdate.service") -> dict[str, str]:
        return self.show(unit, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus",
                         "StatusText", "StatusErrno", "InvocationID")

    def cursor(self) -> str:
        out = self.run(["journalctl", "--show-cursor", "-n0", "-q"], check=False).stdout
        for line in out.splitlines():
            if line.startswith("-- cursor: "):
                return line[len("-- cursor: "):]
        # An empty journal has no cursor yet: everything is new.
        return ""

    def journal_raw(self, after: str = "") -> str:
        # Flush first: the stream and native entries of the last run are all written.
        self.run(["journalctl", "--sync"], check=False)
        argv = ["journalctl", "-o", "json", "--no-pager", "-q"]
        if after:
            argv.append(f"--after-cursor={after}")
        return self.run(argv, check=False).stdout

    def journal(self, after: str = "") -> list[dict]:
        return [json.loads(line) for line in self.journal_raw(after).splitlines() if line.strip()]

    def launcher_entries(self, after: str = "") -> list[dict]:
        """The launcher's own records (native protocol). swupdate's stderr lines carry the same
        SYSLOG_IDENTIFIER (systemd names the stream after ExecStart's program), on the stdout
        transport."""
        return [e for e in self.journal(after)
                if e.get("SYSLOG_IDENTIFIER") == "swupdate-launcher"
                and e.get("_TRANSPORT") == "journal"]

    def unit_messages(self, unit: str, after: str = "") -> str:
        msgs = []
        for e in self.journal(after):
            if e.get("_SYSTEMD_UNIT") == unit or e.get("UNIT") == unit:
                m = e.get("MESSAGE")
                if isinstance(m, list):  # journald's JSON for non-UTF-8 messages: bytes
                    m = bytes(m).decode("utf-8", "replace")
                msgs.append(str(m))
        return "\n".join(msgs)

    def wait_for(self, cond, timeout: float = 30, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.1)
        raise TimeoutError(f"timed out waiting for {what}")

    def serve_http(self, directory: str, port: int = 8000, *, rate: int | None = None,
                   unit: str = "httpd", tls: tuple[str, str] | None = None) -> None:
        """An HTTP server on the device's loopback, as a transient unit (stopped with the device).
        `rate`: bytes per second, to make an install slow; `tls`: (cert, key) paths on the
        device for HTTPS."""
        self.write("/usr/local/lib/slowhttp.py", SLOW_HTTP)
        argv = ["systemd-run", f"--unit={unit}", "-p", f"WorkingDirectory={directory}",
                "/usr/bin/python3", "/usr/local/lib/slowhttp.py", str(port), str(rate or 0),
                *(tls or ())]
        self.run(argv)
        self.wait_for(lambda: self.run(["python3", "-c", (
            "import socket; socket.create_connection(('127.0.0.1', %d), 1)" % port)],
            check=False).returncode == 0, what=f"the HTTP server on port {port}")

    def pids_of(self, name: str) -> list[int]:
        out = self.run(["pgrep", "-x", name], check=False).stdout
        return [int(p) for p in out.split()]


# -- download mode, as the agent drives it ------------------------------------------------

PASSWORD = "s3cr3t-Pa55"
TOKEN = "tok-5f1d2c9e8b"
SECRETS = (PASSWORD, TOKEN)


def url(path: str = "/update.swu", port: int = 8000) -> str:
    return f"http://agent:{PASSWORD}@127.0.0.1:{port}{path}?token={TOKEN}"


def handoff(dev, value: str) -> None:
    """What the agent does: a hidden temp file in the etc conf.d directory, then rename."""
    tmp = dev.write(f"{ETC_CONFD}/.descriptor.env.Xq3z9", f'URL="{value}"\n')
    os.rename(tmp, dev.path(f"{ETC_CONFD}/descriptor.env"))


def download_device(make_device, variant: str = "plain", rate: int | None = None,
                    also=None):
    def setup(dev):
        if also:
            also(dev)
        # The product allows plain http here (the test server has no TLS; the .swu is signed).
        dev.write(f"{LIB_CONFD}/40-http", "SWUPDATE_ALLOW_HTTP=yes\nSWUPDATE_DOWNLOAD_RETRIES=1\n"
                                          "SWUPDATE_DOWNLOAD_TIMEOUT=20\n")
        dev.path("/srv/www").mkdir(parents=True, exist_ok=True)
    dev = make_device(source="download", variant=variant, setup=setup)
    dev.serve_http("/srv/www", rate=rate)
    return dev



# A static file server whose responses can be throttled (python3's http.server, one thread per
# request; `rate` 0 = as fast as possible).
SLOW_HTTP = r'''
import http.server, os, sys, time
port, rate = int(sys.argv[1]), int(sys.argv[2])
class H(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, src, dst):
        if not rate:
            return super().copyfile(src, dst)
        chunk = max(1, rate // 20)
        while True:
            b = src.read(chunk)
            if not b:
                break
            dst.write(b)
            dst.flush()
            time.sleep(0.05)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
if len(sys.argv) > 3:
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
'''


# -- the fleet tier's device (tests/python/fleet) ------------------------------------------
#
# A fleet device: Debian sid (swupdate 2026.05.1, systemd 262) booted under systemd-nspawn, with
# the launcher's units and a product's configuration, talking to gooseBit on the host's loopback.
#
# What is where, as on a product (docs/fleet.md explains each file):
#
# - image, read-only for everyone but root:
#   - `/usr/bin/swupdate-launcher`, the units of `systemd/` in `/etc/systemd/system` (over Debian's
#     swupdate.service, as the layer installs them over meta-swupdate's), tmpfiles;
#   - `/etc/default/swupdate`: topology, the public key;
#   - `/usr/lib/swupdate/conf.d/10-fleet`: daemon mode, `-S hawkbit` (sid's build has several
#     suricatta modules), anti-rollback from `/etc/sw-versions`, the post-update reboot;
#   - `/etc/swupdate.cfg`: `globals` (U-Boot environment, CMS digest provider), `identify`
#     (hw_revision, what gooseBit matches against the .swu's hardware-compatibility), `suricatta`
#     (tenant, server, and an `@include` of the provisioned identity);
#   - `/etc/fw_env.config`: libubootenv's view of the U-Boot environment, here a regular file
#     (`/var/lib/uboot/uboot.env`, two redundant copies) instead of a flash partition;
# - provisioning, once per device: `/etc/swupdate/identity.cfg` (0600: the device id and its target
#   token) and the environment's first contents (`ustate=0`);
# - the "bootloader": on hardware U-Boot's boot script turns `ustate=1` (installed) into `2`
#   (testing) when it boots the new system, or into `3` (failed) after falling back;
#   `fleet-bootloader.service` does that step here, before the daemon starts at each boot. With
#   the new release's version files, which the test puts in place while the device is down for its
#   reboot (a container cannot boot the partition file just written), these are the stand-ins of
#   this device, for firmware a container cannot run.

FLEET_LAUNCHER = Path(os.environ.get("FLEET_LAUNCHER",
                                   REPO / "target" / "release" / "swupdate-launcher"))

FLEET_TARGET = "/var/lib/fleet/rootfs-b"  # the stand-in for the standby partition
FLEET_TARGET_LEN = 1 << 20
FLEET_UBOOT_ENV = "/var/lib/uboot/uboot.env"
FLEET_ENV_SIZE = 0x4000
FLEET_BOARD = "fleet-board"
FLEET_PUBLIC_KEY = "/etc/swupdate/update-signing.cert.pem"

FLEET_BOOTLOADER_UNIT = """\
# Stand-in for U-Boot's boot script (a container has no bootloader): at each boot, before
# swupdate-daemon starts, an installed update (ustate=1) that booted becomes "testing" (2), which
# suricatta reports to the server as success and then resets to 0. On hardware the bootloader does
# this (with bootcount/altbootcmd turning a failed boot into 3 and booting the old slot).
[Unit]
Description=Bootloader stand-in: ustate 1 -> 2 on the boot after an install
DefaultDependencies=no
After=local-fs.target
Before=swupdate-daemon.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'if [ "$(fw_printenv -n ustate 2>/dev/null)" = 1 ]; then fw_setenv ustate 2; fi'

[Install]
WantedBy=multi-user.target
"""


def fleet_fragment(reboot: bool = True) -> str:
    post = "-p 'systemctl reboot'" if reboot else ""
    # Not -v: at loglevel DEBUG and above swupdate turns on curl's verbose mode, which prints every
    # request header, the Authorization: TargetToken one included, into the journal.
    return f"""\
# The image's daemon configuration, as a suricatta product's image ships it.
SWUPDATE_SOURCE=daemon
# Debian sid's swupdate has several suricatta modules: without -S it exits at start. Everything
# else (tenant, server, device id, token) is in /etc/swupdate.cfg, off the command line.
SWUPDATE_SURICATTA_ARGS="-S hawkbit"
# Fleet deployments must not downgrade either: -N <running release>.
SWUPDATE_ANTI_ROLLBACK=yes
SWUPDATE_VERSION_FILE=/etc/sw-versions
SWUPDATE_VERSION_KEY=firmware
# INFO level, and the product's reboot after a successful install (suricatta reports the result after it).
SWUPDATE_ARGS="-l 3 {post}"
"""


def fleet_swupdate_cfg(server_url: str, release: str) -> str:
    return f"""\
globals :
{{
	bootloader = "uboot";
	/* sid's 2026.05.1 registers several verification providers: CMS-signed images need this. */
	digest-provider = "opensslCMS";
}};

identify : (
	{{ name = "hw_revision"; value = "{HW_REVISION}"; }},
	{{ name = "sw_version"; value = "{release}"; }}
);

suricatta :
{{
	tenant = "DEFAULT";
	url = "{server_url}";
	retry = 3;
	retrywait = 2;
	connection-timeout = 10;
	@include "/etc/swupdate/identity.cfg"
}};
"""


class FleetDevice(Device):
    """A booted fleet device (Debian sid). `configure()` before `boot()`."""

    TARGET = FLEET_TARGET

    def __init__(self, template: Path, workdir: Path):
        # Its release's launcher comes in by configure(); the signing key is the server's.
        super().__init__("sid", template, workdir, {"plain": FLEET_LAUNCHER}, None,
                         private_network=False)
        self.workdir = workdir

    def configure(self, *, server_url: str, device_id: str, token: str | None,
                  running_version: str, cert: Path, reboot: bool = True) -> None:
        assert FLEET_LAUNCHER.exists(), f"{FLEET_LAUNCHER}: build it first (scripts/test-fleet does)"
        self.write("/usr/bin/swupdate-launcher", FLEET_LAUNCHER.read_bytes(), 0o755)
        for unit in ("swupdate.service", "swupdate-daemon.service", "swupdate-daemon.socket"):
            self.write(f"/etc/systemd/system/{unit}", (SYSTEMD_DIR / unit).read_text())
        self.write("/usr/lib/tmpfiles.d/swupdate-launcher.conf",
                   (SYSTEMD_DIR / "tmpfiles-swupdate-launcher.conf").read_text())
        self.write("/etc/systemd/system/fleet-bootloader.service", FLEET_BOOTLOADER_UNIT)
        for unit, target in (("swupdate-daemon.service", "multi-user.target"),
                             ("fleet-bootloader.service", "multi-user.target")):
            link = self.path(f"/etc/systemd/system/{target}.wants/{unit}")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f"/etc/systemd/system/{unit}")

        self.write("/etc/default/swupdate", f"SWUPDATE_PUBLIC_KEY={FLEET_PUBLIC_KEY}\n")
        self.write(FLEET_PUBLIC_KEY, cert.read_text())
        self.write("/usr/lib/swupdate/conf.d/10-fleet", fleet_fragment(reboot))
        self.path("/etc/swupdate/conf.d").mkdir(parents=True, exist_ok=True)
        self.server_url = server_url
        self.set_release(running_version)
        # swupdate's own hardware check (sw-description's hardware-compatibility) reads this file;
        # identify's hw_revision is only what suricatta reports to the server. Both must agree.
        self.write("/etc/hwrevision", f"{FLEET_BOARD} {HW_REVISION}\n")
        # Provisioning: the device's identity and credential, root-only.
        ident = f'\tid = "{device_id}";\n'
        if token is not None:
            ident += f'\ttargettoken = "{token}";\n'
        self.write("/etc/swupdate/identity.cfg", ident, 0o600)
        self.write("/etc/fw_env.config", f"{FLEET_UBOOT_ENV} 0x0 {FLEET_ENV_SIZE:#x}\n"
                   f"{FLEET_UBOOT_ENV} {FLEET_ENV_SIZE:#x} {FLEET_ENV_SIZE:#x}\n")
        self.write(FLEET_UBOOT_ENV, uboot_env({"ustate": "0"}) * 2)
        self.prefill_target(FLEET_TARGET_LEN)

    def set_release(self, version: str) -> None:
        """The files of the image that carry its release: /etc/sw-versions (the launcher's -N)
        and identify's sw_version in /etc/swupdate.cfg (what the server is told it runs)."""
        self.write("/etc/sw-versions", f"firmware {version}\n")
        self.write("/etc/swupdate.cfg", fleet_swupdate_cfg(self.server_url, version))

    def ustate(self) -> str:
        return self.run(["fw_printenv", "-n", "ustate"], check=False).stdout.strip()

    def ustate_offline(self) -> str | None:
        """ustate read from the environment file itself (the device is down)."""
        data = self.path(FLEET_UBOOT_ENV).read_bytes()[5:FLEET_ENV_SIZE]
        for entry in data.split(b"\0"):
            if entry.startswith(b"ustate="):
                return entry[len(b"ustate="):].decode()
        return None

    def boot_journal(self, unit: str = "swupdate-daemon.service") -> str:
        """The messages of `unit` since this boot, as text."""
        return self.run(["journalctl", "-b", "--no-pager", "-o", "cat", "-u", unit],
                        check=False).stdout

    def journal_all_boots(self) -> str:
        return self.run(["journalctl", "--no-pager", "-o", "short-monotonic"], check=False).stdout

    def save_journal(self) -> Path:
        """The whole journal, every boot, next to the device's root (kept after the test)."""
        out = self.workdir / "journal.txt"
        out.write_text(self.journal_all_boots())
        return out

    def wait_rebooted(self, new_release: str | None = None, timeout: float = 90,
                      bootloader_fell_back: bool = False) -> None:
        """After the device asked for a reboot: nspawn ends (exit 133 = reboot requested) and the
        same root is booted again, as the machine comes back from a reboot. On hardware it would
        boot the slot just written, whose files say `new_release`; a container cannot boot its
        stand-in partition file, so those files are put in place while it is down.
        `bootloader_fell_back`: the new slot did not come up, and U-Boot (bootcount, altbootcmd)
        booted the old one with ustate=3; the old release's files stay."""
        assert self.proc is not None
        old = self._pid1
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the device did not reboot in {timeout}s; journal in "
                                 f"{self.save_journal()}:\n{self.boot_journal()[-4000:]}")
        assert rc == 133, f"nspawn exited {rc} (133 = the container asked to reboot)\n" \
                          f"{self.log.read_text()[-3000:]}"
        self.proc = None
        self._pid1 = None
        # swupdate recorded the install before it asked for the reboot.
        assert self.ustate_offline() == "1", f"ustate={self.ustate_offline()} at the reboot"
        if bootloader_fell_back:
            self.write(FLEET_UBOOT_ENV, uboot_env({"ustate": "3"}) * 2)
        elif new_release:
            self.set_release(new_release)
        self.boot()
        assert self._pid1 != old


def uboot_env(variables: dict[str, str], size: int = FLEET_ENV_SIZE) -> bytes:
    """One copy of a redundant U-Boot environment, as mkenvimage -r writes it for the factory
    image: CRC32 of the data, a flags byte, then NUL-terminated `name=value` strings, a final NUL,
    padding."""
    data = b"".join(f"{k}={v}".encode() + b"\0" for k, v in variables.items()) + b"\0"
    data = data.ljust(size - 5, b"\xff")
    return zlib.crc32(data).to_bytes(4, "little") + b"\x01" + data
