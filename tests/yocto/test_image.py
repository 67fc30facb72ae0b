"""The image check (classes/swupdate-launcher-check.bbclass) in oe-core's real image recipes:
wired only where the launcher is in the image, and only then does do_rootfs depend on the native
launcher (and so on rust-native); its rootfs function run with exec_func on a rootfs made of the
packages the real do_install and package split produced (test_install.py)."""

import os
import shutil

import pytest

import bb.build  # noqa: E402
import bb.process  # noqa: E402
import bb.data  # noqa: E402

from conftest import IMAGE_RECIPES
from test_combinations import KEY

MINIMAL, INITRAMFS = IMAGE_RECIPES
NATIVE = "swupdate-launcher-native:do_populate_sysroot"
CHECK = "swupdate_launcher_check_rootfs"


def image(session, recipe, combo, install="", **extra):
    # The distro names the class for every image, as the layer README shows.
    image_classes = session.tinfoil.config_data.getVar("IMAGE_CLASSES") or ""
    extra = {**KEY, "IMAGE_CLASSES": image_classes + " swupdate-launcher-check", **extra}
    if install:
        extra["IMAGE_INSTALL:append"] = " " + install
    d, messages = session.parse(recipe, combo, True, **extra)
    assert messages == []
    return d


def wired(d):
    return NATIVE in (d.getVarFlag("do_rootfs", "depends") or "").split(), CHECK in d.getVar("ROOTFS_POSTPROCESS_COMMAND").split()


@pytest.mark.parametrize("install", ["swupdate", "swupdate-launcher"])
def test_an_image_with_the_launcher_is_checked_and_depends_on_the_native_launcher(session, install):
    assert wired(image(session, MINIMAL, ("update-ota",), install)) == (True, True)


def test_an_image_without_the_launcher_neither_runs_the_check_nor_needs_rust(session):
    assert wired(image(session, MINIMAL, ("update-ota",))) == (False, False)
    assert wired(image(session, INITRAMFS, ("update-ota",))) == (False, False)


def test_without_a_flag_no_image_is_checked(session):
    assert wired(image(session, MINIMAL, (), "swupdate")) == (False, False)


def test_a_product_can_force_the_check_for_a_package_group(session):
    d = image(session, INITRAMFS, ("update-ota",), SWUPDATE_LAUNCHER_CHECK="1")
    assert wired(d) == (True, True)


@pytest.fixture
def rootfs(installs, tmp_path):
    from test_install import os_release
    built = installs(("update-ota",), True)
    root = tmp_path / "rootfs"
    for recipe, packages in ((built.swupdate, ("swupdate", "swupdate-progress")), (built.launcher, ("swupdate-launcher",)),
                             (built.conf, ("swupdate-launcher-conf",))):
        for package in packages:
            shutil.copytree(recipe.pkgdest / package, root, symlinks=True, dirs_exist_ok=True)
    os_release(root)
    return root


@pytest.fixture
def image_d(session, rootfs, launcher_binary, tmp_path):
    d = bb.data.createCopy(image(session, MINIMAL, ("update-ota",), "swupdate"))
    bindir = tmp_path / "native-bin"
    bindir.mkdir()
    os.symlink(launcher_binary, bindir / "swupdate-launcher")  # what the native sysroot gives do_rootfs
    d.setVar("WORKDIR", str(tmp_path / "work"))
    os.makedirs(d.getVar("T"))
    d.setVar("IMAGE_ROOTFS", str(rootfs))
    d.setVar("PATH", "%s:%s" % (bindir, os.environ["PATH"]))
    return d


from test_install import installs  # noqa: E402,F401  (the fixture)


def test_the_rootfs_check_passes_on_the_image_the_packages_make(image_d):
    bb.build.exec_func(CHECK, image_d)


def test_the_rootfs_check_fails_the_image_on_a_broken_fragment(image_d, rootfs):
    (rootfs / "usr/lib/swupdate/conf.d/50-broken").write_text("SWUPDATE_SOURCE=$(reboot)\n")
    with pytest.raises((bb.BBHandledException, bb.process.ExecutionError)):  # bbfatal: exit 1
        bb.build.exec_func(CHECK, image_d)
