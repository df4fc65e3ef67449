"""Speed and peak memory of the AR book simulator at about 1,000,000 invoices.

Prints the median wall time of ``simulate_book`` over repeats (target: at most 60 s on
2 cores), the time to write the book as Parquet, and the peak memory: traced Python/NumPy
allocations (tracemalloc, in a separate run so tracing does not slow the timed runs) and
the process's maximum resident set size.

    .venv/bin/python bench/bench_simulator.py [--invoices 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from features.simulator import SimulationConfig, simulate_book
from features.simulator.cli import write_simulated_book


def time_simulation(config: SimulationConfig, repeats: int) -> tuple[list[float], object]:
    """Wall times of ``repeats`` simulations, and the last simulated book."""
    times, simulated = [], None
    for _ in range(repeats):
        begin = time.perf_counter()
        simulated = simulate_book(config)
        times.append(time.perf_counter() - begin)
    return times, simulated


def traced_peak_mib(config: SimulationConfig) -> float:
    """Peak traced allocation of one simulation, in MiB."""
    tracemalloc.start()
    simulate_book(config)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    config = SimulationConfig.for_invoices(args.invoices, months=args.months)
    times, simulated = time_simulation(config, args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        begin = time.perf_counter()
        write_simulated_book(simulated, Path(folder) / "book")
        write_seconds = time.perf_counter() - begin
    rows = {name: len(frame) for name, frame in simulated.tables.items()}
    print(
        f"simulator: {config.customers:,} customers x {config.months} months -> "
        f"{rows['invoices']:,} invoices, {rows['payments']:,} payments, "
        f"{rows['disputes']:,} disputes, {rows['activities']:,} activities"
    )
    print(
        f"simulate_book: median {statistics.median(times):.1f} s over {args.repeats} runs "
        f"({', '.join(f'{t:.1f}' for t in times)}); target <= 60 s"
    )
    print(f"write parquet (book + oracle): {write_seconds:.1f} s")
    print(f"peak traced memory (tracemalloc, one run): {traced_peak_mib(config):,.0f} MiB")
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident set size (getrusage): {maxrss_mib:,.0f} MiB")


if __name__ == "__main__":
    main()
