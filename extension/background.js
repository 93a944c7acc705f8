/* Detour's browser extension: the service worker.

   It talks to Detour for the pages: the content script hands it each file (in chunks: runtime
   messages carry JSON, not File objects), it sends the file to POST /v1/inspect with the page's
   address as the destination, and answers with Detour's decision and the overlay's texts in the
   decision's language. When Detour can't be reached or does not answer in time, the policy's
   on_error for that site decides (learnt from GET /v1/destinations while Detour was up), never a
   silent allow.

   It also watches the answers to the pages' own uploads (XHR and fetch): a proxy that stopped one
   answers with X-Detour-Decision, and the page is told to show the decision instead of a stuck
   upload. */

"use strict";

const api = globalThis.browser ?? globalThis.chrome;

const DEFAULTS = Object.freeze({
  detourUrl: "http://127.0.0.1:8080", // where `make run` serves
  apiToken: "",
  userSource: "none", // none | managed | profile
  user: "",
  group: "",
  sites: [], // empty or "*": every site
  excludedSites: [],
  pasteTextMinChars: 2000,
  timeoutSeconds: 60,
  onErrorFallback: "block",
});
const LANGUAGES = ["en", "sv", "nl"];
const MAX_TIMEOUT_SECONDS = 240; // a service worker event may not take longer than five minutes
const KEEP_ALIVE_MS = 20 * 1000; // an extension API call this often keeps the service worker up during a call
const DESTINATION_TTL_MS = 10 * 60 * 1000; // how long a site's on_error is trusted without asking again
const MAX_DESTINATIONS = 500; // sites remembered
const MAX_UPLOAD_BYTES = 256 * 1024 * 1024; // a larger file is not held in memory: on_error decides
const MAX_PENDING_UPLOADS = 16; // uploads being handed over at once (per browser)
const RETRY_PAUSES_MS = [250, 500, 1000, 2000]; // a decision still being recorded: asked again after these
const DECISION_ID = /^DTR-[A-Z0-9]{4}(?:-[A-Z0-9]{4}){3}$/;

/* ---------- settings: managed (enterprise policy) over the options page over the defaults ---------- */

async function settings() {
  const [managed, local] = await Promise.all([
    api.storage.managed.get(null).catch(() => ({})), // none in a profile without policy
    api.storage.local.get(null),
  ]);
  const chosen = { ...DEFAULTS };
  const isManaged = Object.keys(DEFAULTS).some((key) => managed[key] !== undefined);
  // Under enterprise policy, every setting is IT's (what it leaves out keeps its default): a person can't
  // exclude sites or name another group on the options page. Without policy, the options page sets them.
  const source = isManaged ? managed : local;
  for (const key of Object.keys(DEFAULTS)) {
    const value = source[key];
    if (value === undefined || value === "" || (Array.isArray(DEFAULTS[key]) && !Array.isArray(value))) continue;
    chosen[key] = value;
  }
  chosen.detourUrl = String(chosen.detourUrl).trim().replace(/\/+$/, "");
  chosen.timeoutSeconds = Math.min(Math.max(Number(chosen.timeoutSeconds) || DEFAULTS.timeoutSeconds, 1),
    MAX_TIMEOUT_SECONDS);
  chosen.locked = isManaged ? Object.keys(DEFAULTS) : [];
  return chosen;
}

function covers(patterns, host) {
  return patterns.some((pattern) => {
    const p = String(pattern).trim().toLowerCase().replace(/^\*\./, "");
    return p === "*" || host === p || host.endsWith(`.${p}`);
  });
}

/* The address of the page a message came from; a frame without one of its own (about:blank, srcdoc) is
   its creator's origin. */
function pageOf(sender) {
  for (const candidate of [sender.url, sender.origin, sender.tab?.url]) {
    if (typeof candidate === "string" && /^https?:/.test(candidate)) return candidate;
  }
  return "";
}

/* Detour's address must be HTTPS, except on this machine: files travel there. */
function unsafeDetourUrl(config) {
  try {
    const url = new URL(config.detourUrl);
    const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
    return url.protocol === "https:" || (url.protocol === "http:" && loopback) ? "" : config.detourUrl;
  } catch {
    return config.detourUrl || "(empty)";
  }
}

function appliesTo(config, pageUrl) {
  let url;
  try {
    url = new URL(pageUrl);
  } catch {
    return false;
  }
  if (!["http:", "https:"].includes(url.protocol)) return false;
  const host = url.hostname.toLowerCase();
  try {
    if (new URL(config.detourUrl).host === url.host) return false; // Detour's own pages (the redacted copy)
  } catch {
    /* a broken detourUrl: every check fails, and on_error decides */
  }
  if (covers(config.excludedSites, host)) return false;
  return config.sites.length === 0 || covers(config.sites, host);
}

/* ---------- talking to Detour ---------- */

async function who(config) {
  if (config.userSource === "managed") return config.user || "";
  if (config.userSource === "profile" && api.identity?.getProfileUserInfo) {
    const info = await api.identity.getProfileUserInfo({ accountStatus: "ANY" }).catch(() => null);
    return info?.email || "";
  }
  return "";
}

async function headersFor(config, languages, named = true) {
  const headers = { "X-Detour-Channel": "extension", "Accept-Language": acceptLanguage(languages) };
  if (config.apiToken) headers.Authorization = `Bearer ${config.apiToken}`;
  if (!named) return headers; // asking how the policy sees a site: nobody's name goes with it
  const user = await who(config);
  if (user) headers["X-Detour-User"] = user;
  if (config.group) headers["X-Detour-Group"] = config.group;
  return headers;
}

function acceptLanguage(languages) {
  const listed = (languages || []).filter((l) => typeof l === "string" && /^[A-Za-z-]{2,20}$/.test(l)).slice(0, 6);
  return listed.map((l, i) => (i === 0 ? l : `${l};q=${(1 - i / 10).toFixed(1)}`)).join(", ") || "en";
}

function languageOf(languages) {
  for (const tag of languages || []) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return "en";
}

async function call(config, path, init) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), config.timeoutSeconds * 1000);
  const awake = setInterval(() => api.runtime.getPlatformInfo().catch(() => undefined), KEEP_ALIVE_MS);
  try {
    return await fetch(`${config.detourUrl}${path}`, {
      ...init, signal: controller.signal, credentials: "omit", cache: "no-store", redirect: "error",
    });
  } finally {
    clearTimeout(timer);
    clearInterval(awake);
  }
}

function failureOf(error) {
  return error?.name === "AbortError" ? "timeout" : "unreachable";
}

/* What the policy does with an upload to a site that can't be checked, as Detour last said. */
async function learnOnError(config, pageUrl) {
  const host = new URL(pageUrl).hostname.toLowerCase();
  const { destinations = {} } = await api.storage.local.get("destinations");
  const known = destinations[host];
  if (known && Date.now() - known.at < DESTINATION_TTL_MS) return known.onError;
  try {
    const answer = await call(config, `/v1/destinations?url=${encodeURIComponent(new URL(pageUrl).origin)}`, {
      headers: await headersFor(config, [], false),
    });
    if (!answer.ok) return known?.onError;
    const { on_error: onError } = await answer.json();
    const kept = Object.entries(destinations).sort((a, b) => b[1].at - a[1].at).slice(0, MAX_DESTINATIONS - 1);
    await api.storage.local.set({ destinations: { ...Object.fromEntries(kept), [host]: { onError, at: Date.now() } } });
    return onError;
  } catch {
    return known?.onError; // Detour is down: what it said before, however old
  }
}

async function onErrorFor(config, pageUrl) {
  const host = new URL(pageUrl).hostname.toLowerCase();
  const { destinations = {} } = await api.storage.local.get("destinations");
  return destinations[host]?.onError || config.onErrorFallback || "block";
}

/* ---------- the overlay's texts, in the decision's language ---------- */

const catalogues = new Map();

async function strings(language) {
  const chosen = LANGUAGES.includes(language) ? language : "en";
  if (!catalogues.has(chosen)) {
    const messages = await (await fetch(api.runtime.getURL(`_locales/${chosen}/messages.json`))).json();
    catalogues.set(chosen, Object.fromEntries(Object.entries(messages).map(([key, value]) => [key, value.message])));
  }
  return catalogues.get(chosen);
}

/* ---------- uploads handed over by the content script, in chunks ---------- */

const uploads = new Map(); // upload id -> {parts, size, started}

function decode(base64) {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function receive(message) {
  let upload = uploads.get(message.upload);
  if (!upload) {
    if (message.offset !== 0) return { ok: false, failure: "incomplete" }; // the service worker restarted
    if (uploads.size >= MAX_PENDING_UPLOADS) return { ok: false, failure: "busy" };
    upload = { parts: [], size: 0, started: Date.now() };
    uploads.set(message.upload, upload);
  }
  if (message.offset !== upload.size) {
    uploads.delete(message.upload);
    return { ok: false, failure: "incomplete" };
  }
  const bytes = decode(message.data);
  upload.size += bytes.length;
  if (upload.size > MAX_UPLOAD_BYTES) {
    uploads.delete(message.upload);
    return { ok: false, failure: "too-large" };
  }
  upload.parts.push(bytes);
  return { ok: true };
}

async function inspect(message, sender) {
  const pageUrl = pageOf(sender);
  const config = await settings();
  const upload = uploads.get(message.upload);
  uploads.delete(message.upload);
  const language = languageOf(message.languages);
  if (!pageUrl) { // no web page to send it to (a local file, a browser page): nothing leaves
    return { ok: true, skipped: true };
  }
  if (!appliesTo(config, pageUrl)) return { ok: true, skipped: true };
  const failed = async (failure, detail = "", onError = undefined) => ({
    ok: false, failure, detail, onError: onError || await onErrorFor(config, pageUrl), language,
    strings: await strings(language), detourUrl: config.detourUrl, host: new URL(pageUrl).hostname,
  });
  learnOnError(config, pageUrl).catch(() => undefined); // a frame's site, learnt when an upload starts there
  const unsafe = unsafeDetourUrl(config);
  if (unsafe) return failed("misconfigured", `detourUrl must be https:// (${unsafe})`, "block");
  if (!message.handedOver || (upload?.size ?? 0) !== message.size) return failed("incomplete");
  const page = new URL(pageUrl);
  const headers = {
    ...(await headersFor(config, message.languages)),
    "Content-Type": "application/octet-stream",
    "X-Detour-Filename": encodeURIComponent(message.name || "upload"),
    "X-Detour-Destination": `${page.origin}${page.pathname}`, // no query or fragment: they may hold anything
  };
  let answer;
  try {
    answer = await call(config, "/v1/inspect", {
      method: "POST", headers, body: new Blob(upload ? upload.parts : [], { type: "application/octet-stream" }),
    });
  } catch (error) {
    return failed(failureOf(error));
  }
  if (!answer.ok) {
    const problem = await answer.json().catch(() => ({}));
    const detail = `HTTP ${answer.status} ${problem?.error?.message || problem?.detail || ""}`.trim();
    // Detour answered, and refused the extension (a revoked token, one that may not name users): a set-up
    // to fix, never a reason to let files go unchecked and unrecorded.
    if (answer.status === 401 || answer.status === 403) return failed("misconfigured", detail, "block");
    return failed("refused", detail);
  }
  const report = await answer.json();
  return { ok: true, report, detourUrl: config.detourUrl, strings: await strings(report.language) };
}

async function justify(message) {
  const config = await settings();
  if (!DECISION_ID.test(message.id)) return { ok: false, detail: "not a decision" };
  for (const pause of [0, ...RETRY_PAUSES_MS]) {
    if (pause) await new Promise((resolve) => setTimeout(resolve, pause));
    let answer;
    try {
      answer = await call(config, `/v1/decisions/${message.id}/justification`, {
        method: "POST",
        headers: { ...(await headersFor(config, message.languages)), "Content-Type": "application/json" },
        body: JSON.stringify({ justification: message.reason }),
      });
    } catch (error) {
      return { ok: false, detail: failureOf(error) };
    }
    if (answer.ok) return { ok: true, ...(await answer.json()) };
    if (answer.status !== 409) {
      const problem = await answer.json().catch(() => ({}));
      return { ok: false, detail: problem?.error?.message || `HTTP ${answer.status}` };
    }
  }
  return { ok: false, detail: "still being recorded" };
}

async function decision(message) {
  const config = await settings();
  if (!DECISION_ID.test(message.id)) return { ok: false };
  for (const pause of [0, ...RETRY_PAUSES_MS]) {
    if (pause) await new Promise((resolve) => setTimeout(resolve, pause));
    try {
      const answer = await call(config, `/v1/decisions/${message.id}`, {
        headers: await headersFor(config, message.languages),
      });
      if (answer.ok) {
        const report = await answer.json();
        return { ok: true, report, detourUrl: config.detourUrl, strings: await strings(report.language) };
      }
      if (answer.status !== 404 && answer.status !== 409) break;
    } catch {
      break;
    }
  }
  const language = languageOf(message.languages);
  return { ok: false, detourUrl: config.detourUrl, language, strings: await strings(language) };
}

async function hello(sender) {
  const config = await settings();
  const pageUrl = pageOf(sender);
  const enabled = Boolean(pageUrl) && appliesTo(config, pageUrl);
  // Learn the site's on_error while Detour is up: for the tab's own page (frames inside it, often ads,
  // are looked up when an upload starts in them), and without the person's name.
  if (enabled && sender.frameId === 0) learnOnError(config, pageUrl).catch(() => undefined);
  return { enabled, pasteTextMinChars: config.pasteTextMinChars };
}

const handlers = {
  hello: (message, sender) => hello(sender),
  chunk: (message) => Promise.resolve(receive(message)),
  inspect,
  justify,
  decision,
  strings: (message) => strings(languageOf(message.languages)),
  settings: (message, sender) => (fromExtensionPage(sender) ? settings() : Promise.resolve({})), // the token
};

function fromExtensionPage(sender) {
  return typeof sender.url === "string" && sender.url.startsWith(api.runtime.getURL(""));
}

api.runtime.onMessage.addListener((message, sender, respond) => {
  const handler = handlers[message?.kind];
  if (!handler || sender.id !== api.runtime.id) return false;
  handler(message, sender).then(respond, (error) => respond({ ok: false, failure: "error", detail: String(error) }));
  return true; // the answer comes later
});

/* ---------- a proxy stopped one of the page's own uploads ---------- */

api.webRequest.onHeadersReceived.addListener(
  (details) => {
    if (details.tabId < 0) return; // the extension's own calls to Detour
    const headers = new Map((details.responseHeaders || []).map((h) => [h.name.toLowerCase(), h.value || ""]));
    const id = headers.get("x-detour-decision");
    const action = headers.get("x-detour-action");
    if (!id || !DECISION_ID.test(id) || !["block", "warn"].includes(action)) return;
    api.tabs.sendMessage(details.tabId, { kind: "proxy-stop", id, action }, { frameId: details.frameId })
      .catch(() => undefined); // a page without the content script (Detour's own)
  },
  { urls: ["<all_urls>"], types: ["xmlhttprequest"] },
  // Chromium: "extraHeaders" lets the listener see the answer before the CORS check, which fails on a
  // proxy's block page (no Access-Control-Allow-Origin) and would otherwise hide it; Firefox has no such step.
  api.webRequest.OnHeadersReceivedOptions?.EXTRA_HEADERS ? ["responseHeaders", "extraHeaders"] : ["responseHeaders"],
);

/* Stale hand-overs (a tab closed mid-way) are dropped. */
setInterval(() => {
  const now = Date.now();
  for (const [id, upload] of uploads) if (now - upload.started > 10 * 60 * 1000) uploads.delete(id);
}, 60 * 1000);
