"""training.presets: every preset builds a valid network; `paper` is the paper's size at Augsburg shapes."""
import pytest

from engine.nn.bdgf import BDGFClassifier
from engine.nn.ddpm import MultimodalDDPM
from training.presets import PRESETS, preset


def _parameters(net) -> int:
    return sum(p.numel() for m in (MultimodalDDPM(net), BDGFClassifier(net)) for p in m.parameters())


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_builds_a_valid_network(name):
    net, train = preset(name, [180, 4, 1], 7)
    assert net.validate() is net and net.patch_size % 2 == 1
    assert train.ddpm_steps > net.masking.warmup_iters > 0 and net.masking.probe_every > 0


def test_paper_preset_is_about_the_papers_size_and_larger_than_cpu():
    paper = _parameters(preset("paper", [180, 4, 1], 7)[0])
    assert 4.0e6 <= paper <= 4.6e6  # the paper: "about 4.3 M parameters"
    assert _parameters(preset("cpu", [180, 4, 1], 7)[0]) < paper / 4


def test_cpu_preset_keeps_evaluation_cheap():
    _, train = preset("cpu", [70, 4, 1], 8)
    assert train.eval_stride >= 2 and train.tsne_points <= 500


def test_unknown_preset_is_refused():
    with pytest.raises(ValueError, match="choose one of quick, cpu, paper"):
        preset("default", [4, 1], 2)
