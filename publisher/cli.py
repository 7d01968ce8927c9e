"""The publisher's command line: `publisher --help`."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from publisher import content as content_mod
from publisher.extract import ExtractRejected, read_extract
from store.db import database_url, make_engine

app = typer.Typer(help="Publish Azerbaijan's migration statistics as SDMX.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)

DbOption = typer.Option(None, "--database-url", envvar="DATABASE_URL",
                        help="SQLAlchemy URL of the store (default: SQLite under var/).")


def _content() -> content_mod.Content:
    try:
        return content_mod.load()
    except content_mod.ContentError as exc:
        err.print("[bold red]The statistical content is inconsistent:[/]")
        for p in exc.problems:
            err.print(f"  • {p}")
        raise typer.Exit(2) from None


def _report(exc: ExtractRejected) -> None:
    table = Table(title=f"Extract rejected: {exc.total} problem(s)", show_lines=False)
    for col in ("file", "row", "column", "value", "reason"):
        table.add_column(col, overflow="fold")
    for p in exc.problems:
        table.add_row(p.file, "" if p.row is None else str(p.row), p.column or "",
                      p.value or "", p.reason)
    err.print(table)
    if exc.total > len(exc.problems):
        err.print(f"... and {exc.total - len(exc.problems)} more.")
    err.print("Nothing was stored.")


@db_app.command("upgrade")
def db_upgrade(database: str = DbOption) -> None:
    """Create or migrate the store's tables (Alembic)."""
    from store.migrate import upgrade
    upgrade(make_engine(database))
    console.print(f"store is at the current schema: {database or database_url()}")


@db_app.command("roles")
def db_roles(database: str = DbOption,
             api_role: str = typer.Option("migstat_api", help="The role the public API connects as (read only)."),
             publisher_role: str = typer.Option("migstat_publisher", help="The role the publisher connects as."),
             show: bool = typer.Option(False, help="Print the SQL instead of running it.")) -> None:
    """PostgreSQL: create the API's read-only role and the publisher's role, and grant each
    what it may do (idempotent: run it after every migration)."""
    from store import roles
    engine = make_engine(database)
    if show:
        from sqlalchemy import text
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        for sql in roles.statements(schema, api_role, publisher_role):
            console.print(sql + ";", markup=False)
        return
    # Passwords from the environment, never from the command line (it shows in `ps`).
    passwords = {role: os.environ[var] for role, var in ((api_role, "MIGSTAT_API_PASSWORD"),
                                                         (publisher_role, "MIGSTAT_PUBLISHER_PASSWORD"))
                 if os.environ.get(var)}
    roles.grant(engine, api_role, publisher_role, passwords)
    console.print(f"roles {api_role} (reads the public area) and {publisher_role} (writes) are granted")


@app.command("check-content")
def check_content() -> None:
    """Check the codelists, dataflows and metadata files."""
    c = _content()
    console.print(f"content is consistent: {len(c.documents)} artefacts, "
                  f"{len(c.dataflows)} dataflows ({', '.join(c.dataflows)})")


@app.command()
def validate(path: Path, dataflow: str = typer.Option(..., "--dataflow", "-d"),
             encoding: str = typer.Option("auto", help="auto, utf-8, cp1254, cp1251...")) -> None:
    """Check an extract without storing anything."""
    flow = _content().dataflow(dataflow)
    try:
        clean = read_extract(path, flow, encoding=encoding)
    except ExtractRejected as exc:
        _report(exc)
        raise typer.Exit(1) from None
    console.print(f"{path.name}: valid, {clean.row_count} observations for {flow.ref} "
                  f"(read as {clean.encoding})")


@app.command()
def ingest(paths: list[Path], dataflow: str = typer.Option(..., "--dataflow", "-d"),
           encoding: str = typer.Option("auto"), database: str = DbOption) -> None:
    """Check extracts and store them in the staging area (each in one transaction)."""
    from publisher.staging import ingest as ingest_one
    flow = _content().dataflow(dataflow)
    engine = make_engine(database)
    failed = False
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("ingesting", total=len(paths))
        for path in paths:
            try:
                clean = read_extract(path, flow, encoding=encoding)
            except ExtractRejected as exc:
                _report(exc)
                failed = True
            else:
                ingest_one(engine, clean)
                console.print(f"{path.name}: {clean.row_count} observations staged for {flow.ref}")
            progress.advance(task)
    if failed:
        raise typer.Exit(1)


@app.command()
def publish(description: str = typer.Option("", help="What this release contains."),
            database: str = DbOption) -> None:
    """Release everything staged into the public area, as one release: protected under
    each dataflow's disclosure rule and audited; refused if the audit fails."""
    from publisher.publish import PublicationRefused
    from publisher.publish import publish as publish_all
    try:
        release_id, summary = publish_all(make_engine(database), _content(), description)
    except PublicationRefused as exc:
        _audit_report(exc.findings)
        err.print("[bold red]Release refused: nothing was published.[/]")
        raise typer.Exit(1) from None
    console.print(f"release {release_id} published")
    for flow, counts in summary.items():
        console.print(f"  {flow}: {counts['added']} added, {counts['revised']} revised, "
                      f"{counts['withdrawn']} withdrawn, {counts['withheld']} withheld")


def _audit_report(findings: list) -> bool:
    """Print the audit; return whether every unsafe cell is protected."""
    by_pop: dict[str, list] = {}
    for f in findings:
        by_pop.setdefault(f.population, []).append(f)
    table = Table(title="Disclosure audit: what an attacker can prove about each unsafe cell")
    for col in ("population", "unsafe cells", "exposed", "narrowest interval", "verdict"):
        table.add_column(col)
    for pop, fs in sorted(by_pop.items()):
        bad = [f for f in fs if not f.safe]
        narrow = min(fs, key=lambda f: f.high - f.low)
        table.add_row(pop, str(len(fs)), str(len(bad)), f"[{narrow.low:g}, {narrow.high:g}]",
                      "[red]UNSAFE[/]" if bad else "[green]safe[/]")
    console.print(table)
    for f in [f for f in findings if not f.safe][:20]:
        err.print(f"  exposed: {f.population} {f.cell}: an attacker proves it lies in [{f.low:g}, {f.high:g}]")
    return all(f.safe for f in findings)


@app.command()
def audit(database: str = DbOption) -> None:
    """Audit what the API serves now: for every withheld small count, the smallest and
    largest value an attacker can prove from everything published (exit 1 if unsafe)."""
    from publisher.publish import audit as audit_store
    with make_engine(database).connect() as conn:
        findings = audit_store(conn, _content())
    if not findings:
        console.print("no suppressed dataflow is published: nothing to audit")
        return
    if not _audit_report(findings):
        raise typer.Exit(1)


@app.command("generate-demo")
def generate_demo(outdir: Path, seed: int = 2026) -> None:
    """Write the synthetic demonstration extracts."""
    from publisher.demo import generate
    for flow_id, path in generate(_content(), outdir, seed=seed):
        console.print(f"{flow_id}: {path}")


@app.command()
def demo(workdir: Path = typer.Option(Path("var/demo")), seed: int = 2026,
         database: str = DbOption) -> None:
    """Everything `make serve` needs: schema, synthetic extracts, and a calendar of
    releases (past ones published, one scheduled under embargo, one planned). On a store
    that already has releases, only publishes those whose time has come."""
    from publisher import releases
    from publisher.demo import calendar, generate
    from store.migrate import upgrade

    c = _content()
    engine = make_engine(database)
    upgrade(engine)
    with engine.connect() as conn:
        existing = releases.release_count(conn)
    if existing:
        done = releases.publish_due(engine)
        console.print(f"the store already holds {existing} releases; published now: {done or 'none due'}")
        return
    files = dict(generate(c, workdir, seed=seed))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("demonstration calendar", total=None)
        try:
            ids = calendar(engine, c, files, progress=lambda msg: progress.update(task, description=msg))
        except ExtractRejected as exc:
            progress.stop()
            _report(exc)
            raise typer.Exit(1) from None
    with engine.connect() as conn:
        for x in releases.releases(conn):
            console.print(f"release {x.id} {x.status:9} {x.release_time.astimezone(releases.BAKU):%Y-%m-%d %H:%M} "
                          f"Baku  {x.title.get('en', '')}")
    console.print(f"demonstration calendar: releases {', '.join(map(str, ids))}")


@app.command("eurostat-export")
def eurostat_export(dataset: str = typer.Argument(..., help="Eurostat dataset, e.g. MIGR_RESFIRST "
                                                  "(metadata/eurostat.yaml lists them)."),
                    out: Path = typer.Option(..., "--out", "-o", help="SDMX-CSV 1.0 file to write."),
                    structure: Path = typer.Option(None, "--structure",
                                                   help="Also write the SDMX-ML 2.1 structure message."),
                    database: str = DbOption) -> None:
    """Export released figures in a Eurostat dataset's dimensions and codes (SDMX-CSV 1.0),
    as metadata/eurostat.yaml maps them; reads only the public area of the store."""
    from publisher import eurostat
    c = _content()
    engine = make_engine(database)
    try:
        with engine.connect() as conn:
            result = eurostat.export(conn, c, dataset)
    except eurostat.MappingError as exc:
        err.print(f"{dataset}: the Eurostat crosswalk cannot be used:", style="bold red", markup=False)
        for p in exc.problems:
            err.print(f"  • {p}", markup=False)
        raise typer.Exit(2) from None
    except eurostat.NothingReleased as exc:
        err.print(str(exc), style="bold red", markup=False)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    out.write_text(result.csv, encoding="utf-8", newline="")
    console.print(f"{result.mapping.ref}: {len(result.rows)} observations ({result.withheld} withheld, "
                  f"flag c) from {result.mapping.source_ref} -> {out}")
    if structure is not None:
        structure.write_bytes(result.structure)
        console.print(f"structure (dataflow, DSD, codelists under {result.mapping.agency}) -> {structure}")


# --- releases ------------------------------------------------------------------------------

release_app = typer.Typer(help="Releases: plan, schedule, publish, correct, list (times in Baku time "
                          "unless an offset is given).", no_args_is_help=True)
app.add_typer(release_app, name="release")


def _refusal(exc: Exception) -> None:
    from publisher.publish import PublicationRefused
    if isinstance(exc, PublicationRefused):
        _audit_report(exc.findings)
    err.print(f"[bold red]Refused:[/] {exc}", highlight=False)
    err.print("Nothing was changed.")
    raise typer.Exit(1)


def _steps(progress: Progress, total: int):
    task = progress.add_task("scheduling", total=total)

    def step(what: str) -> None:
        progress.update(task, description=what, advance=1)
    return step


@release_app.command("plan")
def release_plan(title_en: str = typer.Option(..., "--title", help="Title in English."),
                 title_az: str = typer.Option(None, "--title-az", help="Title in Azerbaijani."),
                 title_ru: str = typer.Option(None, "--title-ru", help="Title in Russian."),
                 at: str = typer.Option(..., "--at", help="Release time, e.g. 2027-02-15T10:00 (Baku)."),
                 dataflows: list[str] = typer.Option(..., "--dataflow", "-d", help="A dataflow it carries."),
                 provisional_from: str = typer.Option(None, "--provisional-from",
                                                      help="First provisional period (OBS_STATUS P), e.g. 2026."),
                 description: str = typer.Option("", help="What it contains."),
                 database: str = DbOption) -> None:
    """Announce a release in the calendar (a draft: nothing is written yet)."""
    from publisher import releases
    c = _content()
    try:
        release_id = releases.plan(
            make_engine(database), c, title={"en": title_en, "az": title_az or title_en, "ru": title_ru or title_en},
            at=releases.parse_time(at), dataflows=dataflows, description=description,
            provisional_from={d: provisional_from for d in dataflows} if provisional_from else None)
    except releases.ReleaseRefused as exc:
        _refusal(exc)
    console.print(f"release {release_id} planned (draft) for {at}: {', '.join(dataflows)}")


@release_app.command("schedule")
def release_schedule(release_id: int, database: str = DbOption) -> None:
    """Protect, audit and write a draft release's data, embargoed until its time."""
    from publisher import releases
    from publisher.publish import PublicationRefused
    c = _content()
    with Progress(console=console, transient=True) as progress:
        try:
            summary = releases.schedule(make_engine(database), c, release_id, progress=_steps(progress, 4))
        except (releases.ReleaseRefused, PublicationRefused) as exc:
            progress.stop()
            _refusal(exc)
    console.print(f"release {release_id} scheduled")
    for flow, n in summary.items():
        console.print(f"  {flow}: {n['added']} added, {n['revised']} revised, {n['withdrawn']} withdrawn, "
                      f"{n['withheld']} withheld")


@release_app.command("publish")
def release_publish(every: int = typer.Option(0, help="Keep running, checking every N seconds (0: once)."),
                    database: str = DbOption) -> None:
    """Publish every scheduled release whose time has come (the scheduler: run it from cron
    or a systemd timer every minute, or with --every; safe to run on several machines)."""
    import time

    from publisher import releases
    engine = make_engine(database)
    while True:
        for release_id in releases.publish_due(engine):
            console.print(f"release {release_id} published")
        if not every:
            return
        time.sleep(every)


@release_app.command("correct")
def release_correct(release_id: int,
                    at: str = typer.Option(None, "--at", help="Release time of the correction (default: now)."),
                    description: str = typer.Option("", help="What is corrected and why."),
                    database: str = DbOption) -> None:
    """Correct a published release with what is staged now for its dataflows."""
    from publisher import releases
    from publisher.publish import PublicationRefused
    c = _content()
    with Progress(console=console, transient=True) as progress:
        try:
            new_id = releases.correct(make_engine(database), c, release_id, description=description,
                                      at=releases.parse_time(at) if at else None, progress=_steps(progress, 4))
        except (releases.ReleaseRefused, PublicationRefused) as exc:
            progress.stop()
            _refusal(exc)
    console.print(f"release {new_id} corrects release {release_id}" + (f", at {at}" if at else ", published now"))


@release_app.command("list")
def release_list(database: str = DbOption) -> None:
    """Every release, past and upcoming, in Baku time."""
    from publisher import releases
    with make_engine(database).connect() as conn:
        rows = releases.releases(conn)
    table = Table(title="Releases (Asia/Baku time)")
    for col in ("id", "time", "status", "title", "dataflows", "added", "revised", "withheld", "corrects"):
        table.add_column(col)
    for x in rows:
        total = lambda k: "" if any(f[k] is None for f in x.dataflows) else str(sum(f[k] for f in x.dataflows))  # noqa: E731
        table.add_row(str(x.id), f"{x.release_time.astimezone(releases.BAKU):%Y-%m-%d %H:%M}", x.status,
                      x.title.get("en", ""), ", ".join(f["dataflow"].split(":")[1].split("(")[0] for f in x.dataflows),
                      total("added"), total("revised"), total("withheld"), str(x.corrects or ""))
    console.print(table)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          every: int = typer.Option(60, help="Scheduler period in seconds (0: no scheduler)."),
          database: str = DbOption) -> None:
    """The single-machine default: the API, and the scheduler in the same process (a thread
    publishing due releases every --every seconds). The API itself never writes."""
    import threading
    import time

    import uvicorn

    from publisher import releases

    engine = make_engine(database)

    def scheduler() -> None:
        while True:
            try:
                for release_id in releases.publish_due(engine):
                    console.print(f"scheduler: release {release_id} published")
            except Exception as exc:  # noqa: BLE001 - keep the loop alive; the next run retries
                err.print(f"scheduler: {exc.__class__.__name__}: {exc}")
            time.sleep(every)

    if every:
        threading.Thread(target=scheduler, name="scheduler", daemon=True).start()
    uvicorn.run("api.app:app", host=host, port=port)
