"""Command line: `python -m engine <verb>`, each verb beside its room: `classify` (engine/classify/cli.py),
`info` (engine/model/cli.py), `accuracy` (engine/accuracy/cli.py), `batch` (engine/batch/cli.py) and
`suggest` (engine/trust/cli.py). This module owns what they share: signals and the one-line endings (the
exit codes live in engine/exit_codes.py, shared with `python -m training.run`).

User errors print one line on stderr and exit with code 2 (no traceback); cancelling (Ctrl+C)
exits with 130, a SIGTERM (job scheduler, `kill`) with 143 (the shells' 128 + signal number); both print
one line and leave no output file.
"""
from __future__ import annotations

import argparse
import signal
import sys

from .accuracy import cli as accuracy_cli
from .batch import cli as batch_cli
from .classify import cli as classify_cli
from .errors import BDGFError, Cancelled, one_line
from .exit_codes import CANCELLED, TERMINATED, USER_ERROR, leave
from .model import cli as model_cli
from .trust import cli as trust_cli


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM; a BaseException like KeyboardInterrupt, so that it unwinds
    through the writers (which remove their temporary files) and no `except Exception` stops it."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated


# Each room's command: add_parser(sub) and run(args), in the order `--help` lists them.
COMMANDS = {"classify": classify_cli, "info": model_cli, "accuracy": accuracy_cli, "batch": batch_cli,
            "suggest": trust_cli}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="BDGF land-cover inference.")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS.values():
        command.add_parser(sub)
    return parser


def _left_behind(args) -> str:
    if args.command == "batch":
        return "the finished blocks are kept; rerun the same command to resume"
    return "no output written"


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return COMMANDS[args.command].run(args)
    except BDGFError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return USER_ERROR
    except (Cancelled, KeyboardInterrupt):
        print(f"cancelled: {_left_behind(args)}", file=sys.stderr)
        return CANCELLED
    except _Terminated:
        print(f"terminated (SIGTERM): {_left_behind(args)}", file=sys.stderr)
        return TERMINATED
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    leave(main())
