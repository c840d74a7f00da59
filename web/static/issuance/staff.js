// The staff's page of remote EDS issuance (PROTOCOL.md "Remote EDS
// issuance"): the registration operator (the queue in operator mode, the
// offer, the video call with the applicant, the outcome: the phone, success
// or failure with a reason), the moderator (the queue, the case with the
// registry's data and what was uploaded, approve or reject with a reason),
// and the approver of a legal entity (HR, then the first head: signs in
// with an EDS through NCALayer, sees the requests waiting, approves by EDS
// over the approval bytes). Staff sign in with their password (notaries'
// accounts with roles); approvers with their AUTH key.

import * as i18n from '../js/i18n.js';
import { t } from '../js/i18n.js';
import { $, el, tx, button, run, say } from '../js/ui.js';
import { Session } from '../js/proto.js';
import { ncalayer } from '../js/signer.js';
import * as call from '../js/call.js';
import { showDate } from './rules.js';

/** T is the page's state; window.senimStaff exposes it to tests. */
const T = { session: null, role: null, me: null, mode: 'away', offers: new Map(), cases: [], app: null, st: null, call: null, done: new Set(), files: {}, blobs: {}, filesFor: null };
window.senimStaff = T;

const QUEUE = { registrar: 'registration_queue', moderator: 'moderation_queue' };
const TAKE = { registrar: 'take_registration', moderator: 'take_moderation' };
const KIND = { issuance_registration: 'registrar', issuance_moderation: 'moderator' };

function ask(name, act, body) {
  return T.session.request({ type: 'issuance', name, act: act || undefined, body: body || {} });
}

function newSession() {
  return new Session({
    onEvent: (env) => { if (env.act === T.app) refreshCase().catch(() => {}); },
    onOffer: (env) => {
      if (KIND[(env.body || {}).action_type] !== T.role) return;
      T.offers.set(env.act, env.body || {});
      say(t('iss.staff.offer.new'), true);
      render();
    },
    onOfferGone: (env) => { T.offers.delete(env.act); render(); },
    onMedia: (env) => call.onMedia(T.session, T.call, env, hangUp),
    onError: (e) => say(i18n.errorText(e.code), true),
    onClose: (code) => {
      T.session = null;
      $('closed').hidden = false;
      $('closedText').textContent = code && i18n.has('err.' + code) ? i18n.errorText(code) : t('session.closed');
    },
  });
}

async function signIn() {
  const role = $('role').value;
  T.session = newSession();
  const ch = await T.session.connect();
  const body = role === 'approver'
    ? { method: 'eds', role: 'client', cms: await ncalayer.sign(ch.to_sign, 'auth', i18n.current()) }
    : { method: 'password', login: $('login').value.trim(), password: $('password').value };
  const w = await T.session.request({ type: 'signin', body });
  T.me = w.body;
  T.role = role;
  $('signin').hidden = true;
  $('home').hidden = false;
  await reload();
  $('homeTitle').focus();
}

/** reload reads the role's list: the queue, or the approvals waiting. */
async function reload() {
  const ans = await ask(T.role === 'approver' ? 'approvals' : QUEUE[T.role]);
  T.cases = ans.body.cases || [];
  // A case this staff member took (before a reload, or a server restart)
  // and has not decided opens again: the registrar rejoins its call.
  const held = ans.body.held || [];
  if (!T.app && held.length) {
    T.app = held[0].application;
    await refreshCase();
    return;
  }
  render();
}

async function refreshCase() {
  if (!T.app) return;
  T.st = (await ask('status', T.app)).body;
  render();
  if (T.role === 'moderator' && T.st.phase === 'moderation' && T.filesFor !== T.app) await loadFiles(T.app, T.st.uploads || []);
}

function dataURL(blob) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(blob);
  });
}

// loadFiles fetches the case's files once each: the file query gives a
// single-use address, so the page keeps what it read (photos as data: URLs,
// which the CSP allows for images; the video as a blob: URL for <video>).
async function loadFiles(app, purposes) {
  T.filesFor = app;
  T.files = {};
  T.blobs = {};
  for (const purpose of purposes) {
    const f = (await ask('file', app, { purpose })).body;
    const r = await fetch(f.url);
    if (!r.ok) continue;
    const blob = await r.blob();
    T.blobs[purpose] = blob;
    T.files[purpose] = purpose === 'liveness' ? URL.createObjectURL(blob) : await dataURL(blob);
  }
  render();
}

// ---- rendering ----

function renderWho() {
  $('who').textContent = T.me ? [T.me.name || T.me.login, t('iss.staff.role.' + T.role), T.me.iin ? t('act.iin') + ' ' + T.me.iin : ''].filter(Boolean).join(' · ') : '';
}

function render() {
  renderWho();
  document.title = t('iss.staff.title');
  if (!T.me) return;
  const parts = T.role === 'approver' ? approverView() : [operatorCard(), T.app ? caseCard() : null, queueCard()];
  $('work').replaceChildren(...parts.filter(Boolean));
  renderCall();
}

function when(v) { return v ? i18n.dateTime(v) : ''; }

function operatorCard() {
  return el('section', { class: 'card' }, tx('h2', 'iss.staff.operator'),
    el('div', { class: 'row' },
      button('notary.available', async () => { await ask('available'); T.mode = 'available'; render(); }, { kind: T.mode === 'available' ? 'secondary' : undefined }),
      button('notary.away', async () => { await ask('away'); T.mode = 'away'; T.offers.clear(); render(); }, { kind: 'secondary' }),
      el('span', { class: 'muted', id: 'opState' }, t('iss.staff.mode.' + T.mode))),
    el('ul', { class: 'list offers', id: 'offers' }, ...[...T.offers.entries()].map(([app, o]) => el('li', { class: 'offer', 'data-app': app },
      el('p', {}, t('iss.staff.offer', { iin: o.principal_iin || '', since: when(o.waiting_since) })),
      el('div', { class: 'row' },
        button('iss.staff.take', async () => {
          await ask(TAKE[T.role], app);
          T.offers.delete(app);
          T.app = app;
          await refreshCase();
          await reload();
        }),
        button('iss.staff.decline', async () => { await ask('decline', app); T.offers.delete(app); render(); }, { kind: 'secondary' }))))));
}

function queueCard() {
  return el('section', { class: 'card' }, tx('h2', 'iss.staff.queue'),
    T.cases.length ? el('ul', { class: 'list', id: 'queue' }, ...T.cases.map((c) => el('li', {},
      t('iss.staff.case', { iin: c.iin, since: when(c.waiting_since) }) + (c.reason ? ' · ' + t('iss.staff.reason.' + c.reason) : ''))))
      : tx('p', 'iss.staff.queue.empty', null, { class: 'muted' }),
    button('iss.staff.refresh', reload, { kind: 'secondary' }));
}

const FIELDS = ['iin', 'surname', 'name', 'patronymic', 'birth_date', 'number', 'valid_until'];

function fieldsList(f, id) {
  return el('dl', { class: 'card-registry', id }, ...FIELDS.filter((k) => f && f[k]).flatMap((k) => [el('dt', {}, t('iss.field.' + k)), el('dd', {}, showDate(f[k]))]));
}

// registryFields are the registry's record in the document's terms.
function registryFields(p) {
  if (!p) return null;
  const d = p.document || {};
  return { iin: p.iin, surname: p.surname, name: p.name, patronymic: p.patronymic, birth_date: p.birth_date, number: d.number, valid_until: d.valid_until };
}

function media(purpose) {
  const src = T.files[purpose];
  const cap = el('figcaption', {}, t('iss.upload.' + purpose));
  if (!src) return el('figure', { class: 'shot' }, tx('p', 'iss.staff.loading', null, { class: 'muted' }), cap);
  return el('figure', { class: 'shot', 'data-file': purpose }, purpose === 'liveness'
    ? el('video', { src, controls: true, muted: true, playsinline: true, 'aria-label': t('iss.upload.liveness') })
    : el('img', { src, alt: t('iss.upload.' + purpose) }), cap);
}

function caseCard() {
  const s = T.st;
  if (!s) return null;
  const out = [tx('h2', 'iss.staff.case.title'),
    el('p', {}, t('iss.who', { iin: s.iin }) + ' · ' + t('phase.' + s.phase))];
  const done = !['registration_call', 'moderation'].includes(s.phase);
  if (done) {
    out.push(tx('p', 'iss.staff.case.done', null, { class: 'ok' }),
      button('iss.staff.case.close', async () => { T.app = null; T.st = null; await reload(); }, { kind: 'secondary' }));
    return el('section', { class: 'card', id: 'case' }, ...out);
  }
  if (T.role === 'registrar') {
    out.push(tx('p', 'iss.staff.registrar.help', null, { class: 'muted' }));
    const err = el('span', { class: 'err', id: 'outcomeErr', role: 'alert' });
    const radio = (v) => el('div', { class: 'field check' },
      el('input', { type: 'radio', name: 'outcome', id: 'outcome-' + v, value: v, checked: v === 'success' }),
      el('label', { for: 'outcome-' + v, 'data-k': 'iss.staff.outcome.' + v, text: t('iss.staff.outcome.' + v) }));
    const form = el('form', { id: 'outcomeForm', novalidate: true },
      el('div', { class: 'field' }, el('label', { for: 'regPhone', 'data-k': 'iss.staff.phone', text: t('iss.staff.phone') }),
        el('input', { id: 'regPhone', type: 'tel', inputmode: 'tel', placeholder: '+7 701 234 56 78' })),
      el('fieldset', {}, el('legend', { 'data-k': 'iss.staff.outcome', text: t('iss.staff.outcome') }), radio('success'), radio('failure')),
      el('div', { class: 'field' }, el('label', { for: 'regReason', 'data-k': 'iss.staff.reason', text: t('iss.staff.reason') }),
        el('textarea', { id: 'regReason', rows: 2 })),
      el('button', { type: 'submit', 'data-k': 'iss.staff.record', text: t('iss.staff.record') }), err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      run(async () => {
        const success = $('outcome-success').checked;
        const body = success ? { success: true, phone: $('regPhone').value.replace(/[\s()-]/g, '') } : { success: false, reason: $('regReason').value.trim() };
        if (!success && !body.reason) throw Object.assign(new Error('reason'), { code: 'reason_required' });
        await ask('record_registration', T.app, body);
        await refreshCase();
      }, err);
    });
    out.push(form, el('div', { class: 'danger-zone' },
      button('iss.staff.reject', async (reason) => { await ask('reject', T.app, { reason }); await refreshCase(); }, { kind: 'danger', confirm: 'iss.staff.reject.confirm', reason: true })));
  } else {
    const c = T.cases.find((x) => x.application === T.app);
    if (c && c.reason) out.push(el('p', { class: 'bad' }, t('iss.staff.reason.' + c.reason)));
    out.push(el('div', { class: 'side' },
      el('div', { class: 'shots' }, ...(s.uploads || []).map(media)),
      el('div', {}, tx('h3', 'iss.staff.recognised'), fieldsList(s.recognised, 'recognised'),
        tx('h3', 'iss.staff.registry'), s.registry ? fieldsList(registryFields(s.registry), 'registry') : tx('p', 'registry.not_found', null, { class: 'muted' }))));
    const err = el('span', { class: 'err', id: 'modErr', role: 'alert' });
    const form = el('form', { id: 'modForm', novalidate: true },
      el('div', { class: 'field' }, el('label', { for: 'modReason', 'data-k': 'iss.staff.reason', text: t('iss.staff.reason') }),
        el('textarea', { id: 'modReason', rows: 2 })),
      el('div', { class: 'row' },
        el('button', { type: 'submit', value: 'approve', 'data-k': 'iss.staff.approve', text: t('iss.staff.approve') }),
        el('button', { type: 'submit', value: 'reject', class: 'danger', 'data-k': 'iss.staff.reject', text: t('iss.staff.reject') })), err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const approve = !e.submitter || e.submitter.value === 'approve';
      run(async () => {
        const reason = $('modReason').value.trim();
        if (!reason) throw Object.assign(new Error('reason'), { code: 'reason_required' });
        await ask('moderate', T.app, { approve, reason });
        await refreshCase();
      }, err);
    });
    out.push(form);
  }
  return el('section', { class: 'card', id: 'case' }, ...out);
}

function renderCall() {
  const inCall = T.role === 'registrar' && T.st && T.st.phase === 'registration_call' && !!T.app;
  if (!inCall && T.call) hangUp();
  $('call').hidden = !inCall;
  if (!inCall) return;
  $('localLabel').textContent = t('call.you');
  $('remoteLabel').textContent = t('iss.staff.applicant') + ' · ' + call.stateText(T.call);
  $('callControls').replaceChildren(T.call
    ? button('call.leave', async () => { T.session.signal(T.app, { kind: 'leave' }); hangUp(); }, { kind: 'secondary' })
    : button('call.join', async () => { T.call = await call.join(T.session, T.app, false, () => renderCall()); renderCall(); }, { busy: 'progress.camera' }));
}

function hangUp() {
  const c = T.call;
  T.call = null;
  call.hangUp(c);
  renderCall();
}

// ---- the approver ----

function approverView() {
  return [el('section', { class: 'card' }, tx('h2', 'iss.staff.approvals'),
    T.cases.length ? el('ul', { class: 'list', id: 'approvals' }, ...T.cases.map((c) => el('li', { 'data-app': c.application },
      el('p', {}, t('iss.staff.approval', { iin: c.iin, template: c.template ? t('iss.template.' + c.template) : '', since: when(c.waiting_since) })),
      // A case stays in HR's list until the first head approves: it says
      // that this approver signed already.
      T.done.has(c.application) ? tx('p', 'iss.staff.approved', null, { class: 'ok' }) : button('iss.staff.approve_eds', async () => {
        const data = (await ask('approval_data', c.application)).body.data;
        const cms = await ncalayer.sign(data, 'sign', i18n.current());
        await ask('approve', c.application, { cms });
        T.done.add(c.application);
        say(t('iss.staff.approved'));
        await reload();
      }, { busy: 'iss.staff.signing' }))))
      : tx('p', 'iss.staff.approvals.empty', null, { class: 'muted' }),
    button('iss.staff.refresh', reload, { kind: 'secondary' }))];
}

// ---- the page ----

function roleChanged() {
  const eds = $('role').value === 'approver';
  $('pw').hidden = eds;
  $('edsnote').hidden = !eds;
}

async function main() {
  await i18n.init();
  for (const l of i18n.LANGS) $('lang-' + l).addEventListener('click', () => i18n.setLanguage(l));
  i18n.onLanguage((l) => {
    for (const x of i18n.LANGS) $('lang-' + x).setAttribute('aria-pressed', String(x === l));
    render();
  });
  for (const x of i18n.LANGS) $('lang-' + x).setAttribute('aria-pressed', String(x === i18n.current()));
  $('role').addEventListener('change', roleChanged);
  roleChanged();
  $('signinForm').addEventListener('submit', (e) => { e.preventDefault(); run(signIn, $('signinErr'), 'progress.signin'); });
  $('reloadBtn').addEventListener('click', () => location.reload());
  document.title = t('iss.staff.title');
  $('signin').hidden = false;
  document.body.classList.add('ready');
}

main().catch((e) => { console.error(e); say(e && e.code ? i18n.errorText(e.code) : t('err.unknown'), true); });
