# meta-tolomeo-rust: swupdate started by swupdate-launcher instead of swupdate.sh, only for a
# product that opted in with one of the layer's DISTRO_FEATURES (update-ota, update-ota-streaming,
# update-local; TOLOMEO_UPDATE_FEATURES in classes/tolomeo-update-features.bbclass). Without one
# nothing is required and swupdate is exactly meta-swupdate's (Yocto Project Compatible:
# tests/yocto/test_inert.py compares its variables and task signatures with a build without the
# layer). swupdate-tolomeo.inc says what changes.
require ${@bb.utils.contains_any('DISTRO_FEATURES', 'update-ota update-ota-streaming update-local', 'swupdate-tolomeo.inc', '', d)}
