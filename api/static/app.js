// The data explorer: a single page over the friendly API (/api/...) and the release
// calendar (/releases.json). No build step: a plain ES module; the chart is drawn by the
// vendored Chart.js (window.Chart, loaded by a classic <script> before this module).
//
// State lives in one object and in the page's URL (the permalink):
//   /?lang=en                                   home
//   /?lang=en&q=turkiye                         home, searching
//   /?lang=en&flow=DF_WORKPERM_ISSUED&CITIZENSHIP=TR&PERMIT_ACTION=ISSUED,EXTENDED&start=2020&end=2024&chart=bar
// In a dataflow view a dimension missing from the URL takes the API's default_filter,
// "*" means every code. Filter changes replace the URL (history.replaceState); moving
// between the home page and a dataflow pushes it, so the browser's Back button works.

import { LANGS, LANGUAGE_NAMES, STRINGS } from "./i18n.js";

const PAGE_SIZE = 1000;      // rows per API page
const MAX_ROWS = 5000;       // rows fetched for the table and chart; downloads hold all
const MAX_SERIES = 24;       // lines drawn at most
const LONG_LIST = 8;         // from this many codes a list gets its own text filter and starts closed
const TIME_ZONE = "Asia/Baku";
// Okabe-Ito colours (distinguishable with colour-blindness) then a few darker ones.
const COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
  "#8C564B", "#7F7F7F", "#17BECF", "#BCBD22", "#9467BD"];

// --- text -----------------------------------------------------------------------------

/** Fold for matching: lower case, Azerbaijani letters to Latin ones, accents stripped.
 * "Şəki" -> "seki", "Türkiyə" -> "turkiye", "İŞ" -> "is". The server does the same. */
export function fold(text) {
  return String(text ?? "")
    .replace(/İ/g, "i").replace(/I/g, "i")
    .toLowerCase()
    .replace(/ə/g, "e")
    .replace(/ı/g, "i")
    .normalize("NFD").replace(/\p{M}/gu, "")
    .replace(/ß/g, "ss");
}

function t(key, vars = {}) {
  const entry = STRINGS[state.lang]?.[key] ?? STRINGS.en[key] ?? key;
  if (typeof entry === "function") return entry(vars);
  return entry.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

function numberFormat() {
  const format = new Intl.NumberFormat(state.lang, { maximumFractionDigits: 3 });
  if (state.lang === "az" && format.format(1000.5) === "1,000.5") {
    // Chromium's reduced locale data formats az as English: use CLDR's az separators (1.514 and 0,5).
    return new Intl.NumberFormat("de", { maximumFractionDigits: 3 });
  }
  return format;
}

const AZ_MONTHS = ["yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avqust", "sentyabr",
  "oktyabr", "noyabr", "dekabr"];

function formatDate(iso, withTime = false) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  if (state.lang === "az") {
    // Browsers' reduced locale data often lacks Azerbaijani month names ("2026 M11 30").
    const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
      year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit",
      hourCycle: "h23", timeZone: TIME_ZONE,
    }).formatToParts(date).map((p) => [p.type, p.value]));
    const text = `${Number(parts.day)} ${AZ_MONTHS[Number(parts.month) - 1]} ${parts.year}`;
    return withTime ? `${text}, ${parts.hour}:${parts.minute}` : text;
  }
  const opts = withTime ? { dateStyle: "long", timeStyle: "short", timeZone: TIME_ZONE }
    : { dateStyle: "long", timeZone: TIME_ZONE };
  return new Intl.DateTimeFormat(state.lang, opts).format(date);
}

/** Element builder: h("a", {href: "/"}, "text", child). Text is never parsed as HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (name === "style") el.style.cssText = value;
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Links from the calendar may be absolute; the page is served by the same API. */
function localHref(url) {
  try {
    const u = new URL(url, location.href);
    return u.origin === location.origin ? u.pathname + u.search + u.hash : u.href;
  } catch {
    return url;
  }
}

// --- state and URL ----------------------------------------------------------------------

const RESERVED = new Set(["lang", "flow", "q", "start", "end", "chart"]);

const state = {
  lang: "en",
  flow: null,        // dataflow id, or null on the home page
  q: "",             // home search
  filters: {},       // dimension id -> array of codes (from the URL; "*" = all)
  start: null,       // period or null (= first)
  end: null,         // period or null (= last)
  chart: "line",
};

function browserLang() {
  for (const tag of navigator.languages || [navigator.language || ""]) {
    const two = String(tag).slice(0, 2).toLowerCase();
    if (LANGS.includes(two)) return two;
  }
  return "en";
}

function readUrl() {
  const p = new URLSearchParams(location.search);
  const filters = {};
  for (const [key, value] of p) {
    if (RESERVED.has(key) || !/^[A-Za-z][A-Za-z0-9_]*$/.test(key)) continue;
    filters[key] = value === "*" ? "*" : value.split(",").map((c) => c.trim()).filter(Boolean);
  }
  Object.assign(state, {
    lang: LANGS.includes(p.get("lang")) ? p.get("lang") : browserLang(),
    flow: p.get("flow") || null,
    q: p.get("q") || "",
    filters,
    start: p.get("start") || null,
    end: p.get("end") || null,
    chart: p.get("chart") === "bar" ? "bar" : "line",
  });
}

function enc(value) {
  // Keep commas and stars readable in the permalink.
  return encodeURIComponent(value).replace(/%2C/gi, ",").replace(/%2A/gi, "*");
}

function viewUrl({ lang = state.lang, flow = state.flow, q = state.q, filters } = {}) {
  const parts = [`lang=${enc(lang)}`];
  if (flow) {
    parts.push(`flow=${enc(flow)}`);
    const current = filters ?? (flow === state.flow && view.detail ? urlFilters() : {});
    for (const [dim, codes] of Object.entries(current)) parts.push(`${enc(dim)}=${enc(codes)}`);
    if (flow === state.flow && !filters) {
      if (state.start) parts.push(`start=${enc(state.start)}`);
      if (state.end) parts.push(`end=${enc(state.end)}`);
      if (state.chart !== "line") parts.push(`chart=${state.chart}`);
    }
  } else if (q) {
    parts.push(`q=${enc(q)}`);
  }
  return `/?${parts.join("&")}`;
}

/** The selection of every dimension as written in the URL: "*" for all, else codes. */
function urlFilters() {
  const out = {};
  for (const dim of view.detail.dimensions) {
    const sel = view.selection[dim.id];
    if (!sel || dim.codes.length <= 1) continue;
    out[dim.id] = sel.size === dim.codes.length ? "*" : ordered(dim, sel).join(",");
  }
  return out;
}

/** The chosen codes in codelist order, so that a permalink does not depend on click order. */
function ordered(dim, selection) {
  return dim.codes.map((c) => c.id).filter((id) => selection.has(id));
}

function updateUrl(push = false) {
  const url = viewUrl();
  if (url !== location.pathname + location.search) {
    history[push ? "pushState" : "replaceState"](null, "", url);
  }
  const field = document.getElementById("permalink");
  if (field) field.value = location.href;
}

// --- API --------------------------------------------------------------------------------

async function getJSON(url) {
  let response;
  try {
    response = await fetch(url, { headers: { Accept: "application/json" } });
  } catch (err) {
    throw new Error(err.message || String(err));
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body?.error?.message || `${response.status} ${response.statusText}`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

const cache = new Map();
function cached(url) {
  if (!cache.has(url)) {
    const promise = getJSON(url);
    cache.set(url, promise);
    promise.catch(() => cache.delete(url));
  }
  return cache.get(url);
}

// --- page frame -------------------------------------------------------------------------

const view = {
  detail: null,       // /api/dataflows/{id} in the current language
  selection: {},      // dimension id -> Set of codes
  chart: null,        // the Chart.js instance
  dataSeq: 0,         // guards against answers arriving out of order
  searchSeq: 0,
  searchTimer: null,
  dataTimer: null,
  serverMatches: null, // {q, byId: Map(id -> dataflow)} from /api/dataflows?q=
};

function renderFrame() {
  document.documentElement.lang = state.lang;
  document.title = `${t("siteSubtitle")} · ${t("siteTitle")}`;
  const header = document.getElementById("site-header");
  header.replaceChildren(
    h("a", { class: "skip", href: "#main" }, t("skip")),
    h("div", { class: "header-inner" },
      h("a", { class: "brand", href: viewUrl({ flow: null, q: "" }), onclick: navigate },
        h("span", { class: "brand-title" }, t("siteTitle")),
        h("span", { class: "brand-sub" }, t("siteSubtitle"))),
      h("nav", { class: "langs", "aria-label": t("language") },
        LANGS.map((lang) => h("button", {
          type: "button", lang, class: "lang", "aria-pressed": String(lang === state.lang),
          title: LANGUAGE_NAMES[lang], "aria-label": LANGUAGE_NAMES[lang],
          onclick: () => setLanguage(lang),
        }, lang.toUpperCase())))));
  document.getElementById("site-footer").replaceChildren(
    h("p", {}, t("footer")),
    h("p", {}, h("a", { href: "/docs" }, t("apiDocs")), " · ",
      h("a", { href: `/releases?lang=${state.lang}` }, t("allReleases"))));
}

function main() {
  return document.getElementById("main");
}

function showError(err, where = main()) {
  const box = h("div", { class: "error", role: "alert" }, t("error", { message: err.message || String(err) }));
  where.prepend(box);
  return box;
}

function navigate(event) {
  // Same-page links: change the view without reloading.
  const link = event.currentTarget;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  history.pushState(null, "", link.getAttribute("href"));
  route(true);
}

async function setLanguage(lang) {
  if (lang === state.lang) return;
  state.lang = lang;
  updateUrl();
  await route(false, true);
  document.querySelector(`.langs button[lang="${lang}"]`)?.focus();
}

async function route(focus = false, keepState = false) {
  if (!keepState) readUrl();
  renderFrame();
  if (view.chart) {
    view.chart.destroy();
    view.chart = null;
  }
  if (state.flow) await renderFlow(focus);
  else await renderHome(focus);
}

// --- home -------------------------------------------------------------------------------

async function renderHome(focus) {
  view.detail = null;
  updateUrl();
  const m = main();
  const results = h("div", { id: "flow-list", "aria-busy": "true" }, h("p", { class: "muted" }, t("loading")));
  const input = h("input", {
    id: "search", type: "search", value: state.q, autocomplete: "off", spellcheck: "false",
    placeholder: t("searchPlaceholder"), "aria-describedby": "search-hint search-count",
    oninput: (e) => onSearch(e.target.value),
  });
  const calendar = h("aside", { class: "calendar", "aria-labelledby": "calendar-title" },
    h("h2", { id: "calendar-title" }, t("calendar")), h("p", { class: "muted" }, t("loading")));
  m.replaceChildren(
    h("div", { class: "home" },
      h("section", { class: "home-main" },
        h("h1", { tabindex: "-1" }, t("siteSubtitle")),
        h("form", { class: "search", role: "search", onsubmit: (e) => e.preventDefault() },
          h("label", { for: "search" }, t("searchLabel")),
          input,
          h("p", { id: "search-hint", class: "hint" }, t("searchHint")),
          h("p", { id: "search-count", class: "count", "aria-live": "polite" })),
        results),
      calendar));
  if (focus) m.querySelector("h1").focus();
  renderCalendar(calendar);
  try {
    await Promise.all(LANGS.map((lang) => cached(`/api/dataflows?lang=${lang}`)));
  } catch (err) {
    results.replaceChildren();
    showError(err, results);
    return;
  }
  if (state.q) searchServer(state.q);
  renderFlowList();
}

function onSearch(value) {
  state.q = value;
  updateUrl();
  renderFlowList();
  clearTimeout(view.searchTimer);
  view.searchTimer = setTimeout(() => searchServer(value), 200);
}

async function searchServer(q) {
  const seq = ++view.searchSeq;
  if (!fold(q).trim()) {
    view.serverMatches = null;
    return;
  }
  try {
    const answer = await cached(`/api/dataflows?lang=${state.lang}&q=${encodeURIComponent(q)}`);
    if (seq !== view.searchSeq) return;
    view.serverMatches = { q, byId: new Map(answer.dataflows.map((d) => [d.id, d])) };
    renderFlowList();
  } catch (err) {
    if (seq === view.searchSeq) console.warn("search", err); // names still match client-side
  }
}

async function renderFlowList() {
  const list = document.getElementById("flow-list");
  if (!list) return;
  let all;
  try {
    all = await Promise.all(LANGS.map((lang) => cached(`/api/dataflows?lang=${lang}`)));
  } catch {
    return; // reported by renderHome
  }
  const current = all[LANGS.indexOf(state.lang)];
  const q = fold(state.q).trim();
  const words = q.split(/\s+/).filter(Boolean);
  // Client side: names, descriptions and ids in all three languages, folded.
  const haystack = new Map();
  for (const answer of all) {
    for (const d of answer.dataflows) {
      haystack.set(d.id, `${haystack.get(d.id) || ""} ${fold(d.id)} ${fold(d.name)} ${fold(d.description)} ${fold(d.category?.name)}`);
    }
  }
  const server = view.serverMatches && fold(view.serverMatches.q).trim() === q ? view.serverMatches.byId : null;
  const shown = current.dataflows.filter((d) => !words.length
    || words.every((w) => haystack.get(d.id).includes(w))
    || (server && server.has(d.id)));
  const byCategory = new Map(current.categories.map((c) => [c.id, { ...c, flows: [] }]));
  const other = { id: "_", name: "", flows: [] };
  for (const d of shown) (byCategory.get(d.category?.id) || other).flows.push(d);
  const groups = [...byCategory.values(), other].filter((g) => g.flows.length);

  document.getElementById("search-count").textContent = words.length
    ? (shown.length ? t("results", { n: shown.length }) : t("noResults", { q: state.q })) : "";
  list.removeAttribute("aria-busy");
  list.replaceChildren(
    h("h2", { class: "sr-only" }, t("topics")),
    ...groups.map((g) => h("section", { class: "category", "aria-labelledby": `cat-${g.id}` },
      h("h3", { id: `cat-${g.id}` }, g.name),
      h("ul", { class: "cards" }, g.flows.map((d) => flowCard(d, server?.get(d.id)))))));
}

function flowCard(d, hit) {
  const matches = hit?.matches || [];
  return h("li", { class: "card", "data-flow": d.id },
    h("h4", {}, h("a", { href: viewUrl({ flow: d.id, filters: {} }), onclick: navigate }, d.name)),
    h("p", { class: "desc" }, d.description),
    h("p", { class: "meta" },
      [d.frequency?.name, d.first_period && t("periods", { a: d.first_period, b: d.last_period }),
        d.last_update && t("lastUpdate", { date: formatDate(d.last_update) })].filter(Boolean).join(" · ")),
    matches.length ? h("p", { class: "matches" }, h("span", {}, t("matchesIn")), " ",
      matches.slice(0, 6).map((mt) => h("a", {
        class: "chip", href: viewUrl({ flow: d.id, filters: { [mt.dimension]: mt.code } }), onclick: navigate,
      }, `${mt.dimension_name}: ${mt.name}`))) : null);
}

async function renderCalendar(box) {
  let cal;
  try {
    cal = await cached("/releases.json");
  } catch (err) {
    box.querySelector(".muted")?.remove();
    showError(err, box);
    return;
  }
  const title = (r) => r.title?.[state.lang] || r.title?.en || Object.values(r.title || {})[0] || `#${r.id}`;
  const upcoming = [...(cal.upcoming || [])].sort((a, b) => a.release_time.localeCompare(b.release_time)).slice(0, 6);
  const past = [...(cal.past || [])].sort((a, b) => b.release_time.localeCompare(a.release_time))
    .filter((r) => r.links?.bulletins && Object.keys(r.links.bulletins).length).slice(0, 5);
  box.replaceChildren(
    h("h2", { id: "calendar-title" }, t("calendar")),
    h("h3", {}, t("upcoming")),
    upcoming.length ? h("ul", { class: "releases" }, upcoming.map((r) => h("li", {},
      h("time", { datetime: r.release_time }, formatDate(r.release_time, true)),
      r.status && r.status !== "scheduled" ? h("span", { class: "badge" }, t(`status_${r.status}`)) : null,
      h("span", { class: "rel-title" }, title(r))))) : h("p", { class: "muted" }, t("noUpcoming")),
    h("h3", {}, t("bulletins")),
    past.length ? h("ul", { class: "releases" }, past.map((r) => {
      const links = r.links.bulletins;
      const lang = links[state.lang] ? state.lang : (links.en ? "en" : Object.keys(links)[0]);
      return h("li", {},
        h("time", { datetime: r.release_time }, formatDate(r.release_time)),
        h("a", { class: "rel-title", href: localHref(links[lang]), hreflang: lang }, title(r)),
        lang !== state.lang ? h("span", { class: "muted" }, ` (${t("bulletinIn", { lang: LANGUAGE_NAMES[lang] })})`) : null);
    })) : h("p", { class: "muted" }, t("noBulletins")),
    h("p", {}, h("a", { href: `/releases?lang=${state.lang}` }, t("allReleases"))));
}

// --- a dataflow -----------------------------------------------------------------------

async function renderFlow(focus) {
  const m = main();
  m.replaceChildren(h("p", { class: "muted" }, t("loading")));
  let detail;
  try {
    detail = await cached(`/api/dataflows/${encodeURIComponent(state.flow)}?lang=${state.lang}`);
  } catch (err) {
    m.replaceChildren(backLink());
    showError(err.status === 404 ? new Error(t("unknownFlow", { id: state.flow })) : err, m);
    return;
  }
  view.detail = detail;
  initSelection(detail);
  const periods = detail.time_periods || [];
  if (state.start && !periods.includes(state.start)) state.start = null;
  if (state.end && !periods.includes(state.end)) state.end = null;
  document.title = `${detail.name} · ${t("siteTitle")}`;

  m.replaceChildren(
    backLink(),
    h("div", { class: "flow-head" },
      h("h1", { tabindex: "-1" }, detail.name),
      h("p", { class: "desc" }, detail.description),
      h("p", { class: "meta" }, [detail.frequency?.name,
        detail.first_period && t("periods", { a: detail.first_period, b: detail.last_period }),
        detail.last_update && t("lastUpdate", { date: formatDate(detail.last_update) })].filter(Boolean).join(" · "))),
    h("div", { class: "flow" },
      h("section", { class: "filters", "aria-labelledby": "filters-title" },
        h("h2", { id: "filters-title" }, t("filters")),
        detail.dimensions.map(dimensionFilter),
        periodFilter(periods)),
      h("div", { class: "results", "aria-busy": "true" },
        h("p", { id: "status", class: "status", role: "status", "aria-live": "polite" }),
        h("section", { class: "chart-section", "aria-labelledby": "chart-title" },
          h("div", { class: "section-head" },
            h("h2", { id: "chart-title" }, t("chart")),
            h("fieldset", { class: "toggle" },
              h("legend", { class: "sr-only" }, t("chartType")),
              ["line", "bar"].map((type) => h("label", {},
                h("input", { type: "radio", name: "chart-type", value: type, checked: state.chart === type,
                  onchange: () => { state.chart = type; updateUrl(); drawChart(view.rows || []); } }),
                h("span", {}, t(type)))))),
          h("div", { class: "chart-box" }, h("canvas", { id: "chart", role: "img", "aria-label": t("chart") })),
          h("p", { id: "chart-note", class: "note" })),
        h("section", { class: "table-section", "aria-labelledby": "table-title" },
          h("h2", { id: "table-title" }, t("table")),
          h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-labelledby": "table-title" },
            h("table", { id: "data-table" })),
          h("p", { id: "table-note", class: "note" })),
        h("section", { class: "downloads", "aria-labelledby": "downloads-title" },
          h("h2", { id: "downloads-title" }, t("downloads")),
          h("ul", { id: "download-links", class: "download-links" }),
          h("p", { class: "hint" }, t("downloadsHint")),
          h("div", { class: "permalink" },
            h("label", { for: "permalink" }, t("permalink")),
            h("div", { class: "permalink-row" },
              h("input", { id: "permalink", type: "text", readonly: true, value: location.href,
                onfocus: (e) => e.target.select() }),
              h("button", { type: "button", id: "copy-link", onclick: copyLink }, t("copy"))),
            h("p", { id: "copy-status", class: "hint", "aria-live": "polite" }))))),
    aboutSection(detail));
  updateUrl();
  if (focus) m.querySelector("h1").focus();
  await loadData();
}

function backLink() {
  return h("nav", { class: "crumbs", "aria-label": t("allData") },
    h("a", { href: viewUrl({ flow: null, q: "" }), onclick: navigate }, `← ${t("allData")}`));
}

function initSelection(detail) {
  view.selection = {};
  for (const dim of detail.dimensions) {
    const present = new Set(dim.codes.map((c) => c.id));
    let wanted = state.filters[dim.id];
    if (wanted === undefined) wanted = detail.default_filter?.[dim.id];
    let codes;
    if (dim.codes.length <= 1 || wanted === "*" || wanted === undefined || wanted === null) codes = [...present];
    else codes = (Array.isArray(wanted) ? wanted : String(wanted).split(",")).filter((c) => present.has(c));
    view.selection[dim.id] = new Set(codes);
  }
}

function codeDepths(dim) {
  const byId = new Map(dim.codes.map((c) => [c.id, c]));
  const depth = new Map();
  const of = (code, seen = new Set()) => {
    if (depth.has(code.id)) return depth.get(code.id);
    const parent = code.parent && byId.get(code.parent);
    const d = parent && !seen.has(parent.id) ? of(parent, seen.add(code.id)) + 1 : 0;
    depth.set(code.id, d);
    return d;
  };
  dim.codes.forEach((c) => of(c));
  return depth;
}

function selectionSummary(dim) {
  const sel = view.selection[dim.id];
  if (sel.size === 0) return t("nothingSelected");
  if (sel.size === dim.codes.length) return t("allSelected", { n: dim.codes.length });
  if (sel.size <= 3) return dim.codes.filter((c) => sel.has(c.id)).map((c) => c.name).join(", ");
  return t("nSelected", { n: sel.size, m: dim.codes.length });
}

function dimensionFilter(dim) {
  if (dim.codes.length <= 1) {
    return h("p", { class: "dim-fixed", "data-dim": dim.id },
      h("span", { class: "dim-name" }, `${dim.name}: `), dim.codes[0]?.name ?? "");
  }
  const depths = codeDepths(dim);
  const long = dim.codes.length > LONG_LIST;
  const summary = h("span", { class: "dim-sel" }, selectionSummary(dim));
  const boxes = [];
  const changed = () => {
    summary.textContent = selectionSummary(dim);
    for (const box of boxes) box.checked = view.selection[dim.id].has(box.value);
    scheduleData();
  };
  const items = dim.codes.map((code) => {
    const id = `code-${dim.id}-${code.id}`.replace(/[^A-Za-z0-9_-]/g, "_");
    const box = h("input", { type: "checkbox", id, value: code.id, checked: view.selection[dim.id].has(code.id),
      onchange: (e) => {
        if (e.target.checked) view.selection[dim.id].add(code.id); else view.selection[dim.id].delete(code.id);
        changed();
      } });
    boxes.push(box);
    return h("li", { "data-code": code.id, "data-fold": fold(`${code.name} ${code.id}`),
      style: `--depth:${Math.min(depths.get(code.id) || 0, 4)}`, class: depths.get(code.id) ? "child" : null },
      box, h("label", { for: id }, code.name),
      h("button", { type: "button", class: "only", "aria-label": t("onlyLabel", { name: code.name }),
        onclick: () => { view.selection[dim.id] = new Set([code.id]); changed(); } }, t("only")));
  });
  const list = h("ul", { class: "codes", role: "group", "aria-label": dim.name }, items);
  const find = long ? h("input", {
    type: "search", class: "find", id: `find-${dim.id}`, autocomplete: "off", spellcheck: "false",
    "aria-label": t("findIn", { dim: dim.name }), placeholder: t("findIn", { dim: dim.name }),
    oninput: (e) => {
      const words = fold(e.target.value).trim().split(/\s+/).filter(Boolean);
      for (const li of items) li.hidden = !words.every((w) => li.dataset.fold.includes(w));
    },
  }) : null;
  return h("details", { class: "dim", "data-dim": dim.id, open: !long },
    h("summary", {}, h("span", { class: "dim-name" }, dim.name), summary),
    h("div", { class: "dim-body" },
      find,
      h("div", { class: "dim-actions" },
        h("button", { type: "button", onclick: () => { view.selection[dim.id] = new Set(dim.codes.map((c) => c.id)); changed(); } }, t("selectAll")),
        h("button", { type: "button", onclick: () => { view.selection[dim.id] = new Set(); changed(); } }, t("selectNone"))),
      list));
}

function periodFilter(periods) {
  if (!periods.length) return null;
  const select = (id, label, value, fallback) => h("div", { class: "period" },
    h("label", { for: id }, label),
    h("select", { id, onchange: onPeriod },
      periods.map((p) => h("option", { value: p, selected: (value || fallback) === p }, p))));
  return h("fieldset", { class: "periods" },
    h("legend", {}, t("period")),
    select("period-start", t("periodFrom"), state.start, periods[0]),
    select("period-end", t("periodTo"), state.end, periods[periods.length - 1]));
}

function onPeriod() {
  const periods = view.detail.time_periods;
  let a = document.getElementById("period-start").value;
  let b = document.getElementById("period-end").value;
  if (periods.indexOf(a) > periods.indexOf(b)) {
    [a, b] = [b, a];
    document.getElementById("period-start").value = a;
    document.getElementById("period-end").value = b;
  }
  state.start = a === periods[0] ? null : a;
  state.end = b === periods[periods.length - 1] ? null : b;
  scheduleData();
}

function scheduleData() {
  updateUrl();
  document.querySelector(".results")?.setAttribute("aria-busy", "true");
  clearTimeout(view.dataTimer);
  view.dataTimer = setTimeout(loadData, 150);
}

function apiQuery() {
  const params = new URLSearchParams({ lang: state.lang });
  for (const dim of view.detail.dimensions) {
    const sel = view.selection[dim.id];
    if (sel.size && sel.size < dim.codes.length) params.set(dim.id, ordered(dim, sel).join(","));
  }
  if (state.start) params.set("start", state.start);
  if (state.end) params.set("end", state.end);
  return params;
}

async function loadData() {
  const seq = ++view.dataSeq;
  const status = document.getElementById("status");
  const empty = view.detail.dimensions.filter((d) => view.selection[d.id].size === 0);
  if (empty.length) {
    status.textContent = t("chooseOne", { dims: empty.map((d) => d.name).join(", ") });
    view.rows = [];
    renderResults({ rows: [], total: 0, downloads: [] });
    return;
  }
  status.textContent = t("loading");
  document.querySelector(".results")?.setAttribute("aria-busy", "true");
  const base = `/api/dataflows/${encodeURIComponent(view.detail.id)}/data?${apiQuery()}`;
  const rows = [];
  let answer;
  try {
    for (let page = 1; ; page += 1) {
      answer = await getJSON(`${base}&page=${page}&page_size=${PAGE_SIZE}`);
      if (seq !== view.dataSeq) return;
      rows.push(...answer.rows);
      if (!answer.next && !(answer.pages > page)) break;
      if (rows.length >= MAX_ROWS) break;
    }
  } catch (err) {
    if (seq !== view.dataSeq) return;
    status.textContent = "";
    document.querySelector(".results")?.removeAttribute("aria-busy");
    document.querySelectorAll(".results > .error").forEach((e) => e.remove());
    showError(err, document.querySelector(".results"));
    return;
  }
  document.querySelectorAll(".results > .error").forEach((e) => e.remove());
  view.rows = rows;
  renderResults({ ...answer, rows, total: answer.total ?? rows.length });
}

function renderResults(answer) {
  document.querySelector(".results")?.removeAttribute("aria-busy");
  const { rows, total } = answer;
  const status = document.getElementById("status");
  if (view.detail.dimensions.every((d) => view.selection[d.id].size)) {
    status.textContent = rows.length ? t("observations", { n: total }) : t("noData");
  }
  renderTable(rows, total);
  drawChart(rows);
  renderDownloads(answer.downloads || []);
}

/** Dimensions worth a column / a part of a line's name: more than one code chosen. */
function varyingDimensions(rows) {
  const dims = view.detail.dimensions.filter((d) => d.codes.length > 1);
  const varying = dims.filter((d) => new Set(rows.map((r) => r[d.id])).size > 1);
  return { dims, varying };
}

function renderTable(rows, total) {
  const table = document.getElementById("data-table");
  const fmt = numberFormat();
  const { dims } = varyingDimensions(rows);
  const confidential = rows.some((r) => r.confidential);
  table.replaceChildren(
    h("caption", { class: "sr-only" }, t("tableCaption", { title: view.detail.name })),
    h("thead", {}, h("tr", {},
      dims.map((d) => h("th", { scope: "col" }, d.name)),
      h("th", { scope: "col" }, t("period")),
      h("th", { scope: "col", class: "num" }, t("value")),
      h("th", { scope: "col" }, t("status")))),
    h("tbody", {}, rows.map((r) => h("tr", { class: r.confidential ? "suppressed-row" : null },
      dims.map((d) => h("td", {}, r[`${d.id}_label`] ?? r[d.id])),
      h("td", {}, r.TIME_PERIOD),
      r.confidential
        ? h("td", { class: "num suppressed" }, t("suppressed"))
        : h("td", { class: "num" }, r.value === null || r.value === undefined ? "–" : fmt.format(r.value)),
      h("td", { class: "status-cell" },
        r.confidential ? h("span", { class: "suppressed-note" }, r.note || t("suppressed"))
          // "A" is SDMX's normal value: left blank, so that provisional or estimated values stand out.
          : (r.status === "A" ? "" : (r.status_label || r.note || "")))))));
  const notes = [];
  if (total > rows.length) notes.push(t("truncated", { n: rows.length, total }));
  if (confidential) notes.push(t("suppressedNote"));
  document.getElementById("table-note").textContent = notes.join(" ");
}

function drawChart(rows) {
  const canvas = document.getElementById("chart");
  if (!canvas) return;
  if (view.chart) {
    view.chart.destroy();
    view.chart = null;
  }
  const note = document.getElementById("chart-note");
  const periods = (view.detail.time_periods || []).filter((p) => rows.some((r) => r.TIME_PERIOD === p));
  for (const r of rows) if (!periods.includes(r.TIME_PERIOD)) periods.push(r.TIME_PERIOD);
  const { dims, varying } = varyingDimensions(rows);
  const nameDims = varying.length ? varying : dims.filter((d) => d.id !== "FREQ");
  const series = new Map();
  for (const r of rows) {
    const key = dims.map((d) => r[d.id]).join(".");
    if (!series.has(key)) {
      const label = nameDims.map((d) => r[`${d.id}_label`] ?? r[d.id]).join(" · ") || view.detail.name;
      series.set(key, { label, data: [] });
    }
    // A suppressed cell is null: a gap, never zero.
    series.get(key).data.push({ x: r.TIME_PERIOD, y: r.confidential ? null : r.value });
  }
  const all = [...series.values()];
  const drawn = all.slice(0, MAX_SERIES);
  const notes = [];
  if (all.length > drawn.length) notes.push(t("tooManySeries", { n: drawn.length, m: all.length }));
  if (rows.some((r) => r.confidential)) notes.push(t("chartGaps"));
  note.textContent = notes.join(" ");
  canvas.setAttribute("aria-label", t("chartLabel", { title: view.detail.name, n: drawn.length }));
  if (!rows.length || typeof window.Chart !== "function") return;
  const fmt = numberFormat();
  const bar = state.chart === "bar";
  view.chart = new window.Chart(canvas, {
    type: bar ? "bar" : "line",
    data: {
      labels: periods,
      datasets: drawn.map((s, i) => ({
        label: s.label,
        data: s.data,
        borderColor: COLOURS[i % COLOURS.length],
        backgroundColor: COLOURS[i % COLOURS.length],
        borderWidth: 2,
        pointRadius: 3,
        spanGaps: false,
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "nearest", intersect: false },
      scales: {
        x: { grid: { display: false } },
        y: { beginAtZero: true, ticks: { callback: (v) => fmt.format(v) } },
      },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12 } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${ctx.raw?.y === null ? t("suppressed") : fmt.format(ctx.parsed.y)}` } },
      },
    },
  });
}

function renderDownloads(downloads) {
  const list = document.getElementById("download-links");
  if (!list) return;
  // A file name for the browser: the SDMX answers do not all name themselves.
  const extension = (format) => (/csv/.test(format) ? "csv" : format === "xlsx" ? "xlsx"
    : /json/.test(format) ? "json" : "xml");
  list.replaceChildren(...downloads.map((d) => h("li", {},
    h("a", { href: d.url, download: `${view.detail.id}.${extension(d.format)}`, "data-format": d.format,
      class: "button" }, d.label))));
}

async function copyLink() {
  const field = document.getElementById("permalink");
  const status = document.getElementById("copy-status");
  field.value = location.href;
  try {
    await navigator.clipboard.writeText(location.href);
    status.textContent = t("copied");
  } catch {
    field.focus();
    field.select();
    status.textContent = t("copyFailed");
  }
}

function aboutSection(detail) {
  const releases = detail.releases || [];
  return h("section", { class: "about", "aria-labelledby": "about-title" },
    h("h2", { id: "about-title" }, t("about")),
    detail.confidentiality ? h("div", { class: "confidentiality" },
      h("h3", {}, t("confidentiality")), h("p", {}, detail.confidentiality)) : null,
    h("p", {}, h("a", { id: "metadata-link",
      href: `${detail.links?.metadata || `/dataflows/${detail.id}/metadata`}?lang=${state.lang}` }, t("fullMetadata"))),
    h("h3", {}, t("releaseHistory")),
    releases.length ? h("ul", { class: "releases", id: "release-history" }, releases.map((r) => h("li", {},
      h("time", { datetime: r.release_time }, formatDate(r.release_time, true)),
      r.status && r.status !== "published" ? h("span", { class: "badge" }, t(`status_${r.status}`)) : null,
      r.url && r.public !== false ? h("a", { class: "rel-title", href: `${localHref(r.url)}?lang=${state.lang}` }, r.title)
        : h("span", { class: "rel-title" }, r.title)))) : h("p", { class: "muted" }, t("noReleases")));
}

// --- start --------------------------------------------------------------------------------

window.addEventListener("popstate", () => route(true));
route(false).catch((err) => showError(err));
