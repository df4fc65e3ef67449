"""Speed and peak memory of the AR book simulator at about 1,000,000 invoices.

Prints the median wall time of ``simulate_book`` over repeats (target: at most 60 s on
2 cores), the time to write the book as Parquet, and the peak memory: traced Python/NumPy
allocations (tracemalloc, in a separate run so tracing does not slow the timed runs) and
the process's maximum resident set size.

With ``--learnability`` it prints instead how close a model trained on the past gets to the
oracle on later invoices of the demo book (ROC-AUC of LightGBM on the registry's
point-in-time features, alone and with ``extra_context`` added, against the oracle's AUC on
the same invoices).

    .venv/bin/python bench/bench_simulator.py [--invoices 1000000] [--repeats 3]
    .venv/bin/python bench/bench_simulator.py --learnability [--customers 2000]
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
        simulated = None  # keep one book in memory at a time
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


def extra_context(book) -> object:  # noqa: ANN001 - a Book; returns a DataFrame
    """Point-in-time context the registry lacks: the due date's calendar, industry, country,
    a pricing discrepancy on this invoice's order, days since the customer's last price
    change (events dated before the issue date only)."""
    import pandas as pd

    invoices, activities = book.invoices, book.tables["activities"]
    customers = book.tables["customers"].set_index("customer_id")
    discrepancy = activities[
        (activities["kind"] == "pricing_discrepancy") & activities["order_id"].notna()
    ]
    known = invoices[["order_id", "issue_date"]].merge(
        discrepancy[["order_id", "date"]], on="order_id", how="left"
    )
    changes = activities.loc[activities["kind"] == "price_change", ["customer_id", "date"]]
    last_change = pd.merge_asof(
        invoices[["customer_id", "issue_date"]].reset_index().sort_values("issue_date"),
        changes.rename(columns={"date": "changed"}).sort_values("changed"),
        left_on="issue_date", right_on="changed", by="customer_id",
        allow_exact_matches=False,
    ).set_index("index").sort_index()  # fmt: skip
    return pd.DataFrame(
        {
            "due_day_of_month": invoices["due_date"].dt.day,
            "due_month": invoices["due_date"].dt.month,
            "industry": invoices["customer_id"].map(customers["industry"]).astype("category"),
            "country": invoices["customer_id"].map(customers["country"]).astype("category"),
            "order_pricing_discrepancy": (known["date"] < known["issue_date"]).to_numpy(),
            "days_since_price_change": (last_change["issue_date"] - last_change["changed"]).dt.days,
        },
        index=invoices.index,
    )


def learnability(customers: int, test_months: int = 8) -> None:
    """Print late and dispute ROC-AUC: oracle vs models trained on earlier invoices."""
    import lightgbm as lgb
    import pandas as pd
    from sklearn.metrics import roc_auc_score

    from features.offline import build_features

    config = SimulationConfig(customers=customers)
    simulated = simulate_book(config)
    book = simulated.to_book()
    invoices, oracle = book.invoices, simulated.oracle
    registry = build_features(book).drop(columns=["invoice_id", "customer_id", "as_of"])
    extended = pd.concat([registry, extra_context(book)], axis=1)
    cut = simulated.as_of - pd.DateOffset(months=test_months)
    window = pd.Timedelta(days=config.dispute.window_days)
    targets = {
        "late": (
            (invoices["paid_date"].isna() | (invoices["paid_date"] > invoices["due_date"])),
            invoices["due_date"] < cut,
            (invoices["issue_date"] >= cut) & (invoices["due_date"] < simulated.as_of),
            "p_late",
        ),
        "dispute": (
            invoices["invoice_id"].isin(book.tables["disputes"]["invoice_id"]),
            invoices["issue_date"] + window < cut,
            (invoices["issue_date"] >= cut) & (invoices["issue_date"] + window < simulated.as_of),
            "p_dispute",
        ),
    }
    print(f"learnability: {len(invoices):,} invoices; train before {cut:%Y-%m-%d}, test after")
    for target, (label, train, test, truth) in targets.items():
        y, train, test = label.to_numpy(int), train.to_numpy(), test.to_numpy()
        scores = {"oracle": oracle.loc[test, truth].to_numpy()}
        for name, frame in (("registry features", registry), ("+ extra context", extended)):
            model = lgb.LGBMClassifier(
                n_estimators=300,
                learning_rate=0.04,
                subsample=0.8,
                subsample_freq=1,
                colsample_bytree=0.8,
                min_child_samples=50,
                verbose=-1,
                n_jobs=2,
            )
            model.fit(frame[train], y[train])
            scores[name] = model.predict_proba(frame[test])[:, 1]
        figures = ", ".join(f"{k} {roc_auc_score(y[test], v):.3f}" for k, v in scores.items())
        print(f"{target} ROC-AUC on {test.sum():,} later invoices: {figures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--learnability", action="store_true")
    parser.add_argument("--customers", type=int, default=2000)
    args = parser.parse_args()
    if args.learnability:
        learnability(args.customers)
        return
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
    maxrss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident set size of the timed runs and write (getrusage): {maxrss_mib:,.0f} MiB")
    print(f"peak traced memory (tracemalloc, one more run): {traced_peak_mib(config):,.0f} MiB")


if __name__ == "__main__":
    main()
