// Senim's browser app: the notary, the client (principal) and the
// attorney, in Russian, Kazakh and English. It follows
// transport/protocol/PROTOCOL.md: one websocket, JSON envelopes, signatures
// through a signer (NCALayer), the call's signaling as media messages.

import * as i18n from './i18n.js';
import { t } from './i18n.js';
import { $, run, say } from './ui.js';
import { Session } from './proto.js';
import { S, signBytes } from './state.js';
import { SIGNERS, signer, choose } from './signer.js';
import * as act from './act.js';
import * as client from './client.js';
import * as notary from './notary.js';
import * as attorney from './attorney.js';

const HOMES = { client, notary, attorney };
const RESUME = 'senim.resume';

function newSession() {
  return new Session({
    onEvent: act.onEvent,
    onOffer: notary.onOffer,
    onOfferGone: notary.onOfferGone,
    onOperatorState: notary.onOperatorState,
    onMedia: act.onMedia,
    onError: (e) => say(i18n.errorText(e.code), true),
    onClose: (code) => {
      S.session = null;
      $('closed').hidden = false;
      $('closedText').textContent = code && i18n.has('err.' + code) ? i18n.errorText(code) : t('session.closed');
    },
  });
}

async function signIn() {
  const role = $('role').value;
  S.session = newSession();
  const ch = await S.session.connect();
  const body = role === 'notary'
    ? { method: 'password', login: $('login').value.trim(), password: $('password').value }
    : { method: 'eds', role, cms: await signBytes(ch.to_sign, 'auth', { what: 'signin' }) };
  const w = await S.session.request({ type: 'signin', body });
  await welcome(w.body);
}

// resume signs in again after a reload with the token of the last welcome
// (kept in sessionStorage only: it dies with the tab).
async function resume() {
  let token = null;
  try { token = sessionStorage.getItem(RESUME); } catch { /* no storage: sign in anew */ }
  if (!token) return false;
  try {
    S.session = newSession();
    await S.session.connect();
    const w = await S.session.request({ type: 'signin', body: { method: 'resume', token } });
    await welcome(w.body);
    return true;
  } catch {
    try { sessionStorage.removeItem(RESUME); } catch { /* nothing kept */ }
    if (S.session) S.session.close();
    S.session = null;
    return false;
  }
}

async function welcome(me) {
  if (me.role === 'staff') {
    // A registrar's or moderator's account is not a notary's: its desk is
    // the staff page (/issuance/staff.html).
    try { sessionStorage.removeItem(RESUME); } catch { /* nothing kept */ }
    S.session.close();
    S.session = null;
    throw Object.assign(new Error('staff account'), { code: 'staff_account' });
  }
  S.me = me;
  if (me.resume_token) {
    try { sessionStorage.setItem(RESUME, me.resume_token); } catch { /* reload will ask for a signature */ }
  }
  $('signin').hidden = true;
  $('home').hidden = false;
  $('signoutBtn').hidden = false;
  showSigner();
  renderWho();
  // The focus moves to the home page at once, not after its lists arrive:
  // on a slow connection a person is already typing in the form by then,
  // and a late move would take the rest of their keystrokes away.
  $('homeTitle').focus();
  await HOMES[me.role].home();
  const m = /^#act\/([0-9a-f]{32})$/.exec(location.hash);
  if (m) await act.openAct(m[1]);
}

function renderWho() {
  if (!S.me) { $('who').textContent = ''; return; }
  $('who').textContent = [S.me.name || S.me.login, t('role.' + (S.me.role === 'client' ? 'principal' : S.me.role)), S.me.iin ? t('act.iin') + ' ' + S.me.iin : ''].filter(Boolean).join(' · ');
}

function signOut() {
  try { sessionStorage.removeItem(RESUME); } catch { /* nothing kept */ }
  if (S.session) S.session.close();
  location.hash = '';
  location.reload();
}

function rerender() {
  renderWho();
  if (!S.me) return;
  if (S.state && !$('actView').hidden) act.renderAct();
  HOMES[S.me.role].home().catch(() => {});
  if (S.me.role === 'notary') notary.renderOffers();
}

function roleChanged() {
  const notaryRole = $('role').value === 'notary';
  $('pw').hidden = !notaryRole;
  $('edsnote').hidden = notaryRole;
  showSigner();
}

// The choice of signer shows to those who sign with an EDS: the client and
// the attorney, from the sign-in on.
function showSigner() {
  const role = S.me ? S.me.role : $('role').value;
  $('signerBox').hidden = role === 'notary';
  $('signerSel').value = signer().id;
}

async function main() {
  await i18n.init();
  S.rerender = rerender;
  for (const l of i18n.LANGS) {
    $('lang-' + l).addEventListener('click', () => i18n.setLanguage(l));
  }
  i18n.onLanguage((l) => {
    for (const x of i18n.LANGS) $('lang-' + x).setAttribute('aria-pressed', String(x === l));
    rerender();
  });
  for (const x of i18n.LANGS) $('lang-' + x).setAttribute('aria-pressed', String(x === i18n.current()));
  $('signerSel').replaceChildren(...SIGNERS.map((x) => {
    const o = document.createElement('option');
    o.value = x.id;
    o.dataset.i18n = x.label;
    o.textContent = i18n.t(x.label);
    return o;
  }));
  $('signerSel').addEventListener('change', () => choose($('signerSel').value));
  $('role').addEventListener('change', roleChanged);
  roleChanged();
  $('signinForm').addEventListener('submit', (e) => { e.preventDefault(); run(signIn, $('signinErr'), 'progress.signin'); });
  $('signoutBtn').addEventListener('click', signOut);
  $('backBtn').addEventListener('click', act.closeAct);
  $('openForm').addEventListener('submit', (e) => { e.preventDefault(); run(() => act.openAct($('openId').value.trim()), $('openErr')); });
  $('reloadBtn').addEventListener('click', () => location.reload());
  // The service worker keeps the app shell only (sw.js); without it the
  // app works the same, only not installable.
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/sw.js').catch(() => {});
  document.body.classList.add('ready');
  if (!(await resume())) $('signin').hidden = false;
}

main().catch((e) => { console.error(e); say(String(e.message || e), true); });
