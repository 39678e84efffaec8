"""training/requirements.py: one table of what training imports, checked in the interpreter that trains."""
import json
import subprocess
import sys
from pathlib import Path

from training.requirements import TRAINING_PACKAGES

REPO = Path(__file__).resolve().parents[2]


def test_the_table_matches_requirements_txt():
    listed = {line.split("=")[0].split("<")[0].split(">")[0].strip().lower()
              for line in (REPO / "requirements.txt").read_text().splitlines() if line and line[0].isalpha()}
    assert set(TRAINING_PACKAGES.values()) <= listed


def test_this_interpreter_has_everything_and_one_without_torch_is_told_the_command():
    here = subprocess.run([sys.executable, "-m", "training.requirements"], cwd=REPO, capture_output=True,
                          text=True, check=True)
    report = json.loads(here.stdout)
    assert report["missing"] == [] and report["install"] == "" and report["version_ok"]
    bare = subprocess.run(["/usr/bin/python3", "-m", "training.requirements"], cwd=REPO, capture_output=True,
                          text=True, check=True)
    report = json.loads(bare.stdout)
    assert "torch" in report["missing"] and report["install"].startswith("/usr/bin/python3 -m pip install")
    assert "torch" in report["install"].split()
