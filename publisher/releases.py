"""Releases: plan, schedule, publish, correct, list.

A release groups the dataflow updates that go out together. Its life:

* **plan** (draft): a title, a time (Asia/Baku, stored in UTC) and the dataflows it
  will carry. Drafts are announced in the public calendar; no data are written.
* **schedule**: disclosure control and its audit run on what is staged, and the
  protected figures are written to the public area in one transaction, stamped with
  the release. They are embargoed: the API shows a row only once its release time has
  passed (store.schema), so the whole release appears at its second, at once, whether
  or not any process runs then. Refused when the audit fails, when the time has passed,
  or when a release of the same data is already scheduled for later.
* **publish** (the scheduler: `publish_due`): confirms every scheduled release whose
  time has come, and marks the releases they correct as corrected. Idempotent; two
  schedulers at once publish each release exactly once (they contend for one row).
* **correct**: a new release of a published release's dataflows, from what is staged
  now, that corrects it; at a time given or at once.

Every function takes `now` so that tests control the clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, Engine, func, insert, select, update

from publisher import failpoints
from publisher.content import Content
from publisher.disclosure.protect import groups, protect_all
from publisher.publish import (
    PublicationRefused,
    _log,
    _publish_dataflow,
    _upsert_structures,
    audit,
    earlier_frames,
    staged_frames,
)
from store.schema import (
    public_release as r,
    public_release_attachment as ra,
    public_release_dataflow as rd,
    public_state,
)

BAKU = ZoneInfo("Asia/Baku")


class _Lost(Exception):
    """Another scheduler published the release first (the transaction rolls back)."""


class ReleaseRefused(RuntimeError):
    """A release operation that would break a rule; nothing was changed."""


def flow_id(ref: str) -> str:
    """The dataflow id in a reference AGENCY:ID(VERSION) (or an id alone)."""
    return ref.split(":")[-1].split("(")[0]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def parse_time(text: str) -> datetime:
    """A release time as the office writes it: ISO 8601; without an offset, Baku time."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ReleaseRefused(f"{text!r} is not a date and time (use e.g. 2027-02-15T10:00)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=BAKU)
    return at.astimezone(timezone.utc)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)  # SQLite keeps no zone


def _clock(now: datetime | None) -> datetime:
    """`now` (the real clock by default) in UTC: SQLite stores and compares times without
    their zone, so a time in any other zone would be read as UTC."""
    return _aware(now or utc_now()).astimezone(timezone.utc)


def bump(conn: Connection) -> int:
    """Count one more change of the public area. The row lock this takes also makes
    concurrent publisher transactions (two schedulers) run one after the other."""
    conn.execute(update(public_state).where(public_state.c.id == 1)
                 .values(change=public_state.c.change + 1))
    return conn.execute(select(public_state.c.change).where(public_state.c.id == 1)).scalar_one()


# --- reading ------------------------------------------------------------------------------

@dataclass
class Release:
    id: int
    status: str
    release_time: datetime
    title: dict
    description: str
    corrects: int | None
    dataflows: list[dict]  # dataflow, provisional_from, added, revised, withdrawn, withheld
    scheduled_at: datetime | None = None
    published_at: datetime | None = None

    def is_public(self, now: datetime) -> bool:
        return self.status != "draft" and self.release_time <= now


def releases(conn: Connection) -> list[Release]:
    flows: dict[int, list[dict]] = {}
    for row in conn.execute(select(rd).order_by(rd.c.id)).mappings():
        flows.setdefault(row["release_ref"], []).append(
            {k: row[k] for k in ("dataflow", "provisional_from", "added", "revised", "withdrawn", "withheld")})
    return [Release(row.id, row.status, _aware(row.release_time), json.loads(row.title or "{}"),
                    row.description, row.corrects_ref, flows.get(row.id, []),
                    row.scheduled_at and _aware(row.scheduled_at), row.published_at and _aware(row.published_at))
            for row in conn.execute(select(r).order_by(r.c.release_time, r.c.id))]


def release(conn: Connection, release_id: int) -> Release:
    found = [x for x in releases(conn) if x.id == release_id]
    if not found:
        raise ReleaseRefused(f"there is no release {release_id}")
    return found[0]


# --- plan -----------------------------------------------------------------------------------

def plan(engine: Engine, content: Content, *, title: dict | str, at: datetime,
         dataflows: Iterable[str], description: str = "", provisional_from: dict[str, str] | None = None,
         corrects: int | None = None, now: datetime | None = None, allow_now: bool = False,
         backdate: bool = False) -> int:
    """A draft release: announced in the calendar, nothing written yet. `dataflows`: ids
    or references; `provisional_from`: dataflow id -> the first provisional period."""
    now = _clock(now)
    at = _aware(at).astimezone(timezone.utc)
    if not backdate and (at < now or (at == now and not allow_now)):
        raise ReleaseRefused(f"the release time {at.astimezone(BAKU):%Y-%m-%d %H:%M:%S} (Baku) has passed: "
                             "a release is planned for a time to come")
    flows = []
    for name in dataflows:
        try:
            flows.append(content.dataflow(flow_id(name)))
        except KeyError:
            raise ReleaseRefused(f"{name} is not a dataflow of the content (dataflows/)") from None
    if not flows:
        raise ReleaseRefused("a release carries at least one dataflow")
    provisional_from = provisional_from or {}
    titles = {"en": title, "az": title, "ru": title} if isinstance(title, str) else dict(title)
    with engine.begin() as conn:
        if corrects is not None:
            old = release(conn, corrects)
            if old.status not in ("published", "corrected"):
                raise ReleaseRefused(f"release {corrects} is {old.status}, not published: only a published "
                                     "release can be corrected")
        bump(conn)
        release_id = conn.execute(insert(r).values(
            release_time=at, description=description, title=json.dumps(titles, ensure_ascii=False),
            status="draft", corrects_ref=corrects)).inserted_primary_key[0]
        conn.execute(insert(rd), [{"release_ref": release_id, "dataflow": f.ref,
                                   "provisional_from": provisional_from.get(f.document["id"])} for f in flows])
    return release_id


# --- schedule ---------------------------------------------------------------------------------

Progress = Callable[[str], None]


def schedule(engine: Engine, content: Content, release_id: int, *, now: datetime | None = None,
             allow_now: bool = False, backdate: bool = False, progress: Progress | None = None,
             bulletins: bool = True) -> dict[str, dict[str, int]]:
    """Protect, audit and write a draft release's dataflows, embargoed until its time.
    One transaction: on any refusal or failure nothing of it is written."""
    say = progress or (lambda _msg: None)
    now = _clock(now)
    summary: dict[str, dict[str, int]] = {}
    with engine.begin() as conn:
        bump(conn)  # first: concurrent publishers queue here
        rel = release(conn, release_id)
        if rel.status != "draft":
            raise ReleaseRefused(f"release {release_id} is {rel.status}: only a draft can be scheduled")
        if allow_now and rel.release_time < now:
            # An immediate release goes out now: its time is the moment it is written.
            rel.release_time = now
        if not backdate and (rel.release_time < now or (rel.release_time == now and not allow_now)):
            raise ReleaseRefused(f"release {release_id}'s time {rel.release_time.astimezone(BAKU):%Y-%m-%d %H:%M} "
                                 "(Baku) has passed: plan it again for a time to come")
        carried = [content.dataflow(flow_id(f["dataflow"])) for f in rel.dataflows]
        _check_order(conn, rel, {f.ref for f in carried})
        say("protecting")
        # Linked tables are protected together: every dataflow sharing a population.
        wanted = {f.document["id"] for f in carried}
        together = [f for g in groups(list(content.dataflows.values()))
                    if wanted & {x.document["id"] for x in g.flows} for f in g.flows]
        staged = staged_frames(conn, content)
        missing = [f.document["id"] for f in carried if f.document["id"] not in staged]
        if missing:
            raise ReleaseRefused(f"nothing is staged for {', '.join(missing)}: ingest the extracts first")
        protected = protect_all(together, {k: v for k, v in staged.items()
                                           if k in {f.document["id"] for f in together}},
                                earlier_frames(conn, content))
        say("writing")
        flow_ids = _upsert_structures(conn, content, release_id, release_time=rel.release_time)
        provisional = {f["dataflow"]: f["provisional_from"] for f in rel.dataflows}
        for flow in carried:
            frame = protected[flow.document["id"]]
            counts = _publish_dataflow(conn, frame, flow_ids[flow.ref], release_id,
                                       provisional_from=provisional.get(flow.ref))
            counts["withheld"] = int(frame["public_value"].isna().sum())
            summary[flow.document["id"]] = counts
            conn.execute(update(rd).where(rd.c.release_ref == release_id, rd.c.dataflow == flow.ref)
                         .values(**counts))
            _log(conn, release_id, flow, frame)
        say("auditing")
        findings = audit(conn, content, release_id)
        if any(not f.safe for f in findings):
            raise PublicationRefused(findings)  # the transaction rolls back: nothing is written
        if bulletins:
            say("writing the bulletin")
            _attach_bulletin(conn, content, rel, {f.document["id"]: protected[f.document["id"]] for f in carried})
        conn.execute(update(r).where(r.c.id == release_id).values(
            status="scheduled", scheduled_at=now, release_time=rel.release_time))
        failpoints.reached("schedule:before-commit")
    return summary


def _check_order(conn: Connection, rel: Release, carried: set[str]) -> None:
    """Releases of the same data go out in the order they are written: a row can only be
    superseded by a later release, so that the clock alone decides what is visible."""
    for other in releases(conn):
        if other.id == rel.id or other.status == "draft" or other.release_time <= rel.release_time:
            continue
        shared = carried & {f["dataflow"] for f in other.dataflows}
        if shared:
            raise ReleaseRefused(
                f"release {other.id} already carries {', '.join(sorted(shared))} at "
                f"{other.release_time.astimezone(BAKU):%Y-%m-%d %H:%M} (Baku), after this one: releases of the same "
                "data go out in order; reschedule one of them")


def _attach_bulletin(conn: Connection, content: Content, rel: Release, frames: dict[str, pd.DataFrame]) -> None:
    from publisher.bulletin import FlowFigures, build

    figures = []
    for flow_id, frame in frames.items():
        flow = content.dataflow(flow_id)
        obs = frame[["series_key", "time_period", "public_value"]].rename(columns={"public_value": "value"})
        figures.append(FlowFigures(flow.document, flow.structure, flow.codelists, obs))
    files = build({"id": rel.id, "title": rel.title, "release_time": rel.release_time,
                   "corrects": rel.corrects}, figures)
    conn.execute(ra.delete().where(ra.c.release_ref == rel.id))
    if files:
        conn.execute(insert(ra), [{"release_ref": rel.id, "name": name, "media_type": media, "content": body}
                                  for name, (media, body) in sorted(files.items())])


# --- publish (the scheduler) ---------------------------------------------------------------------

def publish_due(engine: Engine, *, now: datetime | None = None) -> list[int]:
    """Confirm every scheduled release whose time has come, oldest first, each in its own
    transaction; return the ids this call published. Safe to run every minute and from
    several machines at once: a release is published by exactly one of them."""
    now = _clock(now)
    done = []
    with engine.connect() as conn:
        due = conn.execute(select(r.c.id).where(r.c.status == "scheduled", r.c.release_time <= now)
                           .order_by(r.c.release_time, r.c.id)).scalars().all()
    for release_id in due:
        try:
            with engine.begin() as conn:
                bump(conn)  # waits for a concurrent scheduler's transaction to end
                won = conn.execute(update(r).where(r.c.id == release_id, r.c.status == "scheduled")
                                   .values(status="published", published_at=now)).rowcount
                if not won:
                    raise _Lost  # another scheduler published it meanwhile: change nothing
                corrects = conn.execute(select(r.c.corrects_ref).where(r.c.id == release_id)).scalar_one()
                if corrects is not None:
                    conn.execute(update(r).where(r.c.id == corrects).values(status="corrected"))
                failpoints.reached("publish:before-commit")
        except _Lost:
            continue
        done.append(release_id)
    return done


def publish_now(engine: Engine, content: Content, description: str = "", *,
                title: dict | str | None = None, dataflows: Iterable[str] | None = None,
                now: datetime | None = None, bulletins: bool = True) -> tuple[int, dict]:
    """Plan, schedule and publish a release at once (everything staged by default)."""
    now = _clock(now)
    with engine.connect() as conn:
        staged = set(staged_frames(conn, content))
    flows = list(dataflows) if dataflows is not None else [f for f in content.dataflows if f in staged]
    release_id = plan(engine, content, title=title or description or "Release", at=now, dataflows=flows,
                      description=description, now=now, allow_now=True)
    try:
        summary = schedule(engine, content, release_id, now=now, allow_now=True, bulletins=bulletins)
    except BaseException:
        discard(engine, release_id)  # refused: not even its announcement stays
        raise
    publish_due(engine, now=now)
    return release_id, summary


def discard(engine: Engine, release_id: int) -> None:
    """Remove a draft release (it has written nothing but its announcement)."""
    with engine.begin() as conn:
        rel = release(conn, release_id)
        if rel.status != "draft":
            raise ReleaseRefused(f"release {release_id} is {rel.status}: only a draft can be discarded")
        bump(conn)
        conn.execute(rd.delete().where(rd.c.release_ref == release_id))
        conn.execute(r.delete().where(r.c.id == release_id))


# --- correct ------------------------------------------------------------------------------------

def correct(engine: Engine, content: Content, release_id: int, *, at: datetime | None = None,
            description: str = "", now: datetime | None = None, progress: Progress | None = None) -> int:
    """A release correcting published release `release_id` with what is staged now for its
    dataflows: at `at`, or at once. Returns the new release's id."""
    now = _clock(now)
    with engine.connect() as conn:
        old = release(conn, release_id)
    if old.status not in ("published", "corrected"):
        raise ReleaseRefused(f"release {release_id} is {old.status}, not published: only a published release "
                             "can be corrected (change a draft or scheduled release by planning it again)")
    titles = {"az": "Düzəliş: ", "en": "Correction: ", "ru": "Исправление: "}
    title = {lang: prefix + (old.title.get(lang) or old.title.get("en") or f"release {release_id}")
             for lang, prefix in titles.items()}
    new_id = plan(engine, content, title=title, at=at or now, dataflows=[f["dataflow"] for f in old.dataflows],
                  description=description or f"Corrects release {release_id}.",
                  provisional_from={flow_id(f["dataflow"]): f["provisional_from"]
                                    for f in old.dataflows if f["provisional_from"]},
                  corrects=release_id, now=now, allow_now=at is None)
    try:
        schedule(engine, content, new_id, now=now, allow_now=at is None, progress=progress)
    except BaseException:
        discard(engine, new_id)  # refused: not even its announcement stays
        raise
    if at is None:
        publish_due(engine, now=now)
    return new_id


def release_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(r)).scalar_one()
