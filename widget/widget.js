/*! Scorekeeper survey widget. Embed:
 *   <script src="https://HOST/widget.js" data-survey="pk_..." async></script>
 * Options: data-token, data-visitor-id|-email|-name, data-property-NAME="value",
 * data-placement="corner"|"inline", data-container="#selector", data-delay="ms", data-locale.
 * API: Scorekeeper.show({survey, token, visitor, properties, placement, container, delay, locale})
 *      Scorekeeper.onAnswer(fn)  // fn({survey, token, score, comment}) after each saved answer
 * Requests are CORS "simple" (a string body is sent as text/plain), so no preflight.
 * Server and visitor text is only ever set with textContent, never parsed as HTML. */
(() => {
  "use strict";
  const w = window, d = document;
  const tag = d.currentScript ||
    [...d.scripts].reverse().find(s => /\/widget(\.[\w-]+)?\.js([?#]|$)/.test(s.src));
  // https://HOST/PREFIX/widget.js, or the versioned https://HOST/PREFIX/widget/VERSION/widget.js
  const base = tag ? tag.src.replace(/[?#].*/, "").replace(/\/[^/]*$/, "").replace(/\/widget\/[\w-]+$/, "") : "";
  if (w.Scorekeeper && w.Scorekeeper.show) return auto(w.Scorekeeper);

  const cbs = [], live = {};
  const warn = m => console.warn("Scorekeeper: " + m);
  const wait = ms => new Promise(r => setTimeout(r, ms));
  const ready = () => new Promise(r =>
    d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", r) : r());
  const store = (k, v) => {
    try {
      return v ? localStorage.setItem(k, JSON.stringify(v)) : JSON.parse(localStorage.getItem(k));
    } catch (e) { /* storage blocked: ask every time */ }
  };
  // Non-empty fields of x, mapped by f; undefined when none (so JSON leaves it out).
  const clean = (x, f = v => v) => {
    let r;
    for (const k in x || {}) if (x[k] != null && x[k] !== "") (r = r || {})[k] = f(x[k]);
    return r;
  };
  const post = (url, body) => fetch(url, { method: "POST", body: JSON.stringify(body), credentials: "omit" })
    .then(r => r.json().then(j => [r.status, j || {}], () => [r.status, {}]));
  const h = (name, props, kids) => {
    const e = d.createElement(name);
    for (const k in props || {}) {
      const v = props[k];
      if (v == null) continue;
      if (k == "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    (kids || []).forEach(c => c && e.appendChild(c));
    return e;
  };
  // Black or white, whichever reads better on the brand colour.
  const ink = c => {
    const n = parseInt(c.slice(1), 16);
    return (n >> 16) * 299 + (n >> 8 & 255) * 587 + (n & 255) * 114 > 160000 ? "#000" : "#fff";
  };

  const CSS = `:host{all:initial!important;display:block!important}
.c{--b:#2563eb;--i:#fff;--bg:#fff;--b2:#f6f8fa;--fg:#1f2328;--mu:#59636e;--ln:#c8d1da;color-scheme:light;container-type:inline-size;box-sizing:border-box;position:relative;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);border:1px solid var(--ln);border-radius:12px;padding:16px;text-align:start;max-width:560px}
@media (prefers-color-scheme:dark){.c{--bg:#1c2128;--b2:#262c36;--fg:#e6edf3;--mu:#9da7b3;--ln:#3d444d;color-scheme:dark}}
:where(.c *){box-sizing:border-box;margin:0;font:inherit;color:inherit}
.k{position:fixed;right:16px;bottom:16px;z-index:2147483000;width:calc(100vw - 32px);max-width:360px;max-height:calc(100vh - 32px);overflow:auto;box-shadow:0 8px 28px rgba(0,0,0,.25)}
h2{font-weight:600;font-size:16px}.k h2{padding-right:28px}
.r{display:grid;grid-template-columns:repeat(var(--n),minmax(0,1fr));gap:6px;margin-top:12px;max-width:calc(var(--n)*64px)}
@container (max-width:460px){.r.w{grid-template-columns:repeat(6,minmax(0,1fr));max-width:none}}
button{cursor:pointer;border:1px solid var(--ln);border-radius:8px;background:var(--b2);min-height:40px;padding:6px 4px;font-weight:600;touch-action:manipulation}
button:hover{border-color:var(--b)}
button:focus-visible,textarea:focus-visible{outline:2px solid var(--fg);outline-offset:2px}
button[aria-pressed=true],.s{background:var(--b);border-color:var(--b);color:var(--i)}
.e{display:flex;justify-content:space-between;gap:8px;margin-top:6px;font-size:13px;color:var(--mu)}
.f{display:grid;gap:6px;margin-top:14px}
textarea{display:block;width:100%;min-height:72px;resize:vertical;padding:8px;border:1px solid var(--ln);border-radius:8px;background:var(--bg)}
.s{justify-self:end;padding:6px 18px}
.x{position:absolute;top:8px;right:8px;min-height:0;width:32px;height:32px;padding:0;border:0;background:none;font-size:22px;line-height:1;color:var(--mu)}
.st{margin-top:8px;font-size:14px}.st:empty{display:none}
[hidden]{display:none!important}`;

  function render(o, url, j, box, corner) {
    const sv = j.survey || {}, pts = sv.points || [], tok = j.token || o.token, last = pts.length - 1;
    const S = Object.assign({ send: "Send", thanks: "Thank you!", close: "Close", error: "Sorry, that did not work." }, j.strings);
    const col = /^#[0-9a-f]{6}$/i.test(sv.brand_color) ? sv.brand_color : "#2563eb";
    let q = Promise.resolve(), saved = null;
    const host = h("div", { "data-scorekeeper": o.survey });
    const close = () => { host.remove(); live[o.survey] = 0; };
    const say = t => { st.textContent = t || ""; };
    // Answers go out one after another, so a quick change of mind arrives last.
    const send = body => q = q.then(async () => {
      try {
        const [code, a] = await post(url + "/answers/" + encodeURIComponent(tok), body);
        if (code > 299) throw code;
        set(a);
        cbs.forEach(f => {
          try { f({ survey: o.survey, token: tok, score: a.score, comment: a.comment }); } catch (e) { console.error(e); }
        });
        return 1;
      } catch (e) { say(S.error); }
    });
    const set = a => {
      btns.forEach((b, i) => b.setAttribute("aria-pressed", pts[i].score === a.score));
      saved = a.comment || null;
      form.hidden = false;
    };
    const btns = pts.map((p, i) => {
      const l = p.label || (i ? i == last ? sv.high_label : null : sv.low_label);
      return h("button", {
        type: "button", "aria-pressed": "false", "aria-label": p.score + (l ? ": " + l : ""), title: l, text: p.text,
        onclick: () => send({ score: p.score }).then(ok => ok && say(S.change_hint))
      });
    });
    const ta = h("textarea", { id: "t", maxlength: 5000, placeholder: S.comment_placeholder });
    const form = h("div", { class: "f", hidden: "" }, [
      h("label", { for: "t", text: sv.comment_prompt }), ta,
      h("button", {
        type: "button", class: "s", text: S.send, onclick: () => {
          const c = ta.value.trim();
          (c != (saved || "") ? send({ comment: c }) : Promise.resolve(1))
            .then(ok => ok && (form.hidden = true, say(S.thanks)));
        }
      })
    ]);
    const st = h("p", { class: "st", role: "status", "aria-live": "polite" });
    const card = h("section", { class: corner ? "c k" : "c", lang: j.locale, "aria-labelledby": "q", onkeydown: e => corner && e.key == "Escape" && close() }, [
      corner && h("button", { type: "button", class: "x", "aria-label": S.close, title: S.close, text: "\u00d7", onclick: close }),
      h("h2", { id: "q", text: sv.question }),
      h("div", { class: pts.length > 7 ? "r w" : "r", role: "group", "aria-labelledby": "q" }, btns),
      (sv.low_label || sv.high_label) && h("div", { class: "e", "aria-hidden": "true" },
        [h("span", { text: sv.low_label }), h("span", { text: sv.high_label })]),
      form, st
    ]);
    card.style.setProperty("--n", pts.length || 1);
    card.style.setProperty("--b", col);
    card.style.setProperty("--i", ink(col));
    const root = host.attachShadow({ mode: "open" });
    root.append(h("style", { text: CSS }), card);
    if (j.answer) { set(j.answer); ta.value = saved || ""; say(S.change_hint); }
    box.appendChild(host);
  }

  async function show(o) {
    o = o || {};
    const key = o.survey, tok = o.token, mark = "scorekeeper:" + key;
    const url = (o.base || base) + "/w/" + encodeURIComponent(key);
    if (!key) return warn("no survey key (data-survey)"), false;
    const s = !tok && store(mark);
    if (live[key] || s && Date.now() - s.at < s.days * 864e5) return false;
    live[key] = 1;
    try {
      await ready();
      await wait(+o.delay || 0);
      const inline = o.placement == "inline";
      let box = o.container;
      try { box = typeof box == "string" ? d.querySelector(box) : box; } catch (e) { box = null; }
      box = inline ? box : d.body;
      if (!box) throw "container " + o.container + " not found";
      const [code, j] = await post(url + "/impressions", {
        token: tok, visitor: clean(o.visitor), properties: clean(o.properties, String), locale: o.locale || undefined
      });
      if (typeof j.show == "boolean") store(mark, { at: Date.now(), days: +j.once_per_days || 0 });
      if (j.show === false) return live[key] = 0, false;
      if (code > 299 || !j.survey) throw "HTTP " + code + (j.error ? ": " + (j.error.message || j.error.code) : "");
      render(o, url, j, box, !inline);
      return true;
    } catch (e) {
      live[key] = 0;
      warn("survey not shown (" + e + ")");
      return false;
    }
  }

  auto(w.Scorekeeper = { show, onAnswer: f => typeof f == "function" && cbs.push(f) });

  // Reads the options of a <script data-survey> tag and shows it.
  function auto(api) {
    const ds = tag && tag.dataset;
    if (!ds || !ds.survey) return;
    const props = {};
    for (const k in ds) {
      const m = /^property(.+)/.exec(k);
      if (m) props[m[1].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase())] = ds[k];
    }
    api.show({
      survey: ds.survey, token: ds.token, base, properties: props,
      visitor: { id: ds.visitorId, email: ds.visitorEmail, name: ds.visitorName },
      placement: ds.placement, container: ds.container, delay: ds.delay, locale: ds.locale
    });
  }
})();
