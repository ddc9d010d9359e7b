"""Every PromQL query of a Grafana dashboard, with Grafana's macros replaced.

``panel_queries(dashboard_json)`` returns the ``expr`` of every target of every panel (rows
and collapsed rows included) with the variables a Prometheus server does not know replaced,
so a test can evaluate each one against a real Prometheus:

- ``$__rate_interval`` → ``1m``, ``$__interval`` → ``15s``, ``$__range`` → ``1h``
  (``$__range_s`` → ``3600``, ``$__range_ms`` → ``3600000``);
- ``$zone`` / ``${zone}`` (any form, e.g. ``${zone:regex}``) → ``.*``. The zone variable must be
  used with a regex matcher (``zone=~"$zone"``): ``.*`` after ``=`` would match nothing, so
  ``zone="$zone"`` raises ``ValueError``.

An unknown ``$variable`` also raises ``ValueError``: it would reach Prometheus unreplaced.

``without_padding(expr)`` drops the zero fallbacks a panel adds so it shows 0 rather than "no
data" (``or vector(0)``, ``or label_replace(vector(0), …)``, ``or <expr> * 0``): a test that a
panel's metrics really have data evaluates the query without them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

MACROS: dict[str, str] = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "zone": ".*",
}

# $name, ${name} or ${name:format}; [[name]] is Grafana's deprecated syntax.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
# a zone variable after an equality (or negative) matcher instead of =~
_ZONE_NOT_REGEX = re.compile(r"""\bzone\s*(=|!=)\s*["'`][^"'`]*\$\{?zone\b""")


def iter_panels(panels: list[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every panel, descending into rows (collapsed rows keep theirs under ``panels``)."""
    for panel in panels:
        yield panel
        yield from iter_panels(panel.get("panels") or [])


def raw_queries(dashboard_json: Mapping[str, Any] | str | Path) -> list[str]:
    """The ``expr`` of every target, exactly as written in the dashboard."""
    dashboard = _load(dashboard_json)
    return [
        target["expr"]
        for panel in iter_panels(dashboard.get("panels") or [])
        for target in panel.get("targets") or []
        if target.get("expr")
    ]


def substitute_macros(expr: str) -> str:
    """``expr`` with Grafana's macros and the zone variable replaced (see module docstring)."""
    if _ZONE_NOT_REGEX.search(expr):
        raise ValueError(f'zone variable used without =~ (use zone=~"$zone"): {expr}')

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in MACROS:
            raise ValueError(f"unknown Grafana variable ${name} in: {expr}")
        return MACROS[name]

    return _VARIABLE.sub(replace, expr)


def without_padding(expr: str) -> str:
    """``expr`` without its zero fallbacks: every ``or X`` whose X is ``vector(0)``,
    ``label_replace(vector(0), …)`` or ``… * 0``."""
    out, i = [], 0
    for match in _OR.finditer(expr):
        if match.start() < i:
            continue  # inside a fallback already dropped
        end = _operand_end(expr, match.end())
        operand = expr[match.end():end].strip()
        if _is_zero_fallback(operand):
            out.append(expr[i:match.start()])
            i = end
    out.append(expr[i:])
    return "".join(out)


def panel_queries(dashboard_json: Mapping[str, Any] | str | Path) -> list[str]:
    """Every panel query of a dashboard (a parsed dict, JSON text or a path), ready for Prometheus."""
    return [substitute_macros(expr) for expr in raw_queries(dashboard_json)]


_OR = re.compile(r"\s+or\s+")


def _operand_end(expr: str, start: int) -> int:
    """Where the right operand of ``or`` starting at ``start`` ends: at the parenthesis closing
    the group it is in, or at the end. (In the dashboards' queries ``or`` binds loosest.)"""
    depth = 0
    for k in range(start, len(expr)):
        if expr[k] == "(":
            depth += 1
        elif expr[k] == ")":
            if depth == 0:
                return k
            depth -= 1
    return len(expr)


def _is_zero_fallback(operand: str) -> bool:
    return (
        operand == "vector(0)"
        or operand.startswith("label_replace(vector(0),")
        or re.search(r"\*\s*0$", operand) is not None
    )


def _load(dashboard_json: Mapping[str, Any] | str | Path) -> Mapping[str, Any]:
    if isinstance(dashboard_json, Path):
        return json.loads(dashboard_json.read_text(encoding="utf-8"))
    if isinstance(dashboard_json, str):
        return json.loads(dashboard_json)
    return dashboard_json
