"""Time and peak memory to train all three models (features, labels, LightGBM, baselines,
calibration and test-window evaluation; no MLflow logging) on simulated books.

Usage: python bench/bench_training.py [--books demo 1m] [--repeats 3]

``demo`` is the book ``make run`` trains on (``arbiter generate --customers 2000 --months 24
--seed 7``, about 109,000 invoices); ``1m`` is about 1,000,000 invoices over 24 months.

Each measurement runs in a fresh process so that its peak resident memory is its own; books
are generated once into bench/out/ and reused. Prints the median wall time of the repeats
and the largest peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"
TARGETS_SECONDS = {"demo": 90, "1m": 600}


def make_book(name: str) -> Path:
    """The simulated book ``name`` (``demo`` or ``1m``), generated once into bench/out/."""
    folder = OUT / f"book_{name}"
    if (folder / "book.json").exists():
        return folder
    from features.book import write_book
    from features.simulator import SimulationConfig, simulate_book

    config = (
        SimulationConfig(customers=2000, months=24, seed=7)
        if name == "demo"
        else SimulationConfig.for_invoices(1_000_000, months=24, seed=7)
    )
    sim = simulate_book(config)
    write_book(dict(sim.tables), folder, meta={"as_of": str(sim.as_of.date())})
    return folder


def measure_once(folder: Path) -> dict:
    """Train every target on ``folder`` in this process; wall time and peak memory."""
    from training.params import load_params
    from training.pipeline import bundle_of, predict_test_window, train_target, trainable_targets
    from training.run import load_training_data

    params = load_params()
    start = time.perf_counter()
    data = load_training_data(folder, params)
    features_done = time.perf_counter()
    models = {
        t: train_target(data, t, params) for t, s in trainable_targets(data).items() if s == "ok"
    }
    bundle = bundle_of(models, data, {"targets": {}})
    for target, model in models.items():
        predict_test_window(bundle, data, target, model.split, model.baseline_test)
    end = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "invoices": len(data.labels),
        "seconds": end - start,
        "features_seconds": features_done - start,
        "peak_mib": peak_kib / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", nargs="+", choices=list(TARGETS_SECONDS), default=["demo", "1m"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_once(args.one)))
        return
    for name in args.books:
        folder = make_book(name)
        runs = []
        for _ in range(args.repeats if name == "demo" else 1):
            done = subprocess.run(
                [sys.executable, __file__, "--one", str(folder)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        seconds = statistics.median(r["seconds"] for r in runs)
        print(
            f"train all three models, {runs[0]['invoices']:,} invoices: "
            f"median {seconds:.1f} s over {len(runs)} run(s) "
            f"(features {statistics.median(r['features_seconds'] for r in runs):.1f} s), "
            f"peak memory {max(r['peak_mib'] for r in runs):,.0f} MiB; "
            f"target <= {TARGETS_SECONDS[name]} s"
        )


if __name__ == "__main__":
    main()
