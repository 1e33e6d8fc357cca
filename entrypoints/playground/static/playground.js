// The aimpay playground: a Telegram-like chat with the real bot, offline.
// Reads GET /playground/api/state about once a second and acts through
// POST /playground/api/{send,press,join}. Text from the bot or the database is only ever put in
// the page as text (textContent, attributes), never as HTML.
"use strict";

(() => {
  const POLL_MS = 1000;
  const URL_RE = /https?:\/\/[^\s<>"']+/g;
  const TRAILING = /[.,;:!?)\]»”']+$/;
  const COMMANDS = ["/start", "/buy", "/ref", "/help", "/cancel"];
  const ADMIN_COMMANDS = ["/ban ", "/unban "];
  const PLAIN_METHODS = new Set(["sendMessage", "sendDocument", "sendPhoto", "sendMediaGroup", "user", "join", "removed"]);

  const $ = (id) => document.getElementById(id);
  const view = { user: null, users: [], bot: null, rendered: {}, toastSeen: {}, timer: null, inFlight: false, again: false };

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function shortTime(iso) {
    return iso ? iso.replace("T", " ").replace(/\+00:00$/, " UTC") : "";
  }

  function size(bytes) {
    return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
  }

  function extension(filename) {
    const match = /\.([A-Za-z0-9]{1,4})$/.exec(filename);
    return match ? match[1].toUpperCase() : "";
  }

  function userName(id) {
    const user = view.users.find((u) => u.id === id);
    return user ? user.name : String(id);
  }

  // --- talking to the server ----------------------------------------------------------------------

  async function post(path, body) {
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const answer = await response.json();
      if (!answer.ok && answer.error) toast(answer.error, true);
      return answer;
    } catch (error) {
      toast(`The playground did not answer: ${error.message}`, true);
      return { ok: false };
    } finally {
      refresh();
    }
  }

  const language = () => $("language").value;
  const send = (text) => post("/playground/api/send", { user: view.user, text, language: language() });
  const press = (messageId, data) =>
    post("/playground/api/press", { user: view.user, message_id: messageId, data, language: language() });

  async function join(link, user = view.user) {
    const answer = await post("/playground/api/join", { user, link });
    if (answer.joined) toast(answer.stayed ? `${userName(user)} joined the course chat` : `${userName(user)} was removed from the course chat`);
  }

  async function refresh() {
    if (view.user === null) return;
    if (view.inFlight) {
      view.again = true; // an action changed things while a poll was on its way: ask once more after it
      return;
    }
    view.inFlight = true;
    view.again = false;
    clearTimeout(view.timer);
    try {
      const response = await fetch(`/playground/api/state?user=${encodeURIComponent(view.user)}`, { cache: "no-store" });
      if (response.ok) render(await response.json());
    } catch (error) {
      // the server is restarting or gone: try again on the next tick
    } finally {
      view.inFlight = false;
      view.timer = setTimeout(refresh, view.again ? 0 : POLL_MS);
    }
  }

  // --- links: deep links of our bot, invite links, pages --------------------------------------------

  function linkKind(url) {
    if (!view.bot) return "page";
    const deep = new RegExp(`^https://t\\.me/${view.bot.username}/?(\\?start=([A-Za-z0-9_-]*))?$`, "i").exec(url);
    if (deep) return { deepLink: deep[2] || "" };
    if (/^https:\/\/t\.me\/\+/.test(url)) return { invite: url };
    return "page";
  }

  function onLinkClick(url) {
    return (event) => {
      const kind = linkKind(url);
      if (kind === "page") return; // opens in a new tab
      event.preventDefault();
      if (kind.invite) join(kind.invite);
      else openDeepLink(url, kind.deepLink);
    };
  }

  function link(url, label, className) {
    return el("a", { href: url, target: "_blank", rel: "noopener noreferrer", className, onclick: onLinkClick(url) }, label || url);
  }

  function openDeepLink(url, payload) {
    const dialog = $("link-dialog");
    $("link-target").textContent = url;
    const choices = $("link-users");
    choices.replaceChildren(
      ...view.users.map((u) =>
        el("button", {
          type: "button",
          className: "user-choice",
          dataset: { userId: u.id },
          onclick: () => {
            dialog.close();
            switchUser(u.id).then(() => send(payload ? `/start ${payload}` : "/start"));
          },
        }, `${u.name} (${u.role})`),
      ),
    );
    dialog.showModal();
  }

  function linkified(text) {
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      const url = match[0].replace(TRAILING, "");
      if (match.index > last) parts.push(text.slice(last, match.index));
      parts.push(link(url));
      last = match.index + url.length;
    }
    parts.push(text.slice(last));
    return parts;
  }

  // --- the chat ---------------------------------------------------------------------------------------

  function keyboard(entry) {
    const rows = (entry.reply_markup && entry.reply_markup.inline_keyboard) || [];
    if (!rows.length) return null;
    return el("div", { className: "inline-keyboard" },
      rows.map((row) =>
        el("div", { className: "kb-row" },
          row.map((button) => {
            if (button.url) return link(button.url, button.text, linkKind(button.url) === "page" ? "kb-button url" : "kb-button");
            if (button.callback_data !== undefined) {
              return el("button", {
                type: "button",
                className: "kb-button",
                dataset: { callback: button.callback_data },
                onclick: () => press(entry.message_id, button.callback_data),
              }, button.text);
            }
            return el("span", { className: "kb-button unsupported", title: JSON.stringify(button) }, button.text);
          }),
        ),
      ),
    );
  }

  function files(entry) {
    return entry.files.map((file) => {
      if (!file.file_id) return el("div", { className: "file" }, el("span", { className: "file-icon" }, file.kind.slice(0, 3).toUpperCase()), `${file.kind}: ${file.ref}`);
      const href = `/playground/files/${encodeURIComponent(file.file_id)}`;
      if (file.kind === "photo" && file.content_type.startsWith("image/")) {
        return el("a", { href, target: "_blank", className: "photo" }, el("img", { src: href, alt: file.filename, loading: "lazy" }));
      }
      return el("a", { href, download: file.filename, className: "file" },
        el("span", { className: "file-icon" }, extension(file.filename) || file.kind.slice(0, 3).toUpperCase()),
        el("span", { className: "file-name" }, file.filename),
        el("span", { className: "file-size" }, size(file.size)));
    });
  }

  function bubble(entry) {
    if (entry.sender === "service") return el("div", { className: "msg service", dataset: { messageId: entry.message_id } }, el("span", { text: entry.text }));
    const generic = !PLAIN_METHODS.has(entry.method);
    return el("div", { className: `msg from-${entry.sender}`, dataset: { messageId: entry.message_id, version: entry.version } },
      el("div", { className: "bubble" },
        generic ? el("div", { className: "via" }, entry.method) : null,
        files(entry),
        entry.text !== null ? el("div", { className: "text" }, linkified(entry.text)) : null,
        generic && entry.text === null && !entry.files.length ? el("pre", { className: "params" }, JSON.stringify(entry.params, null, 2)) : null,
        el("span", { className: "meta" }, entry.edited ? el("span", { className: "edited" }, "edited ") : null, clock(entry.date)),
      ),
      keyboard(entry),
    );
  }

  function renderChat(chat) {
    const box = $("messages");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const changedUser = box.dataset.user !== String(view.user);
    box.replaceChildren(...(chat.messages.length ? chat.messages.map(bubble) : [el("div", { className: "empty" }, "No messages yet. Send /start to begin.")]));
    box.dataset.user = String(view.user);
    if (nearBottom || changedUser) box.scrollTop = box.scrollHeight;

    const reply = $("reply-keyboard");
    const rows = (chat.reply_keyboard && chat.reply_keyboard.keyboard) || [];
    reply.hidden = !rows.length;
    reply.replaceChildren(...rows.map((row) => el("div", { className: "kb-row" },
      row.map((b) => { const text = typeof b === "string" ? b : b.text; return el("button", { type: "button", className: "kb-button", onclick: () => send(text) }, text); }))));
  }

  function renderQuick() {
    const me = view.users.find((u) => u.id === view.user);
    const chips = COMMANDS.map((c) => el("button", { type: "button", className: "chip", onclick: () => send(c) }, c));
    if (me && me.role === "admin") {
      chips.push(...ADMIN_COMMANDS.map((c) => el("button", { type: "button", className: "chip admin", onclick: () => { $("text").value = c; $("text").focus(); } }, `${c.trim()} …`)));
    }
    $("quick").replaceChildren(...chips);
  }

  function renderUsers() {
    $("users").replaceChildren(...view.users.map((u) =>
      el("button", {
        type: "button",
        className: "user",
        "aria-pressed": String(u.id === view.user),
        dataset: { userId: u.id },
        onclick: () => switchUser(u.id),
      }, el("strong", {}, u.name), el("small", {}, `${u.role} · ${u.id}`))));
    const me = view.users.find((u) => u.id === view.user);
    $("me").textContent = me ? `${me.name} (${me.id})` : String(view.user);
    renderQuick();
  }

  async function switchUser(id) {
    view.user = id;
    localStorage.setItem("aimpay-playground-user", String(id));
    history.replaceState(null, "", `#user=${id}`);
    view.rendered = {};
    renderUsers();
    $("messages").replaceChildren();
    await refresh();
  }

  // --- toasts ------------------------------------------------------------------------------------------

  function toast(text, error = false) {
    const box = $("toast");
    box.textContent = text;
    box.classList.toggle("error", error);
    box.hidden = false;
    clearTimeout(box.hideTimer);
    box.hideTimer = setTimeout(() => { box.hidden = true; }, 3500);
  }

  function renderToasts(toasts) {
    const seen = view.toastSeen[view.user];
    const newest = toasts.reduce((max, t) => Math.max(max, t.seq), 0);
    if (seen !== undefined) toasts.filter((t) => t.seq > seen).forEach((t) => toast(t.text));
    view.toastSeen[view.user] = Math.max(seen || 0, newest);
  }

  // --- the side panels ------------------------------------------------------------------------------

  function table(headers, rows) {
    return el("table", {}, el("thead", {}, el("tr", {}, headers.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", {}, c))))));
  }

  const badge = (text) => el("span", { className: `badge ${text}` }, text);
  const none = (text) => el("p", { className: "none" }, text);

  const PANELS = {
    emails: (data) => data.emails.length ? data.emails.map((m) =>
      el("article", { className: "email" },
        el("div", { className: "email-head" }, el("strong", {}, m.subject), el("div", {}, `to ${m.to}`)),
        el("iframe", { sandbox: "", title: `Email: ${m.subject}`, srcdoc: m.html, className: "email-body" }),
        el("details", {}, el("summary", {}, "plain text"), el("pre", {}, m.text)))) : [none("No email sent yet.")],
    "admin-notes": (data) => data.admin_notes.length ? data.admin_notes.map((n) =>
      el("div", { className: "note" }, el("span", { className: "meta" }, clock(n.date)), el("div", { className: "text" }, linkified(n.text)))) : [none("Nothing told to the admin yet.")],
    invites: (data) => data.invites.length ? [table(["link", "state", "for", "expires", "used by", ""], data.invites.map((i) => [
      el("code", {}, i.link), badge(i.state), i.name, shortTime(i.expires_at), i.used_by.join(", "),
      i.state === "live" ? el("button", { type: "button", className: "small-button join", onclick: () => join(i.link) }, `join as ${userName(view.user)}`) : "",
    ])), data.members.length ? el("p", {}, `In the course chat: ${data.members.join(", ")}`) : null] : [none("No invite link yet: one is made when a payment succeeds.")],
    ledger: (data) => [
      data.balances.length ? table(["customer", "code", "referred by", "invited", "paid", "balance"],
        data.balances.map((b) => [`${b.name} (${b.telegram_id})`, el("code", {}, b.code), b.referrer || "", b.invited, b.paid, el("strong", {}, b.balance)])) : none("No customers yet."),
      data.ledger.length ? table(["when", "referrer", "kind", "amount", "for the purchase of"],
        data.ledger.map((e) => [shortTime(e.at), e.referrer, e.kind, e.amount, e.buyer || ""])) : none("The ledger is empty."),
    ],
    outbox: (data) => data.outbox.length ? [table(["state", "what", "to", "attempts", "next attempt", "error"], data.outbox.map((m) => [
      badge(m.state), el("span", { title: m.key }, m.what), m.to, m.attempts, m.state === "delivered" ? "" : shortTime(m.next_attempt_at), m.last_error || "",
    ]))] : [none("The outbox is empty: nothing has happened that must be told.")],
    payments: (data) => data.payments.length ? [table(["payment", "status", "amount", ""], data.payments.map((p) => [
      el("code", {}, p.id), badge(p.status), p.amount, el("a", { href: p.url, target: "_blank" }, "checkout page"),
    ]))] : [none("No payment yet.")],
    calls: (data) => data.calls.length ? data.calls.map((c) =>
      el("details", { className: `call${c.ok ? "" : " failed"}` },
        el("summary", {}, el("code", {}, c.method), c.chat_id !== null ? ` → ${userName(c.chat_id)}` : "", c.ok ? "" : ` ✘ ${c.error}`),
        el("pre", {}, JSON.stringify(c.params, null, 2)))) : [none("The bot has called nothing yet.")],
  };

  const COUNTS = { emails: "emails", "admin-notes": "admin_notes", invites: "invites", ledger: "ledger", outbox: "outbox", payments: "payments", calls: "calls" };
  const COUNT_IDS = { emails: "count-emails", "admin-notes": "count-admin", invites: "count-invites", ledger: "count-ledger", outbox: "count-outbox", payments: "count-payments", calls: "count-calls" };

  function changed(key, value) {
    const json = JSON.stringify(value);
    if (view.rendered[key] === json) return false;
    view.rendered[key] = json;
    return true;
  }

  function render(data) {
    if (data.user !== view.user) return; // the visitor switched meanwhile
    view.bot = data.bot;
    if (changed("users", data.users)) {
      view.users = data.users;
      renderUsers();
    }
    if (changed("chat", data.chat)) renderChat(data.chat);
    renderToasts(data.toasts);
    for (const [id, build] of Object.entries(PANELS)) {
      const source = COUNTS[id];
      const value = id === "ledger" ? [data.ledger, data.balances] : id === "invites" ? [data.invites, data.members, view.user] : data[source];
      if (!changed(id, value)) continue;
      $(id).replaceChildren(...build(data).filter(Boolean));
      $(COUNT_IDS[id]).textContent = data[source].length ? `(${data[source].length})` : "";
    }
  }

  // --- start ------------------------------------------------------------------------------------------

  function initialUser() {
    const fromHash = /user=(\d+)/.exec(location.hash);
    const stored = localStorage.getItem("aimpay-playground-user");
    return Number((fromHash && fromHash[1]) || stored || 1002);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("composer").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("text");
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      send(text);
    });
    $("language").value = localStorage.getItem("aimpay-playground-language") || "en";
    $("language").addEventListener("change", () => localStorage.setItem("aimpay-playground-language", language()));
    view.user = initialUser();
    refresh().then(() => {
      if (!view.users.some((u) => u.id === view.user) && view.users.length) switchUser(view.users[0].id);
    });
  });
})();
