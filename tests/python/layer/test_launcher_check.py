"""The configuration the layer installs is one the launcher accepts, and an image build checks it.

The rootfs of each combination is what an image with IMAGE_INSTALL += "swupdate-launcher" gets: the
packages swupdate-launcher (with the product's key) and swupdate (it RDEPENDS on it; the stub of
meta-swupdate's recipe, with the bbappend), checked by this
repository's launcher (target/debug, built by the session fixture) as
`swupdate-launcher --root ROOTFS check --static`, the command swupdate-launcher-check.bbclass runs."""

import os
import subprocess
from pathlib import Path

import bb.process
import pytest

import bitbake_harness as h

# With a flag: without one the launcher installs no configuration and the check class does nothing.
OPTED_IN = [(c, s) for c in h.VALID if h.opted_in(c) for s in (True, False)]
IDS = [h.combo_id(c, s) for c, s in OPTED_IN]


def device_rootfs(rootfs, installs, combo, systemd, packages=("swupdate-launcher", "swupdate")):
    _, launcher, launcher_d, swupdate, swupdate_d = installs(combo, systemd)
    assert "os-release" in launcher.getVar("RDEPENDS:swupdate-launcher").split()
    # What oe-core's os-release package (an RDEPENDS of the launcher) installs: the running version
    # that anti-rollback reads by default.
    os_release = Path(rootfs) / "etc" / "os-release"
    os_release.parent.mkdir(parents=True, exist_ok=True)
    os_release.write_text('ID=stubdistro\nNAME="Stub Distro"\nVERSION_ID=1.0\n')
    if "swupdate-launcher" in packages:
        h.install_packages(rootfs, launcher, launcher_d, ["swupdate-launcher"])
    if "swupdate" in packages:
        h.install_packages(rootfs, swupdate, swupdate_d, ["swupdate"])
    return rootfs


def rootfs_of(installs, combo, systemd, tmp_path):
    return device_rootfs(tmp_path / "rootfs", installs, combo, systemd)


def add_fragment(rootfs, path, text):
    fragment = rootfs / path
    fragment.parent.mkdir(parents=True, exist_ok=True)
    fragment.write_text(text)


def check(binary, rootfs):
    return subprocess.run(
        [str(binary), "--root", str(rootfs), "check", "--static"], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("combo,systemd", OPTED_IN, ids=IDS)
def test_installed_configuration_passes_the_launchers_static_check(installs, launcher_binary, tmp_path, combo, systemd):
    result = check(launcher_binary, rootfs_of(installs, combo, systemd, tmp_path))
    assert result.returncode == 0, result.stderr


def test_the_static_check_fails_on_a_broken_fragment_of_the_image(installs, launcher_binary, tmp_path):
    rootfs = rootfs_of(installs, ("update-ota",), True, tmp_path)
    add_fragment(rootfs, "etc/swupdate/conf.d/50-broken", "SWUPDATE_ARGS=$(reboot)\n")
    result = check(launcher_binary, rootfs)
    assert result.returncode == 65, result.stderr


def test_the_static_check_fails_when_the_key_the_default_file_names_is_missing(installs, launcher_binary, tmp_path):
    rootfs = rootfs_of(installs, ("update-ota",), True, tmp_path)
    (rootfs / "etc/swupdate/public.pem").unlink()
    assert check(launcher_binary, rootfs).returncode == 66


# --- swupdate-launcher-check.bbclass -------------------------------------------------------------------

@pytest.fixture
def image_with(new_build, launcher_on_path):
    """image_with(combo, systemd): the stub image recipe (inherits swupdate-launcher-check), with the
    native launcher on PATH."""

    def make(combo, systemd):
        build = new_build(h.local_conf(h.distro_features(combo, systemd)))
        d = build.image()[""]
        d.setVar("PATH", "%s:/usr/sbin:/usr/bin:/sbin:/bin" % launcher_on_path)
        d.setVarFlag("PATH", "export", "1")
        for var in ("WORKDIR", "T", "IMAGE_ROOTFS"):
            os.makedirs(d.getVar(var), exist_ok=True)
        return d

    return make


@pytest.fixture
def image(image_with):
    return image_with(("update-ota",), True)


def test_the_check_class_adds_its_check_to_the_rootfs_post_processing(image):
    assert "swupdate_launcher_check_rootfs" in image.getVar("ROOTFS_POSTPROCESS_COMMAND").split()


def test_the_check_class_makes_do_rootfs_depend_on_the_native_launcher(image):
    depends = image.getVarFlag("do_rootfs", "depends").split()
    assert "swupdate-launcher-native:do_populate_sysroot" in depends


def test_the_image_build_passes_with_the_installed_configuration(image, installs):
    device_rootfs(Path(image.getVar("IMAGE_ROOTFS")), installs, ("update-ota",), True)
    h.run_task("do_rootfs", image)


def test_a_broken_fragment_fails_the_image_build(image, installs, capfd):
    rootfs = device_rootfs(Path(image.getVar("IMAGE_ROOTFS")), installs, ("update-ota",), True)
    add_fragment(rootfs, "usr/lib/swupdate/conf.d/50-broken", "exec /usr/bin/swupdate-progress &\n")
    with pytest.raises(bb.process.ExecutionError) as failed:
        h.run_task("do_rootfs", image)
    assert "exit code 1" in str(failed.value)
    output = capfd.readouterr().out
    assert "swupdate-launcher check failed" in output
    assert "50-broken:1" in output


def test_an_image_without_the_launcher_is_not_checked(image, installs):
    rootfs = device_rootfs(Path(image.getVar("IMAGE_ROOTFS")), installs, ("update-ota",), True, ["swupdate"])
    add_fragment(rootfs, "usr/lib/swupdate/conf.d/50-broken", "exec /usr/bin/swupdate-progress &\n")
    h.run_task("do_rootfs", image)


@pytest.mark.parametrize("systemd", [True, False], ids=["systemd", "no-systemd"])
def test_without_a_flag_the_check_class_adds_neither_the_check_nor_the_native_launcher(image_with, systemd):
    image = image_with((), systemd)
    assert "swupdate_launcher_check_rootfs" not in image.getVar("ROOTFS_POSTPROCESS_COMMAND").split()
    assert "swupdate-launcher-native:do_populate_sysroot" not in (image.getVarFlag("do_rootfs", "depends") or "").split()


def test_without_a_flag_the_image_build_leaves_meta_swupdates_shell_fragments_alone(image_with, installs):
    # meta-swupdate's 90-start-progress is a shell command that its swupdate.sh runs (the launcher
    # refuses it, see test_a_broken_fragment_fails_the_image_build): without a flag swupdate.sh is
    # what starts swupdate, and the image with the launcher's binary in it still builds.
    image = image_with((), False)
    rootfs = device_rootfs(Path(image.getVar("IMAGE_ROOTFS")), installs, (), False)
    _, _, _, swupdate, swupdate_d = installs((), False)
    h.install_packages(rootfs, swupdate, swupdate_d, ["swupdate-progress"])
    assert (rootfs / "usr/bin/swupdate-launcher").is_file()
    assert (rootfs / "usr/lib/swupdate/conf.d/90-start-progress").is_file()
    assert (rootfs / "usr/lib/swupdate/swupdate.sh").is_file()
    h.run_task("do_rootfs", image)
