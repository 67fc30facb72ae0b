# meta-tolomeo-rust: swupdate is started by swupdate-launcher, not by swupdate.sh.
#
# Nothing here applies until the product opts in (Yocto Project Compatible): the class, which
# defines the override "tolomeo-update", is inherited only when DISTRO_FEATURES has one of the
# layer's flags (TOLOMEO_UPDATE_FEATURES in classes/tolomeo-update-features.bbclass: update-ota,
# update-ota-streaming, update-local), and every statement below is guarded by that override.
# Without a flag, swupdate is exactly meta-swupdate's: its files, its variables, its task signatures.
#
# With a flag:
# - update-ota-streaming (SWUPDATE_SOURCE = "download", from tolomeo-update-features.bbclass) turns
#   on swupdate's downloader (-d), which the launcher's download mode uses;
# - with systemd, swupdate is built with CONFIG_SYSTEMD so that it sends READY=1, which a Type=notify
#   unit waits for (the launcher execs swupdate in place: same PID, same NOTIFY_SOCKET);
# - swupdate.sh and what only exists to run it (swupdate's own swupdate.service, the socket that
#   activates that service, the SysV init script, the conf.d snippet that is a shell command) are
#   not installed: the swupdate-launcher package ships the units instead. No file is installed by
#   both packages.
#
# meta-swupdate merges every *.cfg of SRC_URI into its defconfig (merge_config.sh): adding the
# fragment is enough. Each fragment ends with a newline, which its parse-time DEPENDS scan needs.

inherit_defer ${@bb.utils.contains_any('DISTRO_FEATURES', 'update-ota update-ota-streaming update-local', 'tolomeo-update-features', '', d)}

FILESEXTRAPATHS:prepend:tolomeo-update := "${THISDIR}/files:"

SRC_URI:append:tolomeo-update = " \
    ${@'file://swupdate-download.cfg' if d.getVar('SWUPDATE_SOURCE') == 'download' else ''} \
    ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'file://swupdate-systemd.cfg', '', d)} \
"

do_install:append:tolomeo-update() {
    # swupdate-launcher replaces the shell loader and the units that started it.
    rm -f ${D}${libdir}/swupdate/swupdate.sh
    rm -f ${D}${systemd_system_unitdir}/swupdate.service
    # meta-swupdate's swupdate.socket activates swupdate.service, which is now the launcher's
    # one-shot service: a client connecting to swupdate's IPC socket must not start an update.
    rm -f ${D}${systemd_system_unitdir}/swupdate.socket
    # The SysV script only runs swupdate.sh.
    rm -f ${D}${sysconfdir}/init.d/swupdate
    # A shell command (exec swupdate-progress &), which the launcher refuses: it reads conf.d, never
    # runs it. With systemd, swupdate-progress.service does this job.
    rm -f ${D}${libdir}/swupdate/conf.d/90-start-progress
}

SYSTEMD_SERVICE:${PN}:remove:tolomeo-update = "swupdate.service swupdate.socket"
# The SysV script is gone: no update-rc.d postinst for it.
INHIBIT_UPDATERCD_BBCLASS:tolomeo-update = "1"
