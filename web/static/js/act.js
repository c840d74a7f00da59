// The act screen every role shares: the heading, the parties, the call
// panel beside the work area, the role's actions and the timeline. The
// role modules add their own actions (actions(s) returns elements).

import { t, time, date, dateTime, money } from './i18n.js';
import { $, el, tx, button, say } from './ui.js';
import { S, query, command, lastRevision, paid, decodeText } from './state.js';
import * as call from './call.js';
import * as client from './client.js';
import * as notary from './notary.js';
import * as attorney from './attorney.js';

const ROLES = { client, notary, attorney };

/** openAct subscribes to act id and shows it. */
export async function openAct(id) {
  if (!/^[0-9a-f]{32}$/.test(id)) throw Object.assign(new Error('bad act id'), { code: 'bad_act_id' });
  if (S.act !== id) {
    if (S.call) leaveCall();
    S.act = id;
    S.state = null;
    S.events = [];
    S.preview = null;
    S.drafting = null;
    await S.session.request({ type: 'subscribe', act: id, seq: 0 });
  }
  // The address names the act, so a reload (which resumes the session)
  // comes back to it.
  history.replaceState(null, '', '#act/' + id);
  $('home').hidden = true;
  $('actView').hidden = false;
  await refreshAct();
  $('actTitle').focus();
}

/** closeAct goes back to the home screen. */
export function closeAct() {
  history.replaceState(null, '', location.pathname + location.search);
  $('actView').hidden = true;
  $('home').hidden = false;
  S.rerender();
}

/** onEvent takes an event of a subscribed act. */
export function onEvent(env) {
  if (env.act !== S.act) { S.rerender(); return; }
  if (S.events.some((e) => e.seq === env.seq)) return;
  S.events.push(env);
  renderTimeline();
  refreshAct().catch((e) => say(e.message, true));
  if (ROLES[S.me.role].onEvent) ROLES[S.me.role].onEvent(env);
}

/** refreshAct reads the act's state and renders it. */
export async function refreshAct() {
  if (!S.act) return;
  const s = await query('act', S.act);
  S.state = s;
  renderAct();
  const inCall = s.call === 'active' && isCallParty(s);
  if (!inCall && S.call) hangUpLocal();
}

function isCallParty(s) {
  return S.me.role === 'client' || (S.me.role === 'notary' && s.notary && s.notary.id === S.me.login);
}

/** phaseText is the phase in words (lists show it too). */
export function phaseText(phase) { return t('phase.' + (phase || 'none')); }

/** renderAct draws the open act from S.state. */
export function renderAct() {
  const s = S.state;
  if (!s) return;
  $('actCode').textContent = s.document_code || s.id;
  $('actPhase').textContent = phaseText(s.phase) + (s.call === 'waiting' ? ' · ' + t('call.waiting') : s.call === 'active' ? ' · ' + t('call.active') : '');
  $('actPhase').dataset.phase = s.phase;
  const parts = [parties(s)];
  if (s.end_reason) parts.push(el('p', { class: 'notice' }, tx('strong', 'act.reason'), ' ', s.end_reason));
  if (s.consent_refusal) parts.push(el('p', { class: 'notice' }, tx('strong', 'act.consent_refusal'), ' ', s.consent_refusal));
  parts.push(...ROLES[S.me.role].actions(s));
  const rec = recordingsView(s);
  if (rec) parts.push(rec);
  // Keep the focus and the caret where they were: an event must not throw
  // a typing notary (or a keyboard user) out of their field.
  const f = document.activeElement;
  const keep = f && f.id && $('work').contains(f) ? { id: f.id, start: f.selectionStart, end: f.selectionEnd } : null;
  $('work').replaceChildren(...parts);
  if (keep && $(keep.id)) {
    $(keep.id).focus();
    try { if (keep.start != null) $(keep.id).setSelectionRange(keep.start, keep.end); } catch { /* not a text field */ }
  }
  renderCall();
}

function parties(s) {
  const row = (roleKey, p, extra) => el('div', { class: 'party' }, tx('span', roleKey, null, { class: 'role' }), ': ',
    el('strong', { text: (p && p.name) || '—' }), p && p.iin ? ', ' + t('act.iin') + ' ' + p.iin : '', extra || '');
  const list = el('div', { class: 'parties' },
    row('role.principal', s.principal, s.principal.phone ? ' · ' + s.principal.phone : ''),
    row('role.attorney', s.attorney),
    row('role.notary', s.notary && s.notary.id ? { name: s.notary.name || s.notary.id } : null));
  list.append(el('div', { class: 'muted' }, t('act.created', { date: dateTime(s.created_at) })));
  if (s.document_code) list.append(el('div', {}, t('act.code'), ' ', el('code', { text: s.document_code })));
  return list;
}

// ---- the call's recording ----

/** links are the recordings' playback links this page got: id -> url. */
const links = new Map();

/**
 * recordingsView lets the act's notary play each finished call's WebM: a
 * link from recording_link (a token alone, valid an hour), played by a
 * <video> with range requests.
 */
function recordingsView(s) {
  if (S.me.role !== 'notary' || !s.notary || s.notary.id !== S.me.login) return null;
  const recs = (s.recordings || []).filter((r) => r.finished_at && (r.files || []).some((f) => f.codec === 'video/webm'));
  if (!recs.length) return null;
  return el('section', { class: 'recordings', 'aria-labelledby': 'recTitle' },
    tx('h3', 'recording.title', null, { id: 'recTitle' }),
    recs.map((r, i) => {
      const label = t('recording.call', { n: i + 1, date: dateTime(r.started_at) });
      const box = el('div', { class: 'recording' }, el('p', { text: label }));
      // A WebM finished after the server stopped mid-call ends there.
      if (r.files.some((f) => f.codec === 'video/webm' && f.cut)) box.append(tx('p', 'recording.cut', null, { class: 'muted' }));
      const show = (url) => box.append(el('video', { controls: true, preload: 'metadata', src: url, 'aria-label': label, 'data-recording': r.id },
        tx('span', 'recording.unsupported')));
      if (links.has(r.id)) show(links.get(r.id));
      else {
        box.append(button('recording.play', async () => {
          const l = await query('recording_link', S.act, { recording: r.id });
          links.set(r.id, l.url);
          box.querySelector('.control').remove();
          show(l.url);
        }, { busy: 'recording.loading' }));
      }
      return box;
    }));
}

/** documentView renders the exact bytes to sign (JSON of the draft) as a document. */
export function documentView(b64, s) {
  const text = decodeText(b64);
  let d;
  try { d = JSON.parse(text); } catch { return el('pre', { class: 'doc', text }); }
  const dr = d.draft || {};
  const rows = [
    ['doc.principal', s.principal.name + ', ' + t('act.iin') + ' ' + (d.principal_iin || s.principal.iin)],
    ['doc.attorney', s.attorney.name + ', ' + t('act.iin') + ' ' + (d.attorney_iin || s.attorney.iin)],
    ['doc.registry_number', dr.registry_number],
    ['doc.powers', dr.powers],
    dr.powers_kk ? ['doc.powers_kk', dr.powers_kk] : null,
    ['doc.term', t('fmt.months', { n: dr.term_months })],
    ['doc.state_duty', money(dr.state_duty)],
    ['doc.services_fee', money(dr.services_fee)],
    ['doc.total', money((dr.state_duty || 0) + (dr.services_fee || 0))],
  ].filter(Boolean);
  return el('article', { class: 'doc', 'aria-label': t('doc.title') },
    el('h3', { text: t('doc.title') + (d.revision ? ' · ' + t('doc.revision', { n: d.revision }) : '') }),
    el('dl', {}, rows.map(([k, v]) => [el('dt', { text: t(k) }), el('dd', { text: v == null ? '' : String(v) })])));
}

/** invoiceView is the invoice with its parts and its state. */
export function invoiceView(s) {
  if (!s.invoice) return null;
  const rev = (s.revisions || [])[(s.invoice.revision || s.revisions.length) - 1] || lastRevision(s);
  const d = (rev && rev.draft) || {};
  return el('section', { class: 'invoice', 'aria-labelledby': 'invTitle' },
    el('h3', { id: 'invTitle', text: t('invoice.title') }),
    el('dl', {},
      el('dt', { text: t('doc.state_duty') }), el('dd', { text: money(d.state_duty) }),
      el('dt', { text: t('doc.services_fee') }), el('dd', { text: money(d.services_fee) }),
      el('dt', { text: t('doc.total') }), el('dd', {}, el('strong', { text: money(s.invoice.amount) }))),
    el('p', { class: paid(s) ? 'ok' : 'muted', text: paid(s) ? t('invoice.paid') : t('invoice.unpaid') }));
}

/** timeline events in words. */
function renderTimeline() {
  const items = S.events.map((e) => {
    const b = e.body || {};
    let detail = '';
    if (e.name === 'changes_requested') detail = b.comments;
    if (e.name === 'registry_checked') detail = b.found ? t('registry.found') : t('registry.not_found');
    if (e.name === 'check_recorded') detail = t('check.' + b.check) + ' — ' + t(b.passed ? 'check.passed' : 'check.failed') + (b.note ? ': ' + b.note : '');
    if (e.name === 'draft_presented') detail = t('doc.revision', { n: b.revision });
    if (e.name === 'act_refused' || e.name === 'act_cancelled' || e.name === 'consent_refused' || e.name === 'poa_revoked') detail = b.reason;
    const who = actorText(e.actor);
    return el('li', {}, el('time', { datetime: e.at, text: date(e.at) + ' ' + time(e.at) }), ' ',
      el('span', { text: t('ev.' + e.name) }), who ? el('span', { class: 'muted', text: ' · ' + who }) : '',
      detail ? el('div', { class: 'detail', text: detail }) : '');
  });
  $('timeline').replaceChildren(...items);
}

function actorText(actor) {
  const role = String(actor || '').split(':')[0];
  return ['client', 'attorney', 'notary', 'bank', 'system'].includes(role) ? t('actor.' + role) : '';
}

// ---- the call panel ----

/** renderCall shows the call panel when this person may be in the call. */
export function renderCall() {
  const s = S.state;
  const can = s && s.call === 'active' && isCallParty(s);
  $('call').hidden = !can && !S.call;
  $('actLayout').classList.toggle('with-call', !$('call').hidden);
  if ($('call').hidden) return;
  const other = S.me.role === 'notary' ? s.principal : s.notary;
  const otherRole = S.me.role === 'notary' ? t('role.principal') : t('role.notary');
  $('remoteLabel').textContent = ((other && (other.name || other.id)) || '') + ' · ' + otherRole + ' · ' + call.stateText(S.call);
  $('localLabel').textContent = t('call.you');
  $('notice').hidden = !(S.call && S.call.notice);
  $('notice').textContent = S.call ? S.call.notice : '';
  const weak = call.networkText(S.call);
  $('network').hidden = !weak;
  $('network').textContent = weak;
  const ctl = [];
  if (can) {
    ctl.push(S.call ? button('call.leave', async () => leaveCall(), { kind: 'secondary' })
      : button('call.join', joinCall, { busy: 'progress.camera' }));
    ctl.push(button('call.end', () => command(S.act, 'end_call'), { kind: 'danger', confirm: 'confirm.end_call' }));
  }
  $('callControls').replaceChildren(...ctl);
}

async function joinCall() {
  S.call = await call.join(S.session, S.act, $('relayOnly').checked, () => renderCall());
  renderCall();
}

/** onMedia handles the server's signaling. */
export function onMedia(env) { call.onMedia(S.session, S.call, env, hangUpLocal); }

function leaveCall() {
  if (S.call) S.session.signal(S.call.act, { kind: 'leave' });
  hangUpLocal();
}

function hangUpLocal() {
  const c = S.call;
  S.call = null;
  call.hangUp(c);
  renderCall();
}

