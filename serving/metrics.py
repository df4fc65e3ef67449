"""Prometheus metrics of one app instance (own registry, so apps in one process stay apart)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, Info

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass
class Metrics:
    """The service's metrics.

    Attributes:
        registry: Collected by ``GET /metrics``.
        latency: Request seconds by method, route template and status code.
        decisions: Decisions served, by owner and tier.
        rejected_items: Bulk items and rows refused, by table and status code.
        versions: Model versions per target and the policy version in use.
    """

    registry: CollectorRegistry
    latency: Histogram
    decisions: Counter
    rejected_items: Counter
    versions: Info

    def show_versions(self, engine: object) -> None:
        """Publish the versions of a newly swapped-in engine."""
        versions = {f"model_{t}": v for t, v in engine.model_versions.items()}  # type: ignore[attr-defined]
        versions["policy"] = engine.policy.version  # type: ignore[attr-defined]
        self.versions.info(versions)

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
            versions=Info(
                "arbiter_versions", "Model and policy versions in use", registry=registry
            ),
        )
