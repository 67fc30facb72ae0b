"""oelint-adv passes on every recipe, bbappend, class and conf file of meta-tolomeo-rust, with the
settings of meta-tolomeo-rust/.oelint.cfg, whose every suppression carries its reason."""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import paths as h

OELINT = shutil.which("oelint-adv", path=os.path.dirname(sys.executable)) or shutil.which("oelint-adv")
CONFIG = h.LAYER / ".oelint.cfg"
CONSTANTS = h.LAYER / ".oelint-constants.json"


def layer_files(*suffixes):
    return sorted(p for p in h.LAYER.rglob("*") if p.is_file() and p.name.endswith(suffixes))


# oelint-adv lints an .inc as part of the recipe (or bbappend) that requires it.
INCLUDES = {
    h.LAUNCHER_RECIPE: [h.CRATES_INC, h.LAUNCHER_AB_INC],
    h.CONF_RECIPE: [h.CONF_AB_INC],
    h.SWUPDATE_APPEND: [h.SWUPDATE_INC, h.KCONFIG_INC],
}
TARGETS = [[p] + INCLUDES.get(p, []) for p in layer_files(".conf", ".bbclass", ".bbappend", ".bb")]


def oelint(files, config=None):
    """oelint-adv on files with the layer's .oelint.cfg, or with the given configuration file."""
    env = {k: v for k, v in os.environ.items() if k not in ("OELINT_CONFIG", "OELINT_SKIP_CONFIG")}
    if config:
        env["OELINT_CONFIG"] = str(config)
    return subprocess.run(
        [OELINT, "--quiet", *[str(f) for f in files]],
        cwd=h.LAYER, env=env, capture_output=True, text=True, timeout=300,
    )


def findings(result):
    """[(path, rule)] of oelint-adv's output lines (`path:line:severity:rule:message`)."""
    found = []
    for line in (result.stdout + result.stderr).splitlines():
        parts = line.split(":", 4)
        if len(parts) == 5 and parts[3].startswith("oelint."):
            found.append((parts[0], parts[3]))
    return found


def test_every_layer_recipe_append_class_and_conf_file_is_linted():
    linted = {f for target in TARGETS for f in target}
    assert linted == set(layer_files(".conf", ".bbclass", ".bbappend", ".bb", ".inc"))


@pytest.mark.parametrize("files", TARGETS, ids=[str(t[0].relative_to(h.LAYER)) for t in TARGETS])
def test_oelint_adv_passes(files):
    assert OELINT, "oelint-adv is not installed (tests/requirements.txt)"
    result = oelint(files)
    assert result.returncode == 0 and result.stdout.strip() == "" and "error:" not in result.stderr, (
        result.stdout + result.stderr
    )


def test_oelint_adv_fails_on_a_finding(tmp_path):
    # The check above can fail: the same settings on a copy with one bad line.
    bad = tmp_path / "bad.bbclass"
    bad.write_text(h.LAYER.joinpath("classes", "tolomeo-update-features.bbclass").read_text() + 'FOO = "bar" \n')
    assert oelint([bad]).returncode == 1


def suppressed_rules_with_reasons():
    lines = CONFIG.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("suppress ="))
    rules = []
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not line.startswith("  "):
            break
        if not line.strip().startswith("#"):
            reason = lines[i - 1].strip()
            rules.append((line.strip(), reason[1:].strip() if reason.startswith("#") else ""))
    return rules


@pytest.fixture(scope="module")
def unsuppressed(tmp_path_factory):
    """{target: findings} of oelint-adv with the layer's settings but no suppression."""
    lines = CONFIG.read_text().splitlines()
    kept, in_suppress = [], False
    for line in lines:
        if line.startswith("suppress ="):
            in_suppress = True
            continue
        if in_suppress and line.startswith("  "):
            continue
        in_suppress = False
        kept.append(line.replace("+.oelint-constants.json", "+" + str(CONSTANTS)))
    assert any("constantmods = +" + str(CONSTANTS) in line for line in kept)
    config = tmp_path_factory.mktemp("oelint") / "unsuppressed.cfg"
    config.write_text("\n".join(kept) + "\n")
    return {target[0]: findings(oelint(target, config)) for target in TARGETS}


def test_every_suppressed_rule_still_fires_without_its_suppression(unsuppressed):
    fired = {rule for found in unsuppressed.values() for _, rule in found}
    suppressed = {rule for rule, _ in suppressed_rules_with_reasons()}
    assert suppressed
    assert suppressed <= fired, "suppressions no longer needed: %s" % sorted(suppressed - fired)


def test_noncoreoverride_fires_only_on_what_the_swupdate_bbappend_requires_with_a_flag(unsuppressed):
    # The Yocto Project Compatible rule: a bbappend must change the recipe only under a distro or
    # machine override. The bbappend requires swupdate-tolomeo.inc (which inherits the features
    # class) only when DISTRO_FEATURES has a flag; the rule cannot see that condition, and reports
    # the .incs and the class, never a statement of the bbappend itself.
    found = {path for path, rule in unsuppressed[h.SWUPDATE_APPEND] if rule == "oelint.vars.noncoreoverride"}
    assert found == {str(h.SWUPDATE_INC), str(h.KCONFIG_INC), str(h.FEATURES_CLASS)}


def test_the_swupdate_bbappend_is_one_conditional_require_of_the_layers_flags():
    # meta-rauc's idiom: nothing of the layer reaches swupdate without a flag, and the flags are the
    # features class's TOLOMEO_UPDATE_FEATURES (the bbappend cannot read it before the class).
    statements = [line for line in h.SWUPDATE_APPEND.read_text().splitlines() if line and not line.startswith("#")]
    flags = re.search(r'^TOLOMEO_UPDATE_FEATURES = "(.*)"$', h.FEATURES_CLASS.read_text(), re.MULTILINE).group(1)
    assert statements == ["require ${@bb.utils.contains_any('DISTRO_FEATURES', '%s', 'swupdate-tolomeo.inc', '', d)}" % flags]


def test_every_suppressed_rule_has_its_reason_on_the_line_above():
    rules = suppressed_rules_with_reasons()
    assert rules
    for rule, reason in rules:
        assert re.fullmatch(r"oelint\.[\w.]+", rule), rule
        assert len(reason) > 10, "no reason above %s" % rule


def test_every_inline_suppression_names_the_rule_and_its_reason():
    checked = 0
    for path in layer_files(".conf", ".bbclass", ".bbappend", ".bb", ".inc"):
        for line in path.read_text().splitlines():
            if "nooelint" in line:
                assert re.fullmatch(r"# nooelint: oelint\.[\w.]+(,oelint\.[\w.]+)* - \S.{10,}", line.strip()), (path, line)
                checked += 1
    assert checked


def test_every_constant_declared_for_oelint_is_a_variable_of_the_layer():
    text = "\n".join(p.read_text() for p in layer_files(".conf", ".bbclass", ".bbappend", ".bb", ".inc"))
    constants = json.loads(CONSTANTS.read_text())
    names = constants["variables"]["known"]
    assert names
    for name in names:
        assert re.search(r"\b%s\b" % name, text), name
    # The layer defines no override of its own (the swupdate bbappend's changes are one conditional
    # require), so the constants declare none.
    assert "replacements" not in constants
