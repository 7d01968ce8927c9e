"""The public release calendar in four forms: JSON, iCalendar, Atom and an HTML page.

The statistics office announces its releases in advance. These renderers take the
releases as plain dicts (see below), the public base URL and the moment the response is
built for, and return the response body. They are pure functions: no database, no web
framework, and no clock of their own (``now`` is passed in, so the routes' controllable
clock decides what is past and what is upcoming).

* ``calendar_json``: the calendar as JSON (orjson: UTF-8 out, so ə ğ ı ö ü ç ş stay
  letters rather than ``\\u`` escapes).
* ``calendar_ics``: an RFC 5545 iCalendar feed to subscribe to in a calendar app. Written
  with the ``icalendar`` library because RFC 5545 has fiddly rules a hand-written writer
  gets wrong: lines folded at 75 octets (without splitting a multi-byte UTF-8 letter),
  CRLF line ends, and commas, semicolons, backslashes and newlines escaped in text values.
* ``calendar_atom``: an Atom 1.0 feed (RFC 4287) of what has been released, one entry per
  public release. Written with lxml, which the project already uses for SDMX-ML: it
  builds a namespaced tree and escapes text, so no release title can break the XML.
* ``calendar_page``: a small, accessible HTML page in Azerbaijani, English or Russian
  (``html.escape`` on everything that comes from the data).

A release is shown as released ("public") only if the caller marked it ``public`` AND it
is not a draft AND its time is at or before ``now``; everything else is upcoming. The
caller filters for embargo already; checking again here means a caller's mistake cannot
leak a release's counts or attachments before its time: they are written for public
releases only, whatever the dict holds.

A release dict: ``id``, ``status`` (draft, scheduled, published, corrected),
``release_time`` (aware datetime, UTC), ``title`` ({lang: text}), ``description``,
``corrects`` and ``corrected_by`` (release ids or None), ``public``, ``dataflows`` (each
``ref`` "AGENCY:ID(VERSION)", ``id``, ``name`` {lang: text}, and the counts ``added``,
``revised``, ``withdrawn``, ``withheld``) and ``attachments`` (file names).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import escape
from zoneinfo import ZoneInfo

import icalendar
import orjson
from lxml import etree

TIME_ZONE = "Asia/Baku"
BAKU = ZoneInfo(TIME_ZONE)
PUBLISHER = "State Migration Service of the Republic of Azerbaijan"
UID_DOMAIN = "migration-statistics.az"
LANGUAGES = ("az", "en", "ru")
COUNTS = ("added", "revised", "withdrawn", "withheld")
ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
#: How long a release "lasts" in a calendar app: a release is a moment, but a zero-length
#: event is shown badly by most apps.
EVENT_LENGTH = timedelta(minutes=30)
#: How often calendar apps should fetch the feed again: dates are announced well ahead.
REFRESH = timedelta(hours=6)

_REF = re.compile(r"^(?P<agency>[^:()]+):(?P<id>[^:()]+)\((?P<version>[^()]+)\)$")
_BULLETIN = re.compile(r"^bulletin-(?P<lang>[a-z]{2})\.html$")


# --- the release, as the renderers see it -------------------------------------------

def _utc(moment: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is a caller's bug, not something to guess."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: release calendar times must be timezone-aware")
    return moment.astimezone(timezone.utc)


def _is_public(release: dict, now: datetime) -> bool:
    """True only when the caller says so and the time and status agree (see module doc)."""
    moment = release.get("release_time")
    return (release.get("public") is True and release.get("status") != "draft"
            and moment is not None and _utc(moment) <= now)


def _status(release: dict, public: bool) -> str:
    """A scheduled release whose time has come is reported as published."""
    status = release["status"]
    return "published" if public and status == "scheduled" else status


def _split(releases: list[dict], now: datetime) -> tuple[list[dict], list[dict]]:
    """(upcoming soonest first, then any without a time; past most recent first)."""
    upcoming = [r for r in releases if not _is_public(r, now)]
    past = [r for r in releases if _is_public(r, now)]
    far = datetime.max.replace(tzinfo=timezone.utc)
    upcoming.sort(key=lambda r: (_utc(r["release_time"]) if r.get("release_time") else far, r["id"]))
    past.sort(key=lambda r: (_utc(r["release_time"]), r["id"]), reverse=True)
    return upcoming, past


def _pick(texts: dict | None, lang: str) -> tuple[str, str]:
    """(text, its language): the asked language, else English, else Azerbaijani, else any."""
    texts = texts or {}
    for candidate in (lang, "en", "az"):
        if texts.get(candidate):
            return texts[candidate], candidate
    for candidate, text in texts.items():
        if text:
            return text, candidate
    return "", lang


def _counts(dataflow: dict, public: bool) -> dict:
    """The dataflow's counts when its release is public; all None otherwise (embargo)."""
    return {k: (dataflow.get(k) if public else None) for k in COUNTS}


def _bulletins(release: dict, public: bool) -> dict[str, str]:
    """{lang: file name} of the bulletins among the attachments (none before release)."""
    if not public:
        return {}
    found = {}
    for name in release.get("attachments") or []:
        match = _BULLETIN.match(name)
        if match:
            found[match["lang"]] = name
    return {lang: found[lang] for lang in sorted(found, key=_language_order)}


def _language_order(lang: str) -> tuple[int, str]:
    return (LANGUAGES.index(lang) if lang in LANGUAGES else len(LANGUAGES), lang)


# --- URLs the routes serve --------------------------------------------------------

def _release_url(base: str, release_id: int) -> str:
    return f"{base}/releases/{release_id}"


def _attachment_url(base: str, release_id: int, name: str) -> str:
    return f"{base}/releases/{release_id}/{name}"


def _data_url(base: str, ref: str) -> str | None:
    """SDMX-CSV with labels for a dataflow ref "AGENCY:ID(VERSION)"; None if malformed."""
    match = _REF.match(ref or "")
    if not match:
        return None
    return (f"{base}/sdmx/3.0/data/dataflow/{match['agency']}/{match['id']}/{match['version']}"
            "/*?format=csv&labels=both")


# --- times ------------------------------------------------------------------------

def _iso_utc(moment: datetime) -> str:
    return _utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


def _iso_local(moment: datetime) -> str:
    return _utc(moment).astimezone(BAKU).isoformat(timespec="seconds")


# --- JSON -------------------------------------------------------------------------

def _json_release(release: dict, base: str, now: datetime) -> dict:
    public = _is_public(release, now)
    rid = release["id"]
    moment = release.get("release_time")
    links = {"page": _release_url(base, rid), "json": f"{_release_url(base, rid)}.json",
             "bulletins": {lang: _attachment_url(base, rid, name)
                           for lang, name in _bulletins(release, public).items()}}
    if public:
        links["revisions"] = f"{_release_url(base, rid)}/revisions.csv"
    return {
        "id": rid,
        "status": _status(release, public),
        "release_time": _iso_utc(moment) if moment else None,
        "release_time_local": _iso_local(moment) if moment else None,
        "title": release.get("title") or {},
        "description": release.get("description") or "",
        "corrects": release.get("corrects"),
        "corrected_by": release.get("corrected_by"),
        "dataflows": [{"ref": df.get("ref"), "id": df.get("id"), "name": df.get("name") or {},
                       **_counts(df, public), "data": _data_url(base, df.get("ref"))}
                      for df in release.get("dataflows") or []],
        "links": links,
    }


def calendar_json(releases: list[dict], base_url: str, now: datetime) -> bytes:
    """The calendar as JSON: generated, time_zone, upcoming and past releases."""
    now = _utc(now)
    upcoming, past = _split(releases, now)
    return orjson.dumps({
        "generated": _iso_utc(now),
        "time_zone": TIME_ZONE,
        "upcoming": [_json_release(r, base_url, now) for r in upcoming],
        "past": [_json_release(r, base_url, now) for r in past],
        "links": {"page": f"{base_url}/releases", "ics": f"{base_url}/releases.ics",
                  "atom": f"{base_url}/releases.atom"},
    })


# --- iCalendar --------------------------------------------------------------------

def _correction_sentences(release: dict) -> list[str]:
    """English sentences for a correction and for a corrected release."""
    out = []
    if release.get("corrects") is not None:
        out.append(f"This release corrects release {release['corrects']}.")
    if release.get("corrected_by") is not None:
        out.append(f"This release was corrected by release {release['corrected_by']}.")
    elif release.get("status") == "corrected":
        out.append("This release has been corrected.")
    return out


def _ics_description(release: dict, base: str, public: bool) -> str:
    names = [_pick(df.get("name"), "en")[0] or df.get("id", "") for df in release.get("dataflows") or []]
    parts = [text for text in [(release.get("description") or "").strip()] if text]
    parts += _correction_sentences(release)
    if names:
        parts.append("Dataflows:\n" + "\n".join(f"- {name}" for name in names))
    for lang, name in _bulletins(release, public).items():
        parts.append(f"Bulletin ({lang}): {_attachment_url(base, release['id'], name)}")
    return "\n\n".join(parts)


def _vevent(release: dict, base: str, now: datetime) -> icalendar.Event:
    public = _is_public(release, now)
    event = icalendar.Event()
    event.add("uid", f"release-{release['id']}@{UID_DOMAIN}")  # stable: same event on every fetch
    event.add("dtstamp", now)
    event.add("dtstart", _utc(release["release_time"]))
    event.add("duration", EVENT_LENGTH)
    event.add("summary", _pick(release.get("title"), "en")[0])
    event.add("description", _ics_description(release, base, public))
    event.add("url", _release_url(base, release["id"]))
    event.add("status", "TENTATIVE" if release["status"] == "draft" else "CONFIRMED")
    # A release does not make the subscriber busy: free/busy lookups should ignore it.
    event.add("transp", "TRANSPARENT")
    return event


def calendar_ics(releases: list[dict], base_url: str, now: datetime) -> bytes:
    """The calendar as an RFC 5545 VCALENDAR, one VEVENT per release that has a time."""
    now = _utc(now)
    upcoming, past = _split(releases, now)
    calendar = icalendar.Calendar()
    calendar.add("prodid", f"-//{PUBLISHER}//Release calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "Migration statistics release calendar")
    calendar.add("x-wr-timezone", TIME_ZONE)
    # RFC 7986 REFRESH-INTERVAL, and the older X-PUBLISHED-TTL some clients read instead.
    calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", icalendar.vDuration(REFRESH).to_ical().decode())
    for release in upcoming + past:
        if release.get("release_time") is not None:  # a draft without a date is not an event
            calendar.add_component(_vevent(release, base_url, now))
    return calendar.to_ical()


# --- Atom -------------------------------------------------------------------------

def _atom(parent, tag: str, text: str | None = None, **attrs) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ATOM}}}{tag}", {k: v for k, v in attrs.items() if v})
    if text is not None:
        element.text = text
    return element


def _atom_summary(release: dict) -> str:
    lines = []
    for df in release.get("dataflows") or []:
        name = _pick(df.get("name"), "en")[0] or df.get("id", "")
        counts = _counts(df, True)
        figures = ", ".join(f"{counts[k]} {k}" for k in ("added", "revised") if counts[k] is not None)
        lines.append(f"{name}: {figures}." if figures else f"{name}.")
    return " ".join([*_correction_sentences(release), *lines])


def _atom_entry(feed, release: dict, base: str) -> None:
    rid = release["id"]
    moment = _iso_utc(release["release_time"])
    entry = _atom(feed, "entry")
    _atom(entry, "id", _release_url(base, rid))
    _atom(entry, "title", _pick(release.get("title"), "en")[0])
    _atom(entry, "updated", moment)
    _atom(entry, "published", moment)
    _atom(entry, "link", rel="alternate", type="text/html", href=_release_url(base, rid))
    for lang, name in _bulletins(release, True).items():
        _atom(entry, "link", rel="related", type="text/html", hreflang=lang,
              title=f"Bulletin ({lang})", href=_attachment_url(base, rid, name))
    _atom(entry, "link", rel="related", type="text/csv", title="Revision report",
          href=f"{_release_url(base, rid)}/revisions.csv")
    _atom(entry, "summary", _atom_summary(release), type="text")


def calendar_atom(releases: list[dict], base_url: str, now: datetime) -> bytes:
    """An Atom 1.0 feed of the public releases, most recent first (never an upcoming one)."""
    now = _utc(now)
    _, past = _split(releases, now)
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    feed.set(XML_LANG, "en")
    _atom(feed, "id", f"{base_url}/releases.atom")
    _atom(feed, "title", "Migration statistics releases")
    _atom(feed, "subtitle", f"Statistical releases of the {PUBLISHER}")
    _atom(feed, "updated", _iso_utc(past[0]["release_time"]) if past else _iso_utc(now))
    _atom(_atom(feed, "author"), "name", PUBLISHER)
    _atom(feed, "link", rel="self", type="application/atom+xml", href=f"{base_url}/releases.atom")
    _atom(feed, "link", rel="alternate", type="text/html", href=f"{base_url}/releases")
    for release in past:
        _atom_entry(feed, release, base_url)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


# --- HTML page --------------------------------------------------------------------

UI = {
    "az": {"title": "Buraxılış təqvimi", "upcoming": "Gələcək buraxılışlar", "past": "Keçmiş buraxılışlar",
           "intro": "Dövlət Miqrasiya Xidmətinin miqrasiya statistikası buraxılışlarının əvvəlcədən elan "
                    "edilmiş təqvimi.",
           "zone": "Bakı vaxtı", "time": "Vaxt", "release": "Buraxılış", "dataflows": "Məlumat axınları",
           "status": "Status", "documents": "Sənədlər", "notes": "Qeydlər", "language": "Dil",
           "formats": "Təqvim digər formatlarda", "generated": "Səhifə hazırlanıb",
           "no_upcoming": "Hazırda planlaşdırılmış buraxılış yoxdur.",
           "no_past": "Hələ dərc edilmiş buraxılış yoxdur.",
           "to_be_announced": "Elan ediləcək", "bulletin": "Bülleten", "revisions": "Dəqiqləşdirmələr hesabatı",
           "data": "Məlumatlar", "corrected_by": "{n} saylı buraxılışla düzəliş edilib",
           "correction_of": "{n} saylı buraxılışın düzəlişi",
           "added": "əlavə edilən", "revised": "dəqiqləşdirilən", "withdrawn": "geri götürülən",
           "withheld": "məxfi saxlanılan",
           "draft": "Tarix dəqiqləşdirilir", "scheduled": "Planlaşdırılıb", "published": "Dərc edilib",
           "corrected": "Düzəliş edilib"},
    "en": {"title": "Release calendar", "upcoming": "Upcoming releases", "past": "Past releases",
           "intro": "The calendar, announced in advance, of the State Migration Service's releases of "
                    "migration statistics.",
           "zone": "Baku time", "time": "Time", "release": "Release", "dataflows": "Dataflows",
           "status": "Status", "documents": "Documents", "notes": "Notes", "language": "Language",
           "formats": "This calendar in other formats", "generated": "Page generated",
           "no_upcoming": "No releases are scheduled at present.",
           "no_past": "Nothing has been released yet.",
           "to_be_announced": "To be announced", "bulletin": "Bulletin", "revisions": "Revision report",
           "data": "Data", "corrected_by": "Corrected by release {n}",
           "correction_of": "Correction of release {n}",
           "added": "added", "revised": "revised", "withdrawn": "withdrawn", "withheld": "withheld",
           "draft": "Provisional date", "scheduled": "Scheduled", "published": "Published",
           "corrected": "Corrected"},
    "ru": {"title": "Календарь выпусков", "upcoming": "Предстоящие выпуски", "past": "Прошедшие выпуски",
           "intro": "Заранее объявленный календарь выпусков миграционной статистики Государственной "
                    "миграционной службы.",
           "zone": "бакинское время", "time": "Время", "release": "Выпуск", "dataflows": "Потоки данных",
           "status": "Статус", "documents": "Документы", "notes": "Примечания", "language": "Язык",
           "formats": "Календарь в других форматах", "generated": "Страница сформирована",
           "no_upcoming": "Запланированных выпусков пока нет.",
           "no_past": "Выпусков пока не было.",
           "to_be_announced": "Будет объявлено", "bulletin": "Бюллетень", "revisions": "Отчёт о пересмотрах",
           "data": "Данные", "corrected_by": "Исправлен выпуском № {n}",
           "correction_of": "Исправление выпуска № {n}",
           "added": "добавлено", "revised": "пересмотрено", "withdrawn": "отозвано", "withheld": "скрыто",
           "draft": "Дата уточняется", "scheduled": "Запланирован", "published": "Опубликован",
           "corrected": "Исправлен"},
}
LANGUAGE_NAMES = {"az": "Azərbaycanca", "en": "English", "ru": "Русский"}
ALTERNATES = (("releases.json", "application/json", "JSON"),
              ("releases.ics", "text/calendar", "iCalendar (.ics)"),
              ("releases.atom", "application/atom+xml", "Atom"))

STYLE = ("body{font-family:system-ui,sans-serif;line-height:1.5;max-width:64rem;margin:0 auto;padding:1rem;"
         "color:#1a1a1a;background:#fff}h1{font-size:1.6rem}h2{font-size:1.3rem;margin-top:2rem}"
         "a{color:#0645ad}.scroll{overflow-x:auto}table{border-collapse:collapse;width:100%}"
         "th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid #ccc}"
         "th{background:#f3f3f3}td ul{margin:0;padding-left:1.1rem}.desc,.counts{color:#444;font-size:.9em}"
         "time{white-space:nowrap}")


def _h(text) -> str:
    return escape(str(text), quote=True)


def _lang_attr(text_lang: str, lang: str) -> str:
    """Mark text shown in another language than the page's, for screen readers."""
    return "" if text_lang == lang else f' lang="{_h(text_lang)}"'


def _page_time(moment: datetime | None, ui: dict) -> str:
    if moment is None:
        return _h(ui["to_be_announced"])
    local = _utc(moment).astimezone(BAKU)
    return f'<time datetime="{_iso_utc(moment)}">{local:%Y-%m-%d %H:%M}</time>'


def _page_title(release: dict, base: str, lang: str) -> str:
    title, title_lang = _pick(release.get("title"), lang)
    out = (f'<a href="{_h(_release_url(base, release["id"]))}"{_lang_attr(title_lang, lang)}>'
           f"{_h(title or release['id'])}</a>")
    description = (release.get("description") or "").strip()
    return out + (f'<p class="desc">{_h(description)}</p>' if description else "")


def _page_dataflows(release: dict, base: str, lang: str, public: bool) -> str:
    ui = UI[lang]
    items = []
    for df in release.get("dataflows") or []:
        name, name_lang = _pick(df.get("name"), lang)
        item = f"<span{_lang_attr(name_lang, lang)}>{_h(name or df.get('id', ''))}</span>"
        counts = _counts(df, public)
        shown = [f"{ui[k]}: {counts[k]}" for k in COUNTS if counts[k] is not None]
        if shown:
            item += f'<br><span class="counts">{_h(", ".join(shown))}</span>'
        data = _data_url(base, df.get("ref")) if public else None
        if data:
            item += (f' · <a href="{_h(data)}" aria-label="{_h(ui["data"])}: {_h(name)} (SDMX-CSV)">'
                     "SDMX-CSV</a>")
        items.append(f"<li>{item}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _page_documents(release: dict, base: str, lang: str) -> str:
    ui = UI[lang]
    rid = release["id"]
    links = [f'<li><a href="{_h(_attachment_url(base, rid, name))}" hreflang="{_h(doc_lang)}" type="text/html">'
             f"{_h(ui['bulletin'])} ({_h(LANGUAGE_NAMES.get(doc_lang, doc_lang))})</a></li>"
             for doc_lang, name in _bulletins(release, True).items()]
    links.append(f'<li><a href="{_h(_release_url(base, rid))}/revisions.csv" type="text/csv">'
                 f"{_h(ui['revisions'])} (CSV)</a></li>")
    return f"<ul>{''.join(links)}</ul>"


def _page_notes(release: dict, lang: str) -> str:
    ui = UI[lang]
    notes = []
    if release.get("corrects") is not None:
        notes.append(ui["correction_of"].format(n=release["corrects"]))
    if release.get("corrected_by") is not None:
        notes.append(ui["corrected_by"].format(n=release["corrected_by"]))
    elif release.get("status") == "corrected":
        notes.append(ui["corrected"])
    return "<br>".join(_h(note) for note in notes)


def _page_table(key: str, columns: list[str], rows: list[str], empty: str, ui: dict) -> str:
    heading = f'<h2 id="{key}">{_h(ui[key])}</h2>'
    if not rows:
        return f"<section>{heading}<p>{_h(empty)}</p></section>"
    head = "".join(f'<th scope="col">{_h(c)}</th>' for c in columns)
    # A table wider than the phone scrolls on its own; tabindex lets a keyboard scroll it.
    return (f"<section>{heading}"
            f'<div class="scroll" role="region" aria-labelledby="{key}" tabindex="0">'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>")


def calendar_page(releases: list[dict], base_url: str, now: datetime, lang: str) -> str:
    """The calendar as an HTML5 page in az, en or ru (anything else: English)."""
    now = _utc(now)
    lang = lang if lang in UI else "en"
    ui = UI[lang]
    upcoming, past = _split(releases, now)
    time_column = f"{ui['time']} ({ui['zone']})"
    upcoming_rows = [
        f"<tr><td>{_page_time(r.get('release_time'), ui)}</td><td>{_page_title(r, base_url, lang)}</td>"
        f"<td>{_page_dataflows(r, base_url, lang, False)}</td>"
        f"<td>{_h(ui.get(_status(r, False), r['status']))}</td></tr>"
        for r in upcoming]
    past_rows = [
        f"<tr><td>{_page_time(r['release_time'], ui)}</td><td>{_page_title(r, base_url, lang)}</td>"
        f"<td>{_page_dataflows(r, base_url, lang, True)}</td><td>{_page_documents(r, base_url, lang)}</td>"
        f"<td>{_page_notes(r, lang)}</td></tr>"
        for r in past]
    switch = " · ".join(
        f'<a href="?lang={code}" hreflang="{code}" lang="{code}"'
        + (' aria-current="page"' if code == lang else "") + f">{LANGUAGE_NAMES[code]}</a>"
        for code in LANGUAGES)
    alternates = "".join(f'<link rel="alternate" type="{kind}" href="{_h(base_url)}/{path}" title="{label}">'
                         for path, kind, label in ALTERNATES)
    formats = "".join(f'<li><a href="{_h(base_url)}/{path}" type="{kind}">{label}</a></li>'
                      for path, kind, label in ALTERNATES)
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_h(ui['title'])}</title>{alternates}<style>{STYLE}</style></head><body>"
        f'<header><nav aria-label="{_h(ui["language"])}"><p>{switch}</p></nav>'
        f"<h1>{_h(ui['title'])}</h1><p>{_h(ui['intro'])}</p></header><main>"
        + _page_table("upcoming", [time_column, ui["release"], ui["dataflows"], ui["status"]],
                      upcoming_rows, ui["no_upcoming"], ui)
        + _page_table("past", [time_column, ui["release"], ui["dataflows"], ui["documents"], ui["notes"]],
                      past_rows, ui["no_past"], ui)
        + f'</main><footer><nav aria-label="{_h(ui["formats"])}"><h2>{_h(ui["formats"])}</h2>'
        f"<ul>{formats}</ul></nav>"
        f"<p>{_h(ui['generated'])}: {_page_time(now, ui)} ({_h(ui['zone'])})</p></footer></body></html>"
    )
