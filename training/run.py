"""The training and evaluation jobs: a book folder in, tracked runs and registered models out.

This is the thin I/O layer over ``training.pipeline``: it loads the book, reports progress,
logs to MLflow and applies the registry gate. ``arbiter train``/``evaluate``/``export`` and
the MLproject entry points call these functions.
"""

from __future__ import annotations

import tempfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from features.console import make_console
from serving.bundle import ModelBundle
from training import plots, tracking
from training.params import load_params
from training.pipeline import (
    GATE_METRICS,
    TargetModel,
    TrainingData,
    baseline_predictions,
    bundle_of,
    evaluate_target,
    lightgbm_beats_baselines,
    predict_test_window,
    prepare_training_data,
    score_metrics,
    split_for,
    train_target,
    trainable_targets,
    window_arrays,
)
from training.report import metrics_table, model_card


@dataclass
class TrainingOutcome:
    """What ``train_book`` did.

    Attributes:
        run_id: The MLflow run.
        bundle: The trained LightGBM models as serving loads them.
        evaluations: Per target, ``evaluate_target``'s result.
        skipped: Targets not trained, with the reason.
        decisions: Per registered target, the gate's decision.
        feature_names: The features the models use.
        excluded_features: Features the book could not support, with the reason.
    """

    run_id: str
    bundle: ModelBundle
    evaluations: dict[str, dict]
    skipped: dict[str, str]
    decisions: dict[str, tracking.GateDecision] = field(default_factory=dict)
    feature_names: list[str] = field(default_factory=list)
    excluded_features: dict[str, str] = field(default_factory=dict)


def load_training_data(book_dir: Path, params: dict) -> TrainingData:
    """Load and validate the book, read its oracle if any, and prepare features and labels."""
    from features.book import load_book, read_oracle

    book, report = load_book(book_dir)
    if report.total_rejected:
        make_console(stderr=True).print(
            f"[yellow]{book_dir}: {report.total_rejected:,} rows rejected by the data contract "
            "and left out (see `arbiter validate`)"
        )
    return prepare_training_data(book, params, read_oracle(book_dir))


def _progress(console: Console, show: bool):  # noqa: ANN202 - a rich Progress or null context
    if not show:
        return nullcontext(None)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def _step(progress, task, description: str) -> None:  # noqa: ANN001
    if progress is not None:
        progress.update(task, description=description, advance=1)


def train_book(
    book_dir: str | Path,
    params_path: str | Path | None = None,
    register: bool = True,
    tracking_uri: str | None = None,
    experiment: str = tracking.EXPERIMENT,
    artifact_root: Path | None = None,
    console: Console | None = None,
    show_progress: bool = True,
) -> TrainingOutcome:
    """Train, evaluate and log the three models of one book; register and gate them.

    Args:
        book_dir: A book folder (``arbiter generate`` or ``arbiter import`` output).
        params_path: Parameters YAML (default ``training/params.yaml``).
        register: Register each model and apply the gate (champion or challenger).
        tracking_uri: MLflow tracking URI (default ``tracking.default_tracking_uri()``).
        experiment: MLflow experiment name.
        artifact_root: Artifact folder of a new experiment (default ``<project>/mlartifacts``).
        console: Where tables and progress go.
        show_progress: Show a progress bar.
    """
    console = console or make_console()
    params = load_params(params_path)
    tracking.use_tracking(tracking_uri, experiment, artifact_root)
    with _progress(console, show_progress) as progress:
        task = progress.add_task("loading book, building features", total=7) if progress else None
        data = load_training_data(Path(book_dir), params)
        outcome = train_and_log(data, params, register, str(book_dir), progress, task)
    print_outcome(console, outcome)
    return outcome


def train_and_log(
    data: TrainingData,
    params: dict,
    register: bool = True,
    book_label: str = "",
    progress=None,  # noqa: ANN001 - a rich Progress
    task=None,  # noqa: ANN001 - its task id
    targets: tuple[str, ...] | None = None,
    with_plots: bool = True,
) -> TrainingOutcome:
    """Train the trainable targets of ``data`` (default all), evaluate, log to the current
    MLflow experiment, and (with ``register``) register each model and apply the gate."""
    import mlflow

    status = trainable_targets(data)
    if targets is not None:
        status = {t: s for t, s in status.items() if t in targets}
    models: dict[str, TargetModel] = {}
    for target in (t for t, s in status.items() if s == "ok"):
        _step(progress, task, f"training {target}")
        models[target] = train_target(data, target, params)
    _step(progress, task, "evaluating on the test windows")
    bundle = bundle_of(models, data, _manifest(data, models))
    frames = {
        t: predict_test_window(bundle, data, t, m.split, m.baseline_test) for t, m in models.items()
    }
    bins = params["evaluation"]["ece_bins"]
    evaluations = {t: evaluate_target(f, t, bins) for t, f in frames.items()}
    _step(progress, task, "logging to MLflow")
    with mlflow.start_run() as run:
        _log_run(data, params, models, evaluations, frames, status, book_label, with_plots)
        outcome = TrainingOutcome(
            run.info.run_id,
            bundle,
            evaluations,
            {t: s for t, s in status.items() if s != "ok"},
            feature_names=list(data.feature_names),
            excluded_features=dict(data.excluded_features),
        )
        _step(progress, task, "registering")
        example = data.features.loc[:, data.feature_names].tail(3)
        for target in models:
            info = tracking.log_target_model(bundle, target, example, register)
            version = tracking.model_version_of(info, target)
            if register and version is not None:
                outcome.decisions[target] = gate(
                    data, models[target], version, frames[target], params
                )
        if outcome.decisions:
            _log_decisions(outcome.decisions)
    return outcome


def _manifest(data: TrainingData, models: dict[str, TargetModel]) -> dict:
    return {
        "book_hash": data.book_hash,
        "as_of": data.as_of.date().isoformat(),
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "targets": {
            t: {
                "version": "unregistered",
                "windows": m.plan.to_dict(),
                "best_iterations": m.best_iterations,
            }
            for t, m in models.items()
        },
    }


def _log_run(
    data: TrainingData,
    params: dict,
    models: dict[str, TargetModel],
    evaluations: dict[str, dict],
    frames: dict[str, pd.DataFrame],
    status: dict[str, str],
    book_dir: str | Path,
    with_plots: bool = True,
) -> None:
    import mlflow

    mlflow.set_tags({"book": str(book_dir), "book_hash": data.book_hash, "kind": "training"})
    mlflow.log_params(tracking.flatten_params(params))
    mlflow.log_param("n_features", len(data.feature_names))
    for target, evaluation in evaluations.items():
        mlflow.log_metrics(tracking.flatten_metrics(f"test.{target}", evaluation))
        mlflow.log_metric(
            f"test.{target}.lightgbm_beats_baselines",
            float(lightgbm_beats_baselines(evaluation, target)),
        )
    tracking.log_json(
        {"used": data.feature_names, "excluded": data.excluded_features, "targets": status},
        "features.json",
    )
    tracking.log_json(
        {t: {"windows": m.plan.to_dict(), "counts": m.counts} for t, m in models.items()},
        "splits.json",
    )
    tracking.log_json(evaluations, "evaluation.json")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for target, model in models.items():
            if with_plots:
                write_plots(model, frames[target], data, folder)
            (folder / f"model_card_{target}.md").write_text(
                model_card(target, model, evaluations[target], data, params)
            )
        tracking.log_folder(folder, "evaluation")


def write_plots(model: TargetModel, frame: pd.DataFrame, data: TrainingData, folder: Path) -> None:
    """Every evaluation plot of one target into ``folder``."""
    target = model.target
    if target == "days_to_pay":
        plots.plot_days_coverage(frame, folder)
    else:
        plots.plot_roc_pr(frame, target, folder)
        plots.plot_calibration(frame, target, folder)
        plots.plot_lift(frame, target, folder)
    key = "days_to_pay_p50" if target == "days_to_pay" else target
    booster = model.boosters[key]
    plots.plot_importance(booster, key, folder)
    sample = (model.split == "test").to_numpy()
    X = data.matrix(sample)[:2000]
    plots.plot_shap_summary(booster, X, key, folder)


def gate(
    data: TrainingData, model: TargetModel, version: str, frame: pd.DataFrame, params: dict
) -> tracking.GateDecision:
    """Compare the new version with the champion on this run's test window; move aliases."""
    target = model.target
    metric, higher = GATE_METRICS[target]
    new_value = score_metrics(frame, target, "lightgbm")[metric]
    champion_version = tracking.alias_version(target, tracking.CHAMPION)
    champion_value = None
    if champion_version is not None:
        champion_value = champion_metric(data, model, champion_version)
    decision = tracking.decide(
        target,
        metric,
        higher,
        version,
        new_value,
        champion_version,
        champion_value,
        params["gate"]["min_improvement"],
    )
    tracking.apply_decision(decision)
    return decision


def champion_metric(data: TrainingData, model: TargetModel, version: str) -> float | None:
    """The gate metric of registered ``version`` on ``model``'s test window (None: unscorable)."""
    target = model.target
    with tempfile.TemporaryDirectory() as tmp:
        champion = tracking.download_bundle(target, version, Path(tmp))
    try:
        frame = predict_test_window(champion, data, target, model.split, model.baseline_test)
    except ValueError:
        return None
    return score_metrics(frame, target, "lightgbm")[GATE_METRICS[target][0]]


def _log_decisions(decisions: dict[str, tracking.GateDecision]) -> None:
    import mlflow

    for target, d in decisions.items():
        mlflow.log_metric(f"gate.{target}.new.{d.metric}", d.new_value)
        if d.champion_value is not None:
            mlflow.log_metric(f"gate.{target}.champion.{d.metric}", d.champion_value)
        mlflow.set_tag(
            f"gate.{target}", ("promoted: " if d.promoted else "challenger: ") + d.reason
        )
    tracking.log_json({t: vars(d) for t, d in decisions.items()}, "gate.json")


def print_outcome(console: Console, outcome: TrainingOutcome) -> None:
    """Metric tables, skipped targets, features and gate decisions."""
    for target, evaluation in outcome.evaluations.items():
        console.print(metrics_table(target, evaluation))
        if "oracle_gap" in evaluation:
            gap = evaluation["oracle_gap"]["roc_auc"]
            console.print(f"{target}: ROC-AUC gap to the oracle {gap:+.4f}")
    for target, reason in outcome.skipped.items():
        console.print(f"[yellow]{target}: not trained ({reason})")
    console.print(
        f"{len(outcome.feature_names)} features used; left out: "
        + (", ".join(f"{k} ({v})" for k, v in outcome.excluded_features.items()) or "none")
    )
    for target, d in outcome.decisions.items():
        verdict = "[green]champion" if d.promoted else "[yellow]challenger"
        console.print(f"{target}: version {d.new_version} -> {verdict}[/]: {d.reason}")
    console.print(f"MLflow run {outcome.run_id}")


def evaluate_model(
    book_dir: str | Path,
    reference: str = tracking.CHAMPION,
    params_path: str | Path | None = None,
    tracking_uri: str | None = None,
    experiment: str = tracking.EXPERIMENT,
    console: Console | None = None,
) -> dict[str, dict]:
    """Evaluate registered models (an alias or a version) on this book's test windows.

    The baselines are refitted on the same training windows and reported beside the model;
    the results are printed and logged as an evaluation run.
    """
    import mlflow

    console = console or make_console()
    params = load_params(params_path)
    tracking.use_tracking(tracking_uri, experiment)
    data = load_training_data(Path(book_dir), params)
    evaluations = {}
    with tempfile.TemporaryDirectory() as tmp:
        for target in (t for t, s in trainable_targets(data).items() if s == "ok"):
            version = (
                reference if reference.isdigit() else tracking.alias_version(target, reference)
            )
            if version is None:
                console.print(f"[yellow]{target}: no registered version {reference!r}")
                continue
            bundle = tracking.download_bundle(target, version, Path(tmp) / target)
            plan, split = split_for(data, target, params)
            rows, X, Y = window_arrays(data, target, split)
            baselines = baseline_predictions(data, target, X, Y, rows, params)
            frame = predict_test_window(bundle, data, target, split, baselines)
            evaluations[target] = evaluate_target(frame, target, params["evaluation"]["ece_bins"])
            console.print(metrics_table(target, evaluations[target], f" version {version}"))
    with mlflow.start_run():
        mlflow.set_tags({"kind": "evaluation", "model": reference, "book": str(book_dir)})
        for target, evaluation in evaluations.items():
            mlflow.log_metrics(tracking.flatten_metrics(f"test.{target}", evaluation))
        tracking.log_json(evaluations, "evaluation.json")
    return evaluations
