"""Hyper-parameters in versioned YAML: loaded, merged over the defaults and checked.

``training/params.yaml`` holds the defaults. A user's file may override any subset of it; an
unknown key or a value of the wrong type is an error naming the file, the key and the fix.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS_FILE = Path(__file__).with_name("params.yaml")
TARGETS = ("late", "dispute", "days_to_pay")
CLASSIFIERS = ("late", "dispute")
# Sections whose keys are passed to LightGBM as they are (LightGBM checks them itself).
FREE_SECTIONS = {("lightgbm", "common"), *(("lightgbm", t) for t in TARGETS)}


class ParamsError(ValueError):
    """A parameters file cannot be used as it is."""


def load_params(path: str | Path | None = None) -> dict[str, Any]:
    """The training parameters: the defaults, overridden by ``path`` when given.

    Args:
        path: A YAML file with any subset of the keys of ``training/params.yaml``.

    Raises:
        ParamsError: The file is missing or not YAML, has an unknown key or a bad value.
    """
    defaults = _read_yaml(DEFAULT_PARAMS_FILE)
    if path is None or Path(path).resolve() == DEFAULT_PARAMS_FILE.resolve():
        params = defaults
        source = str(DEFAULT_PARAMS_FILE)
    else:
        source = str(path)
        params = merge_params(defaults, _read_yaml(Path(path)), source)
    check_params(params, source)
    return params


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ParamsError(f"{path}: no such parameters file")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML ({error})") from error
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level")
    return loaded


def merge_params(
    defaults: dict[str, Any], overrides: dict[str, Any], source: str, prefix: tuple = ()
) -> dict[str, Any]:
    """``defaults`` with ``overrides`` applied key by key; unknown keys are refused."""
    merged = copy.deepcopy(defaults)
    for key, value in overrides.items():
        where = (*prefix, key)
        if prefix in FREE_SECTIONS:
            merged[key] = value
        elif key not in defaults:
            known = ", ".join(sorted(defaults)) or "none"
            raise ParamsError(
                f"{source}: unknown key {'.'.join(where)!r} (known here: {known}); "
                "fix the spelling or remove it"
            )
        elif isinstance(defaults[key], dict):
            if not isinstance(value, dict):
                raise ParamsError(f"{source}: {'.'.join(where)!r} must be a mapping")
            merged[key] = merge_params(defaults[key], value, source, where)
        else:
            merged[key] = value
    return merged


_CHECKS: dict[tuple[str, ...], tuple[type | tuple[type, ...], float, float]] = {
    ("labels", "grace_days"): (int, 0, 365),
    ("labels", "dispute_window_days"): (int, 1, 3650),
    ("labels", "days_to_pay_horizon_days"): (int, 1, 3650),
    ("splits", "valid_days"): (int, 7, 3650),
    ("splits", "test_days"): (int, 7, 3650),
    ("lightgbm", "num_boost_round"): (int, 1, 100_000),
    ("lightgbm", "early_stopping_rounds"): (int, 1, 100_000),
    ("calibration", "coverage"): ((int, float), 0.05, 0.99),
    ("evaluation", "new_customer_days"): (int, 0, 3650),
    ("evaluation", "ece_bins"): (int, 2, 1000),
    ("gate", "min_improvement"): ((int, float), 0.0, 1.0),
}


def check_params(params: dict[str, Any], source: str) -> None:
    """Check every value's type and range; raise ``ParamsError`` naming the first bad key."""
    for path, (kind, low, high) in _CHECKS.items():
        value = params[path[0]][path[1]]
        name = ".".join(path)
        if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
            raise ParamsError(
                f"{source}: {name} = {value!r} is invalid; expected a number from {low} to {high}"
            )
    method = params["calibration"]["method"]
    if method not in ("isotonic", "platt"):
        raise ParamsError(
            f"{source}: calibration.method = {method!r} is invalid; use isotonic or platt"
        )
