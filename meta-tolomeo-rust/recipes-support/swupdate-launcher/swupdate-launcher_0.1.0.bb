SUMMARY = "Starts SWUpdate without a shell: the replacement of meta-swupdate's swupdate.sh"
DESCRIPTION = "swupdate-launcher reads swupdate's conf.d fragments (parsed, never executed), \
               builds swupdate's argv and execs swupdate in place. With one of the update-* \
               DISTRO_FEATURES, the recipe also installs the path topology (/etc/default/swupdate), \
               the conf.d fragment that the flags select, the public key, and the systemd units \
               of the enabled features."
SECTION = "admin"
LICENSE = "MIT"
# The repository's LICENSE file, whole: edits of Cargo.toml or the README never touch its checksum.
LIC_FILES_CHKSUM = "file://LICENSE;md5=196a7b8b702dd7b359f397aa057459d9"

inherit cargo cargo-update-recipe-crates systemd tolomeo-update-features

# Sources: this repository holds the layer and the launcher side by side, and the layer is released
# with the launcher it builds. The recipe therefore takes the launcher's sources from the checkout
# the layer sits in (the repository top, three directories above this recipe's directory), as
# file:// entries found through FILESPATH: no branch, no SRCREV, no network, and the crates of
# swupdate-launcher-crates.inc are those of the Cargo.lock that is built (scripts/test checks the
# .inc against it). FILESEXTRAPATHS and FILESPATH are not part of any task signature (oe-core's
# BB_BASEHASH_IGNORE_VARS), and file checksums enter signatures without their directory: the
# build host's path of the checkout is in no signature, so sstate is shared between hosts.
# A product that fetches the launcher from a git mirror instead sets SWUPDATE_LAUNCHER_SRC_URI to
# "git://...;protocol=https;nobranch=1;destsuffix=${BP}" and SRCREV to the pinned commit, and
# regenerates swupdate-launcher-crates.inc from that commit's Cargo.lock (see the layer README).
# nooelint: oelint.vars.fileextrapaths,oelint.vars.outofcontext - the recipe itself finds the sources of its own repository (see above)
FILESEXTRAPATHS:prepend := "${@os.path.normpath(os.path.join(d.getVar('THISDIR'), '..', '..', '..'))}:"
SWUPDATE_LAUNCHER_SRC_URI ?= " \
    file://Cargo.toml;subdir=${BP} \
    file://Cargo.lock;subdir=${BP} \
    file://LICENSE;subdir=${BP} \
    file://src;subdir=${BP} \
    file://systemd;subdir=${BP} \
"

# The public key (or certificate) that swupdate checks signed images with: a file name found
# through FILESPATH (a product layer adds its directory with FILESEXTRAPATHS), or an absolute
# path. Required with update-ota or update-local (so whenever the launcher is wired, see below).
# Installed as SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH, which /etc/default/swupdate names.
SWUPDATE_LAUNCHER_PUBLIC_KEY ?= ""
SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH ?= "${sysconfdir}/swupdate/public.pem"

# File mode's default .swu: the agent stores the update there (or sets UPDATE_FILE in
# descriptor.env) before it starts swupdate.service.
SWUPDATE_LAUNCHER_UPDATE_FILE ?= "${localstatedir}/lib/swupdate/update.swu"

# The verifier swupdate checks the signature with, written to /etc/default/swupdate as
# SWUPDATE_DIGEST_PROVIDER (the launcher passes it as --digest-provider). swupdate 2025.12 added
# run-time providers, and a build that registers several of them (Debian's 2026.05.1) defaults to
# RSA, which cannot load a CMS certificate (2026.05.1 crashes on it): a CMS-signed image is then
# never installed. Both releases the layer claims ship 2025.12 or later, so CMS names its verifier
# by default; a product whose PREFERRED_VERSION_swupdate is older (no --digest-provider) gets none,
# and SWUPDATE_LAUNCHER_DIGEST_PROVIDER = "" turns it off. RSA and RSA-PSS builds register only
# their own verifier and need no name.
SWUPDATE_LAUNCHER_DIGEST_PROVIDER ?= "${@swupdate_launcher_digest_provider(d)}"

def swupdate_launcher_digest_provider(d):
    """opensslCMS for CMS signing on swupdate 2025.12 or later, else nothing."""
    if d.getVar('SWUPDATE_LAUNCHER_SIGNING') != 'cms':
        return ''
    preferred = (d.getVar('PREFERRED_VERSION_swupdate') or '').rstrip('%').split('+')[0]
    if preferred and preferred[0].isdigit() and bb.utils.vercmp_string(preferred, '2025.12') < 0:
        return ''
    return 'opensslCMS'

# The conf.d fragment with what the DISTRO_FEATURES decide. "00-" sorts it first: any fragment of
# the image or of the device (the agent's descriptor.env) overrides it.
SWUPDATE_LAUNCHER_FRAGMENT = "00-tolomeo-source"

# What each feature installs, from the systemd/ directory of the sources. Without systemd in
# DISTRO_FEATURES no unit and no udev rule is installed.
SWUPDATE_LAUNCHER_UNITS_OTA = "swupdate.service"
SWUPDATE_LAUNCHER_UNITS_LOCAL = "swupdate-local@.service"
SWUPDATE_LAUNCHER_UDEV_RULES_LOCAL = "90-swupdate-local.rules"

def swupdate_launcher_public_key(d):
    """SWUPDATE_LAUNCHER_PUBLIC_KEY without the file:// a user may have written in front of it."""
    key = (d.getVar('SWUPDATE_LAUNCHER_PUBLIC_KEY') or '').strip()
    return key[len('file://'):] if key.startswith('file://') else key

def swupdate_launcher_selected(d, feature, names):
    """names when feature and systemd are both in DISTRO_FEATURES, else nothing."""
    return names if bb.utils.contains('DISTRO_FEATURES', ['systemd', feature], True, False, d) else ''

SWUPDATE_LAUNCHER_UNITS = "${@swupdate_launcher_selected(d, 'update-ota', d.getVar('SWUPDATE_LAUNCHER_UNITS_OTA'))} \
                           ${@swupdate_launcher_selected(d, 'update-local', d.getVar('SWUPDATE_LAUNCHER_UNITS_LOCAL'))}"
SWUPDATE_LAUNCHER_UDEV_RULES = "${@swupdate_launcher_selected(d, 'update-local', d.getVar('SWUPDATE_LAUNCHER_UDEV_RULES_LOCAL'))}"
# /run/swupdate at boot (the units' RuntimeDirectory=, where swupdate's IPC clients look), with any unit.
SWUPDATE_LAUNCHER_TMPFILES = "${@'tmpfiles-swupdate-launcher.conf' if d.getVar('SWUPDATE_LAUNCHER_UNITS').strip() else ''}"
SWUPDATE_LAUNCHER_PUBLIC_KEY_LOCAL = "${@swupdate_launcher_public_key(d).lstrip('/')}"

SRC_URI = "${SWUPDATE_LAUNCHER_SRC_URI}"
# What the wiring installs (see do_install), only with a flag.
SRC_URI:append:tolomeo-update = " \
    file://swupdate.default \
    ${@'file://' + swupdate_launcher_public_key(d) if swupdate_launcher_public_key(d) else ''} \
"
S = "${UNPACKDIR}/${BP}"

# The crates of Cargo.lock (SRC_URI += ..., after the assignment above). Generated by
# meta-tolomeo-rust/scripts/update-crates-inc: the same text as `bitbake -c update_crates`.
require ${BPN}-crates.inc

# Cargo.toml's release profile strips the binary (strip = true: the standalone build's size budget,
# checked by the project's tests). In OE the build system strips and splits the debug info into
# ${PN}-dbg itself, and a binary that comes stripped fails do_package (already-stripped is in
# oe-core's ERROR_QA). Cargo reads profile settings from the environment, so the recipe turns
# stripping off and debug info on here, without touching the standalone profile.
export CARGO_PROFILE_RELEASE_STRIP = "false"
export CARGO_PROFILE_RELEASE_DEBUG = "true"

# With update-ota-streaming, ring's C and assembly are compiled by the cc crate from the vendored
# crates in ${CARGO_HOME}, a path that DEBUG_PREFIX_MAP (S, B, the sysroots) does not cover: their
# debug info would keep the work directory, and swupdate-launcher-dbg would fail do_package_qa
# (buildpaths). The cc crate compiles with CFLAGS (oe_cargo_fix_env exports it, and TARGET_CFLAGS,
# from CFLAGS, which has DEBUG_PREFIX_MAP); rustc gets the same map. Both map ${CARGO_HOME} where
# RUST_DEBUG_REMAP puts it (WORKDIR -> TARGET_DBGSRC_DIR), so a crate's C and Rust sources are in one place.
SWUPDATE_LAUNCHER_CARGO_HOME_DBGSRC = "${TARGET_DBGSRC_DIR}/${@os.path.relpath(d.getVar('CARGO_HOME'), d.getVar('WORKDIR'))}"
DEBUG_PREFIX_MAP:append = " -ffile-prefix-map=${CARGO_HOME}=${SWUPDATE_LAUNCHER_CARGO_HOME_DBGSRC}"
RUSTFLAGS:append = " --remap-path-prefix=${CARGO_HOME}=${SWUPDATE_LAUNCHER_CARGO_HOME_DBGSRC}"

# The launcher's cargo feature `streaming` (download mode's network preflight) exactly when
# update-ota-streaming is set. oe-core's cargo class has no variable for features: the recipe
# passes them to `cargo build` through CARGO_BUILD_FLAGS.
CARGO_FEATURES = "${@bb.utils.contains('DISTRO_FEATURES', 'update-ota-streaming', 'streaming', '', d)}"
CARGO_BUILD_FLAGS:append = " ${@'--features ' + ','.join(d.getVar('CARGO_FEATURES').split()) if d.getVar('CARGO_FEATURES').strip() else ''}"

# The wiring, only when the product opted in ("tolomeo-update": DISTRO_FEATURES has one of the
# flags, see tolomeo-update-features.bbclass). Without a flag the package holds the binary alone,
# like the native variant: meta-swupdate's swupdate.sh still starts swupdate and sources every
# file of swupdate's conf.d directories, so the launcher puts nothing there, and nothing starts it.
# A valid combination with a flag has update-ota or update-local, so the key is always set here.
do_install:append:class-target:tolomeo-update() {
    install -d ${D}${sysconfdir}/default
    sed -e 's#@BINDIR@#${bindir}#g' \
        -e 's#@LIBDIR@#${libdir}#g' \
        -e 's#@SYSCONFDIR@#${sysconfdir}#g' \
        -e 's#@PUBLIC_KEY@#${SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH}#g' \
        ${UNPACKDIR}/swupdate.default > ${D}${sysconfdir}/default/swupdate
    if [ -n "${SWUPDATE_LAUNCHER_DIGEST_PROVIDER}" ]; then
        echo "SWUPDATE_DIGEST_PROVIDER=${SWUPDATE_LAUNCHER_DIGEST_PROVIDER}" >> ${D}${sysconfdir}/default/swupdate
    fi
    install -d ${D}$(dirname ${SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH})
    install -m 0644 ${UNPACKDIR}/${SWUPDATE_LAUNCHER_PUBLIC_KEY_LOCAL} ${D}${SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH}

    install -d ${D}${libdir}/swupdate/conf.d ${D}${sysconfdir}/swupdate/conf.d
    {
        echo "# Installed by swupdate-launcher (meta-tolomeo-rust) from DISTRO_FEATURES."
        echo "# Override it with a fragment of the same name in ${sysconfdir}/swupdate/conf.d."
        echo "SWUPDATE_SOURCE=${SWUPDATE_SOURCE}"
        if [ "${SWUPDATE_SOURCE}" = file ]; then
            echo "UPDATE_FILE=${SWUPDATE_LAUNCHER_UPDATE_FILE}"
        fi
    } > ${D}${libdir}/swupdate/conf.d/${SWUPDATE_LAUNCHER_FRAGMENT}
    chmod 0644 ${D}${libdir}/swupdate/conf.d/${SWUPDATE_LAUNCHER_FRAGMENT}

    for unit in ${SWUPDATE_LAUNCHER_UNITS}; do
        install -d ${D}${systemd_system_unitdir}
        install -m 0644 ${S}/systemd/$unit ${D}${systemd_system_unitdir}/$unit
    done
    for conf in ${SWUPDATE_LAUNCHER_TMPFILES}; do
        install -d ${D}${nonarch_libdir}/tmpfiles.d
        install -m 0644 ${S}/systemd/$conf ${D}${nonarch_libdir}/tmpfiles.d/swupdate-launcher.conf
    done
    for rule in ${SWUPDATE_LAUNCHER_UDEV_RULES}; do
        install -d ${D}${nonarch_base_libdir}/udev/rules.d
        install -m 0644 ${S}/systemd/$rule ${D}${nonarch_base_libdir}/udev/rules.d/$rule
    done
}

FILES:${PN} += "${libdir}/swupdate/conf.d/${SWUPDATE_LAUNCHER_FRAGMENT} \
                ${nonarch_libdir}/tmpfiles.d \
                ${nonarch_base_libdir}/udev/rules.d \
               "
CONFFILES:${PN}:append:tolomeo-update = " ${sysconfdir}/default/swupdate"
# swupdate is what it execs; os-release (VERSION_ID) is where it reads the running version for
# anti-rollback (-N) by default (SWUPDATE_VERSION_FILE, see the launcher's docs/variables.md).
RDEPENDS:${PN}:append:class-target = " swupdate os-release"
# With a flag, swupdate.service moves from meta-swupdate's swupdate package to this one (same path,
# another unit): on a device upgraded from a meta-swupdate image, the package manager lets this
# package take the file over instead of refusing the upgrade on a file clash.
RREPLACES:${PN}:append:class-target:tolomeo-update = " swupdate"

# The units are started on demand (the agent: systemctl start swupdate.service; udev: an instance
# of swupdate-local@.service), never at boot.
SYSTEMD_SERVICE:${PN} = "${SWUPDATE_LAUNCHER_UNITS}"
SYSTEMD_AUTO_ENABLE:${PN} = "disable"

# The native variant only builds the binary: images run `swupdate-launcher check --static` on
# their rootfs with it (classes/swupdate-launcher-check.bbclass).
BBCLASSEXTEND = "native"

# nooelint: oelint.task.noanonpython - the key is checked at parse time
python __anonymous() {
    if d.getVar('CLASSOVERRIDE') != 'class-target':
        return
    signed = [f for f in ('update-ota', 'update-local') if bb.utils.contains('DISTRO_FEATURES', f, True, False, d)]
    if signed and not swupdate_launcher_public_key(d):
        bb.fatal("swupdate-launcher: DISTRO_FEATURES has %s, so swupdate is built to accept only signed "
                 "images (%s) and must be given the public key, but SWUPDATE_LAUNCHER_PUBLIC_KEY is empty. "
                 "Fix: put the key (a certificate for CMS) in your product layer, e.g. "
                 "meta-product/recipes-support/swupdate-launcher/files/swupdate-public.pem, add "
                 "FILESEXTRAPATHS:prepend := \"${THISDIR}/files:\" to a swupdate-launcher_%%.bbappend there, and set "
                 "SWUPDATE_LAUNCHER_PUBLIC_KEY = \"swupdate-public.pem\" in your distro conf or local.conf "
                 "(an absolute path works too); it is installed as %s."
                 % (" and ".join("'%s'" % f for f in signed), d.getVar('SWUPDATE_LAUNCHER_SIGNING'),
                    d.getVar('SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH')))
}
