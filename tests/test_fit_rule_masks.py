"""The fit rules a lead matched are OR-ed into bigint masks and spelled out again
(dbt_project/macros/fit_rules.sql): with more rules than one mask holds, every lead's label
must still list exactly its rules, in rule-id order."""
import os
import random
import subprocess
import sys

import duckdb
import yaml

from orchestration.funnel_definitions import definitions_path

RULES = 130  # three masks of 62 bits


def test_the_masks_spell_out_exactly_the_rules_each_lead_matched(tmp_path):
    definitions = yaml.safe_load(definitions_path().read_text())
    ids = [f"rule_{(i * 37) % RULES:03d}" for i in range(RULES)]  # not in id order
    definitions["fit_rules"] = [
        {"id": i, "attribute": "industry", "match": "equals", "value": i, "points": 1}
        for i in ids]
    variant = tmp_path / "funnel.yml"
    variant.write_text(yaml.safe_dump(definitions))

    rng = random.Random(7)
    matched = {f"lead_{n}": set(rng.sample(ids, rng.choice([1, 2, 5, 61, 62, 63, 130])))
               for n in range(40)}
    matched["lead_last_bits"] = {"rule_061", "rule_062", "rule_123", "rule_124", "rule_129"}
    values = ", ".join(f"('{lead}', '{rule}')" for lead, rules in matched.items() for rule in rules)
    code = ("-- depends_on: {{ ref('def_fit_rules') }}\n"
            "select lead_id, {{ matched_fit_rules_label('m') }} as label from ("
            "select lead_id {{ fit_rule_mask_aggregates('rule_id') }} "
            f"from (values {values}) as matches(lead_id, rule_id) group by lead_id) as m")
    env = {**os.environ, "DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
           "FUNNEL_DEFINITIONS": str(variant)}
    rules = subprocess.run(  # the macros read the rule ids from the definitions layer's table
        [sys.executable, "-m", "orchestration.cli", "dbt", "run", "--quiet", "--select",
         "def_fit_rules"], env=env, capture_output=True, text=True, timeout=300)
    assert rules.returncode == 0, rules.stdout[-2000:] + rules.stderr[-2000:]
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "dbt", "compile", "--quiet", "--inline", code],
        env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    sql = done.stdout.strip()
    assert "fit_rule_mask_2" in sql and "fit_rule_mask_3" not in sql

    labels = dict(duckdb.connect().execute(sql).fetchall())
    assert labels == {lead: ", ".join(sorted(rules)) for lead, rules in matched.items()}
