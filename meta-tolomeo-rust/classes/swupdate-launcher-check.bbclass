# Validates swupdate-launcher's configuration of an image while it is built: inherit it in the image
# recipe (or IMAGE_CLASSES += "swupdate-launcher-check" in the distro). After the rootfs is
# assembled, the native launcher checks /etc/default/swupdate and every conf.d fragment of the rootfs
# exactly as the device will read them (`check --static`: what only exists at run time, UPDATE_FILE
# and URL, is skipped). A broken fragment, a missing key or a missing swupdate binary fails the image
# build instead of the device.
#
# Only when the launcher is wired, i.e. with one of the layer's DISTRO_FEATURES (the override
# "tolomeo-update" of tolomeo-update-features.bbclass). Without a flag, meta-swupdate's swupdate.sh
# starts swupdate and sources conf.d as shell: the launcher's rules do not apply to it, and the class
# adds neither the check nor the native launcher to the image.

inherit tolomeo-update-features

do_rootfs[depends] += "${@'swupdate-launcher-native:do_populate_sysroot' if d.getVar('TOLOMEO_UPDATE_OVERRIDE') else ''}"

SWUPDATE_LAUNCHER_CHECK_ARGS ?= "check --static"

swupdate_launcher_check_rootfs[doc] = "Runs the native swupdate-launcher check --static on IMAGE_ROOTFS"
swupdate_launcher_check_rootfs() {
    if [ ! -e ${IMAGE_ROOTFS}${bindir}/swupdate-launcher ]; then
        bbnote "swupdate-launcher is not in this image: nothing to check"
        return 0
    fi
    swupdate-launcher --root ${IMAGE_ROOTFS} ${SWUPDATE_LAUNCHER_CHECK_ARGS} \
        || bbfatal "swupdate-launcher check failed on ${IMAGE_ROOTFS} (exit $?): see the message above"
}

ROOTFS_POSTPROCESS_COMMAND:append:tolomeo-update = " swupdate_launcher_check_rootfs"
