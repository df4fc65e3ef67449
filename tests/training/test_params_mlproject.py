"""Parameters in versioned YAML, and the MLproject entry points' own parameter checks."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from training.cli import app
from training.mlproject import ParameterError, arbiter_args
from training.params import ParamsError, load_params

PROJECT = Path(__file__).resolve().parents[2]


def test_defaults_load_and_an_override_merges(tmp_path) -> None:
    defaults = load_params()
    assert defaults["labels"]["grace_days"] == 0
    path = tmp_path / "p.yaml"
    path.write_text("labels:\n  grace_days: 3\nlightgbm:\n  late:\n    num_leaves: 63\n")
    params = load_params(path)
    assert params["labels"]["grace_days"] == 3
    assert params["lightgbm"]["late"] == {"num_leaves": 63}
    assert params["labels"]["dispute_window_days"] == defaults["labels"]["dispute_window_days"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("labels:\n  grace_dayz: 3\n", "unknown key 'labels.grace_dayz'"),
        ("labels:\n  grace_days: -1\n", "labels.grace_days = -1 is invalid"),
        ("splits:\n  valid_days: ninety\n", "splits.valid_days = 'ninety' is invalid"),
        ("calibration:\n  method: magic\n", "calibration.method = 'magic' is invalid"),
        ("labels: 3\n", "'labels' must be a mapping"),
        ("labels: [\n", "not valid YAML"),
    ],
)
def test_bad_parameters_name_the_file_and_key(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError, match=message) as raised:
        load_params(path)
    assert str(path) in str(raised.value)


def test_mlproject_declares_the_four_entry_points() -> None:
    project = yaml.safe_load((PROJECT / "MLproject").read_text())
    assert set(project["entry_points"]) == {"generate", "import", "train", "evaluate"}
    assert project["python_env"] == "python_env.yaml"
    assert (PROJECT / "python_env.yaml").exists()


def test_entry_point_parameters_are_checked(tmp_path) -> None:
    args = arbiter_args(
        "train",
        {
            "book": str(tmp_path),
            "params": str(PROJECT / "training" / "params.yaml"),
            "register": "false",
        },
    )
    assert args[-1] == "--no-register" and args[:3] == ["train", "--book", str(tmp_path)]
    generate = {"customers": "20", "months": "x", "seed": "1", "out": "o"}
    with pytest.raises(ParameterError, match="-P months='x': expected a whole number"):
        arbiter_args("generate", generate)
    with pytest.raises(ParameterError, match="-P book='/no/such': no such folder"):
        arbiter_args("evaluate", {"book": "/no/such", "model": "champion"})
    with pytest.raises(ParameterError, match="-P register='maybe'"):
        arbiter_args(
            "train",
            {"book": str(tmp_path), "params": str(PROJECT / "MLproject"), "register": "maybe"},
        )


def test_train_command_refuses_a_missing_book(tmp_path) -> None:
    result = CliRunner().invoke(app, ["train", "--book", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "no such book folder" in result.output
