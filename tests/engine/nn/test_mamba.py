"""engine.nn.mamba: MambaBlock holds mamba_ssm's parameter names and shapes; its channels-last path equals
the conv1d + selective_scan layout of mamba_ssm."""
from __future__ import annotations

import torch

from engine.nn.mamba import MambaBlock

EXPECTED_MAMBA_STATE = {  # mamba_ssm.modules.mamba_simple.Mamba(d_model=32, d_state=8, d_conv=4, expand=2)
    "A_log": (64, 8),
    "D": (64,),
    "in_proj.weight": (128, 32),
    "conv1d.weight": (64, 1, 4),
    "conv1d.bias": (64,),
    "x_proj.weight": (18, 64),
    "dt_proj.weight": (64, 2),
    "dt_proj.bias": (64,),
    "out_proj.weight": (32, 64),
}


def test_mamba_block_has_mamba_ssm_parameter_names_and_shapes():
    block = MambaBlock(32, d_state=8, d_conv=4, expand=2)
    got = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    assert got == EXPECTED_MAMBA_STATE
    a = -torch.exp(block.A_log)
    assert torch.allclose(a[0], -torch.arange(1, 9, dtype=torch.float32))  # S4D-real
    dt = torch.nn.functional.softplus(block.dt_proj.bias)
    assert dt.min() >= 1e-4 - 1e-9 and dt.max() <= 0.1 + 1e-6


def test_mamba_channels_last_path_equals_contract_path():
    torch.manual_seed(0)
    block = MambaBlock(16, d_state=4).double()
    with torch.no_grad():
        block.conv1d.weight.normal_()  # make the causal conv matter
    h = torch.randn(3, 17, 16, dtype=torch.float64)
    ref = block._forward_fused(h)  # conv1d + selective_scan, the mamba_ssm layout
    out = block(h)
    assert out.shape == (3, 17, 16)
    assert (out - ref).abs().max() < 1e-8
    assert (block(h, last_only=True) - ref[:, -1]).abs().max() < 1e-8
