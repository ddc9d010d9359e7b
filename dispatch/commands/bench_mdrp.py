"""`flashdispatch bench mdrp`: the dispatch engine on Grubhub MDRP instances, checked and scored."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# Published figures for the five base instances, used ONLY in this report to say how much of
# the gap between a simple greedy dispatcher and the lower bound we close. Greedy: every 2 min,
# match ready-soon orders to idle couriers by earliest drop-off, no bundling. Bound: every
# order picked up at its ready time and taken straight to the door.
# name -> (greedy click-to-door mean, greedy undelivered, lower-bound click-to-door mean)
GREEDY_REFERENCE: dict[str, tuple[float, int, float]] = {
    "0o100t100s1p100": (31.43, 0, 28.42),
    "1o100t100s1p100": (34.45, 16, 27.81),
    "2o100t100s1p100": (31.08, 0, 29.31),
    "3o100t100s1p100": (31.85, 2, 29.26),
    "4o100t100s1p100": (39.00, 32, 30.92),
}


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--instance", type=Path, help="one instance directory")
    source.add_argument("--all", type=Path, metavar="DIR", help="every instance under DIR")
    parser.add_argument(
        "--pattern", default="*", help="with --all: only instance names matching this glob"
    )
    parser.add_argument("--out", type=Path, required=True, help="solution output directory")
    parser.add_argument(
        "--stack",
        type=int,
        default=1,
        metavar="N",
        help="run each instance's orders and couriers N times over (a day N times as busy)",
    )
    parser.add_argument(
        "--policy",
        choices=("service", "mdrp"),
        default="service",
        help="service: the engine policy the service runs (default); mdrp: tuned for the "
        "benchmark's mean click-to-door",
    )


def run(args: argparse.Namespace, settings: object) -> int:
    """Solve, write, check and score; print a table, then JSON (summary last)."""
    if args.instance is not None:
        dirs = [args.instance]
        outs = [args.out]
    else:
        dirs = sorted(
            p for p in args.all.glob(args.pattern) if (p / "orders.txt").is_file()
        )
        outs = [args.out / p.name for p in dirs]
        if not dirs:
            print(f"no instance matches {args.pattern!r} under {args.all}", file=sys.stderr)
            return 2
    results = []
    for k, (inst_dir, out_dir) in enumerate(zip(dirs, outs, strict=True), start=1):
        print(f"[{k}/{len(dirs)}] {inst_dir.name} …", file=sys.stderr, flush=True)
        results.append(_bench_one(inst_dir, out_dir, policy_name=args.policy, stack=args.stack))
    _print_table(results)
    if len(results) > 1:
        for r in results:
            print(json.dumps(r))
        print(json.dumps(_summary(results)))
    else:
        print(json.dumps(results[0]))
    return 0 if all(r["feasible"] for r in results) else 1


def _bench_one(inst_dir: Path, out_dir: Path, *, policy_name: str, stack: int = 1) -> dict[str, Any]:
    import time

    from dispatch.sim.mdrp import mdrp_policy, simulate, write_solution
    from dispatch.sim.mdrp_check import judge_solution, solution_metrics
    from dispatch.sim.mdrp_format import load_instance
    from dispatch.sim.mdrp_stack import stack_instance

    instance = load_instance(inst_dir)
    if stack > 1:
        instance = stack_instance(instance, stack)
    t0 = time.perf_counter()

    def progress(minute: int, last: int) -> None:
        if sys.stderr.isatty():
            print(f"\r  minute {minute}/{last}", end="", file=sys.stderr, flush=True)

    solution = simulate(
        instance, policy=mdrp_policy(instance, policy_name), progress=progress
    )
    write_solution(solution, out_dir)
    runtime = time.perf_counter() - t0
    if sys.stderr.isatty():
        print("", file=sys.stderr)
    verdict = judge_solution(instance, out_dir)
    violations = verdict.violations
    for v in violations[:20]:
        print(f"  violation: {v}", file=sys.stderr)
    m = solution_metrics(instance, out_dir)
    result: dict[str, Any] = {
        "instance": m.instance,
        "policy": policy_name,
        "orders": m.orders,
        "delivered": m.delivered,
        "ctd_mean_min": round(m.ctd_mean_min, 3),
        "ctd_p90_min": round(m.ctd_p90_min, 2),
        "share_within_40": round(m.share_within_40, 4),
        "over_90_min": m.over_90_min,
        "runtime_s": round(runtime, 2),
        "runtime_ms_per_order": round(1000 * runtime / max(1, m.orders), 2),
        "ready_to_pickup_mean_min": round(m.ready_to_pickup_mean_min, 3),
        "bound_ctd_mean_min": round(m.bound_ctd_mean_min, 3),
        "feasible": verdict.feasible,
        "violations": len(violations),
        "failures_over_90": verdict.failures_over_max,
    }
    ref = GREEDY_REFERENCE.get(m.instance)
    if ref is not None:
        greedy, _, bound = ref
        result["gap_closed_vs_greedy"] = round((greedy - m.ctd_mean_min) / (greedy - bound), 4)
    return result


def _print_table(results: list[dict[str, Any]]) -> None:
    head = (
        f"{'instance':<18} {'orders':>6} {'deliv':>6} {'ctd':>7} {'p90':>6} {'<=40':>6} "
        f"{'r2p':>5} {'>90':>4} {'bound':>6} {'greedy':>6} {'gap':>6} {'feas':>5} {'fail':>5} {'s':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        ref = GREEDY_REFERENCE.get(r["instance"])
        greedy = f"{ref[0]:6.2f}" if ref else f"{'-':>6}"
        gap = f"{r['gap_closed_vs_greedy']:6.1%}" if ref else f"{'-':>6}"
        print(
            f"{r['instance']:<18} {r['orders']:>6} {r['delivered']:>6} {r['ctd_mean_min']:7.2f} "
            f"{r['ctd_p90_min']:6.1f} {r['share_within_40']:6.1%} "
            f"{r['ready_to_pickup_mean_min']:5.2f} {r['over_90_min']:>4} "
            f"{r['bound_ctd_mean_min']:6.2f} {greedy} {gap} {'yes' if r['feasible'] else 'NO':>5} "
            f"{r['failures_over_90']:>5} "
            f"{r['runtime_s']:6.1f}"
        )
    known = [r for r in results if "gap_closed_vs_greedy" in r]
    if known:
        mean_gap = sum(r["gap_closed_vs_greedy"] for r in known) / len(known)
        print(
            f"gap closed vs the published greedy baseline (mean over {len(known)} base "
            f"instances, (greedy - ours) / (greedy - bound)): {mean_gap:.1%}"
        )


def _summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(results)
    out: dict[str, Any] = {
        "instance": "summary",
        "instances": n,
        "orders": sum(r["orders"] for r in results),
        "delivered": sum(r["delivered"] for r in results),
        "ctd_mean_min": round(sum(r["ctd_mean_min"] for r in results) / n, 3),
        "ctd_p90_min": round(sum(r["ctd_p90_min"] for r in results) / n, 2),
        "share_within_40": round(sum(r["share_within_40"] for r in results) / n, 4),
        "over_90_min": sum(r["over_90_min"] for r in results),
        "runtime_s": round(sum(r["runtime_s"] for r in results), 2),
        "max_runtime_s": max(r["runtime_s"] for r in results),
        "feasible": all(r["feasible"] for r in results),
        "failures_over_90": sum(r["failures_over_90"] for r in results),
    }
    known = [r for r in results if "gap_closed_vs_greedy" in r]
    if known:
        out["gap_closed_vs_greedy"] = round(
            sum(r["gap_closed_vs_greedy"] for r in known) / len(known), 4
        )
        out["greedy_delivered"] = sum(
            r["orders"] - GREEDY_REFERENCE[r["instance"]][1] for r in known
        )
        out["ours_delivered"] = sum(r["delivered"] for r in known)
    return out
