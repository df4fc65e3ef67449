"""Each simulator mechanism's closed form against its own sampler, plus config and CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from features.simulator import SimulationConfig
from features.simulator import disputes as dispute_process
from features.simulator import health as health_process
from features.simulator import payments as payment_process
from features.simulator.config import DisputeParams, HealthParams, PaymentParams
from features.simulator.events import count_before, last_day_before

DRAWS = 200_000


def within_sampling_error(empirical: float, probability: float, n: int = DRAWS) -> bool:
    return abs(empirical - probability) <= 4 * np.sqrt(probability * (1 - probability) / n) + 1e-9


@pytest.mark.parametrize(
    "terms, p_late, friction, disposition",
    [(30, 0.3, 0.0, 0.0), (60, 0.7, 1.3, 1.5), (15, 0.05, 0.4, -2.0)],
)
def test_payment_cdf_matches_sampled_payment_days(terms, p_late, friction, disposition):
    params = PaymentParams()
    logit = np.full(DRAWS, np.log(p_late / (1 - p_late)))
    state = payment_process.payment_state(
        np.full(DRAWS, terms),
        logit,
        np.full(DRAWS, friction),
        np.full(DRAWS, disposition),
        np.full(DRAWS, 0.2),
        params,
    )
    days = payment_process.draw_payment_days(state, params, np.random.default_rng(1))
    for probe in (0, terms - 5, terms - 1, terms, terms + 1, terms + 10, terms + 60):
        closed = payment_process.payment_cdf(np.full(1, probe), _first(state), params)[0]
        assert within_sampling_error((days <= probe).mean(), closed), probe
    expected = payment_process.expected_payment_days(_first(state), params)[0]
    assert abs(days.mean() - expected) <= 4 * days.std() / np.sqrt(DRAWS)


def _first(state: payment_process.PaymentState) -> payment_process.PaymentState:
    return payment_process.PaymentState(*(np.asarray(v)[:1] for v in vars(state).values()))


@pytest.mark.parametrize("reason", range(6))
def test_settlement_cdf_matches_sampled_dispute_settlement(reason):
    params = DisputeParams()
    rates = np.zeros((DRAWS, 6))
    rates[:, reason] = 5.0  # every invoice disputed, for this reason
    draws = dispute_process.draw_disputes(rates, params, np.random.default_rng(reason))
    assert draws.disputed.mean() > 0.99 and (draws.reason == reason).all()
    assert draws.open_delay.min() >= 1 and draws.open_delay.max() <= params.window_days
    days = draws.settlement_delay(params)
    weights = np.eye(6)[[reason]]
    for probe in (1, 2, 10, 30, 45, 90):
        closed = dispute_process.settlement_cdf(np.full(1, probe), weights, params)[0]
        assert within_sampling_error((days <= probe).mean(), closed), probe
    expected = dispute_process.expected_settlement_days(weights, params)[0]
    assert abs(days.mean() - expected) <= 4 * days.std() / np.sqrt(DRAWS)


def test_dispute_probability_and_reason_follow_the_cause_rates():
    rates = np.tile([0.05, 0.2, 0.0, 0.01, 0.0, 0.04], (DRAWS, 1))
    draws = dispute_process.draw_disputes(rates, DisputeParams(), np.random.default_rng(3))
    p = dispute_process.dispute_probability(rates[:1])[0]
    assert p == pytest.approx(1 - np.exp(-0.3))
    assert within_sampling_error(draws.disputed.mean(), p)
    reason_share = np.bincount(draws.reason, minlength=6) / DRAWS
    assert np.allclose(reason_share, rates[0] / rates[0].sum(), atol=0.005)


def test_fixing_the_root_cause_removes_order_problem_disputes():
    n = 4
    context = dispute_process.DisputeContext(
        pricing_discrepancy=np.array([True, False, False, True]),
        recent_price_change=np.zeros(n, bool),
        delivery_problem=np.array([False, True, False, True]),
        quality_problem=np.zeros(n, bool),
        open_tickets=np.zeros(n, int),
        po_required=np.zeros(n, bool),
        distressed=np.zeros(n, bool),
        propensity=np.ones(n),
    )
    params = DisputeParams()
    before = dispute_process.cause_rates(context, params)
    after = dispute_process.cause_rates(context, params, root_cause_fixed=np.ones(n, bool))
    assert before[3, 0] == pytest.approx(params.base_rate[0] + params.pricing_discrepancy_rate)
    assert np.allclose(after, np.tile(params.base_rate, (n, 1)))


def test_first_insolvency_probabilities_match_simulated_chains():
    params = HealthParams()
    downturns = np.ones((1, 14))
    matrices = health_process.transition_matrices(params, downturns)
    assert np.allclose(matrices.sum(axis=-1), 1.0)
    first = health_process.first_insolvency_probabilities(matrices, months=6)
    n, start_state, start_month = DRAWS, 1, 2
    state = np.full(n, start_state, dtype=np.int8)
    rng = np.random.default_rng(4)
    first_month = np.full(n, -1)
    for k in range(1, health_process.INSOLVENCY_LOOKAHEAD + 1):
        rows = np.broadcast_to(matrices[2, 0, start_month + k], (n, 6, 6))
        state = health_process.next_state(state, rows, rng.random(n))
        first_month[(state == 0) & (first_month < 0)] = k
    for k in range(1, health_process.INSOLVENCY_LOOKAHEAD + 1):
        closed = first[2, 0, start_month, start_state, k - 1]
        assert within_sampling_error((first_month == k).mean(), closed), k


def test_point_in_time_lookups_see_only_earlier_days():
    customer = np.array([0, 0, 0, 1])
    day = np.array([5, 10, 10, 3])
    queries_c = np.array([0, 0, 0, 1, 2])
    queries_d = np.array([5, 10, 11, 4, 100])
    assert count_before(customer, day, queries_c, queries_d).tolist() == [0, 1, 3, 1, 0]
    last = last_day_before(customer, day, queries_c, queries_d, missing=-1)
    assert last.tolist() == [-1, 5, 10, 3, -1]


@pytest.mark.parametrize(
    "settings, field",
    [
        ({"start": "2023-01-15"}, "start"),
        ({"months": 0}, "months"),
        ({"customers": 0}, "customers"),
        ({"start": "soon"}, "start"),
    ],
)
def test_config_rejects_bad_settings_naming_the_field(settings, field):
    with pytest.raises(ValueError, match=field):
        SimulationConfig(**settings).validate()


def test_config_for_invoices_sizes_the_book():
    from features.simulator import simulate_book

    config = SimulationConfig.for_invoices(20_000, months=12, seed=2)
    invoices = len(simulate_book(config).tables["invoices"])
    assert 0.85 * 20_000 <= invoices <= 1.1 * 20_000


def test_generate_command_writes_book_oracle_and_meta(tmp_path):
    from training.cli import app

    out = tmp_path / "book"
    result = CliRunner().invoke(
        app, ["generate", "--customers", "60", "--months", "6", "--seed", "3", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "share paid late" in result.output and "DSO" in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "activities.parquet",
        "book.json",
        "customers.parquet",
        "disputes.parquet",
        "invoices.parquet",
        "oracle.parquet",
        "payments.parquet",
    ]
    meta = json.loads((out / "book.json").read_text())
    assert meta["as_of"] == "2023-07-01"
    assert meta["generator"]["seed"] == 3 and meta["generator"]["customers"] == 60
    assert not list(tmp_path.glob(".book*"))
    again = CliRunner().invoke(
        app, ["generate", "--customers", "30", "--months", "6", "--seed", "4", str(out)]
    )
    assert again.exit_code == 0, again.output
    assert json.loads((out / "book.json").read_text())["generator"]["customers"] == 30
    assert sorted(p.name for p in out.iterdir()) == names
    assert not list(tmp_path.glob(".book*"))


def test_generate_command_refuses_a_bad_start_date(tmp_path):
    from training.cli import app

    result = CliRunner().invoke(app, ["generate", "--start", "2023-02-10", str(tmp_path / "b")])
    assert result.exit_code == 2
    assert "first day of a month" in result.output
    assert not (tmp_path / "b").exists()


def test_generate_command_never_replaces_a_folder_that_is_not_a_book(tmp_path):
    from training.cli import app

    (tmp_path / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(
        app, ["generate", "--customers", "20", "--months", "3", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "not a book folder" in result.output
    assert (tmp_path / "notes.txt").read_text() == "keep me"
