"""A booted Debian container provisioned like a device with the launcher: what the layer installs
(the launcher, the repository's systemd/ units, udev rule and tmpfiles.d file, the path topology
from meta-tolomeo-rust's swupdate.default, the conf.d fragment its flags write, the key), plus a
product fragment with the board's `-H`, and helpers to drive the agent protocol from outside.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
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

UNTOUCHED = b"untouched target "


def device_workdir() -> Path:
    """A fresh directory for one device, where the root cache is (the overlay's upper layer on
    the same file system), not /tmp."""
    base = Path(os.environ.get("SWUPDATE_LAUNCHER_CACHE",
                               Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                               / "swupdate-launcher")) / "devices"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=base))


def launcher_binaries() -> dict[str, Path]:
    """The release builds scripts/test-system made (plain and with the streaming feature)."""
    bins = {
        "plain": Path(os.environ.get("SWUPDATE_LAUNCHER_PLAIN",
                                     REPO / "target" / "release" / "swupdate-launcher")),
        "streaming": Path(os.environ.get(
            "SWUPDATE_LAUNCHER_STREAMING",
            REPO / "target" / "streaming" / "release" / "swupdate-launcher")),
    }
    for name, path in bins.items():
        assert path.is_file(), (f"{path} missing: scripts/test-system builds the {name} launcher "
                                "(cargo build --release [--features streaming]) before pytest")
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
    def __init__(self, release: str, template: Path, workdir: Path, bins: dict[str, Path],
                 pki: Pki, **kw):
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
            self.write(f"{UNIT_DIR}/{unit}", (REPO / "systemd" / unit).read_text())
        self.write("/usr/lib/tmpfiles.d/swupdate-launcher.conf",
                   (REPO / "systemd/tmpfiles-swupdate-launcher.conf").read_text())
        self.write("/usr/lib/udev/rules.d/90-swupdate-local.rules",
                   (REPO / "systemd/90-swupdate-local.rules").read_text())
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
        data = (UNTOUCHED * (length // len(UNTOUCHED) + 1))[:length]
        self.write(TARGET, data)
        return data

    def target(self) -> bytes:
        return self.path(TARGET).read_bytes()

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
