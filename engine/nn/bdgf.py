"""BDGFClassifier: the guided branches, one head each, fused by the mean of branch softmaxes."""
from __future__ import annotations

import torch
from torch import nn

from .branches import build_branch
from .branches_block import BLOCK_BRANCHES
from .branches_window import WINDOW_BRANCHES
from .config import BDGFConfig, ClassifierConfig


class BranchHead(nn.Module):
    def __init__(self, dim: int, n_classes: int, proj_dim: int, dropout: float):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(dim, n_classes)
        self.projector = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, proj_dim))

    def forward(self, f):
        return self.classifier(self.drop(f)), self.projector(f)


class BDGFClassifier(nn.Module):
    """forward(x (B, C, P, P), d (B, F, P, P)) -> probs (B, n_classes).

    Depends on the DDPM only through F = sum(feature_channels) and the level split, so features of
    any DDPM with the same `feature_channels()` plug in unchanged (cross-model features).
    """

    def __init__(self, cfg: BDGFConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        cc = cfg.classifier
        self.in_channels = cfg.in_channels
        self.feature_channels = list(cfg.feature_channels())
        self.branch_names = list(cc.branches)
        self.version = cc.version
        self.branches = nn.ModuleDict({n: _branch(n, self.in_channels, self.feature_channels, cc,
                                                  cfg.patch_size) for n in self.branch_names})
        self.heads = nn.ModuleDict({n: BranchHead(cc.embed_dim, cfg.n_classes, cc.proj_dim, cc.dropout)
                                    for n in self.branch_names})

    def accepts(self, feature_channels: list[int]) -> bool:
        return list(feature_channels) == self.feature_channels

    def forward_train(self, x, d) -> dict:
        logits, feats = [], []
        for name in self.branch_names:
            lg, pf = self.heads[name](self.branches[name](x, d))
            logits.append(lg)
            feats.append(pf)
        probs = torch.stack([torch.softmax(lg, dim=1) for lg in logits]).mean(0)
        return {"logits": logits, "features": feats, "probs": probs}

    def branch_probs(self, x, d) -> list:
        """Each branch's softmax (B, n_classes), in branch order."""
        return [torch.softmax(self.heads[name].classifier(self.branches[name](x, d)), dim=1)
                for name in self.branch_names]

    def forward(self, x, d):
        return fuse_branches(self.branch_probs(x, d))

    def forward_branches(self, x, d):
        """(probs (B, n_classes), branch_probs (B, n_branches, n_classes)): `forward`'s probabilities, the
        same operations in the same order (so the same bits), and the branch softmaxes they fuse."""
        branch = self.branch_probs(x, d)
        return fuse_branches(branch), torch.stack(branch, dim=1)


def _branch(name: str, in_channels: int, feature_channels: list[int], cfg: ClassifierConfig,
            patch_size: int) -> nn.Module:
    """The branch of the network version the config names (engine/nn/config.py NETWORK_VERSIONS)."""
    if cfg.version == 1:
        return build_branch(name, in_channels, feature_channels, cfg, patch_size)
    branches = WINDOW_BRANCHES if cfg.version == 2 else BLOCK_BRANCHES
    return branches[name](in_channels, feature_channels, cfg, patch_size, bool(cfg.guidance.get(name, True)))


def fuse_branches(branch: list):
    """The fusion rule of inference: the mean of the branch softmaxes, summed in branch order."""
    probs = None
    for p in branch:
        probs = p if probs is None else probs + p
    return probs / len(branch)
