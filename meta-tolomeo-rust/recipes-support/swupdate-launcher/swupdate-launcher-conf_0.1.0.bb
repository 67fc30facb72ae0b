# nooelint: oelint.var.bbclassextend - the device policy of target images: no native or SDK variant
SUMMARY = "Device policy of swupdate-launcher: /etc/default/swupdate, conf.d, key"
DESCRIPTION = "What swupdate-launcher reads on the device, as the update-* DISTRO_FEATURES of \
               meta-tolomeo-rust decide it. A product extends this recipe with a bbappend (its \
               key, its own fragments) or replaces it with a recipe of its own that RPROVIDES \
               virtual-swupdate-launcher-conf."
SECTION = "admin"
LICENSE = "MIT"
# nooelint: oelint.var.licenseremotefile - the recipe has no sources of its own but its files/, as oe-core's own configuration recipes
LIC_FILES_CHKSUM = "file://${COREBASE}/meta/COPYING.MIT;md5=3da9cfbcb788c80a0384361b4de20420"

inherit tolomeo-update-features

SRC_URI = " \
    file://swupdate.default \
    ${@'file://' + swupdate_launcher_public_key(d) if swupdate_launcher_public_key(d) else ''} \
"
S = "${UNPACKDIR}"

# The public key (or certificate) that swupdate checks signed images with: a file name found
# through FILESPATH (a product layer adds its directory with FILESEXTRAPATHS in a
# swupdate-launcher-conf_%.bbappend), or an absolute path. Required with a flag: every valid
# combination has update-ota or update-local, which mean signed images.
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

def swupdate_launcher_public_key(d):
    """SWUPDATE_LAUNCHER_PUBLIC_KEY without the file:// a user may have written in front of it."""
    key = (d.getVar('SWUPDATE_LAUNCHER_PUBLIC_KEY') or '').strip()
    return key[len('file://'):] if key.startswith('file://') else key

SWUPDATE_LAUNCHER_PUBLIC_KEY_LOCAL = "${@swupdate_launcher_public_key(d).lstrip('/')}"

do_configure[noexec] = "1"
do_compile[noexec] = "1"

do_install() {
    install -d ${D}${sysconfdir}/default
    sed -e 's#@BINDIR@#${bindir}#g' \
        -e 's#@LIBDIR@#${libdir}#g' \
        -e 's#@SYSCONFDIR@#${sysconfdir}#g' \
        -e 's#@PUBLIC_KEY@#${SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH}#g' \
        ${UNPACKDIR}/swupdate.default > ${D}${sysconfdir}/default/swupdate
    if [ -n "${SWUPDATE_LAUNCHER_DIGEST_PROVIDER}" ]; then
        echo "SWUPDATE_DIGEST_PROVIDER=${SWUPDATE_LAUNCHER_DIGEST_PROVIDER}" >> ${D}${sysconfdir}/default/swupdate
    fi
    chmod 0644 ${D}${sysconfdir}/default/swupdate
    install -d ${D}$(dirname ${SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH})
    install -m 0644 ${UNPACKDIR}/${SWUPDATE_LAUNCHER_PUBLIC_KEY_LOCAL} ${D}${SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH}

    install -d ${D}${libdir}/swupdate/conf.d ${D}${sysconfdir}/swupdate/conf.d
    {
        echo "# Installed by swupdate-launcher-conf (meta-tolomeo-rust) from DISTRO_FEATURES."
        echo "# Override it with a fragment of the same name in ${sysconfdir}/swupdate/conf.d."
        echo "SWUPDATE_SOURCE=${SWUPDATE_SOURCE}"
        if [ "${SWUPDATE_SOURCE}" = file ]; then
            echo "UPDATE_FILE=${SWUPDATE_LAUNCHER_UPDATE_FILE}"
        fi
    } > ${D}${libdir}/swupdate/conf.d/${SWUPDATE_LAUNCHER_FRAGMENT}
    chmod 0644 ${D}${libdir}/swupdate/conf.d/${SWUPDATE_LAUNCHER_FRAGMENT}
}

FILES:${PN} += "${libdir}/swupdate/conf.d/${SWUPDATE_LAUNCHER_FRAGMENT}"
CONFFILES:${PN} += "${sysconfdir}/default/swupdate"

# swupdate-launcher RDEPENDS on this virtual with a flag. A product's own recipe provides it too and
# is chosen with PREFERRED_RPROVIDER_virtual-swupdate-launcher-conf = "<its name>".
RPROVIDES:${PN} += "virtual-swupdate-launcher-conf"

def swupdate_launcher_conf_error(d):
    """Why this recipe cannot be built in this configuration, or None."""
    if not d.getVar('TOLOMEO_UPDATE_ENABLED'):
        return ("swupdate-launcher-conf is the device policy of meta-tolomeo-rust's update-* DISTRO_FEATURES, "
                "and DISTRO_FEATURES has none of %s: meta-swupdate's swupdate.sh starts swupdate and would "
                "source these files as shell. Fix: add the flags to DISTRO_FEATURES, or do not install "
                "swupdate-launcher-conf." % d.getVar('TOLOMEO_UPDATE_FEATURES'))
    signing_error = tolomeo_signing_error(d)
    if signing_error:
        return signing_error
    if not swupdate_launcher_public_key(d):
        signed = [f for f in ('update-ota', 'update-local') if bb.utils.contains('DISTRO_FEATURES', f, True, False, d)]
        return ("swupdate-launcher-conf: DISTRO_FEATURES has %s, so swupdate is built to accept only signed "
                "images (%s) and must be given the public key, but SWUPDATE_LAUNCHER_PUBLIC_KEY is empty. "
                "Fix: put the key (a certificate for CMS) in your product layer, e.g. "
                "meta-product/recipes-support/swupdate-launcher/files/swupdate-public.pem, add "
                "FILESEXTRAPATHS:prepend := \"${THISDIR}/files:\" to a swupdate-launcher-conf_%%.bbappend there, and set "
                "SWUPDATE_LAUNCHER_PUBLIC_KEY = \"swupdate-public.pem\" in your distro conf or local.conf "
                "(an absolute path works too); it is installed as %s."
                % (" and ".join("'%s'" % f for f in signed), d.getVar('SWUPDATE_LAUNCHER_SIGNING'),
                   d.getVar('SWUPDATE_LAUNCHER_PUBLIC_KEY_PATH')))
    return None

# An A/B device (update-ab): the slot table in the fragment.
require ${@bb.utils.contains('DISTRO_FEATURES', 'update-ab', 'swupdate-launcher-conf-ab.inc', '', d)}

# nooelint: oelint.task.noanonpython - a configuration error skips this recipe (only builds that install it stop)
python __anonymous() {
    tolomeo_skip_on_error(d, swupdate_launcher_conf_error(d))
}
