"""Selective scan (Mamba S6) with mamba_ssm's contract.

u, delta, z: (B, D, L); A: (D, N); B, C: (B, N, L); D, delta_bias: (D,).
h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t;  y_t = C_t . h_t + D u_t;  out = y * silu(z).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

try:  # optional fused CUDA kernel; absent on CPU boxes
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _fused_scan
except Exception:  # ImportError, OSError (CUDA libs), anything raised at import
    _fused_scan = None

def _exporting() -> bool:
    return bool(torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling() or torch.jit.is_tracing())


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Fused CUDA kernel when available and not exporting/compiling/tracing, else the torch scan."""
    if _fused_scan is not None and u.is_cuda and not _exporting():
        return _fused_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    return selective_scan_torch(u, delta, A, B, C, D, z, delta_bias, delta_softplus)


def _work_dtype(u):
    return torch.promote_types(u.dtype, torch.float32)


def _prepare_delta(delta, delta_bias, delta_softplus, dtype):
    delta = delta.to(dtype)
    if delta_bias is not None:
        delta = delta + delta_bias.to(dtype)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    return delta


def _finish(y, u, D, z, dtype):
    if D is not None:
        y = y + u.to(y.dtype) * D.to(y.dtype)[:, None]
    if z is not None:
        y = y * F.silu(z.to(y.dtype))
    return y.to(dtype)


def selective_scan_torch(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Sequential scan for CPU and ONNX export; never builds a (batch, L, D, N) tensor.

    Each step works on a (batch, N, D) state with D innermost: exp(delta_t A) and delta_t B_t u_t
    are made for that step only (they stay in cache), the update is one fused multiply-add and
    y_t = C_t h_t one batched matmul. Every operand is made contiguous first: a strided operand
    makes PyTorch emit strided outputs and slows each step several-fold. The loop over the fixed L
    unrolls in ONNX.
    """
    wd = _work_dtype(u)
    delta = _prepare_delta(delta, delta_bias, delta_softplus, wd)
    dt = delta.permute(2, 0, 1).contiguous()  # L b D
    du = dt * u.to(wd).permute(2, 0, 1)  # L b D
    At = A.to(wd).t().contiguous().unsqueeze(0)  # 1 N D
    Bt = B.to(wd).permute(2, 0, 1).contiguous().unsqueeze(-1)  # L b N 1
    Ct = C.to(wd).permute(2, 0, 1).contiguous().unsqueeze(2)  # L b 1 N
    h = None
    ys = []
    for i in range(u.shape[2]):
        dBu = du[i].unsqueeze(1) * Bt[i]  # b N D
        h = dBu if h is None else torch.addcmul(dBu, torch.exp(dt[i].unsqueeze(1) * At), h)
        ys.append(torch.bmm(Ct[i], h).squeeze(1))  # b D
    y = torch.stack(ys, dim=2)  # b D L
    return _finish(y, u, D, z, u.dtype)


def selective_scan_naive(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Straightforward reference: materialises deltaA and deltaB*u as (B, D, L, N) tensors."""
    wd = _work_dtype(u)
    delta = _prepare_delta(delta, delta_bias, delta_softplus, wd)
    u32 = u.to(wd)
    delta_a = torch.exp(torch.einsum("bdl,dn->bdln", delta, A.to(wd)))
    delta_bu = torch.einsum("bdl,bnl,bdl->bdln", delta, B.to(wd), u32)
    h = u32.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = delta_a[:, :, t] * h + delta_bu[:, :, t]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t].to(wd)))
    y = torch.stack(ys, dim=2)
    return _finish(y, u, D, z, u.dtype)
