"""Full decisions per second of the service against `mlflow models serve` of the same late model.

Usage: python bench/bench_service.py [--invoices 20000] [--seconds 15] [--connections 8]

Steps: simulate a book (cached under bench/out/), train the three models with the training
pipeline into a bundle, load the book into a fresh SQLite store, then run, one after the other
on this machine:

1. ``arbiter serve`` (uvicorn, one worker) answering ``POST /v1/decisions`` for stored open
   invoices: features from the store's online state, all models, policy, reasons, audit write;
2. ``mlflow models serve`` (``--env-manager local``) of the late model alone, answering
   ``POST /invocations`` with one feature row per request.

The same asyncio load generator (httpx, ``--connections`` concurrent keep-alive connections)
drives both. Prints requests/s, p50 and p99 for each, and the ratio of the two throughputs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

OUT = Path(__file__).resolve().parent / "out"
BIN = Path(sys.executable).parent


def make_book(invoices: int) -> Path:
    """A simulated book of about ``invoices`` invoices over 24 months (seed 7), cached."""
    folder = OUT / f"book_{invoices}"
    if (folder / "book.json").exists():
        return folder
    from features.book import write_book
    from features.simulator import SimulationConfig, simulate_book

    sim = simulate_book(SimulationConfig.for_invoices(invoices, months=24, seed=7))
    write_book(dict(sim.tables), folder, meta={"as_of": str(sim.as_of.date())})
    return folder


def train_bundle(book: Path, out: Path) -> Path:
    """Train all targets of ``book`` with the training pipeline (no MLflow) into ``out``."""
    from training.params import load_params
    from training.pipeline import bundle_of, train_target, trainable_targets
    from training.run import load_training_data

    params = load_params()
    data = load_training_data(book, params)
    models = {
        t: train_target(data, t, params) for t, s in trainable_targets(data).items() if s == "ok"
    }
    manifest = {"targets": {t: {"version": "bench"} for t in models}}
    return bundle_of(models, data, manifest).save(out)


def late_only_pyfunc(bundle_dir: Path, out: Path) -> Path:
    """The bundle's late model as an MLflow pyfunc model folder."""
    import mlflow.pyfunc

    from serving.bundle import ModelBundle, load_bundle

    bundle = load_bundle(bundle_dir)
    late = ModelBundle(
        bundle.feature_names,
        {"late": bundle.boosters["late"]},
        {"late": bundle.calibration["late"]},
        {"targets": {"late": bundle.manifest["targets"]["late"]}},
    ).save(out / "late_bundle")
    mlflow.pyfunc.save_model(
        path=str(out / "late_pyfunc"), loader_module="serving.bundle", data_path=str(late)
    )
    return out / "late_pyfunc"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, headers: dict[str, str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up within {seconds} s")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


async def drive(url: str, bodies: list, headers: dict, seconds: float, connections: int) -> dict:
    """Send ``bodies`` round-robin from ``connections`` workers for ``seconds``."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def worker(offset: int) -> None:
            nonlocal errors
            i = offset
            while time.perf_counter() < end:
                started = time.perf_counter()
                response = await client.post(url, json=bodies[i % len(bodies)])
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 200
                i += connections

        warm_end = time.perf_counter() + 2
        end = warm_end
        await asyncio.gather(*(worker(c) for c in range(connections)))
        latencies.clear()
        errors = 0
        start = time.perf_counter()
        end = start + seconds
        await asyncio.gather(*(worker(c) for c in range(connections)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def prepare_store(book: Path, bundle: Path, folder: Path) -> tuple[dict, list[str], str]:
    """Load the book into a new SQLite store, create a service key; env, open invoices, token."""
    from features.book import load_book
    from serving.keys import create_key
    from serving.store.db import Store
    from serving.store.loader import load_into_store

    url = f"sqlite:///{folder / 'arbiter.db'}"
    loaded, _ = load_book(book)
    store = Store(url)
    store.upgrade()
    load_into_store(store, loaded)
    with store.sessions() as session:
        token = create_key(session, "service", "bench").token
        session.commit()
    store.close()
    invoices = loaded.invoices
    open_ids = invoices.loc[invoices["paid_date"].isna(), "invoice_id"].tolist()
    env = {**os.environ, "ARBITER_DATABASE_URL": url, "ARBITER_MODELS": str(bundle)}
    return env, open_ids, token


def bench_service(env: dict, open_ids: list[str], token: str, args: argparse.Namespace) -> dict:
    port = free_port()
    command = [str(BIN / "arbiter"), "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        wait_until_up(f"http://127.0.0.1:{port}/readyz", headers)
        bodies = [{"invoice_id": i} for i in random.Random(7).sample(open_ids, len(open_ids))]
        url = f"http://127.0.0.1:{port}/v1/decisions"
        return asyncio.run(drive(url, bodies, headers, args.seconds, args.connections))
    finally:
        stop(process)


def bench_mlflow(model: Path, book: Path, bundle: Path, args: argparse.Namespace) -> dict:
    from features.book import load_book
    from features.offline import build_features
    from serving.bundle import load_bundle

    names = load_bundle(bundle).feature_names
    loaded, _ = load_book(book)
    rows = build_features(loaded).loc[:, names].tail(2000)
    rows = rows.astype(object).where(rows.notna(), None).to_numpy().tolist()
    bodies = [{"dataframe_split": {"columns": names, "data": [row]}} for row in rows]
    port = free_port()
    command = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        str(model),
        "--env-manager",
        "local",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    process = subprocess.Popen(
        command,
        env=env,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/ping", {})
        url = f"http://127.0.0.1:{port}/invocations"
        return asyncio.run(drive(url, bodies, {}, args.seconds, args.connections))
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    book = make_book(args.invoices)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundle = train_bundle(book, folder / "champion")
        env, open_ids, token = prepare_store(book, bundle, folder)
        print(f"book {book.name}: {len(open_ids):,} open invoices decided round-robin")
        service = bench_service(env, open_ids, token, args)
        model = late_only_pyfunc(bundle, folder)
        mlflow = bench_mlflow(model, book, bundle, args)
    print(f"{'server':<40}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, result in (
        ("arbiter POST /v1/decisions (full)", service),
        ("mlflow models serve (late only)", mlflow),
    ):
        print(
            f"{name:<40}{result['rps']:>9.0f}{result['p50_ms']:>9.2f}"
            f"{result['p99_ms']:>9.2f}{result['errors']:>8}"
        )
    print(f"throughput ratio arbiter / mlflow: {service['rps'] / mlflow['rps']:.1f}x")
    print(json.dumps({"service": service, "mlflow": mlflow, "connections": args.connections}))


if __name__ == "__main__":
    main()
