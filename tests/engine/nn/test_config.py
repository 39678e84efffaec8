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
