"""Errors a policy author can cause, each located in the policy file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a policy file.

    Attributes:
        source: The policy file's path (or ``<string>``).
        line: 1-based line of the offending YAML node.
        field: The key, field or name concerned.
        message: What is wrong.
        fix: What the author should do.
        column: 1-based column within the line, when known.
    """

    source: str
    line: int
    field: str
    message: str
    fix: str
    column: int | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" + (f":{self.column}" if self.column else "")
        return f"{where}: {self.field}: {self.message}. Fix: {self.fix}"


class PolicyError(ValueError):
    """A policy file that failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem(s) in the policy"
        super().__init__(count + ":\n" + "\n".join(f"  {p}" for p in problems))
