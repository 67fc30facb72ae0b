# Validates swupdate-launcher's configuration of an image while it is built: inherit it in the image
# recipe (or IMAGE_CLASSES += "swupdate-launcher-check" in the distro). After the rootfs is
# assembled, the native launcher checks /etc/default/swupdate and every conf.d fragment of the rootfs
# exactly as the device will read them (`check --static`: what only exists at run time, UPDATE_FILE
# and URL, is skipped). A broken fragment, a missing key or a missing swupdate binary fails the image
# build instead of the device.
#
# Only where it applies, so that IMAGE_CLASSES can name it for every image of a distro:
# - only with one of the layer's DISTRO_FEATURES (TOLOMEO_UPDATE_ENABLED of
#   tolomeo-update-features.bbclass): without a flag, meta-swupdate's swupdate.sh starts swupdate
#   and sources conf.d as shell, and the launcher's rules do not apply to it;
# - only in an image that installs the launcher: SWUPDATE_LAUNCHER_CHECK = "auto" (the default)
#   looks for swupdate-launcher, or for swupdate, which pulls it in with a flag (RDEPENDS), among
#   the image's PACKAGE_INSTALL; "1" always checks (a package group brings the launcher in), "0"
#   never. An initramfs or any other image without them neither runs the check nor depends on
#   swupdate-launcher-native (and so on rust-native).
# At run time the check still looks for the launcher in the rootfs and only notes its absence.

inherit tolomeo-update-features

SWUPDATE_LAUNCHER_CHECK ??= "auto"
SWUPDATE_LAUNCHER_CHECK_PACKAGES ??= "swupdate-launcher swupdate"
SWUPDATE_LAUNCHER_CHECK_ARGS ??= "check --static"

def swupdate_launcher_check_wanted(d):
    """True when this image's rootfs is checked (see the header)."""
    if not d.getVar('TOLOMEO_UPDATE_ENABLED'):
        return False
    mode = d.getVar('SWUPDATE_LAUNCHER_CHECK')
    if mode == 'auto':
        installed = set((d.getVar('PACKAGE_INSTALL') or '').split())
        return bool(installed & set(d.getVar('SWUPDATE_LAUNCHER_CHECK_PACKAGES').split()))
    return bb.utils.to_boolean(mode)

SWUPDATE_LAUNCHER_CHECK_ENABLED = "${@'1' if swupdate_launcher_check_wanted(d) else ''}"

do_rootfs[depends] += "${@'swupdate-launcher-native:do_populate_sysroot' if d.getVar('SWUPDATE_LAUNCHER_CHECK_ENABLED') else ''}"

swupdate_launcher_check_rootfs[doc] = "Runs the native swupdate-launcher check --static on IMAGE_ROOTFS"
swupdate_launcher_check_rootfs() {
    if [ ! -e ${IMAGE_ROOTFS}${bindir}/swupdate-launcher ]; then
        bbnote "swupdate-launcher is not in this image: nothing to check"
        return 0
    fi
    swupdate-launcher --root ${IMAGE_ROOTFS} ${SWUPDATE_LAUNCHER_CHECK_ARGS} \
        || bbfatal "swupdate-launcher check failed on ${IMAGE_ROOTFS} (exit $?): see the message above"
}

ROOTFS_POSTPROCESS_COMMAND:append = "${@' swupdate_launcher_check_rootfs' if d.getVar('SWUPDATE_LAUNCHER_CHECK_ENABLED') else ''}"
