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


def fused_scan_available() -> bool:
    return _fused_scan is not None


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Fused CUDA kernel when available and not exporting/compiling/tracing, else the torch scan."""
    if _fused_scan is not None and u.is_cuda and not _exporting():
        return _fused_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    return selective_scan_torch(u, delta, A, B, C, D, z, delta_bias, delta_softplus)


def _work_dtype(u):
    return torch.promote_types(u.dtype, torch.float32)


def softplus(x: torch.Tensor) -> torch.Tensor:
    """softplus; when exporting, from cheap elementwise ops (ONNX Runtime's Softplus is much slower)."""
    if _exporting():
        return torch.relu(x) + torch.log1p(torch.exp(-x.abs()))
    return F.softplus(x)


def _recurrence(delta, du, A, B, C, last_only: bool = False):
    """h_t = exp(delta_t A) h_{t-1} + du_t B_t;  y_t = C_t . h_t.

    delta, du: (b, L, D); A: (D, N); B: (b, N, L); C: (b, L, N). Returns y (b, L, D), or (b, D).
    Each step works on a (b, N, D) state with D innermost: exp(delta_t A) and du_t B_t exist for
    that step only (they stay in cache); y_t is one batched matmul (only the last one with
    last_only). Per-step slices come from one split (one ONNX Split node, no per-step Gather).
    Never builds a (b, L, D, N) tensor; the loop over the fixed L unrolls in ONNX.
    """
    L = delta.shape[1]
    At = A.t().contiguous()  # N D
    dts = torch.split(delta, 1, dim=1)  # (b, 1, D)
    dus = torch.split(du, 1, dim=1)  # (b, 1, D)
    Bs = torch.split(B, 1, dim=2)  # (b, N, 1)
    Cs = torch.split(C.contiguous(), 1, dim=1)  # (b, 1, N); bmm needs unit inner stride
    no_grad = not (torch.is_grad_enabled() and any(t.requires_grad for t in (delta, du, A, B, C)))
    if no_grad and not _exporting():
        # three reused (b, N, D) buffers, everything in place: fresh per-step buffers cost page
        # faults that more than double the time
        shape = (delta.shape[0], At.shape[0], delta.shape[2])
        h, nxt, dA = (delta.new_empty(shape) for _ in range(3))
        ys = []
        for i in range(L):
            torch.mul(dus[i], Bs[i], out=nxt)
            if i:
                torch.mul(dts[i], At, out=dA)
                nxt.addcmul_(dA.exp_(), h)
            h, nxt = nxt, h
            if not last_only or i == L - 1:
                ys.append(torch.matmul(Cs[i], h))  # b 1 D
        return ys[0][:, 0] if last_only else torch.cat(ys, dim=1)
    h = None
    ys = []
    for i in range(L):
        dBu = dus[i] * Bs[i]  # b N D
        h = dBu if h is None else torch.addcmul(dBu, torch.exp(dts[i] * At), h)
        if not last_only or i == L - 1:
            ys.append(torch.matmul(Cs[i], h))  # b 1 D
    return ys[0][:, 0] if last_only else torch.cat(ys, dim=1)


def scan_blD(u, delta, A, B, C, D=None, z=None, last_only: bool = False):
    """Selective scan in channels-last layout (what MambaBlock has): u, delta, z: (b, L, D), delta
    already biased and softplus-ed; A: (D, N); B, C: (b, L, N); D: (D,).
    Returns y (b, L, D), or (b, D) for the last position only."""
    y = _recurrence(delta, delta * u, A, B.transpose(1, 2), C, last_only)
    if last_only:
        u, z = u[:, -1], (None if z is None else z[:, -1])
    if D is not None:
        y = y + u * D
    if z is not None:
        y = y * F.silu(z)
    return y


def selective_scan_torch(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Pure-PyTorch selective scan (CPU, ONNX export) with mamba_ssm's (B, D, L) contract.

    Elementwise work stays in the contiguous (b, D, L) layout; delta and delta*u get one
    contiguous transpose each to (b, L, D) for the steps (strided per-step slices measured slower).
    """
    dtype, wd = u.dtype, _work_dtype(u)
    u, delta, A, B, C = (t.to(wd) for t in (u, delta, A, B, C))
    D, z, delta_bias = (None if t is None else t.to(wd) for t in (D, z, delta_bias))
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = softplus(delta)
    du = delta * u
    y = _recurrence(delta.transpose(1, 2).contiguous(), du.transpose(1, 2).contiguous(), A, B,
                    C.transpose(1, 2))  # b L D
    y = y.transpose(1, 2).contiguous()
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    return y.to(dtype)


def selective_scan_naive(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Straightforward reference: materialises deltaA and deltaB*u as (B, D, L, N) tensors."""
    wd = _work_dtype(u)
    delta = delta.to(wd)
    if delta_bias is not None:
        delta = delta + delta_bias.to(wd)[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    u32 = u.to(wd)
    delta_a = torch.exp(torch.einsum("bdl,dn->bdln", delta, A.to(wd)))
    delta_bu = torch.einsum("bdl,bnl,bdl->bdln", delta, B.to(wd), u32)
    h = u32.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = delta_a[:, :, t] * h + delta_bu[:, :, t]
        ys.append(torch.einsum("bdn,bn->bd", h, C[:, :, t].to(wd)))
    y = torch.stack(ys, dim=2)
    if D is not None:
        y = y + u32 * D.to(wd)[:, None]
    if z is not None:
        y = y * F.silu(z.to(wd))
    return y.to(u.dtype)
