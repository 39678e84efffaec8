"""Errors the engine raises; their messages are shown to users as they are."""


class BDGFError(Exception):
    """A problem with the user's input or environment, worded for the user."""


class ModelPackageError(BDGFError):
    """A model package that cannot be read or does not validate."""


class InputMismatchError(BDGFError):
    """Input layers that do not match what the model card expects."""


class Cancelled(Exception):
    """The user cancelled the run."""


def one_line(message: str) -> str:
    """A multi-line message (e.g. one line per modality) folded into one line: what a command line, a log
    line or a batch summary shows."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return " ".join(lines[:1] + ["; ".join(lines[1:])]).strip()
