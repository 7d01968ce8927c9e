"""The store schema: the contract between the publisher and the API.

Two areas, kept apart by name and by who may touch them:

* ``staging_*``: extracts as ingested, with their true values. Only the publisher
  reads or writes them; the API never names them (tests check the SQL it runs).
* ``public_*``: what has been released. The API reads only these; only the publisher
  writes them, in one transaction per release.

Releases (``public_release``) are first-class: planned as drafts, scheduled for a time
(stored in UTC; announced in Asia/Baku time), published, later corrected. A release's
rows are written when it is *scheduled*, and become visible at its release time, all at
once (.Stat Suite calls this point-in-time release): what a reader may see is decided
by the clock, not by a process having to run at that second (publisher.releases).

Observations and structure documents are versioned: a row is current while
``superseded_ref`` is NULL; a later release that changes or withdraws it sets
``superseded_ref`` to itself and inserts the new row. So, at any moment T, a row is
visible when its release is public at T and the release that superseded it (if any) is
not: the embargo and ``asOf`` are the same rule. Earlier vintages stay queryable
(``asOf``, ``includeHistory``) and every observation names the release that published it.

Releases touching the same data are scheduled in time order (publisher.releases refuses
otherwise), so that the supersession chain of a row follows the clock.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

#: A series key is stored both whole and split into one column per dimension
#: (d1 ... dN, in DSD order), so that key queries are plain SQL filters.
MAX_DIMENSIONS = 12
DIMENSION_COLUMNS = [f"d{i}" for i in range(1, MAX_DIMENSIONS + 1)]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- public area -------------------------------------------------------------------

#: A release's life: draft (planned, announced in the calendar, no data written) ->
#: scheduled (protected, audited, written; embargoed until release_time) -> published
#: (the scheduler has confirmed it) -> corrected (a later release corrects it).
RELEASE_STATUSES = ("draft", "scheduled", "published", "corrected")

public_release = Table(
    "public_release",
    metadata,
    Column("id", Integer, primary_key=True),
    # When the release is (or was) made public, in UTC. Nothing of it is visible before.
    Column("release_time", DateTime(timezone=True), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("title", Text, nullable=False, default="{}"),  # JSON {az, en, ru}
    Column("status", String(16), nullable=False, default="published"),
    Column("corrects_ref", ForeignKey("public_release.id"), nullable=True),
    Column("scheduled_at", DateTime(timezone=True), nullable=True),
    Column("published_at", DateTime(timezone=True), nullable=True),  # when the scheduler confirmed it
)

# What a release carries, per dataflow: planned with the release; the counts are filled
# in when it is scheduled (what it added, revised, withdrew and withheld).
public_release_dataflow = Table(
    "public_release_dataflow",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("release_ref", ForeignKey("public_release.id"), nullable=False),
    Column("dataflow", String(200), nullable=False),  # AGENCY:ID(VERSION)
    # Observations whose period starts on or after this period's start are provisional
    # (OBS_STATUS P); NULL: every observation is final (A).
    Column("provisional_from", String(20), nullable=True),
    Column("added", Integer, nullable=True),
    Column("revised", Integer, nullable=True),
    Column("withdrawn", Integer, nullable=True),
    Column("withheld", Integer, nullable=True),
    UniqueConstraint("release_ref", "dataflow"),
)

# Files published with a release (its press bulletins and charts), embargoed with it.
public_release_attachment = Table(
    "public_release_attachment",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("release_ref", ForeignKey("public_release.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("media_type", String(100), nullable=False),
    Column("content", LargeBinary, nullable=False),
    UniqueConstraint("release_ref", "name"),
)

# One row: a counter every publisher transaction increments. Part of the API's state
# token (with the clock), and the row two schedulers contend for.
public_state = Table(
    "public_state",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("change", BigInteger, nullable=False, default=0),
)

public_structure = Table(
    "public_structure",
    metadata,
    Column("id", Integer, primary_key=True),
    # codelist, conceptscheme, categoryscheme, agencyscheme, datastructure, dataflow,
    # categorisation
    Column("kind", String(32), nullable=False),
    Column("agency", String(64), nullable=False),
    Column("artefact_id", String(128), nullable=False),
    Column("version", String(32), nullable=False),
    # The structure document (JSON text), see store.documents.
    Column("document", Text, nullable=False),
    Column("release_ref", ForeignKey("public_release.id"), nullable=False),
    # A later release that changes the document supersedes this row with a new one. The
    # first row of a dataflow is its identity: public_series.dataflow_ref points to it.
    Column("superseded_ref", ForeignKey("public_release.id"), nullable=True),
    UniqueConstraint("kind", "agency", "artefact_id", "version", "release_ref"),
)

public_series = Table(
    "public_series",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataflow_ref", ForeignKey("public_structure.id"), nullable=False),
    Column("series_key", String(512), nullable=False),
    *[Column(name, String(64)) for name in DIMENSION_COLUMNS],
    UniqueConstraint("dataflow_ref", "series_key"),
)

public_observation = Table(
    "public_observation",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("series_ref", ForeignKey("public_series.id"), nullable=False),
    Column("time_period", String(20), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    # NULL for a withheld value (OBS_STATUS Q): the true value is never stored here.
    Column("value", Float, nullable=True),
    Column("obs_status", String(8), nullable=True),
    Column("conf_status", String(8), nullable=True),
    Column("release_ref", ForeignKey("public_release.id"), nullable=False),
    Column("superseded_ref", ForeignKey("public_release.id"), nullable=True),
)
# Key and period queries read the current vintage of a series in period order.
Index(
    "ix_public_observation_current",
    public_observation.c.series_ref,
    public_observation.c.period_start,
    sqlite_where=public_observation.c.superseded_ref.is_(None),
    postgresql_where=public_observation.c.superseded_ref.is_(None),
)
Index("ix_public_observation_release", public_observation.c.release_ref)
# Revision reports and history read the rows a release superseded.
Index("ix_public_observation_superseded", public_observation.c.superseded_ref)

PUBLIC_TABLES = (public_release, public_release_dataflow, public_release_attachment, public_state,
                 public_structure, public_series, public_observation)

# --- staging area (publisher only) ----------------------------------------------------

staging_extract = Table(
    "staging_extract",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("dataflow", String(200), nullable=False),  # AGENCY:ID(VERSION)
    Column("filename", String(500), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("ingested_at", DateTime(timezone=True), nullable=False),
)

staging_observation = Table(
    "staging_observation",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("dataflow", String(200), nullable=False),
    Column("series_key", String(512), nullable=False),
    Column("time_period", String(20), nullable=False),
    Column("value", Float, nullable=False),
    Column("extract_ref", ForeignKey("staging_extract.id"), nullable=False),
    # The cell key of the cell-key method (ABS/ONS): the sum of the cell's secret
    # record keys mod 256, from the extract; NULL when the dataflow's extract has none.
    Column("cell_key", Integer, nullable=True),
    UniqueConstraint("dataflow", "series_key", "time_period"),
)

# The private log of disclosure control: per release and cell, the true value, what
# was published and why. Written by the publisher; never read by the API.
staging_protection = Table(
    "staging_protection",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("release_ref", Integer, nullable=False),
    Column("dataflow", String(200), nullable=False),
    Column("series_key", String(512), nullable=False),
    Column("time_period", String(20), nullable=False),
    Column("true_value", Float, nullable=False),
    Column("public_value", Float, nullable=True),
    # free | primary | secondary | rounded | perturbed
    Column("status", String(16), nullable=False),
    Column("method", String(16), nullable=False),
)
Index("ix_staging_protection_release_dataflow", staging_protection.c.release_ref, staging_protection.c.dataflow)

STAGING_TABLES = (staging_extract, staging_observation, staging_protection)
