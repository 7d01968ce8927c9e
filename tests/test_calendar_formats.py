"""The public release calendar's four renderers (api.formats.calendar): JSON, iCalendar,
Atom and the HTML page. Pure functions, so no database and no server: a handful of
releases around a fixed ``now`` (a correction published exactly at ``now``, a scheduled
release one second later), and each output read back with a real parser (orjson,
icalendar, lxml, and feedparser when it is installed).

The embargo tests give an upcoming release counts it should not have (as a buggy caller
might) and check that they appear in none of the four outputs.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import icalendar
import orjson
import pytest
from lxml import etree, html

from api.formats.calendar import calendar_atom, calendar_ics, calendar_json, calendar_page

BASE = "http://127.0.0.1:8000"
NOW = datetime(2025, 4, 15, 6, 0, tzinfo=timezone.utc)  # 10:00 in Baku
ATOM = {"a": "http://www.w3.org/2005/Atom"}
AZ_LETTERS = "əğıöüçş"

WORKPERM = {"ref": "AZ_SMS:DF_WORKPERM(1.0)", "id": "DF_WORKPERM",
            "name": {"az": "Əcnəbilərə verilən iş icazələri", "en": "Work permits issued to foreigners",
                     "ru": "Разрешения на работу, выданные иностранцам"}}
RESPERM = {"ref": "AZ_SMS:DF_RESPERM_TEMP(1.0)", "id": "DF_RESPERM_TEMP",
           "name": {"az": "Müvəqqəti yaşamaq icazələri", "en": "Temporary residence permits",
                    "ru": "Разрешения на временное проживание"}}
#: Counts wrongly handed in for the upcoming release: none of them may be printed.
EMBARGOED = {"added": 731953, "revised": 604217, "withdrawn": 588421, "withheld": 577301}


def counts(added, revised, withdrawn, withheld) -> dict:
    return {"added": added, "revised": revised, "withdrawn": withdrawn, "withheld": withheld}


def release(rid, status, moment, title, *, public, dataflows=(), attachments=(), description="",
            corrects=None, corrected_by=None) -> dict:
    return {"id": rid, "status": status, "release_time": moment, "title": title, "description": description,
            "corrects": corrects, "corrected_by": corrected_by, "public": public,
            "dataflows": list(dataflows), "attachments": list(attachments)}


FIRST_TITLE = {"az": "Əcnəbi işçilərə verilən iş icazələri: üçüncü rüb göstəriciləri "
                     "(Bakı, Gəncə, Dağlıq Qarabağ)",
               "en": "Work permits, third quarter",
               "ru": "Разрешения на работу, третий квартал"}


def releases() -> list[dict]:
    """Given in no particular order: the renderers sort."""
    published = release(
        1, "corrected", NOW - timedelta(days=30), FIRST_TITLE, public=True, corrected_by=2,
        dataflows=[{**WORKPERM, **counts(120, 3, 0, 14)}, {**RESPERM, **counts(85, 0, 1, 6)}],
        attachments=["bulletin-az.html", "bulletin-en.html", "chart-DF_WORKPERM.svg"])
    correction = release(
        2, "published", NOW, {"az": "Düzəliş: iş icazələri, üçüncü rüb", "en": "Correction: work permits, Q3"},
        public=True, corrects=1, description="Bakı şəhəri üzrə göstəricilər düzəldilib.",
        dataflows=[{**WORKPERM, **counts(0, 7, 0, 14)}], attachments=["bulletin-en.html"])
    scheduled = release(  # only Azerbaijani and Russian titles: English falls back to Azerbaijani
        3, "scheduled", NOW + timedelta(seconds=1),
        {"az": "Qaçqınlar və məcburi köçkünlər: illik göstəricilər", "ru": "Беженцы: годовые показатели"},
        public=False, dataflows=[{**WORKPERM, **EMBARGOED}],
        description="İllik buraxılış. " + "Bu buraxılışa qaçqınlar, sığınacaq axtaranlar və vətəndaşlığı "
                                          "olmayan şəxslər haqqında göstəricilər daxildir. " * 3)
    draft = release(  # only a Russian title: every language falls back to it
        4, "draft", NOW + timedelta(days=60), {"ru": "Трудовая миграция: предварительный график"},
        public=False, dataflows=[{**RESPERM, **counts(None, None, None, None)}])
    return [scheduled, published, draft, correction]


def as_json(items=None, now=NOW) -> dict:
    return orjson.loads(calendar_json(releases() if items is None else items, BASE, now))


def unfold(ics: bytes) -> str:
    """RFC 5545 content lines with the folding undone (a number may be split by a fold)."""
    return ics.decode("utf-8").replace("\r\n ", "")


def events(ics: bytes) -> dict[str, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(ics)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def atom(items=None, now=NOW) -> etree._Element:
    return etree.fromstring(calendar_atom(releases() if items is None else items, BASE, now))


def page(lang="en", items=None):
    return html.document_fromstring(calendar_page(releases() if items is None else items, BASE, NOW, lang))


def text_of(element) -> str:
    return " ".join(element.text_content().split())


# --- JSON ---------------------------------------------------------------------------

def test_json_splits_upcoming_and_past_at_now():
    doc = as_json()
    assert doc["generated"] == "2025-04-15T06:00:00Z"
    assert doc["time_zone"] == "Asia/Baku"
    # The release exactly at now is past; the one a second later is upcoming. Upcoming
    # soonest first, past most recent first.
    assert [r["id"] for r in doc["upcoming"]] == [3, 4]
    assert [r["id"] for r in doc["past"]] == [2, 1]


def test_json_counts_only_for_public_releases():
    doc = as_json()
    for entry in doc["upcoming"]:
        for dataflow in entry["dataflows"]:
            assert [dataflow[k] for k in EMBARGOED] == [None, None, None, None]
    first = next(r for r in doc["past"] if r["id"] == 1)
    assert first["dataflows"][0] | {"data": None} == {
        "ref": "AZ_SMS:DF_WORKPERM(1.0)", "id": "DF_WORKPERM", "name": WORKPERM["name"],
        "added": 120, "revised": 3, "withdrawn": 0, "withheld": 14, "data": None}
    assert first["dataflows"][0]["data"] == (
        f"{BASE}/sdmx/3.0/data/dataflow/AZ_SMS/DF_WORKPERM/1.0/*?format=csv&labels=both")


def test_json_keeps_azerbaijani_letters_as_utf8():
    body = calendar_json(releases(), BASE, NOW)
    assert FIRST_TITLE["az"].encode("utf-8") in body
    assert b"\\u" not in body  # not escaped
    assert set(AZ_LETTERS) <= set(FIRST_TITLE["az"].lower())
    assert next(r for r in orjson.loads(body)["past"] if r["id"] == 1)["title"] == FIRST_TITLE


def test_json_times_in_utc_and_baku():
    correction = next(r for r in as_json()["past"] if r["id"] == 2)
    assert correction["release_time"] == "2025-04-15T06:00:00Z"
    assert correction["release_time_local"] == "2025-04-15T10:00:00+04:00"
    assert datetime.fromisoformat(correction["release_time_local"]) == NOW


def test_json_status_links_and_corrections():
    doc = as_json()
    first = next(r for r in doc["past"] if r["id"] == 1)
    assert (first["status"], first["corrected_by"], first["corrects"]) == ("corrected", 2, None)
    assert first["links"] == {
        "page": f"{BASE}/releases/1", "json": f"{BASE}/releases/1.json",
        "bulletins": {"az": f"{BASE}/releases/1/bulletin-az.html", "en": f"{BASE}/releases/1/bulletin-en.html"},
        "revisions": f"{BASE}/releases/1/revisions.csv"}
    correction = next(r for r in doc["past"] if r["id"] == 2)
    assert correction["corrects"] == 1
    assert correction["links"]["bulletins"] == {"en": f"{BASE}/releases/2/bulletin-en.html"}
    scheduled = doc["upcoming"][0]
    assert scheduled["status"] == "scheduled"
    assert "revisions" not in scheduled["links"] and scheduled["links"]["bulletins"] == {}
    assert doc["upcoming"][1]["status"] == "draft"


def test_json_scheduled_release_whose_time_has_come_is_published():
    due = release(9, "scheduled", NOW - timedelta(minutes=5), {"en": "Due"}, public=True)
    assert as_json([due])["past"][0]["status"] == "published"


def test_a_release_wrongly_marked_public_stays_upcoming():
    early = release(7, "scheduled", NOW + timedelta(hours=1), {"en": "Early"}, public=True,
                    dataflows=[{**WORKPERM, **EMBARGOED}], attachments=["bulletin-en.html"])
    draft = release(8, "draft", NOW - timedelta(hours=1), {"en": "Draft"}, public=True,
                    dataflows=[{**WORKPERM, **EMBARGOED}])
    doc = as_json([early, draft])
    assert doc["past"] == [] and [r["id"] for r in doc["upcoming"]] == [8, 7]
    assert doc["upcoming"][1]["links"]["bulletins"] == {}
    assert str(EMBARGOED["added"]) not in calendar_page([early, draft], BASE, NOW, "en")


# --- iCalendar ----------------------------------------------------------------------

def test_ics_has_one_event_per_release():
    body = calendar_ics(releases(), BASE, NOW)
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    assert str(calendar["X-WR-TIMEZONE"]) == "Asia/Baku" and calendar["X-WR-CALNAME"]
    found = events(body)
    assert sorted(found) == [f"release-{n}@migration-statistics.az" for n in (1, 2, 3, 4)]
    by_id = {r["id"]: r for r in releases()}
    for n, event in ((int(uid.split("@")[0].split("-")[1]), e) for uid, e in found.items()):
        assert event.decoded("DTSTART") == by_id[n]["release_time"]
        assert event.decoded("DTSTAMP") == NOW
        assert event.decoded("DURATION") == timedelta(minutes=30)
        assert str(event["URL"]) == f"{BASE}/releases/{n}"


def test_ics_summary_status_and_description():
    found = events(calendar_ics(releases(), BASE, NOW))
    first, correction, scheduled, draft = (found[f"release-{n}@migration-statistics.az"] for n in (1, 2, 3, 4))
    assert str(first["SUMMARY"]) == "Work permits, third quarter"
    assert str(scheduled["SUMMARY"]) == "Qaçqınlar və məcburi köçkünlər: illik göstəricilər"  # no English
    assert str(draft["SUMMARY"]) == "Трудовая миграция: предварительный график"  # only Russian
    assert [str(e["STATUS"]) for e in (first, correction, scheduled, draft)] == [
        "CONFIRMED", "CONFIRMED", "CONFIRMED", "TENTATIVE"]
    assert "corrected by release 2" in str(first["DESCRIPTION"])
    assert "corrects release 1" in str(correction["DESCRIPTION"])
    assert "Work permits issued to foreigners" in str(first["DESCRIPTION"])
    assert "Temporary residence permits" in str(first["DESCRIPTION"])


def test_ics_uids_are_stable_across_calls():
    earlier = events(calendar_ics(releases(), BASE, NOW - timedelta(days=90)))
    assert sorted(earlier) == sorted(events(calendar_ics(releases(), BASE, NOW)))


def test_ics_uses_crlf_and_folds_long_lines():
    body = calendar_ics(releases(), BASE, NOW)
    assert body.count(b"\n") == body.count(b"\r\n") and body.endswith(b"\r\n")
    lines = body.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75  # octets, RFC 5545 section 3.1
    assert any(line.startswith(b" ") for line in lines)  # the long description was folded
    for line in lines:
        line.decode("utf-8")  # no fold splits a multi-byte letter
    assert "vətəndaşlığı olmayan şəxslər" in str(events(body)["release-3@migration-statistics.az"]["DESCRIPTION"])


# --- Atom ---------------------------------------------------------------------------

def test_atom_feed_has_the_required_elements():
    feed = atom()
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    assert feed.findtext("a:id", namespaces=ATOM) == f"{BASE}/releases.atom"
    assert feed.findtext("a:title", namespaces=ATOM)
    assert feed.findtext("a:updated", namespaces=ATOM) == "2025-04-15T06:00:00Z"  # latest public release
    author = feed.findtext("a:author/a:name", namespaces=ATOM)
    assert author == "State Migration Service of the Republic of Azerbaijan"
    links = {link.get("rel"): link.get("href") for link in feed.findall("a:link", ATOM)}
    assert links == {"self": f"{BASE}/releases.atom", "alternate": f"{BASE}/releases"}


def test_atom_has_one_entry_per_public_release_most_recent_first():
    entries = atom().findall("a:entry", ATOM)
    assert [e.findtext("a:id", namespaces=ATOM) for e in entries] == [f"{BASE}/releases/2", f"{BASE}/releases/1"]
    correction, first = entries
    assert first.findtext("a:title", namespaces=ATOM) == "Work permits, third quarter"
    assert first.findtext("a:updated", namespaces=ATOM) == "2025-03-16T06:00:00Z"
    assert first.findtext("a:published", namespaces=ATOM) == "2025-03-16T06:00:00Z"
    alternate = first.find("a:link[@rel='alternate']", ATOM)
    assert alternate.get("href") == f"{BASE}/releases/1" and alternate.get("type") == "text/html"
    bulletins = [(link.get("hreflang"), link.get("type"), link.get("href"))
                 for link in first.findall("a:link[@rel='related'][@hreflang]", ATOM)]
    assert bulletins == [("az", "text/html", f"{BASE}/releases/1/bulletin-az.html"),
                         ("en", "text/html", f"{BASE}/releases/1/bulletin-en.html")]
    summary = first.findtext("a:summary", namespaces=ATOM)
    assert "Work permits issued to foreigners: 120 added, 3 revised" in summary
    assert "Temporary residence permits: 85 added, 0 revised" in summary
    assert "corrects release 1" in correction.findtext("a:summary", namespaces=ATOM)


def test_atom_never_lists_an_upcoming_release():
    body = calendar_atom(releases(), BASE, NOW).decode("utf-8")
    assert "Qaçqınlar" not in body and "/releases/3" not in body and "/releases/4" not in body


def test_atom_without_public_releases_is_updated_now():
    feed = atom([r for r in releases() if not r["public"]])
    assert feed.findall("a:entry", ATOM) == []
    assert feed.findtext("a:updated", namespaces=ATOM) == "2025-04-15T06:00:00Z"


def test_atom_reads_in_feedparser():
    feedparser = pytest.importorskip("feedparser")
    parsed = feedparser.parse(calendar_atom(releases(), BASE, NOW))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert [e.id for e in parsed.entries] == [f"{BASE}/releases/2", f"{BASE}/releases/1"]


# --- HTML page ----------------------------------------------------------------------

def test_page_head_language_and_alternate_forms():
    doc = page("en")
    assert doc.get("lang") == "en"
    assert doc.xpath("//meta[@name='viewport']")
    assert not doc.xpath("//script") and not doc.xpath("//link[@rel='stylesheet']")
    alternates = {link.get("type"): link.get("href") for link in doc.xpath("//head/link[@rel='alternate']")}
    assert alternates == {"application/json": f"{BASE}/releases.json", "text/calendar": f"{BASE}/releases.ics",
                          "application/atom+xml": f"{BASE}/releases.atom"}
    assert [a.get("href") for a in doc.xpath("//nav//a[@hreflang]")] == ["?lang=az", "?lang=en", "?lang=ru"]


def test_page_upcoming_table():
    table = page("en").xpath("//section[h2[@id='upcoming']]//table")[0]
    rows = table.xpath("tbody/tr")
    assert len(rows) == 2
    scheduled = [text_of(td) for td in rows[0].xpath("td")]
    assert scheduled[0] == "2025-04-15 10:00"  # Baku time, named in the column heading
    assert "Baku time" in text_of(table.xpath("thead")[0])
    assert text_of(rows[0].xpath("td[2]/a")[0]) == "Qaçqınlar və məcburi köçkünlər: illik göstəricilər"
    assert scheduled[1].endswith("daxildir.")  # the description follows the title
    assert scheduled[2] == "Work permits issued to foreigners"  # no counts
    assert scheduled[3] == "Scheduled"
    assert [text_of(td) for td in rows[1].xpath("td")][3] == "Provisional date"
    assert rows[0].xpath("td[2]//a/@href") == [f"{BASE}/releases/3"]


def test_page_past_table_counts_links_and_correction_notes():
    table = page("en").xpath("//section[h2[@id='past']]//table")[0]
    correction, first = table.xpath("tbody/tr")
    assert "added: 120, revised: 3, withdrawn: 0, withheld: 14" in text_of(first)
    hrefs = first.xpath(".//a/@href")
    assert f"{BASE}/releases/1/bulletin-az.html" in hrefs and f"{BASE}/releases/1/bulletin-en.html" in hrefs
    assert f"{BASE}/releases/1/revisions.csv" in hrefs
    assert f"{BASE}/sdmx/3.0/data/dataflow/AZ_SMS/DF_WORKPERM/1.0/*?format=csv&labels=both" in hrefs
    assert "Corrected by release 2" in text_of(first)
    assert "Correction of release 1" in text_of(correction)


@pytest.mark.parametrize(("lang", "title", "upcoming", "past", "zone", "note"), [
    ("az", "Buraxılış təqvimi", "Gələcək buraxılışlar", "Keçmiş buraxılışlar", "Bakı vaxtı",
     "2 saylı buraxılışla düzəliş edilib"),
    ("en", "Release calendar", "Upcoming releases", "Past releases", "Baku time", "Corrected by release 2"),
    ("ru", "Календарь выпусков", "Предстоящие выпуски", "Прошедшие выпуски", "бакинское время",
     "Исправлен выпуском № 2"),
])
def test_page_in_each_language(lang, title, upcoming, past, zone, note):
    doc = page(lang)
    assert doc.get("lang") == lang
    assert doc.findtext(".//title") == title and text_of(doc.xpath("//h1")[0]) == title
    assert [text_of(h) for h in doc.xpath("//main//h2")] == [upcoming, past]
    assert zone in text_of(doc.xpath("//section[h2[@id='past']]//thead")[0])
    assert note in text_of(doc.xpath("//main")[0])
    assert doc.xpath("//nav//a[@aria-current='page']/@hreflang") == [lang]


def test_page_marks_titles_shown_in_a_fallback_language():
    doc = page("en")
    fallback = doc.xpath(f"//a[@href='{BASE}/releases/4']")[0]
    assert (fallback.text, fallback.get("lang")) == ("Трудовая миграция: предварительный график", "ru")


def test_page_escapes_text_from_the_data():
    hostile = release(5, "published", NOW - timedelta(days=1), {"en": "<script>alert(1)</script> & co"},
                      public=True, description='"quoted" <b>bold</b>')
    body = calendar_page([hostile], BASE, NOW, "en")
    assert "<script>" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in body
    assert etree.fromstring(calendar_atom([hostile], BASE, NOW)).find("a:entry/a:title", ATOM).text.startswith(
        "<script>")


# --- embargo ------------------------------------------------------------------------

RENDERERS = {
    "json": lambda items: calendar_json(items, BASE, NOW).decode("utf-8"),
    "ics": lambda items: unfold(calendar_ics(items, BASE, NOW)),
    "atom": lambda items: calendar_atom(items, BASE, NOW).decode("utf-8"),
    **{f"page-{lang}": (lambda items, lang=lang: calendar_page(items, BASE, NOW, lang))
       for lang in ("az", "en", "ru")},
}


@pytest.mark.parametrize("form", sorted(RENDERERS))
def test_counts_of_an_upcoming_release_appear_nowhere(form):
    body = RENDERERS[form](releases())
    for number in EMBARGOED.values():
        assert str(number) not in body


@pytest.mark.parametrize("form", sorted(RENDERERS))
def test_counts_of_a_public_release_do_appear(form):
    """The counterpart of the test above, so that it cannot pass by printing no counts at all
    (the iCalendar form lists dataflow names only, by design)."""
    body = RENDERERS[form](releases())
    assert ("120" in body) == (form != "ics")


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="naive"):
        calendar_json(releases(), BASE, NOW.replace(tzinfo=None))
