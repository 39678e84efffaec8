"""bench.testbed.runs: what a report says of the network its runs built comes from their model cards."""
from __future__ import annotations

from pathlib import Path

from bench.testbed.runs import networks_line, package_network_version

DEMO = Path(__file__).resolve().parents[3] / "resources" / "models" / "demo.bdgf"


def test_the_network_version_comes_from_the_package_card(tmp_path):
    assert package_network_version(DEMO) == 2
    assert package_network_version(tmp_path / "missing.bdgf") is None
    (tmp_path / "broken.bdgf").write_bytes(b"not a zip")
    assert package_network_version(tmp_path / "broken.bdgf") is None


def test_networks_line_names_every_version_the_runs_built_or_says_none_was_recorded():
    results = {"bdgf": {"0": {"network_version": 2}, "1": {"network_version": 2}},
               "cnn": {"0": {"network_version": 1}}, "rf": {"0": {"oa": 0.6}}}
    assert "classifier version 1, 2 in the BDGF runs" in networks_line(results)
    assert "not recorded" in networks_line({"rf": {"0": {"oa": 0.6}}})
