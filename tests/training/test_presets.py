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


def test_network_version_follows_the_labels_unless_the_config_names_it(tmp_path):
    """Fewer than VERSION_2_MIN_LABELS training labels in some class: version 1 (it was the better map there,
    docs/bench/scarcity_networks.md); otherwise version 2; [network.classifier] version always wins."""
    import argparse
    import types

    from training.presets import VERSION_2_MIN_LABELS, network_version_for
    from training.run import build_configs, version_note

    assert network_version_for([VERSION_2_MIN_LABELS, 40]) == 2
    assert network_version_for([VERSION_2_MIN_LABELS - 1, 40]) == 1 and network_version_for([]) == 1
    args = argparse.Namespace(preset="quick", masking=None, branches=None, no_guidance=[], no_mutual=False)

    def built(per_class, network):
        prep = types.SimpleNamespace(modality_channels=[6, 2, 1], classes=[1, 2],
                                     summary={"train_pixels_per_class": per_class})
        cfg = types.SimpleNamespace(network=network, training={})
        return build_configs(cfg, prep, args)[0].classifier.version

    assert built([5, 300], {}) == 1 and built([12, 300], {}) == 2
    assert built([5, 300], {"classifier": {"version": 2}}) == 2
    assert built([50, 300], {"classifier": {"version": 1}}) == 1
    assert "only 5 training labels" in version_note(1, [5, 300], False)
    assert "as [network.classifier] version asks" in version_note(2, [5, 300], True)
