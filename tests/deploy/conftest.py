"""Shared paths and helpers for the static checks of deploy/."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
K8S = DEPLOY / "k8s"


def load_module(path: Path) -> ModuleType:
    """Import a deploy/ script by path (deploy/ is not a package)."""
    name = f"_deploy_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary; missing is a failure (`make promtool` installs it), never a skip."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: run `make promtool` (Debian package `prometheus`)")
    return path
