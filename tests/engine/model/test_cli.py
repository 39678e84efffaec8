"""`python -m engine info` (engine/model/cli.py): the card as text; a missing package is a one-line error."""
from __future__ import annotations

from tests.engine.test_main import REPO, _engine


def test_cli_info_prints_the_card(engine_model):
    proc = _engine("info", engine_model)
    assert proc.returncode == 0, proc.stderr
    for text in ("Model: ", "Modalities (3)", "Content hash: sha256:"):
        assert text in proc.stdout
    bad = _engine("info", REPO + "/README-does-not-exist.bdgf")
    assert bad.returncode == 2 and bad.stderr.startswith("error: ")


def test_info_parser_and_run_print_every_class_and_what_it_can_run_without(engine_model, fixture_scene,
                                                                            capsys):
    import argparse

    from engine.model import cli

    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["info", engine_model])
    assert (args.command, args.model) == ("info", engine_model)
    assert cli.run(args) == 0
    out = capsys.readouterr().out
    assert all(c["name"] in out for c in fixture_scene["classes"])
    assert "Can run without: no layer" in out  # a random package's card gives no figure without a layer
