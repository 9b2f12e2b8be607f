// The operator console: a page over the gateway's operator API (/v1/operator/). It shows
// ids, kinds, tags, statuses and counts, never a payload. Every value is written as text
// (textContent), never as markup. The token stays in this tab (sessionStorage).
"use strict";

const TEXTS = {
  en: {
    title: "Referral gateway: operator console", language: "Language",
    gateway: "gateway", store: "store", broker: "broker", signin: "Sign in",
    token: "Operator token", signinButton: "Sign in",
    signinHelp: "The token needs the operator scope. It is kept in this tab only.",
    refresh: "Refresh", signout: "Sign out", health: "Health", part: "Part", state: "State",
    ready: "ready", down: "not ready", lastHour: "The last hour", accepted: "Accepted",
    delivered: "Delivered", failed: "Failed", p50: "Delivery time, median",
    p99: "Delivery time, 99th percentile", max: "Delivery time, longest",
    deadLetters: "Dead letters",
    deadHelp: "Messages an adapter gave up on. Replay puts one back with a fresh retry budget; discard removes it for good. Both are audited with the reason you choose.",
    transport: "Transport", message: "Message", kind: "Kind", legalBasis: "Legal basis",
    sender: "Sender", reason: "Reason", attempts: "Attempts", action: "Action", none: "None.",
    replay: "Replay", discard: "Discard", reasonFor: "Reason for message",
    recent: "Recent messages", recipient: "Recipient", status: "Status", recorded: "Recorded",
    overdue: "Overdue", deadline: "Deadline", count: "Messages", queues: "Queues", queue: "Queue",
    depth: "Messages", consumers: "Consumers", updated: "Updated", loading: "Loading…",
    noQueues: "The broker's management API is not configured or does not answer.",
    replayed: "Replayed", discarded: "Discarded", confirmDiscard: "Discard this message for good?",
    unauthorized: "The token was refused (expired, or without the operator scope). Sign in again.",
    failedRequest: "The gateway did not answer as expected",
    reasons: {
      recipient_fixed: "The recipient's fault is mended", transient_fault: "A passing fault",
      sent_in_error: "Sent in error", duplicate: "The recipient has it already",
      recipient_gone: "The recipient no longer exists",
    },
  },
  nb: {
    title: "Henvisningsportalen: driftskonsoll", language: "Språk",
    gateway: "portalen", store: "lageret", broker: "meldingsmegleren", signin: "Logg inn",
    token: "Driftstoken", signinButton: "Logg inn",
    signinHelp: "Tokenet må ha driftsomfanget (operator scope). Det lagres bare i denne fanen.",
    refresh: "Oppdater", signout: "Logg ut", health: "Tilstand", part: "Del", state: "Status",
    ready: "klar", down: "ikke klar", lastHour: "Siste time", accepted: "Godtatt",
    delivered: "Levert", failed: "Feilet", p50: "Leveringstid, median",
    p99: "Leveringstid, 99. persentil", max: "Leveringstid, lengste",
    deadLetters: "Døde meldinger",
    deadHelp: "Meldinger en adapter har gitt opp. Send på nytt legger den tilbake med nye forsøk; forkast fjerner den for godt. Begge logges i revisjonssporet med årsaken du velger.",
    transport: "Transport", message: "Melding", kind: "Type", legalBasis: "Rettsgrunnlag",
    sender: "Avsender", reason: "Årsak", attempts: "Forsøk", action: "Handling", none: "Ingen.",
    replay: "Send på nytt", discard: "Forkast", reasonFor: "Årsak for melding",
    recent: "Siste meldinger", recipient: "Mottaker", status: "Status", recorded: "Registrert",
    overdue: "Over fristen", deadline: "Frist", count: "Meldinger", queues: "Køer", queue: "Kø",
    depth: "Meldinger", consumers: "Konsumenter", updated: "Oppdatert", loading: "Laster …",
    noQueues: "Meglerens administrasjons-API er ikke satt opp eller svarer ikke.",
    replayed: "Sendt på nytt", discarded: "Forkastet", confirmDiscard: "Forkaste denne meldingen for godt?",
    unauthorized: "Tokenet ble avvist (utløpt, eller uten driftsomfanget). Logg inn på nytt.",
    failedRequest: "Portalen svarte ikke som ventet",
    reasons: {
      recipient_fixed: "Feilen hos mottakeren er rettet", transient_fault: "En forbigående feil",
      sent_in_error: "Sendt ved en feil", duplicate: "Mottakeren har den allerede",
      recipient_gone: "Mottakeren finnes ikke lenger",
    },
  },
  sv: {
    title: "Hänvisningsportalen: driftkonsol", language: "Språk",
    gateway: "portalen", store: "lagret", broker: "meddelandemäklaren", signin: "Logga in",
    token: "Drifttoken", signinButton: "Logga in",
    signinHelp: "Token måste ha driftomfånget (operator scope). Den sparas bara i den här fliken.",
    refresh: "Uppdatera", signout: "Logga ut", health: "Hälsa", part: "Del", state: "Läge",
    ready: "redo", down: "inte redo", lastHour: "Senaste timmen", accepted: "Accepterade",
    delivered: "Levererade", failed: "Misslyckade", p50: "Leveranstid, median",
    p99: "Leveranstid, 99:e percentilen", max: "Leveranstid, längsta",
    deadLetters: "Döda meddelanden",
    deadHelp: "Meddelanden som en adapter har gett upp. Skicka igen lägger tillbaka det med nya försök; kassera tar bort det för gott. Båda loggas i granskningsspåret med det skäl du väljer.",
    transport: "Transport", message: "Meddelande", kind: "Typ", legalBasis: "Rättslig grund",
    sender: "Avsändare", reason: "Skäl", attempts: "Försök", action: "Åtgärd", none: "Inga.",
    replay: "Skicka igen", discard: "Kassera", reasonFor: "Skäl för meddelande",
    recent: "Senaste meddelanden", recipient: "Mottagare", status: "Status", recorded: "Registrerat",
    overdue: "Försenade", deadline: "Frist", count: "Meddelanden", queues: "Köer", queue: "Kö",
    depth: "Meddelanden", consumers: "Konsumenter", updated: "Uppdaterad", loading: "Laddar …",
    noQueues: "Mäklarens administrations-API är inte konfigurerat eller svarar inte.",
    replayed: "Skickat igen", discarded: "Kasserat", confirmDiscard: "Kassera detta meddelande för gott?",
    unauthorized: "Token avvisades (utgången, eller utan driftomfånget). Logga in igen.",
    failedRequest: "Portalen svarade inte som väntat",
    reasons: {
      recipient_fixed: "Felet hos mottagaren är åtgärdat", transient_fault: "Ett tillfälligt fel",
      sent_in_error: "Skickat av misstag", duplicate: "Mottagaren har det redan",
      recipient_gone: "Mottagaren finns inte längre",
    },
  },
};

const REFRESH_MS = 5000;
let lang = pickLanguage();
let timer = null;

function pickLanguage() {
  const saved = sessionStorage.getItem("lang");
  if (saved && TEXTS[saved]) return saved;
  for (const wanted of navigator.languages || []) {
    const base = wanted.toLowerCase().split("-")[0];
    if (base === "nb" || base === "nn" || base === "no") return "nb";
    if (base === "sv") return "sv";
    if (base === "en") return "en";
  }
  return "en";
}

function t(key) {
  return TEXTS[lang][key] ?? TEXTS.en[key] ?? key;
}

function translate() {
  document.documentElement.lang = lang;
  document.title = t("title");
  document.getElementById("lang").value = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
}

function token() {
  return sessionStorage.getItem("operatorToken");
}

function show(signedIn) {
  document.getElementById("signin").hidden = signedIn;
  document.getElementById("console").hidden = !signedIn;
}

function say(text) {
  document.getElementById("status").textContent = text;
}

function fail(text) {
  document.getElementById("error").textContent = text;
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      Authorization: "Bearer " + token(),
      Accept: "application/json",
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (response.status === 401 || response.status === 403) {
    signOut();
    fail(t("unauthorized"));
    throw new Error("unauthorized");
  }
  if (!response.ok) {
    let slug = String(response.status);
    try {
      slug = (await response.json()).type || slug;
    } catch (_) { /* not JSON */ }
    fail(t("failedRequest") + " (" + slug + ")");
    throw new Error(slug);
  }
  return response.json();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? "";
  if (className) td.className = className;
  return td;
}

function fill(tableId, items, render) {
  const body = document.querySelector("#" + tableId + " tbody");
  body.replaceChildren();
  for (const item of items) render(body.insertRow(), item);
  if (items.length === 0) {
    const columns = document.querySelectorAll("#" + tableId + " thead th").length;
    cell(body.insertRow(), t("none")).colSpan = columns;
  }
}

function renderHealth(health) {
  fill("health", health, (row, part) => {
    cell(row, t(part.part));
    cell(row, part.ready ? t("ready") : t("down"), part.ready ? "ready" : "down");
  });
}

function renderHour(hour) {
  const dl = document.getElementById("hour");
  dl.replaceChildren();
  const entries = [
    ["accepted", hour.accepted], ["delivered", hour.delivered], ["failed", hour.failed],
    ["p50", ms(hour.deliveryP50Ms)], ["p99", ms(hour.deliveryP99Ms)], ["max", ms(hour.deliveryMaxMs)],
  ];
  for (const [key, value] of entries) {
    const dt = document.createElement("dt");
    dt.textContent = t(key);
    const dd = document.createElement("dd");
    dd.textContent = String(value);
    dd.id = "hour-" + key;
    dl.append(dt, dd);
  }
}

function ms(value) {
  return value == null ? "–" : value + " ms";
}

function renderDead(letters) {
  fill("dead", letters, (row, letter) => {
    row.dataset.id = letter.messageId ?? "";
    cell(row, letter.transport);
    cell(row, letter.messageId, "id");
    cell(row, letter.type);
    cell(row, letter.legalBasis);
    cell(row, letter.sender);
    cell(row, letter.reason);
    cell(row, letter.attempts == null ? "" : String(letter.attempts));
    const actions = row.insertCell();
    const selectId = "reason-" + letter.transport + "-" + letter.messageId;
    const label = document.createElement("label");
    label.htmlFor = selectId;
    label.className = "visually-hidden";
    label.textContent = t("reasonFor") + " " + letter.messageId;
    const select = document.createElement("select");
    select.id = selectId;
    for (const [code, text] of Object.entries(TEXTS[lang].reasons)) {
      select.add(new Option(text, code));
    }
    const replay = document.createElement("button");
    replay.type = "button";
    replay.className = "replay";
    replay.textContent = t("replay");
    replay.addEventListener("click", () => settle(letter, "replay", select.value));
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "discard";
    discard.textContent = t("discard");
    discard.addEventListener("click", () => {
      if (window.confirm(t("confirmDiscard"))) settle(letter, "discard", select.value);
    });
    actions.append(label, select, " ", replay, " ", discard);
  });
}

function renderRecent(recent) {
  fill("recent", recent, (row, message) => {
    row.dataset.id = message.gatewayId;
    cell(row, message.gatewayId, "id");
    cell(row, message.type);
    cell(row, message.recipient);
    cell(row, message.status, "status");
    cell(row, message.recordedAt);
    cell(row, message.reason);
  });
}

function renderOverdue(overdue) {
  fill("overdue", overdue, (row, item) => {
    cell(row, item.agency);
    cell(row, item.deadline);
    cell(row, String(item.count));
  });
}

function renderQueues(queues) {
  if (queues == null) {
    fill("queues", [t("noQueues")], (row, text) => {
      cell(row, text).colSpan = 3;
    });
    return;
  }
  fill("queues", queues, (row, queue) => {
    cell(row, queue.name);
    cell(row, String(queue.messages));
    cell(row, String(queue.consumers), queue.consumed && queue.consumers === 0 ? "down" : "");
  });
}

async function refresh() {
  if (!token()) return;
  say(t("loading"));
  try {
    const [overview, letters] = await Promise.all([
      api("GET", "/v1/operator/overview"),
      api("GET", "/v1/operator/dead-letters"),
    ]);
    fail("");
    renderHealth(overview.health);
    renderHour(overview.lastHour);
    renderDead(letters);
    renderRecent(overview.recent);
    renderOverdue(overview.overdue);
    renderQueues(overview.queues);
    document.getElementById("updated").textContent = t("updated") + " " + overview.at;
    say("");
  } catch (_) { /* shown by api() */ }
}

async function settle(letter, how, reason) {
  const path = "/v1/operator/dead-letters/" + encodeURIComponent(letter.transport) + "/" +
    encodeURIComponent(letter.messageId) + "/" + how;
  try {
    await api("POST", path, { reason });
    say(t(how === "replay" ? "replayed" : "discarded") + ": " + letter.messageId);
  } catch (_) { /* shown by api() */ }
  await refresh();
}

function signIn(event) {
  event.preventDefault();
  const input = document.getElementById("token");
  sessionStorage.setItem("operatorToken", input.value.trim());
  input.value = "";
  fail("");
  show(true);
  start();
}

function signOut() {
  sessionStorage.removeItem("operatorToken");
  clearInterval(timer);
  timer = null;
  show(false);
}

function start() {
  refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  translate();
  document.getElementById("lang").addEventListener("change", (event) => {
    lang = event.target.value;
    sessionStorage.setItem("lang", lang);
    translate();
    refresh();
  });
  document.getElementById("signin-form").addEventListener("submit", signIn);
  document.getElementById("signout").addEventListener("click", signOut);
  document.getElementById("refresh").addEventListener("click", refresh);
  show(Boolean(token()));
  if (token()) start();
});
