// Kustiq's local dashboard: plain DOM, no framework, no build step.
// Every value from the API reaches the page through textContent or an
// attribute, never through HTML parsing.
"use strict";

const TOKEN_KEY = "kustiq.token";
const API = "/api/v1";
const STRIPE = API + "/integrations/stripe";
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- DOM helpers

/** An element with attributes (`class`, `data-*`, properties for the rest) and children. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class" || k.startsWith("data-") || k.startsWith("aria-")) el.setAttribute(k, v);
    else el[k] = v;
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

function setState(id, text, isError) {
  const el = $(id);
  el.textContent = text || "";
  el.classList.toggle("error", Boolean(isError));
}

function notice(text, isError) {
  const el = $("notice");
  el.textContent = text;
  el.classList.toggle("error", Boolean(isError));
  el.hidden = !text;
}

// ---------------------------------------------------------------- formatting

function fmtScore(s) {
  return typeof s === "number" ? s.toFixed(1) : "—";
}

function fmtImpact(i) {
  if (typeof i !== "number") return "—";
  return (i > 0 ? "+" : "") + i.toFixed(1);
}

/** Money in minor units with its currency, as `{"amount", "currency"}`. */
function fmtMoney(m) {
  if (!m || typeof m.amount !== "number" || typeof m.currency !== "string") return "—";
  try {
    const f = new Intl.NumberFormat(undefined, { style: "currency", currency: m.currency.toUpperCase() });
    const digits = f.resolvedOptions().maximumFractionDigits;
    return f.format(m.amount / 10 ** digits);
  } catch (_) {
    return m.amount + " (minor units) " + m.currency;
  }
}

function fmtDate(d) {
  return d ? String(d).slice(0, 10) : "—";
}

function fmtTime(t) {
  return t ? String(t).replace("T", " ").replace(/\+00:00$|Z$/, " UTC") : "—";
}

/** `u` when it is an http(s) URL, else null: an API value never becomes a `javascript:` link. */
function safeUrl(u) {
  try {
    return ["http:", "https:"].includes(new URL(u, location.href).protocol) ? u : null;
  } catch (_) {
    return null;
  }
}

function impactSpan(i) {
  return h("span", { class: "impact " + (i > 0 ? "up" : i < 0 ? "down" : "") }, fmtImpact(i));
}

function facts(dl, rows) {
  dl.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// ---------------------------------------------------------------- the token

function readToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
    // Out of the address bar and the history: the token stays in this tab's storage only.
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function askToken() {
  const t = window.prompt("Bearer token for this runner (kustiq-local token --workspace …):");
  if (t && t.trim()) sessionStorage.setItem(TOKEN_KEY, t.trim());
  return sessionStorage.getItem(TOKEN_KEY);
}

function tokenWorkspace(token) {
  try {
    const payload = token.split(".")[0].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload));
    return claims.workspace_id + " (" + claims.plan + ", " + claims.region + ")";
  } catch (_) {
    return "token set";
  }
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.code ? e.code + ": " + (e.message || "") : "HTTP " + status);
    this.status = status;
    this.code = e.code || null;
  }
}

/** Calls the API with the bearer token; resolves to the JSON body, rejects with ApiError. */
async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
  let json = null;
  try {
    json = await resp.json();
  } catch (_) {
    json = null;
  }
  if (resp.status === 401) {
    notice("The token was refused (" + ((json && json.error && json.error.message) || "401") +
      "). Set a new one with “Set token”.", true);
  }
  if (!resp.ok) throw new ApiError(resp.status, json);
  return json;
}

// ---------------------------------------------------------------- at risk

const atRisk = { cursor: null };

function factorTags(factors) {
  return (factors || []).map((f) => h("span", { class: "tag", title: f.explanation || "" },
    f.signal + " ", impactSpan(f.impact)));
}

async function loadAtRisk(more) {
  const sort = $("at-risk-sort").value;
  const params = new URLSearchParams({ limit: "25" });
  if (sort !== "score") params.set("sort", sort);
  if (more && atRisk.cursor) params.set("cursor", atRisk.cursor);
  setState("at-risk-state", "Loading…");
  const tbody = $("at-risk-table").tBodies[0];
  try {
    const page = await api("GET", API + "/churn/at-risk?" + params);
    if (!more) tbody.replaceChildren();
    for (const row of page.data || []) {
      tbody.append(h("tr", { "data-profile": row.profile_id },
        h("td", {}, h("button", { type: "button", class: "link open", onclick: () => openProfile(row.profile_id) }, row.profile_id)),
        h("td", { class: "num score at-risk" }, fmtScore(row.score),
          typeof row.delta === "number" ? h("span", { class: "delta" }, " (", fmtImpact(row.delta), ")") : null),
        h("td", {}, factorTags(row.top_factors)),
        h("td", { class: "num" }, fmtMoney(row.mrr)),
        h("td", {}, row.lifecycle || "—"),
        h("td", {}, fmtDate(row.renewal_date))));
    }
    atRisk.cursor = page.next_cursor || null;
    $("at-risk-more").hidden = !atRisk.cursor;
    setState("at-risk-state", tbody.rows.length ? tbody.rows.length + " profiles at risk" : "No profile is at risk.");
  } catch (e) {
    if (sort === "rising" && (e.status === 400 || e.status === 404)) {
      setState("at-risk-state", "Sorting by rise is not available on this server yet.", true);
    } else {
      setState("at-risk-state", "Could not load the at-risk list: " + e.message, true);
    }
  }
}

// ---------------------------------------------------------------- one profile

let currentProfile = null;

/** The score history as an SVG line with one point per change. */
function historyChart(history) {
  const points = (history || [])
    .filter((p) => typeof p.score === "number" && p.at)
    .map((p) => ({ ...p, t: Date.parse(p.at) }))
    .filter((p) => !Number.isNaN(p.t))
    .sort((a, b) => a.t - b.t);
  const W = 480, H = 150, L = 30, R = 10, T = 10, B = 22;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img",
    "aria-label": "Score history, " + points.length + " points", "data-points": points.length });
  if (!points.length) {
    chart.append(svg("text", { x: L, y: H / 2 }, "No history yet."));
    return chart;
  }
  const t0 = points[0].t, t1 = points[points.length - 1].t;
  const x = (t) => (t1 === t0 ? (L + W - R) / 2 : L + ((t - t0) / (t1 - t0)) * (W - L - R));
  const y = (s) => T + (1 - Math.min(Math.max(s, 0), 100) / 100) * (H - T - B);
  for (const s of [0, 50, 100]) {
    chart.append(svg("line", { class: "grid", x1: L, x2: W - R, y1: y(s), y2: y(s) }));
    chart.append(svg("text", { x: 4, y: y(s) + 3 }, s));
  }
  chart.append(svg("polyline", { class: "line", points: points.map((p) => `${x(p.t)},${y(p.score)}`).join(" ") }));
  for (const p of points) {
    chart.append(svg("circle", { class: "point", cx: x(p.t), cy: y(p.score), r: 3.5, "data-score": p.score },
      svg("title", {}, fmtTime(p.at) + ": " + fmtScore(p.score) + (p.reason ? " (" + p.reason + ")" : ""))));
  }
  chart.append(svg("text", { x: L, y: H - 6 }, fmtDate(points[0].at)));
  chart.append(svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, fmtDate(points[points.length - 1].at)));
  return chart;
}

function familyBlock(name, family) {
  const factors = (family.factors || []).slice().sort((a, b) => Math.abs(b.impact) - Math.abs(a.impact));
  return h("div", { class: "family", "data-family": name },
    h("h4", {}, name + " ", impactSpan(family.impact)),
    factors.length ? factors.map((f) => h("div", { class: "factor", "data-signal": f.signal },
      h("span", { class: "signal" }, f.signal), " ", impactSpan(f.impact),
      h("div", { class: "explanation" }, f.explanation || ""),
      (f.evidence || []).length ? h("div", { class: "evidence" }, "evidence: " + f.evidence.join(", ")) : null))
      : h("div", { class: "state" }, "No factors."));
}

async function openProfile(id) {
  currentProfile = id;
  $("profile").hidden = false;
  $("profile-id").textContent = id;
  setState("profile-state", "Loading…");
  try {
    const c = await api("GET", API + "/profiles/" + encodeURIComponent(id) + "/churn");
    if (currentProfile !== id) return;
    const b = c.billing || {};
    facts($("profile-summary"), [
      ["Score", h("span", { class: "score" + (c.at_risk ? " at-risk" : "") }, fmtScore(c.score), c.at_risk ? " — at risk" : "")],
      ["Explanation", c.explanation || "—"],
      ["Classifier", c.classifier ? (typeof c.classifier.churn_risk === "number" ? fmtScore(c.classifier.churn_risk) : "no churn_risk supplied") + ", weight " + c.classifier.weight : "—"],
      ["Stripe customer", b.stripe_customer_id || "not matched"],
      ["MRR", fmtMoney(b.mrr)],
      ["Lifecycle", b.lifecycle || "—"],
      ["Renewal", fmtDate(b.renewal_date)],
      ["Churn type", b.churn_type || "—"],
    ]);
    $("history-chart").replaceChildren(historyChart(c.history));
    const families = Object.entries(c.families || {});
    $("families").replaceChildren(...(families.length
      ? families.map(([name, f]) => familyBlock(name, f))
      : [h("p", { class: "state" }, "No family has factors.")]));
    setState("profile-state", "");
  } catch (e) {
    setState("profile-state", e.status === 404 ? "No profile " + id + " in this workspace." : "Could not load: " + e.message, true);
    $("profile-summary").replaceChildren();
    $("history-chart").replaceChildren();
    $("families").replaceChildren();
  }
}

// ---------------------------------------------------------------- integration

async function loadIntegration() {
  setState("integration-state", "Loading…");
  try {
    const s = await api("GET", STRIPE);
    facts($("integration-summary"), [
      ["Connected", s.connected ? "yes" : "no"],
      ["Method", s.method || "—"],
      ["Mode", s.mode || "—"],
      ["Region", s.region || "—"],
      ["Account", s.account_id || "—"],
      ["Last sync", fmtTime(s.last_sync_at)],
    ]);
    const bf = s.backfill;
    const box = $("backfill");
    box.replaceChildren();
    if (s.error) {
      box.append(h("div", { class: "error-box", "data-code": s.error.code },
        h("strong", {}, s.error.code), " ", s.error.message || "",
        safeUrl(s.error.doc) ? h("div", {}, "See ", h("a", { href: s.error.doc, rel: "noreferrer noopener", target: "_blank" }, s.error.doc)) : null));
    }
    if (bf) {
      const est = Math.max(bf.objects_estimated || 0, bf.objects_done || 0);
      box.append(h("div", { class: "backfill", "data-state": bf.state },
        "Backfill: " + bf.state + " ",
        h("progress", { max: est || 1, value: est ? bf.objects_done || 0 : (bf.state === "done" ? 1 : 0) }),
        " " + (bf.objects_done || 0) + " / " + (est || "?") + " objects"));
    }
    const tbody = $("failed-events").tBodies[0];
    tbody.replaceChildren(...(s.failed_events || []).map((f) => h("tr", { "data-event": f.event_id },
      h("td", { class: "evidence" }, f.event_id),
      h("td", {}, f.type),
      h("td", { class: "num" }, f.attempts),
      h("td", {}, f.last_error || "—"),
      h("td", {}, h("button", { type: "button", class: "replay", onclick: (ev) => replay(f.event_id, ev.target) }, "Replay")))));
    if (!tbody.rows.length) tbody.append(h("tr", {}, h("td", { colSpan: 5, class: "state" }, "No failed events.")));
    setState("integration-state", "");
  } catch (e) {
    setState("integration-state", "Could not load the integration status: " + e.message, true);
  }
}

async function replay(eventId, button) {
  button.disabled = true;
  try {
    const r = await api("POST", STRIPE + "/failed-events/" + encodeURIComponent(eventId) + "/replay");
    notice(r && r.already_applied ? "Event " + eventId + " was already applied." : "Event " + eventId + " replayed and applied.");
    await Promise.all([loadIntegration(), loadAtRisk(false), currentProfile ? openProfile(currentProfile) : null]);
  } catch (e) {
    notice("Replay of " + eventId + " failed: " + e.message, true);
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- match review

/** Confidence is a whole percent (0–100). */
function pct(c) {
  return typeof c === "number" ? c.toFixed(0) + " %" : "—";
}

let datalists = 0;

/** One review row: a Stripe customer, the profile proposed for it (if one), the candidates. */
function matchRow(m) {
  const customer = m.stripe_customer_id || "";
  const candidates = (m.candidates || []).filter((c) => typeof c === "string");
  const listId = "candidates-" + ++datalists;
  const input = h("input", { class: "override", placeholder: "profile id", autocomplete: "off",
    "aria-label": "Profile for " + customer });
  input.setAttribute("list", listId);
  const error = m.error && m.error.code ? h("div", { class: "state", title: m.error.message || "" }, m.error.code) : null;
  return h("tr", { "data-customer": customer },
    h("td", {}, h("span", { class: "evidence" }, customer || "—"), m.email ? h("div", {}, m.email) : null),
    h("td", {}, m.profile_id || "—",
      candidates.length ? h("div", { class: "state" }, "candidates: " + candidates.join(", ")) : null),
    h("td", {}, m.method || "—", m.reason ? h("div", { class: "state" }, m.reason) : null),
    h("td", { class: "num" }, pct(m.confidence), error),
    h("td", {}, input, h("datalist", { id: listId }, candidates.map((c) => h("option", { value: c })))),
    h("td", {},
      h("button", { type: "button", class: "accept", disabled: !(m.profile_id && customer),
        onclick: (ev) => mapCustomer(m.profile_id, customer, ev.target) }, "Accept"), " ",
      h("button", { type: "button", class: "override-button", disabled: !customer,
        onclick: (ev) => mapCustomer(input.value.trim(), customer, ev.target) }, "Override")));
}

async function loadMatches() {
  setState("matches-state", "Loading…");
  const tbody = $("matches-table").tBodies[0];
  try {
    const body = await api("GET", STRIPE + "/matches?status=review");
    const rows = (body && body.data) || [];
    tbody.replaceChildren(...rows.map(matchRow));
    setState("matches-state", rows.length
      ? rows.length + (rows.length === 1 ? " match needs" : " matches need") + " a decision"
      : "No match needs review.");
  } catch (e) {
    tbody.replaceChildren();
    // The route is being built: a 404 here means this server does not serve it yet.
    if (e.status === 404) setState("matches-state", "Match review is not available on this server yet.");
    else setState("matches-state", "Could not load matches: " + e.message, true);
  }
}

/** Maps `profileId` to Stripe customer `customer` (the manual override). */
async function mapCustomer(profileId, customer, button) {
  if (!profileId) {
    notice("Enter the profile id to map " + customer + " to.", true);
    return;
  }
  button.disabled = true;
  try {
    await api("PATCH", STRIPE + "/customer-mapping/" + encodeURIComponent(profileId), { stripe_customer_id: customer });
    notice("Profile " + profileId + " mapped to " + customer + ".");
    await Promise.all([loadMatches(), loadAtRisk(false)]);
  } catch (e) {
    notice("Mapping " + profileId + " to " + customer + " failed: " + e.message, true);
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- start

function refreshAll() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  $("who").textContent = token ? tokenWorkspace(token) : "no token";
  if (!token) {
    notice("No token: open the URL kustiq-local printed (…#token=…) or use “Set token”.", true);
    return;
  }
  notice("");
  loadAtRisk(false);
  loadIntegration();
  loadMatches();
  if (currentProfile) openProfile(currentProfile);
}

document.addEventListener("DOMContentLoaded", () => {
  $("set-token").addEventListener("click", () => { askToken(); refreshAll(); });
  $("forget-token").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); refreshAll(); });
  $("at-risk-sort").addEventListener("change", () => loadAtRisk(false));
  $("at-risk-refresh").addEventListener("click", () => loadAtRisk(false));
  $("at-risk-more").addEventListener("click", () => loadAtRisk(true));
  $("open-profile").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const id = $("open-profile-id").value.trim();
    if (id) openProfile(id);
  });
  if (!readToken()) askToken();
  refreshAll();
});
