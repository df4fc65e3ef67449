"""Terminal output of the `arbiter` commands."""

from __future__ import annotations

import sys

from rich.console import Console

# Piped or logged output has no terminal width; at rich's default of 80 columns, money in
# tables would be cut to "464,859,4…". Wide enough for every table the commands print.
PIPED_WIDTH = 160


def make_console(stderr: bool = False) -> Console:
    """A console that never wraps text and, when piped, never truncates table cells."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else PIPED_WIDTH
    return Console(stderr=stderr, soft_wrap=True, width=width)
