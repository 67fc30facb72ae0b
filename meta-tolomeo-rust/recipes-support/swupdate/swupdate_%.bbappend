# meta-tolomeo-rust: swupdate is started by swupdate-launcher, not by swupdate.sh.
#
# Nothing here applies until the product opts in (Yocto Project Compatible): the class, which
# defines the override "tolomeo-update", is inherited only when DISTRO_FEATURES has one of the
# layer's flags (TOLOMEO_UPDATE_FEATURES in classes/tolomeo-update-features.bbclass: update-ota,
# update-ota-streaming, update-local), and every statement below is guarded by that override.
# Without a flag, swupdate is exactly meta-swupdate's: its files, its variables, its task signatures
# (tests/yocto/test_inert.py compares them with a build without the layer).
#
# With a flag, swupdate is built to do what the launcher asks of it:
# - signed images, with the algorithm of SWUPDATE_LAUNCHER_SIGNING (cms by default): the launcher
#   always passes -k, which a swupdate without CONFIG_SIGNED_IMAGES (meta-swupdate's defconfig)
#   refuses, so every update would fail;
# - update-ota-streaming (SWUPDATE_SOURCE = "download"): swupdate's downloader (-d), with TLS;
# - with systemd: CONFIG_SYSTEMD, so that swupdate sends READY=1 (the launcher execs it in place:
#   same PID, same NOTIFY_SOCKET).
# meta-swupdate merges every *.cfg of SRC_URI into its defconfig (merge_config.sh): adding the
# fragment is enough. Each fragment ends with a newline, which its parse-time DEPENDS scan needs.
#
# And what only exists to run swupdate.sh, or assumes that swupdate.service is a long-lived daemon,
# is removed or replaced (the swupdate-launcher package ships the units instead; no file is in two
# packages):
# - swupdate.sh, swupdate's swupdate.service and swupdate.socket (the socket would start the OTA
#   install on every IPC client connection), the SysV script, 90-start-progress (a shell command:
#   the launcher parses conf.d, never runs it);
# - swupdate-usb: its unit Requires=swupdate.service, so a USB stick would start the OTA install
#   with whatever descriptor.env holds, and its rule would start it. Both are removed; update-local
#   ships the launcher's swupdate-local@.service and 90-swupdate-local.rules instead, which verify
#   and install the medium's .swu. The package stays (empty) as a transition: it pulls in the
#   launcher, so an image that installed swupdate-usb keeps a working USB update with update-local;
# - swupdate-progress.service: replaced (same package, same name) by one that runs from boot and
#   is ordered before swupdate.service (files/swupdate-progress.service says why);
# - swupdate-www's conf.d/10-mongoose-args: SWUPDATE_WEBSERVER_ARGS is the long-lived daemon's,
#   and next to the one-shot source the flags configure the launcher refuses it (exit 65, every
#   update would fail). The web files stay; the webserver runs only in daemon mode, with a fragment
#   of the product's own.

inherit_defer ${@bb.utils.contains_any('DISTRO_FEATURES', 'update-ota update-ota-streaming update-local', 'tolomeo-update-features', '', d)}
require ${@bb.utils.contains_any('DISTRO_FEATURES', 'update-ota update-ota-streaming update-local', 'swupdate-kconfig-check.inc', '', d)}

FILESEXTRAPATHS:prepend:tolomeo-update := "${THISDIR}/files:"

SRC_URI:append:tolomeo-update = " \
    file://swupdate-signed-${SWUPDATE_LAUNCHER_SIGNING}.cfg \
    ${@'file://swupdate-download.cfg' if d.getVar('SWUPDATE_SOURCE') == 'download' else ''} \
    ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'file://swupdate-systemd.cfg', '', d)} \
"

do_install:append:tolomeo-update() {
    # swupdate-launcher replaces the shell loader and the units that started it.
    rm -f ${D}${libdir}/swupdate/swupdate.sh
    rm -f ${D}${systemd_system_unitdir}/swupdate.service
    rm -f ${D}${systemd_system_unitdir}/swupdate.socket
    # The SysV script only runs swupdate.sh.
    rm -f ${D}${sysconfdir}/init.d/swupdate
    rmdir --ignore-fail-on-non-empty ${D}${sysconfdir}/init.d
    # A shell command (exec swupdate-progress &), which the launcher refuses.
    rm -f ${D}${libdir}/swupdate/conf.d/90-start-progress
    # The daemon's webserver arguments, which the launcher refuses next to a one-shot source.
    rm -f ${D}${libdir}/swupdate/conf.d/10-mongoose-args
    # swupdate-usb would start the OTA unit (Requires=swupdate.service) for every USB stick.
    rm -f ${D}${systemd_system_unitdir}/swupdate-usb@.service
    rm -f ${D}${sysconfdir}/udev/rules.d/swupdate-usb.rules
    if [ -d ${D}${sysconfdir}/udev/rules.d ]; then
        rmdir --ignore-fail-on-non-empty ${D}${sysconfdir}/udev/rules.d ${D}${sysconfdir}/udev
    fi
    # The progress reporter, started at boot and ordered before the one-shot install.
    sed -e 's#@BINDIR@#${bindir}#g' -e 's#@SWUPDATE_PROGRESS_ARGS@#${SWUPDATE_PROGRESS_ARGS}#g' \
        ${UNPACKDIR}/swupdate-progress.service > ${D}${systemd_system_unitdir}/swupdate-progress.service
    chmod 0644 ${D}${systemd_system_unitdir}/swupdate-progress.service
}

# Neither swupdate nor swupdate-usb has a unit left; swupdate-progress keeps its (replaced) one.
SYSTEMD_PACKAGES:remove:tolomeo-update = "${PN} ${PN}-usb"
# The SysV script is gone: no update-rc.d postinst for it.
INHIBIT_UPDATERCD_BBCLASS:tolomeo-update = "1"

# An image that installs swupdate the usual way (IMAGE_INSTALL += "swupdate") gets the launcher:
# without it nothing would start swupdate any more.
RDEPENDS:${PN}:append:tolomeo-update = " swupdate-launcher"
# swupdate-usb is an empty transition package now (see above).
ALLOW_EMPTY:${PN}-usb:tolomeo-update = "1"
RDEPENDS:${PN}-usb:tolomeo-update = "swupdate-launcher"
