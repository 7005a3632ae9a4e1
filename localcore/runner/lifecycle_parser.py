"""Lifecycle parsing: steps, Setenv, Skipif, Timeout, and the global lifecycle's selection keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from localcore.runner.errors import RecipeError
from localcore.runner.model import Lifecycle, Step
from localcore.runner.reader import RecipeReader, describe

STEP_NAMES = ("bootstrap", "install", "startup", "run", "shutdown", "recover")
STEP_KEYS = ("script", "timeout", "skipif", "setenv", "requiresprivilege")
LIFECYCLE_KEYWORDS = frozenset((*STEP_NAMES, *STEP_KEYS))


def select_lifecycle(node: Any, selections: list[str], *, structural: bool = True) -> Any:
    """Keep the parts of a global lifecycle that the selection keys pick (docs: recipe Selections).

    At structural levels (the lifecycle map and step objects) a key that is not a lifecycle keyword
    is a selection key: its content is merged in when selected and dropped otherwise. ``Setenv``
    maps hold variable names, never selection keys. A ``Script`` given as a mapping chooses by key.
    """
    if not isinstance(node, dict):
        return node
    if not structural:
        return dict(node)
    result: dict[str, Any] = {}
    picked: Any = None
    for key, value in node.items():
        lowered = str(key).lower()
        if lowered in LIFECYCLE_KEYWORDS:
            inner_structural = lowered != "setenv"
            if lowered == "script" and isinstance(value, dict):
                value = _pick_by_selection(value, selections)
            result[key] = select_lifecycle(value, selections, structural=inner_structural)
        elif lowered in selections:
            chosen = select_lifecycle(value, selections)
            if isinstance(chosen, dict):
                result.update(chosen)
            else:
                picked = chosen
    if picked is not None and not result:
        return picked
    return result


def _pick_by_selection(options: dict[str, Any], selections: list[str]) -> Any:
    lowered = {str(k).lower(): v for k, v in options.items()}
    for selection in selections:
        if selection in lowered:
            return lowered[selection]
    return None


def parse_lifecycle(source: Path, raw: Any, path: str) -> Lifecycle:
    reader = RecipeReader(source, raw, path)
    steps: dict[str, Step | None] = {}
    setenv: dict[str, str] = {}
    for lowered, (original, value) in reader.items.items():
        if lowered == "setenv":
            setenv = _parse_setenv(source, value, reader.child(original))
        elif lowered in STEP_NAMES:
            steps[lowered] = _parse_step(source, value, reader.child(original))
        else:
            raise RecipeError(
                source,
                reader.child(original),
                f"unknown lifecycle step; expected Setenv or one of {', '.join(s.capitalize() for s in STEP_NAMES)}",
            )
    if steps.get("startup") and steps.get("run"):
        raise RecipeError(source, path, "Startup and Run are mutually exclusive; expected only one of them")
    return Lifecycle(setenv=setenv, **steps)


def _parse_setenv(source: Path, value: Any, path: str) -> dict[str, str]:
    reader = RecipeReader(source, value if value is not None else {}, path)
    result: dict[str, str] = {}
    for original, item in reader.items.values():
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise RecipeError(
                source, reader.child(original), f"expected a string value, got {describe(item)}"
            )
        result[original] = str(item)
    return result


def _parse_step(source: Path, value: Any, path: str) -> Step | None:
    if value is None:
        return None
    if isinstance(value, str):
        return Step(script=value)
    reader = RecipeReader(source, value, path)
    for lowered, (original, _) in reader.items.items():
        if lowered not in STEP_KEYS:
            raise RecipeError(
                source,
                reader.child(original),
                "unknown step key; expected one of Script, Timeout, Skipif, Setenv, RequiresPrivilege",
            )
    script = reader.raw("Script")
    if not isinstance(script, str):
        raise reader.error("Script", f"required, expected a shell script string, got {describe(script)}")
    timeout: float | None = None
    if reader.raw("Timeout") is not None:
        raw_timeout = reader.raw("Timeout")
        try:
            timeout = float(raw_timeout)
        except (TypeError, ValueError):
            timeout = -1.0
        if isinstance(raw_timeout, bool) or timeout <= 0:
            raise reader.error("Timeout", f"expected a positive number of seconds, got {raw_timeout!r}")
    return Step(
        script=script,
        timeout=timeout,
        skipif=_parse_skipif(reader),
        setenv=_parse_setenv(source, reader.raw("Setenv"), reader.key_path("Setenv")),
        requires_privilege=_parse_bool(reader, "RequiresPrivilege"),
    )


def _parse_skipif(reader: RecipeReader) -> tuple[str, str] | None:
    raw = reader.raw("Skipif")
    if raw is None:
        return None
    parts = str(raw).strip().split(None, 1)
    if len(parts) != 2 or parts[0].lower() not in ("onpath", "exists"):
        raise reader.error("Skipif", f"expected 'onpath <executable>' or 'exists <file>', got {raw!r}")
    return parts[0].lower(), parts[1].strip()


def _parse_bool(reader: RecipeReader, key: str) -> bool:
    raw = reader.raw(key)
    if raw is None:
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise reader.error(key, f"expected true or false, got {raw!r}")
