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


LOG2E = 1.4426950408889634


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


def _recurrence(delta, du, A, B, C, last_only: bool = False, channels_first: bool = False):
    """h_t = exp(delta_t A) h_{t-1} + du_t B_t;  y_t = C_t . h_t, time-major.

    delta, du: (L, b, D); A: (D, N); B, C: (L, b, N). Returns y (L, b, D) — (b, D, L) with
    channels_first, stacked there directly — or (b, D) with last_only.
    Each step works on a (b, N, D) state with D innermost: exp(delta_t A) and du_t B_t exist for
    that step only (they stay in cache); y_t is one batched matmul (only the last one with
    last_only). Time-major inputs make each step's slices contiguous (a (b, L, D) layout scatters
    them and the steps become latency-bound); they come from one split per input (one ONNX Split
    node each, no per-step Gather). Never builds a (b, L, D, N) tensor; the loop over the fixed L
    unrolls in ONNX.
    """
    L = delta.shape[0]
    exporting = _exporting()
    # eager: exp(x) = exp2(x log2 e); PyTorch's CPU exp2 kernel measured 4x faster than exp.
    # ONNX has no Exp2 (and ORT's Exp is fast), so the export keeps exp.
    At = A.t().contiguous() if exporting else (A.t() * LOG2E).contiguous()  # N D
    dts = torch.split(delta.unsqueeze(2), 1, dim=0)  # (1, b, 1, D)
    dus = torch.split(du.unsqueeze(2), 1, dim=0)  # (1, b, 1, D)
    Bs = torch.split(B.unsqueeze(3), 1, dim=0)  # (1, b, N, 1)
    Cs = torch.split(C.unsqueeze(2), 1, dim=0)  # (1, b, 1, N)
    ys = []
    no_grad = not (torch.is_grad_enabled() and any(t.requires_grad for t in (delta, du, A, B, C)))
    if no_grad and not exporting:
        # three reused (1, b, N, D) buffers, everything in place: fresh per-step buffers cost page
        # faults that more than double the time
        shape = (1, delta.shape[1], At.shape[0], delta.shape[2])
        h, nxt, dA = (delta.new_empty(shape) for _ in range(3))
        for i in range(L):
            torch.mul(dus[i], Bs[i], out=nxt)
            if i:
                torch.mul(dts[i], At, out=dA)
                nxt.addcmul_(dA.exp2_(), h)
            h, nxt = nxt, h
            if not last_only or i == L - 1:
                ys.append(torch.matmul(Cs[i], h))  # 1 b 1 D
    else:
        expf = torch.exp if exporting else torch.exp2
        h = None
        for i in range(L):
            dBu = dus[i] * Bs[i]  # 1 b N D
            h = dBu if h is None else torch.addcmul(dBu, expf(dts[i] * At), h)
            if not last_only or i == L - 1:
                ys.append(torch.matmul(Cs[i], h))  # 1 b 1 D
    if last_only:
        return ys[0][0, :, 0]
    if channels_first:
        return torch.stack([y[0, :, 0] for y in ys], dim=2)  # b D L
    return torch.cat(ys, dim=0).squeeze(2)  # L b D


def scan_time_major(u, delta, A, B, C, D=None, z=None, last_only: bool = False):
    """Selective scan on time-major tensors (what MambaBlock's torch path has): u, delta, z:
    (L, b, D), delta already biased and softplus-ed; A: (D, N); B, C: (L, b, N); D: (D,).
    Returns y (L, b, D), or (b, D) for the last position only."""
    y = _recurrence(delta, delta * u, A, B, C, last_only)
    if last_only:
        u, z = u[-1], (None if z is None else z[-1])
    if D is not None:
        y = y + u * D
    if z is not None:
        y = y * F.silu(z)
    return y


def selective_scan_torch(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """Pure-PyTorch selective scan (CPU, ONNX export) with mamba_ssm's (B, D, L) contract.

    Elementwise work stays in the given (b, D, L) layout; delta, delta*u, B and C get one
    contiguous transpose each to time-major for the steps.
    """
    dtype, wd = u.dtype, _work_dtype(u)
    u, delta, A, B, C = (t.to(wd) for t in (u, delta, A, B, C))
    D, z, delta_bias = (None if t is None else t.to(wd) for t in (D, z, delta_bias))
    if delta_bias is not None:
        delta = delta + delta_bias[:, None]
    if delta_softplus:
        delta = softplus(delta)

    b, d, L = u.shape

    def time_major(t):  # (b, X, L) -> (L, b, X); a 2-D transpose copy is ~3x faster than permute
        return t.reshape(-1, L).t().contiguous().view(L, b, -1)

    y = _recurrence(time_major(delta), time_major(delta * u), A, time_major(B), time_major(C),
                    channels_first=True)  # b D L
    if torch.is_grad_enabled() and y.requires_grad:
        if D is not None:
            y = y + u * D[:, None]
        if z is not None:
            y = y * F.silu(z)
    else:  # y is ours: finish in place
        if D is not None:
            y.addcmul_(u, D[:, None])
        if z is not None:
            y.mul_(F.silu(z))
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
