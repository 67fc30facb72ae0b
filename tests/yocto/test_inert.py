"""Yocto Project Compatible: adding the layer changes no other recipe until the product opts in.
meta-swupdate's swupdate recipes in a build WITH the layer (no flag) and in a build WITHOUT it:
the same `bitbake -e -b` (every variable and function, once the build-directory paths and the
layer's own collection variables are set aside), and the same task signatures (the basehash of
every task, which is what yocto-check-layer's signature test compares: dependencies' hashes are
the same too, since no other recipe changes)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BBLAYERS_WITH, BBLAYERS_WITHOUT, CORE, SWUPDATE_RECIPES, WORK, run_bitbake, write_build

# Recipes the layer does not touch at all, as a control: a library swupdate links, the os-release
# the launcher depends on. (Not images: their SDK and image-complete tasks depend on the list of
# layers by design, e.g. the extensible SDK ships them, so any added layer changes those.)
OTHERS = sorted((CORE / "recipes-core" / "zlib").glob("zlib_*.bb")) + [CORE / "recipes-core" / "os-release" / "os-release.bb"]

IDS = [p.name for p in SWUPDATE_RECIPES]
# What the layer's presence changes by design: the layer list, its collection's variables.
LAYER_VARIABLES = re.compile(r"^(BBPATH|BBFILES|BBLAYERS|BBFILE_COLLECTIONS|BBFILE_PATTERN_tolomeo-rust|"
                             r"BBFILE_PRIORITY_tolomeo-rust|LAYERVERSION_tolomeo-rust|LAYERDEPENDS_tolomeo-rust|"
                             r"LAYERSERIES_COMPAT_tolomeo-rust|BBINCLUDED|BBFILE_PATTERN_IGNORE_EMPTY|BBFILES_PRIORITIZED)=")
# What differs between any two bitbake runs: the time, log names, an object's address.
PER_RUN = re.compile(r"^(DATE|TIME|DATETIME|BB_CONSOLELOG|BB_DEFAULT_EVENTLOG|BB_ORIGENV)=")
# oe-core computes COMBINED_FEATURES from a set: its word order varies from run to run.
SETS = re.compile(r'^(COMBINED_FEATURES)="(.*)"$')


@pytest.fixture(scope="module")
def builds():
    return (write_build(WORK / "inert-with-layer", BBLAYERS_WITH),
            write_build(WORK / "inert-without-layer", BBLAYERS_WITHOUT))


def environment(topdir, recipe):
    result = run_bitbake(topdir, "-e", "-b", str(recipe))
    assert result.returncode == 0, result.stderr[-3000:]
    # The bbdebug fifo of the emitted shell functions is named after bitbake's PID.
    lines = [re.sub(r"fifo\.\d+", "fifo.PID", line.replace(str(topdir), "${TOPDIR}"))
             for line in result.stdout.splitlines() if not line.startswith("#")]
    lines = [SETS.sub(lambda m: '%s="%s"' % (m.group(1), " ".join(sorted(m.group(2).split()))), line) for line in lines]
    return [line for line in lines if not LAYER_VARIABLES.match(line) and not PER_RUN.match(line)]


@pytest.mark.parametrize("recipe", SWUPDATE_RECIPES, ids=IDS)
def test_bitbake_e_of_swupdate_is_the_same_with_and_without_the_layer(builds, recipe):
    with_layer, without_layer = (environment(b, recipe) for b in builds)
    assert len(with_layer) > 1000
    diff = sorted(set(with_layer) ^ set(without_layer))
    assert not diff, "\n".join(line[:200] for line in diff)


def basehashes(topdir, recipes):
    result = subprocess.run([sys.executable, str(Path(__file__).with_name("dump_basehashes.py")), *map(str, recipes)],
                            cwd=topdir, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_swupdate_task_signatures_are_the_same_with_and_without_the_layer(builds):
    with_layer, without_layer = (basehashes(b, SWUPDATE_RECIPES + OTHERS) for b in builds)
    for recipe in map(str, OTHERS):
        assert with_layer[recipe]["basehashes"] == without_layer[recipe]["basehashes"], recipe
    for recipe in map(str, SWUPDATE_RECIPES):
        assert with_layer[recipe]["appends"], "the layer's bbappend was applied"
        assert not without_layer[recipe]["appends"]
        assert with_layer[recipe]["basehashes"] == without_layer[recipe]["basehashes"]
        assert len(with_layer[recipe]["basehashes"]) > 20
