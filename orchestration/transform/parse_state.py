"""dbt's parse state, kept across warehouses of the same project.

dbt re-parses the whole project (5-10 s here, each build) when the profile's connection
details differ from those its saved parse state was written under. For DuckDB those include
the file's folder and its memory settings, which change nothing dbt parses: the database name
each node carries is the file's stem, a detail of its own that stays in the comparison. So a
daily build on a copied warehouse, a `--target-path` elsewhere or a test's warehouse in a new
folder re-parsed for nothing. `funnel-dbt` compares the profiles without the file's location.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

# dbt-duckdb's connection details that say where the file is and how DuckDB runs on it, not
# what a model compiles to (dbt.adapters.duckdb.credentials._connection_keys).
LOCATION_ONLY = ("path", "config_options")


def compare_profiles_without_the_file_location() -> None:
    """Patch dbt, in this process, to leave LOCATION_ONLY out of the profile its parse state is
    checked against (ManifestLoader.build_manifest_state_check). dbt's partial parsing still
    re-parses on any other change: project files, vars, target, database name, extensions."""
    from dbt.parser.manifest import ManifestLoader

    check = getattr(ManifestLoader, "build_manifest_state_check", None)
    if check is None or getattr(check, "leaves_out", None) == LOCATION_ONLY:
        return  # patched already, or a dbt without it, which re-parses as it always did

    def build_manifest_state_check(loader):
        credentials = loader.root_project.credentials
        if credentials.type != "duckdb":
            return check(loader)
        keys = tuple(k for k in credentials._connection_keys() if k not in LOCATION_ONLY)
        object.__setattr__(credentials, "_connection_keys", lambda: keys)
        try:
            return check(loader)
        finally:
            object.__delattr__(credentials, "_connection_keys")

    build_manifest_state_check.leaves_out = LOCATION_ONLY
    ManifestLoader.build_manifest_state_check = build_manifest_state_check


def run_dbt(args: list[str]) -> NoReturn:
    """dbt's command line in this process (what dbt's own script does), comparing profiles
    as above; exits with dbt's exit code."""
    from dbt.cli.main import cli

    compare_profiles_without_the_file_location()
    sys.argv = [str(Path(sys.executable).parent / "dbt"), *args]
    sys.exit(cli())
