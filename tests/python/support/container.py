"""A Debian root booted under systemd-nspawn and driven from outside: a test device.

The root comes from `scripts/debian-root` (cached, read-only) and is copied per device, so a test
may change its device freely. The container's systemd is PID 1 of its own PID namespace; commands
run inside it through nsenter into all of its namespaces, so `systemctl`, `journalctl` and the
launcher see exactly what they would on a device.

Why not `machinectl shell` / `systemd-run -M`: they need the container registered with machined
(`--register=yes`), which a CI machine may not run; nsenter needs nothing but the PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def debian_root(release: str, *extra_packages: str) -> Path:
    """The cached root of `release` (built on first use: about a minute)."""
    out = subprocess.run(
        [str(REPO / "scripts" / "debian-root"), release, *extra_packages],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


class Container:
    """One booted device. Use as a context manager: the container is stopped and removed on exit."""

    def __init__(self, template: Path, workdir: Path, *, private_network: bool = True,
                 nspawn_args: tuple[str, ...] = ()):
        self.template = template
        self.nspawn_args = tuple(nspawn_args)
        self.root = workdir / "root"
        self.private_network = private_network
        self.proc: subprocess.Popen | None = None
        self.log = workdir / "console.log"
        self._pid1: int | None = None

    # -- life cycle -------------------------------------------------------------------------
    def __enter__(self) -> "Container":
        # An overlay over the template: the "copy" is instant and the template stays untouched
        # (every write lands in upper/). Where overlayfs cannot be mounted, a plain copy.
        self.root.mkdir(parents=True)
        upper, work = self.root.parent / "upper", self.root.parent / "work"
        upper.mkdir()
        work.mkdir()
        res = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={self.template},upperdir={upper},workdir={work}", str(self.root)],
            capture_output=True)
        self._overlay = res.returncode == 0
        if not self._overlay:
            self.root.rmdir()
            subprocess.run(
                ["cp", "-a", "--reflink=auto", str(self.template), str(self.root)], check=True)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
        if getattr(self, "_overlay", False):
            subprocess.run(["umount", str(self.root)], check=False)
            if os.path.ismount(self.root):
                subprocess.run(["umount", "-l", str(self.root)], check=False)
        for d in (self.root, self.root.parent / "upper", self.root.parent / "work"):
            shutil.rmtree(d, ignore_errors=True)

    def boot(self, timeout: float = 60) -> None:
        """Boot systemd in the copy and wait until it has finished starting up."""
        env = dict(os.environ)
        # The host mounts cgroups in hybrid mode; systemd >= 256 boots only on the unified one.
        env["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY"] = "1"
        cmd = [
            "systemd-nspawn",
            "-D",
            str(self.root),
            "--boot",
            "--register=no",
            "--keep-unit",
            "--console=pipe",
            "--capability=all",
        ]
        if self.private_network:
            cmd.append("--private-network")
        cmd.extend(self.nspawn_args)
        logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT, env=env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nspawn exited {self.proc.returncode}: {self.log.read_text()}")
            pid1 = self._find_pid1()
            if pid1 is not None:
                self._pid1 = pid1
                state = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                                 timeout=max(1.0, deadline - time.monotonic()))
                if state.stdout.strip() in ("running", "degraded"):
                    return
            time.sleep(0.2)
        raise TimeoutError(f"container did not boot in {timeout}s: {self.log.read_text()}")

    def _find_pid1(self) -> int | None:
        assert self.proc is not None
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return None
        for pid in children.split():
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if comm == "systemd":
                return int(pid)
        return None

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # SIGRTMIN+4 asks the container's systemd to power off (what `machinectl poweroff` sends).
        if self._pid1:
            try:
                os.kill(self._pid1, signal.SIGRTMIN + 4)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            pass
        # A test device is thrown away: what has not powered off by now is killed (PID 1 of
        # the container's PID namespace takes every process of the container with it).
        if self._pid1:
            try:
                os.kill(self._pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    # -- driving it -------------------------------------------------------------------------
    def run(self, argv: list[str], *, check: bool = True, timeout: float = 120,
            input: bytes | str | None = None) -> subprocess.CompletedProcess:
        """Run a command inside the device (all of its namespaces), as root, with a clean
        environment like a login shell's."""
        assert self._pid1 is not None, "boot() first"
        cmd = ["nsenter", "-t", str(self._pid1), "-m", "-u", "-i", "-n", "-p", "--",
               "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", *argv]
        text = not isinstance(input, bytes)
        res = subprocess.run(cmd, capture_output=True, timeout=timeout, input=input, text=text)
        if check and res.returncode != 0:
            raise AssertionError(
                f"{argv} exited {res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def spawn(self, argv: list[str]) -> subprocess.Popen:
        """Like run(), without waiting: for a blocking `systemctl start` while the test acts."""
        assert self._pid1 is not None, "boot() first"
        cmd = ["nsenter", "-t", str(self._pid1), "-m", "-u", "-i", "-n", "-p", "--",
               "/usr/bin/env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", *argv]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sh(self, script: str, **kw) -> subprocess.CompletedProcess:
        return self.run(["/bin/sh", "-c", script], **kw)

    def path(self, inside: str) -> Path:
        """Where a path of the device is on the host (write files there before or after boot)."""
        return self.root / inside.lstrip("/")

    def show(self, unit: str, *props: str) -> dict[str, str]:
        res = self.run(["systemctl", "show", unit, *[f"-p{p}" for p in props]])
        return dict(line.split("=", 1) for line in res.stdout.splitlines() if "=" in line)
