// The notary's console: operator mode with the queue and the offers (a
// beep, the tab title and a notification when a call comes), the register
// of actions with search and paging, and in an act the checklist, the
// registry card, the draft in Russian and Kazakh with its exact preview,
// the revisions with the client's requested changes, the invoice and Sign.

import { t, time, date, dateTime, money } from './i18n.js';
import { $, el, tx, button, run, say, explain } from './ui.js';
import { S, query, command, signStep, lastRevision, paid, FINAL } from './state.js';
import { openAct, phaseText, documentView, invoiceView, renderAct } from './act.js';

const CHECKS = ['document_shown', 'registry_lookup', 'legal_capacity', 'rights_explained'];
// REG is the register's query; kind is the list: every act of the notary
// (register) or the electronic register of completed acts (completed).
const REG = { kind: 'register', q: '', status: '', from: '', to: '', page: 1, per_page: 20 };

/** home draws operator mode and the register. */
export function home() {
  $('notaryHome').hidden = false;
  if (!$('notaryHome').dataset.built) {
    $('notaryHome').dataset.built = '1';
    $('availableBtn').addEventListener('click', () => run(async () => {
      if (window.Notification && Notification.permission === 'default') Notification.requestPermission().catch(() => {});
      await S.session.operator('available');
      S.operator = 'available';
      renderOperator();
    }, $('opErr')));
    $('awayBtn').addEventListener('click', () => run(async () => {
      await S.session.operator('away');
      S.operator = 'away';
      renderOperator();
    }, $('opErr')));
    $('regForm').addEventListener('submit', (e) => {
      e.preventDefault();
      run(() => {
        // Dates are typed as people here write them (dd.mm.yyyy), whatever
        // the browser's own locale; the query takes yyyy-mm-dd.
        Object.assign(REG, { kind: $('regKind').value, q: $('regQ').value.trim(), status: $('regStatus').value, from: isoDay($('regFrom')), to: isoDay($('regTo')), page: 1 });
        return refreshRegister();
      }, $('regErr'));
    });
    // The queue changes without this notary (calls offered to others,
    // taken, given up) and the longest wait grows: ask the desk again.
    setInterval(() => { if (S.session && S.me && S.me.role === 'notary') refreshQueue(); }, 15000);
  }
  renderOperator();
  renderOffers();
  refreshQueue();
  renderInProgress();
  return Promise.all([refreshRegister(), S.inProgress ? refreshInProgress() : null]);
}

/**
 * onOperatorState restores the console as the notary left it, right after
 * a sign-in (a reload, a new tab, a dropped network): the operator mode
 * (the server kept it for desk.operator_grace) and the acts in progress.
 * The offers they hold come next as offer messages. It comes again when
 * another tab of the notary changes the mode.
 */
export function onOperatorState(env) {
  const b = env.body || {};
  const first = S.inProgress === null; // later ones follow a change of mode in another tab
  S.operator = b.available ? 'available' : 'away';
  S.inProgress = b.in_progress || [];
  renderOperator();
  renderInProgress();
  if (first && b.available) say(t('notary.restored.on'));
}

/** refreshInProgress asks the register for the acts in progress again. */
async function refreshInProgress() {
  const r = await query('register', undefined, { status: 'with_notary', per_page: 100 });
  S.inProgress = r.acts || [];
  renderInProgress();
}

// renderInProgress lists the acts accepted and not finished, each with a
// button that opens it.
function renderInProgress() {
  const acts = S.inProgress || [];
  $('inProgress').replaceChildren(...(acts.length ? acts.map((a) => el('li', { class: 'in-progress', 'data-act': a.act },
    el('span', { text: t('notary.inprogress.item', { principal: a.principal || a.principal_iin || '', code: a.registry_number || a.act.slice(0, 8) + '…', date: a.date || date(a.created_at) }) }), ' ',
    button('notary.inprogress.open', () => openAct(a.act), { kind: 'secondary', vars: { principal: a.principal || a.principal_iin || '' } })))
    : [tx('li', 'notary.inprogress.none', null, { class: 'muted' })]));
}

function renderOperator() {
  const on = S.operator === 'available';
  $('availableBtn').disabled = on;
  $('awayBtn').disabled = !on;
  $('opState').textContent = t(on ? 'notary.available.on' : 'notary.available.off');
}

/** onOffer is a call the desk offers this notary. */
export function onOffer(env) {
  const fresh = !S.offers.has(env.act);
  S.offers.set(env.act, env.body || {});
  renderOffers();
  refreshQueue();
  if (fresh) alertCall(env.body || {});
}

/** onOfferGone withdraws an offer (taken by someone, cancelled). */
export function onOfferGone(env) {
  S.offers.delete(env.act);
  renderOffers();
  refreshQueue();
}

// refreshQueue asks the desk how many wait and since when (desk_queue):
// the count includes calls offered to other notaries.
function refreshQueue() {
  if (!S.session) return;
  query('desk_queue').then((q) => { S.queue = q; renderOffers(); }).catch(() => { /* the offers' own count remains */ });
}

function alertCall(o) {
  beep();
  if (document.hidden && window.Notification && Notification.permission === 'granted') {
    try { new Notification(t('notary.offer.notify'), { body: o.principal || '' }); } catch { /* not shown: the title and the beep remain */ }
  }
  say(t('notary.offer.notify'), true);
}

// beep is a short two-tone alert from WebAudio: no file to serve.
function beep() {
  try {
    const ctx = S.audio || (S.audio = new AudioContext());
    [0, 0.25].forEach((at, i) => {
      const o = ctx.createOscillator();
      const g = ctx.createGain();
      o.frequency.value = i ? 880 : 660;
      g.gain.setValueAtTime(0.15, ctx.currentTime + at);
      g.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + at + 0.2);
      o.connect(g).connect(ctx.destination);
      o.start(ctx.currentTime + at);
      o.stop(ctx.currentTime + at + 0.22);
    });
  } catch { /* no audio: the other alerts remain */ }
}

/** renderOffers lists the offers with the queue's size and its longest wait. */
export function renderOffers() {
  const offers = [...S.offers.entries()];
  document.title = offers.length ? t('notary.title.offers', { n: offers.length }) : t('app.title');
  let oldest = offers.reduce((m, [, o]) => (o.waiting_since && (!m || o.waiting_since < m) ? o.waiting_since : m), '');
  let waiting = offers.reduce((m, [, o]) => Math.max(m, o.queue_position || 0, o.waiting || 0), offers.length);
  if (S.queue) {
    waiting = Math.max(waiting, S.queue.waiting || 0);
    if (S.queue.oldest_since && (!oldest || S.queue.oldest_since < oldest)) oldest = S.queue.oldest_since;
  }
  $('queueInfo').textContent = waiting && oldest
    ? t('notary.queue', { n: waiting, since: time(oldest), minutes: Math.max(0, Math.round((Date.now() - new Date(oldest)) / 60000)) })
    : t('notary.queue.empty');
  $('offers').replaceChildren(...offers.map(([act, o]) => el('li', { class: 'offer' },
    el('span', { text: t('notary.offer', { principal: o.principal || o.principal_iin || '', since: time(o.waiting_since) }) }), ' ',
    button('notary.accept', async () => { await command(act, 'accept_call'); S.offers.delete(act); renderOffers(); await openAct(act); }, { vars: { principal: o.principal || '' } }),
    button('notary.decline', async () => { await S.session.operator('decline', act); S.offers.delete(act); renderOffers(); }, { kind: 'secondary' }))));
}

/** refreshRegister loads a page of the register (search where the server supports it). */
export async function refreshRegister() {
  const body = { q: REG.q, status: REG.status, from: REG.from, to: REG.to, page: REG.page, per_page: REG.per_page };
  const r = await query(REG.kind, undefined, body);
  let acts = r.acts || [];
  const hasTotal = typeof r.total === 'number';
  if (!hasTotal) acts = filterLocally(acts); // an older server: filter and page here
  const total = hasTotal ? r.total : acts.length;
  if (!hasTotal) acts = acts.slice((REG.page - 1) * REG.per_page, REG.page * REG.per_page);
  const rows = acts.map((a) => el('tr', {},
    el('td', {}, el('a', { href: '#act/' + a.act, onclick: (e) => { e.preventDefault(); run(() => openAct(a.act)); }, text: a.document_code || a.act.slice(0, 8) + '…' })),
    el('td', { text: a.registry_number || '' }),
    el('td', { text: a.principal || a.principal_iin }),
    el('td', { text: phaseText(a.phase) }),
    el('td', { text: a.phone || '' }),
    el('td', { class: 'num', text: a.amount ? money(a.amount) : '' }),
    el('td', { text: dateTime(a.signed_at || a.created_at) })));
  $('register').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: 7, class: 'muted', text: t('list.empty') }))]));
  const pages = Math.max(1, Math.ceil(total / REG.per_page));
  $('regPages').replaceChildren(
    el('span', { text: t('register.page', { page: REG.page, pages, total }) }), ' ',
    button('register.prev', async () => { REG.page--; await refreshRegister(); }, { kind: 'secondary', disabled: REG.page <= 1 ? 'why.first_page' : undefined }),
    button('register.next', async () => { REG.page++; await refreshRegister(); }, { kind: 'secondary', disabled: REG.page >= pages ? 'why.last_page' : undefined }));
}

// isoDay reads a dd.mm.yyyy field as yyyy-mm-dd ("" when empty), or
// throws bad_date_input (shown beside the form).
function isoDay(input) {
  const v = input.value.trim();
  if (!v) return '';
  const m = /^(\d{1,2})[.\/-](\d{1,2})[.\/-](\d{4})$/.exec(v);
  const d = m && new Date(Date.UTC(+m[3], +m[2] - 1, +m[1]));
  if (!d || d.getUTCDate() !== +m[1] || d.getUTCMonth() !== +m[2] - 1) {
    input.focus();
    throw Object.assign(new Error('bad date'), { code: 'bad_date_input' });
  }
  return `${m[3]}-${m[2].padStart(2, '0')}-${m[1].padStart(2, '0')}`;
}

function filterLocally(acts) {
  const q = REG.q.toLowerCase();
  return acts.filter((a) => (!q || [a.principal, a.principal_iin, a.attorney_iin, a.document_code, a.act].some((v) => String(v || '').toLowerCase().includes(q)))
    && (!REG.status || a.phase === REG.status)
    && (!REG.from || String(a.created_at) >= REG.from)
    && (!REG.to || String(a.created_at).slice(0, 10) <= REG.to));
}

/** actions are the notary's work area in act s. */
export function actions(s) {
  const out = [];
  const act = s.id;
  const final = FINAL.includes(s.phase);
  if (s.call === 'waiting' && S.offers.has(act)) out.push(el('div', { class: 'row' }, button('notary.accept', () => command(act, 'accept_call'), { vars: { principal: s.principal.name || '' } })));
  const mine = s.notary && s.notary.id === S.me.login;
  if (!mine) return out;
  if (s.phase === 'signed') {
    out.push(tx('p', 'notary.signed', null, { class: 'ok' }));
    return out;
  }
  if (final) return out;
  const inCall = s.call === 'active';
  out.push(checklist(s, inCall));
  out.push(draftForm(s));
  out.push(revisions(s));
  const cur = lastRevision(s);
  const approved = cur && s.approved === cur.number;
  const inv = invoiceView(s);
  out.push(el('section', { class: 'finish', 'aria-labelledby': 'finishTitle' },
    el('h3', { id: 'finishTitle', text: t('notary.finish.title') }), inv || '',
    el('div', { class: 'row' },
      s.invoice ? '' : button('notary.invoice', () => command(act, 'issue_invoice'), { disabled: approved ? undefined : 'why.after_approval' }),
      s.document_code ? '' : button('notary.code', () => command(act, 'issue_document_code'), { disabled: paid(s) ? undefined : 'why.after_payment' }),
      button('notary.sign', async () => command(act, 'sign_act', { cms: await signStep(act, 'document') }),
        { disabled: !s.document_code ? 'why.after_code' : (Object.keys(s.checks || {}).length < 4 ? 'why.after_checks' : undefined) }))));
  out.push(el('div', { class: 'danger-zone' }, button('notary.refuse', (reason) => command(act, 'refuse_act', { reason }), { kind: 'danger', confirm: 'confirm.refuse_act', reason: true })));
  return out;
}

function checklist(s, inCall) {
  const list = el('ul', { class: 'checks' });
  for (const c of CHECKS) {
    const done = s.checks && s.checks[c];
    const mark = done ? (done.passed ? '✔ ' : '✘ ') : '○ ';
    list.append(el('li', { class: done ? (done.passed ? 'ok' : 'bad') : '' },
      el('span', { 'aria-hidden': 'true', text: mark }),
      el('span', { text: t('check.' + c) + (done ? ' — ' + t(done.passed ? 'check.passed' : 'check.failed') : '') }), ' ',
      button('check.pass', () => command(s.id, 'record_check', { check: c, passed: true }), { vars: { check: t('check.' + c) }, disabled: inCall ? undefined : 'why.in_call' }),
      button('check.fail', (note) => command(s.id, 'record_check', { check: c, passed: false, note }),
        { kind: 'secondary', vars: { check: t('check.' + c) }, confirm: 'confirm.check_failed', reason: true, disabled: inCall ? undefined : 'why.in_call' })));
  }
  const card = el('div', { id: 'registryCard' });
  if (S.registryCard && S.registryCard.act === s.id) card.append(registryCard(S.registryCard.person));
  return el('section', { class: 'checklist', 'aria-labelledby': 'checksTitle' },
    el('h3', { id: 'checksTitle', text: t('notary.checks.title') }), list,
    button('notary.lookup', async () => {
      const p = await query('registry_lookup', s.id, { iin: s.principal.iin });
      S.registryCard = { act: s.id, person: p };
      card.replaceChildren(registryCard(p));
    }, { kind: 'secondary', disabled: inCall ? undefined : 'why.in_call' }), card);
}

function registryCard(p) {
  const doc = p.document || p.identity_document || {};
  const rows = [
    ['registry.name', p.name || [p.surname, p.first_name, p.patronymic].filter(Boolean).join(' ')],
    ['registry.iin', p.iin],
    ['registry.birth', date(p.birth_date)],
    ['registry.document', [doc.type, doc.number].filter(Boolean).join(' ')],
    ['registry.issued', [doc.issued_by, date(doc.issued_at || doc.issue_date)].filter(Boolean).join(', ')],
    ['registry.valid', date(doc.valid_until || doc.expires)],
  ].filter(([, v]) => v);
  return el('dl', { class: 'card-registry', 'aria-label': t('registry.title') },
    rows.map(([k, v]) => [el('dt', { text: t(k) }), el('dd', { text: v })]));
}

// draftForm keeps what the notary types across re-renders: an event must
// not wipe a half-written text.
function draftForm(s) {
  const cur = lastRevision(s);
  if (!S.drafting || S.drafting.act !== s.id) {
    const d = (cur && cur.draft) || {};
    S.drafting = { act: s.id, registry_number: d.registry_number || '', powers: d.powers || '', powers_kk: d.powers_kk || '', term_months: d.term_months || 12 };
  }
  const f = S.drafting;
  const live = el('div', { class: 'preview live-preview', id: 'livePreview', 'aria-live': 'polite' });
  const liveErr = el('span', { class: 'err', role: 'alert' });
  const field = (id, key, input) => {
    input.id = id;
    input.value = f[key];
    input.addEventListener('input', () => { f[key] = input.value; livePreview(s, live, liveErr); });
    return el('div', { class: 'field' }, el('label', { for: id, text: t('draft.' + key) }), input);
  };
  const form = el('form', { class: 'draft-form', 'aria-labelledby': 'draftFormTitle' },
    el('h3', { id: 'draftFormTitle', text: t('notary.draft.title') }),
    field('dReg', 'registry_number', el('input', { autocomplete: 'off', placeholder: '1-2026-0001' })),
    field('dTerm', 'term_months', el('input', { type: 'number', min: 1, max: 36 })),
    field('dPowers', 'powers', el('textarea', { rows: 4, lang: 'ru' })),
    field('dPowersKk', 'powers_kk', el('textarea', { rows: 4, lang: 'kk' })));
  const err = el('span', { class: 'err', role: 'alert' });
  form.append(el('button', { type: 'submit', 'data-k': 'notary.present', text: t('notary.present') }), err,
    el('h4', { text: t('notary.live_preview') }), liveErr, live);
  if (S.liveDoc && S.liveDoc.act === s.id) live.append(documentView(S.liveDoc.data, s));
  if (f.powers.trim()) livePreview(s, live, liveErr);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run(() => command(s.id, 'present_draft', { registry_number: f.registry_number.trim(), powers: f.powers.trim(), powers_kk: f.powers_kk.trim(), term_months: Number(f.term_months) }), err);
  });
  return form;
}

// livePreview asks the server for the bytes the client would sign if the
// draft were presented now (to_sign draft_preview) and shows them as the
// document, a moment after the notary stops typing. A draft the server
// would refuse says why beside the preview.
let liveTimer = 0;
function livePreview(s, holder, errEl) {
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => {
    const f = S.drafting;
    if (!f || f.act !== s.id || !f.powers.trim()) return;
    const draft = { registry_number: f.registry_number.trim(), powers: f.powers.trim(), powers_kk: f.powers_kk.trim(), term_months: Number(f.term_months) };
    // Not run(): a half-typed draft is no alert, only a note beside it.
    query('to_sign', s.id, { what: 'draft_preview', draft }).then((r) => {
      errEl.replaceChildren();
      S.liveDoc = { act: s.id, data: r.data };
      holder.replaceChildren(documentView(r.data, s));
    }, (e) => { errEl.replaceChildren(explain(e)); });
  }, 400);
}

// saveDraftPDF saves revision n's PDF, marked as a draft, as the client sees it.
async function saveDraftPDF(id, n) {
  const d = await query('document', id, { draft: n });
  const link = el('a', { href: 'data:application/pdf;base64,' + d.pdf, download: 'draft-' + id.slice(0, 8) + '-' + n + '.pdf' });
  document.body.append(link);
  link.click();
  link.remove();
}

function revisions(s) {
  const revs = s.revisions || [];
  const box = el('section', { class: 'revisions', 'aria-labelledby': 'revTitle' }, el('h3', { id: 'revTitle', text: t('notary.revisions.title') }));
  if (!revs.length) { box.append(tx('p', 'notary.revisions.none', null, { class: 'muted' })); return box; }
  for (const r of [...revs].reverse()) {
    const state = s.approved === r.number ? t('rev.approved') : (r.comments && r.comments.length ? t('rev.changes') : t('rev.presented'));
    const item = el('div', { class: 'revision' }, el('h4', { text: t('doc.revision', { n: r.number }) + ' · ' + state + ' · ' + dateTime(r.at) }));
    for (const c of r.comments || []) item.append(el('blockquote', { class: 'changes-requested' }, tx('strong', 'rev.client_asks'), ' ', c));
    box.append(item);
  }
  const cur = revs[revs.length - 1];
  const holder = el('div', { class: 'preview' });
  box.append(el('h4', { text: t('notary.preview') }), holder,
    el('div', { class: 'row' }, button('notary.draft.pdf', () => saveDraftPDF(s.id, cur.number), { kind: 'secondary' })));
  const key = s.id + ':' + cur.number;
  if (S.preview && S.preview.key === key) holder.append(documentView(S.preview.data, s));
  else query('to_sign', s.id, { what: 'draft', revision: cur.number }).then((r) => { S.preview = { key, data: r.data }; renderAct(); }).catch(() => {});
  return box;
}

