"""An A/B device on real block devices, for the booted A/B tier (tests/python/booted/test_ab.py).

What is real and what plays a part:

- **Two root file systems on loop devices.** A cached Debian root (scripts/debian-root, with
  libubootenv-tool), trimmed of what booting systemd and swupdate does not need, made into one
  ext4 image (`mkfs.ext4 -d`, cached next to the roots); each board copies it twice (slot A, slot
  B) and attaches both with `losetup -f` (free devices only: other booted tests run at the same
  time). A slot is booted by mounting its loop device and booting that directory with
  systemd-nspawn, both loop devices bound in, so inside the container `/` is ext4 on slot A's
  loop device (`stat /` gives its device number) and swupdate can mount and write slot B.
  (`systemd-nspawn --image=` needs udev, which these machines do not run: notes/real-systems.md.)
- **The U-Boot environment.** A file on the host (two redundant copies, as `mkenvimage -r` writes
  them for a factory image), bound into every boot at /var/lib/uboot; both slots' /etc/fw_env.config
  name it, so swupdate's U-Boot interface, the launcher and libubootenv-tool's fw_printenv/fw_setenv
  on the device and the "bootloader" on the host all read and write the same environment, which
  survives the reboots.
- **The bootloader** is the harness: `UBoot.choose()` does what U-Boot's autoboot does with
  CONFIG_BOOTCOUNT_LIMIT and CONFIG_BOOTCOUNT_ENV, then runs the boot script of
  docs/ab-bootloader-model.md (`bootcmd` boots `boot_part`, `altbootcmd` the other slot), reading
  and writing the environment with the host's fw_printenv/fw_setenv (libubootenv-tool), as U-Boot
  reads and writes it on flash.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from support.container import debian_root
from support.device import (BOARD, HW_REVISION, LIB_CONFD, SYSTEMD_DIR, UNIT_DIR, Device,
                            uboot_env)
from support.swu import IMAGE_LEN, Pki, newc_archive, test_image

# What a slot's root needs on top of the tier's roots: libubootenv-tool (fw_printenv/fw_setenv,
# and the libubootenv that swupdate's U-Boot interface loads).
EXTRA_PACKAGES = ("libubootenv-tool",)

# Bump when what a slot image holds changes (the trimming below): cached images are then rebuilt.
IMAGE_RECIPE = 1
# What booting systemd and running swupdate do not need: left out of the slot images.
TRIMMED = ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale",
           "var/cache/apt", "var/lib/apt/lists")
# Free space in each slot's file system beyond its files (the launcher, its units, the update).
HEADROOM = 64 << 20

ENV_DIR = "/var/lib/uboot"
ENV_FILE = f"{ENV_DIR}/uboot.env"
ENV_SIZE = 0x4000
FW_ENV_CONFIG = f"{ENV_FILE} 0x0 {ENV_SIZE:#x}\n{ENV_FILE} {ENV_SIZE:#x} {ENV_SIZE:#x}\n"

# The slot's release marker: the factory image has FACTORY_RELEASE in both slots; an update writes
# its version there (through swupdate's archive handler, into the selected slot's file system).
RELEASE_FILE = "/etc/ab-release"
FACTORY_RELEASE = "1.0"
# Written by the harness into each slot at provisioning: which slot this file system is (so a test
# can tell which slot booted without asking the launcher).
SLOT_FILE = "/etc/ab-slot"
# The bulk of an update's payload (incompressible bytes).
BULK_FILE = "/usr/share/ab-release/bulk.bin"
HEALTH_DIR = "/usr/lib/swupdate/health.d"
CONFIRM_UNIT = "swupdate-confirm.service"

# The factory environment: slot A, the try counter of U-Boot's bootcount feature, swupdate's
# update state. The scripts are the ones docs/ab-bootloader-model.md documents and UBoot models.
BOOTLIMIT = 2
BOOT_SCRIPT = {
    "bootcmd": "run boot_slot",
    "boot_slot": "setenv try_part ${boot_part}; run boot_try",
    "altbootcmd": ("if test \"${boot_part}\" = A; then setenv try_part B; else setenv try_part A;"
                   " fi; run boot_try"),
    "boot_try": "run load_${try_part}; bootm",
}
FACTORY_ENV = {"boot_part": "A", "bootlimit": str(BOOTLIMIT), "bootcount": "0",
               "upgrade_available": "0", "ustate": "0", **BOOT_SCRIPT}

SLOTS = ("A", "B")


def cache_dir() -> Path:
    return Path(os.environ.get("SWUPDATE_LAUNCHER_CACHE",
                               Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                               / "swupdate-launcher"))


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


# -- the slot image -------------------------------------------------------------------------

def slot_image(release: str) -> Path:
    """The cached ext4 image of a slot's factory root for `release` (built on first use, under a
    lock: concurrent tests build it once). Read-only: boards copy it."""
    root = debian_root(release, *EXTRA_PACKAGES)
    out_dir = cache_dir() / "ab-images"
    out_dir.mkdir(parents=True, exist_ok=True)
    image = out_dir / f"{root.name}-r{IMAGE_RECIPE}.img"
    with open(out_dir / f".lock-{image.name}", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image.exists():
            return image
        with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
            _make_image(root, Path(tmp), image)
    return image


def _make_image(root: Path, tmp: Path, image: Path) -> None:
    """mkfs.ext4 -d from an overlay of the root with TRIMMED removed (the cached root untouched)."""
    merged, upper, work = tmp / "merged", tmp / "upper", tmp / "work"
    for d in (merged, upper, work):
        d.mkdir()
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={root},upperdir={upper},workdir={work}", str(merged)])
    try:
        for t in TRIMMED:
            shutil.rmtree(merged / t, ignore_errors=True)
        (merged / ".complete").unlink(missing_ok=True)
        used = int(run(["du", "-sb", str(merged)]).stdout.split()[0])
        size = (used * 5 // 4 + HEADROOM) // (1 << 20) + 1
        partial = image.with_suffix(".partial")
        run(["truncate", "-s", f"{size}M", str(partial)])
        run(["mkfs.ext4", "-q", "-F", "-L", "slot", "-d", str(merged), str(partial)])
        partial.rename(image)
    finally:
        run(["umount", str(merged)])


# -- the U-Boot environment -----------------------------------------------------------------

def ulong(value: str | None) -> int:
    """U-Boot's env_get_ulong(name, 10, 0): the leading decimal digits, 0 when there are none or
    the variable is unset."""
    digits = ""
    for c in value or "":
        if not c.isdigit():
            break
        digits += c
    return int(digits) if digits else 0


class BootEnv:
    """The environment file on the host, read and written only with libubootenv-tool (the host's
    fw_printenv/fw_setenv, `-c` a fw_env.config naming the host path): no hand-written parser."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.file = directory / "uboot.env"
        self.config = directory.parent / "fw_env.config.host"
        self.config.write_text(FW_ENV_CONFIG.replace(ENV_FILE, str(self.file)))

    def create(self, variables: dict[str, str]) -> None:
        """The factory image of the environment (both redundant copies, as mkenvimage -r)."""
        self.file.write_bytes(uboot_env(variables, ENV_SIZE) * 2)

    def all(self) -> dict[str, str]:
        out = run(["fw_printenv", "-c", str(self.config)]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def get(self, name: str) -> str | None:
        return self.all().get(name)

    def set(self, **assignments: str) -> None:
        """One fw_setenv call with a script (atomic with the redundant environment). libubootenv's
        script lines are `name=value` (`name=` deletes): in 0.3.2 (bookworm), 0.3.5 (trixie) and
        sid's, a U-Boot-style `name value` line is ignored and fw_setenv still exits 0."""
        with tempfile.NamedTemporaryFile("w", dir=self.directory.parent, delete=False) as f:
            f.write("".join(f"{k}={v}\n" for k, v in assignments.items()))
        try:
            run(["fw_setenv", "-c", str(self.config), "-s", f.name])
        finally:
            os.unlink(f.name)


@dataclass
class BootChoice:
    slot: str
    command: str  # bootcmd or altbootcmd
    bootcount: int


class UBoot:
    """U-Boot's autoboot over the environment (docs/ab-bootloader-model.md):

    1. bootcount (CONFIG_BOOTCOUNT_ENV): `bootcount_load()` is `bootcount` while
       `upgrade_available` is non-zero, else 0; autoboot adds one and `bootcount_store()` saves it
       to the environment only while `upgrade_available` is non-zero.
    2. bootlimit (CONFIG_BOOTCOUNT_LIMIT): `bootlimit` set and non-zero and bootcount > bootlimit:
       run `altbootcmd`, else `bootcmd`.
    3. The scripts: `bootcmd` boots the slot `boot_part` names; `altbootcmd` boots the other slot.
       Neither changes `boot_part`, `ustate` or `upgrade_available`: deciding that the update
       failed is the booted system's (the launcher's `confirm` sees running != boot_part)."""

    def __init__(self, env: BootEnv):
        self.env = env

    def choose(self) -> BootChoice:
        e = self.env.all()
        upgrade = ulong(e.get("upgrade_available"))
        bootcount = (ulong(e.get("bootcount")) if upgrade else 0) + 1
        if upgrade:
            self.env.set(bootcount=str(bootcount))
        bootlimit = ulong(e.get("bootlimit"))
        boot_part = e.get("boot_part")
        if boot_part not in SLOTS:
            raise AssertionError(f"boot_part={boot_part!r}: run load_{boot_part} fails, U-Boot "
                                 "stops at its prompt")
        if bootlimit and bootcount > bootlimit:
            other = "B" if boot_part == "A" else "A"
            return BootChoice(other, "altbootcmd", bootcount)
        return BootChoice(boot_part, "bootcmd", bootcount)


# -- the board: two slots, one environment, the bootloader ------------------------------------

class SlotDevice(Device):
    """A Device whose root is a slot's file system mounted from its loop device (not an overlay
    of the cached root): what the container writes lands in that slot, as on hardware."""

    def __init__(self, loop: str, release: str, workdir: Path, bins, pki, **kw):
        super().__init__(release, workdir / "root", workdir, bins, pki, **kw)
        self.loop = loop

    def __enter__(self) -> "SlotDevice":
        self.root.mkdir(parents=True, exist_ok=True)
        run(["mount", self.loop, str(self.root)])
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            res = subprocess.run(["umount", str(self.root)], capture_output=True)
            if res.returncode != 0:
                subprocess.run(["umount", "-l", str(self.root)], check=False)


@dataclass
class Slot:
    name: str
    image: Path
    loop: str = ""


@dataclass
class Board:
    """Two slots on loop devices, the environment, the bootloader; `power_on()` boots the slot the
    bootloader chooses. Use as a context manager: whatever runs is stopped, the slots unmounted,
    the loop devices detached, the images removed."""

    release: str
    workdir: Path
    bins: dict
    pki: Pki
    slots: dict[str, Slot] = field(default_factory=dict)
    extra_loops: list[str] = field(default_factory=list)
    device: SlotDevice | None = None
    boots: list[BootChoice] = field(default_factory=list)
    # False: the device shares the host's network (to reach a server on the host's 127.0.0.1).
    private_network: bool = True

    def __enter__(self) -> "Board":
        image = slot_image(self.release)
        try:
            for name in SLOTS:
                copy = self.workdir / f"slot-{name}.img"
                run(["cp", "--sparse=always", "--reflink=auto", str(image), str(copy)])
                slot = Slot(name, copy)
                self.slots[name] = slot
                slot.loop = run(["losetup", "-f", "--show", str(copy)]).stdout.strip()
            env_dir = self.workdir / "uboot"
            env_dir.mkdir()
            self.env = BootEnv(env_dir)
            self.env.create(FACTORY_ENV)
            self.bootloader = UBoot(self.env)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.power_off()
        finally:
            for loop in [s.loop for s in self.slots.values() if s.loop] + self.extra_loops:
                subprocess.run(["losetup", "-d", loop], check=False)
            for s in self.slots.values():
                s.image.unlink(missing_ok=True)
            # Nothing of the board may stay mounted; then its directory goes.
            mounts = Path("/proc/self/mounts").read_text()
            if f" {self.workdir}/" not in mounts:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def spare_block_device(self) -> str:
        """A third block device (a small loop device), bound into every boot: a partition that is
        neither slot's root."""
        img = self.workdir / "spare.img"
        run(["truncate", "-s", "1M", str(img)])
        loop = run(["losetup", "-f", "--show", str(img)]).stdout.strip()
        self.extra_loops.append(loop)
        return loop

    # -- the slots' file systems, while the board is off ----------------------------------------
    def mounted(self, slot: str) -> SlotDevice:
        """Slot `slot`'s file system, mounted on the host (the board must be off)."""
        assert self.device is None, "the board is on: its slots are not the host's to mount"
        return SlotDevice(self.slots[slot].loop, self.release,
                          Path(tempfile.mkdtemp(dir=self.workdir)), self.bins, self.pki)

    def provision(self, configure, source: str | None = "file") -> None:
        """The factory image of both slots: the launcher and its units as the layer installs them
        (`source`: as Device.provision), the U-Boot environment's description, the release marker,
        then `configure(dev, slot)`."""
        for name in SLOTS:
            with self.mounted(name) as dev:
                provision_slot(dev, name, source)
                configure(dev, name)

    def read(self, slot: str, inside: str) -> bytes:
        with self.mounted(slot) as dev:
            return dev.path(inside).read_bytes()

    def devices(self) -> dict[str, str]:
        """Each slot's block device (/dev/loopN), as the slot table names it."""
        return {name: s.loop for name, s in self.slots.items()}

    def release_of(self, slot: str) -> str:
        return self.read(slot, RELEASE_FILE).decode().strip()

    # -- power -------------------------------------------------------------------------------
    def power_on(self) -> SlotDevice:
        """The bootloader chooses a slot (UBoot.choose) and the board boots it."""
        assert self.device is None, "already on"
        choice = self.bootloader.choose()
        self.boots.append(choice)
        binds = [f"--bind={s.loop}" for s in self.slots.values()]
        binds += [f"--bind={loop}" for loop in self.extra_loops]
        binds.append(f"--bind={self.env.directory}:{ENV_DIR}")
        dev = SlotDevice(self.slots[choice.slot].loop, self.release,
                         Path(tempfile.mkdtemp(dir=self.workdir)), self.bins, self.pki,
                         nspawn_args=tuple(binds), private_network=self.private_network)
        dev.__enter__()
        self.device = dev
        try:
            dev.boot()
        except BaseException:
            self.power_off()
            raise
        return dev

    def power_off(self) -> None:
        dev, self.device = self.device, None
        if dev is not None:
            dev.__exit__(None, None, None)

    def reboot(self) -> SlotDevice:
        self.power_off()
        return self.power_on()

    def wait_reboot(self, timeout: float = 120) -> SlotDevice:
        """After the device asked for a reboot itself (`systemctl reboot`: nspawn exits 133), the
        board comes back through the bootloader."""
        assert self.device is not None and self.device.proc is not None
        try:
            rc = self.device.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the device did not reboot in {timeout}s") from None
        assert rc == 133, f"nspawn exited {rc} (133 = the container asked to reboot)"
        return self.reboot()


def provision_slot(dev: SlotDevice, slot: str, source: str | None = "file") -> None:
    # The launcher built with the `ab` feature (the plain build refuses the slot table).
    dev.provision(source=source, variant="ab")
    # The product's fragment: the board, and swupdate's U-Boot interface (Debian's builds default
    # to none), which keeps the update state (ustate) in the environment and applies the .swu's
    # bootenv section.
    dev.write(f"{LIB_CONFD}/20-hardware",
              f'SWUPDATE_ARGS="-v -H {BOARD}:{HW_REVISION} -B uboot"\n')
    dev.write("/etc/fw_env.config", FW_ENV_CONFIG)
    dev.path(ENV_DIR).mkdir(parents=True, exist_ok=True)
    dev.write(RELEASE_FILE, FACTORY_RELEASE + "\n")
    dev.write(SLOT_FILE, slot + "\n")
    # Enabled as an image build enables it (systemctl --root, as Yocto's systemd class does):
    # its [Install] section, RequiredBy= the units that install included, is what is tested.
    dev.write(f"{UNIT_DIR}/{CONFIRM_UNIT}", (SYSTEMD_DIR / CONFIRM_UNIT).read_text())
    subprocess.run(["systemctl", f"--root={dev.path('/')}", "enable", CONFIRM_UNIT],
                   check=True, capture_output=True)


def health_check(dev: SlotDevice, name: str, script: str, kind: str = "required") -> None:
    dev.write(f"{HEALTH_DIR}/{kind}/{name}", "#!/bin/sh\n" + script, 0o755)


# -- the A/B update --------------------------------------------------------------------------

PAYLOAD_NAME = "rootfs.tar"


def payload(files: dict[str, tuple[bytes, int]]) -> bytes:
    """A tar archive of `files` (path inside the slot -> (content, mode)), root-owned."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        dirs = set()
        for path in files:
            parts = Path(path.lstrip("/")).parts[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, (data, mode) in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _lc(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_ab_swu(out: Path, pki: Pki, slot_devices: dict[str, str], *, version: str = "2.0.0",
                 files: dict[str, tuple[bytes, int]] | None = None) -> Path:
    """A signed .swu with the A/B selections products use: `stable,copy1` installs into slot A's
    device, `stable,copy2` into slot B's. Each extracts the same payload (RELEASE_FILE = version,
    plus `files`) with swupdate's archive handler into its slot's file system (`device` +
    `filesystem`: swupdate mounts it), and sets the boot environment with a bootenv section:
    boot_part = that slot, upgrade_available=1, bootcount=0 (swupdate itself sets ustate=1 after
    the install, through its U-Boot interface)."""
    content = {RELEASE_FILE: ((version + "\n").encode(), 0o644),
               # More than a socket buffer: swupdate 2022.12's IPC client can race a tiny one-shot
               # install (support/swu.py's IMAGE_LEN says the same).
               BULK_FILE: (test_image(IMAGE_LEN), 0o644), **(files or {})}
    tar = payload(content)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    (parts / PAYLOAD_NAME).write_bytes(tar)
    sha = hashlib.sha256(tar).hexdigest()
    copies = []
    for copy, slot in (("copy1", "A"), ("copy2", "B")):
        copies.append(f"""\
\t\t{copy}: {{
\t\t\tfiles: ( {{ filename = {_lc(PAYLOAD_NAME)}; type = "archive"; path = "/";
\t\t\t\tdevice = {_lc(slot_devices[slot])}; filesystem = "ext4"; sha256 = {_lc(sha)}; }} );
\t\t\tbootenv: ( {{ name = "boot_part"; value = "{slot}"; }},
\t\t\t\t{{ name = "upgrade_available"; value = "1"; }},
\t\t\t\t{{ name = "bootcount"; value = "0"; }} );
\t\t}};
""")
    (parts / "sw-description").write_text(
        f"software =\n{{\n\tversion = {_lc(version)};\n"
        f"\thardware-compatibility = [ {_lc(HW_REVISION)} ];\n"
        f"\tstable: {{\n{''.join(copies)}\t}};\n}}\n")
    run(["openssl", "cms", "-sign", "-in", str(parts / "sw-description"),
         "-out", str(parts / "sw-description.sig"), "-signer", str(pki.cert),
         "-inkey", str(pki.key), "-outform", "DER", "-nosmimecap", "-binary"])
    out.write_bytes(newc_archive(parts, ("sw-description", "sw-description.sig", PAYLOAD_NAME)))
    return out


def slot_table(slot_devices: dict[str, str], *, sources: str = "root-device",
               confirm: str = "ustate bootcount") -> str:
    """The image's conf.d fragment of the A/B contract: slots identified by `sources` (default:
    the device of `/`), each slot's selection installs into the other slot and says so (`writes`),
    confirm writes ustate and resets U-Boot's counter, the bootloader was told `boot_part`."""
    writes = {"A": slot_devices["B"], "B": slot_devices["A"]}
    sel = {"A": "stable,copy2", "B": "stable,copy1"}
    lines = ['SWUPDATE_SLOTS="A B"', f'SWUPDATE_SLOT_SOURCES="{sources}"']
    for s in SLOTS:
        lines.append(f'SWUPDATE_SLOT_{s}="device={slot_devices[s]} bootname={s} '
                     f'selection={sel[s]} writes={writes[s]}"')
    lines += [f'SWUPDATE_CONFIRM="{confirm}"', "SWUPDATE_CONFIRM_PRIMARY=boot_part",
              "SWUPDATE_HEALTH_TIMEOUT=30"]
    return "\n".join(lines) + "\n"

