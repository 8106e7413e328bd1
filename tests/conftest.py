import os
import shutil
from pathlib import Path

import duckdb
import pytest

from orchestration import in_process
from orchestration.funnel_definitions import load_definitions
from orchestration.ingest.contract import EXTRACTS
from orchestration.ingest.loader import discover_files, load_extract
from orchestration.settings import Settings

PLACEHOLDERS = tuple(load_definitions().null_placeholders)
PERSISTENT_INSTANCE = in_process.dagster_instance  # the DAGSTER_HOME one (`funnel run`'s)


def pytest_configure(config):
    """Under pytest-xdist (`make test` runs two workers) each worker gets a dbt target folder
    of its own: two workers parsing into one manifest, or replacing each other's partial
    parse state, would break or slow each other's builds."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker and "DBT_TARGET_PATH" not in os.environ:
        # Outside dbt_project/: dagster-dbt copies the whole project folder for a build of
        # more than 200 nodes (an audit), target/ with its build folders included.
        from orchestration.paths import PROJECT_ROOT

        os.environ["DBT_TARGET_PATH"] = str(PROJECT_ROOT / ".dbt_target" / worker)


def pytest_collection_modifyitems(config, items):
    """`--dist loadfile --no-loadscope-reorder` (`make test`) hands whole files to the workers
    in collection order: the costliest files (their `slow(seconds=...)` mark) go first, so
    that no long file starts last and runs alone at the end (longest-first scheduling).
    Without that flag xdist sorts the files by their number of tests, which undoes this."""
    def cost(item):
        mark = item.get_closest_marker("slow")
        return mark.kwargs.get("seconds", 60) if mark else None

    for item in items:  # travels with each report to the xdist controller's summary
        item.user_properties.append(("slow_seconds", cost(item)))
    items.sort(key=lambda item: cost(item) or 0, reverse=True)  # stable: files keep their order


_BUSY: dict[tuple[str, str], float] = {}  # seconds by (test file, xdist worker)
_MARKS: dict[str, int | None] = {}  # each file's slow mark, as the ordering above read it


def pytest_runtest_logreport(report):
    """Each test's setup, call and teardown, added to its file and worker (under xdist the
    controller receives every worker's reports, `report.node` naming the worker)."""
    node = getattr(report, "node", None)
    worker = node.gateway.id if node is not None else "main"
    key = (report.nodeid.split("::")[0], worker)
    _BUSY[key] = _BUSY.get(key, 0.0) + report.duration
    _MARKS[key[0]] = dict(report.user_properties).get("slow_seconds")


def pytest_terminal_summary(terminalreporter, config):
    """The slowest test files, with their slow marks, and each worker's busy time."""
    if not _BUSY or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from tests.file_times import render

    terminalreporter.write_sep("=", "time per test file (setup, call and teardown)")
    for line in render(_BUSY, _MARKS):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session", autouse=True)
def isolated_dagster_home(tmp_path_factory):
    """Test runs (some fail on purpose) go to a throwaway Dagster instance, never into the
    run history of the developer's dagster_home/ that `make test` exports."""
    from orchestration.paths import PROJECT_ROOT

    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("DAGSTER_HOME", None)
    else:
        os.environ["DAGSTER_HOME"] = previous


def _in_memory_instance():
    from dagster import DagsterInstance

    return DagsterInstance.ephemeral()


@pytest.fixture(scope="session", autouse=True)
def in_memory_dagster_runs(isolated_dagster_home):
    """In-process pipeline runs keep their Dagster events in memory (an ephemeral instance, as
    Dagster's own `materialize()` in tests): the persistent instance stores each event in
    SQLite, about 600 per run, 5-6 s of a 600-lead daily run's 26 s. Runs in a subprocess (the
    CLI's) still use isolated_dagster_home, and so does a module that uses
    `persistent_dagster_runs` (the fault tests: the run after a killed one must free the dead
    run's place in the warehouse pool)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(in_process, "dagster_instance", _in_memory_instance)
        yield


@pytest.fixture(scope="module")
def persistent_dagster_runs(in_memory_dagster_runs):
    """The module's in-process runs use the persistent instance (isolated_dagster_home), as
    `funnel run` does."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(in_process, "dagster_instance", PERSISTENT_INSTANCE)
        yield


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    path = tmp_path / "landing"
    path.mkdir()
    return path


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def drop(landing: Path, extract: str, name: str, text: str, mtime: int | None = None) -> Path:
    """Write a landing file; mtime fixes its arrival order."""
    folder = landing / extract
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def load(con, landing: Path, extract: str, load_id: str = "test", tz: str = "UTC", **kw):
    return load_extract(
        con,
        EXTRACTS[extract],
        discover_files(landing, extract),
        landing_dir=landing,
        load_id=load_id,
        source_timezone=tz,
        null_placeholders=PLACEHOLDERS,
        **kw,
    )


def make_settings(root: Path, db_name: str = "funnel.duckdb", landing: Path | None = None,
                  **kw) -> Settings:
    """Settings for a test warehouse under `root` (landing defaults to root/landing)."""
    kw.setdefault("reports_dir", root / "reports")
    return Settings(duckdb_path=root / db_name, landing_dir=landing or root / "landing",
                    source_timezone="UTC", null_placeholders=PLACEHOLDERS, **kw)


def settings_at(root: Path, name: str = "funnel.duckdb", landing: Path | None = None) -> Settings:
    """Test settings with the serving file (and reports) under `root` too."""
    return make_settings(root, name, landing, serving_duckdb_path=root / "serving.duckdb")


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory):
    """One full `funnel run` on 2,000 demo leads: warehouse, serving file and the report of the
    last complete week. Shared by the quality and report tests; treat it as read-only."""
    from orchestration.demo.generator import DemoConfig, generate
    from orchestration.in_process import run_pipeline

    root = tmp_path_factory.mktemp("published_demo")
    settings = settings_at(root)
    generate(DemoConfig(leads=2000, seed=21), settings.landing_dir)
    summary = run_pipeline(settings, say=lambda _m: None)
    assert summary.success, (summary.failures, summary.report_note)
    return root, settings, summary


@pytest.fixture(scope="session")
def pg_url():
    """A throwaway PostgreSQL server for the worker's session (tests/postgres_server.py);
    skipped without PostgreSQL unless REQUIRE_POSTGRES is set (make test sets it)."""
    from tests.postgres_server import postgres_server

    try:
        with postgres_server() as url:
            yield url
    except FileNotFoundError as exc:
        if os.environ.get("REQUIRE_POSTGRES"):
            raise
        pytest.skip(str(exc))
