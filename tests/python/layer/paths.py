"""Paths of the layer, for the fast tier's file-level checks (oelint-adv, crates.inc, layer.conf,
README). Everything that needs the recipes parsed runs against the real oe-core, bitbake and
meta-swupdate in tests/yocto (scripts/test-layer)."""

from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
LAYER = REPO / "meta-tolomeo-rust"
LAUNCHER_RECIPE = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher_0.1.0.bb"
CRATES_INC = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher-crates.inc"
LAUNCHER_AB_INC = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher-ab.inc"
CONF_AB_INC = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher-conf-ab.inc"
SWUPDATE_APPEND = LAYER / "recipes-support" / "swupdate" / "swupdate_%.bbappend"
SWUPDATE_INC = LAYER / "recipes-support" / "swupdate" / "swupdate-tolomeo.inc"
KCONFIG_INC = LAYER / "recipes-support" / "swupdate" / "swupdate-kconfig-check.inc"
CONF_RECIPE = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher-conf_0.1.0.bb"
FEATURES_CLASS = LAYER / "classes" / "tolomeo-update-features.bbclass"
