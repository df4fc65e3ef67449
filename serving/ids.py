"""Identifiers for decisions and requests.

``uuid.uuid4()`` reads ``os.urandom`` on every call, which costs about 0.5 ms on this kind of
virtual machine: more than the whole decision. These ids must be unique, not secret (keys,
which must be unguessable, still come from ``secrets``), so they are drawn from a generator
seeded once per process from the operating system, and reseeded in a forked child.
"""

from __future__ import annotations

import os
import random
import threading
import uuid

_lock = threading.Lock()
_generator = random.Random(os.urandom(32))


def _reseed() -> None:
    global _generator
    _generator = random.Random(os.urandom(32))


os.register_at_fork(after_in_child=_reseed)


def new_uuid() -> uuid.UUID:
    """A random (version 4) UUID."""
    with _lock:
        bits = _generator.getrandbits(128)
    return uuid.UUID(int=bits, version=4)


def new_id() -> str:
    """A random 32-hex-digit id (a version 4 UUID without dashes)."""
    return new_uuid().hex
