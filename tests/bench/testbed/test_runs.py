"""bench.testbed.runs: what a report says of the network its runs built comes from their model cards."""
from __future__ import annotations

from pathlib import Path

from bench.testbed.runs import networks_line, package_network_version
from engine.nn.config import NETWORK_VERSION

DEMO = Path(__file__).resolve().parents[3] / "resources" / "models" / "demo.bdgf"


def test_the_network_version_comes_from_the_package_card(tmp_path):
    assert package_network_version(DEMO) == NETWORK_VERSION  # the demo model is rebuilt with the current one
    assert package_network_version(tmp_path / "missing.bdgf") is None
    (tmp_path / "broken.bdgf").write_bytes(b"not a zip")
    assert package_network_version(tmp_path / "broken.bdgf") is None


def test_networks_line_names_every_version_the_runs_built_or_says_none_was_recorded():
    results = {"bdgf": {"0": {"network_version": 2}, "1": {"network_version": 2}},
               "cnn": {"0": {"network_version": 1}}, "rf": {"0": {"oa": 0.6}}}
    assert "classifier version 1, 2 in the BDGF runs" in networks_line(results)
    assert "not recorded" in networks_line({"rf": {"0": {"oa": 0.6}}})


def test_a_testbed_scene_is_written_once_and_reused(tmp_path):
    """make_testbed reuses a scene written with the same settings (its stamp read back from JSON, the hard
    testbed's configs written per seed elsewhere): two invocations over different seeds share the scene,
    and a second one must not delete it while the first trains from it."""
    import os

    from bench.testbed.rows import HARD_QUICK, QUICK
    from bench.testbed.runs import make_testbed

    for st in (HARD_QUICK, QUICK):
        out = tmp_path / st.name
        first = make_testbed(out, st, 0, dict(st.training))
        hsi = Path(first["inputs"][0])
        os.utime(hsi, ns=(10**9, 10**9))  # a rewrite would give the file a new time
        assert make_testbed(out, st, 0, dict(st.training)) == first
        assert hsi.stat().st_mtime_ns == 10**9, st.name
        make_testbed(out, st, 1, dict(st.training))  # another scene seed: written anew
        assert hsi.stat().st_mtime_ns != 10**9, st.name
