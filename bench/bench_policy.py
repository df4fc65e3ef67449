"""Speed of the decision policy step: batch throughput, single-invoice latency, reasons cost.

Prints medians over repeats of:
- ``Policy.decide_batch`` on N random invoices (target: at least 500,000 invoices/s), with
  category columns as pandas categoricals (as ``serving.policy.frames`` decodes feature codes)
  and as plain strings;
- ``Policy.decide`` on one invoice given as a dict (target: at most 50 us), wall and CPU time;
- ``reasons.model_reasons`` for one invoice over every registry feature and two targets, and a
  decision with those reasons.

The machine's load average is printed too: the machine is shared, and wall times stretch with
it while CPU times do not.

    .venv/bin/python bench/bench_policy.py [--invoices 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from serving.policy.engine import load_policy
from serving.policy.reasons import model_reasons
from serving.policy.synthetic import random_inputs


def median_seconds(run: Callable[[], object], repeats: int, clock=time.perf_counter) -> float:  # noqa: ANN001
    """Median duration of ``run()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        begin = clock()
        run()
        times.append(clock() - begin)
    return statistics.median(times)


def per_call_us(call: Callable[[object], object], items: list, repeats: int, clock) -> float:  # noqa: ANN001
    """Median over repeats of the mean time of one ``call(item)``, in microseconds."""

    def run() -> None:
        for item in items:
            call(item)

    return median_seconds(run, repeats, clock) / len(items) * 1e6


def bench_batch(policy, invoices: int, repeats: int) -> None:  # noqa: ANN001
    frame = random_inputs(invoices, policy.catalogue, seed=1)
    categorical = frame.copy()
    for name, field in policy.catalogue.items():
        if field.kind == "category":
            categorical[name] = frame[name].astype(pd.CategoricalDtype(list(field.choices)))
    for label, data in (("categorical categories", categorical), ("string categories", frame)):
        seconds = median_seconds(lambda d=data: policy.decide_batch(d), repeats)
        print(
            f"batch ({label}): {invoices:,} invoices in {seconds:.3f} s -> "
            f"{invoices / seconds:,.0f} invoices/s (target >= 500,000)"
        )


def bench_single(policy, repeats: int) -> None:  # noqa: ANN001
    rows = random_inputs(20_000, policy.catalogue, seed=2).to_dict("records")
    wall = per_call_us(policy.decide, rows, repeats, time.perf_counter)
    cpu = per_call_us(policy.decide, rows, repeats, time.process_time)
    print(f"single decide: {wall:.1f} us wall, {cpu:.1f} us CPU per invoice (target <= 50 us)")


def bench_reasons(policy, repeats: int) -> None:  # noqa: ANN001
    from features.registry import REGISTRY

    specs = {spec.name: spec for spec in REGISTRY}
    names = list(specs)
    rng = np.random.default_rng(3)
    invoices = []
    for _ in range(5_000):
        values = {
            name: float(rng.integers(0, len(spec.choices)))
            if spec.dtype == "category"
            else float(rng.random() * 10)
            for name, spec in specs.items()
        }
        contributions = {
            "late": rng.normal(0, 0.3, len(names) + 1),
            "dispute": rng.normal(0, 0.3, len(names) + 1),
        }
        invoices.append((values, contributions))
    row = random_inputs(1, policy.catalogue, seed=4).iloc[0].to_dict()

    def reasons(item: tuple) -> object:
        return model_reasons(item[0], item[1], names, specs)

    def decide_with_reasons(item: tuple) -> object:
        return policy.decide(row, model_reasons(item[0], item[1], names, specs))

    cost = per_call_us(reasons, invoices, repeats, time.perf_counter)
    cost_cpu = per_call_us(reasons, invoices, repeats, time.process_time)
    total = per_call_us(decide_with_reasons, invoices, repeats, time.perf_counter)
    total_cpu = per_call_us(decide_with_reasons, invoices, repeats, time.process_time)
    print(
        f"reasons: {cost:.1f} us wall, {cost_cpu:.1f} us CPU per invoice ({len(names)} "
        f"features x 2 targets, five templates rendered); decide with reasons: {total:.1f} us "
        f"wall, {total_cpu:.1f} us CPU per invoice (TreeSHAP itself not included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    policy = load_policy()
    print(f"policy {policy.name} {policy.version}; load average {os.getloadavg()[0]:.1f}")
    bench_batch(policy, args.invoices, args.repeats)
    bench_single(policy, args.repeats)
    bench_reasons(policy, args.repeats)


if __name__ == "__main__":
    main()
