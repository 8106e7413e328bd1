"""The Dagster webserver starts on the code location and its GraphQL API lists every asset,
every check, the jobs, schedules and sensor: what `make ui` shows."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from orchestration.paths import PROJECT_ROOT
from tests.conftest import make_settings

QUERY = """{
  assetNodes { assetKey { path } groupName
    assetChecksOrError { ... on AssetChecks { checks { name } } } }
  repositoriesOrError { ... on RepositoryConnection { nodes {
    jobs { name } schedules { name cronSchedule executionTimezone } sensors { name } } } }
  workspaceOrError { ... on Workspace { locationEntries { name } } }
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                     data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def test_the_webserver_lists_every_asset_and_check(tmp_path):
    from orchestration.code_location import build_definitions

    settings = make_settings(tmp_path)
    defs = build_definitions(settings)
    graph = defs.resolve_asset_graph()
    expected_assets = {tuple(k.path) for k in graph.get_all_asset_keys()}
    expected_checks = {(tuple(k.asset_key.path), k.name) for k in graph.asset_check_keys}

    port = free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, "DAGSTER_HOME": str(home), "DUCKDB_PATH": str(settings.duckdb_path),
           "LANDING_DIR": str(settings.landing_dir)}
    webserver = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen(
        [str(webserver), "-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", "127.0.0.1",
         "-p", str(port)], cwd=PROJECT_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, "dagster-webserver exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "dagster-webserver did not start in 180 s"
                time.sleep(1)
        data = graphql(port, QUERY)
    finally:
        process.terminate()
        process.wait(timeout=60)
    assert process.returncode is not None

    nodes = data["assetNodes"]
    assert {tuple(n["assetKey"]["path"]) for n in nodes} == expected_assets
    served_checks = {(tuple(n["assetKey"]["path"]), c["name"])
                     for n in nodes for c in n["assetChecksOrError"].get("checks", [])}
    assert served_checks == expected_checks and len(served_checks) > 100
    assert {n["groupName"] for n in nodes} >= {"ingest", "transform", "quality", "reporting"}

    [repo] = data["repositoriesOrError"]["nodes"]
    assert {"elt", "ingest", "audit_publish", "weekly_report"} <= {j["name"] for j in repo["jobs"]}
    schedules = {s["name"]: s for s in repo["schedules"]}
    assert schedules["weekly_report_monday"]["cronSchedule"] == "0 7 * * 1"
    assert schedules["daily_elt"]["cronSchedule"] == "0 6 * * *"
    assert {s["name"] for s in repo["sensors"]} == {"new_landing_files"}
    # the UI names the code location after the product, not after a Python module
    assert [e["name"] for e in data["workspaceOrError"]["locationEntries"]] == ["lead_funnel"]
