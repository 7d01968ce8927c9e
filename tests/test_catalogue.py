"""The open-data catalogue (api.catalogue): DCAT-AP 3.0 as JSON-LD, Turtle and RDF/XML, as a
CKAN portal's DCAT harvester reads it.

* the three serialisations are one graph;
* every published dataflow is a dcat:Dataset with what DCAT-AP 3.0 makes mandatory (and
  what this catalogue promises besides), its period coverage and frequency as the SDMX
  availability answers them, its Azerbaijani texts intact;
* the real DCAT-AP 3.0 SHACL shapes accept it (when a copy is at hand: DCAT_AP_SHACL or
  ../shared/dcat-ap/);
* the embargo: a dataflow first published by a scheduled release is not listed before its
  second and is listed from it, with dct:modified moving with it.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from api.app import create_app
from api.catalogue import negotiated, tag
from api.config import Settings
from publisher import releases as R
from publisher.extract import read_extract
from publisher.staging import ingest
from store.db import make_engine
from store.migrate import upgrade

from conftest import BACKENDS, new_database

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
EU = "http://publications.europa.eu/resource/authority/"
NS = {"com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"}
STRUCTURE_JSON = "application/vnd.sdmx.structure+json;version=2.0.0"

# DCAT-AP 3.0 (https://semiceu.github.io/DCAT-AP/releases/3.0.0/), the mandatory properties
# of each class, as the specification's tables and its SHACL shapes (sh:minCount 1) list them.
MANDATORY = {
    DCAT.Catalog: [DCTERMS.description, DCTERMS.publisher, DCTERMS.title],
    DCAT.Dataset: [DCTERMS.description, DCTERMS.title],
    DCAT.Distribution: [DCAT.accessURL],
    DCAT.DataService: [DCAT.endpointURL, DCTERMS.title],
    FOAF.Agent: [FOAF.name],
    SKOS.ConceptScheme: [DCTERMS.title],
    SKOS.Concept: [SKOS.prefLabel],
}
# What this catalogue promises besides (DCAT-AP's recommended and optional properties).
PROMISED = {
    DCAT.Catalog: [FOAF.homepage, DCTERMS.language, DCTERMS.license, DCTERMS.modified, DCTERMS.issued,
                   DCAT.themeTaxonomy, DCAT.dataset, DCAT.service],
    DCAT.Dataset: [DCTERMS.identifier, DCAT.theme, DCAT.keyword, DCTERMS.publisher, DCAT.contactPoint,
                   DCTERMS.temporal, DCTERMS.accrualPeriodicity, DCTERMS.spatial, DCTERMS.issued,
                   DCTERMS.modified, DCAT.landingPage, FOAF.page, DCTERMS.accessRights, DCTERMS.conformsTo,
                   DCAT.distribution],
    DCAT.Distribution: [DCAT.downloadURL, DCTERMS.format, DCAT.mediaType, DCTERMS.license, DCTERMS.title],
    DCAT.DataService: [DCAT.endpointDescription, DCAT.servesDataset, DCTERMS.conformsTo],
    FOAF.Agent: [DCTERMS.type],
}
LANGUAGES = {"az", "en", "ru"}
FORMATS = {"SDMX-CSV 2.0": "CSV", "SDMX-ML 2.1 structure-specific": "XML", "SDMX-JSON 2.0": "JSON", "CSV": "CSV",
           "Excel": "XLSX"}
EU_FREQUENCY = {"A": "ANNUAL", "Q": "QUARTERLY", "M": "MONTHLY"}


def catalogue(client, path: str = "/catalogue.ttl", fmt: str = "turtle") -> Graph:
    r = client.get(path)
    assert r.status_code == 200, r.text[:500]
    return Graph().parse(data=r.content, format=fmt)


@pytest.fixture(scope="module")
def graph(api_client) -> Graph:
    return catalogue(api_client)


def datasets(g: Graph) -> dict[str, URIRef]:
    """dataflow id -> its dcat:Dataset, by the dataflow URN in dct:identifier."""
    out = {}
    for ds in g.subjects(RDF.type, DCAT.Dataset):
        (urn,) = g.objects(ds, DCTERMS.identifier)
        out[re.search(r":([A-Z0-9_]+)\(", str(urn)).group(1)] = ds
    return out


def published_dataflows(client) -> set[str]:
    r = client.get("/sdmx/3.0/structure/dataflow/*/*/*", headers={"Accept": STRUCTURE_JSON})
    assert r.status_code == 200
    return {f["id"] for f in r.json()["data"]["dataflows"]}


def availability(client, flow_id: str) -> tuple[tuple[str, str], list[str]]:
    """The time range (first and last day) and the FREQ codes of a dataflow's data, as the
    SDMX availability route answers them."""
    r = client.get(f"/sdmx/3.0/availability/dataflow/AZ_SMS/{flow_id}/1.0")
    assert r.status_code == 200, r.text[:300]
    root = etree.fromstring(r.content)
    (kv,) = root.xpath("//com:KeyValue[@id='TIME_PERIOD']", namespaces=NS)
    span = (kv.xpath("string(com:TimeRange/com:StartPeriod)", namespaces=NS)[:10],
            kv.xpath("string(com:TimeRange/com:EndPeriod)", namespaces=NS)[:10])
    return span, root.xpath("//com:KeyValue[@id='FREQ']/com:Value/text()", namespaces=NS)


def one(g: Graph, subject, predicate):
    values = list(g.objects(subject, predicate))
    assert len(values) == 1, (subject, predicate, values)
    return values[0]


# --- one model, three serialisations -------------------------------------------------------------

def test_json_ld_turtle_and_rdf_xml_are_one_graph(api_client):
    answers = {path: api_client.get(path) for path in ("/catalogue.jsonld", "/catalogue.ttl", "/catalogue.rdf")}
    assert answers["/catalogue.jsonld"].headers["content-type"] == "application/ld+json"
    assert answers["/catalogue.ttl"].headers["content-type"] == "text/turtle; charset=utf-8"
    assert answers["/catalogue.rdf"].headers["content-type"] == "application/rdf+xml"
    jsonld = Graph().parse(data=answers["/catalogue.jsonld"].content, format="json-ld")
    turtle = Graph().parse(data=answers["/catalogue.ttl"].content, format="turtle")
    rdfxml = Graph().parse(data=answers["/catalogue.rdf"].content, format="xml")
    assert len(turtle) > 1000
    assert isomorphic(jsonld, turtle) and isomorphic(rdfxml, turtle)
    # A compact JSON-LD document: prefixed names, not full IRIs everywhere.
    body = answers["/catalogue.jsonld"].json()
    assert set(body["@context"]) >= {"dcat", "dct", "foaf", "vcard", "xsd", "adms", "skos"}
    assert any(node.get("@type") == "dcat:Catalog" for node in body["@graph"])


def test_catalogue_negotiates_by_accept_json_ld_by_default(api_client):
    cases = {None: "application/ld+json", "*/*": "application/ld+json", "text/turtle": "text/turtle; charset=utf-8",
             "application/rdf+xml": "application/rdf+xml",
             "text/turtle;q=0.5, application/ld+json;q=0.9": "application/ld+json"}
    for accept, media in cases.items():
        r = api_client.get("/catalogue", headers={"Accept": accept} if accept else {})
        assert r.status_code == 200 and r.headers["content-type"] == media, accept
        assert "ETag" in r.headers and "Accept" in r.headers["Vary"]
    assert negotiated("text/turtle;q=0, application/rdf+xml") == "rdf"
    turtle = catalogue(api_client)
    assert isomorphic(turtle, catalogue(api_client, "/catalogue", "json-ld"))


def test_a_repeated_request_is_answered_from_the_cache_and_304(api_client):
    first = api_client.get("/catalogue.ttl")
    again = api_client.get("/catalogue.ttl", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert api_client.get("/catalogue.ttl").headers["X-Cache"] == "hit"


# --- what it holds -----------------------------------------------------------------------------

def test_every_published_dataflow_is_a_dataset_of_the_catalogue(api_client, graph):
    (cat,) = graph.subjects(RDF.type, DCAT.Catalog)
    found = datasets(graph)
    assert set(found) == published_dataflows(api_client)
    assert len(found) == 18
    assert set(graph.objects(cat, DCAT.dataset)) == set(found.values())
    (service,) = graph.subjects(RDF.type, DCAT.DataService)
    assert set(graph.objects(service, DCAT.servesDataset)) == set(found.values())
    base = "http://testserver"
    assert found["DF_RESPERM_TEMP"] == URIRef(f"{base}/catalogue/dataset/DF_RESPERM_TEMP")
    assert one(graph, service, DCAT.endpointURL) == URIRef(f"{base}/sdmx/3.0/")
    assert one(graph, service, DCAT.endpointDescription) == URIRef(f"{base}/openapi.json")


def test_every_mandatory_and_promised_property_is_there(graph):
    checked = 0
    for cls in MANDATORY:
        nodes = list(graph.subjects(RDF.type, cls))
        assert nodes, cls
        for node in nodes:
            for prop in MANDATORY[cls] + PROMISED.get(cls, []):
                assert any(True for _ in graph.objects(node, prop)), (node, prop)
                checked += 1
    assert len(list(graph.subjects(RDF.type, DCAT.Distribution))) == 5 * 18
    assert checked > 18 * 17


def test_texts_are_in_three_languages_and_azerbaijani_letters_round_trip(api_client, graph, content):
    (cat,) = graph.subjects(RDF.type, DCAT.Catalog)
    (agent,) = graph.subjects(RDF.type, FOAF.Agent)
    for node, prop in [(cat, DCTERMS.title), (cat, DCTERMS.description), (agent, FOAF.name)]:
        assert {o.language for o in graph.objects(node, prop)} == LANGUAGES, (node, prop)
    az_titles = ""
    for flow_id, ds in datasets(graph).items():
        for prop in (DCTERMS.title, DCTERMS.description):
            assert {o.language for o in graph.objects(ds, prop)} == LANGUAGES, (flow_id, prop)
        titles = {o.language: str(o) for o in graph.objects(ds, DCTERMS.title)}
        assert titles == content.dataflow(flow_id).document["name"]
        az_titles += titles["az"]
    assert set("əğıöüçş") <= set(az_titles)
    # The same letters, read from JSON-LD and RDF/XML.
    for path, fmt in (("/catalogue.jsonld", "json-ld"), ("/catalogue.rdf", "xml")):
        other = catalogue(api_client, path, fmt)
        assert {str(o) for o in other.objects(None, DCTERMS.title) if o.language == "az"} >= {
            str(o) for o in graph.objects(None, DCTERMS.title) if o.language == "az"}


def test_temporal_coverage_and_frequency_match_the_data(api_client, graph):
    for flow_id, ds in datasets(graph).items():
        (span, freq) = availability(api_client, flow_id)
        period = one(graph, ds, DCTERMS.temporal)
        assert (period, RDF.type, DCTERMS.PeriodOfTime) in graph
        start, end = one(graph, period, DCAT.startDate), one(graph, period, DCAT.endDate)
        assert start.datatype == XSD.date and end.datatype == XSD.date
        assert (str(start), str(end)) == span, flow_id
        assert freq and len(set(freq)) == 1
        assert one(graph, ds, DCTERMS.accrualPeriodicity) == URIRef(f"{EU}frequency/{EU_FREQUENCY[freq[0]]}")


def test_distributions_download_the_data(api_client, graph):
    for flow_id, ds in datasets(graph).items():
        titles = {}
        for dist in graph.objects(ds, DCAT.distribution):
            title = str(one(graph, dist, DCTERMS.title))
            titles[title] = dist
            assert one(graph, dist, DCTERMS.format) == URIRef(f"{EU}file-type/{FORMATS[title]}")
            assert str(one(graph, dist, DCAT.mediaType)).startswith("https://www.iana.org/assignments/media-types/")
            assert one(graph, dist, DCTERMS.license) == URIRef(f"{EU}licence/CC_BY_4_0")
            assert one(graph, dist, DCAT.accessURL) == one(graph, dist, DCAT.downloadURL)
        assert set(titles) == set(FORMATS), flow_id
        assert str(one(graph, titles["CSV"], DCAT.downloadURL)) == f"http://testserver/api/dataflows/{flow_id}/data.csv"
    # Each download link answers with the data, in its format.
    ds = datasets(graph)["DF_NET_MIGR"]
    for dist in graph.objects(ds, DCAT.distribution):
        url = str(one(graph, dist, DCAT.downloadURL))
        r = api_client.get(url.removeprefix("http://testserver"))
        assert r.status_code == 200, (url, r.text[:300])
        file_type = str(one(graph, dist, DCTERMS.format)).rsplit("/")[-1]
        expected = {"CSV": "csv", "XML": "xml", "JSON": "json", "XLSX": "spreadsheetml"}[file_type]
        assert expected in r.headers["content-type"], url


def test_themes_contact_and_publisher(graph, content):
    for flow_id, ds in datasets(graph).items():
        themes = set(graph.objects(ds, DCAT.theme))
        assert URIRef(f"{EU}data-theme/SOCI") in themes
        (category,) = themes - {URIRef(f"{EU}data-theme/SOCI")}
        assert str(category).endswith("#" + content.dataflow(flow_id).document["category"]["item"]), flow_id
        contact = one(graph, ds, DCAT.contactPoint)
        assert (contact, RDF.type, VCARD.Organization) in graph
        assert {o.language for o in graph.objects(contact, VCARD.fn)} == LANGUAGES
        # The SIMS metadata publish the website, no e-mail address: none is made up.
        assert not list(graph.objects(contact, VCARD.hasEmail))
        assert one(graph, contact, VCARD.hasURL) == URIRef("https://migration.gov.az")
        assert one(graph, ds, DCTERMS.spatial) == URIRef(f"{EU}country/AZE")
        assert one(graph, ds, DCTERMS.accessRights) == URIRef(f"{EU}access-right/PUBLIC")
        for word in graph.objects(ds, DCAT.keyword):
            assert tag(str(word)) == str(word), word  # CKAN takes every keyword as a tag
    (agent,) = graph.subjects(RDF.type, FOAF.Agent)
    assert one(graph, agent, DCTERMS.type) == URIRef("http://purl.org/adms/publishertype/NationalAuthority")
    (cat,) = graph.subjects(RDF.type, DCAT.Catalog)
    assert set(graph.objects(cat, DCTERMS.language)) == {URIRef(f"{EU}language/{c}") for c in ("AZE", "ENG", "RUS")}
    assert URIRef(f"{EU}data-theme") in set(graph.objects(cat, DCAT.themeTaxonomy))


def test_keywords_are_tags_ckan_accepts():
    assert tag("Place of registration (economic region)") == "Place of registration"
    assert tag("Qeydiyyat və yaşama icazələri") == "Qeydiyyat və yaşama icazələri"
    assert tag("Age, sex & citizenship") == "Age sex citizenship"
    assert tag("x") == ""


# --- SHACL: the shapes of DCAT-AP 3.0 ----------------------------------------------------------

def shapes_location() -> Path | None:
    given = os.environ.get("DCAT_AP_SHACL")
    candidates = [Path(given)] if given else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "dcat-ap")
    return next((p for p in candidates if p.exists()), None)


def test_the_dcat_ap_3_shacl_shapes_accept_the_catalogue(graph):
    where = shapes_location()
    if where is None:
        pytest.skip("no copy of the DCAT-AP 3.0 SHACL shapes: set DCAT_AP_SHACL to dcat-ap-SHACL.ttl (or a "
                    "directory of shape files) from https://github.com/SEMICeu/DCAT-AP/tree/master/releases/3.0.0")
    import pyshacl

    shapes = Graph()
    for path in sorted(where.glob("*.ttl")) if where.is_dir() else [where]:
        shapes.parse(path)
    assert len(shapes) > 100, where
    # RDFS entailment: the shapes ask of every URL that it be an rdfs:Resource, which every
    # IRI is under RDFS semantics (as the EU's validator reads them).
    conforms, _, report = pyshacl.validate(graph, shacl_graph=shapes, inference="rdfs", allow_warnings=True)
    assert conforms, report[:5000]


# --- the embargo --------------------------------------------------------------------------------

OLD, NEW = "DF_NET_MIGR", "DF_UAM"  # NEW is first published by the scheduled release
TA = datetime(2030, 1, 10, 6, 0, tzinfo=timezone.utc)
T = datetime(2030, 2, 10, 6, 0, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)


def _stage(engine, content, demo_files, flow_id: str, periods=None) -> None:
    clean = read_extract(demo_files[flow_id], content.dataflow(flow_id))
    if periods is not None:
        clean.observations = clean.observations[clean.observations["TIME_PERIOD"].isin(periods)].reset_index(drop=True)
    ingest(engine, clean)


@pytest.fixture(scope="module", params=BACKENDS)
def calendar_store(request, tmp_path_factory, content, demo_files):
    """Release A (OLD, 2015-2024) public since TA; release B scheduled for T: NEW for the first
    time, and OLD again with 2025."""
    url, drop = new_database(request.param, tmp_path_factory)
    engine = make_engine(url)
    upgrade(engine)
    _stage(engine, content, demo_files, OLD, [str(y) for y in range(2015, 2025)])
    a = R.plan(engine, content, title="Release A", at=TA, dataflows=[OLD], now=TA - timedelta(days=1))
    R.schedule(engine, content, a, now=TA - timedelta(days=1), bulletins=False)
    assert R.publish_due(engine, now=TA) == [a]
    _stage(engine, content, demo_files, OLD)
    _stage(engine, content, demo_files, NEW)
    b = R.plan(engine, content, title="Release B", at=T, dataflows=[OLD, NEW], now=T - timedelta(days=1))
    R.schedule(engine, content, b, now=T - timedelta(days=1), bulletins=False)
    engine.dispose()
    yield url
    drop()


def test_a_dataflow_of_a_scheduled_release_is_listed_from_its_second(calendar_store, tmp_path):
    clock = {"now": T - SECOND}
    app = create_app(Settings(database_url=calendar_store, cache_dir=str(tmp_path / "cache"), cache_size=2**30,
                              cache_max_entry=2**26, state_ttl=0), now=lambda: clock["now"])
    with TestClient(app) as client:
        before = client.get("/catalogue.ttl")
        g = Graph().parse(data=before.content, format="turtle")
        (cat,) = g.subjects(RDF.type, DCAT.Catalog)
        assert set(datasets(g)) == {OLD}
        assert NEW not in before.text
        old = datasets(g)[OLD]
        assert one(g, cat, DCTERMS.modified).toPython() == TA
        assert one(g, old, DCTERMS.issued).toPython() == TA
        assert one(g, old, DCTERMS.modified).toPython() == TA
        assert str(one(g, one(g, old, DCTERMS.temporal), DCAT.endDate)) == "2024-12-31"

        clock["now"] = T
        after = client.get("/catalogue.ttl")
        assert after.headers["ETag"] != before.headers["ETag"]
        g = Graph().parse(data=after.content, format="turtle")
        (cat,) = g.subjects(RDF.type, DCAT.Catalog)
        found = datasets(g)
        assert set(found) == {OLD, NEW}
        assert one(g, cat, DCTERMS.modified).toPython() == T
        assert one(g, cat, DCTERMS.issued).toPython() == TA
        assert one(g, found[OLD], DCTERMS.issued).toPython() == TA
        assert one(g, found[OLD], DCTERMS.modified).toPython() == T
        assert one(g, found[NEW], DCTERMS.issued).toPython() == T
        assert str(one(g, one(g, found[OLD], DCTERMS.temporal), DCAT.endDate)) == "2025-12-31"
        (span, _) = availability(client, NEW)
        period = one(g, found[NEW], DCTERMS.temporal)
        assert (str(one(g, period, DCAT.startDate)), str(one(g, period, DCAT.endDate))) == span
