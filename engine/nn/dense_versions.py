"""The dense path of each classifier network version (engine/nn/config.py NETWORK_VERSIONS)."""
from __future__ import annotations

from torch import nn

from .bdgf import BDGFClassifier
from .dense import DenseClassifier
from .dense_block import BlockDenseClassifier
from .dense_window import WindowDenseClassifier

DENSE_CLASSIFIERS = {1: DenseClassifier, 2: WindowDenseClassifier, 3: BlockDenseClassifier}


def dense_classifier(classifier: BDGFClassifier) -> nn.Module:
    """The dense classifier of the classifier's network version (the same weights, used as they are)."""
    return DENSE_CLASSIFIERS[classifier.version](classifier)
