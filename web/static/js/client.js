// The client's (principal's) cabinet: the application, "My acts", and in
// an act the step guide, the queue, the full draft before approval, the
// invoice and the bank, and the signed document.

import { t, has, current, duration, dateTime } from './i18n.js';
import { $, el, tx, button, run, say, byField } from './ui.js';
import { validIIN } from './iin.js';
import { S, query, command, signBytes, signStep, lastRevision, paid, FINAL } from './state.js';
import { openAct, phaseText, documentView, invoiceView, renderAct } from './act.js';

/** home draws the application form and the acts list. */
export function home() {
  const box = $('clientHome');
  box.hidden = false;
  if (!box.dataset.built) {
    box.dataset.built = '1';
    const err = $('applyErr');
    // A wrong phone or attorney's IIN (here, or as the server refuses it)
    // is told next to its field.
    const fields = [['attorneyIIN', /^(bad_iin|bad_attorney$)/], ['phone', /^bad_phone$/]];
    $('applyForm').addEventListener('submit', (e) => { e.preventDefault(); run(byField(apply, fields), err); });
    $('consent').addEventListener('change', updateApply);
  }
  updateApply();
  return refreshList();
}

function updateApply() {
  // No signature is asked for an application the server would refuse.
  const ok = $('consent').checked;
  $('applyBtn').disabled = !ok;
  $('applyWhy').textContent = ok ? '' : t('client.apply.why');
}

async function apply() {
  const phone = $('phone').value.trim();
  const attorney = $('attorneyIIN').value.trim();
  if (!/^\+?[0-9 ()-]{10,18}$/.test(phone)) throw Object.assign(new Error('phone'), { code: 'bad_phone' });
  const wrong = validIIN(attorney);
  if (wrong) throw Object.assign(new Error('iin'), { code: wrong === 'check' ? 'bad_iin_checksum' : 'bad_iin' });
  const body = { action_type: 'power_of_attorney', phone, attorney_iin: attorney, consent: true };
  const prep = await query('prepare_application', undefined, body);
  const cms = await signBytes(prep.data, 'sign', { what: 'application', act: prep.act, application: { act: prep.act, ...body } });
  await command(prep.act, 'submit_application', { ...body, cms });
  await openAct(prep.act);
  refreshList();
}

/** refreshList reloads "My acts". */
export async function refreshList() {
  const r = await query('my_acts');
  const acts = r.acts || [];
  $('myActs').replaceChildren(...(acts.length ? acts.map(actItem) : [tx('li', 'list.empty', null, { class: 'muted' })]));
}

/** actItem is one act in a list, a link that opens it. */
export function actItem(a) {
  // What the act is for (an attorney consents to it), by its kind.
  const kind = a.action_type && has('action.' + a.action_type) ? t('action.' + a.action_type) : '';
  const label = [a.document_code || a.act.slice(0, 8) + '…', kind, phaseText(a.phase), a.principal, dateTime(a.created_at)].filter(Boolean).join(' · ');
  return el('li', {}, el('a', { href: '#act/' + a.act, onclick: (e) => { e.preventDefault(); run(() => openAct(a.act)); } }, label));
}

const STEPS = ['application', 'consent', 'call', 'draft', 'payment', 'signed'];

function stepOf(s) {
  if (s.phase === 'signed' || s.phase === 'revoked') return 6;
  if (s.phase === 'awaiting_consent') return 1;
  if (s.phase === 'ready' || !lastRevision(s)) return 2;
  const cur = lastRevision(s);
  if (s.approved !== cur.number) return 3;
  if (!paid(s)) return 4;
  return 5;
}

function guide(s) {
  const at = stepOf(s);
  const items = STEPS.map((k, i) => el('li', { class: i < at ? 'done' : i === at ? 'now' : 'next', 'aria-current': i === at ? 'step' : undefined },
    t('step.' + k), i < at ? el('span', { class: 'sr', text: ' · ' + t('step.done') }) : ''));
  const next = at >= STEPS.length || FINAL.includes(s.phase) ? null : el('p', { class: 'next-step', text: t('step.hint.' + STEPS[Math.min(at, 5)]) });
  return el('nav', { class: 'steps', 'aria-label': t('step.title') }, el('ol', {}, items), next);
}

/** actions are what the client can do in act s. */
export function actions(s) {
  const out = [guide(s)];
  const act = s.id;
  const final = FINAL.includes(s.phase);
  const cur = lastRevision(s);
  if (!final) {
    if (s.call === 'waiting') out.push(waiting());
    else if (s.call !== 'active') {
      out.push(el('div', { class: 'row' }, button('client.call', () => command(act, 'request_call'),
        { disabled: s.phase === 'awaiting_consent' ? 'why.after_consent' : undefined })));
    }
  }
  if (cur && !final) out.push(draftReview(s, cur));
  if (s.invoice) {
    out.push(invoiceView(s));
    if (!final && !paid(s)) {
      out.push(el('div', { class: 'row' }, button('client.pay', payAtBank), tx('span', 'client.pay.after', null, { class: 'muted' })));
      // Once the bank's page is open, the wait for its confirmation shows.
      if (S.paying === act) out.push(el('div', { class: 'waiting', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), t('progress.bank')));
    }
  }
  if (s.phase === 'signed') out.push(signedBlock(s, true));
  if (!final) {
    out.push(el('div', { class: 'danger-zone' }, button('client.cancel', (reason) => command(act, 'cancel_act', { reason }),
      { kind: 'danger', confirm: 'confirm.cancel_act', reason: true })));
  }
  return out;
}

function waiting() {
  const box = el('div', { class: 'waiting', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), t('client.waiting'));
  // queue_position may not exist on an older server: the spinner alone then.
  query('queue_position', S.act).then((q) => {
    if (q && q.position) box.append(el('div', { text: t('client.queue', { position: q.position, waiting: q.waiting || q.position }) }));
    if (q && q.estimate_seconds) box.append(el('div', { text: t('client.estimate', { time: duration(q.estimate_seconds) }) }));
  }).catch(() => {});
  return box;
}

// draftReview shows the draft IN FULL (the exact bytes the approval signs),
// then Approve and a form to request changes.
function draftReview(s, cur) {
  const approved = s.approved === cur.number;
  const box = el('section', { class: 'draft', 'aria-labelledby': 'draftTitle' }, el('h3', { id: 'draftTitle', text: t('client.draft.title', { n: cur.number }) }));
  const holder = el('div', {}, el('span', { class: 'muted', text: t('progress.loading') }));
  box.append(holder);
  const key = S.act + ':' + cur.number;
  const show = (b64) => holder.replaceChildren(documentView(b64, s));
  if (S.preview && S.preview.key === key) show(S.preview.data);
  else query('to_sign', S.act, { what: 'draft', revision: cur.number }).then((r) => { S.preview = { key, data: r.data }; show(r.data); }).catch(() => {});
  // The same text laid out as the document, marked as a draft.
  box.append(el('div', { class: 'row' }, button('client.draft.pdf', () => downloadDraftPDF(cur.number), { kind: 'secondary' })));
  if (approved) { box.append(tx('p', 'client.draft.approved', null, { class: 'ok' })); return box; }
  box.append(el('div', { class: 'row' }, button('client.approve', async () => {
    // Sign exactly the bytes on screen.
    const link = { what: 'draft', act: S.act, revision: cur.number };
    const data = S.preview && S.preview.key === key ? S.preview.data : (await query('to_sign', S.act, { what: 'draft', revision: cur.number })).data;
    await command(S.act, 'approve_draft', { revision: cur.number, cms: await signBytes(data, 'sign', link) });
  }, { vars: { n: cur.number } })));
  // What the client types survives a re-render (an event arriving meanwhile).
  const ta = el('textarea', { id: 'changes', rows: 3, required: true });
  ta.value = S.changesText || '';
  ta.addEventListener('input', () => { S.changesText = ta.value; });
  const err = el('span', { class: 'err', role: 'alert' });
  const form = el('form', { class: 'changes' },
    el('label', { for: 'changes', text: t('client.changes.label') }), ta,
    el('button', { type: 'submit', class: 'secondary', 'data-k': 'client.changes.send', text: t('client.changes.send') }), err);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run(async () => {
      if (!ta.value.trim()) throw Object.assign(new Error('empty'), { code: 'comments_required' });
      await command(S.act, 'request_changes', { revision: cur.number, comments: ta.value.trim() });
      S.changesText = '';
    }, err);
  });
  box.append(form);
  return box;
}

// The pay link lets whoever holds it pay, so Senim gives it to the
// principal only, on request. The tab opens before the query, as a pop-up
// blocker allows only what a click opens at once.
async function payAtBank() {
  const tab = window.open('', '_blank');
  try {
    const link = await query('payment_link', S.act);
    if (!tab) { location.assign(link.url); return; }
    tab.opener = null;
    tab.location = link.url;
    S.paying = S.act;
    say(t('progress.bank'));
    renderAct();
  } catch (e) {
    if (tab) tab.close();
    throw e;
  }
}

/** signedBlock: the PDF, the public check and its link (and revocation for the principal). */
export function signedBlock(s, principal) {
  const url = location.origin + '/verify/' + encodeURIComponent(s.document_code);
  const out = el('section', { class: 'signed', 'aria-labelledby': 'signedTitle' },
    el('h3', { id: 'signedTitle', text: t('signed.title') }),
    el('div', { class: 'row' },
      button('signed.pdf', downloadPDF),
      // Opened from here, the check speaks the app's language; the copied
      // link is left to its reader's browser.
      el('a', { href: url + '?lang=' + current(), target: '_blank', rel: 'noopener', 'data-k': 'signed.check', text: t('signed.check') }),
      button('signed.copy', async () => { await navigator.clipboard.writeText(url); say(t('signed.copied')); }, { kind: 'secondary' })));
  if (principal) {
    out.querySelector('.row').append(button('signed.save', async () => {
      await command(S.act, 'save_document');
      say(t('signed.saved'));
    }, { kind: 'secondary' }));
    out.append(el('div', { class: 'danger-zone' }, button('client.revoke', async (reason) => command(S.act, 'revoke_poa', { reason, cms: await signStep(S.act, 'revocation') }),
      { kind: 'danger', confirm: 'confirm.revoke', reason: true })));
  }
  return out;
}

async function downloadPDF() {
  const d = await query('document', S.act);
  const link = el('a', { href: 'data:application/pdf;base64,' + d.pdf, download: d.code + '.pdf' });
  document.body.append(link);
  link.click();
  link.remove();
}

// downloadDraftPDF saves a presented revision's PDF, marked as a draft.
async function downloadDraftPDF(n) {
  const d = await query('document', S.act, { draft: n });
  const link = el('a', { href: 'data:application/pdf;base64,' + d.pdf, download: 'draft-' + S.act.slice(0, 8) + '-' + n + '.pdf' });
  document.body.append(link);
  link.click();
  link.remove();
}

/** onEvent keeps "My acts" live. */
export function onEvent() { refreshList().catch(() => {}); }
