"""conf.d-examples booted: each example's files installed on the device as they are laid out
(etc/default/swupdate, usr/lib/swupdate/conf.d, etc/swupdate/conf.d, the /dev/null mask
included), with the launcher and the units, and started as on a device. Nothing of the examples
is rewritten: the tests bring what the examples name (the key at /etc/swupdate/public.pem, a
running version in os-release, an .swu for the example's board and selection, and for download
an HTTPS server that answers for updates.example.com with a CA the device trusts).

The layer's installed configuration (swupdate.default with the recipe's substitutions and the
00-tolomeo-source fragment for file and download) is what every other booted test runs on
(support/device.py: layer_topology, layer_source_fragment).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support.container import REPO
from support.device import TARGET, UPDATE_FILE
from support.swu import build_swu

EXAMPLES = REPO / "conf.d-examples"


def install_example(dev, name: str) -> None:
    root = EXAMPLES / name
    for path in sorted(root.rglob("*")):
        inside = "/" + str(path.relative_to(root))
        if path.is_symlink():
            target = dev.path(inside)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            target.symlink_to(os.readlink(path))
        elif path.is_file():
            dev.write(inside, path.read_bytes())


def example_device(make_device, name, **kw):
    def setup(dev):
        install_example(dev, name)
        if kw.get("also"):
            kw["also"](dev)
    return make_device(source=None, hardware=False, setup=setup,
                       variant=kw.get("variant", "plain"))


def test_file_example_installs_on_its_board_and_selection(make_device, pkis, tmp_path, compat):
    dev = example_device(make_device, "file")
    # etc/swupdate/conf.d/20-hardware: board myboard revision 1.1, selection stable,copy1.
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET, hardware=("1.1",),
                    selection=("stable", "copy1"))
    dev.write(UPDATE_FILE, swu.path.read_bytes())
    mark = dev.cursor()
    res = dev.start()
    assert res.returncode == 0, dev.unit_messages("swupdate.service", mark)
    assert dev.target() == swu.image
    _seen.setdefault(dev.release, set()).add("file")
    _record(dev.release, compat)


def tls_material(d: Path) -> dict[str, Path]:
    def ossl(*a):
        subprocess.run(["openssl", *a], check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "ca.key"),
         "-out", str(d / "ca.pem"), "-days", "2", "-subj", "/CN=example test CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(d / "srv.key"),
         "-out", str(d / "srv.csr"), "-subj", "/CN=updates.example.com")
    (d / "ext").write_text("subjectAltName=DNS:updates.example.com\nbasicConstraints=CA:FALSE\n"
                           "extendedKeyUsage=serverAuth\n")
    ossl("x509", "-req", "-in", str(d / "srv.csr"), "-CA", str(d / "ca.pem"), "-CAkey",
         str(d / "ca.key"), "-CAcreateserial", "-out", str(d / "srv.pem"), "-days", "2",
         "-extfile", str(d / "ext"))
    return {"ca": d / "ca.pem", "cert": d / "srv.pem", "key": d / "srv.key"}


def test_download_example_streams_its_descriptor_url_over_https(make_device, pkis, tmp_path,
                                                                compat):
    tls = tls_material(tmp_path)
    swu = build_swu(tmp_path / "u.swu", pkis["good"], TARGET)

    def also(dev):
        # No -H in this example: swupdate reads the board from /etc/hwrevision, as on a device.
        dev.write("/etc/hwrevision", "myboard 1.0\n")
        hosts = dev.path("/etc/hosts").read_text() if dev.path("/etc/hosts").exists() else ""
        dev.write("/etc/hosts", hosts + "127.0.0.1 updates.example.com\n")
        dev.write("/usr/local/share/ca-certificates/example-test-ca.crt", tls["ca"].read_bytes())
        dev.write("/root/tls/srv.pem", tls["cert"].read_bytes())
        dev.write("/root/tls/srv.key", tls["key"].read_bytes(), 0o600)
        dev.write("/srv/www/fleet/2026.11/product-image.swu", swu.path.read_bytes())
    # The example's 10-source is what update-ota-streaming ships: the streaming build.
    dev = example_device(make_device, "download", also=also, variant="streaming")
    dev.run(["update-ca-certificates"])
    dev.serve_http("/srv/www", port=443, tls=("/root/tls/srv.pem", "/root/tls/srv.key"))
    mark = dev.cursor()
    # The example's own descriptor.env is the agent's handoff.
    res = dev.start()
    assert res.returncode == 0, dev.unit_messages("swupdate.service", mark)
    assert dev.target() == swu.image
    assert not dev.path("/etc/swupdate/conf.d/descriptor.env").exists()
    _seen.setdefault(dev.release, set()).add("download")
    _record(dev.release, compat)


def test_daemon_example_runs_webserver_and_suricatta(make_device, compat):
    def also(dev):
        if dev.release == "bookworm":
            # 2022.12 has no -S (the example's 20-suricatta says so): the device's own fragment
            # of the same name shadows the image's, as a device with that release would.
            text = (EXAMPLES / "daemon/usr/lib/swupdate/conf.d/20-suricatta").read_text()
            dev.write("/etc/swupdate/conf.d/20-suricatta", text.replace("-S hawkbit ", ""))
    dev = example_device(make_device, "daemon", also=also)
    dev.path("/www").mkdir(exist_ok=True)
    mark = dev.cursor()
    res = dev.start("swupdate-daemon.service")
    log = dev.unit_messages("swupdate-daemon.service", mark)
    assert res.returncode == 0, log
    assert dev.result("swupdate-daemon.service")["ActiveState"] == "active", log
    # The webserver answers on the example's port 8080.
    probe = dev.run(["python3", "-c", (
        "import urllib.request, urllib.error\n"
        "try:\n"
        "    print(urllib.request.urlopen('http://127.0.0.1:8080/', timeout=5).status)\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code)\n")], check=False)
    assert probe.returncode == 0 and probe.stdout.strip().isdigit(), probe.stdout + probe.stderr
    # meta-swupdate's 90-start-progress, a shell command, is masked, not refused.
    argv = dev.run(["swupdate-launcher", "--daemon", "--print-argv"]).stdout
    assert "-w" in argv and "-u" in argv, argv
    _seen.setdefault(dev.release, set()).add("daemon")
    _record(dev.release, compat)


_seen: dict[str, set[str]] = {}


def _record(release, compat):
    if _seen[release] == {"file", "download", "daemon"}:
        compat(release, "examples")
