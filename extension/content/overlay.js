/* Detour's browser extension: what the person sees on the page.

   A "checking…" notice while Detour decides, and a dialog when it stops or warns: the reason in
   the person's language, the approved routes as buttons (links through Detour's tracker, so IT
   sees which detours people take), the helpdesk message with its reference, and "ask IT to
   review". Drawn in a closed shadow root, so neither the page's styles nor its script reach it (a
   page can't read what was found, nor press "send" for the person: only clicks the person made
   count); every text goes in as text, never as markup. */

(() => {
  "use strict";

  const MIN_REASON = 10; // Detour's limits for a business reason
  const MAX_REASON = 1000;

  const STYLE = `
    :host { all: initial; }
    .backdrop { position: fixed; inset: 0; z-index: 2147483647; background: rgba(20, 24, 31, .55);
      display: flex; align-items: center; justify-content: center; padding: 16px; box-sizing: border-box;
      font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; }
    .dialog { background: #fff; border-radius: 10px; max-width: 620px; width: 100%; max-height: calc(100vh - 32px);
      overflow: auto; box-shadow: 0 12px 40px rgba(0,0,0,.3); padding: 22px 24px; box-sizing: border-box; }
    .dialog:focus { outline: none; }
    h2 { font-size: 20px; margin: 0 0 4px; line-height: 1.3; }
    h3 { font-size: 15px; margin: 18px 0 8px; }
    p { margin: 6px 0; }
    .file { color: #4a5568; margin-bottom: 10px; overflow-wrap: anywhere; }
    .routes { display: grid; gap: 8px; }
    a.route { display: block; text-decoration: none; border: 1px solid #c5cdd8; border-radius: 8px;
      padding: 10px 12px; color: #1d2330; }
    a.route:hover, a.route:focus { border-color: #1f5fbf; outline: 2px solid #1f5fbf; outline-offset: 1px; }
    a.route.primary { background: #1f5fbf; border-color: #1f5fbf; color: #fff; }
    a.route .title { font-weight: 600; display: block; }
    a.route .summary { font-size: 13px; display: block; margin-top: 2px; }
    .badge { font-size: 12px; font-weight: 600; text-transform: uppercase; letter-spacing: .03em; opacity: .9; }
    blockquote { margin: 6px 0; padding: 8px 12px; background: #f3f5f8; border-left: 3px solid #9aa5b5;
      white-space: pre-wrap; overflow-wrap: anywhere; }
    .reference { font-family: ui-monospace, monospace; white-space: nowrap; }
    .actions { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 16px; }
    button, a.button { font: inherit; font-size: 14px; border-radius: 6px; padding: 8px 14px; cursor: pointer;
      border: 1px solid #8592a6; background: #fff; color: #1d2330; text-decoration: none; display: inline-block; }
    button.primary { background: #1f5fbf; border-color: #1f5fbf; color: #fff; }
    button:focus, a.button:focus { outline: 2px solid #1f5fbf; outline-offset: 2px; }
    textarea { width: 100%; box-sizing: border-box; font: inherit; min-height: 80px; padding: 8px;
      border: 1px solid #8592a6; border-radius: 6px; }
    .hint { font-size: 13px; color: #4a5568; }
    .error { color: #b42318; font-weight: 600; }
    .toast { position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; background: #1d2330; color: #fff;
      border-radius: 8px; padding: 10px 14px; font: 14px/1.4 system-ui, sans-serif; display: flex; gap: 10px;
      align-items: center; max-width: min(420px, calc(100vw - 32px)); box-shadow: 0 6px 20px rgba(0,0,0,.3); }
    .spinner { width: 14px; height: 14px; border: 2px solid #fff; border-right-color: transparent; border-radius: 50%;
      animation: spin .8s linear infinite; flex: none; }
    @keyframes spin { to { transform: rotate(360deg); } }
    @media (prefers-reduced-motion: reduce) { .spinner { animation: none; } }
  `;

  // When the extension itself fails (updated under an open tab), its texts may be out of reach.
  const FALLBACK = {
    failureTitle: "This file can't be checked right now",
    failureBlock: "The check for sensitive data is not available in this tab, so the file was not sent. "
      + "Reload the page and try again; if it keeps happening, contact your IT helpdesk.",
    close: "Close",
  };

  function fill(text, values) {
    return String(text ?? "").replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
  }

  function element(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function mount(content, language) {
    const host = document.createElement("detour-overlay");
    host.setAttribute("data-detour", "");
    const root = host.attachShadow({ mode: "closed" });
    root.append(element("style", { text: STYLE }), content);
    if (language) content.setAttribute("lang", language);
    (document.body || document.documentElement).append(host);
    return { host, root, close: () => host.remove() };
  }

  function dialog(titleText, language, build) {
    const title = element("h2", { id: "detour-title", text: titleText });
    const box = element("div", { class: "dialog", role: "dialog", "aria-modal": "true",
      "aria-labelledby": "detour-title", tabindex: "-1" }, title);
    const backdrop = element("div", { class: "backdrop" }, box);
    const shown = mount(backdrop, language);
    const before = document.activeElement;
    const close = () => {
      shown.close();
      if (before instanceof HTMLElement) before.focus({ preventScroll: true });
    };
    build(box, close);
    backdrop.addEventListener("keydown", (event) => {
      if (!event.isTrusted) return;
      if (event.key === "Escape" && box.dataset.escape !== "no") close();
      if (event.key !== "Tab") return;
      const focusable = [...box.querySelectorAll("a[href], button, textarea")];
      if (!focusable.length) return;
      const [first, last] = [focusable[0], focusable[focusable.length - 1]];
      const active = shown.root.activeElement;
      if (event.shiftKey && active === first) { last.focus(); event.preventDefault(); }
      else if (!event.shiftKey && active === last) { first.focus(); event.preventDefault(); }
    });
    box.focus();
    return { close, box };
  }

  /* A click the person made: the page's script can't press the overlay's buttons for them. */
  function onClick(button, action) {
    button.addEventListener("click", (event) => {
      if (event.isTrusted) action(event);
    });
  }

  function link(detourUrl, path) {
    return `${detourUrl}${path}`;
  }

  function fileLine(strings, report) {
    return element("p", { class: "file", text: fill(strings.fileTo, {
      file: report.file, host: report.destination?.host || location.hostname }) });
  }

  function reasons(report) {
    return (report.reasons || []).map((reason) => element("p", { class: "reason", text: reason.message }));
  }

  /* The routes IT approved for what was found, the first as the one to take. */
  function routes(answer) {
    const { report, detourUrl, strings } = answer;
    const offered = (report.alternatives || []).filter((route) => route.kind !== "request_review");
    if (!offered.length) return null;
    const list = element("div", { class: "routes" });
    offered.forEach((route, index) => {
      const anchor = element("a", {
        class: index === 0 ? "route primary" : "route", target: "_blank", rel: "noopener noreferrer",
        href: link(detourUrl, `/d/${encodeURIComponent(report.decision_id)}/go/${encodeURIComponent(route.id)}`),
        "data-route": route.id,
      },
      index === 0 ? element("span", { class: "badge", text: strings.recommended }) : null,
      element("span", { class: "title", text: index === 0 ? route.action || route.title : route.title }),
      route.summary ? element("span", { class: "summary", text: route.summary }) : null);
      list.append(anchor);
    });
    const heading = report.decision === "warn" ? strings.saferRoutesTitle : strings.routesTitle;
    return [element("h3", { text: heading }), list];
  }

  function helpdesk(answer) {
    const { report, strings } = answer;
    if (!report.helpdesk) return [];
    const message = element("blockquote", { class: "helpdesk-message", text: report.helpdesk.message });
    const copied = element("span", { role: "status", "aria-live": "polite", class: "hint" });
    const copy = element("button", { type: "button", text: strings.copyMessage });
    onClick(copy, () => {
      navigator.clipboard.writeText(report.helpdesk.message).then(
        () => { copied.textContent = strings.copied; },
        () => { copied.textContent = strings.copyFailed; });
    });
    return [
      element("h3", { text: strings.helpdeskTitle }),
      message,
      element("p", {}, element("span", { text: `${strings.reference}: ` }),
        element("span", { class: "reference", text: report.helpdesk.reference || report.decision_id })),
      element("div", { class: "actions" }, copy, copied),
    ];
  }

  function closingActions(answer, close) {
    const { report, detourUrl, strings } = answer;
    const page = link(detourUrl, `/d/${encodeURIComponent(report.decision_id)}?lang=${report.language}`);
    const review = element("a", { class: "button review", target: "_blank", rel: "noopener noreferrer",
      href: `${page}#review`, text: strings.askReview });
    const decisionPage = element("a", { class: "button decision-page", target: "_blank", rel: "noopener noreferrer",
      href: page, text: strings.openDecision });
    const done = element("button", { type: "button", class: "close", text: strings.close });
    onClick(done, close);
    return element("div", { class: "actions" }, review, decisionPage, done);
  }

  function blockedDialog(answer, title, extra) {
    const { report, strings } = answer;
    return dialog(title, report.language, (box, close) => {
      box.dataset.decision = report.decision_id;
      box.dataset.action = report.decision;
      box.append(fileLine(strings, report), ...reasons(report));
      if (extra) box.append(extra);
      box.append(...(routes(answer) || []), ...helpdesk(answer), closingActions(answer, close));
    });
  }

  globalThis.detourOverlay = {
    checking(names, strings) {
      const text = fill(strings?.checking || "Checking {file} with Detour…", { file: names.join(", ") });
      const shown = mount(element("div", { class: "toast", role: "status", "aria-live": "polite" },
        element("span", { class: "spinner", "aria-hidden": "true" }), element("span", { text })));
      return shown;
    },

    blocked(answer, count) {
      const { strings } = answer;
      const others = count > 1 ? element("p", { class: "hint", text: strings.otherFiles }) : null;
      return blockedDialog(answer, strings.blockedTitle, others);
    },

    stoppedByProxy(message, answer) {
      if (answer?.ok) {
        return blockedDialog(answer, answer.report.decision === "warn" ? answer.strings.proxyWarnTitle
          : answer.strings.proxyTitle, element("p", { class: "hint", text: answer.strings.proxyText }));
      }
      const strings = answer?.strings || {};
      return dialog(strings.proxyTitle, answer?.language, (box, close) => {
        box.dataset.decision = message.id;
        const page = link(answer?.detourUrl || "", `/d/${encodeURIComponent(message.id)}`);
        const done = element("button", { type: "button", class: "close", text: strings.close });
        onClick(done, close);
        box.append(element("p", { text: strings.proxyText }), element("p", { text: strings.decisionUnavailable }),
          element("p", {}, element("span", { text: `${strings.reference}: ` }),
            element("span", { class: "reference", text: message.id })),
          element("div", { class: "actions" }, element("a", { class: "button decision-page", target: "_blank",
            rel: "noopener noreferrer", href: page, text: strings.openDecision }), done));
      });
    },

    /* A warning: true once the person gave a reason and Detour recorded it. */
    warned(answer, justify) {
      const { report, strings } = answer;
      return new Promise((resolve) => {
        dialog(strings.warnTitle, report.language, (box, close) => {
          box.dataset.decision = report.decision_id;
          box.dataset.action = report.decision;
          box.dataset.escape = "no";
          const reason = element("textarea", { id: "detour-reason", minlength: MIN_REASON, maxlength: MAX_REASON,
            required: true, "aria-describedby": "detour-reason-hint" });
          const problem = element("p", { class: "error", role: "alert" });
          const send = element("button", { type: "button", class: "primary send", text: strings.sendWithReason });
          const cancel = element("button", { type: "button", class: "cancel", text: strings.dontSend });
          onClick(send, async () => {
            const text = reason.value.trim();
            if (text.length < MIN_REASON) {
              problem.textContent = fill(strings.reasonTooShort, { min: MIN_REASON });
              reason.focus();
              return;
            }
            send.disabled = true;
            const recorded = await justify(text).catch((error) => ({ ok: false, detail: String(error) }));
            if (recorded?.ok) {
              close();
              resolve(true);
              return;
            }
            send.disabled = false;
            problem.textContent = fill(strings.justifyFailed, { detail: recorded?.detail || "" });
          });
          onClick(cancel, () => { close(); resolve(false); });
          box.addEventListener("keydown", (event) => {
            if (event.key === "Escape" && event.isTrusted) { close(); resolve(false); }
          });
          box.append(fileLine(strings, report), ...reasons(report),
            element("h3", {}, element("label", { for: "detour-reason",
              text: fill(strings.reasonLabel, { host: report.destination?.host || location.hostname }) })),
            reason, element("p", { class: "hint", id: "detour-reason-hint", text: strings.reasonHint }), problem,
            element("div", { class: "actions" }, send, cancel), ...(routes(answer) || []));
        });
      });
    },

    /* Detour could not decide (down, too slow, refused the call): the policy's on_error for the site.
       True only when the policy lets the file go after a reason ("warn"). */
    failure(answer) {
      const strings = answer?.strings?.failureTitle ? answer.strings : FALLBACK;
      const host = answer?.host || location.hostname;
      const warn = answer?.onError === "warn";
      return new Promise((resolve) => {
        dialog(strings.failureTitle, answer?.language, (box, close) => {
          box.dataset.failure = answer?.failure || "error";
          box.dataset.action = warn ? "warn" : "block";
          const explained = answer?.failure === "misconfigured" ? strings.failureMisconfigured
            : warn ? strings.failureWarn : strings.failureBlock;
          box.append(element("p", { text: fill(explained || strings.failureBlock, { host }) }));
          if (answer?.detail) box.append(element("p", { class: "hint", text: answer.detail }));
          const done = element("button", { type: "button", class: "close", text: warn ? strings.dontSend
            : strings.close });
          onClick(done, () => { close(); resolve(false); });
          const actions = element("div", { class: "actions" });
          if (warn) {
            const go = element("button", { type: "button", class: "primary send", text: strings.sendAnyway });
            onClick(go, () => { close(); resolve(true); });
            actions.append(go);
          }
          actions.append(done);
          box.append(actions);
        });
      });
    },
  };
})();
