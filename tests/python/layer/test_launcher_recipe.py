"""The launcher recipe's license checksum and its documentation in meta-tolomeo-rust/README.md."""

import hashlib
import re

import pytest

import bitbake_harness as h

README = h.LAYER / "README.md"


def lic_files(d):
    for entry in d.getVar("LIC_FILES_CHKSUM").split():
        path, *params = entry[len("file://"):].split(";")
        yield path, dict(p.split("=", 1) for p in params)


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    return h.Build(tmp_path_factory.mktemp("recipe"), h.local_conf(h.distro_features(("update-ota",), True))).launcher()[""]


def test_lic_files_chksum_matches_the_lines_of_the_repository_files(launcher):
    # As do_populate_lic computes it: the md5 of lines beginline..endline, newlines included.
    entries = list(lic_files(launcher))
    assert entries
    for path, params in entries:
        lines = (h.REPO / path).read_bytes().splitlines(keepends=True)
        begin = int(params.get("beginline", 1))
        end = int(params.get("endline", len(lines)))
        chunk = b"".join(lines[begin - 1:end])
        assert hashlib.md5(chunk).hexdigest() == params["md5"], (path, chunk)


def test_lic_files_chksum_points_at_the_license_the_recipe_declares(launcher):
    entries = list(lic_files(launcher))
    assert entries
    for path, params in entries:
        lines = (h.REPO / path).read_text().splitlines()
        text = "\n".join(lines[int(params.get("beginline", 1)) - 1:int(params.get("endline", len(lines)))])
        assert launcher.getVar("LICENSE") in text


def product_variables():
    """The variables the layer lets a product set (`?=` defaults) in its recipes and classes."""
    names = set()
    for path in list(h.LAYER.rglob("*.bb")) + list(h.LAYER.rglob("*.bbclass")):
        names |= set(re.findall(r"^(SWUPDATE_LAUNCHER_\w+) \?=", path.read_text(), re.MULTILINE))
    return sorted(names)


def test_the_layer_lets_a_product_set_variables():
    # The parametrized test below would be skipped, not failed, on an empty list.
    assert {"SWUPDATE_LAUNCHER_PUBLIC_KEY", "SWUPDATE_LAUNCHER_SRCREV"} <= set(product_variables())


@pytest.mark.parametrize("name", product_variables())
def test_every_variable_a_product_sets_is_documented_in_the_layer_readme(name):
    assert "`%s`" % name in README.read_text()


def test_the_layer_readme_documents_the_agents_atomic_handoff():
    text = README.read_text()
    for step in ("descriptor.env", "hidden temporary file in the same directory", "fsync", "rename",
                 "systemctl start swupdate.service"):
        assert step in text, step
