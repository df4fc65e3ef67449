"""The `arbiter` command: one entry point for every job.

Each package declares its own commands in a ``commands`` module with a ``register(app)``
function; this module only assembles them. Command bodies import their heavy dependencies
lazily so that `arbiter --help` stays fast.
"""

from __future__ import annotations

import typer

from features import commands as feature_commands
from features.simulator import cli as simulator_cli
from serving import commands as serving_commands
from serving.policy import commands as policy_commands
from training import commands as training_commands

app = typer.Typer(
    name="arbiter",
    help="Arbiter: who should act on each invoice, and why.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Arbiter: who should act on each invoice, and why."""


feature_commands.register(app)
simulator_cli.register(app)
serving_commands.register(app)
policy_commands.register(app)
training_commands.register(app)


def main() -> None:
    app()
