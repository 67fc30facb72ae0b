"""A fleet device: Debian sid (swupdate 2026.05.1, systemd 262) booted under systemd-nspawn, with
the launcher's units and a product's configuration, talking to gooseBit on the host's loopback.

What is where, as on a product (docs/fleet.md explains each file):

- image, read-only for everyone but root:
  - `/usr/bin/swupdate-launcher`, the units of `systemd/` in `/etc/systemd/system` (over Debian's
    swupdate.service, as the layer installs them over meta-swupdate's), tmpfiles;
  - `/etc/default/swupdate`: topology, the public key;
  - `/usr/lib/swupdate/conf.d/10-fleet`: daemon mode, `-S hawkbit` (sid's build has several
    suricatta modules), anti-rollback from `/etc/sw-versions`, the post-update reboot;
  - `/etc/swupdate.cfg`: `globals` (U-Boot environment, CMS digest provider), `identify`
    (hw_revision, what gooseBit matches against the .swu's hardware-compatibility), `suricatta`
    (tenant, server, and an `@include` of the provisioned identity);
  - `/etc/fw_env.config`: libubootenv's view of the U-Boot environment, here a regular file
    (`/var/lib/uboot/uboot.env`, two redundant copies) instead of a flash partition;
- provisioning, once per device: `/etc/swupdate/identity.cfg` (0600: the device id and its target
  token) and the environment's first contents (`ustate=0`);
- the "bootloader": on hardware U-Boot's boot script turns `ustate=1` (installed) into `2`
  (testing) when it boots the new system, or into `3` (failed) after falling back;
  `fleet-bootloader.service` does that step here, before the daemon starts at each boot. With
  the new release's version files, which the test puts in place while the device is down for its
  reboot (a container cannot boot the partition file just written), these are the stand-ins of
  this device, for firmware a container cannot run.
"""

from __future__ import annotations

import os
import subprocess
import time
import zlib
from pathlib import Path

from support.container import REPO, Container

SYSTEMD_DIR = REPO / "systemd"
LAUNCHER = Path(os.environ.get("FLEET_LAUNCHER", REPO / "target" / "release" / "swupdate-launcher"))

TARGET = "/var/lib/fleet/rootfs-b"  # the stand-in for the standby partition
TARGET_LEN = 1 << 20
UBOOT_ENV = "/var/lib/uboot/uboot.env"
ENV_SIZE = 0x4000
HW_REVISION = "1.0"
BOARD = "fleet-board"
PUBLIC_KEY = "/etc/swupdate/update-signing.cert.pem"

BOOTLOADER_UNIT = """\
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


def fragment(reboot: bool = True) -> str:
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


def swupdate_cfg(server_url: str, release: str) -> str:
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


class FleetDevice(Container):
    """A booted device. `configure()` before `boot()`."""

    def __init__(self, template: Path, workdir: Path):
        super().__init__(template, workdir, private_network=False)
        self.workdir = workdir

    def write(self, inside: str, text: str | bytes, mode: int = 0o644) -> None:
        p = self.path(inside)
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, str):
            text = text.encode()
        p.write_bytes(text)
        os.chmod(p, mode)

    def configure(self, *, server_url: str, device_id: str, token: str | None,
                  running_version: str, cert: Path, reboot: bool = True) -> None:
        assert LAUNCHER.exists(), f"{LAUNCHER}: build it first (scripts/test-fleet does)"
        self.write("/usr/bin/swupdate-launcher", LAUNCHER.read_bytes(), 0o755)
        for unit in ("swupdate.service", "swupdate-daemon.service", "swupdate-daemon.socket"):
            self.write(f"/etc/systemd/system/{unit}", (SYSTEMD_DIR / unit).read_text())
        self.write("/usr/lib/tmpfiles.d/swupdate-launcher.conf",
                   (SYSTEMD_DIR / "tmpfiles-swupdate-launcher.conf").read_text())
        self.write("/etc/systemd/system/fleet-bootloader.service", BOOTLOADER_UNIT)
        for unit, target in (("swupdate-daemon.service", "multi-user.target"),
                             ("fleet-bootloader.service", "multi-user.target")):
            link = self.path(f"/etc/systemd/system/{target}.wants/{unit}")
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(f"/etc/systemd/system/{unit}")

        self.write("/etc/default/swupdate", f"SWUPDATE_PUBLIC_KEY={PUBLIC_KEY}\n")
        self.write(PUBLIC_KEY, cert.read_text())
        self.write("/usr/lib/swupdate/conf.d/10-fleet", fragment(reboot))
        self.path("/etc/swupdate/conf.d").mkdir(parents=True, exist_ok=True)
        self.server_url = server_url
        self.set_release(running_version)
        # swupdate's own hardware check (sw-description's hardware-compatibility) reads this file;
        # identify's hw_revision is only what suricatta reports to the server. Both must agree.
        self.write("/etc/hwrevision", f"{BOARD} {HW_REVISION}\n")
        # Provisioning: the device's identity and credential, root-only.
        ident = f'\tid = "{device_id}";\n'
        if token is not None:
            ident += f'\ttargettoken = "{token}";\n'
        self.write("/etc/swupdate/identity.cfg", ident, 0o600)
        self.write("/etc/fw_env.config", f"{UBOOT_ENV} 0x0 {ENV_SIZE:#x}\n"
                   f"{UBOOT_ENV} {ENV_SIZE:#x} {ENV_SIZE:#x}\n")
        self.write(UBOOT_ENV, uboot_env({"ustate": "0"}) * 2)
        self.write(TARGET, untouched(TARGET_LEN))

    def set_release(self, version: str) -> None:
        """The files of the image that carry its release: /etc/sw-versions (the launcher's -N)
        and identify's sw_version in /etc/swupdate.cfg (what the server is told it runs)."""
        self.write("/etc/sw-versions", f"firmware {version}\n")
        self.write("/etc/swupdate.cfg", swupdate_cfg(self.server_url, version))

    def ustate(self) -> str:
        return self.run(["fw_printenv", "-n", "ustate"], check=False).stdout.strip()

    def ustate_offline(self) -> str | None:
        """ustate read from the environment file itself (the device is down)."""
        data = self.path(UBOOT_ENV).read_bytes()[5:ENV_SIZE]
        for entry in data.split(b"\0"):
            if entry.startswith(b"ustate="):
                return entry[len(b"ustate="):].decode()
        return None

    def target(self) -> bytes:
        return self.path(TARGET).read_bytes()

    def journal(self, unit: str = "swupdate-daemon.service") -> str:
        return self.run(["journalctl", "-b", "--no-pager", "-o", "cat", "-u", unit],
                        check=False).stdout

    def journal_all_boots(self) -> str:
        return self.run(["journalctl", "--no-pager", "-o", "short-monotonic"], check=False).stdout

    def save_journal(self) -> Path:
        """The whole journal, every boot, next to the device's root (kept after the test)."""
        out = self.workdir / "journal.txt"
        out.write_text(self.journal_all_boots())
        return out

    def wait(self, predicate, timeout: float, what: str, interval: float = 0.5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(interval)
        raise AssertionError(f"device: {what} did not happen in {timeout}s; journal in "
                             f"{self.save_journal()}\n"
                             f"journal:\n{self.journal()[-4000:]}")

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
                                 f"{self.save_journal()}:\n{self.journal()[-4000:]}")
        assert rc == 133, f"nspawn exited {rc} (133 = the container asked to reboot)\n" \
                          f"{self.log.read_text()[-3000:]}"
        self.proc = None
        self._pid1 = None
        # swupdate recorded the install before it asked for the reboot.
        assert self.ustate_offline() == "1", f"ustate={self.ustate_offline()} at the reboot"
        if bootloader_fell_back:
            self.write(UBOOT_ENV, uboot_env({"ustate": "3"}) * 2)
        elif new_release:
            self.set_release(new_release)
        self.boot()
        assert self._pid1 != old


def untouched(length: int) -> bytes:
    pattern = b"untouched target "
    return (pattern * (length // len(pattern) + 1))[:length]


def uboot_env(variables: dict[str, str], size: int = ENV_SIZE) -> bytes:
    """One copy of a redundant U-Boot environment, as mkenvimage -r writes it for the factory
    image: CRC32 of the data, a flags byte, then NUL-terminated `name=value` strings, a final NUL,
    padding."""
    data = b"".join(f"{k}={v}".encode() + b"\0" for k, v in variables.items()) + b"\0"
    data = data.ljust(size - 5, b"\xff")
    return zlib.crc32(data).to_bytes(4, "little") + b"\x01" + data
