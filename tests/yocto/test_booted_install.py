"""What the layer installs, booted: for each flag combination with systemd that ships a unit, the
packages that do_install and oe-core's package split produced (test_install.py's `installs`) are
put onto a Debian sid root, which is booted under systemd-nspawn and checked as a device would be.

The device is the layer's packages and nothing of Debian's packaging of swupdate but its programs
and library: swupdate's `make install` cannot run here (the recipe's programs are stand-ins, see
test_install.MAKE_INSTALL), so Debian's real swupdate binary stays, and every other file Debian's
swupdate package ships (its units, swupdate.sh, the SysV script, tmpfiles/sysusers) goes: a device
built from the layer has none of them. Sid's swupdate is 2026.05.1, wrynose's release; whinlatter
(2025.12) runs on the same sid root, since the units, the configuration and the digest-provider
requirement of 2025.12+ do not differ between the two (2025.12 added the providers; sid is the
only Debian with a 2025.12+ swupdate).

The product's key is the layer test's own (conftest.product_layer: a self-signed certificate and
its private key in the build directory): the .swu is signed with it, so the certificate the layer
installed at /etc/swupdate/public.pem is the one that verifies it.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PRODUCT_KEY_NAME, REPO, WORK, combo_id
from test_install import installs  # noqa: F401  (the fixture: do_install + package split per combination)

sys.path.insert(0, str(REPO / "tests" / "python"))
from support.container import debian_root  # noqa: E402
from support.device import BOARD, HW_REVISION, TARGET, Device, device_workdir, handoff, url  # noqa: E402
from support.swu import Pki, build_swu  # noqa: E402

# The combinations with systemd that ship a unit (without systemd, or without a flag, no unit).
BOOTED = [("update-ota",), ("update-ota", "update-ota-streaming"), ("update-local",),
          ("update-ota", "update-ota-streaming", "update-local")]
BOOTED_IDS = [combo_id(c, True) for c in BOOTED]

# The stand-ins of test_install.MAKE_INSTALL: Debian's real programs and library are used instead.
STAND_IN_PREFIXES = ("/usr/bin/", "/usr/lib/libswupdate.so", "/usr/include/")
# Debian's swupdate package keeps only these (its real programs); its packaging goes.
DEBIAN_KEEP_PREFIXES = ("/usr/bin/", "/usr/share/")
# Packages no device installs (debug symbols, headers, sources).
NOT_ON_A_DEVICE = ("-dbg", "-dev", "-staticdev", "-src", "-doc", "-locale")


def product_pki():
    """The product's signer: the key pair conftest.product_layer made for the layer's parse."""
    cert = WORK / "meta-product" / "recipes-support" / "swupdate-launcher" / "files" / PRODUCT_KEY_NAME
    key = WORK / "product-private.pem"
    assert cert.is_file() and key.is_file(), "conftest.product_layer writes the product's key pair"
    return Pki(key=key, cert=cert)


def device_packages(recipe):
    return [p for p in recipe.d.getVar("PACKAGES").split() if not p.endswith(NOT_ON_A_DEVICE)]


def strip_debian_swupdate_packaging(dev):
    """Removes what Debian's swupdate package ships besides its programs (units, swupdate.sh, SysV
    script, tmpfiles/sysusers) and its unit symlinks in /etc: the device gets the layer's files."""
    listing = dev.path("/var/lib/dpkg/info/swupdate.list").read_text().splitlines()
    for path in listing:
        p = dev.path(path)
        if path.startswith(DEBIAN_KEEP_PREFIXES) or not (p.is_file() or p.is_symlink()):
            continue
        p.unlink()
    for link in dev.path("/etc/systemd/system").rglob("swupdate*"):
        if link.is_symlink():
            link.unlink()


def install_packages(dev, launcher, swupdate, conf):
    """Copies the files of the layer's packages into the root (as the package manager would at
    rootfs time) and returns the units the packages enable (SYSTEMD_AUTO_ENABLE = enable)."""
    enabled, disabled = [], []
    for recipe, packages in ((launcher, ["swupdate-launcher"]), (conf, ["swupdate-launcher-conf"]),
                             (swupdate, device_packages(swupdate))):
        for package in packages:
            for path in sorted(recipe.packages[package]):
                if recipe is swupdate and path.startswith(STAND_IN_PREFIXES):
                    continue
                src = recipe.pkgdest / package / path.lstrip("/")
                dst = dev.path(path)
                dst.parent.mkdir(parents=True, exist_ok=True)
                if dst.is_symlink() or dst.exists():
                    dst.unlink()
                if src.is_symlink():
                    os.symlink(os.readlink(src), dst)
                else:
                    shutil.copy2(src, dst)
            if package in (recipe.d.getVar("SYSTEMD_PACKAGES") or "").split():
                units = (recipe.d.getVar("SYSTEMD_SERVICE:" + package) or "").split()
                auto = recipe.d.getVar("SYSTEMD_AUTO_ENABLE:" + package) or recipe.d.getVar("SYSTEMD_AUTO_ENABLE")
                (enabled if auto == "enable" else disabled).extend(units)
    return enabled, disabled


def provision_product(dev):
    """What the product adds next to the layer: the board swupdate checks the .swu against, and the
    device's firmware release (os-release's VERSION_ID, the launcher's anti-rollback floor)."""
    lib_confd = dev.path("/usr/lib/swupdate/conf.d")
    lib_confd.mkdir(parents=True, exist_ok=True)
    dev.write("/usr/lib/swupdate/conf.d/20-hardware", f'SWUPDATE_ARGS="-v -H {BOARD}:{HW_REVISION}"\n')
    dev.path("/etc/swupdate/conf.d").mkdir(parents=True, exist_ok=True)
    dev.path("/var/lib/swupdate").mkdir(parents=True, exist_ok=True)
    dev.set_running_version("1.0")
    dev.prefill_target()


@pytest.fixture(scope="module")
def sid_root():
    return debian_root("sid")


@pytest.fixture
def booted(installs, sid_root):  # noqa: F811
    made = []

    def make(combo, setup=None):
        built = installs(combo, True)
        launcher, swupdate = built.launcher, built.swupdate
        dev = Device("sid", sid_root, device_workdir(), {}, product_pki())
        dev.__enter__()
        made.append(dev)
        strip_debian_swupdate_packaging(dev)
        enabled, disabled = install_packages(dev, launcher, swupdate, built.conf)
        # The packages' postinst at rootfs time (systemd.bbclass): `systemctl --root enable`.
        for unit in enabled:
            subprocess.run(["systemctl", "--root", str(dev.root), "enable", unit], check=True, capture_output=True)
        provision_product(dev)
        if setup:
            setup(dev)
        dev.boot()
        return dev, launcher, swupdate, enabled, disabled

    yield make
    for dev in made:
        workdir = dev.root.parent
        dev.__exit__(None, None, None)
        dev.log.unlink(missing_ok=True)
        try:
            workdir.rmdir()
        except OSError:
            pass


def failed_units(dev):
    out = dev.run(["systemctl", "list-units", "--failed", "--plain", "--no-legend", "--all"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def serve_update(dev, swu_path):
    dev.write("/usr/lib/swupdate/conf.d/40-http", "SWUPDATE_ALLOW_HTTP=yes\nSWUPDATE_DOWNLOAD_RETRIES=1\n"
                                                   "SWUPDATE_DOWNLOAD_TIMEOUT=20\n")
    dev.path("/srv/www").mkdir(parents=True, exist_ok=True)
    shutil.copy(swu_path, dev.path("/srv/www/update.swu"))


@pytest.mark.parametrize("combo", BOOTED, ids=BOOTED_IDS)
def test_the_layers_packages_boot_and_update_as_on_a_device(booted, tmp_path, combo):
    swu = build_swu(tmp_path / "update.swu", product_pki(), TARGET)
    streaming = "update-ota-streaming" in combo

    def setup(dev):
        if "update-ota" in combo:
            if streaming:
                serve_update(dev, swu.path)
            else:
                shutil.copy(swu.path, dev.path("/var/lib/swupdate/update.swu"))

    dev, launcher, swupdate, enabled, disabled = booted(combo, setup)

    # The key the layer installed is the product's certificate, the one that signed the .swu.
    assert dev.path("/etc/swupdate/public.pem").read_bytes() == product_pki().cert.read_bytes()

    # No failed unit after boot (ours or any the packages brought).
    assert failed_units(dev) == [], dev.run(["journalctl", "-b", "--no-pager", "-q", "-p", "warning"]).stdout

    # The units the packages enable are enabled; the launcher's are started on demand only.
    assert enabled, "swupdate-progress.service is enabled by its package"
    for unit in enabled:
        assert dev.run(["systemctl", "is-enabled", unit], check=False).stdout.strip() == "enabled", unit
        assert dev.run(["systemctl", "is-active", unit], check=False).stdout.strip() == "active", unit
    for unit in disabled:
        assert dev.run(["systemctl", "is-enabled", unit], check=False).stdout.strip() != "enabled", unit
        dev.run(["systemctl", "cat", unit])

    # swupdate 2025.12+ with a CMS certificate: the layer names the verifier (Debian's 2026.05.1
    # registers several and defaults to RSA, which crashes on the certificate).
    assert "SWUPDATE_DIGEST_PROVIDER=opensslCMS\n" in dev.path("/etc/default/swupdate").read_text()

    # The image's check (what swupdate-launcher-check.bbclass runs on the rootfs), on the device.
    check = dev.run(["swupdate-launcher", "check", "--static"], check=False)
    assert check.returncode == 0, check.stdout + check.stderr

    if "update-ota" in combo:
        if streaming:
            dev.serve_http("/srv/www")
            handoff(dev, url())
        # What the agent may run before it starts the unit: the whole configuration, with the
        # update (UPDATE_FILE, or the URL of descriptor.env) in place.
        check = dev.run(["swupdate-launcher", "check", "--one-shot"], check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        start = dev.start()
        result = dev.result()
        log = dev.run(["journalctl", "-u", "swupdate.service", "--no-pager", "-q", "-o", "cat"], check=False).stdout
        assert start.returncode == 0 and result["ExecMainStatus"] == "0", f"{start.stderr}\n{result}\n{log}"
        assert dev.target() == swu.image

    if "update-local" in combo:
        # The medium as swupdate-local@ sees it once mounted: one .swu at its top.
        dev.write("/srv/medium/update.swu", swu.path.read_bytes())
        check = dev.run(["swupdate-launcher", "check", "--update-medium", "/srv/medium"], check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        dev.run(["systemctl", "cat", "swupdate-local@.service"])
        dev.run(["systemctl", "cat", "swupdate-local@sdz1.service"])
        rules = dev.path(launcher.d.getVar("nonarch_base_libdir") + "/udev/rules.d/90-swupdate-local.rules")
        assert rules.read_text() == (REPO / "systemd" / "90-swupdate-local.rules").read_text()
        assert "swupdate-local@" in rules.read_text()
