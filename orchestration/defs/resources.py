"""Resources shared by every asset. All read the same environment variables as dbt."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from orchestration.settings import Settings

# DuckDB allows one writer per file: every asset that writes the warehouse runs in this pool,
# whose limit is 1 (dagster_home/dagster.yaml). In-process runs are sequential anyway.
WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file and the landing zone it is loaded from."""

    duckdb_path: str
    landing_dir: str
    source_timezone: str = "UTC"
    null_placeholders: list[str] = []
    future_tolerance_hours: float = 24
    memory_limit: str = ""  # "": the default of orchestration/settings.py
    temp_directory: str = ""
    serving_path: str = ""
    engine: str = "duckdb"
    lake_dir: str = ""
    spark_target: str = "spark"

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(
            duckdb_path=str(settings.duckdb_path),
            landing_dir=str(settings.landing_dir),
            source_timezone=settings.source_timezone,
            null_placeholders=list(settings.null_placeholders),
            future_tolerance_hours=settings.future_tolerance_hours,
            memory_limit=settings.duckdb_config["memory_limit"],
            temp_directory=settings.duckdb_config["temp_directory"],
            serving_path=str(settings.serving_path),
            engine=settings.engine,
            lake_dir=str(settings.lake_path),
            spark_target=settings.spark_target,
        )

    def settings(self) -> Settings:
        """The settings this resource was made of: their defaults apply to what it leaves empty."""
        return Settings(duckdb_path=Path(self.duckdb_path), landing_dir=Path(self.landing_dir),
                        source_timezone=self.source_timezone,
                        null_placeholders=tuple(self.null_placeholders),
                        future_tolerance_hours=self.future_tolerance_hours,
                        memory_limit=self.memory_limit,
                        temp_dir=Path(self.temp_directory) if self.temp_directory else None,
                        serving_duckdb_path=Path(self.serving_path) if self.serving_path else None,
                        engine=self.engine,
                        lake_dir=Path(self.lake_dir) if self.lake_dir else None,
                        spark_target=self.spark_target)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection that is always closed, so that dbt can open the file next."""
        Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        con = open_writer(Path(self.duckdb_path), self.settings().duckdb_config)
        try:
            yield con
        finally:
            con.close()


class WarehouseLocked(RuntimeError):
    """Another process holds the warehouse file; the message names it."""


def open_writer(path: Path, config: dict) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing. A dbt left running by a dead pipeline run is stopped
    (it would hold the lock forever); any other holder is named, with what to do."""
    import logging

    from orchestration.processes import check_no_other_run, lock_holder, stop

    check_no_other_run(path)
    try:
        return duckdb.connect(str(path), config=config)
    except duckdb.IOException as exc:
        holder = lock_holder(exc)
        if holder is None:
            raise
        if holder.is_pipeline_dbt and holder.is_orphan:
            logging.getLogger("funnel").warning(
                f"{holder.describe()}: a dbt of a pipeline run that is gone - stopping it")
            if stop(holder.pid):
                return _connect_once_released(path, config)
        raise WarehouseLocked(
            f"the warehouse {path} is locked: {holder.describe()}. Wait for it to finish or "
            "stop it; BI tools and people read the serving file (SERVING_DUCKDB_PATH), "
            "read-only, never the warehouse.") from None


def _connect_once_released(path: Path, config: dict, seconds: float = 10):
    """Connect after the holder was stopped: a process that has just ended may hold its file
    lock a moment longer while the kernel tears it down (DuckDB then names it "."), so a lock
    error is retried for a few seconds before it counts."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            return duckdb.connect(str(path), config=config)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class ServingResource(dg.ConfigurableResource):
    """The published, audited serving file (read-only) and where reports are written."""

    serving_path: str
    reports_dir: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ServingResource:
        return cls(serving_path=str(settings.serving_path), reports_dir=str(settings.reports_path))
