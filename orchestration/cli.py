"""`funnel`: the command line for people and scripts. Thin: it calls the same functions
the Dagster assets call."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from orchestration.paths import PROJECT_ROOT
from orchestration.processes import RunInProgress, exclusive_run
from orchestration.settings import Settings


def _echo_step(start: float):
    return lambda msg: click.echo(f"[{time.perf_counter() - start:7.1f}s] {msg}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Lead Funnel Warehouse: CRM and ad-spend extracts -> DuckDB -> scores, stages and
    funnel KPIs, orchestrated by Dagster.

    Configuration comes from environment variables: DUCKDB_PATH (warehouse file, default
    warehouse/funnel.duckdb), LANDING_DIR (extract folders, default landing/),
    SOURCE_TIMEZONE (zone of timestamps without an offset, default UTC),
    SERVING_DUCKDB_PATH (published copy, default beside the warehouse), REPORTS_DIR
    (default reports/), DUCKDB_MEMORY_LIMIT, FUNNEL_DEFINITIONS, SERVING_POSTGRES_URL
    (also publish to PostgreSQL) and SERVING_POSTGRES_SCHEMA_PREFIX.
    """


@main.command()
@click.option("--leads", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Number of leads to generate.")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Random seed: the same seed gives the same bytes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Landing folder to write to. [default: $LANDING_DIR or landing/]")
@click.option("--format", "file_format", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True, help="File format of the extracts.")
@click.option("--end-date", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day of the history (default 2026-11-22, a fixed date).")
@click.option("--dirty-rate", type=click.FloatRange(0, 0.5), default=0.005, show_default=True,
              help="Share of extra dirty rows (duplicates, blanks, bad dates, negative spend).")
@click.option("--activities-per-lead", type=click.FloatRange(min=0.1), default=30.0,
              show_default=True, help="Average prospect activities per engaged lead.")
@click.option("--shard-leads", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Leads simulated at once (about 6 GiB of memory per million); more are "
                   "simulated and written shard by shard.")
@click.option("--signal", type=click.Choice(["icp", "lead_origin"]), default="icp",
              show_default=True,
              help="What makes leads convert: fit and engagement (icp), or only lead_origin, a "
                   "column of the export's own that no rule in force uses - to try "
                   "`funnel suggest` on a signal the definitions miss.")
def demo(leads, seed, out, file_format, end_date, dirty_rate, activities_per_lead,
         shard_leads, signal) -> None:
    """Generate deterministic demo extracts for every landing folder."""
    from orchestration.demo.generator import (
        DEFAULT_END_DATE,
        DemoConfig,
        generate,
        generation_steps,
    )

    start = time.perf_counter()
    out = out or Settings.from_env().landing_dir
    cfg = DemoConfig(
        leads=leads, seed=seed, file_format=file_format, dirty_rate=dirty_rate,
        end_date=end_date.date() if end_date else DEFAULT_END_DATE,
        activities_per_lead=activities_per_lead, shard_leads=shard_leads, signal=signal,
    )
    with click.progressbar(length=generation_steps(cfg), label=f"Generating {leads:,} leads",
                           file=sys.stderr, show_pos=True,
                           item_show_func=lambda m: m) as bar:
        result = generate(cfg, out, progress=lambda message: bar.update(1, message))
    for extract, rows in result.rows.items():
        click.echo(f"{extract:20} {rows:>12,} rows")
    click.echo(f"Wrote {result.files} files, {result.bytes / 1e6:,.1f} MB to {result.out_dir} "
               f"in {time.perf_counter() - start:.1f} s.")


@main.command()
@click.option("--landing", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Landing folder. [default: $LANDING_DIR or landing/]")
@click.option("--warehouse", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="DuckDB warehouse file. [default: $DUCKDB_PATH or warehouse/funnel.duckdb]")
@click.option("--demo-leads", type=click.IntRange(min=0), default=20_000, show_default=True,
              help="When the landing folder is empty, first generate this many demo leads "
                   "(0: never).")
@click.option("--full-refresh", is_flag=True,
              help="Rebuild the incremental models from all history (done by itself when the "
                   "definitions or the dbt project changed).")
def run(landing, warehouse, demo_leads, full_refresh) -> None:
    """Run the whole pipeline in-process (ingest -> dbt -> checks -> publish -> the report of
    the last complete week) and print a summary. Daily runs are incremental: only leads with
    new rows are rescored."""
    from orchestration.in_process import run_pipeline

    if landing:
        os.environ["LANDING_DIR"] = str(landing.resolve())
    if warehouse:
        os.environ["DUCKDB_PATH"] = str(warehouse.resolve())
    settings = Settings.from_env()
    try:
        summary = run_pipeline(settings, demo_leads_if_empty=demo_leads or None,
                               full_refresh=full_refresh, say=_echo_step(time.perf_counter()))
    except (OSError, RunInProgress) as exc:  # no data, another run, a folder not writable
        raise click.ClickException(str(exc)) from exc
    click.echo(summary.render())
    if not summary.success:
        sys.exit(1)


@main.command()
@click.option("--warehouse", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="DuckDB warehouse file. [default: $DUCKDB_PATH or warehouse/funnel.duckdb]")
def check(warehouse) -> None:
    """Run every check of a full run - the guards, dbt's data tests and reconciliations - on
    the warehouse as it is (nothing is loaded or built); publish the serving file if the
    blocking ones pass. Exits non-zero when a blocking check fails."""
    from orchestration.in_process import run_job

    if warehouse:
        os.environ["DUCKDB_PATH"] = str(warehouse.resolve())
    settings = Settings.from_env()
    if not settings.duckdb_path.exists():
        raise click.ClickException(
            f"No warehouse at {settings.duckdb_path}: run `funnel run` (or `make run`) first.")
    try:
        summary = run_job(settings, "audit_publish", say=_echo_step(time.perf_counter()))
    except (OSError, RunInProgress) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(summary.render())
    if not summary.success:
        sys.exit(1)


@main.command()
@click.option("--week", default=None, metavar="YYYY-Www",
              help="ISO week to report on, e.g. 2026-W47. [default: the last complete week of "
                   "the published data]")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder the report goes under (as weekly/funnel_<week>.html|.md|.csv). "
                   "[default: $REPORTS_DIR or reports/]")
def report(week, out) -> None:
    """Build the weekly funnel report of one ISO week from the published serving file:
    self-contained HTML with charts, a Markdown summary and the KPI table as CSV."""
    from orchestration.in_process import default_report_week, run_report
    from orchestration.reporting.data import ReportError
    from orchestration.reporting.weeks import WeekError, week_start

    if out:
        os.environ["REPORTS_DIR"] = str(out.resolve())
    settings = Settings.from_env()
    say = _echo_step(time.perf_counter())
    try:
        monday = week_start(week) if week else default_report_week(settings)
        say(f"Building the report of {week or 'the last complete week'} "
            f"from {settings.serving_path}.")
        html = run_report(settings, monday, say=say)
    except (ReportError, WeekError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(html)


@main.command()
@click.option("--threshold", type=click.FloatRange(0, 100), default=None,
              help="MQL threshold to try on the lead score (0-100).")
@click.option("--min-fit", type=click.FloatRange(0, 100), default=None,
              help="Minimum fit score to try.")
@click.option("--fit-weight", type=click.FloatRange(0, 1), default=None,
              help="Weight of fit in the lead score to try (engagement gets the rest unless "
                   "--engagement-weight is given).")
@click.option("--engagement-weight", type=click.FloatRange(0, 1), default=None,
              help="Weight of engagement in the lead score to try.")
@click.option("--definitions", "definitions_file", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None,
              help="Compare another definitions file (a `funnel suggest` proposal, say). A file "
                   "that changes only the `mql` section is replayed in seconds; one that changes "
                   "the scores (fit rules, engagement, attributes) is built by dbt into a "
                   "scratch warehouse from the same raw data, then compared.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the scratch warehouse of a rebuilt proposal here (default: a temporary "
                   "folder, removed afterwards).")
def backtest(threshold, min_fit, fit_weight, engagement_weight, definitions_file,
             workdir) -> None:
    """Compare another MQL rule or definitions file with the one in force, on the same history.

    An MQL rule (--threshold, --min-fit, weights, or a file changing only `mql`) is replayed
    on the published history: MQLs per week, precision, recall and the weekly handover per
    rep. A definitions file that changes the scores is built into a scratch warehouse and
    compared by AUC, lift per decile, MQLs, precision and recall at its threshold, and rule by
    rule. The warehouse in force is never changed.

    Examples: funnel backtest --threshold 70 --min-fit 40;
    funnel backtest --definitions dbt_project/definitions/proposals/funnel.proposed-1a2b3c4d.yml
    """
    from dataclasses import replace

    from orchestration.calibration.backtest import (
        BacktestError,
        MqlRule,
        compare,
        open_serving_for_backtest,
        rescoring_changes,
    )
    from orchestration.calibration.rescoring import (
        RescoringError,
        build_and_compare,
        other_changes,
        rule_changes,
    )
    from orchestration.funnel_definitions import (
        DefinitionsError,
        definitions_path,
        load_definitions,
    )

    settings = Settings.from_env()
    overrides = {k: v for k, v in {"threshold": threshold, "min_fit": min_fit,
                                   "fit_weight": fit_weight,
                                   "engagement_weight": engagement_weight}.items()
                 if v is not None}
    try:
        other = load_definitions(definitions_file) if definitions_file else None
        if other is not None and (changed := rescoring_changes(load_definitions(), other)):
            if overrides:
                raise BacktestError(f"{definitions_file} changes {', '.join(changed)}: set its "
                                    "MQL rule in the file (its `mql` section), not by options.")
            say = _echo_step(time.perf_counter())
            say(f"{definitions_file} changes {', '.join(changed)}: building its scores.")
            result = build_and_compare(settings, definitions_path(), definitions_file, say,
                                       workdir)
            in_force_defs = load_definitions()
            current = {r["id"]: r for r in in_force_defs.resolved_fit_rules()}
            proposed = {r["id"]: r for r in other.resolved_fit_rules()}
            changes = rule_changes(current, proposed, result.in_force, result.proposed)
            click.echo(result.render(changes + other_changes(in_force_defs, other)))
            return
        con = open_serving_for_backtest(settings.serving_path)
        try:
            row = con.execute("select mql_threshold, mql_min_fit, fit_weight, engagement_weight, "
                              "definitions_version from definitions.def_settings").fetchone()
        finally:
            con.close()
        in_force = MqlRule(*row[:4])
        proposed_rule = MqlRule.of(other) if other is not None else in_force
        if fit_weight is not None and engagement_weight is None:
            overrides["engagement_weight"] = 1 - fit_weight
        proposed_rule = replace(proposed_rule, **overrides)
        if proposed_rule == in_force and not definitions_file:
            raise BacktestError("Nothing to compare: give --threshold, --min-fit, a weight or "
                                "--definitions (see funnel backtest --help).")
        result = compare(settings.serving_path, in_force, proposed_rule)
    except (BacktestError, DefinitionsError, RescoringError, RunInProgress) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(result.render())


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the proposal. [default: proposals/funnel.proposed-<hash>.yml "
                   "beside the definitions file in force]")
def suggest(out) -> None:
    """Learn fit and engagement points from the history and write them as a proposed
    definitions file - never over the one in force.

    Every lead attribute (the contract's, the declared ones and the export's own columns no
    rule uses yet) and activity type is ranked by how well it separates the outcome the
    definitions name (information value); the informative ones become rules whose points are
    their smoothed log-odds on the 0-100 scale (marts.fct_scoring_suggestions). Compare the
    proposal with `funnel backtest --definitions FILE`; adopt it by copying it over the file
    in force.
    """
    from orchestration.calibration.proposal import (
        ProposalError,
        propose,
        render_summary,
        write_proposal,
    )
    from orchestration.funnel_definitions import DefinitionsError, definitions_path

    settings = Settings.from_env()
    say = _echo_step(time.perf_counter())
    try:
        say(f"Reading the evidence of {settings.serving_path}.")
        proposal = propose(settings.serving_path, definitions_path())
        path = write_proposal(proposal, settings.serving_path, out, definitions_path())
    except (ProposalError, DefinitionsError) as exc:
        raise click.ClickException(str(exc)) from exc
    say("Done.")
    click.echo(render_summary(proposal, path))


@main.command("import")
@click.option("--preset", required=True,
              type=click.Choice(["generic", "hubspot", "salesforce", "google_ads",
                                 "linkedin_ads", "meta_ads"]),
              help="Column names of which export (generic: only the --map file).")
@click.option("--extract", required=True, metavar="EXTRACT",
              help="Landing extract to produce: crm_leads, crm_activities, crm_qualifications, "
                   "crm_opportunities, ad_spend, sdr_costs, fx_rates, crm_stage_history.")
@click.option("--map", "map_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Mapping file (YAML) extending or overriding the preset.")
@click.option("--landing", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Landing folder. [default: $LANDING_DIR or landing/]")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(preset, extract, map_file, landing, files) -> None:
    """Turn CRM or ad-platform exports into landing files of one extract.

    Reads UTF-8 (with or without BOM) or Latin-1, comma/semicolon/tab delimiters, quoted
    fields; maps and types every row; writes landing/<extract>/<file>.csv and puts rows that
    cannot be mapped in landing/_rejected/<extract>/ with their line and reason.

    Example: funnel import --preset hubspot --extract crm_leads contacts.csv
    """
    from orchestration.vendor_exports.importer import import_file
    from orchestration.vendor_exports.mapping import MappingError, load_mapping_file, merge, parse
    from orchestration.vendor_exports.presets import preset_mapping
    from orchestration.vendor_exports.reading import ReadError

    landing = (landing or Settings.from_env().landing_dir).resolve()
    try:
        user = load_mapping_file(map_file) if map_file else {}
        if user.get("extract", extract) != extract:
            raise MappingError(f"{map_file} is for {user['extract']}, not --extract {extract}")
        mapping = parse(merge(preset_mapping(preset, extract), user),
                        str(map_file or f"preset {preset}"))
    except MappingError as exc:
        raise click.ClickException(str(exc)) from exc
    totals = [0, 0, 0]
    failed = False
    with click.progressbar(files, label=f"Importing into {extract}", file=sys.stderr,
                           item_show_func=lambda p: p.name if p else "") as bar:
        results = []
        for path in bar:
            try:
                results.append(import_file(path, mapping, landing))
            except (MappingError, ReadError) as exc:
                results.append(exc)
                failed = True
    for result in results:
        if isinstance(result, Exception):
            click.echo(f"error: {result}", err=True)
            continue
        click.echo(result.render())
        totals = [totals[0] + result.rows_read, totals[1] + result.rows_written,
                  totals[2] + result.rows_quarantined]
    click.echo(f"Total: {totals[0]:,} rows read, {totals[1]:,} written, {totals[2]:,} "
               "quarantined.")
    failures = sum(isinstance(r, Exception) for r in results)
    if failed:
        click.echo(f"error: {failures} of {len(results)} file(s) could not be imported (see above); "
                   "nothing was written for them. Fix them and run `funnel import` again.",
                   err=True)
    elif totals[0] and not totals[1]:
        click.echo(f"error: every row was quarantined (landing/_rejected/{extract}/ says why): "
                   "check the mapping and run `funnel import` again.", err=True)
        failed = True
    if totals[1]:
        click.echo(f"Next: funnel run (loads {landing})"
                   + (" - without the files that failed." if failed else "."))
    if failed:
        sys.exit(1)


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def dbt(dbt_args) -> None:
    """Run dbt on the warehouse with the definitions file passed as --vars.

    Example: funnel dbt build --select marts
    """
    from orchestration.funnel_definitions import DefinitionsError, dbt_vars_arg
    from orchestration.paths import DBT_PROJECT_DIR
    from orchestration.settings import export_for_dbt
    from orchestration.transform.parse_state import run_dbt

    export_for_dbt(Settings.from_env())
    try:
        vars_json = dbt_vars_arg()
    except DefinitionsError as exc:
        raise click.ClickException(str(exc)) from exc
    args = list(dbt_args)
    command = dbt_args[0] if dbt_args else ""
    if command and command not in ("deps", "clean", "debug", "--version", "--help", "-h"):
        args += ["--vars", vars_json]
    os.chdir(DBT_PROJECT_DIR)
    os.environ.setdefault("DBT_PROFILES_DIR", str(DBT_PROJECT_DIR))
    if command in ("build", "run", "test", "seed", "snapshot", "run-operation", "show",
                   "compile", "retry", "source"):  # the commands that open the warehouse
        settings = Settings.from_env()
        try:  # dbt runs holding the run lock: no pipeline run starts while it writes
            with exclusive_run(settings.duckdb_path):
                run_dbt(args)
        except RunInProgress as exc:
            raise click.ClickException(str(exc)) from exc
    run_dbt(args)


@main.command()
@click.argument("metric_names", nargs=-1, metavar="METRIC...")
@click.option("--by", "group_by", multiple=True, metavar="GROUP",
              help="Group by (repeatable): metric_time__week|month|quarter|year, segment, "
                   "segment__segment_label, channel, channel__channel_label, "
                   "funnel_week__acquisition_mode, owner ...")
@click.option("--where", multiple=True, metavar="FILTER",
              help="MetricFlow filter, e.g. \"{{ TimeDimension('metric_time', 'quarter') }} "
                   ">= '2026-01-01'\" (repeatable).")
@click.option("--order", "order_by", multiple=True, metavar="NAME",
              help="Order by a metric or group (prefix - for descending).")
@click.option("--list", "list_only", is_flag=True, help="List the metrics and what they compute.")
@click.option("--explain", is_flag=True, help="Print the SQL instead of running it.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the result as CSV.")
def metrics(metric_names, group_by, where, order_by, list_only, explain, as_csv) -> None:
    """Query the semantic layer's metrics on the serving file.

    Every KPI of the weekly report is a metric (dbt_project/models/semantic/), ratios computed
    after summing, so any period and grouping is right. Examples:

      funnel metrics --list

      funnel metrics cost_per_sql mql_to_sql_cohort_rate --by metric_time__quarter

      funnel metrics sla_limit_compliance_rate --by metric_time__month --by owner --explain
    """
    from orchestration.semantic_layer import MetricQueries, list_metrics

    if list_only or not metric_names:
        for m in list_metrics():
            click.echo(f"{m.name:40} {m.kind:7} {m.formula:60} {m.label}")
        if not list_only:
            click.echo("\nName one or more metrics to query them (funnel metrics --help).")
        return
    settings = Settings.from_env()
    if not settings.serving_path.exists():
        raise click.ClickException(f"{settings.serving_path} does not exist: run `funnel run`")
    start = time.monotonic()
    with MetricQueries(settings.serving_path) as queries:
        try:
            order = order_by or tuple(g for g in group_by if g.startswith("metric_time"))
            if explain:
                click.echo(queries.sql(metric_names, group_by, where, order))
                return
            frame = queries.query(metric_names, group_by, where, order)
        except Exception as exc:  # MetricFlow explains unknown names and joins at length
            raise click.ClickException(str(exc)) from exc
    if as_csv:
        click.echo(frame.to_csv(index=False), nl=False)
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", 500, "display.width", 200):
            click.echo(frame.to_string(index=False))
        click.echo(f"({len(frame):,} rows from {settings.serving_path}, "
                   f"{time.monotonic() - start:.2f} s)", err=True)


@main.command()
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Definitions file to check. [default: $FUNNEL_DEFINITIONS or "
                   "dbt_project/definitions/funnel.yml]")
def definitions(path) -> None:
    """Validate the definitions file and print what is in force."""
    from orchestration.funnel_definitions import (
        DefinitionsError,
        definitions_path,
        definitions_version,
        load_definitions,
    )

    path = path or definitions_path()
    try:
        d = load_definitions(path)
    except DefinitionsError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{path} is valid (definitions_version {definitions_version(path)})")
    click.echo(f"  MQL: lead score >= {d.mql.threshold:g} and fit >= {d.mql.min_fit:g} "
               f"(lead score = {d.mql.fit_weight:g} x fit + {d.mql.engagement_weight:g} x "
               f"engagement); fast track: {', '.join(d.engagement.fast_track) or 'none'}")
    click.echo(f"  SQL: accepted with >= {d.sql.min_bant_criteria} of 4 BANT criteria"
               f"{' and a scheduled next step' if d.sql.require_next_step else ''}")
    click.echo(f"  engagement half-life {d.engagement.half_life_days:g} days, "
               f"{len(d.engagement.rules)} activity rules; {len(d.fit_rules)} fit rules")
    click.echo(f"  SLA: first touch within {d.sla.target_hours:g} h (limit {d.sla.limit_hours:g} h), "
               f"reporting in {d.reporting.currency}, {d.reporting.timezone}")
    r = d.recycle
    nurture = sorted(k for k, v in r.rejection_reasons.items() if v == "nurture")
    click.echo(f"  rejections: nurture {', '.join(nurture) or 'none listed'}; others "
               f"{r.unlisted_rejections}; back as MQL after {r.return_after_days} days with "
               f"engagement >= {r.return_min_engagement:g}")
    own = "; ".join(f"{name}: " + ", ".join(f"{t} {days}" for t, days in
                                           d.maturity_days.for_segment(name).items())
                    for name in d.maturity_days.by_segment)
    click.echo("  cohort windows (days): "
               + ", ".join(f"{t} {days}" for t, days in d.maturity_days.for_segment(None).items())
               + (f" ({own})" if own else ""))
    click.echo(f"  accounts keyed by {d.accounts.key}, scored by {d.accounts.score}")


@main.command()
@click.option("--leads", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Leads to generate (about 30 activities each).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep landing data and warehouse here (generated data is reused when the "
                   "same size and seed are asked again). [default: a temporary folder]")
@click.option("--compare", "compare_with", type=click.Path(exists=True, dir_okay=False,
              path_type=Path), default=None,
              help="A saved result at a smaller scale (bench/results/*.json): print how much "
                   "each step grew.")
@click.option("--format", "file_format", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True,
              help="Landing file format (parquet takes about a fifth of the disk).")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default=None,
              help="Where dbt builds the models. [default: FUNNEL_ENGINE, else duckdb]")
@click.option("--full-only", is_flag=True,
              help="Time the full run only, not the daily one and the one with nothing new "
                   "(on Spark every run rebuilds in full).")
def bench(leads, seed, workdir, compare_with, file_format, engine, full_only) -> None:
    """Time every step of a full run on generated data, and a bare baseline (activities
    loaded, one running sum per lead); print and save the figures."""
    import json

    from orchestration.bench import compare, run_bench, save

    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    result = run_bench(leads, seed, workdir, say=_echo_step(time.perf_counter()),
                       file_format=file_format, engine=engine or Settings.from_env().engine,
                       daily=not full_only)
    click.echo(result.render())
    saved = save(result)
    click.echo(f"figures saved to {saved}")
    if compare_with:
        click.echo("")
        click.echo(compare(json.loads(compare_with.read_text()), json.loads(saved.read_text())))
    if not result.success:
        sys.exit(1)


@main.command()
@click.option("--port", type=int, default=3000, show_default=True)
def ui(port) -> None:
    """Start the Dagster UI (dagster dev) on the whole asset graph."""
    from orchestration.settings import export_for_dbt

    export_for_dbt(Settings.from_env())
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    dagster = Path(sys.executable).parent / "dagster"
    os.execv(str(dagster), [str(dagster), "dev", "-w", str(PROJECT_ROOT / "workspace.yaml"),
                            "-p", str(port)])


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["main"]
