"""Model reasons: the features that pushed each risk up the most, in plain words.

Input per invoice: the feature values, and per target (``late``, ``dispute``) the feature
contributions to that risk's log-odds (LightGBM ``pred_contrib``: one value per feature, then
the bias, which is ignored). Only positive contributions are cited, so a reason for a risk never
names a feature that lowered it. Each reason's text is the feature's template filled with the
invoice's real values (``features.registry.render_reason``); its code is ``<target>.<feature>``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from serving.policy.decision import MAX_REASONS, Reason

Render = Callable[[object, Mapping[str, float]], str]


def format_template(spec: object, values: Mapping[str, float]) -> str:
    """Fill ``spec.template`` with ``values`` (``str.format`` fields are feature names)."""
    return str(spec.template).format_map(values)  # type: ignore[attr-defined]


def default_render() -> Render:
    """``features.registry.render_reason`` (labels for category codes), else plain formatting."""
    try:
        from features.registry import render_reason
    except ImportError:
        return format_template
    return render_reason  # type: ignore[return-value]


def target_label(target: str) -> str:
    """The code prefix of a target: ``p_late`` and ``late`` both give ``late``."""
    return target.removeprefix("p_")


def aligned(contributions: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
    """Contributions without the bias term, checked against the feature names.

    Args:
        contributions: Shape (n_features,) or (n_features + 1,) with the bias last.
        feature_names: Names aligned with ``contributions``.

    Raises:
        ValueError: ``contributions`` does not match ``feature_names``.
    """
    values = np.asarray(contributions, dtype=np.float64)
    if len(values) == len(feature_names) + 1:
        values = values[:-1]
    if len(values) != len(feature_names):
        raise ValueError(
            f"{len(values)} contributions for {len(feature_names)} features; pass the "
            "pred_contrib row of the model whose feature names are given"
        )
    return values


def strongest_pushes(
    contributions: Mapping[str, np.ndarray], feature_names: Sequence[str], limit: int
) -> list[tuple[float, str, str]]:
    """(weight, target, feature) of the features that pushed a risk up most, strongest first.

    Each feature appears once, for the target it pushed up most; only positive contributions
    count.
    """
    targets = list(contributions)
    if not targets:
        return []
    matrix = np.vstack([aligned(contributions[t], feature_names) for t in targets])
    positive = np.where(matrix > 0, matrix, 0.0)
    strongest = positive.max(axis=0)
    target_of = positive.argmax(axis=0)
    order = np.argsort(-strongest, kind="stable")[:limit]
    return [
        (float(strongest[i]), targets[target_of[i]], feature_names[i])
        for i in order
        if strongest[i] > 0
    ]


def model_reasons(
    values: Mapping[str, float],
    contributions: Mapping[str, np.ndarray],
    feature_names: Sequence[str],
    specs: Mapping[str, object],
    render: Render | None = None,
    limit: int = MAX_REASONS,
) -> tuple[Reason, ...]:
    """Candidate model reasons for one invoice, strongest first.

    A feature that pushed several risks up is cited once, for the risk it pushed most.

    Args:
        values: Feature values of the invoice, by name (as the feature frame holds them).
        contributions: Target (``late``, ``dispute``) -> contributions of the invoice.
        feature_names: Feature names aligned with each contributions array.
        specs: Feature name -> spec with a ``template`` (``features.registry``).
        render: Fills a spec's template with values (default: ``default_render()``).
        limit: Maximum number of reasons.

    Raises:
        ValueError: Contributions of the wrong length, or a cited feature without a spec.
    """
    render = render or default_render()
    reasons: list[Reason] = []
    for weight, target, name in strongest_pushes(contributions, feature_names, len(feature_names)):
        if len(reasons) == limit:
            break
        if is_missing(values.get(name)):
            # A missing value can push a risk (no history yet), but it has no value to cite.
            continue
        if name not in specs:
            raise ValueError(f"feature {name!r} has no spec with a reason template; add one")
        text = render(specs[name], values)
        reasons.append(Reason(f"{target_label(target)}.{name}", text, "model", weight))
    return tuple(reasons)


def is_missing(value: object) -> bool:
    """None, NaN and pandas' NA: a feature value that cannot be cited."""
    if value is None:
        return True
    try:
        return bool(np.isnan(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
