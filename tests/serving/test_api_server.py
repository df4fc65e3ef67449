"""The service as a real process (``arbiter serve``): hot model swap under load, crash safety.

Each test starts the server (twice for the crash) against the session's store, SQLite and
PostgreSQL, with its own model folder.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.slow
ARBITER = Path(sys.executable).parent / "arbiter"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``arbiter serve`` in its own process group, on a free port."""

    def __init__(
        self, database_url: str, models: Path, headers: dict[str, str], workers: int = 1
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.headers = headers
        env = {**os.environ, "ARBITER_DATABASE_URL": database_url, "ARBITER_MODELS": str(models)}
        self.process = subprocess.Popen(
            [str(ARBITER), "serve", "--port", str(self.port), "--workers", str(workers)],
            env=env,
            start_new_session=True,
            stderr=subprocess.DEVNULL,
        )
        self._wait_ready()

    def _wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the server exited during start-up"
            try:
                if httpx.get(f"{self.url}/readyz", headers=self.headers).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"server on {self.url} not ready within {seconds} s")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)


@pytest.fixture()
def invoices(client, service, new_id) -> list[str]:
    """Twenty stored invoices of one new customer."""
    customer = new_id("C")
    client.post(
        "/v1/customers", json={"customer_id": customer, "collector_id": "COL-S"}, headers=service
    )
    ids = [new_id("INV") for _ in range(20)]
    items = [
        {
            "invoice_id": invoice_id,
            "customer_id": customer,
            "issue_date": "2025-01-05",
            "due_date": "2025-02-04",
            "amount": f"{1000 + 250 * n}.00",
            "currency": "EUR",
        }
        for n, invoice_id in enumerate(ids)
    ]
    response = client.post("/v1/invoices/bulk", json={"items": items}, headers=service)
    assert response.json()["counts"]["created"] == 20
    return ids


@pytest.fixture()
def models(tmp_path, bundle_writer: Callable[..., Path]) -> Path:
    return bundle_writer(tmp_path / "champion", version="1", seed=1)


@pytest.fixture()
def server(database_url, models, tokens, invoices) -> Iterator[Server]:
    """Started after the invoices are stored: its online state is built from the store."""
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    running = Server(database_url, models, headers)
    yield running
    running.stop()


def test_reload_under_load_never_fails_or_mixes_versions(server, models, invoices, bundle_writer):
    answers: list[tuple[int, dict | None]] = []
    stop = threading.Event()

    def decide_until_stopped(offset: int) -> None:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=30) as http:
            n = offset
            while not stop.is_set():
                response = http.post(
                    "/v1/decisions", json={"invoice_id": invoices[n % 20], "as_of": "2025-03-01"}
                )
                body = response.json()
                answers.append((response.status_code, body.get("versions")))
                n += 1

    workers = [threading.Thread(target=decide_until_stopped, args=(i,)) for i in range(4)]
    for worker in workers:
        worker.start()
    time.sleep(2)
    bundle_writer(models, version="2", seed=2)
    reload = httpx.post(f"{server.url}/v1/admin/reload", headers=server.headers, timeout=60)
    swapped_at = len(answers)
    time.sleep(2)
    stop.set()
    for worker in workers:
        worker.join()

    assert reload.status_code == 200
    assert reload.json()["models"] == {"late": "2", "dispute": "2", "days_to_pay": "2"}
    assert [status for status, _ in answers] == [200] * len(answers)
    model_sets = [tuple(sorted(set(v["models"].values()))) for _, v in answers]
    assert set(model_sets) == {("1",), ("2",)}
    assert all(versions == ("2",) for versions in model_sets[swapped_at + 4 :])
    assert len(answers) > swapped_at + 4
    after = httpx.get(f"{server.url}/v1/models", headers=server.headers).json()
    assert after["versions"] == {"late": "2", "dispute": "2", "days_to_pay": "2"}


def test_every_answered_decision_survives_sigkill(database_url, models, tokens, invoices, server):
    answered: list[str] = []
    killed = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=server.url, headers=server.headers, timeout=10) as http:
            n = 0
            while True:
                try:
                    response = http.post("/v1/decisions", json={"invoice_id": invoices[n % 20]})
                except httpx.HTTPError:
                    assert killed.is_set()
                    return
                assert response.status_code == 200
                answered.append(response.json()["decision_id"])
                n += 1

    client_thread = threading.Thread(target=stream)
    client_thread.start()
    while len(answered) < 40:
        time.sleep(0.05)
    killed.set()
    server.kill()
    client_thread.join()

    restarted = Server(database_url, models, server.headers)
    try:
        with httpx.Client(base_url=restarted.url, headers=restarted.headers) as http:
            missing = [d for d in answered if http.get(f"/v1/decisions/{d}").status_code != 200]
            record = http.get(f"/v1/decisions/{answered[-1]}").json()
    finally:
        restarted.stop()
    assert len(answered) >= 40
    assert missing == []
    assert record["decision"]["decision_id"] == answered[-1]


def decisions_counted(server: Server) -> float:
    text = httpx.get(f"{server.url}/metrics", headers=server.headers).text
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("arbiter_decisions_total{")
    )


def test_two_worker_processes_read_each_others_writes_and_report_all_metrics(
    database_url, models, tokens, invoices, new_id
):
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    server = Server(database_url, models, headers, workers=2)
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            customer = new_id("C")
            assert http.post("/v1/customers", json={"customer_id": customer}).status_code == 201
            for n in range(6):
                # Stored through whichever process takes the request, decided at once through
                # new connections, which land on either process: never a 404.
                invoice_id = new_id("INV")
                body = {
                    "invoice_id": invoice_id,
                    "customer_id": customer,
                    "issue_date": "2025-03-01",
                    "due_date": "2025-03-31",
                    "amount": f"{500 + n}.00",
                    "currency": "GBP",
                }
                assert http.post("/v1/invoices", json=body).status_code == 201
                for _ in range(3):
                    with httpx.Client(base_url=server.url, headers=headers) as fresh:
                        answer = fresh.post("/v1/decisions", json={"invoice_id": invoice_id})
                    assert answer.status_code == 200, answer.text
        # 18 decisions, answered by two processes; every scrape counts all of them.
        assert [decisions_counted(server) for _ in range(6)] == [18.0] * 6
        text = httpx.get(f"{server.url}/metrics", headers=headers).text
        pids = {
            line.split('pid="')[1].split('"')[0]
            for line in text.splitlines()
            if line.startswith("arbiter_versions{") and 'pid="' in line
        }
        assert len(pids) == 2  # both processes are up and report their versions
    finally:
        server.stop()


def connections_held(server: Server) -> list[int]:
    """Open connections to the server's port held by each of its worker processes."""
    held = []
    for child in psutil.Process(server.process.pid).children(recursive=True):
        if "resource_tracker" in " ".join(child.cmdline()):
            continue
        connections = child.net_connections(kind="tcp")
        held.append(
            sum(
                1
                for c in connections
                if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == server.port
            )
        )
    return sorted(held)


def test_two_workers_share_a_burst_of_keep_alive_connections(
    database_url, models, tokens, invoices
):
    """A pool's connections, opened at once, are dealt to both processes (uvicorn's own
    workers often gave all of them to one)."""
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    server = Server(database_url, models, headers, workers=2)
    clients = [httpx.Client(base_url=server.url, headers=headers, timeout=30) for _ in range(8)]
    try:
        for _ in range(2):  # the second round goes over the connections already held

            def decide(n: int) -> int:
                body = {"invoice_id": invoices[n], "as_of": "2025-03-01"}
                return clients[n].post("/v1/decisions", json=body).status_code

            with ThreadPoolExecutor(len(clients)) as pool:
                assert list(pool.map(decide, range(len(clients)))) == [200] * 8
            held = connections_held(server)
            assert len(held) == 2 and sum(held) == 8, held
            assert held[1] - held[0] <= 2, held  # 4 and 4, or 3 and 5 at worst
    finally:
        for client in clients:
            client.close()
        server.stop()
