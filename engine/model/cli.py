"""`python -m engine info MODEL.bdgf`: a model package's card (classes, modalities, accuracy, what it can
run without and which trust outputs it supports), as the dock and bdgf:modelinfo show it."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    info = sub.add_parser("info", help="print a model package's card")
    info.add_argument("model", help="model package (.bdgf)")


def run(args: argparse.Namespace) -> int:
    from .card import format_card
    from .package import ModelPackage

    print(format_card(ModelPackage(args.model).card))
    return 0
