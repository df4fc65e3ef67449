"""Full decisions per second of the service against `mlflow models serve` of the same late model.

Usage: python bench/bench_service.py [--invoices 20000] [--seconds 15] [--connections 8]
                                     [--workers 2]

Steps: simulate a book (cached under bench/out/), train the three models with the training
pipeline into a bundle, load the book into a fresh SQLite store, then run, one after the other
on this machine:

1. ``arbiter serve --workers N`` answering ``POST /v1/decisions`` for stored open invoices:
   features from the store's online state, all models, policy, reasons, audit write;
2. ``mlflow models serve --workers N`` (``--env-manager local``) of the late model alone,
   answering ``POST /invocations`` with one feature row per request.

The same load generator drives both: ``wrk`` (C, one thread, ``--connections`` keep-alive
connections, a Lua script cycling through the request bodies) when it is installed
(``make bench-tools``), else an asyncio httpx loop, which takes a large share of the CPU from
the servers. Prints requests/s, p50 and p99 for each, and the ratio of the two throughputs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

WRK_SCRIPT = """
local bodies = {BODIES}
local n = #bodies
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", "{PATH}", {HEADERS}, bodies[(i % n) + 1])
end
done = function(summary, latency, requests)
  local failed = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %d %d %d %d %f\\n", summary.requests, failed,
    latency:percentile(50), latency:percentile(99), summary.duration))
end
"""

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


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def drive(url: str, bodies: list, headers: dict, seconds: float, connections: int) -> dict:
    """Load ``url`` with ``bodies`` (JSON, round-robin) for ``seconds``; wrk if installed."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return asyncio.run(drive_httpx(url, bodies, headers, seconds, connections))
    path = "/" + url.split("/", 3)[3]
    script = (
        WRK_SCRIPT.replace(
            "{BODIES}", "{" + ",".join(lua_string(json.dumps(b)) for b in bodies) + "}"
        )
        .replace("{PATH}", path)
        .replace(
            "{HEADERS}",
            "{"
            + ",".join(
                f"[ {lua_string(k)} ]={lua_string(v)}"  # "[[" would open a long string
                for k, v in {**headers, "Content-Type": "application/json"}.items()
            )
            + "}",
        )
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    base = url.split("/", 3)
    target = f"{base[0]}//{base[2]}"
    common = [wrk, "-t1", f"-c{connections}", "-s", handle.name, target]
    subprocess.run([*common[:2], "-d2s", *common[2:]], capture_output=True, check=True)  # warm
    out = subprocess.run(
        [*common[:2], f"-d{seconds:.0f}s", "--timeout", "10s", *common[2:]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(handle.name)
    line = next(x for x in out.splitlines() if x.startswith("RESULT"))
    requests, errors, p50_us, p99_us, duration_us = (float(v) for v in line.split()[1:])
    return {
        "requests": int(requests),
        "errors": int(errors),
        "rps": requests / (duration_us / 1e6),
        "p50_ms": p50_us / 1000,
        "p99_ms": p99_us / 1000,
        "generator": "wrk",
    }


async def drive_httpx(
    url: str, bodies: list, headers: dict, seconds: float, connections: int
) -> dict:
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
        "generator": "httpx",
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
        token = create_key(session, "admin", "bench").token
        session.commit()
    store.close()
    invoices = loaded.invoices
    open_ids = invoices.loc[invoices["paid_date"].isna(), "invoice_id"].tolist()
    env = {**os.environ, "ARBITER_DATABASE_URL": url, "ARBITER_MODELS": str(bundle)}
    return env, open_ids, token


def bench_service(env: dict, open_ids: list[str], token: str, args: argparse.Namespace) -> dict:
    port = free_port()
    command = [str(BIN / "arbiter"), "serve", "--port", str(port), "--workers", str(args.workers)]
    process = subprocess.Popen(command, env=env, start_new_session=True, stderr=subprocess.DEVNULL)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        wait_until_up(f"http://127.0.0.1:{port}/readyz", headers)
        bodies = [{"invoice_id": i} for i in random.Random(7).sample(open_ids, len(open_ids))]
        url = f"http://127.0.0.1:{port}/v1/decisions"
        wait_until_started(url, headers, args.workers)
        return drive(url, bodies, headers, args.seconds, args.connections)
    finally:
        stop(process)


def wait_until_started(url: str, headers: dict, workers: int, seconds: float = 600) -> None:
    """Every worker has rebuilt its state, and the start-up refresh of the worklist (every
    open invoice of the new store decided once, in the background) is over."""
    deadline = time.monotonic() + seconds
    ok = 0
    while time.monotonic() < deadline and ok < 4 * workers:
        try:
            response = httpx.post(url, json={"invoice_id": "warm-up"}, headers=headers, timeout=60)
            ok = ok + 1 if response.status_code == 404 else 0
        except httpx.HTTPError:
            ok = 0
            time.sleep(0.5)
    worklist = url.replace("/v1/decisions", "/v1/worklist")
    while time.monotonic() < deadline:
        answer = httpx.get(worklist, params={"limit": 1}, headers=headers, timeout=60).json()
        if answer.get("pending", 0) == 0:
            return
        time.sleep(2)


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
        "--workers",
        str(args.workers),
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
        return drive(url, bodies, {}, args.seconds, args.connections)
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="processes of each server")
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
    print(
        f"load generator {service['generator']}, {args.connections} connections, "
        f"{args.workers} worker process(es) per server, {os.cpu_count()} cores"
    )
    print(json.dumps({"service": service, "mlflow": mlflow, "connections": args.connections}))


if __name__ == "__main__":
    main()
