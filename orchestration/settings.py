"""Runtime configuration, read from environment variables with working defaults.

Dagster resources, the dbt profile and the CLI all read these same variables, so every
writer points at one DuckDB file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from orchestration.funnel_definitions import load_definitions
from orchestration.paths import DBT_PROJECT_DIR


def _path_from_env(name: str, default: str) -> Path:
    raw = os.environ.get(name) or default
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    return path.resolve()


def default_memory_limit() -> str:
    """An eighth of physical memory (2.9 GB on a 24 GiB machine): DuckDB spills past it, so
    the whole run stays within about 4 GiB (measured by `funnel bench`) and leaves the
    machine to everything else. Set DUCKDB_MEMORY_LIMIT to trade memory for speed."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "2GB"
    return f"{max(1024, int(total / 8 / 2**20))}MB"


def memory_limit_or_default(configured: str) -> str:
    """DUCKDB_MEMORY_LIMIT as configured, or the default share when unset."""
    return configured or default_memory_limit()


def size_bytes(text: str) -> int | None:
    """A DuckDB size ('2938MB', '2.7 GiB', '1GB') in bytes; None when it is not one."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?i?B|bytes)\s*", str(text), re.IGNORECASE)
    if not match:
        return None
    unit = match.group(2).upper()
    power = "BKMGT".index(unit[0])
    return int(float(match.group(1)) * (1024 if "I" in unit else 1000) ** power)


DUCKDB_CHECKPOINT_DEFAULT = "16MB"  # DuckDB's own checkpoint_threshold


def checkpoint_threshold(memory_limit: str) -> str:
    """The write-ahead log size at which a build that is not a full refresh checkpoints: a
    twentieth of the memory limit, between DuckDB's default (16 MB) and 1 GB.
    DuckDB keeps in memory, until the next checkpoint, what the by-lead rebuilds changed, and
    cannot spill it. At 10 M leads a day's rebuilds with a 1 GB threshold filled the 2.8 GiB
    limit; at 1 M leads with a 300 MB limit, 75 MB (a quarter) ran out too and 16 MB did not
    (docs/benchmarks.md). DUCKDB_CHECKPOINT_THRESHOLD overrides it."""
    limit, floor = size_bytes(memory_limit), size_bytes(DUCKDB_CHECKPOINT_DEFAULT)
    if limit is None:
        return DUCKDB_CHECKPOINT_DEFAULT
    return f"{min(max(limit // 20, floor), 10**9) // 10**6}MB"


def connect_read_only(path: Path | str):
    """A reader of a warehouse or serving file (reports, summaries, the backtest), under the
    writers' memory limit: without one DuckDB takes up to 80 % of the machine, and a count of
    a large view reached 10 GiB at 10 M leads."""
    import duckdb  # not at import time: the Dagster code location loads this module

    limit = memory_limit_or_default(os.environ.get("DUCKDB_MEMORY_LIMIT", ""))
    return duckdb.connect(str(path), read_only=True, config={"memory_limit": limit})


def connect_snapshot(path: Path | str):
    """A reader of the serving file, which each publish replaces by a rename: the file is
    attached (read-only) into a fresh in-memory database, so the reader gets the file as it
    is now. `duckdb.connect(path)` would not when this process still holds any connection to
    the path: DuckDB reuses that database instance - the replaced file. Queries name tables
    as usual (`marts.dim_leads`)."""
    import duckdb

    limit = memory_limit_or_default(os.environ.get("DUCKDB_MEMORY_LIMIT", ""))
    con = duckdb.connect(config={"memory_limit": limit})
    try:
        con.execute("attach '" + str(path).replace("'", "''") + "' as serving (read_only)")
        con.execute("use serving")
    except BaseException:
        con.close()
        raise
    return con


ENGINES = ("duckdb", "spark")


@dataclass(frozen=True)
class Settings:
    duckdb_path: Path
    landing_dir: Path
    source_timezone: str = "UTC"
    null_placeholders: tuple[str, ...] = ("",)
    future_tolerance_hours: float = 24
    memory_limit: str = ""
    temp_dir: Path | None = None
    serving_duckdb_path: Path | None = None
    reports_dir: Path | None = None  # default: reports/ in the warehouse folder
    # First week the report schedule knows (older weeks cannot be backfilled).
    report_first_week: str = "2025-W01"
    # Where dbt builds the models: "duckdb" (in the warehouse file) or "spark" (Parquet tables
    # in lake_dir, copied back into the warehouse for the checks, the publish and the report).
    engine: str = "duckdb"
    lake_dir: Path | None = None  # default: lake/ in the warehouse folder
    spark_target: str = "spark"  # the profiles.yml target on Spark (`spark_cluster`: a cluster)

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise ValueError(f"FUNNEL_ENGINE={self.engine!r}: expected one of {', '.join(ENGINES)}")

    @property
    def lake_path(self) -> Path:
        """The Spark engine's lake: raw tables, built tables and their catalog (LAKE_DIR)."""
        return self.lake_dir or self.duckdb_path.parent / "lake"

    @property
    def dbt_target(self) -> str:
        """The profiles.yml target of the engine (its `prod` on DuckDB)."""
        return self.spark_target if self.engine == "spark" else "prod"

    @property
    def serving_path(self) -> Path:
        """The published, audited copy BI tools read (default: beside the warehouse)."""
        return self.serving_duckdb_path or self.duckdb_path.parent / "serving.duckdb"

    @property
    def reports_path(self) -> Path:
        """Where reports go (REPORTS_DIR; when unset, reports/ in the warehouse folder)."""
        return self.reports_dir or self.duckdb_path.parent / "reports"

    @property
    def duckdb_config(self) -> dict[str, str]:
        """Bounded memory: past the limit DuckDB spills to temp_dir instead of failing."""
        temp = self.temp_dir or self.duckdb_path.parent / "duckdb_tmp"
        return {"memory_limit": memory_limit_or_default(self.memory_limit),
                "temp_directory": str(temp)}

    def dbt_environment(self) -> dict[str, str]:
        """What dbt's profiles.yml reads (it has no defaults of its own): the warehouse, as an
        absolute path (dbt-duckdb resolves a relative one against profiles.yml), its memory
        limit and spill folder. dbt's log file keeps info lines unless DBT_LOG_LEVEL_FILE says
        otherwise: at debug (dbt's default) it also writes every statement, 8.6 MB a build and
        5 % of a demo build's time."""
        config = self.duckdb_config
        return {"DUCKDB_PATH": str(self.duckdb_path),
                "DBT_LOG_LEVEL_FILE": os.environ.get("DBT_LOG_LEVEL_FILE", "info"),
                "DUCKDB_MEMORY_LIMIT": config["memory_limit"],
                "DUCKDB_TEMP_DIR": config["temp_directory"],
                "DUCKDB_CHECKPOINT_THRESHOLD": os.environ.get("DUCKDB_CHECKPOINT_THRESHOLD")
                or checkpoint_threshold(config["memory_limit"]),
                "LAKE_DIR": str(self.lake_path),
                "FUNNEL_DBT_TARGET": self.dbt_target,
                "SPARK_LOG4J_CONFIG": str(DBT_PROJECT_DIR / "spark" / "log4j2.properties")}

    @classmethod
    def from_env(cls) -> Settings:
        # What means "no value", and how far in the future a row may be dated, are business
        # definitions: they live in the definitions file.
        definitions = load_definitions()
        placeholders = definitions.null_placeholders
        return cls(
            duckdb_path=_path_from_env("DUCKDB_PATH", "warehouse/funnel.duckdb"),
            landing_dir=_path_from_env("LANDING_DIR", "landing"),
            source_timezone=os.environ.get("SOURCE_TIMEZONE", "UTC"),
            null_placeholders=tuple(p.strip().lower() for p in placeholders),
            future_tolerance_hours=definitions.ingest.future_tolerance_hours,
            memory_limit=os.environ.get("DUCKDB_MEMORY_LIMIT", ""),
            temp_dir=_path_from_env("DUCKDB_TEMP_DIR", "") if os.environ.get("DUCKDB_TEMP_DIR") else None,
            serving_duckdb_path=(_path_from_env("SERVING_DUCKDB_PATH", "")
                                 if os.environ.get("SERVING_DUCKDB_PATH") else None),
            reports_dir=_path_from_env("REPORTS_DIR", "reports"),
            report_first_week=os.environ.get("REPORT_FIRST_WEEK", "2025-W01"),
            engine=(os.environ.get("FUNNEL_ENGINE") or "duckdb").strip().lower(),
            lake_dir=_path_from_env("LAKE_DIR", "") if os.environ.get("LAKE_DIR") else None,
            spark_target=os.environ.get("SPARK_DBT_TARGET") or "spark",
        )


def export_for_dbt(settings: Settings) -> None:
    """For a command that hands over to dbt (`funnel dbt`, `funnel ui`): its environment."""
    os.environ.update(settings.dbt_environment())


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` for the block and as it was after: dagster-dbt starts dbt with
    this process's environment, and loading the code location must change nothing."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
