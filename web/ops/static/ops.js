// The operators' dashboard: draws the last 15 minutes of Senim from the
// server's one-second snapshots (GET /ops/events, server-sent events) on
// plain <canvas> charts. No library and no inline code (the CSP forbids it).
"use strict";

// Every visible string, in the three languages of the apps.
const I18N = {
  en: {
    title: "Senim operations", logout: "Sign out", calls_waiting: "Calls waiting", notaries_online: "Notaries online",
    act: "Act", principal: "Principal", action_type: "Action", waiting_for: "Waiting", offered_to: "Offered to",
    login: "Login", sessions: "Sessions", state: "State", live: "live", connecting: "connecting…", down: "disconnected, retrying",
    none: "none", s: "s",
    c_acts: "Acts by phase", c_rate: "Acts and commands per second", c_cmd: "Command latency (ms)", c_append: "Event-log appends",
    c_sessions: "Open sessions by role", c_notaries: "Notaries", c_queue: "Calls waiting and the longest wait",
    c_sfu: "SFU rooms and streams", c_packets: "Forwarded packets/s", c_rtcp: "NACK and PLI per second",
    c_turn: "TURN allocations", c_turnbytes: "TURN relayed bytes/s", c_refusals: "Refusals per second by code",
    c_faults: "Panics recovered and overload sheds (totals)", c_cpu: "Process CPU (cores)", c_mem: "Resident memory (MiB)",
    c_gor: "Goroutines", c_gc: "GC pause (ms, mean)",
    batch: "events per append", acts_s: "acts/s", commands_s: "commands/s", wal_sync_p99: "WAL sync p99 ms (the disk)", appends_s: "appends/s", waiting: "waiting", longest: "longest wait, s",
    rooms: "rooms", streams: "streams", packets: "packets/s", nack: "NACK/s", pli: "PLI/s", allocations: "allocations",
    bytes: "bytes/s", panics: "panics", sheds: "sheds", cpu: "CPU", rss: "RSS", goroutines: "goroutines", gc: "GC pause",
    available: "available", busy: "busy", away: "away", in_call: "in a call", offered: "offered a call",
  },
  ru: {
    title: "Сенім: мониторинг", logout: "Выйти", calls_waiting: "Ожидающие звонки", notaries_online: "Нотариусы в сети",
    act: "Акт", principal: "Доверитель", action_type: "Действие", waiting_for: "Ждёт", offered_to: "Предложен",
    login: "Логин", sessions: "Сессии", state: "Состояние", live: "в эфире", connecting: "подключение…", down: "нет связи, повтор",
    none: "нет", s: "с",
    c_acts: "Акты по фазам", c_rate: "Акты и команды в секунду", c_cmd: "Задержка команд (мс)", c_append: "Записи в журнал событий",
    c_sessions: "Открытые сессии по ролям", c_notaries: "Нотариусы", c_queue: "Ожидающие звонки и самое долгое ожидание",
    c_sfu: "Комнаты и потоки SFU", c_packets: "Пересланные пакеты/с", c_rtcp: "NACK и PLI в секунду",
    c_turn: "Выделения TURN", c_turnbytes: "Байты через TURN/с", c_refusals: "Отказы в секунду по кодам",
    c_faults: "Перехваченные паники и сброс нагрузки (всего)", c_cpu: "ЦП процесса (ядра)", c_mem: "Резидентная память (МиБ)",
    c_gor: "Горутины", c_gc: "Пауза GC (мс, среднее)",
    batch: "событий на запись", acts_s: "акты/с", commands_s: "команды/с", wal_sync_p99: "синхронизация WAL p99, мс (диск)", appends_s: "записи/с", waiting: "ожидают", longest: "дольше всех, с",
    rooms: "комнаты", streams: "потоки", packets: "пакеты/с", nack: "NACK/с", pli: "PLI/с", allocations: "выделения",
    bytes: "байт/с", panics: "паники", sheds: "сброс", cpu: "ЦП", rss: "RSS", goroutines: "горутины", gc: "пауза GC",
    available: "свободен", busy: "занят", away: "отошёл", in_call: "в звонке", offered: "предложен звонок",
  },
  kk: {
    title: "Сенім: бақылау", logout: "Шығу", calls_waiting: "Күтудегі қоңыраулар", notaries_online: "Желідегі нотариустар",
    act: "Акт", principal: "Сенім білдіруші", action_type: "Әрекет", waiting_for: "Күтуде", offered_to: "Ұсынылды",
    login: "Логин", sessions: "Сессиялар", state: "Күйі", live: "тікелей", connecting: "қосылуда…", down: "байланыс жоқ, қайталау",
    none: "жоқ", s: "с",
    c_acts: "Фазалар бойынша актілер", c_rate: "Секундына актілер мен командалар", c_cmd: "Команда кідірісі (мс)", c_append: "Оқиғалар журналына жазу",
    c_sessions: "Рөлдер бойынша ашық сессиялар", c_notaries: "Нотариустар", c_queue: "Күтудегі қоңыраулар және ең ұзақ күту",
    c_sfu: "SFU бөлмелері мен ағындары", c_packets: "Жіберілген пакеттер/с", c_rtcp: "Секундына NACK және PLI",
    c_turn: "TURN бөлулері", c_turnbytes: "TURN арқылы байт/с", c_refusals: "Кодтар бойынша секундына бас тартулар",
    c_faults: "Ұсталған паникалар және жүктемені тастау (барлығы)", c_cpu: "Процесс ОП (ядролар)", c_mem: "Резидент жады (МиБ)",
    c_gor: "Горутиналар", c_gc: "GC үзілісі (мс, орташа)",
    batch: "бір жазудағы оқиғалар", acts_s: "акт/с", commands_s: "команда/с", wal_sync_p99: "WAL синхрондау p99, мс (диск)", appends_s: "жазу/с", waiting: "күтуде", longest: "ең ұзақ, с",
    rooms: "бөлмелер", streams: "ағындар", packets: "пакет/с", nack: "NACK/с", pli: "PLI/с", allocations: "бөлулер",
    bytes: "байт/с", panics: "паникалар", sheds: "тастау", cpu: "ОП", rss: "RSS", goroutines: "горутиналар", gc: "GC үзілісі",
    available: "бос", busy: "бос емес", away: "жоқ", in_call: "қоңырауда", offered: "қоңырау ұсынылды",
  },
};

let lang = localStorage.getItem("senim.ops.lang") || ((navigator.language || "ru").slice(0, 2));
if (!I18N[lang]) lang = "ru";
const t = (k) => I18N[lang][k] || I18N.en[k] || k;

const WINDOW_MS = 15 * 60 * 1000;
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];

// A chart's series: fixed [key, value-of-snapshot], or "map" charts whose
// series are the keys of a map field seen anywhere in the samples.
const CHARTS = [
  { id: "acts", title: "c_acts", map: "acts" },
  { id: "rate", title: "c_rate", series: [["acts_s", (s) => s.acts_per_sec], ["commands_s", (s) => s.commands_per_sec]] },
  { id: "cmd", title: "c_cmd", series: [["p50", (s) => s.command_p50_ms], ["p99", (s) => s.command_p99_ms]] },
  { id: "append", title: "c_append", series: [["p50 ms", (s) => s.append_p50_ms], ["p99 ms", (s) => s.append_p99_ms], ["wal_sync_p99", (s) => s.wal_sync_p99_ms], ["appends_s", (s) => s.appends_per_sec], ["batch", (s) => s.batch_size]] },
  { id: "sessions", title: "c_sessions", map: "sessions" },
  { id: "notaries", title: "c_notaries", map: "notaries" },
  { id: "queue", title: "c_queue", series: [["waiting", (s) => s.waiting], ["longest", (s) => s.longest_wait_s]] },
  { id: "sfu", title: "c_sfu", series: [["rooms", (s) => s.rooms], ["streams", (s) => s.streams]] },
  { id: "packets", title: "c_packets", series: [["packets", (s) => s.packets_per_sec]] },
  { id: "rtcp", title: "c_rtcp", series: [["nack", (s) => s.nack_per_sec], ["pli", (s) => s.pli_per_sec]] },
  { id: "turn", title: "c_turn", series: [["allocations", (s) => s.turn_allocations]] },
  { id: "turnbytes", title: "c_turnbytes", series: [["bytes", (s) => s.turn_bytes_per_sec]] },
  { id: "refusals", title: "c_refusals", map: "refusals_per_sec" },
  { id: "faults", title: "c_faults", series: [["panics", (s) => s.panics], ["sheds", (s) => s.sheds]] },
  { id: "cpu", title: "c_cpu", series: [["cpu", (s) => s.cpu]] },
  { id: "mem", title: "c_mem", series: [["rss", (s) => s.rss_bytes / 1048576]] },
  { id: "gor", title: "c_gor", series: [["goroutines", (s) => s.goroutines]] },
  { id: "gc", title: "c_gc", series: [["gc", (s) => s.gc_pause_ms]] },
];

// The tiles: the figures an operator reads first.
const TILES = [
  ["waiting", (s) => s.waiting], ["longest", (s) => s.longest_wait_s], ["available", (s) => (s.notaries || {}).available || 0],
  ["busy", (s) => (s.notaries || {}).busy || 0], ["commands_s", (s) => s.commands_per_sec], ["p99", (s) => s.command_p99_ms],
  ["rooms", (s) => s.rooms], ["allocations", (s) => s.turn_allocations], ["panics", (s) => s.panics], ["sheds", (s) => s.sheds],
];

let samples = [];
let latest = null;

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmt(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(1) + "k";
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(a >= 10 ? 1 : 2);
}

function build() {
  document.documentElement.lang = lang;
  document.title = t("title");
  document.querySelectorAll("[data-i18n]").forEach((e) => { e.textContent = t(e.dataset.i18n); });
  const tiles = document.getElementById("tiles");
  tiles.replaceChildren();
  for (const [k] of TILES) {
    const d = el("div", { class: "tile", "data-tile": k });
    d.append(el("div", { class: "v" }, "–"), el("div", { class: "k" }, t(k)));
    tiles.append(d);
  }
  const charts = document.getElementById("charts");
  charts.replaceChildren();
  for (const c of CHARTS) {
    const d = el("div", { class: "chart", id: "chart-" + c.id });
    d.append(el("h3", {}, t(c.title)), el("canvas", {}), el("div", { class: "legend" }));
    charts.append(d);
  }
}

function seriesOf(c) {
  if (!c.map) return c.series;
  const keys = new Set();
  for (const s of samples) for (const k of Object.keys(s[c.map] || {})) keys.add(k);
  return [...keys].sort().map((k) => [k, (s) => (s[c.map] || {})[k] || 0]);
}

function draw(c) {
  const box = document.getElementById("chart-" + c.id);
  const canvas = box.querySelector("canvas");
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth, h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const series = seriesOf(c);
  const end = samples.length ? samples[samples.length - 1].t : Date.now();
  const start = end - WINDOW_MS;
  let max = 0;
  for (const [, f] of series) for (const s of samples) max = Math.max(max, f(s) || 0);
  max = max > 0 ? max * 1.1 : 1;
  const left = 44, bottom = h - 16;
  g.strokeStyle = "#d9dee7"; g.fillStyle = "#5b6475"; g.font = "11px system-ui, sans-serif"; g.lineWidth = 1;
  for (let i = 0; i <= 3; i++) {
    const y = bottom - (bottom - 4) * i / 3;
    g.beginPath(); g.moveTo(left, y); g.lineTo(w, y); g.stroke();
    g.fillText(fmt(max * i / 3), 2, y + 4);
  }
  for (let m = 15; m >= 0; m -= 5) g.fillText(m ? "−" + m + "m" : "0", left + (w - left) * (15 - m) / 15 - (m ? 12 : 8), h - 2);
  const legend = box.querySelector(".legend");
  legend.replaceChildren();
  series.forEach(([name, f], i) => {
    const color = COLORS[i % COLORS.length];
    g.strokeStyle = color; g.lineWidth = 1.5; g.beginPath();
    let moved = false;
    for (const s of samples) {
      if (s.t < start) continue;
      const x = left + (w - left) * (s.t - start) / WINDOW_MS;
      const y = bottom - (bottom - 4) * (f(s) || 0) / max;
      if (moved) g.lineTo(x, y); else { g.moveTo(x, y); moved = true; }
    }
    g.stroke();
    const item = el("span", { "data-series": name });
    const sw = el("i"); sw.style.background = color;
    item.append(sw, document.createTextNode(t(name) + " " + fmt(latest ? f(latest) : 0)));
    legend.append(item);
  });
}

function tables() {
  const calls = document.querySelector("#calls tbody");
  calls.replaceChildren();
  for (const c of (latest && latest.calls) || []) {
    const tr = el("tr");
    tr.append(el("td", { class: "mono" }, c.act_id.slice(0, 8)), el("td", { class: "mono" }, c.principal),
      el("td", {}, c.action_type), el("td", {}, fmt(c.wait_s) + " " + t("s")), el("td", {}, c.offered_to || "–"));
    calls.append(tr);
  }
  const online = document.querySelector("#online tbody");
  online.replaceChildren();
  for (const n of (latest && latest.online) || []) {
    const tr = el("tr");
    tr.append(el("td", {}, n.login), el("td", {}, String(n.sessions)), el("td", { "data-state": n.state }, t(n.state)),
      el("td", { class: "mono" }, n.act ? n.act.slice(0, 8) : "–"));
    online.append(tr);
  }
}

function render() {
  for (const c of CHARTS) draw(c);
  for (const [k, f] of TILES) {
    const v = document.querySelector('[data-tile="' + k + '"] .v');
    if (v) v.textContent = latest ? fmt(f(latest)) : "–";
  }
  tables();
}

function status(state) {
  const s = document.getElementById("status");
  s.dataset.state = state;
  s.textContent = t(state);
}

function connect() {
  status("connecting");
  const es = new EventSource("/ops/events");
  es.addEventListener("history", (e) => { samples = JSON.parse(e.data) || []; status("live"); render(); });
  es.addEventListener("snapshot", (e) => {
    latest = JSON.parse(e.data);
    const h = Object.assign({}, latest);
    delete h.calls; delete h.online;
    samples.push(h);
    while (samples.length && samples[0].t < latest.t - WINDOW_MS) samples.shift();
    status("live");
    render();
  });
  es.onerror = () => {
    status("down");
    // A 401 (signed out elsewhere, expired) ends EventSource for good: back
    // to the sign-in page then; otherwise the browser retries by itself.
    if (es.readyState === EventSource.CLOSED) {
      fetch("/ops/snapshot", { headers: { Accept: "application/json" } }).then((r) => {
        if (r.status === 401) location.assign("/ops/login"); else setTimeout(connect, 2000);
      }, () => setTimeout(connect, 2000));
    }
  };
}

document.addEventListener("DOMContentLoaded", () => {
  const sel = document.getElementById("lang");
  sel.value = lang;
  sel.addEventListener("change", () => { lang = sel.value; localStorage.setItem("senim.ops.lang", lang); build(); render(); });
  build();
  connect();
  window.addEventListener("resize", render);
});
