"""Mamba (S6) block with mamba_ssm's parameter names and shapes; checkpoints are interchangeable."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .scan import _exporting, fused_scan_available, scan_time_major, selective_scan, softplus


class MambaBlock(nn.Module):
    """Same parameters as ``mamba_ssm.modules.mamba_simple.Mamba``; input/output (B, L, d_model)."""

    def __init__(self, d_model: int, d_state: int = 16, d_conv: int = 4, expand: int = 2,
                 dt_rank: int | str = "auto", dt_min: float = 0.001, dt_max: float = 0.1,
                 dt_init_floor: float = 1e-4, dt_scale: float = 1.0, conv_bias: bool = True,
                 bias: bool = False):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner,
                                padding=d_conv - 1, bias=conv_bias)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.A_log = nn.Parameter(torch.empty(self.d_inner, d_state))
        self.D = nn.Parameter(torch.empty(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)
        self._init_ssm(dt_min, dt_max, dt_init_floor, dt_scale)

    @torch.no_grad()
    def _init_ssm(self, dt_min, dt_max, dt_init_floor, dt_scale):
        std = self.dt_rank ** -0.5 * dt_scale
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        # dt log-uniform in [dt_min, dt_max]; bias = softplus^-1(dt)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        # S4D-real: A[:, n] = -(n + 1)
        a = torch.arange(1, self.d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log.copy_(torch.log(a))
        self.D.fill_(1.0)

    def forward(self, hidden: torch.Tensor, last_only: bool = False) -> torch.Tensor:
        """hidden (B, L, d_model) -> (B, L, d_model), or (B, d_model) for the last position only."""
        if hidden.is_cuda and fused_scan_available() and not _exporting():
            return self._forward_fused(hidden, last_only)
        return self._forward_torch(hidden, last_only)

    def _forward_fused(self, hidden, last_only: bool = False):
        """mamba_ssm's fused selective-scan kernel (CUDA); with last_only, out_proj on the last position."""
        L = hidden.shape[1]
        x, z = self.in_proj(hidden).transpose(1, 2).chunk(2, dim=1)  # (B, d_inner, L) each
        x = F.silu(self.conv1d(x)[..., :L])
        dbc = self.x_proj(x.transpose(1, 2))  # (B, L, dt_rank + 2N)
        dt, Bm, Cm = torch.split(dbc, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.linear(dt, self.dt_proj.weight).transpose(1, 2)  # (B, d_inner, L)
        A = -torch.exp(self.A_log.float())
        y = selective_scan(x, delta, A, Bm.transpose(1, 2), Cm.transpose(1, 2), self.D.float(), z,
                           delta_bias=self.dt_proj.bias.float(), delta_softplus=True)
        if last_only:  # the kernel runs every step anyway; only the last one's output is projected
            return self.out_proj(y[:, :, -1])
        return self.out_proj(y.transpose(1, 2))

    def _causal_conv(self, x):
        """Depthwise causal conv along L on time-major (L, B, d_inner); same as conv1d[..., :L]."""
        L, k = x.shape[0], self.d_conv
        # one contiguous row per tap: a strided (d_inner,) operand makes every op several times slower
        w = self.conv1d.weight[:, 0].t().contiguous()  # (k, d_inner)
        bias = self.conv1d.bias
        if torch.is_grad_enabled() or _exporting():
            xp = F.pad(x, (0, 0, 0, 0, k - 1, 0))
            out = xp[0:L] * w[0]
            for j in range(1, k):
                out = out + xp[j:j + L] * w[j]
            return out if bias is None else out + bias
        # inference: tap j reads k-1-j steps back; accumulate in place, no padded copy
        out = x * w[k - 1] if bias is None else torch.addcmul(bias, x, w[k - 1])
        for j in range(k - 1):
            lag = k - 1 - j
            out[lag:].addcmul_(x[:L - lag], w[j])
        return out

    def _forward_torch(self, hidden, last_only):
        """Time-major path (L, B, .): contiguous per-step slices, no (B, D, L) transposes."""
        if last_only:
            return self.forward_last(hidden.transpose(0, 1))
        x, z = self.in_proj(hidden.transpose(0, 1)).chunk(2, dim=-1)  # (L, B, d_inner) each
        x = F.silu(self._causal_conv(x))
        dt, Bm, Cm = torch.split(self.x_proj(x), [self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = softplus(self.dt_proj(dt))  # bias included
        A = -torch.exp(self.A_log)
        y = scan_time_major(x, delta, A, Bm.contiguous(), Cm.contiguous(), self.D, z, last_only=last_only)
        out = self.out_proj(y)
        return out if last_only else out.transpose(0, 1)

    def forward_last(self, hidden: torch.Tensor) -> torch.Tensor:
        """Output at the last position only, from time-major hidden (L, B, d_model) -> (B, d_model).

        z (the gate) is read at the last position only, so its half of in_proj runs on that one token;
        the scan keeps only the last output (eager: the chunked recurrence; export: the loop-free form).
        On a GPU with mamba_ssm, its fused kernel (one launch instead of a launch per step)."""
        if hidden.is_cuda and fused_scan_available() and not _exporting():
            return self._forward_fused(hidden.transpose(0, 1), last_only=True)
        d = self.d_inner
        w, b = self.in_proj.weight, self.in_proj.bias
        x = F.silu(self._causal_conv(F.linear(hidden, w[:d], None if b is None else b[:d])))  # (L, B, d)
        z = F.linear(hidden[-1], w[d:], None if b is None else b[d:])  # (B, d)
        dt, Bm, Cm = torch.split(self.x_proj(x), [self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = softplus(self.dt_proj(dt))  # bias included
        A = -torch.exp(self.A_log)
        y = scan_time_major(x, delta, A, Bm.contiguous(), Cm.contiguous(), self.D, z.unsqueeze(0),
                            last_only=True)
        return self.out_proj(y)
