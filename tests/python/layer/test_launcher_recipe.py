"""The launcher recipe's documentation in meta-tolomeo-rust/README.md (its license checksum and
values are checked on the real parse: tests/yocto)."""

import re

import pytest

import paths as h

README = h.LAYER / "README.md"


def product_variables():
    """The variables the layer lets a product set (`?=` defaults) in its recipes and classes."""
    names = set()
    for path in list(h.LAYER.rglob("*.bb")) + list(h.LAYER.rglob("*.bbclass")):
        names |= set(re.findall(r"^(SWUPDATE_LAUNCHER_\w+) \?\??=", path.read_text(), re.MULTILINE))
    return sorted(names)


def test_the_layer_lets_a_product_set_variables():
    # The parametrized test below would be skipped, not failed, on an empty list.
    assert {"SWUPDATE_LAUNCHER_PUBLIC_KEY", "SWUPDATE_LAUNCHER_SIGNING", "SWUPDATE_LAUNCHER_CHECK"} <= set(product_variables())


@pytest.mark.parametrize("name", product_variables())
def test_every_variable_a_product_sets_is_documented_in_the_layer_readme(name):
    assert "`%s`" % name in README.read_text()


def test_the_layer_readme_documents_the_agents_atomic_handoff():
    text = README.read_text()
    for step in ("descriptor.env", "hidden temporary file in the same directory", "fsync", "rename",
                 "systemctl start swupdate.service"):
        assert step in text, step


def test_every_test_the_layer_readme_names_exists():
    # The README ties each step of a product's setup to the real-parse test that checks it.
    text = README.read_text()
    sources = "\n".join(p.read_text() for p in (h.REPO / "tests" / "yocto").glob("*.py"))
    files = set(re.findall(r"`(test_\w+\.py)", text))
    names = set(re.findall(r"(?:`|::)(test_\w+?)(?:`|\.\.\.)", text)) - {f[:-3] for f in files}
    assert files and names
    for f in files:
        assert (h.REPO / "tests" / "yocto" / f).is_file(), f
    for name in names:
        assert re.search(r"def %s\w*\(" % name, sources), name
