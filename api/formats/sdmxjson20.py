"""SDMX-JSON 2.0.0 data messages (github sdmx-twg/sdmx-json, tag v2.0.0, data-message).

Time series view (dimensionAtObservation=TIME_PERIOD): every DSD dimension is presented
at ``series`` level, TIME_PERIOD at ``observation`` level, the dataflow's constant series
attributes (UNIT_MEASURE) at ``series`` level and OBS_STATUS / CONF_STATUS at
``observation`` level. Other views (``DataMessage.dimension_at_observation``): a
cross-section puts that dimension at ``observation`` level and TIME_PERIOD in the series
key; AllDimensions (flat) puts every dimension at ``observation`` level and the
observations directly in the data set (no ``series``). Outside time series the constant
series attributes are presented at ``observation`` level (they relate to every dimension
but time), as the field guide's flat sample does. ``attributes``, ``measures`` and
``detail`` drop components; without observations (serieskeysonly, nodata) the series
carry no ``observations``. Dimension and attribute values are written once in the structure
and referred to by index in the data set, as the field guide's "Handling indexes" asks.

Streaming: the structure needs only what ``DataMessage`` knows before the rows arrive
(the codes and periods that occur). Observation attributes list *all* codes of their
codelists, so the structure is complete before the first row is read. Then each series
is encoded with orjson as soon as its key changes and appended to a byte buffer that is
handed on in blocks of about ``CHUNK`` bytes; the body as a whole is never held.

Component names come from the concept schemes when the caller passes them in
``message.extra["conceptschemes"]`` (a list of conceptscheme documents); names are
optional in SDMX-JSON, so without them components carry only their ids.
Optional ``message.extra["dataflow_url"]`` / ``["datastructure_url"]`` add an ``href``
to the structure links, which otherwise carry the SDMX URN (enough for the schema).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from api.formats import DataMessage, Obs, columns, register
from api.formats.chunks import CHUNK
from store import periods as sdmx_periods
from store.documents import LANGUAGES

# The schema this message follows. The schema's own "id" points at the master branch,
# where 2.0.0 is no longer kept (master now holds 2.1); the tag keeps it resolvable.
SCHEMA_URL = ("https://raw.githubusercontent.com/sdmx-twg/sdmx-json/v2.0.0/"
              "data-message/tools/schemas/2.0.0/sdmx-json-data-schema.json")

MEDIA_TYPE = "application/vnd.sdmx.data+json; charset=utf-8; version=2.0.0"

# SDMX cross-domain concepts useful to visualisation tools (field guide: component roles).
ROLES = {"FREQ", "TIME_PERIOD", "UNIT_MEASURE", "OBS_STATUS", "CONF_STATUS", "REF_AREA"}

_URN = "urn:sdmx:org.sdmx.infomodel.datastructure.{cls}={agency}:{id}({version})"


# --- localised text ---------------------------------------------------------------------

def _lang_order(lang: str) -> list[str]:
    """Languages in the message, the requested (or fallback) one first."""
    main = lang if lang in LANGUAGES else "en"
    return [main, *(lg for lg in LANGUAGES if lg != main)]


def _texts(obj: dict, field: str, langs: list[str]) -> dict:
    """``{field: best match, field+'s': all languages}`` for a localised field, or {}."""
    texts = {k: v for k, v in (obj.get(field) or {}).items() if v}
    if not texts:
        return {}
    best = next((texts[lg] for lg in langs if lg in texts), next(iter(texts.values())))
    ordered = {lg: texts[lg] for lg in langs if lg in texts}
    ordered.update({k: v for k, v in texts.items() if k not in ordered})
    return {field: best, field + "s": ordered}


def _named(obj: dict, langs: list[str]) -> dict:
    return {**_texts(obj, "name", langs), **_texts(obj, "description", langs)}


# --- structure --------------------------------------------------------------------------

def _concepts(message: DataMessage) -> dict[tuple[str, str, str, str], dict]:
    """(agency, scheme id, version, concept id) -> concept, from extra["conceptschemes"]."""
    out = {}
    for scheme in message.extra.get("conceptschemes") or []:
        for c in scheme.get("concepts", []):
            out[(scheme["agency"], scheme["id"], scheme["version"], c["id"])] = c
    return out


def _component(comp: dict, concepts: dict, langs: list[str]) -> dict:
    """id, name(s), description(s) and roles of a DSD component (from its concept)."""
    out: dict = {"id": comp["id"]}
    ref = comp.get("concept") or {}
    concept = concepts.get((ref.get("agency"), ref.get("id"), ref.get("version"), ref.get("item")))
    if concept:
        out.update(_named(concept, langs))
    role = ref.get("item", comp["id"])
    if role in ROLES:
        out["roles"] = [role]
    return out


def _code_value(code: dict, langs: list[str]) -> dict:
    value = {"id": code["id"], **_texts(code, "name", langs)}
    if "name" not in value:  # the schema needs a name with every coded value
        value["name"] = code["id"]
    if code.get("parent"):
        value["parent"] = code["parent"]
    return value


def _codes_by_id(codelist: dict | None) -> dict[str, dict]:
    return {c["id"]: c for c in (codelist or {}).get("codes", [])}


def _period_value(period: str) -> dict:
    value = {"id": period, "name": period}
    try:
        first, last = sdmx_periods.bounds(period)
    except sdmx_periods.PeriodError:
        return value
    value["start"] = f"{first.isoformat()}T00:00:00Z"
    value["end"] = f"{last.isoformat()}T23:59:59Z"
    return value


def _links(message: DataMessage) -> list[dict]:
    flow, dsd = message.dataflow, message.dsd
    links = []
    for cls, doc, rel, href in (("Dataflow", flow, "dataflow", message.extra.get("dataflow_url")),
                                ("DataStructure", dsd, "datastructure",
                                 message.extra.get("datastructure_url"))):
        link = {"rel": rel, "urn": _URN.format(cls=cls, agency=doc["agency"], id=doc["id"],
                                                 version=doc["version"])}
        if href:
            link["href"] = href
        links.append(link)
    return links


def _prepared(dt: datetime) -> str:
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Layout:
    """The structure object plus the index maps the data set needs."""

    def __init__(self, message: DataMessage):
        langs = _lang_order(message.lang)
        self.langs = langs
        concepts = _concepts(message)
        dsd = message.dsd
        dims = dsd["dimensions"]
        if len(message.dimension_codes) != len(dims):
            raise ValueError(f"dimension_codes has {len(message.dimension_codes)} lists "
                             f"for {len(dims)} dimensions of {dsd['id']}")

        # Dimensions: those of the series key at series level, the dimension(s) at the
        # observation level (TIME_PERIOD by default; all of them for AllDimensions) there.
        td = dsd["time_dimension"]
        by_id: dict[str, dict] = {}
        for pos, (dim, codes) in enumerate(zip(dims, message.dimension_codes)):
            cl = _codes_by_id(message.codelists.get(dim["id"]))
            values = [_code_value(cl.get(code, {"id": code}), langs) for code in codes]
            by_id[dim["id"]] = ({**_component(dim, concepts, langs), "keyPosition": pos, "values": values},
                                {code: i for i, code in enumerate(codes)})
        by_id[td["id"]] = ({**_component(td, concepts, langs), "keyPosition": len(dims),
                            "values": [_period_value(p) for p in message.periods]},
                           {p: i for i, p in enumerate(message.periods)})
        series_dims = [by_id[d][0] for d in message.series_dimension_ids]
        obs_dims = [by_id[d][0] for d in message.observation_dimension_ids]
        # Per position of the series / observation key: the index of each value.
        self.series_index = [by_id[d][1] for d in message.series_dimension_ids]
        self.obs_index = [by_id[d][1] for d in message.observation_dimension_ids]

        # Attributes: the dataflow's constant values at series level (time series) or at
        # observation level (other views: a series attribute relates to every dimension but
        # time); observation ones with all codes of their codelists, so the structure is
        # known before any row. Only those the view asks for (attributes=, detail=).
        dim_ids = [d["id"] for d in dims]
        fixed = message.series_attributes
        series_attrs, self.series_attr_values = [], []
        obs_attrs, self.obs_attr_index = [], []
        self.obs_constants: list = []  # constant values written first on every observation
        obs_attr_ids = set(message.observation_attribute_ids)
        declared = {a["id"] for a in dsd["attributes"]}
        # A constant the dataflow sets for an attribute its DSD lacks is still shown (as
        # the CSV and XML formats do), attached to all dimensions.
        undeclared = [{"id": a, "attached_to": "series"} for a in fixed if a not in declared]
        constants_on_obs = []
        for attr in [*dsd["attributes"], *undeclared]:
            comp = {**_component(attr, concepts, langs), "isMandatory": bool(attr.get("mandatory"))}
            codelist = message.codelists.get(attr["id"])
            if attr["attached_to"] == "observation":
                if attr["id"] not in obs_attr_ids:
                    continue
                comp["relationship"] = {"observation": {}}
                if codelist and codelist.get("codes"):
                    comp["values"] = [_code_value(c, langs) for c in codelist["codes"]]
                    self.obs_attr_index.append({c["id"]: i for i, c in enumerate(codelist["codes"])})
                else:  # uncoded: values go into the data set as they are
                    self.obs_attr_index.append(None)
                obs_attrs.append(comp)
            else:
                if not message.wants_attribute(attr["id"]):
                    continue
                comp["relationship"] = {"dimensions": dim_ids}
                code = fixed.get(attr["id"])
                if code is None:
                    value = None
                elif codelist is not None:
                    code_doc = _codes_by_id(codelist).get(code, {"id": code})
                    comp["values"] = [_code_value(code_doc, langs)]
                    value = 0
                else:
                    value = code
                if message.time_series:
                    self.series_attr_values.append(value)
                    series_attrs.append(comp)
                else:
                    self.obs_constants.append(value)
                    constants_on_obs.append(comp)
        obs_attrs = constants_on_obs + obs_attrs

        pm = dsd["primary_measure"]
        flow = message.dataflow
        self.structure = {
            "links": _links(message),
            **_named(flow, langs),
            "dimensions": {"series": series_dims, "observation": obs_dims},
            "measures": {"observation": [_component(pm, concepts, langs)] if message.measures else []},
            "attributes": {"series": series_attrs, "observation": obs_attrs},
            "dataSets": [0],
        }


# --- the message ------------------------------------------------------------------------

# Obs fields holding the observation-level attributes (DataMessage.observation_attributes
# reads the same two); anything else goes through that method, more slowly.
_OBS_FIELDS = {"OBS_STATUS": Obs._fields.index("obs_status"),
               "CONF_STATUS": Obs._fields.index("conf_status")}


def _number(value: float | None) -> int | float | None:
    """Counts as JSON integers, other values as numbers, withheld values as null."""
    if value is None:
        return None
    value = float(value)
    return int(value) if value.is_integer() else value


def _observation_encoder(message: DataMessage, layout: _Layout):
    """row -> [value, attribute value indexes...] (the field guide's observation array)."""
    attr_ids = message.observation_attribute_ids
    fields = [_OBS_FIELDS.get(a) for a in attr_ids]
    if None in fields:
        def attributes(row: Obs):
            return message.observation_attributes(row)
    else:
        def attributes(row: Obs):
            return [row[f] for f in fields]
    indexes = list(zip(attr_ids, layout.obs_attr_index))

    measures, constants = message.measures, layout.obs_constants

    def encode(row: Obs) -> list:
        out = [_number(row.value)] if measures else []
        out += constants
        for (attr_id, index), code in zip(indexes, attributes(row)):
            if code is None or index is None:
                out.append(code)
            elif (i := index.get(code)) is not None:
                out.append(i)
            else:
                raise ValueError(f"{'.'.join(row.key)} {row.period}: {attr_id} {code!r} "
                                 "is not in its codelist")
        return out

    return encode


def _index_key(indexes: list[dict[str, int]], values: tuple[str, ...], what: str) -> bytes:
    """A series or observation key as the positions of its values in the structure."""
    try:
        return ":".join([str(index[v]) for index, v in zip(indexes, values)]).encode("ascii")
    except KeyError as exc:
        raise ValueError(f"{what} {'.'.join(values)}: {exc} is not in the structure") from None


def _series_head(series_attrs: list) -> bytes:
    """A series object up to its observations: ``{"attributes":[...],"observations":{``
    (what orjson writes for the series dict, left open)."""
    return orjson.dumps({"attributes": series_attrs} if series_attrs else {})[:-1] + (
        b',"observations":{' if series_attrs else b'"observations":{')


@register("jsondata", MEDIA_TYPE, "data", needs_outline=True, columnar=True, datasets=True)
def sdmx_json_20(message: DataMessage) -> Iterator[bytes]:
    if message.batches is not None and not columns.time_series_batches(message):
        message = columns.as_rows(message)  # a view the columns are not written in
    layout = _Layout(message)
    meta = {
        "schema": SCHEMA_URL,
        "id": message.message_id,
        "prepared": _prepared(message.prepared),
        "test": False,
        "contentLanguages": layout.langs,
        "sender": {"id": message.sender},
    }
    dataset_head = {"structure": 0, "action": "Information", "links": _links(message)[:1]}
    buf = bytearray(b'{"meta":')
    buf += orjson.dumps(meta)
    buf += b',"data":{"structures":['
    buf += orjson.dumps(layout.structure)
    buf += b'],"dataSets":['
    encode = _observation_encoder(message, layout)

    if message.datasets is not None:  # several data sets (includeHistory)
        for i, (part, one) in enumerate(message.parts()):
            head = {"structure": 0, "action": part.action}
            if part.valid_from is not None:
                head["validFrom"] = _prepared(part.valid_from)
            if part.valid_to is not None:
                head["validTo"] = _prepared(part.valid_to)
            if i:
                buf += b","
            buf += orjson.dumps(head)[:-1]
            yield from _dataset_body(one, layout, encode, buf)
            buf = bytearray()
        yield b"]}}"
        return
    buf += orjson.dumps(dataset_head)[:-1]  # leave the object open for "series"
    if message.batches is not None:  # a large answer as columns, in the time-series view
        buf += b',"series":{'
        yield bytes(buf)
        yield from _json_columns(message, layout)
        yield b"}}]}}"
        return
    yield from _dataset_body(message, layout, encode, buf)
    yield b"]}}"


def _dataset_body(message: DataMessage, layout: "_Layout", encode, buf: bytearray) -> Iterator[bytes]:
    """A data set's observations (flat) or series, after `buf` (the data set's object, left
    open), up to the end of the data set's object."""
    index_key = _index_key
    separator = b'"'
    if message.flat:  # AllDimensions: observations directly in the data set
        buf += b',"observations":{'
        for row in message.rows:
            buf += separator
            buf += index_key(layout.obs_index, message.observation_key(row), "observation")
            buf += b'":'
            buf += orjson.dumps(encode(row))
            separator = b',"'
            if len(buf) >= CHUNK:
                yield bytes(buf)
                buf.clear()
        buf += b"}}"
        yield bytes(buf)
        return

    buf += b',"series":{'
    series_attrs = layout.series_attr_values
    for key, rows in message.series():
        series: dict = {"attributes": series_attrs} if series_attrs else {}
        if message.observations:
            observations = {}
            for row in rows:
                obs_key = index_key(layout.obs_index, message.observation_key(row), "observation")
                observations[obs_key.decode("ascii")] = encode(row)
            series["observations"] = observations
        buf += separator
        buf += index_key(layout.series_index, key, "series")
        buf += b'":'
        buf += orjson.dumps(series)
        separator = b',"'
        if len(buf) >= CHUNK:
            yield bytes(buf)
            buf.clear()
    buf += b"}}"
    yield bytes(buf)


def _json_columns(message: DataMessage, layout: _Layout) -> Iterator[bytes]:
    """The series of sdmx_json_20 from columns (time series), the same bytes: each series
    ``"<key indexes>":{"attributes":[...],"observations":{"<period index>":[value,
    attribute indexes...],...}}``, commas between series and between observations across
    batch boundaries."""
    head = _series_head(layout.series_attr_values)

    def open_series(position: int) -> str:
        key = message.key_of_series(position)
        return ('"' + _index_key(layout.series_index, key, "series").decode("ascii") + '":'
                + head.decode("utf-8"))

    series = columns.SeriesWriter(open_series, "}}", separator=",", between=",")
    periods = pa.array(message.periods, pa.string())
    measures, constants = message.measures, layout.obs_constants
    constants_text = [orjson.dumps(c).decode("utf-8") for c in constants]
    attrs = list(zip(message.observation_attribute_ids, layout.obs_attr_index))
    value_sets = [pa.array(list(index), pa.string()) if index is not None else None for _, index in attrs]

    def attribute_text(batch: columns.Batch, attr_id: str, value_set: pa.Array | None) -> pa.Array:
        codes = batch.attribute(attr_id)
        if value_set is None:  # uncoded: the value as a JSON string
            return _json_strings(codes)
        index = pc.index_in(codes, value_set=value_set)
        unknown = pc.and_(pc.is_valid(codes), pc.is_null(index))
        if pc.any(unknown).as_py():
            i = pc.index(unknown, True).as_py()
            raise ValueError(f"{'.'.join(message.key_of_series(int(batch.series[i])))} {batch.period[i]}: "
                             f"{attr_id} {codes[i].as_py()!r} is not in its codelist")
        return pc.fill_null(pc.cast(index, pa.string()), "null")

    def line(batch: columns.Batch):
        position = pc.index_in(batch.period, value_set=periods)
        if pc.any(pc.is_null(position)).as_py():
            i = pc.index(pc.is_null(position), True).as_py()
            raise ValueError(f"observation {batch.period[i]}: {batch.period[i].as_py()!r} is not in the structure")
        elements: list = []  # the observation array's, as encode() gives them
        if measures:
            number = batch.number if batch.number is not None else batch.value.cast(pa.float64())
            elements.append(columns.json_number(number))
        elements += constants_text
        elements += [attribute_text(batch, a, value_set) for (a, _), value_set in zip(attrs, value_sets)]
        array = [piece for i, e in enumerate(elements) for piece in ([","] if i else []) + [e]]
        return series.lines(batch, '"', pc.cast(position, pa.string()), '":[', *array, "]")

    yield from columns.blocks(message.batches, line)
    yield series.end().encode("ascii")


def _json_strings(values: pa.Array) -> pa.Array:
    """Strings as orjson writes them (null for a missing one): quoted, with the few that
    hold a quote, a backslash or a control character through orjson itself."""
    texts = columns.join('"', values, '"')
    escape = pc.fill_null(pc.match_substring_regex(values, r'["\\\x00-\x1f]'), False)
    positions = [i for i, e in enumerate(escape.to_pylist()) if e] if pc.any(escape).as_py() else []
    if positions:
        texts = texts.to_pylist()
        for i in positions:
            texts[i] = orjson.dumps(values[i].as_py()).decode("utf-8")
        texts = pa.array(texts, pa.string())
    return pc.if_else(pc.is_valid(values), texts, "null")
