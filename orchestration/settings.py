"""Runtime configuration, read from environment variables with working defaults.

Dagster resources, the dbt profile and the CLI all read these same variables, so every
writer points at one DuckDB file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# Values a CRM export uses for "no value"; compared case-insensitively after trimming.
DEFAULT_NULL_PLACEHOLDERS = ("", "select", "n/a", "unknown", "-")


def _path_from_env(name: str, default: str) -> Path:
    raw = os.environ.get(name) or default
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    return path.resolve()


@dataclass(frozen=True)
class Settings:
    duckdb_path: Path
    landing_dir: Path
    source_timezone: str
    null_placeholders: tuple[str, ...]

    @classmethod
    def from_env(cls) -> Settings:
        placeholders = os.environ.get("NULL_PLACEHOLDERS")
        return cls(
            duckdb_path=_path_from_env("DUCKDB_PATH", "warehouse/funnel.duckdb"),
            landing_dir=_path_from_env("LANDING_DIR", "landing"),
            source_timezone=os.environ.get("SOURCE_TIMEZONE", "UTC"),
            null_placeholders=(
                tuple(p.strip().lower() for p in placeholders.split("|"))
                if placeholders is not None
                else DEFAULT_NULL_PLACEHOLDERS
            ),
        )


def export_for_dbt(settings: Settings) -> None:
    """dbt-duckdb resolves a relative path against profiles.yml: always hand it an absolute one."""
    os.environ["DUCKDB_PATH"] = str(settings.duckdb_path)
