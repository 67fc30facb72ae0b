# The single place where meta-tolomeo-rust reads its DISTRO_FEATURES. Inherited by the swupdate
# bbappend and by the swupdate-launcher recipe, so both see the same values and the same checks.
#
#   update-ota            the management agent hands an update to swupdate.service
#   update-ota-streaming  ... and swupdate streams it from a URL (download mode); needs update-ota
#   update-local          an update from removable media: a udev rule starts swupdate-local@.service
#
# The flags are independent and composable, with one rule: update-ota-streaming is a way of doing
# update-ota, so it is refused without it.
#
# With none of them the layer is inert: it changes no other layer's recipe (the swupdate bbappend
# inherits this class only when one is set) and the launcher recipe installs only its binary.
# Everything the layer does only for a product that opted in is guarded by the override
# "tolomeo-update", which this class adds to DISTROOVERRIDES exactly when DISTRO_FEATURES has at
# least one of the flags (as oe-core's distrooverrides.bbclass does for df-<feature>).

TOLOMEO_UPDATE_FEATURES = "update-ota update-ota-streaming update-local"
TOLOMEO_UPDATE_OVERRIDE = "${@'tolomeo-update' if bb.utils.contains_any('DISTRO_FEATURES', d.getVar('TOLOMEO_UPDATE_FEATURES'), True, False, d) else ''}"
# nooelint: oelint.vars.outofcontext - a distro feature override set from DISTRO_FEATURES, as oe-core's distrooverrides.bbclass does in a class
DISTROOVERRIDES .= "${@':' + d.getVar('TOLOMEO_UPDATE_OVERRIDE') if d.getVar('TOLOMEO_UPDATE_OVERRIDE') else ''}"

# How the launcher gets an OTA update (the conf.d variable SWUPDATE_SOURCE, see the launcher's
# docs/variables.md): "download" streams the URL the agent writes into descriptor.env, "file" installs
# UPDATE_FILE. meta-swupdate never reads this variable: swupdate-launcher's recipe installs it
# in a conf.d fragment, and the swupdate bbappend turns on swupdate's downloader for "download".
SWUPDATE_SOURCE = "${@bb.utils.contains('DISTRO_FEATURES', 'update-ota-streaming', 'download', 'file', d)}"

# How update images are signed, whenever the launcher is wired (every valid combination of the flags
# has update-ota or update-local, which require a key): "cms" (a certificate chain,
# `openssl cms -sign`; meta-swupdate's swupdate_sign_swu CMS mode), "rsa" (a raw RSA public key,
# PKCS#1 v1.5) or "rsapss" (RSA public key, PSS padding). The swupdate bbappend builds swupdate
# with CONFIG_SIGNED_IMAGES and exactly this algorithm (meta-swupdate's defconfig has signed images
# off: such a swupdate refuses the -k that the launcher always passes); SWUPDATE_LAUNCHER_PUBLIC_KEY
# must be a key of the same kind.
SWUPDATE_LAUNCHER_SIGNING ??= "cms"
TOLOMEO_SIGNING_ALGORITHMS = "cms rsa rsapss"

# What the swupdate bbappend's swupdate-progress.service passes to swupdate-progress: -w waits for
# swupdate's progress socket; add -r to reboot after every successful update (meta-swupdate's
# default, but then the management agent is cut off before it learns the result).
SWUPDATE_PROGRESS_ARGS ??= "-w"

def tolomeo_update_features_error(d):
    """The error of an invalid combination of the flags, or None when the combination is valid."""
    features = (d.getVar('DISTRO_FEATURES') or '').split()
    if 'update-ota-streaming' in features and 'update-ota' not in features:
        return ("DISTRO_FEATURES has 'update-ota-streaming' without 'update-ota': streaming is a way "
                "of doing OTA updates and needs 'update-ota'. Fix: add 'update-ota' to DISTRO_FEATURES "
                "(DISTRO_FEATURES:append = \" update-ota update-ota-streaming\"), or remove "
                "'update-ota-streaming'.")
    signing = d.getVar('SWUPDATE_LAUNCHER_SIGNING') or ''
    if d.getVar('TOLOMEO_UPDATE_OVERRIDE') and signing not in d.getVar('TOLOMEO_SIGNING_ALGORITHMS').split():
        return ("SWUPDATE_LAUNCHER_SIGNING is '%s': it must be one of %s (how update images are signed; "
                "SWUPDATE_LAUNCHER_PUBLIC_KEY is a key of that kind). Fix: set SWUPDATE_LAUNCHER_SIGNING = \"cms\" "
                "(or rsa, rsapss) in your distro conf or local.conf." % (signing, d.getVar('TOLOMEO_SIGNING_ALGORITHMS')))
    return None

# nooelint: oelint.task.noanonpython - an invalid DISTRO_FEATURES combination must stop the parse
python __anonymous() {
    error = tolomeo_update_features_error(d)
    if error:
        bb.fatal(error)
}
