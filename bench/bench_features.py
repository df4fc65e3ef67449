"""Benchmark of the point-in-time features: prints figures, asserts nothing.

Offline: build time (median of repeats) and peak memory of ``build_features`` over a book of
about 1,000,000 invoices, each invoice at its issue date. Online: replay time of the same
book, then per-invoice latency p50/p99 of ``OnlineFeatures.vector`` "as of now" (the book's
extraction date) and at random past dates.

    .venv/bin/python bench/bench_features.py                 # 1M invoices, simulated
    .venv/bin/python bench/bench_features.py --invoices 100000 --repeats 1
    .venv/bin/python bench/bench_features.py --only online
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import time
import tracemalloc

import numpy as np
import pandas as pd

from features.offline import build_features
from features.online import OnlineFeatures
from features.registry import feature_set


def make_book(invoices: int, source: str, seed: int):  # noqa: ANN201 - features.book.Book
    """A simulated book of about ``invoices`` invoices (or the random stress book)."""
    if source == "random":
        from features.random_book import random_book

        return random_book(customers=max(1, invoices // 50), invoices=invoices, span=720, seed=seed)
    from features.simulator import SimulationConfig, simulate_book

    return simulate_book(SimulationConfig.for_invoices(invoices, seed=seed)).to_book()


def bench_offline(book, repeats: int) -> None:  # noqa: ANN001
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        frame = build_features(book)
        times.append(time.perf_counter() - start)
        del frame
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    frame = build_features(book)
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    print(f"offline build_features: {len(frame):,} rows x {frame.shape[1] - 3} features")
    print(
        f"  time median {statistics.median(times):.1f} s over {repeats} runs "
        f"(all: {', '.join(f'{t:.1f}' for t in times)}) target <= 60 s"
    )
    print(f"  peak memory of the build {peak / 2**30:.2f} GiB (tracemalloc) target <= 6 GB")


def bench_online(book, queries: int, seed: int) -> None:  # noqa: ANN001
    online = OnlineFeatures(feature_set(book))
    start, cpu_start = time.perf_counter(), time.process_time()
    online.replay(book)
    replay, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(
        f"online replay: {online.applied:,} events in {replay:.1f} s wall, {cpu:.1f} s CPU "
        f"({replay / online.applied * 1e6:.1f} us per event)"
    )
    # A service loads its state once and then answers: freezing the loaded objects keeps the
    # cyclic garbage collector from walking millions of them during requests.
    gc.collect()
    gc.freeze()
    rng = np.random.default_rng(seed)
    invoices = book.invoices
    now = book.as_of.date()
    open_now = invoices.loc[invoices["paid_date"].isna(), "invoice_id"].to_numpy()
    picks = rng.choice(open_now if len(open_now) else invoices["invoice_id"].to_numpy(), queries)
    report("open invoices as of now", [lambda i=i: online.vector(i, now) for i in picks])
    rows = invoices.sample(queries, replace=True, random_state=seed)
    offsets = pd.to_timedelta(rng.integers(0, 120, queries), unit="D")
    dates = (rows["issue_date"] + offsets).clip(upper=book.as_of).dt.date.to_numpy()
    calls = [
        lambda i=i, d=d: online.vector(i, d) for i, d in zip(rows["invoice_id"], dates, strict=True)
    ]
    report("random invoices at past dates", calls)


def report(label: str, calls: list) -> None:  # noqa: ANN001
    """Wall-clock and CPU-time percentiles of the calls.

    On a shared machine the wall clock also counts time the scheduler gave other processes;
    the thread's CPU time does not, so both are printed.
    """
    for call in calls[:200]:
        call()
    wall = np.empty(len(calls))
    cpu = np.empty(len(calls))
    for k, call in enumerate(calls):
        wall_start, cpu_start = time.perf_counter_ns(), time.thread_time_ns()
        call()
        cpu[k] = time.thread_time_ns() - cpu_start
        wall[k] = time.perf_counter_ns() - wall_start
    wall50, wall99 = np.percentile(wall / 1000, [50, 99])
    cpu50, cpu99 = np.percentile(cpu / 1000, [50, 99])
    print(
        f"online vector, {label} ({len(calls):,} queries): wall p50 {wall50:.0f} us, "
        f"p99 {wall99:.0f} us; CPU p50 {cpu50:.0f} us, p99 {cpu99:.0f} us (target p99 <= 200 us)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--source", choices=("simulator", "random"), default="simulator")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=("offline", "online"), help="run one half only")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    start = time.perf_counter()
    book = make_book(args.invoices, args.source, args.seed)
    sizes = ", ".join(f"{name} {len(frame):,}" for name, frame in book.tables.items())
    print(f"book ({args.source}): {sizes} in {time.perf_counter() - start:.0f} s")
    chosen = feature_set(book)
    print(f"features: {len(chosen.names)} included; excluded: {chosen.excluded or 'none'}")
    if args.only != "online":
        bench_offline(book, args.repeats)
    if args.only != "offline":
        bench_online(book, args.queries, args.seed)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"process peak RSS {rss:.2f} GiB; load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
