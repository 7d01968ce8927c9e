"""The open-data catalogue: every published dataflow as a DCAT-AP 3.0 dataset, so that a
CKAN portal (ckanext-dcat's harvester) or data.europa.eu can list the statistics as they
are, with their periods, frequency, release dates and ways to download them.

* ``/catalogue`` (JSON-LD unless the Accept header asks for Turtle or RDF/XML),
  ``/catalogue.jsonld``, ``/catalogue.ttl``, ``/catalogue.rdf``: one model, three
  serialisations.

It is built in two steps, both pure: ``facts`` gathers plain data (names, periods, release
dates, the contact published in the SIMS metadata) from the snapshot's structure
documents and releases, and ``graph`` turns them into RDF. Only public things are in it:
the snapshot's documents already hide what an embargoed release carries, and the release
dates are those of the releases public at the snapshot's moment; the answer goes through
the application's ``respond``, so it changes (cache key, ETag) at every release time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from fastapi import FastAPI, Request
from fastapi.responses import Response
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD
from sqlalchemy import Connection

from api import store
from store.documents import urn_ref
from store.periods import bounds

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
EU = "http://publications.europa.eu/resource/authority/"
IANA = "https://www.iana.org/assignments/media-types/"

#: The compact JSON-LD context: the prefixes a reader of the catalogue meets.
CONTEXT = {"dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "vcard": str(VCARD),
           "xsd": str(XSD), "adms": str(ADMS), "skos": str(SKOS)}
LANGUAGES = ("az", "en", "ru")
#: The EU language authority's codes of the catalogue's three languages.
EU_LANGUAGE = {"az": "AZE", "en": "ENG", "ru": "RUS"}
#: SDMX FREQ codes -> the EU frequency authority.
EU_FREQUENCY = {"A": "ANNUAL", "S": "ANNUAL_2", "Q": "QUARTERLY", "M": "MONTHLY", "W": "WEEKLY", "D": "DAILY"}
#: No licence is declared in the published documents: the agency's open data default.
LICENCE = EU + "licence/CC_BY_4_0"
SDMX_STANDARD = "https://www.iso.org/standard/52500.html"  # ISO 17369, SDMX
SDMX_REST = "https://github.com/sdmx-twg/sdmx-rest"  # the SDMX REST API specification

TITLE = {
    "az": "Azərbaycanın miqrasiya statistikası",
    "en": "Migration statistics of Azerbaijan",
    "ru": "Миграционная статистика Азербайджана",
}
DESCRIPTION = {
    "az": "Dövlət Miqrasiya Xidmətinin dərc etdiyi rəsmi miqrasiya statistikası: SDMX API-nin bütün məlumat "
          "axınları, məlumatlar SDMX-CSV, SDMX-ML, SDMX-JSON və sadə CSV formatlarında.",
    "en": "Official migration statistics released by the State Migration Service of the Republic of "
          "Azerbaijan: every dataflow of its SDMX API, with the data as SDMX-CSV, SDMX-ML, SDMX-JSON and plain CSV.",
    "ru": "Официальная миграционная статистика, публикуемая Государственной миграционной службой "
          "Азербайджанской Республики: все потоки данных её SDMX API, данные в форматах SDMX-CSV, SDMX-ML, "
          "SDMX-JSON и простом CSV.",
}
SERVICE_TITLE = {"az": "SDMX API", "en": "SDMX API", "ru": "SDMX API"}
SERVICE_DESCRIPTION = {
    "az": "SDMX REST v2 (SDMX 3.0) və v1.5 (SDMX 2.1): məlumatlar, strukturlar, əlçatanlıq və referans "
          "metaməlumatları.",
    "en": "SDMX REST v2 (SDMX 3.0) and v1.5 (SDMX 2.1): data, structures, availability and reference metadata.",
    "ru": "SDMX REST v2 (SDMX 3.0) и v1.5 (SDMX 2.1): данные, структуры, доступность и справочные метаданные.",
}


@dataclass(frozen=True)
class Download:
    """One way to get a dataflow's data: a distribution."""
    key: str  # the last segment of the distribution's IRI
    title: str
    file_type: str  # EU file-type authority code
    media_type: str  # IANA media type
    sdmx_format: str | None  # format= of the SDMX data route; None: the friendly API's file (key: extension)


DOWNLOADS = (
    Download("sdmx-csv", "SDMX-CSV 2.0", "CSV", "text/csv", "csvdata"),
    Download("sdmx-ml", "SDMX-ML 2.1 structure-specific", "XML", "application/xml", "structurespecificdata"),
    Download("sdmx-json", "SDMX-JSON 2.0", "JSON", "application/json", "jsondata"),
    Download("csv", "CSV", "CSV", "text/csv", None),
    Download("xlsx", "Excel", "XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", None),
)


@dataclass
class Contact:
    name: dict[str, str]
    email: str | None = None
    url: str | None = None


@dataclass
class DatasetFacts:
    """What the catalogue says of one published dataflow."""
    flow: dict
    urn: str
    frequency: str | None
    category: dict | None  # the category item (id, name) of the agency's scheme
    keywords: dict[str, list[str]]
    first_period: str | None
    last_period: str | None
    issued: datetime | None  # the first public release carrying it
    modified: datetime | None  # the latest public release carrying it
    contact: Contact | None
    has_metadata: bool


@dataclass
class CatalogueFacts:
    agency: dict  # id, name (az, en, ru)
    category_scheme: dict | None
    issued: datetime | None
    modified: datetime | None
    datasets: list[DatasetFacts] = field(default_factory=list)


# --- facts: plain data from the snapshot -------------------------------------------------------

def dataflow_urn(flow: dict) -> str:
    return (f"urn:sdmx:org.sdmx.infomodel.datastructure.Dataflow="
            f"{flow['agency']}:{flow['id']}({flow['version']})")


def published_dataflows(documents: list[dict]) -> list[dict]:
    """The latest version of each dataflow the documents hold (embargoed ones are not there)."""
    return sorted(store.select_versions([d for d in documents if d["kind"] == "dataflow"], "latest"),
                  key=lambda d: d["id"])


def release_dates(releases: store.Releases, now: datetime, ref: str) -> tuple[datetime | None, datetime | None]:
    """When the public releases carrying dataflow `ref` went out: the first and the latest."""
    times = [x.release_time for x in releases.public(now) if ref in x.dataflows]
    return (min(times), max(times)) if times else (None, None)


def agency_of(documents: list[dict], agency_id: str) -> dict:
    for scheme in (d for d in documents if d["kind"] == "agencyscheme"):
        for agency in scheme.get("agencies", []):
            if agency["id"] == agency_id:
                return agency
    return {"id": agency_id, "name": {"en": agency_id}}


def _sims_texts(metadata_set: dict) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}

    def walk(attributes):
        for a in attributes:
            if a.get("text"):
                out[a["id"]] = a["text"]
            walk(a.get("attributes", []))

    walk(metadata_set.get("attributes", []))
    return out


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
WEBSITE = re.compile(r"\b((?:[a-z0-9-]+\.)+(?:gov\.az|az|org|com|int))\b", re.IGNORECASE)


def contact_of(metadata_set: dict | None) -> Contact | None:
    """The contact as the SIMS metadata publish it (section 1, Contact): the organisation
    and its unit, the e-mail address if one is written there, else the website the texts
    send users to. Nothing is made up: what is not published is left out."""
    if metadata_set is None:
        return None
    texts = _sims_texts(metadata_set)
    org, unit = texts.get("CONTACT_ORGANISATION", {}), texts.get("ORGANISATION_UNIT", {})
    name = {lang: ", ".join(x for x in (org.get(lang, "").rstrip("."), unit.get(lang, "").rstrip(".")) if x)
            for lang in LANGUAGES if org.get(lang)}
    if not name:
        return None
    written = " ".join(t for c in ("CONTACT_EMAIL", "CONTACT_MAIL") for t in texts.get(c, {}).values())
    email = EMAIL.search(written)
    site = WEBSITE.search(written)
    return Contact(name, email.group(0) if email else None,
                   f"https://{site.group(1).lower()}" if site else None)


def keywords_of(flow: dict, category: dict | None, documents: list[dict]) -> dict[str, list[str]]:
    """Per language: the topic and the concepts the dataflow breaks its figures down by
    (what a portal user searches for), without FREQ, which every dataflow has."""
    concepts = {(cs["agency"], cs["id"], c["id"]): c.get("name", {})
                for cs in documents if cs["kind"] == "conceptscheme" for c in cs.get("concepts", [])}
    dsd = next((d for d in documents if d["kind"] == "datastructure" and d["agency"] == flow["structure"]["agency"]
                and d["id"] == flow["structure"]["id"] and d["version"] == flow["structure"]["version"]), None)
    names = [category["name"]] if category else []
    for dim in (dsd or {}).get("dimensions", []):
        ref = dim.get("concept") or {}
        name = concepts.get((ref.get("agency"), ref.get("id"), ref.get("item")))
        if name and dim["id"] != "FREQ":
            names.append(name)
    return {lang: list(dict.fromkeys(filter(None, (tag(n.get(lang, "")) for n in names)))) for lang in LANGUAGES}


def tag(text: str) -> str:
    """A keyword CKAN takes as a tag: it refuses a whole dataset whose tags hold anything
    but letters, digits, spaces, - _ . (so "Place of registration (economic region)" is
    "Place of registration"), or are shorter than 2 or longer than 100 characters."""
    text = re.sub(r"\([^)]*\)", " ", text)
    text = " ".join(re.sub(r"[^\w\s.-]", " ", text).split())
    return text if 2 <= len(text) <= 100 else ""


def category_of(flow: dict, documents: list[dict]) -> tuple[dict | None, dict | None]:
    """The category scheme and the category the dataflow is filed under."""
    ref = flow.get("category")
    if not ref:
        return None, None
    scheme = next((d for d in documents if d["kind"] == "categoryscheme" and d["agency"] == ref["agency"]
                   and d["id"] == ref["id"] and d["version"] == ref["version"]), None)
    item = next((c for c in (scheme or {}).get("categories", []) if c["id"] == ref["item"]), None)
    return scheme, item


def facts(documents: list[dict], releases: store.Releases, now: datetime,
          periods: dict[str, list[str]]) -> CatalogueFacts:
    """The catalogue as plain data. `periods`: per dataflow URN ref (AGENCY:ID(VERSION)),
    its published periods in time order (api.store.flow_periods)."""
    public = releases.public(now)
    flows = published_dataflows(documents)
    sims = {urn_ref(m["target"]): m for m in documents if m["kind"] == "metadataset" and m.get("target")}
    agency_id = flows[0]["agency"] if flows else next(
        (d["agency"] for d in documents if d["kind"] == "categoryscheme"), "AZ_SMS")
    out = CatalogueFacts(agency_of(documents, agency_id), None,
                         min((x.release_time for x in public), default=None),
                         max((x.release_time for x in public), default=None))
    for flow in flows:
        ref = urn_ref(flow)
        scheme, category = category_of(flow, documents)
        out.category_scheme = out.category_scheme or scheme
        issued, modified = release_dates(releases, now, ref)
        if issued is None:
            continue  # no public release carries it yet: under embargo, whatever the structures say
        seen = periods.get(ref) or []
        out.datasets.append(DatasetFacts(
            flow=flow, urn=dataflow_urn(flow), frequency=flow.get("frequency"), category=category,
            keywords=keywords_of(flow, category, documents),
            first_period=seen[0] if seen else None, last_period=seen[-1] if seen else None,
            issued=issued, modified=modified, contact=contact_of(sims.get(ref)), has_metadata=ref in sims))
    return out


# --- the graph ------------------------------------------------------------------------------

def _texts(g: Graph, subject, predicate, texts: dict[str, str] | None) -> None:
    for lang in LANGUAGES:
        if (texts or {}).get(lang):
            g.add((subject, predicate, Literal(texts[lang], lang=lang)))


def _timestamp(at: datetime) -> Literal:
    return Literal(at.replace(microsecond=0), datatype=XSD.dateTime)


def _typed(g: Graph, iri: str, cls, label: str | None = None, label_predicate=SKOS.prefLabel) -> URIRef:
    """An IRI of a controlled vocabulary, typed with the class DCAT-AP expects of it, so
    that validators that read no external vocabulary still see its class."""
    node = URIRef(iri)
    g.add((node, RDF.type, cls))
    if label:
        g.add((node, label_predicate, Literal(label, lang="en")))
    return node


class Iris:
    """The catalogue's own IRIs, under the API's base URL: stable, one per thing."""

    def __init__(self, base: str):
        self.base = base.rstrip("/")

    def catalogue(self) -> URIRef:
        return URIRef(f"{self.base}/catalogue")

    def dataset(self, flow_id: str) -> URIRef:
        return URIRef(f"{self.base}/catalogue/dataset/{flow_id}")

    def distribution(self, flow_id: str, key: str) -> URIRef:
        return URIRef(f"{self.base}/catalogue/dataset/{flow_id}/distribution/{key}")

    def service(self) -> URIRef:
        return URIRef(f"{self.base}/catalogue/service/sdmx")

    def publisher(self, agency_id: str) -> URIRef:
        return URIRef(f"{self.base}/catalogue/publisher/{agency_id}")

    def category_scheme(self, scheme: dict) -> URIRef:
        return URIRef(f"{self.base}/sdmx/3.0/structure/categoryscheme/{scheme['agency']}/{scheme['id']}/"
                      f"{scheme['version']}")

    def category(self, scheme: dict, item_id: str) -> URIRef:
        return URIRef(f"{self.category_scheme(scheme)}#{item_id}")

    def data(self, flow: dict, download: Download) -> URIRef:
        if download.sdmx_format is None:
            return URIRef(f"{self.base}/api/dataflows/{flow['id']}/data.{download.key}")
        return URIRef(f"{self.base}/sdmx/3.0/data/dataflow/{flow['agency']}/{flow['id']}/{flow['version']}/*"
                      f"?format={download.sdmx_format}")


def graph(cat: CatalogueFacts, base: str) -> Graph:
    """The DCAT-AP 3.0 catalogue of `cat`, its IRIs under `base`."""
    iris = Iris(base)
    g = Graph()
    for prefix, ns in CONTEXT.items():
        g.bind(prefix, ns)
    node = iris.catalogue()
    g.add((node, RDF.type, DCAT.Catalog))
    _texts(g, node, DCTERMS.title, TITLE)
    _texts(g, node, DCTERMS.description, DESCRIPTION)
    publisher = _publisher(g, iris, cat.agency)
    g.add((node, DCTERMS.publisher, publisher))
    g.add((node, FOAF.homepage, _typed(g, f"{iris.base}/", FOAF.Document)))
    for lang in LANGUAGES:
        g.add((node, DCTERMS.language, _typed(g, f"{EU}language/{EU_LANGUAGE[lang]}", DCTERMS.LinguisticSystem)))
    g.add((node, DCTERMS.license, _typed(g, LICENCE, DCTERMS.LicenseDocument)))
    if cat.issued:
        g.add((node, DCTERMS.issued, _timestamp(cat.issued)))
    if cat.modified:
        g.add((node, DCTERMS.modified, _timestamp(cat.modified)))
    g.add((node, DCAT.themeTaxonomy, _eu_themes(g)))
    if cat.category_scheme:
        g.add((node, DCAT.themeTaxonomy, _category_scheme(g, iris, cat.category_scheme)))
    service = _service(g, iris, publisher)
    g.add((node, DCAT.service, service))
    for ds in cat.datasets:
        dataset = _dataset(g, iris, ds, publisher, cat.category_scheme, service)
        g.add((node, DCAT.dataset, dataset))
        g.add((service, DCAT.servesDataset, dataset))
    return g


def _publisher(g: Graph, iris: Iris, agency: dict) -> URIRef:
    node = iris.publisher(agency["id"])
    g.add((node, RDF.type, FOAF.Agent))
    _texts(g, node, FOAF.name, agency.get("name"))
    kind = _typed(g, "http://purl.org/adms/publishertype/NationalAuthority", SKOS.Concept, "National authority")
    g.add((kind, SKOS.inScheme, URIRef("http://purl.org/adms/publishertype/1.0")))
    g.add((node, DCTERMS.type, kind))
    return node


def _eu_themes(g: Graph) -> URIRef:
    return _typed(g, EU + "data-theme", SKOS.ConceptScheme, "Data theme", DCTERMS.title)


def _eu_theme_society(g: Graph) -> URIRef:
    theme = _typed(g, EU + "data-theme/SOCI", SKOS.Concept, "Population and society")
    g.add((theme, SKOS.inScheme, URIRef(EU + "data-theme")))
    return theme


def _category_scheme(g: Graph, iris: Iris, scheme: dict) -> URIRef:
    node = iris.category_scheme(scheme)
    g.add((node, RDF.type, SKOS.ConceptScheme))
    _texts(g, node, DCTERMS.title, scheme.get("name"))
    return node


def _category(g: Graph, iris: Iris, scheme: dict, item: dict) -> URIRef:
    node = iris.category(scheme, item["id"])
    g.add((node, RDF.type, SKOS.Concept))
    _texts(g, node, SKOS.prefLabel, item.get("name"))
    g.add((node, SKOS.inScheme, iris.category_scheme(scheme)))
    g.add((node, SKOS.notation, Literal(item["id"])))
    return node


def _sdmx_standard(g: Graph) -> URIRef:
    return _typed(g, SDMX_STANDARD, DCTERMS.Standard, "ISO 17369: Statistical data and metadata exchange (SDMX)",
                  DCTERMS.title)


def _service(g: Graph, iris: Iris, publisher: URIRef) -> URIRef:
    node = iris.service()
    g.add((node, RDF.type, DCAT.DataService))
    _texts(g, node, DCTERMS.title, SERVICE_TITLE)
    _texts(g, node, DCTERMS.description, SERVICE_DESCRIPTION)
    g.add((node, DCAT.endpointURL, URIRef(f"{iris.base}/sdmx/3.0/")))
    g.add((node, DCAT.endpointDescription, URIRef(f"{iris.base}/openapi.json")))
    g.add((node, DCTERMS.conformsTo, _sdmx_standard(g)))
    g.add((node, DCTERMS.conformsTo, _typed(g, SDMX_REST, DCTERMS.Standard, "SDMX REST API", DCTERMS.title)))
    g.add((node, DCTERMS.publisher, publisher))
    g.add((node, DCTERMS.license, URIRef(LICENCE)))
    g.add((node, DCTERMS.accessRights, _public(g)))
    return node


def _public(g: Graph) -> URIRef:
    return _typed(g, EU + "access-right/PUBLIC", DCTERMS.RightsStatement)


def _dataset(g: Graph, iris: Iris, ds: DatasetFacts, publisher: URIRef, scheme: dict | None,
             service: URIRef) -> URIRef:
    flow = ds.flow
    node = iris.dataset(flow["id"])
    g.add((node, RDF.type, DCAT.Dataset))
    _texts(g, node, DCTERMS.title, flow.get("name"))
    _texts(g, node, DCTERMS.description, flow.get("description") or flow.get("name"))
    g.add((node, DCTERMS.identifier, Literal(ds.urn)))
    g.add((node, DCAT.theme, _eu_theme_society(g)))
    if ds.category and scheme:
        g.add((node, DCAT.theme, _category(g, iris, scheme, ds.category)))
    for lang, words in ds.keywords.items():
        for word in words:
            g.add((node, DCAT.keyword, Literal(word, lang=lang)))
    g.add((node, DCTERMS.publisher, publisher))
    if ds.contact:
        g.add((node, DCAT.contactPoint, _contact(g, ds.contact)))
    if ds.first_period and ds.last_period:
        g.add((node, DCTERMS.temporal, _coverage(g, ds.first_period, ds.last_period)))
    if ds.frequency in EU_FREQUENCY:
        g.add((node, DCTERMS.accrualPeriodicity,
               _typed(g, f"{EU}frequency/{EU_FREQUENCY[ds.frequency]}", DCTERMS.Frequency)))
    g.add((node, DCTERMS.spatial, _typed(g, EU + "country/AZE", DCTERMS.Location)))
    for lang in LANGUAGES:
        g.add((node, DCTERMS.language, URIRef(f"{EU}language/{EU_LANGUAGE[lang]}")))
    if ds.issued:
        g.add((node, DCTERMS.issued, _timestamp(ds.issued)))
    if ds.modified:
        g.add((node, DCTERMS.modified, _timestamp(ds.modified)))
    g.add((node, DCAT.landingPage, _typed(g, f"{iris.base}/?flow={flow['id']}", FOAF.Document)))
    if ds.has_metadata:
        g.add((node, FOAF.page, _typed(g, f"{iris.base}/dataflows/{flow['id']}/metadata", FOAF.Document)))
    g.add((node, DCTERMS.accessRights, _public(g)))
    g.add((node, DCTERMS.conformsTo, _sdmx_standard(g)))
    for download in DOWNLOADS:
        g.add((node, DCAT.distribution, _distribution(g, iris, flow, download, service)))
    return node


def _contact(g: Graph, contact: Contact) -> BNode:
    node = BNode()
    g.add((node, RDF.type, VCARD.Organization))
    g.add((node, RDF.type, VCARD.Kind))
    _texts(g, node, VCARD.fn, contact.name)
    if contact.email:
        g.add((node, VCARD.hasEmail, URIRef(f"mailto:{contact.email}")))
    if contact.url:
        g.add((node, VCARD.hasURL, URIRef(contact.url)))
    return node


def coverage_dates(first_period: str, last_period: str) -> tuple[date, date]:
    """The first day of the first period and the last day of the last one."""
    return bounds(first_period)[0], bounds(last_period)[1]


def _coverage(g: Graph, first_period: str, last_period: str) -> BNode:
    start, end = coverage_dates(first_period, last_period)
    node = BNode()
    g.add((node, RDF.type, DCTERMS.PeriodOfTime))
    g.add((node, DCAT.startDate, Literal(start.isoformat(), datatype=XSD.date)))
    g.add((node, DCAT.endDate, Literal(end.isoformat(), datatype=XSD.date)))
    return node


def _distribution(g: Graph, iris: Iris, flow: dict, download: Download, service: URIRef) -> URIRef:
    node = iris.distribution(flow["id"], download.key)
    url = iris.data(flow, download)
    g.add((node, RDF.type, DCAT.Distribution))
    g.add((node, DCTERMS.title, Literal(download.title)))
    g.add((node, DCAT.accessURL, url))
    g.add((node, DCAT.downloadURL, url))
    g.add((node, DCTERMS.format, _typed(g, f"{EU}file-type/{download.file_type}", DCTERMS.MediaTypeOrExtent)))
    g.add((node, DCAT.mediaType, _typed(g, IANA + download.media_type, DCTERMS.MediaType)))
    g.add((node, DCTERMS.license, URIRef(LICENCE)))
    if download.sdmx_format:
        g.add((node, DCAT.accessService, service))
    return node


# --- serialisations and routes ------------------------------------------------------------------

#: Serialisation -> (rdflib format, media type).
SERIALISATIONS = {
    "jsonld": ("json-ld", "application/ld+json"),
    "ttl": ("turtle", "text/turtle; charset=utf-8"),
    "rdf": ("xml", "application/rdf+xml"),
}


def serialise(g: Graph, kind: str) -> bytes:
    fmt = SERIALISATIONS[kind][0]
    if fmt == "json-ld":
        return g.serialize(format="json-ld", context=CONTEXT, auto_compact=True, ensure_ascii=False).encode("utf-8")
    return g.serialize(format=fmt, encoding="utf-8")


def negotiated(accept: str | None) -> str:
    """The serialisation the Accept header prefers (by q, then order); JSON-LD by default."""
    wanted = {"application/ld+json": "jsonld", "application/json": "jsonld", "text/turtle": "ttl",
              "application/x-turtle": "ttl", "application/rdf+xml": "rdf", "application/xml": "rdf"}
    ranked = []
    for n, part in enumerate((accept or "").split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        q = next((float(p[2:]) for p in params if p.startswith("q=") and _number(p[2:])), 1.0)
        if media.lower() in wanted and q > 0:
            ranked.append((-q, n, wanted[media.lower()]))
    return min(ranked)[2] if ranked else "jsonld"


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def dataflow_periods(conn: Connection, snap, documents: list[dict]) -> dict[str, list[str]]:
    """Per published dataflow, its periods as published at the snapshot's moment, read once
    per snapshot (the keys are those the data routes use for the same things)."""
    out = {}
    for flow in published_dataflows(documents):
        ref, key = urn_ref(flow), (flow["agency"], flow["id"], flow["version"])
        sid = snap.derived(("structure_id", key), lambda: store.structure_row_id(conn, flow))
        hidden = snap.hidden(ref)
        out[ref] = snap.derived(("periods", sid, hidden), lambda: store.flow_periods(conn, sid, hidden))
    return out


def install(app: FastAPI, *, respond, language, public_base: str | None = None) -> None:
    """Add the catalogue routes. `respond(request, media_type, prepare)`: the application's
    cached responder (api.app); `language` is taken for symmetry with the other route
    modules: the catalogue carries every language at once."""

    def base(request: Request) -> str:
        return (public_base or str(request.base_url)).rstrip("/")

    def answer(request: Request, kind: str) -> Response:
        def prepare(snap):
            def produce(conn: Connection) -> bytes:
                periods = dataflow_periods(conn, snap, snap.documents)
                return serialise(graph(facts(snap.documents, snap.releases, snap.now, periods), base(request)), kind)
            return produce
        return respond(request, SERIALISATIONS[kind][1], prepare)

    @app.get("/catalogue", tags=["catalogue"],
             summary="The open-data catalogue (DCAT-AP 3.0): JSON-LD, or Turtle / RDF/XML by the Accept header")
    def catalogue(request: Request) -> Response:
        return answer(request, negotiated(request.headers.get("accept")))

    @app.get("/catalogue.jsonld", tags=["catalogue"], summary="The open-data catalogue (DCAT-AP 3.0) as JSON-LD")
    def catalogue_jsonld(request: Request) -> Response:
        return answer(request, "jsonld")

    @app.get("/catalogue.ttl", tags=["catalogue"], summary="The open-data catalogue (DCAT-AP 3.0) as Turtle")
    def catalogue_ttl(request: Request) -> Response:
        return answer(request, "ttl")

    @app.get("/catalogue.rdf", tags=["catalogue"], summary="The open-data catalogue (DCAT-AP 3.0) as RDF/XML")
    def catalogue_rdf(request: Request) -> Response:
        return answer(request, "rdf")
