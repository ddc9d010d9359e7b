"""The checker's verdict: feasibility and failures (orders over the maximum) side by side.

An order delivered more than the instance's maximum click-to-door after it was placed (90
minutes in MDRPLIB) is a failure; the official script does not count it against
feasibility, so the verdict reports it next to the feasibility flag rather than inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dispatch.sim.mdrp_check.metrics import solution_metrics
from dispatch.sim.mdrp_check.rules import check_solution
from dispatch.sim.mdrp_format import MdrpInstance


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a solution is feasible, its violations, and its failure count."""

    feasible: bool
    violations: tuple[str, ...]
    failures_over_max: int
    max_ctd_min: int


def judge_solution(instance: MdrpInstance, solution_dir: Path) -> Verdict:
    """Check a written solution and count its failures.

    Parameters
    ----------
    instance
        The instance.
    solution_dir
        Directory holding the three solution files.

    Returns
    -------
    Verdict
    """
    violations = check_solution(instance, solution_dir)
    metrics = solution_metrics(instance, solution_dir)
    return Verdict(
        feasible=not violations,
        violations=tuple(violations),
        failures_over_max=metrics.over_90_min,
        max_ctd_min=instance.max_ctd_min,
    )
