"""engine.nn.scan: the selective scan (PyTorch, naive reference, last output only, dispatch, autograd and
reused buffers); MambaBlock: test_mamba.py."""
import pytest
import torch

from engine.nn import scan as scan_mod
from engine.nn.scan import scan_time_major, selective_scan, selective_scan_naive, selective_scan_torch


def _inputs(b=2, d=6, n=4, L=13, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=dtype)  # noqa: E731
    return dict(u=r(b, d, L), delta=r(b, d, L) * 0.5, A=-torch.rand(d, n, generator=g, dtype=dtype) * 3,
                B=r(b, n, L), C=r(b, n, L), D=r(d), z=r(b, d, L), delta_bias=r(d) * 0.1)


@pytest.mark.parametrize("use_d", [False, True])
@pytest.mark.parametrize("use_z", [False, True])
@pytest.mark.parametrize("use_bias", [False, True])
@pytest.mark.parametrize("softplus", [False, True])
def test_torch_scan_matches_naive_reference(use_d, use_z, use_bias, softplus):
    a = _inputs()
    kw = dict(D=a["D"] if use_d else None, z=a["z"] if use_z else None,
              delta_bias=a["delta_bias"] if use_bias else None, delta_softplus=softplus)
    delta = a["delta"] if softplus else a["delta"].abs()  # step sizes are positive in the model
    args = (a["u"], delta, a["A"], a["B"], a["C"])
    ref = selective_scan_naive(*args, **kw)
    out = selective_scan_torch(*args, **kw)
    assert out.shape == ref.shape == a["u"].shape
    assert (out - ref).abs().max().item() <= 1e-10
    # float32, as the model runs it
    args32 = [t.float() for t in args]
    kw32 = {k: (v.float() if torch.is_tensor(v) else v) for k, v in kw.items()}
    out32 = selective_scan_torch(*args32, **kw32)
    assert out32.dtype == torch.float32
    assert (out32 - selective_scan_naive(*args32, **kw32)).abs().max().item() <= 1e-5


def test_scan_is_not_trivially_equal_when_inputs_differ():
    a = _inputs()
    args = (a["u"], a["delta"], a["A"], a["B"], a["C"])
    other = selective_scan_torch(a["u"], a["delta"], a["A"], a["B"], a["C"] * 1.01)
    assert (other - selective_scan_naive(*args)).abs().max() > 1e-6


def test_last_only_equals_last_step_of_full_scan():
    a = _inputs(L=9)
    u, delta, z, Bm, Cm = (a[k].permute(2, 0, 1).contiguous() for k in ("u", "delta", "z", "B", "C"))
    full = scan_time_major(u, delta.abs(), a["A"], Bm, Cm, a["D"], z)
    last = scan_time_major(u, delta.abs(), a["A"], Bm, Cm, a["D"], z, last_only=True)
    ref = selective_scan_naive(a["u"], a["delta"].abs(), a["A"], a["B"], a["C"], a["D"], a["z"])
    assert torch.allclose(full, ref.permute(2, 0, 1), atol=1e-10)
    assert torch.allclose(full[-1], last, atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 4, 9, 13])
def test_loop_free_last_output_equals_the_recurrence(chunk):
    """The export's loop-free last output (suffix sums of delta, one Exp per chunk) is the recurrence's."""
    a = _inputs(L=13)
    u, delta, Bm, Cm = (a[k].permute(2, 0, 1).contiguous() for k in ("u", "delta", "B", "C"))
    delta = torch.nn.functional.softplus(delta)
    got = scan_mod._last_output_parallel(delta, delta * u, a["A"], Bm, Cm, chunk=chunk)
    ref = selective_scan_naive(a["u"], delta.permute(1, 2, 0), a["A"], a["B"], a["C"])[:, :, -1]
    assert got.shape == ref.shape and (got - ref).abs().max() < 1e-10
    assert (scan_mod._last_output_parallel(delta, delta * u, a["A"], Bm, Cm * 1.01) - ref).abs().max() > 1e-6


def test_dispatch_uses_torch_scan_on_cpu(monkeypatch):
    calls = []
    monkeypatch.setattr(scan_mod, "_fused_scan", lambda *a: calls.append(1))
    a = _inputs()
    out = selective_scan(a["u"], a["delta"], a["A"], a["B"], a["C"])
    assert calls == [] and out.shape == a["u"].shape


def test_autograd_path_equals_inference_path_and_has_gradients():
    a = _inputs(dtype=torch.float32)
    args = [a[k].clone().requires_grad_(True) for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    out = selective_scan_torch(*args, delta_softplus=True)  # autograd path
    with torch.no_grad():
        ref = selective_scan_torch(*args, delta_softplus=True)  # in-place inference path
    assert torch.allclose(out, ref, atol=1e-6)
    out.square().sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in args)


def test_reused_buffers_survive_grad_modes_and_never_alias_results():
    x = _inputs(b=3, d=8, n=4, L=9, dtype=torch.float32)
    u = x["u"]
    args = (u, x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"], x["delta_bias"], True)
    with torch.inference_mode():  # the PyTorch backend's mode: buffers become inference tensors
        first = selective_scan_torch(*args).clone()
    with torch.no_grad():  # training's evaluation mode must still be able to write them
        kept = selective_scan_torch(*args)
        selective_scan_torch(*(t * 2 if t is u else t for t in args))  # a later call reuses buffers
    assert torch.equal(kept, first)
    assert torch.allclose(kept, selective_scan_naive(*args), atol=1e-5)
