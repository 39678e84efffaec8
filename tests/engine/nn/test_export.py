import io

import numpy as np
import onnx
import pytest
import torch

from engine.nn.bdgf import BDGFClassifier
from engine.nn.config import BDGFConfig
from engine.nn.ddpm import DiffusionFeatureExtractor, MultimodalDDPM
from engine.nn.export import export_classifier, export_features
from engine.noise import position_noise

ort = pytest.importorskip("onnxruntime")


def session(data):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])


def io_names(data):
    m = onnx.load_from_string(data)
    return [i.name for i in m.graph.input], [o.name for o in m.graph.output]


def test_feature_graph_parity_at_another_tile_size():
    cfg = BDGFConfig.quick()
    torch.manual_seed(0)
    ex = DiffusionFeatureExtractor(MultimodalDDPM(cfg)).eval()
    buf = io.BytesIO()
    data = export_features(ex, buf, tile=32)
    assert buf.getvalue() == data
    assert io_names(data) == (["x", "noise"], ["feats"])
    h, w = 40, 56
    x = np.random.default_rng(0).standard_normal((1, cfg.in_channels, h, w)).astype(np.float32)
    noise = position_noise(cfg.ddpm.noise_seed, 8, 4, h, w, cfg.in_channels, len(ex.timesteps))
    got = session(data).run(None, {"x": x, "noise": noise})[0]
    with torch.no_grad():
        ref = ex(torch.from_numpy(x), torch.from_numpy(noise)).numpy()
    assert got.shape == ref.shape == (1, sum(cfg.feature_channels()), h, w)
    assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.parametrize("preset", ["quick", "default"])
def test_classifier_graph_parity_at_another_batch_size(preset, tmp_path):
    cfg = BDGFConfig.quick() if preset == "quick" else BDGFConfig.default()
    torch.manual_seed(0)
    model = BDGFClassifier(cfg).eval()
    path = tmp_path / "classifier.onnx"
    export_classifier(model, path, batch=2)
    data = path.read_bytes()
    assert io_names(data) == (["x", "d"], ["probs", "branch_probs"])
    rng = np.random.default_rng(1)
    p = cfg.patch_size
    x = rng.standard_normal((7, cfg.in_channels, p, p)).astype(np.float32)
    d = rng.standard_normal((7, sum(cfg.feature_channels()), p, p)).astype(np.float32)
    got, branches = session(data).run(None, {"x": x, "d": d})
    with torch.no_grad():
        ref = model(torch.from_numpy(x), torch.from_numpy(d)).numpy()
        ref_fused, ref_branches = (t.numpy() for t in model.forward_branches(torch.from_numpy(x),
                                                                             torch.from_numpy(d)))
    assert got.shape == (7, cfg.n_classes)
    assert np.abs(got - ref).max() <= 1e-4
    assert np.array_equal(ref_fused, ref)  # forward_branches: forward's probabilities, bit for bit
    assert branches.shape == (7, len(cfg.classifier.branches), cfg.n_classes)
    assert np.abs(branches - ref_branches).max() <= 1e-4
    assert model.training is False
    # the graph without the branch output (packages exported before it) gives the same bits
    old = export_classifier(model, branches=False)
    assert io_names(old) == (["x", "d"], ["probs"])
    assert np.array_equal(session(old).run(None, {"x": x, "d": d})[0], got)


def test_unguided_classifier_keeps_the_d_input():
    cfg = BDGFConfig.quick()
    cfg.classifier.branches = ["cnn"]
    cfg.classifier.guidance["cnn"] = False
    model = BDGFClassifier(cfg).train()
    data = export_classifier(model)
    assert model.training  # export restores the mode
    assert io_names(data) == (["x", "d"], ["probs", "branch_probs"])
    p = cfg.patch_size
    feed = {"x": np.zeros((3, cfg.in_channels, p, p), np.float32),
            "d": np.zeros((3, sum(cfg.feature_channels()), p, p), np.float32)}
    assert session(data).run(None, feed)[0].shape == (3, cfg.n_classes)


def test_selective_scan_contract_exports_to_onnx():
    from engine.nn.export import _export
    from engine.nn.scan import selective_scan

    class Scan(torch.nn.Module):
        def __init__(self):
            super().__init__()
            g = torch.Generator().manual_seed(0)
            self.A = torch.nn.Parameter(-torch.rand(6, 4, generator=g) * 3)
            self.D = torch.nn.Parameter(torch.randn(6, generator=g))
            self.bias = torch.nn.Parameter(torch.randn(6, generator=g) * 0.1)

        def forward(self, u, delta, B, C, z):
            return selective_scan(u, delta, self.A, B, C, self.D, z, self.bias, True)

    g = torch.Generator().manual_seed(1)
    args = [torch.randn(2, 6, 9, generator=g), torch.randn(2, 6, 9, generator=g),
            torch.randn(2, 4, 9, generator=g), torch.randn(2, 4, 9, generator=g),
            torch.randn(2, 6, 9, generator=g)]
    names = ["u", "delta", "B", "C", "z"]
    data = _export(Scan(), tuple(args), None, names, ["y"], {n: {0: "batch"} for n in names})
    feed = {n: torch.cat([a, a * 0.5]).numpy() for n, a in zip(names, args)}  # batch 4
    got = session(data).run(None, feed)[0]
    with torch.no_grad():
        ref = Scan()(*(torch.from_numpy(feed[n]) for n in names)).numpy()
    assert got.shape == (4, 6, 9) and np.abs(got - ref).max() <= 1e-5
