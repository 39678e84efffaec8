"""Selective scan (Mamba S6) with mamba_ssm's contract.

u, delta, z: (B, D, L); A: (D, N); B, C: (B, N, L); D, delta_bias: (D,).
h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t;  y_t = C_t . h_t + D u_t;  out = y * silu(z).
"""
from __future__ import annotations

import threading

import torch
import torch.nn.functional as F

try:  # optional fused CUDA kernel; absent on CPU boxes
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _fused_scan
except Exception:  # ImportError, OSError (CUDA libs), anything raised at import
    _fused_scan = None


LOG2E = 1.4426950408889634

_SCRATCH = threading.local()


def _scratch(name: str, shape, like: torch.Tensor) -> torch.Tensor:
    """Uninitialised (shape) buffer, reused across calls of this thread (one per name, regrown when
    too small). Inference only. Fresh multi-MB buffers each call cost page faults whenever glibc
    hands back trimmed/mmap'ed memory: measured as a per-process bimodal 20 vs 33 ms bench."""
    bufs = _SCRATCH.__dict__.setdefault("bufs", {})
    numel = 1
    for s in shape:
        numel *= s
    buf = bufs.get(name)
    # a buffer made under inference_mode cannot be written outside it (and vice versa is wasteful)
    stale = buf is None or buf.is_inference() != torch.is_inference_mode_enabled()
    if stale or buf.dtype != like.dtype or buf.device != like.device or buf.numel() < numel:
        buf = bufs[name] = like.new_empty(numel)
    return buf[:numel].view(shape)


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


def _recurrence(delta, du, A, B, C, last_only: bool = False, channels_first: bool = False, out=None):
    """h_t = exp(delta_t A) h_{t-1} + du_t B_t;  y_t = C_t . h_t, time-major.

    delta, du: (L, b, D); A: (D, N); B, C: (L, b, N). Returns y (L, b, D) — (b, D, L) with
    channels_first — or (b, D) with last_only. Without autograd (eager) it runs
    `_recurrence_chunked` (y time-major into `out` when given); an export with last_only runs
    `_last_output_parallel` (no loop); the loop below is the autograd and full-sequence export path.
    Each step works on a (b, N, D) state with D innermost: exp(delta_t A) and du_t B_t exist for
    that step only (they stay in cache); y_t is one batched matmul (only the last one with
    last_only). Time-major inputs make each step's slices contiguous (a (b, L, D) layout scatters
    them and the steps become latency-bound); they come from one split per input (one ONNX Split
    node each, no per-step Gather). Never builds a (b, L, D, N) tensor; the loop over the fixed L
    unrolls in ONNX (~8 nodes per step).
    """
    L = delta.shape[0]
    exporting = _exporting()
    # eager: exp(x) = exp2(x log2 e); PyTorch's CPU exp2 kernel measured 4x faster than exp.
    # ONNX has no Exp2 (and ORT's Exp is fast), so the export keeps exp.
    At = A.t().contiguous() if exporting else (A.t() * LOG2E).contiguous()  # N D
    no_grad = not (torch.is_grad_enabled() and any(t.requires_grad for t in (delta, du, A, B, C)))
    if no_grad and not exporting:
        return _recurrence_chunked(delta, du, At, B, C, last_only, channels_first, out)
    if last_only and exporting:
        return _last_output_parallel(delta, du, A, B, C)
    ys = []
    dts = torch.split(delta.unsqueeze(2), 1, dim=0)  # (1, b, 1, D)
    dus = torch.split(du.unsqueeze(2), 1, dim=0)  # (1, b, 1, D)
    Bs = torch.split(B.unsqueeze(3), 1, dim=0)  # (1, b, N, 1)
    Cs = torch.split(C.unsqueeze(2), 1, dim=0)  # (1, b, 1, N)
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


def _last_output_parallel(delta, du, A, B, C, chunk: int = 9):
    """y of the last step only, without a loop (the export's form: ~60 ONNX nodes instead of ~8 per step).

    Unrolling h_t = exp(delta_t A) h_{t-1} + du_t B_t gives h_{L-1} = sum_t exp(A S_t) du_t B_t with
    S_t = sum_{s>t} delta_s, so y_d = C_{L-1} . h_{L-1} = sum_{t,n} G_{t,n} du_{t,d} exp(A_{d,n} S_{t,d})
    with G_t = B_t * C_{L-1}. The same exponentials as the loop (one per t, d, n), all independent;
    per `chunk` steps one Exp over a (b, chunk, N, D) tensor, times du, then the sum over (t, n) as one
    batched matrix-vector product (ONNX Runtime's ReduceSum over N was ~3x slower; chunks keep the
    tensors in the caches: ~25 % faster than one Exp over all steps). S_t is a suffix sum (flip,
    cumsum, flip) minus delta_t. delta, du: (L, b, D); A: (D, N); B, C: (L, b, N). Returns (b, D)."""
    L = delta.shape[0]
    S = torch.flip(torch.cumsum(torch.flip(delta, [0]), 0), [0]) - delta  # L b D
    S, du, G = (t.transpose(0, 1) for t in (S, du, B * C[-1]))  # batch-major: b L .
    At = A.t()  # N D
    y = None
    for t0 in range(0, L, chunk):
        t1 = min(t0 + chunk, L)
        w = torch.exp(S[:, t0:t1].unsqueeze(2) * At) * du[:, t0:t1].unsqueeze(2)  # b T N D
        part = torch.matmul(G[:, t0:t1].flatten(1).unsqueeze(1), w.flatten(1, 2)).squeeze(1)  # b D
        y = part if y is None else y + part
    return y


# Steps per chunk of the in-place path. bench.scan (B 256, L 121, D 64, N 8, 1 thread), ms:
# T 2 -> 20.4, 3 -> 20.4, 4 -> 20.2, 6 -> 20.2, 8 -> 20.8; in a side harness T 1 and 16 were
# ~1 and ~3 ms slower than 4 (per-step overhead / buffers leaving the caches).
_CHUNK = 4


def _recurrence_chunked(delta, du, At, B, C, last_only: bool, channels_first: bool, out=None):
    """In-place, no-autograd `_recurrence` (eager): per chunk of T steps, exp2(delta A) and du B
    come from one op each into reused (T, b, N, D) buffers, the states are written over du B (one
    addcmul_ per step) and y for the whole chunk is one bmm, written time-major into `out` (or a
    new (L, b, D)). One op per step instead of five (the per-step op overhead dominated); only a
    chunk of states ever exists. At is A^T log2(e) (N, D)."""
    L, b, d = delta.shape
    n = At.shape[0]
    T = min(_CHUNK, L)
    dA = _scratch("dA", (T, b, n, d), delta)
    # two state buffers, alternating by chunk: a chunk's first step reads the previous chunk's last
    states = [_scratch(f"h{i}", (T, b, n, d), delta) for i in range(2)]
    y = None if last_only else delta.new_empty(L, b, d) if out is None else out
    h = None
    for k, t0 in enumerate(range(0, L, T)):
        t1 = min(t0 + T, L)
        m = t1 - t0
        hs, a = states[k % 2][:m], dA[:m]
        torch.mul(delta[t0:t1].unsqueeze(2), At, out=a).exp2_()  # m b N D
        torch.mul(du[t0:t1].unsqueeze(2), B[t0:t1].unsqueeze(3), out=hs)  # m b N D
        for i in range(m):
            if h is not None:
                hs[i].addcmul_(a[i], h)
            h = hs[i]
        if not last_only:
            torch.bmm(C[t0:t1].reshape(m * b, 1, n), hs.view(m * b, n, d), out=y[t0:t1].view(m * b, 1, d))
    if last_only:
        return torch.bmm(C[-1].unsqueeze(1), h).squeeze(1)  # b D
    if channels_first:  # one 2-D transpose copy (always a copy: y may be the caller's scratch)
        return y.new_empty(b * d, L).copy_(y.view(L, b * d).t()).view(b, d, L)
    return y


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

    delta, u, B and C get one contiguous transpose each to time-major for the steps; y comes back
    as (b, D, L) for the D and silu(z) epilogue.
    """
    dtype, wd = u.dtype, _work_dtype(u)
    u, delta, A, B, C = (t.to(wd) for t in (u, delta, A, B, C))
    D, z, delta_bias = (None if t is None else t.to(wd) for t in (D, z, delta_bias))
    b, d, L = u.shape

    def time_major(t):  # (b, X, L) -> (L, b, X); a 2-D transpose copy is ~3x faster than permute
        return t.reshape(-1, L).t().contiguous().view(L, b, -1)

    grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (u, delta, A, B, C, D, z, delta_bias))
    if grad or _exporting():
        if delta_bias is not None:
            delta = delta + delta_bias[:, None]
        if delta_softplus:
            delta = softplus(delta)
        y = _recurrence(time_major(delta), time_major(delta * u), A, time_major(B), time_major(C),
                        channels_first=True)  # b D L
        if D is not None:
            y = y + u * D[:, None]
        if z is not None:
            y = y * F.silu(z)
        return y.to(dtype)
    # inference: transpose delta and u as given into reused buffers, then bias, softplus and
    # delta*u in place there (same work as in (b, D, L), minus three 8 MB temporaries)
    def time_major_(name, t):  # the same transpose, into a reused buffer
        out = _scratch(name, (L, b, t.shape[1]), t)
        out.view(L, -1).copy_(t.reshape(-1, L).t())
        return out

    dt = time_major_("dt", delta)
    if delta_bias is not None:
        dt.add_(delta_bias)
    if delta_softplus:
        torch.ops.aten.softplus.out(dt, 1, 20, out=dt)
    du = time_major_("du", u).mul_(dt)
    # time-major y goes over du (chunk k's du is read before its y is written): one buffer less
    y = _recurrence(dt, du, A, time_major_("B", B), time_major_("C", C), channels_first=True, out=du)
    if D is not None:  # y is ours: finish in place
        y.addcmul_(u, D[:, None])
    if z is not None:  # silu(z) into the dead dt buffer instead of a new one
        y.mul_(torch.ops.aten.silu.out(z, out=dt.view(b, d, L)))
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
