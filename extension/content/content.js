/* Detour's browser extension: the content script (isolated world).

   It catches files before the page's own script sees them, in the capture phase at the window:
   a file input's input/change events, drop, and paste (files, and text of at least
   pasteTextMinChars characters); files from showOpenFilePicker come from hook.js (main world).
   Each file goes to Detour through the service worker while the page waits ("checking…").
   Allowed: the same File objects are handed to the page (the input gets them back and its
   events fire again; a drop or paste is dispatched again with them). Warned: the person gives
   a business reason first. Blocked: the page never gets the file, and the overlay shows why,
   the routes to take instead and the helpdesk message. */

(() => {
  "use strict";

  const api = globalThis.browser ?? globalThis.chrome;
  const overlay = globalThis.detourOverlay;
  const CHUNK_BYTES = 4 * 1024 * 1024; // per runtime message (base64 makes it a third larger)
  const released = new WeakSet(); // events this script dispatches itself: they pass
  const pending = new Set(); // file inputs whose files are being checked
  let page = { enabled: true, pasteTextMinChars: 2000 }; // until the service worker says otherwise

  api.runtime.sendMessage({ kind: "hello" }).then((answer) => {
    if (answer?.enabled === false) page = answer; // anything else (an error, no answer): files are checked
    else if (answer?.pasteTextMinChars) page = { ...page, pasteTextMinChars: answer.pasteTextMinChars };
  }, () => undefined);

  const languages = () => (navigator.languages?.length ? [...navigator.languages] : [navigator.language]);

  function base64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  async function send(file) {
    const upload = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
    let handedOver = true;
    for (let offset = 0; offset < file.size && handedOver; offset += CHUNK_BYTES) {
      const bytes = new Uint8Array(await file.slice(offset, offset + CHUNK_BYTES).arrayBuffer());
      const taken = await api.runtime.sendMessage({ kind: "chunk", upload, offset, data: base64(bytes) });
      handedOver = Boolean(taken?.ok); // too large, or too many at once: Detour can't check it (on_error)
    }
    return api.runtime.sendMessage({
      kind: "inspect", upload, name: file.name, size: file.size, languages: languages(), handedOver,
    });
  }

  async function texts() {
    const strings = await api.runtime.sendMessage({ kind: "strings", languages: languages() });
    return { strings, host: location.hostname, onError: "block" }; // the service worker is gone: fail closed
  }

  /* Check every file; true when all of them may go to the page. */
  async function check(files) {
    try {
      return await checked(files);
    } catch (error) { // the extension itself failed (updated under an open tab, a bug): nothing goes unchecked
      await overlay.failure({ ok: false, failure: "error", detail: String(error?.message || error),
        onError: "block", host: location.hostname || location.origin });
      return false;
    }
  }

  async function checked(files) {
    if (page.enabled === false) return true;
    const answers = [];
    const names = files.map((f) => f.name || "");
    const strings = await api.runtime.sendMessage({ kind: "strings", languages: languages() }).catch(() => null);
    const waiting = overlay.checking(names, strings);
    try {
      for (const file of files) {
        let answer;
        try {
          answer = await send(file);
        } catch (error) {
          answer = { ok: false, failure: "error", detail: String(error), ...(await texts().catch(() => ({}))) };
        }
        if (!answer?.ok && !answer?.strings) answer = { ...answer, ...(await texts().catch(() => ({}))) };
        answers.push(answer);
        if (answer?.ok && answer.report?.decision === "block") break; // one stop is enough to stop them all
      }
    } finally {
      waiting.close();
    }
    for (const answer of answers) {
      if (answer?.skipped) continue;
      if (!answer?.ok) {
        if (answer?.onError === "allow") continue; // the policy lets what can't be checked go there
        if (!(await overlay.failure(answer, languages()))) return false;
        continue;
      }
      const action = answer.report.decision;
      if (action === "block") {
        overlay.blocked(answer, files.length);
        return false;
      }
      if (action === "warn" && !answer.report.justified_by && !(await overlay.warned(answer, (reason) => api.runtime.sendMessage({
        kind: "justify", id: answer.report.decision_id, reason, languages: languages(),
      })))) {
        return false;
      }
    }
    return true;
  }

  function redispatch(target, event) {
    released.add(event);
    target.dispatchEvent(event);
  }

  /* ---------- file inputs ---------- */

  // Elements of a frame this script guards from its parent (below) come from another realm: no instanceof.
  const isFileInput = (node) => node?.tagName === "INPUT" && String(node.type).toLowerCase() === "file";

  /* The element an event really happened on, inside open shadow roots too (its target is retargeted to the
     shadow host outside them). */
  const origin = (event) => event.composedPath?.()[0] || event.target;

  function onFileInput(event) {
    const input = origin(event);
    if (released.has(event) || !isFileInput(input)) return;
    if (page.enabled === false) return;
    if (pending.has(input)) { // the change that follows the input event we held
      event.stopImmediatePropagation();
      return;
    }
    const files = Array.from(input.files || []);
    if (!files.length) return; // cleared: nothing to check
    event.stopImmediatePropagation(); // the page hears of the files only once they may go
    const held = new DataTransfer();
    files.forEach((file) => held.items.add(file));
    pending.add(input);
    const root = input.getRootNode();
    if (root?.nodeType === Node.DOCUMENT_FRAGMENT_NODE && root.host) { // a shadow root: "change" does not
      // leave it, so it is stopped where it is seen first
      const stop = (again) => {
        if (!released.has(again) && origin(again) === input) again.stopImmediatePropagation();
      };
      root.addEventListener("change", stop, { capture: true });
      setTimeout(() => root.removeEventListener("change", stop, { capture: true }), 0);
    }
    input.value = ""; // held here meanwhile: nothing in the page can read them
    check(files).then((allowed) => {
      pending.delete(input);
      if (!allowed) return;
      input.files = held.files; // the same File objects: same name, type and bytes
      redispatch(input, new Event("input", { bubbles: true, composed: true }));
      redispatch(input, new Event("change", { bubbles: true }));
      const waiting = waitingForms.get(input.form);
      if (waiting) {
        waitingForms.delete(input.form);
        input.form.requestSubmit(waiting.submitter || undefined);
      }
    });
  }

  /* A form sent while its files are being checked goes once they may. */
  const waitingForms = new WeakMap();

  function onSubmit(event) {
    const form = origin(event);
    if (form?.tagName !== "FORM") return;
    if ([...pending].some((input) => input.form === form)) {
      event.preventDefault();
      event.stopImmediatePropagation();
      waitingForms.set(form, { submitter: event.submitter });
    }
  }

  /* ---------- drag and drop ---------- */

  function onDrop(event) {
    if (released.has(event) || page.enabled === false) return;
    const files = Array.from(event.dataTransfer?.files || []);
    if (!files.length) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const target = origin(event);
    const where = { clientX: event.clientX, clientY: event.clientY, screenX: event.screenX, screenY: event.screenY };
    check(files).then((allowed) => {
      if (!allowed) return;
      const carried = new DataTransfer();
      files.forEach((file) => carried.items.add(file));
      if (isFileInput(target)) { // dropped on the input itself
        target.files = carried.files;
        redispatch(target, new Event("input", { bubbles: true, composed: true }));
        redispatch(target, new Event("change", { bubbles: true }));
        return;
      }
      redispatch(target, new DragEvent("drop", {
        bubbles: true, cancelable: true, composed: true, dataTransfer: carried, ...where,
      }));
    });
  }

  /* ---------- paste ---------- */

  function onPaste(event) {
    if (released.has(event) || page.enabled === false || !event.clipboardData) return;
    const files = Array.from(event.clipboardData.files || []);
    const text = files.length ? "" : event.clipboardData.getData("text/plain");
    if (!files.length && text.length < page.pasteTextMinChars) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const target = origin(event);
    const html = files.length ? "" : event.clipboardData.getData("text/html");
    const checked = files.length ? files : [new File([text], "pasted-text.txt", { type: "text/plain" })];
    check(checked).then((allowed) => {
      if (!allowed) return;
      const carried = new DataTransfer();
      if (files.length) files.forEach((file) => carried.items.add(file));
      else {
        carried.setData("text/plain", text);
        if (html) carried.setData("text/html", html);
      }
      const again = new ClipboardEvent("paste", { bubbles: true, cancelable: true, composed: true,
        clipboardData: carried });
      redispatch(target, again);
      if (!files.length && !again.defaultPrevented) insertText(target, text); // what the browser would have done
    });
  }

  function insertText(target, text) {
    const element = target?.nodeType === Node.ELEMENT_NODE ? target : target?.parentElement;
    if (!element) return;
    element.focus();
    if (!element.ownerDocument.execCommand("insertText", false, text) && "value" in element) {
      const start = element.selectionStart ?? element.value.length;
      const end = element.selectionEnd ?? start;
      element.setRangeText(text, start, end, "end");
      element.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  /* ---------- files picked with showOpenFilePicker (hook.js, main world) ---------- */

  let hookPort = null;

  function onHookMessage(event) {
    if (event.source !== window || event.data?.detourHook !== "port" || hookPort || !event.ports[0]) return;
    event.stopImmediatePropagation(); // registered before any page script: the page never sees the port
    hookPort = event.ports[0];
    hookPort.onmessage = ({ data }) => {
      if (!(data?.file instanceof File)) return;
      check([data.file]).then((allowed) => hookPort.postMessage({ id: data.id, allowed }));
    };
  }

  /* ---------- a proxy stopped an upload the page sent itself ---------- */

  const shown = new Set();

  api.runtime.onMessage.addListener((message) => {
    if (message?.kind !== "proxy-stop" || shown.has(message.id)) return;
    shown.add(message.id);
    api.runtime.sendMessage({ kind: "decision", id: message.id, languages: languages() })
      .then((answer) => overlay.stoppedByProxy(message, answer));
  });

  /* ---------- where it listens: this window, and same-origin frames without a script of their own ---------- */

  const LISTENERS = [["input", onFileInput], ["change", onFileInput], ["submit", onSubmit], ["drop", onDrop],
    ["paste", onPaste]];

  /* A frame the page writes itself (about:blank, as rich-text editors make them) may never get a content
     script, and document.open() takes every listener off its window: its parent listens there, again after
     each load, and draws the dialog on the page. */
  function guard(win) {
    try {
      win.detourGuarded = true; // the frame's own copy of this script, if the browser injects one, stands down
      for (const [type, listener] of LISTENERS) win.addEventListener(type, listener, true);
      watchFrames(win.document);
    } catch {
      /* another origin: its own content script guards it */
    }
  }

  const watched = new WeakSet();

  function watchFrame(frame) {
    if (watched.has(frame)) return;
    watched.add(frame);
    frame.addEventListener("load", () => guard(frame.contentWindow));
    if (frame.contentWindow) guard(frame.contentWindow);
  }

  function watchFrames(doc) {
    const look = (node) => {
      if (node.nodeType !== Node.ELEMENT_NODE) return;
      if (node.tagName === "IFRAME" || node.tagName === "FRAME") watchFrame(node);
      node.querySelectorAll?.("iframe, frame").forEach(watchFrame);
    };
    new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach(look)))
      .observe(doc, { childList: true, subtree: true });
    if (doc.documentElement) look(doc.documentElement);
  }

  window.addEventListener("message", onHookMessage, true);
  if (!window.detourGuarded) guard(window);
})();
