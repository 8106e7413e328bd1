"""The dbt project: its handle, manifest, target folders and the dbt executable."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.funnel_definitions import dbt_vars_arg
from orchestration.paths import DBT_PROJECT_DIR
from orchestration.settings import Settings

_PROJECT_INPUTS = ("models", "macros", "tests", "seeds", "definitions", "dbt_project.yml",
                   "profiles.yml")


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project handle, built once (and never at import time). DBT_TARGET_PATH, dbt's
    own variable (dagster-dbt reads it too for each build's folder), moves target/: parallel
    test workers each keep a manifest and parse state of their own."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR,
                      target_path=os.environ.get("DBT_TARGET_PATH", "target"))


def target_dir(project: DbtProject) -> Path:
    """The project's target folder: manifest, shared parse state, one folder per build."""
    return Path(project.project_dir) / project.target_path


def manifest_is_stale(project: DbtProject) -> bool:
    """True when manifest.json is missing or older than any file dbt would parse."""
    manifest = Path(project.manifest_path)
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    for name in _PROJECT_INPUTS:
        path = Path(project.project_dir) / name
        files = [path] if path.is_file() else path.rglob("*") if path.exists() else []
        if any(f.is_file() and f.stat().st_mtime > built for f in files):
            return True
    return False


def keep_parse_state(project: DbtProject, run_target: Path) -> None:
    """Hand a build's parse state (partial_parse.msgpack) to the next build. Each build runs in
    a target folder of its own, starting from the state in target/: the last build's, whatever
    its warehouse (orchestration/transform/parse_state.py)."""
    state = run_target / "partial_parse.msgpack"
    if not state.exists():
        return
    shared = target_dir(project) / state.name
    partial = shared.with_name(f"{state.name}.{os.getpid()}")
    shutil.copyfile(state, partial)
    os.replace(partial, shared)  # atomic: a build starting now copies the old or the new file


DBT_ASSETS_NAME = "dbt_models"  # the op: dagster-dbt names each build's target folder after it
# Build folders kept under target/ (logs, compiled SQL, run_results of each build): about
# 11 MB each, so a daily schedule would otherwise grow target/ by 4 GB a year.
BUILD_FOLDERS_KEPT = 30


def prune_build_folders(project: DbtProject, keep: int = BUILD_FOLDERS_KEPT) -> list[Path]:
    """Delete all but the `keep` newest per-build target folders (dagster-dbt names them
    `<op>-<run id>-<suffix>`); the shared parse state and manifest in target/ stay."""
    target = target_dir(project)
    folders = sorted((p for p in target.glob(f"{DBT_ASSETS_NAME}-*") if p.is_dir()),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for old in folders[keep:]:
        shutil.rmtree(old, ignore_errors=True)  # a folder another process removes is fine
    return folders[keep:]


def ensure_manifest(project: DbtProject | None = None, settings: Settings | None = None) -> Path:
    """Run `dbt parse` (partial parsing keeps it quick) only when the project changed. On the
    builds' target: dbt re-parses the whole project for a build on another one."""
    project = project or dbt_project()
    if manifest_is_stale(project):
        settings = settings or Settings.from_env()
        proc = subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir),
             "--profiles-dir", str(project.profiles_dir), "--target-path", str(project.target_path),
             "--target", settings.dbt_target, "--vars", dbt_vars_arg()],
            cwd=project.project_dir, capture_output=True, text=True,
            env={**os.environ, **settings.dbt_environment()},
        )
        if proc.returncode != 0 or not Path(project.manifest_path).exists():
            raise RuntimeError(f"dbt parse failed:\n{proc.stdout}\n{proc.stderr}")
    return Path(project.manifest_path)



def dbt_executable() -> str:
    """The dbt installed beside this Python, so a caller need not activate the venv: through
    `funnel-dbt`, which makes dbt die with the process that starts it (a killed run leaves no
    dbt holding the warehouse; orchestration/processes.py) and keeps its parse state across
    warehouse folders (orchestration/transform/parse_state.py)."""
    local = Path(sys.executable).parent
    if (local / "funnel-dbt").exists():
        return str(local / "funnel-dbt")
    return str(local / "dbt") if (local / "dbt").exists() else (shutil.which("dbt") or "dbt")
