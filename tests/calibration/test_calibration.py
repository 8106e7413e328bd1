"""Scoring calibration on history: AUC equal to scikit-learn's, no leakage, a backtest that
reproduces the lifecycle, real signal on the default demo data, and `funnel backtest`."""

import math
import os
import subprocess
import sys

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from orchestration.calibration.backtest import MqlRule, compare, replay
from orchestration.cli import main
from orchestration.funnel_definitions import definitions_path, load_definitions
from tests.conftest import settings_at

pytestmark = pytest.mark.slow(seconds=200)  # pipeline runs on 20,000 leads; orders the parallel workers


@pytest.fixture(scope="module")
def default_demo(tmp_path_factory):
    """`funnel run` on the default demo data (20,000 leads, seed 42)."""
    from orchestration.demo.generator import DemoConfig, generate
    from orchestration.in_process import run_pipeline

    root = tmp_path_factory.mktemp("default_demo")
    settings = settings_at(root)
    generate(DemoConfig(), settings.landing_dir)
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, summary.failures
    return settings


def query(path, sql, params=None):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("outcome", ["converted_to_sql", "converted_to_opportunity"])
def test_the_auc_computed_in_sql_equals_scikit_learns(published_demo, outcome):
    from sklearn.metrics import roc_auc_score

    _, settings, _ = published_demo
    rows = query(settings.duckdb_path, f"""select lead_score, {outcome}
        from intermediate.int_scoring_evaluation where evaluation_status = 'evaluated'""")
    assert len(rows) > 500 and 0 < sum(y for _, y in rows) < len(rows)
    expected = roc_auc_score([int(y) for _, y in rows], [s for s, _ in rows])
    column = "auc_sql" if outcome == "converted_to_sql" else "auc_opportunity"
    [(auc,)] = query(settings.serving_path,
                     f"select distinct {column} from marts.fct_score_calibration")
    assert abs(auc - expected) < 1e-9


def test_deciles_partition_the_evaluated_leads_and_capture_everything(published_demo):
    _, settings, _ = published_demo
    rows = query(settings.serving_path, """
        select bucket_type, sum(leads), max(evaluated_leads), max(cumulative_sql_capture),
               sum(sql_conversions), max(evaluated_leads * base_sql_rate)
        from marts.fct_score_calibration group by 1 order by 1""")
    for _, leads, evaluated, capture, conversions, expected_conversions in rows:
        assert leads == evaluated and capture == pytest.approx(1.0)
        assert conversions == pytest.approx(expected_conversions)
    [(too_young,)] = query(settings.serving_path,
                           "select distinct too_young_leads from marts.fct_score_calibration")
    [(young,)] = query(settings.duckdb_path, """select count(*) from
        intermediate.int_scoring_evaluation where evaluation_status = 'too_young'""")
    assert too_young == young > 0  # the demo's last weeks are too young to judge


def test_an_activity_after_the_evaluation_moment_is_never_counted(published_demo):
    """The dbt unit test on a hand-made lead, run against the real warehouse; and on the demo,
    no evaluated lead's score used an activity at or after its evaluation moment."""
    _, settings, _ = published_demo
    env = {**os.environ, "DUCKDB_PATH": str(settings.duckdb_path)}
    done = subprocess.run([sys.executable, "-m", "orchestration.cli", "dbt", "test", "--select",
                           "int_lead_evaluations,test_type:unit"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "an_activity_after_the_evaluation_moment_does_not_count" in done.stdout
    [(late,)] = query(settings.duckdb_path, """select count(*) from
        intermediate.int_scoring_evaluation where last_activity_at >= evaluated_at""")
    assert late == 0


def test_the_backtest_at_the_threshold_in_force_reproduces_the_lifecycle(published_demo):
    _, settings, _ = published_demo
    [(lifecycle_mqls,)] = query(settings.serving_path,
                                "select count(mql_at) from marts.fct_lead_lifecycle")
    [(mart_mqls, new, lost)] = query(settings.serving_path, """select mqls, new_mqls, lost_mqls
        from marts.fct_threshold_backtest where is_threshold_in_force""")
    assert mart_mqls == lifecycle_mqls and new == lost == 0
    con = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        in_force = replay(con, MqlRule.of(load_definitions()))
        stricter = replay(con, MqlRule(80, 40, 0.5, 0.5))
    finally:
        con.close()
    assert in_force.mqls == lifecycle_mqls and in_force.new_mqls == in_force.lost_mqls == 0
    [(mart_80,)] = query(settings.serving_path,
                         "select mqls from marts.fct_threshold_backtest where threshold = 80")
    assert stricter.mqls == mart_80 < lifecycle_mqls
    assert stricter.lost_mqls == lifecycle_mqls - mart_80


def test_the_backtest_curve_is_monotonic_in_mqls(published_demo):
    _, settings, _ = published_demo
    counts = [m for (m,) in query(settings.serving_path,
                                  "select mqls from marts.fct_threshold_backtest order by threshold")]
    assert len(counts) == 21 and counts == sorted(counts, reverse=True)


def test_suggestions_shrink_rare_values_and_say_when_evidence_is_thin(published_demo):
    """On the demo data; the dbt unit test of fct_scoring_suggestions works a thin case by hand."""
    _, settings, _ = published_demo
    minimum = load_definitions().calibration.min_evidence_leads
    rows = query(settings.serving_path, """select leads, conversions, base_rate,
        smoothed_log_odds, has_enough_evidence, evidence from marts.fct_scoring_suggestions""")
    assert len(rows) > 20
    for leads, _, _, _, enough, evidence in rows:
        assert enough == (leads >= minimum)
        assert evidence.startswith("too little evidence") == (not enough)
    for leads, conversions, base, smoothed, _, _ in rows:
        raw_rate = conversions / leads
        if 0 < raw_rate < 1:
            raw = math.log(raw_rate / (1 - raw_rate)) - math.log(base / (1 - base))
            assert abs(smoothed) <= abs(raw) + 1e-6


def test_on_the_default_demo_data_the_score_finds_real_signal(default_demo):
    [(lift, auc, outcome, outcome_lift, outcome_auc)] = query(default_demo.serving_path, """
        select sql_lift, auc_sql, outcome, outcome_lift, auc_outcome
        from marts.fct_score_calibration where bucket_type = 'decile' and bucket = 'D1'""")
    assert lift > 1.5 and auc > 0.65
    # the default outcome is SQL: the outcome columns repeat the SQL ones
    assert outcome == "sql" and outcome_lift == pytest.approx(lift) and outcome_auc == pytest.approx(auc)


def test_the_win_probability_holds_on_weeks_it_did_not_learn_from(default_demo):
    """Learned without the latest matured weeks, the probability predicts their wins within
    15 % and beats the segment's rate alone (Brier score)."""
    [(leads, predicted, realized, brier, base)] = query(default_demo.serving_path, """
        select distinct holdout_leads, holdout_predicted_wins, holdout_realized_wins,
               holdout_brier_score, holdout_base_brier_score
        from marts.fct_win_probability_check""")
    assert leads > 1000 and realized > 50
    assert abs(predicted - realized) / realized < 0.15, (predicted, realized)
    assert brier < base, (brier, base)
    [(open_leads, smb, enterprise)] = query(default_demo.serving_path, """
        select count(*), avg(expected_deal_value) filter (where segment = 'smb'),
               avg(expected_deal_value) filter (where segment = 'enterprise')
        from marts.fct_lead_expected_revenue""")
    assert open_leads > 1000 and enterprise > 5 * smb


def test_the_worklist_puts_more_of_the_later_won_amount_on_top_than_the_score(default_demo):
    shares = dict(query(default_demo.serving_path, """
        select ranked_by, won_share from marts.fct_worklist_ranking_check"""))
    assert shares["expected_revenue"] > shares["lead_score"] > 0, shares
    [(first, stage, action, why)] = query(default_demo.serving_path, """
        select lead_id, current_stage, next_action, why_this_lead
        from marts.fct_sales_worklist where worklist_rank = 1""")
    [(best,)] = query(default_demo.serving_path, """
        select lead_id from marts.fct_lead_expected_revenue
        where current_stage in ('mql', 'sql')
        order by expected_revenue desc nulls last, lead_score desc, lead_id limit 1""")
    assert first == best and stage in ("mql", "sql") and action and why.count(" +") <= 3
    # Why this lead: the three largest current contributions the score ledger shows (the
    # worklist reads the ledger's rows for its own leads through the view's macro).
    [(leads, explained, differing)] = query(default_demo.serving_path, """
        with contributions as (
            select lead_id, rule_id, round(sum(weighted_points), 6) as points
            from marts.fct_score_ledger
            where moment = 'current' and component in ('fit', 'engagement')
            group by all
            having round(sum(weighted_points), 6) > 0
        ),
        ranked as (
            select *, row_number() over (partition by lead_id order by points desc, rule_id) as n
            from contributions
        ),
        from_ledger as (
            select lead_id, string_agg(rule_id || ' +' || cast(round(points, 1) as varchar), '; '
                                       order by n) as why
            from ranked where n <= 3 group by lead_id
        )
        select count(*), count(w.why_this_lead),
               count(*) filter (where w.why_this_lead is distinct from l.why)
        from marts.fct_sales_worklist as w left join from_ledger as l using (lead_id)""")
    assert leads > 1000 and explained > 0.9 * leads and differing == 0, (leads, explained, differing)


def suggest_and_backtest(settings, monkeypatch, tmp_path):
    """`funnel suggest` then `funnel backtest --definitions` on a warehouse: the comparison."""
    from orchestration.calibration.proposal import propose, write_proposal
    from orchestration.calibration.rescoring import build_and_compare

    for name, value in (("DUCKDB_PATH", settings.duckdb_path),
                        ("SERVING_DUCKDB_PATH", settings.serving_path)):
        monkeypatch.setenv(name, str(value))
    result = CliRunner().invoke(main, ["suggest", "--out", str(tmp_path / "proposal.yml")])
    assert result.exit_code == 0, result.output
    assert "Next: funnel backtest --definitions" in result.output
    proposal = tmp_path / "proposal.yml"
    again = write_proposal(propose(settings.serving_path, definitions_path()),
                           settings.serving_path, None, tmp_path / "funnel.yml")
    assert again.parent == tmp_path / "proposals"  # named by its hash, beside the file in force
    return proposal, build_and_compare(settings, definitions_path(), proposal, lambda _m: None)


def test_a_learned_proposal_scores_at_least_as_well_on_the_default_demo(default_demo,
                                                                        monkeypatch, tmp_path):
    proposal, result = suggest_and_backtest(default_demo, monkeypatch, tmp_path)
    a, b = result.in_force, result.proposed
    assert b.auc >= a.auc and b.lift[0] >= a.lift[0], (a.auc, b.auc, a.lift[0], b.lift[0])
    assert a.evaluated_leads == b.evaluated_leads > 5000  # the same history, judged alike
    learned = load_definitions(proposal)
    assert learned.fit_rules and all(r.id not in {"target_industry", "buying_department"}
                                     for r in learned.fit_rules)
    assert load_definitions().fit_rules[0].id == "target_industry"  # the file in force untouched


def test_a_signal_in_a_custom_attribute_is_found_and_proposed(tmp_path_factory, monkeypatch,
                                                               tmp_path):
    """The lead_origin demo: conversion depends only on a column of the export's own. The
    rules in force cannot see it; the proposal learned from the history can."""
    from orchestration.demo.generator import DemoConfig, generate
    from orchestration.in_process import run_pipeline

    root = tmp_path_factory.mktemp("origin_demo")
    settings = settings_at(root)
    generate(DemoConfig(signal="lead_origin"), settings.landing_dir)
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, summary.failures
    proposal, result = suggest_and_backtest(settings, monkeypatch, tmp_path)
    assert 0.35 < result.in_force.auc < 0.6 and result.proposed.auc > 0.8, (
        result.in_force.auc, result.proposed.auc)
    learned = load_definitions(proposal)
    assert learned.lead_attributes == ["lead_origin"]
    assert {r.attribute for r in learned.fit_rules} == {"lead_origin"}
    [(weight,)] = query(settings.serving_path, """select max(information_value)
        from marts.fct_scoring_suggestions where field_name = 'lead_origin'""")
    assert weight > 1  # a strong predictor (above 0.3 is strong)


def test_funnel_backtest_compares_a_threshold_with_the_rule_in_force(published_demo, monkeypatch):
    _, settings, _ = published_demo
    monkeypatch.setenv("SERVING_DUCKDB_PATH", str(settings.serving_path))
    result = CliRunner().invoke(main, ["backtest", "--threshold", "70", "--min-fit", "40"])
    assert result.exit_code == 0, result.output
    expected = compare(settings.serving_path, MqlRule.of(load_definitions()),
                       MqlRule(70, 40, 0.5, 0.5))
    assert f"{expected.proposed.mqls:,}" in result.output
    assert "precision" in result.output and "per rep" in result.output


def test_funnel_backtest_takes_the_mql_rule_of_another_definitions_file(published_demo,
                                                                         monkeypatch, tmp_path):
    _, settings, _ = published_demo
    monkeypatch.setenv("SERVING_DUCKDB_PATH", str(settings.serving_path))
    data = yaml.safe_load(definitions_path().read_text())
    data["mql"]["threshold"] = 75
    stricter = tmp_path / "stricter.yml"
    stricter.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["backtest", "--definitions", str(stricter)])
    assert result.exit_code == 0, result.output
    assert "proposed:  score ≥ 75" in result.output

    data["engagement"]["half_life_days"] = 7
    rescored = tmp_path / "rescored.yml"
    rescored.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(main, ["backtest", "--definitions", str(rescored),
                                       "--threshold", "70"])
    assert result.exit_code != 0 and "changes engagement" in result.output


def test_funnel_backtest_without_a_proposal_says_what_to_give(published_demo, monkeypatch):
    _, settings, _ = published_demo
    monkeypatch.setenv("SERVING_DUCKDB_PATH", str(settings.serving_path))
    result = CliRunner().invoke(main, ["backtest"])
    assert result.exit_code != 0 and "--threshold" in result.output
