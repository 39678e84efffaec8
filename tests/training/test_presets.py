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


def test_new_training_builds_the_current_network_version_unless_the_config_names_one():
    """Version 3 at every label count (it matched or beat version 1 from 3 to 20 labels per class,
    docs/bench/scarcity_networks.md); [network.classifier] version wins."""
    import argparse
    import types

    from engine.nn.config import NETWORK_VERSION
    from training.run import build_configs, version_note

    args = argparse.Namespace(preset="quick", masking=None, branches=None, no_guidance=[], no_mutual=False)

    def built(per_class, network):
        prep = types.SimpleNamespace(modality_channels=[6, 2, 1], classes=[1, 2],
                                     summary={"train_pixels_per_class": per_class})
        cfg = types.SimpleNamespace(network=network, training={})
        return build_configs(cfg, prep, args)[0].classifier.version

    assert NETWORK_VERSION == 3
    assert built([3, 300], {}) == built([50, 300], {}) == 3
    assert built([5, 300], {"classifier": {"version": 2}}) == 2
    assert built([50, 300], {"classifier": {"version": 1}}) == 1
    assert version_note(3, False) == "network version 3: block-token branches"
    assert version_note(2, True) == "network version 2, as [network.classifier] version asks"
