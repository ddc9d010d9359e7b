"""MDRP solution checker: parse the files, check the rules, compute the metrics, judge."""

from dispatch.sim.mdrp_check.metrics import MdrpMetrics, lower_bound_ctd, solution_metrics
from dispatch.sim.mdrp_check.parse import ParsedSolution, parse_solution
from dispatch.sim.mdrp_check.rules import check_solution
from dispatch.sim.mdrp_check.travel import EuclideanTravel
from dispatch.sim.mdrp_check.verdict import Verdict, judge_solution

__all__ = [
    "EuclideanTravel",
    "MdrpMetrics",
    "ParsedSolution",
    "Verdict",
    "check_solution",
    "judge_solution",
    "lower_bound_ctd",
    "parse_solution",
    "solution_metrics",
]
