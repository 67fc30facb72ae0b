"""oe-core's own yocto-check-layer, its checks that need no build: the release's
scripts/lib/checklayer test cases (common.py), loaded and run by its oeqa loader exactly as
`yocto-check-layer` runs them, on the layer as its `detect_layers` sees it.

The checks that need a build directory (parse, show-environment, signatures, world) re-parse the
whole tree twice and take most of an hour on a loaded two-core machine: scripts/yocto-check-layer
runs the whole tool."""

import logging
import re
import sys

import pytest

from conftest import CORE, LAYER

sys.path[0:0] = [str(CORE.parent / "scripts" / "lib"), str(CORE / "lib")]
import checklayer  # noqa: E402  (the release's scripts/lib)
from checklayer.context import CheckLayerTestContext  # noqa: E402

CASES = CORE.parent / "scripts" / "lib" / "checklayer" / "cases"
CHEAP = ["test_readme", "test_security", "test_patches_upstream_status", "test_layerseries_compat"]


def run_check(name):
    """The unittest result of CommonCheckLayer.<name> on the layer."""
    (layer,) = checklayer.detect_layers([str(LAYER)], True)
    assert layer["type"] == checklayer.LayerType.SOFTWARE, layer
    tc = CheckLayerTestContext(td={}, logger=logging.getLogger("yocto-check-layer"), layer=layer)
    tc.loadTests([str(CASES)], tests=["common.CommonCheckLayer.%s" % name])
    result = tc.runTests()
    assert result.testsRun == 1, "yocto-check-layer of this release has no %s" % name
    return result


@pytest.mark.parametrize("name", CHEAP)
def test_yocto_check_layer_passes(name):
    result = run_check(name)
    problems = [text for _, text in result.failures + result.errors] + [reason for _, reason in result.skipped]
    assert result.wasSuccessful() and not result.skipped, "\n".join(problems)


def test_the_readme_check_runs_its_checks_instead_of_skipping_them():
    # test_readme passes without looking for a maintainer, patch instructions and an address when
    # the layer's README (the shortest name of README*) mentions "README" in any case: it must not
    # take that way out. (It says so with a print, which oeqa's runner swallows.)
    (readme,) = sorted(LAYER.glob("[Rr][Ee][Aa][Dd][Mm][Ee]*"))[:1]
    assert not re.search("README", readme.read_text(), re.IGNORECASE)
