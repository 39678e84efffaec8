import json

import pytest
import torch

from engine.nn.bdgf import BDGFClassifier
from engine.nn.config import BDGFConfig
from engine.nn.ddpm import MultimodalDDPM


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def test_json_round_trip_keeps_every_field():
    cfg = BDGFConfig.quick([7, 3, 1], n_classes=5)
    cfg.masking.mode = "fixed"
    cfg.classifier.guidance["mamba"] = False
    text = json.dumps(cfg.to_dict())
    back = BDGFConfig.from_dict(json.loads(text))
    assert back == cfg
    assert back.ddpm.feature_channels() == cfg.ddpm.feature_channels()


def test_from_dict_rejects_unknown_and_invalid_fields():
    d = BDGFConfig.quick().to_dict()
    d["bogus"] = 1
    with pytest.raises(ValueError, match="bogus"):
        BDGFConfig.from_dict(d)
    d = BDGFConfig.quick().to_dict()
    d["classifier"]["branches"] = ["cnn", "lstm"]
    with pytest.raises(ValueError, match="branches"):
        BDGFConfig.from_dict(d)
    d = BDGFConfig.quick().to_dict()
    d["masking"]["mode"] = "sometimes"
    with pytest.raises(ValueError, match="mode"):
        BDGFConfig.from_dict(d)


def test_default_config_is_at_most_5m_parameters():
    cfg = BDGFConfig.default([180, 4, 1], n_classes=7)
    torch.manual_seed(0)
    n_ddpm, n_cls = n_params(MultimodalDDPM(cfg)), n_params(BDGFClassifier(cfg))
    print(f"default config parameters: ddpm {n_ddpm:,} + classifier {n_cls:,} = {n_ddpm + n_cls:,}")
    assert 0 < n_ddpm + n_cls <= 5_000_000
    assert n_params(MultimodalDDPM(BDGFConfig.quick())) < n_ddpm


def test_network_version_new_configs_3_old_cards_1_unknown_refused():
    cfg = BDGFConfig.quick()
    assert cfg.classifier.version == 3 and BDGFConfig.from_dict(cfg.to_dict()).classifier.version == 3
    old = cfg.to_dict()
    del old["classifier"]["version"]  # a card written before network versions
    assert BDGFConfig.from_dict(old).classifier.version == 1
    newer = cfg.to_dict()
    newer["classifier"]["version"] = 4
    with pytest.raises(ValueError, match="newer BDGF"):
        BDGFConfig.from_dict(newer)


@pytest.mark.parametrize("patch", [5, 7, 9, 11])
def test_every_version_builds_and_versions_2_and_3_have_short_mamba_sequences(patch):
    """Versions 2 and 3 share version 1's weights' shapes where the method is unchanged and have no
    per-patch-position token embeddings in the Mamba branch: one per ring (2), per block + the centre (3)."""
    sizes = {}
    for version in (1, 2, 3):
        cfg = BDGFConfig.quick([7, 3, 1], 5)
        cfg.patch_size, cfg.classifier.version = patch, version
        net = BDGFClassifier(cfg).eval()
        x, d = torch.randn(3, 11, patch, patch), torch.randn(3, sum(cfg.feature_channels()), patch, patch)
        probs = net(x, d)
        assert probs.shape == (3, 5) and torch.allclose(probs.sum(1), torch.ones(3))
        sizes[version] = net.branches["mamba"].pos.shape[1]
    assert sizes == {1: patch * patch, 2: patch // 2 + 1, 3: 10}
