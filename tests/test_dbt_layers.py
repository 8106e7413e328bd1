"""The dbt project's house rules, checked on its manifest rather than stated in prose:
- the layers go one way: staging and definitions -> intermediate -> marts (no intermediate
  model reads a mart, no staging or definitions model reads a later layer);
- only models/definitions/ read the definitions var (`funnel`): every other model joins the
  def_* tables, so one file decides every number;
- no list is written both in Python and in the dbt project's Jinja (one of them would drift).
Each rule is shown to fail on a project that breaks it."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from orchestration.funnel_definitions import dbt_vars_arg
from orchestration.paths import DBT_PROJECT_DIR, PROJECT_ROOT
from orchestration.settings import Settings
from orchestration.transform.project import dbt_executable, dbt_project, ensure_manifest

LAYERS = {"staging": 0, "definitions": 0, "intermediate": 1, "marts": 2}
DEFINITIONS_VAR = "funnel"


def _layer(node: dict) -> str:
    return node["original_file_path"].split("/")[1]  # models/<layer>/...


def backward_dependencies(manifest: dict) -> list[str]:
    """`model <- model it reads` wherever a model reads a later layer than its own."""
    nodes = manifest["nodes"]
    found = []
    for node in nodes.values():
        if node["resource_type"] != "model":
            continue
        for parent in node["depends_on"]["nodes"]:
            upstream = nodes.get(parent)
            if (upstream and upstream["resource_type"] == "model"
                    and LAYERS[_layer(upstream)] > LAYERS[_layer(node)]):
                found.append(f"{node['name']} ({_layer(node)}) <- {upstream['name']} "
                             f"({_layer(upstream)})")
    return sorted(found)


def _reads_the_var(sql: str) -> bool:
    return re.search(r"""\bvar\(\s*['"]""" + DEFINITIONS_VAR + r"""['"]""", sql) is not None


def definitions_var_readers(manifest: dict) -> list[str]:
    """Models outside models/definitions/ that read the definitions var, directly or through
    any chain of macros."""
    macros = manifest["macros"]
    reading = {uid for uid, m in macros.items() if _reads_the_var(m["macro_sql"])}
    changed = True
    while changed:  # a macro that calls a reading macro reads it too
        changed = False
        for uid, macro in macros.items():
            if uid not in reading and set(macro["depends_on"]["macros"]) & reading:
                reading.add(uid)
                changed = True
    return sorted(node["name"] for node in manifest["nodes"].values()
                  if node["resource_type"] == "model" and _layer(node) != "definitions"
                  and (_reads_the_var(node["raw_code"])
                       or set(node["depends_on"]["macros"]) & reading))


def _name(value: str) -> str:
    """stg_crm__leads and crm_leads name one extract."""
    return value.removeprefix("stg_").replace("__", "_")


JINJA_LIST = re.compile(r"""\[\s*(['"][\w.]+['"](?:\s*,\s*['"][\w.]+['"])+)\s*,?\s*\]""")


def jinja_lists(project_dir: Path) -> dict[frozenset, str]:
    """Every list literal of two or more plain names in the project's SQL and YAML (Jinja
    lists, dbt_project.yml vars), by the set of names."""
    found = {}
    for path in sorted([*project_dir.glob("macros/**/*.sql"), *project_dir.glob("models/**/*.sql"),
                        project_dir / "dbt_project.yml"]):
        for match in JINJA_LIST.finditer(path.read_text()):
            names = frozenset(_name(v.strip(" '\"")) for v in match.group(1).split(","))
            found.setdefault(names, str(path.relative_to(project_dir)))
    return found


def python_lists(root: Path) -> dict[frozenset, str]:
    """Every list, tuple or set literal of two or more strings in the Python packages."""
    found = {}
    for path in sorted([*root.glob("orchestration/**/*.py"), *root.glob("expectations/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List | ast.Tuple | ast.Set) and len(node.elts) >= 2 and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                names = frozenset(_name(e.value) for e in node.elts)
                found.setdefault(names, f"{path.relative_to(root)}:{node.lineno}")
    return found


def lists_written_twice(project_dir: Path, root: Path) -> list[str]:
    python = python_lists(root)
    return sorted(f"{sorted(names)}: {where} and {python[names]}"
                  for names, where in jinja_lists(project_dir).items()
                  if len(names) >= 2 and names in python)


def _manifest() -> dict:
    return json.loads(ensure_manifest(dbt_project()).read_text())


def test_the_layers_go_one_way():
    assert backward_dependencies(_manifest()) == []


def test_only_the_definitions_layer_reads_the_definitions_var():
    assert definitions_var_readers(_manifest()) == []


def test_no_list_is_written_both_in_python_and_in_jinja():
    assert lists_written_twice(DBT_PROJECT_DIR, PROJECT_ROOT) == []


def test_each_rule_fails_on_a_project_that_breaks_it(tmp_path):
    """A copy of the project with an intermediate model that reads a mart and the definitions
    var, and a Jinja list that Python also writes: each check names it."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "intermediate" / "int_reads_backwards.sql").write_text(
        "select *, {{ funnel_definitions().mql.threshold }} as threshold\n"
        "from {{ ref('fct_spend_daily') }}\n")
    (project / "macros" / "conditions_again.sql").write_text(  # ChannelRule.CONDITIONS
        "{% macro conditions_again() %}{{ return(['lead_source', 'utm_source', 'utm_medium', "
        "'utm_campaign', 'acquisition_mode']) }}{% endmacro %}\n")
    settings = Settings(duckdb_path=tmp_path / "funnel.duckdb", landing_dir=tmp_path)
    done = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--project-dir", str(project),
         "--profiles-dir", str(project), "--target-path", str(tmp_path / "target"),
         "--vars", dbt_vars_arg()],
        cwd=project, capture_output=True, text=True, timeout=300,
        env={**os.environ, **settings.dbt_environment()})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())

    assert backward_dependencies(manifest) == [
        "int_reads_backwards (intermediate) <- fct_spend_daily (marts)"]
    assert definitions_var_readers(manifest) == ["int_reads_backwards"]
    twice = lists_written_twice(project, PROJECT_ROOT)
    assert len(twice) == 1 and "macros/conditions_again.sql" in twice[0], twice


def test_the_exposures_name_what_the_report_and_the_serving_file_read():
    """dbt's lineage shows who reads each mart: the report's exposure lists exactly the marts
    the report queries, the serving file's every mart."""
    manifest = _manifest()
    exposures = {e["name"]: {n.split(".")[-1] for n in e["depends_on"]["nodes"]}
                 for e in manifest["exposures"].values()}
    read = set(re.findall(r"marts\.(\w+)",
                          (PROJECT_ROOT / "orchestration" / "reporting" / "data.py").read_text()))
    assert exposures["weekly_funnel_report"] == read
    marts = {n["name"] for n in manifest["nodes"].values()
             if n["resource_type"] == "model" and n["schema"] == "marts"}
    assert exposures["serving_file"] == marts and len(marts) > 20


def test_the_dev_target_builds_into_a_file_of_its_own(tmp_path):
    """`funnel dbt ... --target dev` leaves the warehouse BI and the report read alone."""
    warehouse = tmp_path / "funnel.duckdb"
    env = {**os.environ, "DUCKDB_PATH": str(warehouse)}
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "dbt", "run", "--target", "dev",
         "--select", "def_settings"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    assert (tmp_path / "funnel_dev.duckdb").exists() and not warehouse.exists()
