"""What the transform step decides to do on a warehouse, decided on its build-state ledger
alone (no dbt run): an audit, nothing, a full refresh and why, or a daily build."""

from datetime import datetime, timedelta

import duckdb
import pytest

from orchestration.paths import DBT_PROJECT_DIR
from orchestration.transform import build_state
from orchestration.transform.plan import NoLeads, plan_build

VARS = '{"funnel":{}}'
MODELS = ["fct_sla", "int_activities_scored"]
LOADED = datetime(2026, 11, 22, 6, 0)


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema raw")
    con.execute("create table raw.crm_leads (lead_id varchar, _loaded_at timestamp)")
    con.execute("insert into raw.crm_leads values ('L1', ?)", [LOADED])
    yield con
    con.close()


def plan(con, **kwargs):
    arguments = {"project_dir": DBT_PROJECT_DIR, "vars_json": VARS, "models": MODELS,
                 "published": None, "landing_dir": "landing", **kwargs}
    return plan_build(con, **arguments)


def built(con, models, *, fingerprint=None, at=LOADED + timedelta(minutes=5)):
    """Record a successful build of `models` (with the whole project when built with this
    code) reading LOADED."""
    current = build_state.build_fingerprint(DBT_PROJECT_DIR, VARS)
    fingerprint = fingerprint or current
    whole = [build_state.WHOLE_PROJECT] if fingerprint == current else []
    build_state.record_builds(con, [*models, *whole], fingerprint, LOADED, False)
    con.execute("update audit.dbt_builds set built_at = ?", [at])
    con.execute("create table if not exists audit.dbt_invocations (started_at timestamp)")
    con.execute("insert into audit.dbt_invocations values (?)", [at - timedelta(minutes=1)])
    return at


def test_a_first_build_is_a_full_refresh_naming_the_models_never_built(con):
    first = plan(con)
    assert first.full_refresh and "--full-refresh" in first.dbt_args
    assert first.dbt_args[0] == "build" and "fct_sla, int_activities_scored" in first.reason
    assert first.loaded_to == LOADED == first.newest_load


def test_new_rows_since_the_last_build_make_a_daily_build(con):
    at = built(con, MODELS)
    con.execute("insert into raw.crm_leads values ('L2', ?)", [at + timedelta(hours=1)])
    daily = plan(con, published=at)
    assert not daily.full_refresh and "--full-refresh" not in daily.dbt_args
    assert daily.reason.startswith("incremental build of fct_sla, int_activities_scored")


def test_nothing_new_and_published_runs_no_dbt(con):
    at = built(con, MODELS)
    assert plan(con, published=at).dbt_args is None
    assert plan(con, published=at).reason.startswith("nothing new")
    # ... unless the published file is not that build, or a full refresh is asked for
    assert plan(con, published=None).dbt_args is not None
    asked = plan(con, published=at, full_refresh=True)
    assert asked.full_refresh and asked.reason.endswith("asked for")


def test_other_definitions_or_code_rebuild_the_models_built_with_them(con):
    at = built(con, ["int_activities_scored"], fingerprint="another")
    built(con, ["fct_sla"], at=at)
    con.execute("insert into raw.crm_leads values ('L2', ?)", [at + timedelta(hours=1)])
    stale = plan(con, published=at)
    assert stale.full_refresh
    assert "int_activities_scored last built with other definitions" in stale.reason
    assert "fct_sla" not in stale.reason


def test_an_audit_builds_nothing_and_a_warehouse_without_leads_says_what_to_do(con):
    audit = plan(con, audit_checks=12)
    assert audit.dbt_args[0] == "test" and not audit.full_refresh
    assert audit.reason.startswith("audit: 12 dbt data tests")
    con.execute("delete from raw.crm_leads")
    assert plan(con, audit_checks=12).dbt_args[0] == "test"  # an audit needs no lead
    with pytest.raises(NoLeads, match="landing/crm_leads/"):
        plan(con)


def _node(kind: str, name: str, *parents: str) -> tuple[str, dict]:
    return f"{kind}.p.{name}", {"resource_type": kind, "name": name,
                                "depends_on": {"nodes": list(parents)}}


# def_settings reads nothing; stg_leads and stg_spend read raw tables; fct_leads reads both
MANIFEST = {
    "sources": {f"source.p.raw.{t}": {"name": t} for t in ("crm_leads", "ad_spend", "load_log")},
    "nodes": dict([
        _node("model", "def_settings"),
        _node("model", "stg_leads", "source.p.raw.crm_leads"),
        _node("model", "stg_spend", "source.p.raw.ad_spend"),
        _node("model", "fct_leads", "model.p.stg_leads", "model.p.def_settings"),
        _node("model", "fct_spend", "model.p.stg_spend", "model.p.def_settings"),
        _node("model", "fct_log", "source.p.raw.load_log"),
        _node("model", "fct_snapshot", "snapshot.p.outside"),  # a parent dbt does not build here
        _node("test", "pk_def_settings", "model.p.def_settings"),
        _node("test", "pk_fct_leads", "model.p.fct_leads"),
        _node("test", "fct_leads_version_in_force", "model.p.fct_leads", "model.p.def_settings"),
        _node("test", "fct_spend_version_in_force", "model.p.fct_spend", "model.p.def_settings"),
        _node("operation", "on-run-start"),
    ]),
}


def test_a_node_is_left_only_when_nothing_it_reads_changed():
    from orchestration.transform.plan import unchanged_nodes

    # nothing loaded: only what reads no table at all (the definitions) is left
    assert unchanged_nodes(MANIFEST, set()) == ["def_settings", "pk_def_settings"]
    # spend unchanged: its models and their tests too; a test reading a rebuilt model runs
    assert unchanged_nodes(MANIFEST, {"ad_spend"}) == [
        "def_settings", "fct_spend", "fct_spend_version_in_force", "pk_def_settings",
        "stg_spend"]
    # a model reading a table that is not an extract (load_log) or a parent dbt does not
    # build is rebuilt every time
    everything = unchanged_nodes(MANIFEST, {"crm_leads", "ad_spend"})
    assert "fct_log" not in everything and "fct_snapshot" not in everything
    assert "on-run-start" not in everything


def test_a_daily_build_of_the_whole_project_leaves_what_the_new_rows_do_not_reach(con):
    at = built(con, MODELS)
    con.execute("create table raw.ad_spend (campaign_id varchar, _loaded_at timestamp)")
    con.execute("insert into raw.ad_spend values ('C1', ?)", [LOADED - timedelta(days=1)])
    con.execute("insert into raw.crm_leads values ('L2', ?)", [at + timedelta(hours=1)])
    daily = plan(con, published=at, manifest=MANIFEST)
    assert daily.unchanged == ("def_settings", "fct_spend", "fct_spend_version_in_force",
                               "pk_def_settings", "stg_spend")
    left = daily.dbt_args[daily.dbt_args.index("--exclude") + 1].split()
    assert left == list(daily.unchanged)
    assert daily.dbt_args[-2:] == ["--indirect-selection", "empty"]
    assert "3 models and 2 tests left as the build of" in daily.reason
    assert daily.reason.endswith("(no new rows in ad_spend)")
    # spend loaded after that build: rebuilt with the leads
    con.execute("insert into raw.ad_spend values ('C2', ?)", [at + timedelta(hours=1)])
    every = plan(con, published=at, manifest=MANIFEST)
    assert every.unchanged == ("def_settings", "pk_def_settings")
    assert every.reason.endswith("(they read no extract)")
    # a subset of the project, or a dbt command since the last whole build: nothing is left
    assert plan(con, published=at).unchanged == ()
    con.execute("insert into audit.dbt_invocations values (?)", [at + timedelta(minutes=1)])
    later = plan(con, published=at, manifest=MANIFEST)
    assert later.unchanged == () and "--exclude" not in later.dbt_args
    # nor on a full refresh
    assert plan(con, published=at, manifest=MANIFEST, full_refresh=True).unchanged == ()
