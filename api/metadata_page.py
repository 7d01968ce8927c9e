"""A dataflow's reference metadata as a plain, readable web page (SIMS 2.0, 19 sections).

Semantic HTML, no script and no external resources: a heading per SIMS section and
sub-concept with its number, a table of contents, the texts as paragraphs. A text
missing in the page's language is shown in English (else Azerbaijani), marked with its
own ``lang`` so that screen readers pronounce it right.
"""

from __future__ import annotations

from html import escape

from api.negotiation import accept_language as preferred
from store.documents import LANGUAGES, urn_ref

#: Page language when neither ?lang= nor Accept-Language names one of ours.
DEFAULT_LANGUAGE = "az"
FALLBACK = ("en", "az", "ru")

UI = {
    "az": {"title": "Referans metaməlumatları", "contents": "Mündəricat", "updated": "Son yenilənmə",
           "dataflow": "Məlumat axını", "languages": "Dil", "formats": "Maşınla oxunan formatlar",
           "data": "Məlumatlar"},
    "en": {"title": "Reference metadata", "contents": "Contents", "updated": "Last update",
           "dataflow": "Dataflow", "languages": "Language", "formats": "Machine-readable formats",
           "data": "Data"},
    "ru": {"title": "Справочные метаданные", "contents": "Содержание", "updated": "Последнее обновление",
           "dataflow": "Поток данных", "languages": "Язык", "formats": "Машиночитаемые форматы",
           "data": "Данные"},
}
LANGUAGE_NAMES = {"az": "Azərbaycanca", "en": "English", "ru": "Русский"}

STYLE = ("body{font-family:system-ui,sans-serif;line-height:1.5;max-width:48rem;margin:0 auto;padding:1rem;"
         "color:#1a1a1a;background:#fff}h1{font-size:1.6rem}h2{font-size:1.3rem;margin-top:2rem;"
         "border-bottom:1px solid #ccc}h3{font-size:1.05rem;margin-bottom:.25rem}a{color:#0645ad}"
         "nav ol{columns:2}code{font-size:.9em}")


def page_language(query: str | None, accept_language: str | None) -> str:
    """?lang= if it is one of ours, else the first of ours in Accept-Language, else az."""
    if query in LANGUAGES:
        return query
    return preferred(accept_language, DEFAULT_LANGUAGE, tuple(LANGUAGES))


def _pick(texts: dict, lang: str) -> tuple[str, str]:
    """(text, its language): the page's language, else the fallbacks."""
    for candidate in (lang, *FALLBACK):
        if texts.get(candidate):
            return texts[candidate], candidate
    return "", lang


def _lang_attr(text_lang: str, lang: str) -> str:
    return "" if text_lang == lang else f' lang="{text_lang}"'


def _paragraphs(texts: dict, lang: str) -> str:
    text, text_lang = _pick(texts, lang)
    attr = _lang_attr(text_lang, lang)
    return "".join(f"<p{attr}>{escape(' '.join(p.split()))}</p>"
                   for p in text.split("\n\n") if p.strip())


def _heading(level: int, number: str, names: dict, lang: str) -> str:
    name, name_lang = _pick(names, lang)
    anchor = "s" + number.replace(".", "-")
    return (f'<h{level} id="{anchor}"><span class="number">{escape(number)}.</span> '
            f'<span{_lang_attr(name_lang, lang)}>{escape(name)}</span></h{level}>')


def _sections(structure: list[dict], values: dict, names: dict, lang: str, level: int = 2) -> str:
    out = []
    for a in structure:
        body = (_sections(a["children"], values, names, lang, level + 1) if a.get("children")
                else _paragraphs(values.get(a["id"], {}), lang))
        out.append(f"<section>{_heading(level, a['number'], names.get(a['id'], {}), lang)}{body}</section>")
    return "".join(out)


def _texts_by_id(attributes: list[dict]) -> dict[str, dict]:
    out = {}
    for a in attributes:
        if "attributes" in a:
            out.update(_texts_by_id(a["attributes"]))
        else:
            out[a["id"]] = a["text"]
    return out


def render(metadata_set: dict, msd: dict, names: dict[str, dict], lang: str) -> str:
    """The page for one metadata set; `names`: SIMS concept id -> {lang: name}."""
    ui = UI[lang]
    target = metadata_set["target"]
    flow_id = target["id"]
    title, title_lang = _pick(metadata_set["name"], lang)
    switch = " · ".join(
        f'<a href="?lang={code}" hreflang="{code}" lang="{code}"'
        + (' aria-current="page"' if code == lang else "") + f">{LANGUAGE_NAMES[code]}</a>"
        for code in LANGUAGES)
    contents = "".join(
        f'<li><a href="#s{a["number"]}">{escape(_pick(names.get(a["id"], {}), lang)[0])}</a></li>'
        for a in msd["attributes"])
    flow_path = f"{target['agency']}/{flow_id}/{target['version']}"
    links = (f'<li><a href="/sdmx/3.0/metadata/structure/dataflow/{flow_path}">SDMX-ML 2.1 (GenericMetadata)</a></li>'
             f'<li><a href="/sdmx/3.0/metadata/structure/dataflow/{flow_path}?format=jsonmetadata">'
             f"SDMX-JSON 2.0</a></li>"
             f'<li>{ui["data"]}: <a href="/sdmx/3.0/data/dataflow/{flow_path}?format=csv&amp;labels=both">'
             f"SDMX-CSV 2.0</a></li>")
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · {ui['title']}</title><style>{STYLE}</style></head><body>"
        f'<header><nav aria-label="{ui["languages"]}"><p>{switch}</p></nav>'
        f"<h1{_lang_attr(title_lang, lang)}>{escape(title)}</h1>"
        f"<p>{ui['dataflow']}: <code>{escape(urn_ref(target))}</code> · {ui['updated']}: "
        f'<time datetime="{escape(metadata_set["updated"])}">{escape(metadata_set["updated"])}</time></p></header>'
        f'<nav aria-labelledby="contents"><h2 id="contents">{ui["contents"]}</h2><ol>{contents}</ol></nav>'
        f"<main>{_sections(msd['attributes'], _texts_by_id(metadata_set['attributes']), names, lang)}</main>"
        f'<footer><h2>{ui["formats"]}</h2><ul>{links}</ul></footer>'
        "</body></html>"
    )
