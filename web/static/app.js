// Senim's browser app: the notary, the client (principal) and the attorney.
// It follows transport/protocol/PROTOCOL.md to the letter: one websocket,
// JSON envelopes, signatures through the NCALayer protocol, and the video
// call's signaling as media messages (the server offers, the app answers).
'use strict';

const $ = (id) => document.getElementById(id);
const S = { ws: null, challenge: null, pending: new Map(), me: null, act: null, state: null, offers: new Map(), call: null };
let counter = 0;
const newId = () => 'w' + Date.now().toString(36) + '-' + (++counter);

function show(msg) {
  $('log').textContent = msg;
  if (msg) console.log(msg);
}

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}

// ---- the session websocket ----

function connect() {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws', 'senim.v1');
    S.onChallenge = resolve;
    ws.onerror = () => reject(new Error('cannot reach the server'));
    // A close reason (1008 "revoked: …", "account_removed: …") says why the server ended the session.
    ws.onclose = (e) => { S.ws = null; show('The connection closed' + (e.reason ? ' (' + e.reason + ')' : '') + '. Reload the page to sign in again.'); };
    ws.onmessage = (e) => onMessage(JSON.parse(e.data));
    S.ws = ws;
  });
}

function onMessage(env) {
  switch (env.type) {
    case 'challenge': S.challenge = env.body; S.onChallenge(env.body); return;
    case 'event': onEvent(env); return;
    case 'offer': S.offers.set(env.act, env.body); renderOffers(); return;
    case 'offer_gone': S.offers.delete(env.act); renderOffers(); return;
    case 'media': if (!env.id || !S.pending.has(env.id)) { onMedia(env); return; } break;
  }
  const p = env.id && S.pending.get(env.id);
  if (p) {
    S.pending.delete(env.id);
    if (env.type === 'error') p.reject(Object.assign(new Error(env.code + ': ' + env.message), { code: env.code }));
    else p.resolve(env);
    return;
  }
  if (env.type === 'error') show(env.code + ': ' + env.message);
}

function request(env) {
  env.id = env.id || newId();
  return new Promise((resolve, reject) => {
    if (!S.ws) { reject(new Error('not connected')); return; }
    S.pending.set(env.id, { resolve, reject });
    S.ws.send(JSON.stringify(env));
  });
}

const command = (act, name, body) => request({ type: 'command', act, name, body: body || {} });
const query = (name, act, body) => request({ type: 'query', name, act: act || undefined, body: body || {} }).then((e) => e.body);
const signal = (act, body) => S.ws && S.ws.send(JSON.stringify({ type: 'media', act, body }));

// ---- NCALayer: kz.gov.pki.knca.basics sign ----

const OID_AUTH = '1.3.6.1.5.5.7.3.2'; // clientAuth: the AUTH_RSA key, for signing in
const OID_SIGN = '1.3.6.1.5.5.7.3.4'; // the RSA signing key, for every signed step

function ncaOpen(url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onmessage = () => resolve(ws); // the greeting with NCALayer's version
    ws.onerror = () => reject(new Error('no NCALayer at ' + url));
  });
}

async function ncaSign(b64, oid) {
  // The real NCALayer and `senim dev ncalayer` listen on wss; `--plain` on
  // ws. ?ncalayer=ws://127.0.0.1:PORT points the page at another signer.
  const url = new URLSearchParams(location.search).get('ncalayer');
  const ws = url ? await ncaOpen(url) : await ncaOpen('wss://127.0.0.1:13579/').catch(() => ncaOpen('ws://127.0.0.1:13579/'));
  return new Promise((resolve, reject) => {
    ws.onmessage = (e) => {
      ws.close();
      const r = JSON.parse(e.data);
      if (!r.status) { reject(new Error('NCALayer: ' + (r.message || r.code || 'refused'))); return; }
      const res = r.body && r.body.result;
      resolve(Array.isArray(res) ? res[0] : res);
    };
    ws.send(JSON.stringify({
      module: 'kz.gov.pki.knca.basics', method: 'sign',
      args: {
        allowedStorages: ['PKCS12'], format: 'cms', data: b64,
        signingParams: { decode: true, encapsulate: true, digested: false, tsaProfile: {} },
        signerParams: { extKeyUsageOids: [oid], chain: [] }, locale: 'ru',
      },
    }));
  });
}

async function signStep(act, what, revision) {
  const ts = await query('to_sign', act, { what, revision: revision || 0 });
  return ncaSign(ts.data, OID_SIGN);
}

// ---- sign-in and home ----

async function signIn() {
  show('');
  await connect();
  const role = $('role').value;
  const body = role === 'notary'
    ? { method: 'password', login: $('login').value, password: $('password').value }
    : { method: 'eds', role, cms: await ncaSign(S.challenge.to_sign, OID_AUTH) };
  const w = await request({ type: 'signin', body });
  S.me = w.body;
  $('who').textContent = `${S.me.name} · ${S.me.role}${S.me.iin ? ' · ' + S.me.iin : ''}`;
  $('signin').hidden = true;
  $('home').hidden = false;
  $(S.me.role + 'Home').hidden = false;
  await refreshHome();
}

function actLink(a) {
  const label = `${a.act.slice(0, 12)}… ${a.phase}${a.principal ? ' · ' + a.principal : ''}${a.document_code ? ' · ' + a.document_code : ''}`;
  return el('li', {}, el('a', { href: '#', onclick: (e) => { e.preventDefault(); openAct(a.act); } }, label));
}

async function refreshHome() {
  const lists = { client: ['my_acts', 'myActs'], attorney: ['attorney_acts', 'attorneyActs'], notary: ['register', 'register'] };
  const [name, id] = lists[S.me.role];
  const r = await query(name);
  $(id).replaceChildren(...(r.acts || []).map(actLink));
}

function renderOffers() {
  const items = [...S.offers.entries()].map(([act, o]) => el('li', {},
    `${o.principal || o.principal_iin} — waiting since ${new Date(o.waiting_since).toLocaleTimeString()} `,
    el('button', { onclick: () => run(async () => { await command(act, 'accept_call'); await openAct(act); }) }, 'Accept the call'),
    el('button', { class: 'secondary', onclick: () => run(() => request({ type: 'operator', name: 'decline', act })) }, 'Decline')));
  $('offers').replaceChildren(...items);
}

async function apply() {
  const phone = $('phone').value.trim();
  const attorney = $('attorneyIIN').value.trim();
  const consent = $('consent').checked;
  const prep = await query('prepare_application', undefined, { action_type: 'power_of_attorney', phone, attorney_iin: attorney, consent });
  const cms = await ncaSign(prep.data, OID_SIGN);
  await command(prep.act, 'submit_application', { action_type: 'power_of_attorney', phone, attorney_iin: attorney, consent: true, cms });
  await openAct(prep.act);
  await refreshHome();
}

// ---- one act ----

async function openAct(id) {
  if (S.act !== id) {
    S.act = id;
    $('timeline').replaceChildren();
    await request({ type: 'subscribe', act: id, seq: 0 });
  }
  $('actView').hidden = false;
  $('actId').textContent = id;
  await refreshAct();
}

function onEvent(env) {
  if (env.act !== S.act) return;
  const b = env.body || {};
  let detail = '';
  if (env.name === 'draft_presented') detail = ` — rev. ${b.revision}: ${b.draft && b.draft.powers}`;
  if (env.name === 'recording_started') detail = ' — ' + b.notice;
  if (env.name === 'recording_finished') detail = ` — ${(b.files || []).length} files`;
  if (env.name === 'changes_requested') detail = ' — ' + b.comments;
  if (env.name === 'registry_checked') detail = ` — ${b.iin} ${b.found ? 'found' : 'NOT found'} in the registry`;
  $('timeline').append(el('li', {}, `#${env.seq} ${env.name} · ${env.actor} · ${new Date(env.at).toLocaleTimeString()}${detail}`));
  refreshAct().catch((e) => show(e.message));
}

const money = (t) => (t / 100).toFixed(2) + ' ₸';

async function refreshAct() {
  const s = await query('act', S.act);
  S.state = s;
  $('phase').textContent = `${s.phase}${s.call ? ' · call ' + s.call : ''}`;
  const cur = s.revisions && s.revisions[s.revisions.length - 1];
  const facts = [
    `Principal: ${s.principal.name || ''} ${s.principal.iin}${s.principal.phone ? ' · ' + s.principal.phone : ''}`,
    `Attorney: ${s.attorney.name || ''} ${s.attorney.iin}`,
    s.notary && s.notary.id ? `Notary: ${s.notary.name || s.notary.id}` : 'Notary: not yet',
  ];
  if (cur) facts.push(`Draft rev. ${cur.number}${s.approved === cur.number ? ' (approved)' : ''}: ${cur.draft.powers} · ${cur.draft.term_months} months · state duty ${money(cur.draft.state_duty)} · services ${money(cur.draft.services_fee)}`);
  if (s.invoice) facts.push(`Invoice ${s.invoice.id}: ${money(s.invoice.amount)}${(s.payments || []).some((p) => p.invoice_id === s.invoice.id) ? ' — paid' : ''}`);
  if (s.document_code) facts.push(`Document code ${s.document_code}`);
  $('summary').replaceChildren(...facts.map((f) => el('div', {}, f)));
  renderActions(s, cur);
  const inCall = s.call === 'active' && (S.me.role === 'client' || (S.me.role === 'notary' && s.notary.id === S.me.login));
  $('call').hidden = !inCall && !S.call;
  if (!inCall && S.call) hangUpLocal('the call is over');
}

// The pay link lets whoever holds it pay, so Senim gives it to the principal
// only, on request. The tab is opened before the query, as a pop-up blocker
// allows only what a click opens at once.
async function payAtBank() {
  const tab = window.open('', '_blank');
  try {
    const link = await query('payment_link', S.act);
    if (!tab) return location.assign(link.url);
    tab.opener = null;
    tab.location = link.url;
  } catch (e) {
    if (tab) tab.close();
    throw e;
  }
}

function btn(label, fn, secondary) {
  return el('button', { class: secondary ? 'secondary' : undefined, onclick: () => run(fn) }, label);
}

function askText(label) {
  const v = prompt(label);
  if (v === null) throw new Error('cancelled');
  return v;
}

function renderActions(s, cur) {
  const a = [];
  const act = S.act;
  const final = ['signed', 'refused', 'cancelled', 'revoked', 'consent_refused'].includes(s.phase);
  if (S.me.role === 'client') {
    if (!final && s.phase !== 'awaiting_consent' && s.call !== 'waiting' && s.call !== 'active') a.push(btn('Call a notary', () => command(act, 'request_call')));
    if (s.call === 'waiting') a.push(el('span', { class: 'muted' }, 'Waiting for a notary… '));
    if (cur && s.approved !== cur.number && !final) {
      a.push(btn(`Approve revision ${cur.number} (EDS)`, async () => command(act, 'approve_draft', { revision: cur.number, cms: await signStep(act, 'draft', cur.number) })));
      a.push(btn('Request changes', () => command(act, 'request_changes', { revision: cur.number, comments: askText('What should change?') }), true));
    }
    if (s.invoice && !final && !(s.payments || []).some((p) => p.invoice_id === s.invoice.id)) a.push(btn('Pay at the bank →', payAtBank));
    if (s.phase === 'signed') {
      a.push(btn('Download the document (PDF)', downloadPDF));
      a.push(el('a', { href: '/verify/' + s.document_code, target: '_blank' }, ' Public check '));
      a.push(btn('Revoke (EDS)', async () => command(act, 'revoke_poa', { reason: askText('Reason'), cms: await signStep(act, 'revocation') }), true));
    }
    if (!final) a.push(btn('Cancel the act', () => command(act, 'cancel_act', { reason: askText('Reason') }), true));
  }
  if (S.me.role === 'attorney' && s.phase === 'awaiting_consent') {
    a.push(btn('Give consent (EDS)', async () => command(act, 'give_consent', { cms: await signStep(act, 'consent') })));
    a.push(btn('Refuse', () => command(act, 'refuse_consent', { reason: askText('Reason') }), true));
  }
  if (S.me.role === 'notary' && !final) {
    if (s.call === 'waiting' && S.offers.has(act)) a.push(btn('Accept the call', () => command(act, 'accept_call')));
    if (s.notary.id === S.me.login) {
      const checks = el('fieldset', {}, el('legend', {}, 'Identity checks'));
      for (const c of ['document_shown', 'registry_lookup', 'legal_capacity', 'rights_explained']) {
        const done = s.checks && s.checks[c];
        checks.append(el('div', {}, `${c}${done ? (done.passed ? ' ✔' : ' ✘') : ''} `,
          btn('pass', () => command(act, 'record_check', { check: c, passed: true })),
          btn('fail', () => command(act, 'record_check', { check: c, passed: false, note: askText('Note') }), true)));
      }
      checks.append(btn('Look up the principal in the registry', async () => {
        const p = await query('registry_lookup', act, { iin: s.principal.iin });
        alert(JSON.stringify(p, null, 2));
      }, true));
      a.push(checks);
      const reg = el('input', { value: cur ? cur.draft.registry_number : '', placeholder: '1-2026-0001', size: 14 });
      const term = el('input', { type: 'number', min: 1, max: 36, value: cur ? cur.draft.term_months : 12, size: 4 });
      const powers = el('textarea', {}, cur ? cur.draft.powers : '');
      a.push(el('fieldset', {}, el('legend', {}, 'Draft'), el('label', {}, 'Registry number ', reg), el('label', {}, 'Term, months ', term), powers,
        btn('Show the draft to the client', () => command(act, 'present_draft', { registry_number: reg.value, powers: powers.value, term_months: Number(term.value) }))));
      a.push(btn('Issue the invoice', () => command(act, 'issue_invoice')));
      a.push(btn('Issue the document code', () => command(act, 'issue_document_code')));
      a.push(btn('Sign the act (EDS)', async () => command(act, 'sign_act', { cms: await signStep(act, 'document') })));
      a.push(btn('Refuse', () => command(act, 'refuse_act', { reason: askText('Reason') }), true));
    }
  }
  if (s.call === 'active' && (S.me.role === 'client' || s.notary.id === S.me.login)) {
    a.push(el('div', {}, S.call ? btn('Leave the video', () => leaveCall(), true) : btn('Join the video call', joinCall),
      btn('End the call', () => command(act, 'end_call'), true)));
  }
  $('actions').replaceChildren(...a);
}

async function downloadPDF() {
  const d = await query('document', S.act);
  const link = el('a', { href: 'data:application/pdf;base64,' + d.pdf, download: d.code + '.pdf' });
  document.body.append(link);
  link.click();
  link.remove();
}

// ---- the video call ----

async function joinCall() {
  const act = S.act;
  const stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
  // The TURN servers come with joined (to the call's participants only), and
  // the server's offer right after it: media messages wait on the call's
  // queue until the peer connection exists.
  let ready;
  const call = { pc: null, stream, act, queue: new Promise((r) => { ready = r; }) };
  S.call = call;
  let joined;
  try {
    joined = await request({ type: 'media', act, body: { kind: 'join' } });
  } catch (e) {
    if (S.call === call) hangUpLocal(e.message);
    ready();
    throw e;
  }
  const ice = joined.body.ice_servers || [];
  const pc = new RTCPeerConnection({
    iceServers: ice.map((s) => ({ urls: s.urls, username: s.username, credential: s.credential })),
    iceTransportPolicy: $('relayOnly').checked ? 'relay' : 'all',
  });
  call.pc = pc;
  $('localVideo').srcObject = stream;
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
  pc.ontrack = (e) => {
    const remote = e.streams[0];
    if (remote && e.track.kind === 'video') {
      $('remoteVideo').srcObject = remote;
      $('remoteLabel').textContent = remote.id;
    }
  };
  pc.onicecandidate = (e) => { if (e.candidate) signal(act, { kind: 'candidate', candidate: e.candidate.toJSON() }); };
  pc.onconnectionstatechange = () => { $('callState').textContent = 'connection: ' + pc.connectionState; };
  ready();
  if (joined.body.notice) { $('notice').textContent = joined.body.notice; $('notice').hidden = false; }
  $('call').hidden = false;
  renderActions(S.state, S.state.revisions && S.state.revisions[S.state.revisions.length - 1]);
}

function onMedia(env) {
  const c = S.call;
  if (!c || env.act !== c.act) return;
  const m = env.body;
  c.queue = c.queue.then(async () => {
    if (!c.pc) return; // the join failed
    if (m.kind === 'offer') {
      await c.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      const answer = await c.pc.createAnswer();
      await c.pc.setLocalDescription(answer);
      signal(c.act, { kind: 'answer', sdp: answer.sdp });
    } else if (m.kind === 'candidate' && m.candidate) {
      await c.pc.addIceCandidate(m.candidate);
    } else if (m.kind === 'closed') {
      hangUpLocal(m.message);
    }
  }).catch((e) => show('call: ' + e.message));
}

function leaveCall() {
  if (S.call) signal(S.call.act, { kind: 'leave' });
  hangUpLocal('you left');
}

function hangUpLocal(why) {
  const c = S.call;
  if (!c) return;
  S.call = null;
  c.stream.getTracks().forEach((t) => t.stop());
  if (c.pc) c.pc.close();
  $('localVideo').srcObject = null;
  $('remoteVideo').srcObject = null;
  $('callState').textContent = 'call ended: ' + (why || '');
  if (S.state) renderActions(S.state, S.state.revisions && S.state.revisions[S.state.revisions.length - 1]);
}

// ---- wiring ----

async function run(fn) {
  try {
    show('');
    await fn();
  } catch (e) {
    if (e.message !== 'cancelled') show(e.message);
  }
}

$('role').addEventListener('change', () => {
  const notary = $('role').value === 'notary';
  $('pw').hidden = !notary;
  $('edsnote').hidden = notary;
});
$('signinBtn').addEventListener('click', () => run(signIn));
$('applyBtn').addEventListener('click', () => run(apply));
$('availableBtn').addEventListener('click', () => run(async () => { await request({ type: 'operator', name: 'available' }); $('opState').textContent = 'available: the desk may offer you calls'; }));
$('awayBtn').addEventListener('click', () => run(async () => { await request({ type: 'operator', name: 'away' }); $('opState').textContent = 'away'; }));
$('openBtn').addEventListener('click', () => run(() => openAct($('openId').value.trim())));
window.senim = S; // for tests and the curious
