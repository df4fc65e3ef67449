"""MLproject entry points: check the string parameters ``mlflow run`` passes, then run the job.

``mlflow run`` does not check parameter types, so each entry point here parses and checks
its parameters itself and stops with a message naming the parameter and the fix. The jobs
are the same functions the ``arbiter`` commands call.
"""

from __future__ import annotations

import sys
from pathlib import Path


class ParameterError(ValueError):
    """An MLproject parameter has an unusable value."""


def positive_int(name: str, value: str) -> int:
    """``value`` as an integer of at least 1, or ``ParameterError`` naming ``name``."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ParameterError(f"-P {name}={value!r}: expected a whole number of 1 or more")
    return number


def existing_folder(name: str, value: str) -> Path:
    """``value`` as a folder that exists, or ``ParameterError`` naming ``name``."""
    path = Path(value)
    if not value or not path.is_dir():
        raise ParameterError(f"-P {name}={value!r}: no such folder")
    return path


def existing_file(name: str, value: str) -> Path:
    """``value`` as a file that exists, or ``ParameterError`` naming ``name``."""
    path = Path(value)
    if not value or not path.is_file():
        raise ParameterError(f"-P {name}={value!r}: no such file")
    return path


def boolean(name: str, value: str) -> bool:
    """``true``/``false`` (also yes/no, 1/0), or ``ParameterError`` naming ``name``."""
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if value.strip().lower() not in words:
        raise ParameterError(f"-P {name}={value!r}: expected true or false")
    return words[value.strip().lower()]


def arbiter_args(entry_point: str, params: dict[str, str]) -> list[str]:
    """The checked ``arbiter`` command line of ``entry_point`` for the given parameters."""
    if entry_point == "generate":
        return [
            "generate",
            "--customers",
            str(positive_int("customers", params["customers"])),
            "--months",
            str(positive_int("months", params["months"])),
            "--seed",
            str(positive_int("seed", params["seed"])),
            params["out"],
        ]
    if entry_point == "import":
        existing_file("mapping", params["mapping"])
        if not Path(params["source"]).exists():
            raise ParameterError(f"-P source={params['source']!r}: no such file or folder")
        return [
            "import",
            "--mapping",
            params["mapping"],
            params["source"],
            params["out"],
            "--overwrite",
        ]
    if entry_point == "train":
        existing_folder("book", params["book"])
        existing_file("params", params["params"])
        flag = "--register" if boolean("register", params["register"]) else "--no-register"
        return ["train", "--book", params["book"], "--params", params["params"], flag]
    if entry_point == "evaluate":
        existing_folder("book", params["book"])
        model = params["model"].strip()
        if not model:
            raise ParameterError("-P model='': give an alias (champion) or a version number")
        return ["evaluate", "--book", params["book"], "--model", model]
    raise ParameterError(f"unknown entry point {entry_point!r}")


def main(argv: list[str] | None = None) -> None:
    """``python -m training.mlproject ENTRY key=value ...``: check, then run ``arbiter``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        raise SystemExit("usage: python -m training.mlproject ENTRY key=value ...")
    params = dict(arg.split("=", 1) for arg in argv[1:])
    try:
        args = arbiter_args(argv[0], params)
    except (ParameterError, KeyError) as error:
        raise SystemExit(f"error: {error}") from error
    from training.cli import app

    app(args, prog_name="arbiter")


if __name__ == "__main__":
    main()
