"""Keeping the garbage collector's full passes off the long-lived state.

The online features, the invoice facts and the models are millions of objects that live as
long as the process. CPython's oldest-generation collection walks all of them: 176 ms on the
benchmark's 20,000-invoice book, a pause that every request in flight waits out. Frozen, they
are out of the collector's sight, and later passes walk only what requests create.
"""

from __future__ import annotations

import gc


def freeze_long_lived(collect: bool = False) -> None:
    """Move every object alive now out of the collector's reach (``gc.freeze``).

    Args:
        collect: Collect garbage first. Worth it at start-up; while serving, a full collection
            would be the very pause this avoids, and replaced state is freed by reference
            counting anyway.
    """
    if collect:
        gc.collect()
    gc.freeze()
