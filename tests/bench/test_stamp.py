"""bench.stamp: the stamp every result carries (git state, the tree's description, the command line with
paths relative to the repository) and the stamp of a copied tree."""
from __future__ import annotations

import json
import subprocess

from bench import stamp as stamp_mod
from bench.stamp import REPO, describe_tree, git_state

STAMP_KEYS = {"commit", "commit_short", "clean", "changes", "date", "machine", "command", "sources_sha256"}


def _read(docs, name: str) -> tuple[dict, str]:
    data = json.loads((docs / f"{name}.json").read_text(encoding="utf-8"))
    text = (docs / f"{name}.md").read_text(encoding="utf-8")
    assert data["benchmark"] == name and STAMP_KEYS <= set(data["stamp"])
    assert text.splitlines()[2].startswith("> **Run:** ") and f"[`{name}.json`]({name}.json)" in text
    return data, text


def test_stamp_matches_git():
    state = git_state()
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    if head.returncode:
        assert state["commit"] is None
        return
    status = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    assert state["commit"] == head.stdout.strip() and state["clean"] == (status == "")
    assert describe_tree({"commit_short": "abc1234", "clean": True}) == "commit `abc1234`, tree clean"
    assert "not clean" in describe_tree({"commit_short": "abc1234", "clean": False, "changes": [" M x.py"]})


def test_results_record_no_machine_paths(tmp_path):
    """Work folders outside the repository are recorded relative to it, in commands and in paths."""
    from bench.stamp import command_line, repo_relative

    outside = tmp_path / "work"
    line = command_line("bench.scarcity", ["--jobs", "2", "--work", str(outside)])
    recorded = line.split("--work ")[1]
    assert line.startswith("python -m bench.scarcity --jobs 2 --work ../") and not recorded.startswith("/")
    assert (REPO / recorded).resolve() == outside.resolve()
    assert repo_relative(REPO / "docs" / "bench") == "docs/bench"
    assert not repo_relative(outside).startswith("/")
    # where the page is written is not part of the command (a scratch folder would be a machine path)
    line = command_line("bench.testbed", ["--seeds", "0,1", "--docs", str(tmp_path / "pages"), "--quick"])
    assert line == "python -m bench.testbed --seeds 0,1 --quick"
    assert command_line("bench.testbed", [f"--docs={tmp_path}"]) == "python -m bench.testbed"


def test_stamp_of_a_copied_tree_takes_the_given_commit(monkeypatch):
    monkeypatch.delenv(stamp_mod.GIVEN_COMMIT, raising=False)
    own = stamp_mod.git_state()["commit"]  # this checkout's HEAD
    assert own and len(own) == 40
    monkeypatch.setenv(stamp_mod.GIVEN_COMMIT, "0123456789abcdef0123456789abcdef01234567")
    monkeypatch.setenv(stamp_mod.GIVEN_CLEAN, "1")
    state = stamp_mod.git_state()
    assert state["commit_short"] == "0123456" and state["clean"] is True
    assert stamp_mod.GIVEN_COMMIT in state["tree_note"]
