import os
from pathlib import Path

import duckdb
import pytest

from orchestration.funnel_definitions import load_definitions
from orchestration.ingest.contract import EXTRACTS
from orchestration.ingest.loader import discover_files, load_extract
from orchestration.settings import Settings

PLACEHOLDERS = tuple(load_definitions().null_placeholders)


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


def load(con, landing: Path, extract: str, load_id: str = "test", tz: str = "UTC"):
    return load_extract(
        con,
        EXTRACTS[extract],
        discover_files(landing, extract),
        landing_dir=landing,
        load_id=load_id,
        source_timezone=tz,
        null_placeholders=PLACEHOLDERS,
    )


def make_settings(root: Path, db_name: str = "funnel.duckdb", landing: Path | None = None,
                  **kw) -> Settings:
    """Settings for a test warehouse under `root` (landing defaults to root/landing)."""
    return Settings(duckdb_path=root / db_name, landing_dir=landing or root / "landing",
                    source_timezone="UTC", null_placeholders=PLACEHOLDERS, **kw)
