"""engine.errors: the error classes users see, and one_line, which folds a multi-line message into the one
line a command line, a log or a batch summary shows."""
from __future__ import annotations

from engine.errors import BDGFError, Cancelled, InputMismatchError, ModelPackageError, one_line


def test_one_line_keeps_the_first_line_and_joins_the_rest():
    message = ("The input layers do not match the model card:\n"
               "  hsi (spectral): expected 24 bands, found 24 bands\n\n"
               "  dsm (lidar): expected 1 band, found no layer (missing)\n")
    assert one_line(message) == ("The input layers do not match the model card: hsi (spectral): expected "
                                 "24 bands, found 24 bands; dsm (lidar): expected 1 band, found no layer "
                                 "(missing)")
    assert one_line("  Model package not found: m.bdgf  ") == "Model package not found: m.bdgf"
    assert one_line("") == "" and one_line("\n \n") == ""


def test_user_errors_share_one_base_and_cancelling_is_not_one():
    assert issubclass(ModelPackageError, BDGFError) and issubclass(InputMismatchError, BDGFError)
    assert not issubclass(Cancelled, BDGFError)  # a cancelled run is not the user's mistake
