"""Several server processes on one port, with connections dealt out evenly.

uvicorn's own workers all watch one listening socket, and the process that wakes first accepts
every connection waiting. A caller with a small pool of keep-alive connections opens them in
one burst, so one process often got all of them while the other idled: half the machine
unused, and twice the latency. Here every process accepts in a thread of its own and publishes
how many connections it holds in memory shared with the others. A process holding more than
the least loaded one stays out of ``accept()`` for a moment, so the kernel hands the next
connection to a process that is waiting in it. The thread passes each connection to its
process's event loop.

The supervisor starts the processes, restarts one that dies, and stops them all on SIGINT or
SIGTERM.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
import socket
import threading
import time
from collections.abc import MutableSequence
from multiprocessing.process import BaseProcess

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from serving.logging import get_logger

log = get_logger("workers")
RESTART_DELAY_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 30.0
# How long an acceptor holding more connections than another process waits for that process
# to take the next one (it may be busy, hung or dead), and how often it looks meanwhile.
TURN_WAIT_SECONDS = 0.02
TURN_POLL_SECONDS = 0.001
NOT_SERVING = 2**31 - 1  # the load of a process that is starting or gone: never waited for


class DealtServer(uvicorn.Server):
    """A uvicorn server that takes its connections from an acceptor thread.

    Args:
        config: The server's configuration.
        listener: The listening socket every process shares.
        loads: Connections held by each process, shared by all of them.
        slot: This process's index in ``loads``.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        listener: socket.socket,
        loads: MutableSequence[int],
        slot: int,
    ) -> None:
        super().__init__(config)
        self.listener = listener
        self.loads = loads
        self.slot = slot
        # Connections accepted and handed to the loop, each counted by one thread only.
        self._accepted = 0
        self._handed = 0

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # An empty list: uvicorn opens no listener of its own.
        await super().startup(sockets=[])
        if self.started:
            loop = asyncio.get_running_loop()
            threading.Thread(
                target=self._accept, args=(loop,), name="acceptor", daemon=True
            ).start()

    def _protocol(self) -> asyncio.Protocol:
        return self.config.http_protocol_class(  # type: ignore[call-arg]
            config=self.config, server_state=self.server_state, app_state=self.lifespan.state
        )

    def _load(self) -> int:
        return len(self.server_state.connections) + self._accepted - self._handed

    def _wait_for_turn(self) -> None:
        """Return once no process holds fewer connections, or after ``TURN_WAIT_SECONDS``."""
        deadline = time.monotonic() + TURN_WAIT_SECONDS
        while True:
            self.loads[self.slot] = load = self._load()
            if load <= min(self.loads) or time.monotonic() > deadline:
                return
            time.sleep(TURN_POLL_SECONDS)

    def _accept(self, loop: asyncio.AbstractEventLoop) -> None:
        while not self.should_exit:
            self._wait_for_turn()
            try:
                connection, _ = self.listener.accept()
            except OSError as error:  # out of descriptors, or a connection reset while queued
                log.warning("accept failed", extra={"error": type(error).__name__})
                time.sleep(0.01)
                continue
            self._accepted += 1
            self.loads[self.slot] = self._load()
            connection.setblocking(False)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                loop.call_soon_threadsafe(self._serve_connection, connection)
            except RuntimeError:  # the loop has closed: the process is stopping
                connection.close()
                return

    def _serve_connection(self, connection: socket.socket) -> None:
        if self.should_exit:
            connection.close()
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.connect_accepted_socket(self._protocol, connection))
        task.add_done_callback(self._count_handed)

    def _count_handed(self, task: asyncio.Task) -> None:
        self._handed += 1


def _run_worker(
    config: uvicorn.Config, listener: socket.socket, loads: MutableSequence[int], slot: int
) -> None:
    DealtServer(config, listener, loads, slot).run()


def serve_workers(config: uvicorn.Config, workers: int) -> int:
    """Serve ``config`` from ``workers`` processes until SIGINT or SIGTERM.

    Args:
        config: The app, host and port.
        workers: Processes to run; a process that dies is started again, unless it failed
            to start (the others would fail the same way).

    Returns:
        0 once stopped by a signal, uvicorn's start-up failure code otherwise.
    """
    listener = config.bind_socket()
    listener.listen(config.backlog)
    context = multiprocessing.get_context("spawn")
    loads = context.Array("i", [NOT_SERVING] * workers, lock=False)
    stopping = threading.Event()

    def start(slot: int) -> BaseProcess:
        loads[slot] = NOT_SERVING
        process = context.Process(target=_run_worker, args=(config, listener, loads, slot))
        process.start()
        return process

    def stop(signum: int, frame: object) -> None:
        stopping.set()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    processes = [start(slot) for slot in range(workers)]
    status = 0
    try:
        while not stopping.wait(RESTART_DELAY_SECONDS):
            for index, process in enumerate(processes):
                if process.exitcode == STARTUP_FAILURE:
                    log.error("worker failed to start", extra={"pid": process.pid})
                    status = STARTUP_FAILURE
                    stopping.set()
                elif not process.is_alive():
                    log.warning(
                        "worker died; starting another",
                        extra={"pid": process.pid, "exitcode": process.exitcode},
                    )
                    processes[index] = start(index)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
        listener.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return status
