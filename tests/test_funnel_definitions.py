"""The definitions file: one schema, errors that name the key, and what dbt receives."""

import json

import pytest
import yaml

from orchestration.funnel_definitions import (
    DEFAULT_DEFINITIONS_PATH,
    DefinitionsError,
    dbt_vars,
    definitions_version,
    load_definitions,
    parse_yaml,
)


def write_variant(tmp_path, change):
    data = yaml.safe_load(DEFAULT_DEFINITIONS_PATH.read_text())
    change(data)
    path = tmp_path / "funnel.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_committed_file_is_valid():
    d = load_definitions()
    assert d.mql.threshold == 60 and d.mql.min_fit == 40
    assert d.engagement.half_life_days == 30
    assert {s.name for s in d.segments} == {"smb", "mid_market", "enterprise"}
    # a segment's own windows, the others keep the defaults
    assert d.maturity_days.for_segment("enterprise")["opportunity_to_won"] == 180
    assert d.maturity_days.for_segment("smb") == d.maturity_days.for_segment("unknown") == {
        "mql_to_sql": 30, "sql_to_opportunity": 30, "opportunity_to_won": 90,
        "mql_to_customer": 180}
    assert d.recycle.rejection_reasons["bad timing"] == "nurture"


@pytest.mark.parametrize(("change", "named"), [
    (lambda d: d["mql"].update(treshold=70), "mql.treshold: unknown key"),
    (lambda d: d.update(colour="blue"), "colour: unknown key"),
    (lambda d: d["mql"].update(threshold=120), "mql.threshold"),
    (lambda d: d["mql"].update(threshold="high"), "mql.threshold"),
    (lambda d: d["engagement"].update(half_life_days=-5), "engagement.half_life_days"),
    (lambda d: d["sql"].update(min_bant_criteria=5), "sql.min_bant_criteria"),
    (lambda d: d["mql"].update(fit_weight=0.7), "fit_weight + engagement_weight must be 1"),
    (lambda d: d["reporting"].update(timezone="Mars/Olympus"), "reporting.timezone"),
    (lambda d: d["fit_rules"][0].update(values_from="icp.sectors"), "fit_rules[0]"),
    (lambda d: d["channels"]["rules"][0].update(group="tv"), "channels"),
    (lambda d: d["sla"].update(target_hours=72), "target_hours must not exceed limit_hours"),
    (lambda d: d["recycle"]["rejection_reasons"].update({"Bad Timing ": "disqualify"}),
     "recycle.rejection_reasons: Value error, rejection reason"),
    (lambda d: d["recycle"]["rejection_reasons"].update({"too small": "park"}),
     "recycle.rejection_reasons.too small"),
    (lambda d: d["maturity_days"]["by_segment"].update(large={"mql_to_sql": 60}),
     "maturity_days.by_segment: unknown segment large"),
    (lambda d: d["accounts"].update(key="account_number"),
     "accounts.key: 'account_number' cannot key accounts"),
])
def test_a_malformed_file_fails_naming_the_key(tmp_path, change, named):
    path = write_variant(tmp_path, change)
    with pytest.raises(DefinitionsError) as err:
        load_definitions(path)
    assert named in str(err.value)
    assert str(path) in str(err.value)


def test_invalid_yaml_is_reported_with_the_file(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text("mql: [unclosed\n")
    with pytest.raises(DefinitionsError, match="not valid YAML") as err:
        load_definitions(path)
    # the message of PyYAML's own parser, which points at the place (libyaml's does not)
    assert "mql: [unclosed" in str(err.value) and "^" in str(err.value)


def test_the_definitions_are_parsed_by_libyaml_and_read_as_safe_load_reads_them():
    """A run reads the file at each check: libyaml's parser, when PyYAML has it, gives the same
    data as PyYAML's Python parser (the one `yaml.safe_load` uses), ten times faster."""
    text = DEFAULT_DEFINITIONS_PATH.read_text()
    assert parse_yaml(text) == yaml.safe_load(text)
    variant = "a: 1\nb: [x, 'y z', 2024-01-05]\nc: {d: null, e: 1.5}\nf: yes\n"
    assert parse_yaml(variant) == yaml.safe_load(variant)
    with pytest.raises(yaml.constructor.ConstructorError):
        parse_yaml("a: !!python/object/apply:os.getcwd []")  # still a safe loader
    if yaml.__with_libyaml__:
        from orchestration import funnel_definitions

        assert funnel_definitions._FAST_YAML_LOADER is yaml.CSafeLoader


def test_fit_rules_reuse_the_icp_lists_and_version_follows_content(tmp_path):
    vars_ = dbt_vars()
    rules = {r["id"]: r for r in vars_["funnel"]["fit_rules"]}
    icp = load_definitions().icp
    assert rules["target_industry"]["values"] == icp.industries
    assert (rules["target_company_size"]["min"], rules["target_company_size"]["max"]) == (
        icp.employee_range.min, icp.employee_range.max)
    assert vars_["definitions_version"] == definitions_version()
    changed = write_variant(tmp_path, lambda d: d["mql"].update(threshold=70))
    assert definitions_version(changed) != definitions_version()
    assert json.loads(json.dumps(dbt_vars(changed)))["funnel"]["mql"]["threshold"] == 70


def test_empty_channel_rules_are_refused_with_the_reason(tmp_path):
    from orchestration.funnel_definitions import definitions_path

    definitions = yaml.safe_load(definitions_path().read_text())
    definitions["channels"]["rules"] = []
    path = tmp_path / "no_rules.yml"
    path.write_text(yaml.safe_dump(definitions))
    with pytest.raises(DefinitionsError, match="rules is empty: every lead would go to the "
                                               "default group 'other'"):
        load_definitions(path)
