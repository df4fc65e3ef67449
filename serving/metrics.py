"""Prometheus metrics of one app instance (own registry, so apps in one process stay apart).

Under several worker processes (``arbiter serve --workers N``) every process writes its values
to the folder named by ``PROMETHEUS_MULTIPROC_DIR`` and a scrape, whichever process answers
it, adds up all of them (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
VERSION_LABELS = ("model_late", "model_dispute", "model_days_to_pay", "policy")
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class Metrics:
    """The service's metrics.

    Attributes:
        registry: Collected by ``GET /metrics``.
        latency: Request seconds by method, route template and status code.
        decisions: Decisions served, by owner and tier.
        rejected_items: Bulk items and rows refused, by table and status code.
        versions: 1 for the model versions per target and policy version in use (0 for
            a set swapped out).
    """

    registry: CollectorRegistry
    latency: Histogram
    decisions: Counter
    rejected_items: Counter
    versions: Gauge
    shown: dict[str, str] | None = field(default=None)

    def show_versions(self, engine: object) -> None:
        """Publish the versions of a newly swapped-in engine."""
        models = engine.model_versions  # type: ignore[attr-defined]
        labels = {f"model_{t}": models.get(t, "none") for t in ("late", "dispute", "days_to_pay")}
        labels["policy"] = engine.policy.version  # type: ignore[attr-defined]
        if self.shown is not None and self.shown != labels:
            self.versions.labels(**self.shown).set(0)
        self.versions.labels(**labels).set(1)
        self.shown = labels

    def exposition(self) -> bytes:
        """The text a scrape gets: every process's values under several workers."""
        if not os.environ.get(MULTIPROCESS_DIR):
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)

    @classmethod
    def create(cls) -> Metrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            latency=Histogram(
                "arbiter_request_seconds",
                "Request latency by route",
                ("method", "route", "status"),
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            decisions=Counter(
                "arbiter_decisions",
                "Decisions served, by owner and tier",
                ("owner", "tier"),
                registry=registry,
            ),
            rejected_items=Counter(
                "arbiter_rejected_items",
                "Ingest items refused, by table and status code",
                ("table", "status"),
                registry=registry,
            ),
            versions=Gauge(
                "arbiter_versions",
                "Model and policy versions: 1 for the set in use",
                VERSION_LABELS,
                multiprocess_mode="liveall",
                registry=registry,
            ),
        )
