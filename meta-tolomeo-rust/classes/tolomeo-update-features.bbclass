# The single place where meta-tolomeo-rust reads its DISTRO_FEATURES. Inherited by the recipes of
# the layer (swupdate-launcher, swupdate-launcher-conf, the image check) and by the swupdate
# bbappend's swupdate-tolomeo.inc, so all of them see the same values and the same rule.
#
#   update-ota            the management agent hands an update to swupdate.service
#   update-ota-streaming  ... and swupdate streams it from a URL (download mode); needs update-ota
#   update-local          an update from removable media: a udev rule starts swupdate-local@.service
#   update-ab             an A/B device: the slot table (SWUPDATE_SLOTS, ...) in the device policy,
#                         swupdate-confirm.service enabled, libubootenv's tools; needs update-ota or
#                         update-local (it says how updates are installed, not how they arrive)
#
# The flags are independent and composable, with one rule: update-ota-streaming is a way of doing
# update-ota, so it is refused without it. That rule is a distro design error, not a recipe's, and
# stops the parse of every recipe that inherits this class. Every other configuration error skips
# only the recipe it concerns (bb.parse.SkipRecipe, see tolomeo_skip_on_error): a build that does
# not use that recipe is not stopped, one that does fails with the reason.
#
# With none of the flags the layer is inert: the swupdate bbappend requires nothing, and the
# launcher recipe installs only its binary (TOLOMEO_UPDATE_ENABLED is empty).

TOLOMEO_UPDATE_FEATURES = "update-ota update-ota-streaming update-local"
# update-ab is a modifier, not a way to receive updates (it opts nothing in by itself): not in the
# list above; the recipes require their A/B .inc when DISTRO_FEATURES has it.
# "1" when DISTRO_FEATURES has at least one of the flags: the product opted in.
TOLOMEO_UPDATE_ENABLED = "${@bb.utils.contains_any('DISTRO_FEATURES', d.getVar('TOLOMEO_UPDATE_FEATURES'), '1', '', d)}"

# How the launcher gets an OTA update (the conf.d variable SWUPDATE_SOURCE, see the launcher's
# docs/variables.md): "download" streams the URL the agent writes into descriptor.env, "file" installs
# UPDATE_FILE. meta-swupdate never reads this variable: swupdate-launcher-conf installs it in a
# conf.d fragment, and swupdate-tolomeo.inc compiles swupdate's downloader in for "download".
SWUPDATE_SOURCE = "${@bb.utils.contains('DISTRO_FEATURES', 'update-ota-streaming', 'download', 'file', d)}"

# How update images are signed, whenever the launcher is wired (every valid combination of the flags
# has update-ota or update-local, which require a key): "cms" (a certificate chain,
# `openssl cms -sign`; meta-swupdate's swupdate_sign_swu CMS mode), "rsa" (a raw RSA public key,
# PKCS#1 v1.5) or "rsapss" (RSA public key, PSS padding). swupdate-tolomeo.inc builds swupdate
# with CONFIG_SIGNED_IMAGES and exactly this algorithm (meta-swupdate's defconfig has signed images
# off: such a swupdate refuses the -k that the launcher always passes); SWUPDATE_LAUNCHER_PUBLIC_KEY
# must be a key of the same kind.
SWUPDATE_LAUNCHER_SIGNING ??= "cms"
TOLOMEO_SIGNING_ALGORITHMS = "cms rsa rsapss"

def tolomeo_update_features_error(d):
    """The error of an invalid combination of the flags, or None when the combination is valid."""
    features = (d.getVar('DISTRO_FEATURES') or '').split()
    if 'update-ota-streaming' in features and 'update-ota' not in features:
        return ("DISTRO_FEATURES has 'update-ota-streaming' without 'update-ota': streaming is a way "
                "of doing OTA updates and needs 'update-ota'. Fix: add 'update-ota' to DISTRO_FEATURES "
                "(DISTRO_FEATURES:append = \" update-ota update-ota-streaming\"), or remove "
                "'update-ota-streaming'.")
    if 'update-ab' in features and not ({'update-ota', 'update-local'} & set(features)):
        return ("DISTRO_FEATURES has 'update-ab' without 'update-ota' or 'update-local': A/B says which slot "
                "an update is installed into, and needs a way to receive one. Fix: add 'update-ota' "
                "(and/or 'update-local') to DISTRO_FEATURES, or remove 'update-ab'.")
    return None

def tolomeo_signing_error(d):
    """The error of an unknown SWUPDATE_LAUNCHER_SIGNING with a flag set, or None."""
    signing = d.getVar('SWUPDATE_LAUNCHER_SIGNING') or ''
    if d.getVar('TOLOMEO_UPDATE_ENABLED') and signing not in d.getVar('TOLOMEO_SIGNING_ALGORITHMS').split():
        return ("SWUPDATE_LAUNCHER_SIGNING is '%s': it must be one of %s (how update images are signed; "
                "SWUPDATE_LAUNCHER_PUBLIC_KEY is a key of that kind). Fix: set SWUPDATE_LAUNCHER_SIGNING = \"cms\" "
                "(or rsa, rsapss) in your distro conf or local.conf." % (signing, d.getVar('TOLOMEO_SIGNING_ALGORITHMS')))
    return None

def tolomeo_skip_on_error(d, error):
    """Skips this recipe with error as the reason: `bitbake world` leaves it out, a build that needs
    it stops with "<recipe> was skipped: <error>"."""
    if error:
        raise bb.parse.SkipRecipe(error)

# nooelint: oelint.task.noanonpython - an invalid DISTRO_FEATURES combination must stop the parse
python __anonymous() {
    error = tolomeo_update_features_error(d)
    if error:
        bb.fatal(error)
}
