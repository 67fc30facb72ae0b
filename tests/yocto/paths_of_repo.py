"""Paths of the repository and the layer (the same names as tests/python/layer/paths.py)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "meta-tolomeo-rust"
LAUNCHER_RECIPE = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher_0.1.0.bb"
CRATES_INC = LAYER / "recipes-support" / "swupdate-launcher" / "swupdate-launcher-crates.inc"
SWUPDATE_APPEND = LAYER / "recipes-support" / "swupdate" / "swupdate_%.bbappend"
