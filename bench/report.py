"""Markdown tables and the one writer of a benchmark's results (NAME.json + NAME.md, stamp on top).

    lines = md_table(["backend", "seconds"], [["onnx", "1.44"]], align="lr")
    write_results(docs, "scan", "Selective scan", data, lines)  # docs/scan.json, docs/scan.md
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from bench.stamp import REPO, describe_machine, describe_tree, repo_relative  # noqa: F401 (re-exported)

DOCS = REPO / "docs" / "bench"


def md_table(header: Sequence[str], rows: Iterable[Sequence], align: str = "") -> list[str]:
    """A GitHub Markdown table; align: one letter per column, 'l' (default) or 'r'."""
    rule = ["---:" if (align[i:i + 1] == "r") else "---" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(rule) + "|"]
    out += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return out


def ratio(value: float | None, baseline: float | None, digits: int = 2) -> str:
    """'1.40×' (value / baseline), '–' when either is missing or the baseline is zero."""
    if value is None or not baseline:
        return "–"
    return f"{value / baseline:.{digits}f}×"


def stamp_lines(stamp: dict, json_name: str) -> list[str]:
    """The stamp as the first block of a benchmark page."""
    lines = [f"> **Run:** {describe_tree(stamp)}; {stamp.get('date', '?')}; "
             f"`{stamp.get('command', '?')}`  ",
             f"> **Machine:** {describe_machine(stamp.get('machine', {}))}  ",
             f"> **Raw results:** [`{json_name}`]({json_name}) (every number on this page comes from it)"]
    if stamp.get("tree_note"):
        lines[-1] += "  "
        lines.append(f"> **Note:** {stamp['tree_note']}")
    return lines


def write_results(docs: str | os.PathLike, name: str, title: str, data: dict,
                  body: list[str]) -> tuple[Path, Path]:
    """docs/NAME.json (data, which holds the stamp) and docs/NAME.md (title, stamp, body)."""
    docs = Path(docs)
    docs.mkdir(parents=True, exist_ok=True)
    if "stamp" not in data:
        raise ValueError("benchmark results must carry a stamp (bench.stamp.make_stamp)")
    json_path = docs / f"{name}.json"
    json_path.write_text(json.dumps({"benchmark": name, **data}, indent=1, default=str) + "\n",
                         encoding="utf-8")
    return json_path, write_markdown(docs, name, title, data, body)


def write_markdown(docs: str | os.PathLike, name: str, title: str, data: dict, body: list[str]) -> Path:
    """docs/NAME.md from results (data as in NAME.json): also to render a page again from its JSON after the
    page's code changed, without measuring again (the stamp stays the measurement's)."""
    md_path = Path(docs) / f"{name}.md"
    lines = [f"# {title}", "", *stamp_lines(data["stamp"], f"{name}.json"), "", *body]
    md_path.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")
    return md_path
