/* Detour's options page: for small installs without enterprise policy. Settings IT manages
   (chrome.storage.managed) are shown, locked; the rest are kept in chrome.storage.local. */

"use strict";

const api = globalThis.browser ?? globalThis.chrome;
const FIELDS = ["detourUrl", "apiToken", "user", "group", "sites", "excludedSites"];
const LISTS = ["sites", "excludedSites"];
const text = (key, values = {}) => (api.i18n.getMessage(key) || key)
  .replace(/\{(\w+)\}/g, (whole, name) => (name in values ? values[name] : whole));

for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = text(node.dataset.i18n);
document.documentElement.lang = api.i18n.getUILanguage();

const form = document.getElementById("settings");
const status = document.getElementById("status");

async function load() {
  const config = await api.runtime.sendMessage({ kind: "settings" });
  for (const name of FIELDS) {
    const field = form.elements[name];
    const value = config[name];
    field.value = LISTS.includes(name) ? (value || []).join("\n") : value || "";
    const locked = config.locked.includes(name);
    field.disabled = locked;
    const note = form.querySelector(`.managed[data-for="${name}"]`);
    note.hidden = !locked;
    note.textContent = `(${text("managed")})`;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = {};
  for (const name of FIELDS) {
    const field = form.elements[name];
    if (field.disabled) continue;
    values[name] = LISTS.includes(name)
      ? field.value.split(/[\n,]/).map((s) => s.trim()).filter(Boolean)
      : field.value.trim();
  }
  if ("user" in values) values.userSource = values.user ? "managed" : "none";
  await api.storage.local.set(values);
  status.textContent = text("saved");
});

document.getElementById("test").addEventListener("click", async () => {
  const config = await api.runtime.sendMessage({ kind: "settings" });
  const base = (form.elements.detourUrl.disabled ? config.detourUrl : form.elements.detourUrl.value.trim()
    || config.detourUrl).replace(/\/+$/, "");
  try {
    const answer = await fetch(`${base}/healthz`, { credentials: "omit", cache: "no-store" });
    status.textContent = answer.ok ? text("connectionOk") : text("connectionFailed", { detail: `HTTP ${answer.status}` });
  } catch (error) {
    status.textContent = text("connectionFailed", { detail: error.message });
  }
});

load();
