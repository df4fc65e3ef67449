"""Normalising the engine's inputs: one invoice (a mapping) or a batch (columns).

Both paths check the same things and give the same canonical values, so that a single and a
batch evaluation cannot disagree: numbers become floats (null is NaN), booleans ``True``,
``False`` or null, categories one of their choices or null, texts a ``str`` or null. A value
that does not fit its field is an ``InputError`` naming the field, the row and the fix; it is
never coerced to null.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype, is_bool_dtype, is_numeric_dtype

from serving.policy.catalogue import Field

NUMERIC_KINDS = ("floating", "integer", "mixed-integer-float", "decimal", "empty")
DECODE_FIX = "decode feature codes to their names before deciding"


class InputError(ValueError):
    """An input value the engine cannot evaluate."""


@dataclass(frozen=True)
class TextColumn:
    """A text field of a batch: integer codes (-1 = null) and the code of each text."""

    codes: np.ndarray
    index: dict[str, int]


def is_null(value: object) -> bool:
    """True for None, NaN and ``pandas.NA``."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def normalize_one(inputs: Mapping[str, object], fields: Iterable[Field]) -> dict[str, object]:
    """Canonical values of one invoice's fields, checked like a batch row."""
    values: dict[str, object] = {}
    for field in fields:
        if field.name not in inputs:
            raise InputError(f"input lacks field {field.name!r}; fix: provide it (null allowed)")
        values[field.name] = _normalize_value(field, inputs[field.name])
    return values


def compile_normalizer(fields: Iterable[Field]) -> Callable[[Mapping[str, object]], dict]:
    """A fast ``normalize_one`` for fixed fields: common values take a shortcut per kind,
    anything else goes through the general check, so both give identical results."""
    plan = [(field.name, _fast_path(field)) for field in fields]

    def normalize(inputs: Mapping[str, object]) -> dict[str, object]:
        try:
            return {name: check(inputs[name]) for name, check in plan}
        except KeyError as missing:
            name = missing.args[0]
            raise InputError(
                f"input lacks field {name!r}; fix: provide it (null allowed)"
            ) from None

    return normalize


def _fast_path(field: Field) -> Callable[[object], object]:
    def general(value: object) -> object:
        return _normalize_value(field, value)

    if field.kind == "number":
        low, high = field.bounds or (-math.inf, math.inf)
        nullable = field.nullable

        def number(v: object) -> object:
            if v.__class__ is float and (low <= v <= high or (nullable and v != v)):  # type: ignore[operator]
                return v
            return general(v)

        return number
    if field.kind == "bool":
        as_bool = {1.0: True, 0.0: False}

        def boolean(v: object) -> object:
            if v is True or v is False:
                return v
            return as_bool[v] if v.__class__ is float and v in as_bool else general(v)

        return boolean
    if field.kind == "category":
        choices = frozenset(field.choices)
        return lambda v: v if v.__class__ is str and v in choices else general(v)
    return lambda v: v if v.__class__ is str else general(v)


def _normalize_value(field: Field, value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    if is_null(value):
        if not field.nullable:
            raise InputError(f"field {field.name!r} is null; fix: it is required")
        return math.nan if field.kind == "number" else None
    if field.kind == "number":
        return _number(field, value)
    if field.kind == "bool":
        if value in (True, False) and not isinstance(value, str):
            return bool(value)
        raise InputError(f"field {field.name!r}: {value!r} is not true/false")
    if field.kind == "category" and value not in field.choices:
        raise InputError(
            f"field {field.name!r}: {value!r} is not one of {', '.join(field.choices)}; "
            f"fix: {DECODE_FIX}"
        )
    return str(value)


def _number(field: Field, value: object) -> float:
    if not _plain_number(value):
        raise InputError(f"field {field.name!r}: {value!r} is not a number")
    number = float(value)  # type: ignore[arg-type]
    if field.bounds and not field.bounds[0] <= number <= field.bounds[1]:
        raise InputError(f"field {field.name!r}: {number} is outside {field.bounds}")
    return number


def batch_length(inputs: Mapping[str, object] | pd.DataFrame) -> int:
    """Number of invoices in a batch; all columns must have the same length."""
    lengths = {len(column) for column in _columns(inputs).values()}  # type: ignore[arg-type]
    if len(lengths) > 1:
        raise InputError(f"batch columns have different lengths: {sorted(lengths)}")
    return lengths.pop() if lengths else 0


def normalize_batch(
    inputs: Mapping[str, object] | pd.DataFrame, fields: Iterable[Field]
) -> dict[str, np.ndarray | TextColumn]:
    """Column arrays of a batch in the engine's representation.

    Numbers and booleans become float64 (booleans as 1.0/0.0, null NaN), categories int16
    codes into their choices (-1 = null), texts a ``TextColumn``.
    """
    columns = _columns(inputs)
    prepared: dict[str, np.ndarray | TextColumn] = {}
    for field in fields:
        if field.name not in columns:
            raise InputError(f"batch lacks column {field.name!r}; fix: provide it (null allowed)")
        series = pd.Series(columns[field.name], copy=False)
        series = series.reset_index(drop=True)
        _check_nulls(field, series)
        prepared[field.name] = _prepare(field, series)
    return prepared


def _columns(inputs: Mapping[str, object] | pd.DataFrame) -> Mapping[str, object]:
    if isinstance(inputs, pd.DataFrame):
        return {name: inputs[name] for name in inputs.columns}
    return inputs


def _check_nulls(field: Field, series: pd.Series) -> None:
    if field.nullable:
        return
    nulls = np.flatnonzero(series.isna().to_numpy())
    if len(nulls):
        raise InputError(f"field {field.name!r}, row {nulls[0]}: null; fix: it is required")


def _prepare(field: Field, series: pd.Series) -> np.ndarray | TextColumn:
    if field.kind == "number":
        return _number_column(field, series)
    if field.kind == "bool":
        return _bool_column(field, series)
    if field.kind == "category":
        return _category_column(field, series)
    if infer_dtype(series, skipna=True) not in ("string", "empty"):
        series = series.map(str, na_action="ignore")
    codes, uniques = pd.factorize(series)
    return TextColumn(codes, {text: code for code, text in enumerate(uniques)})


def _is_numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    if is_numeric_dtype(dtype) and not is_bool_dtype(dtype):
        return True
    return infer_dtype(series, skipna=True) in NUMERIC_KINDS


def _number_column(field: Field, series: pd.Series) -> np.ndarray:
    if not _is_numeric(series):
        bad = series.map(lambda v: not is_null(v) and not _plain_number(v))
        _fail_on(field, series, bad.to_numpy(dtype=bool), "is not a number")
    values = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
    if field.bounds:
        low, high = field.bounds
        outside = ~np.isnan(values) & ((values < low) | (values > high))
        _fail_on(field, series, outside, f"is outside {field.bounds}")
    return values


def _plain_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _bool_column(field: Field, series: pd.Series) -> np.ndarray:
    if is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    nulls = series.isna().to_numpy()
    if infer_dtype(series, skipna=True) in ("boolean", "empty"):
        values = series.where(~nulls, False).to_numpy(dtype=np.float64)
    elif _is_numeric(series):
        values = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
        _fail_on(field, series, ~nulls & (values != 0) & (values != 1), "is not true/false")
    else:
        known = series.map(lambda v: not isinstance(v, str) and v in (True, False))
        _fail_on(field, series, ~known.to_numpy(dtype=bool) & ~nulls, "is not true/false")
        values = series.where(~nulls, False).astype(bool).to_numpy(dtype=np.float64)
    values[nulls] = np.nan
    return values


def _category_column(field: Field, series: pd.Series) -> np.ndarray:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return _recode_categorical(field, series)
    codes = pd.Categorical(series, categories=list(field.choices)).codes.astype(np.int16)
    unknown = (codes < 0) & series.notna().to_numpy()
    _fail_on(field, series, unknown, f"is not one of {', '.join(field.choices)} ({DECODE_FIX})")
    return codes


def _recode_categorical(field: Field, series: pd.Series) -> np.ndarray:
    """Codes into ``field.choices`` of a pandas categorical column, without touching strings."""
    position = {choice: code for code, choice in enumerate(field.choices)}
    recode = np.array(
        [position.get(str(label), -2) for label in series.cat.categories] + [-1], dtype=np.int16
    )
    codes = recode[series.cat.codes.to_numpy()]
    _fail_on(field, series, codes == -2, f"is not one of {', '.join(field.choices)} ({DECODE_FIX})")
    return codes


def _fail_on(field: Field, series: pd.Series, bad: np.ndarray, problem: str) -> None:
    rows = np.flatnonzero(bad)
    if len(rows):
        row = rows[0]
        raise InputError(
            f"field {field.name!r}, row {row}: {series.iloc[row]!r} {problem} "
            f"({len(rows)} row(s) affected)"
        )
