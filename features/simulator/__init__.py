"""The AR book simulator: a B2B receivables ledger with its ground truth kept aside.

``simulate_book(SimulationConfig(...))`` returns the canonical tables, the per-invoice
oracle (true P(late), P(dispute), expected days to pay) and the book's as_of. See
``features/simulator/README.md`` for the mechanisms and their knobs.

Names are imported on first use, so that the ``arbiter`` command starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from features.simulator.config import SimulationConfig
    from features.simulator.generate import SimulatedBook, simulate_book

__all__ = ["SimulatedBook", "SimulationConfig", "simulate_book"]


def __getattr__(name: str) -> Any:
    if name == "SimulationConfig":
        from features.simulator.config import SimulationConfig

        return SimulationConfig
    if name in ("SimulatedBook", "simulate_book"):
        from features.simulator import generate

        return getattr(generate, name)
    raise AttributeError(f"module 'features.simulator' has no attribute {name!r}")
