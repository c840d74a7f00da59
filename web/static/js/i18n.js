// i18n: the catalogs (i18n/{ru,kk,en}.json), the chosen language, and the
// formats people in Kazakhstan read: dd.mm.yyyy, 24-hour Almaty time, and
// amounts as "15 137,50 ₸" in every language. Nothing on screen is a raw
// code: every code and event type has a sentence in each catalog.

export const LANGS = ['ru', 'kk', 'en'];
const STORE = 'senim.lang';
const catalogs = {};
let lang = 'ru';

// pick is the language to start with: ?lang=, then the one chosen before
// (localStorage), then the browser's, then Russian.
function pick() {
  const q = new URLSearchParams(location.search).get('lang');
  if (LANGS.includes(q)) return q;
  try {
    const saved = localStorage.getItem(STORE);
    if (LANGS.includes(saved)) return saved;
  } catch { /* storage may be off: the browser's language decides */ }
  for (const l of navigator.languages || [navigator.language || '']) {
    const base = String(l).toLowerCase().split('-')[0];
    if (LANGS.includes(base)) return base;
  }
  return 'ru';
}

async function load(l) {
  if (!catalogs[l]) {
    const r = await fetch('/i18n/' + l + '.json');
    if (!r.ok) throw new Error('catalog ' + l + ': HTTP ' + r.status);
    catalogs[l] = await r.json();
  }
  return catalogs[l];
}

const listeners = [];

/** onLanguage runs fn after every language change (screens re-render). */
export function onLanguage(fn) { listeners.push(fn); }

/** current is the language on screen. */
export function current() { return lang; }

/** init loads the starting language's catalog (and English, the fallback). */
export async function init() {
  await Promise.all([load(pick()), load('en')]);
  await setLanguage(pick(), false);
}

/** setLanguage switches every text on the page and remembers the choice. */
export async function setLanguage(l, remember = true) {
  if (!LANGS.includes(l)) return;
  await load(l);
  lang = l;
  document.documentElement.lang = l;
  if (remember) {
    try { localStorage.setItem(STORE, l); } catch { /* not remembered: still switched */ }
  }
  // The server's pages (the public check, the bank) read the same choice
  // from a cookie: a language code, nothing else.
  document.cookie = 'senim_lang=' + l + '; path=/; max-age=31536000; samesite=lax';
  translateStatic(document);
  for (const fn of listeners) fn(l);
}

/** has says whether the catalog holds key. */
export function has(key) { return Object.prototype.hasOwnProperty.call(catalogs[lang] || {}, key); }

/**
 * t is the text of key in the current language with {name} placeholders
 * filled from vars. A key missing everywhere shows as itself, so a test
 * (and a reader) notices it.
 */
export function t(key, vars) {
  let s = (catalogs[lang] && catalogs[lang][key]) ?? (catalogs.en && catalogs.en[key]) ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] ?? '') + '');
  return s;
}

/** errorText is the sentence for a protocol error code. */
export function errorText(code) { return has('err.' + code) ? t('err.' + code) : t('err.unknown'); }

/** translateStatic fills elements of the page's HTML marked data-i18n (text) and data-i18n-attr ("attr:key"). */
export function translateStatic(root) {
  for (const e of root.querySelectorAll('[data-i18n]')) e.textContent = t(e.dataset.i18n);
  for (const e of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of e.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      e.setAttribute(attr, t(key));
    }
  }
  document.title = t('app.title');
}

const TZ = 'Asia/Almaty';

function parts(d, opts) {
  const out = {};
  for (const p of new Intl.DateTimeFormat('en-GB', { timeZone: TZ, ...opts }).formatToParts(d)) out[p.type] = p.value;
  return out;
}

/** date is dd.mm.yyyy in Almaty. */
export function date(v) {
  if (!v) return '';
  const p = parts(new Date(v), { day: '2-digit', month: '2-digit', year: 'numeric' });
  return `${p.day}.${p.month}.${p.year}`;
}

/** time is HH:MM, 24-hour, in Almaty. */
export function time(v) {
  if (!v) return '';
  const p = parts(new Date(v), { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return `${p.hour}:${p.minute}`;
}

/** dateTime is "dd.mm.yyyy HH:MM". */
export function dateTime(v) { return v ? date(v) + ' ' + time(v) : ''; }

/** money formats tiyn as "15 137,50 ₸" (non-breaking spaces). */
export function money(tiyn) {
  const n = Math.round(Number(tiyn) || 0);
  const neg = n < 0 ? '-' : '';
  const abs = Math.abs(n);
  const whole = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0');
  return `${neg}${whole},${String(abs % 100).padStart(2, '0')}\u00a0₸`;
}

/** duration says a number of seconds as minutes (at least one). */
export function duration(seconds) {
  const m = Math.max(1, Math.round((Number(seconds) || 0) / 60));
  return t('fmt.minutes', { n: m });
}
