"""Reading TOML tables with care: unknown keys named with the allowed ones, types checked, paths resolved
against the config's folder. The one home of ConfigError (training.config re-exports it)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.errors import BDGFError


class ConfigError(BDGFError):
    """A training configuration that cannot be used; the message names the problem."""


def check_keys(table: dict, allowed: set[str], where: str, required: set[str] = frozenset()) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, found {type(table).__name__}")
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown key {key!r} in {where}; allowed keys: {', '.join(sorted(allowed))}")
    for key in sorted(required):
        if key not in table:
            raise ConfigError(f"missing key {key!r} in {where}")


def typed(value: Any, kind: type | tuple, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where} must be {getattr(kind, '__name__', kind)}, found {value!r}")
    if not isinstance(value, kind):
        name = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ConfigError(f"{where} must be {name}, found {value!r}")
    return value


def list_of(value: Any, kind: type, where: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list, found {value!r}")
    return [typed(v, kind, f"{where}[{i}]") for i, v in enumerate(value)]


def table_path(value: Any, base: Path, where: str) -> Path:
    path = Path(typed(value, str, where))
    return path if path.is_absolute() else (base / path)
