"""The transform step: everything about running dbt, apart from Dagster.

- project.py: the dbt project handle, its manifest and target folders, the dbt executable;
- commands.py: the arguments of each dbt command, the out-of-memory retry, run results;
- build_state.py: the ledger of builds in the warehouse (what each model last read, with
  which definitions and code) that decides between nothing, a daily and a full build.

orchestration/defs/transform.py wires them into a Dagster asset; the CLI and the bench use
them directly.
"""
