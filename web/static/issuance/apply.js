// The applicant's page of remote EDS issuance (docs/issuance.md, PROTOCOL.md
// "Remote EDS issuance"): the start (individual or legal entity), the SMS
// code with its countdown, or the registration queue and the operator's
// video call; Digital ID (the selfie, the liveness video, the document's
// photos, by camera or from a file; the recognised fields to confirm); the
// key pairs and their requests made here (csr.js), then the status, live;
// and, once issued, the PKCS#12 key stores built on this device (node-forge,
// vendored) under a password that follows NUC's rule.
//
// The applicant has no EDS: the session speaks for the application after
// start, or after resume with the application token. The token is kept in
// localStorage (an application lasts days: moderation, approvals), with the
// private keys encrypted under the key-store password until the key stores
// are saved; "Forget this application" clears both.

import * as i18n from '../js/i18n.js';
import { t } from '../js/i18n.js';
import { $, el, tx, button, run, say, byField } from '../js/ui.js';
import { Session, ProtocolError } from '../js/proto.js';
import * as call from '../js/call.js';
import { makeApplicantKeys, exportPKCS8, base64 } from './csr.js';
import { validIIN, passwordProblem, showDate } from './rules.js';

const STORE = 'senim.issuance';
const KEYS = 'senim.issuance.keys.';

/** A is the page's state; window.senimIssuance exposes it to tests. */
const A = { session: null, app: null, token: null, st: null, view: '', keys: null, password: null, call: null, stores: [], seen: {}, seq: 0, skew: 0, streams: new Set() };
window.senimIssuance = A;

// ---- the session ----

function newSession() {
  const s = new Session({
    onEvent: (env) => {
      if (env.act !== A.app) return;
      A.seen[env.name] = env.body || {}; // the last of each: phone_not_found, registration_recorded
      A.seq = Math.max(A.seq, env.seq || 0);
      refresh().catch(() => {});
    },
    onMedia: (env) => call.onMedia(A.session, A.call, env, hangUp),
    onError: (e) => { if (e.code !== 'signin_timeout') say(i18n.errorText(e.code), true); },
    // Before start the session speaks for nobody, and the server closes it
    // after its sign-in deadline: the next request opens another. Once it
    // speaks for an application, a lost connection resumes with the token.
    onClose: () => {
      if (A.session !== s) return;
      A.session = null;
      if (A.app) connect().then(refresh).catch(() => { $('closed').hidden = false; $('closedText').textContent = t('iss.closed'); });
    },
  });
  return s;
}

/** ask sends an issuance request for the application and resolves with its answer. */
async function ask(name, body) {
  if (!A.session) await connect();
  return A.session.request({ type: 'issuance', name, act: A.app || undefined, body: body || {} });
}

/** connect opens a session; with an application, it speaks for it again (resume, subscribe). */
async function connect() {
  const s = newSession();
  A.session = s;
  const ch = await s.connect();
  // The countdown follows the server's clock, not this device's.
  const at = Date.parse(ch && ch.server_time);
  if (!Number.isNaN(at)) A.skew = at - Date.now();
  if (!A.token) return;
  await s.request({ type: 'issuance', name: 'resume', act: A.app, body: { token: A.token } });
  if (A.st) await s.request({ type: 'issuance', name: 'subscribe', act: A.app, seq: A.seq });
}

function remember() {
  try { localStorage.setItem(STORE, JSON.stringify({ app: A.app, token: A.token })); } catch { /* this tab only */ }
}

function forget() {
  try {
    localStorage.removeItem(STORE);
    if (A.app) localStorage.removeItem(KEYS + A.app);
  } catch { /* nothing kept */ }
  if (A.session) A.session.close();
  location.reload();
}

/** resume continues the application of the kept token, if any. */
async function resume() {
  let kept = null;
  try { kept = JSON.parse(localStorage.getItem(STORE) || 'null'); } catch { /* none */ }
  if (!kept || !kept.app || !kept.token) return false;
  A.app = kept.app;
  A.token = kept.token;
  try {
    await connect();
  } catch (e) {
    if (e.code === 'bad_token' || e.code === 'no_such_application' || e.code === 'bad_application_id') {
      try { localStorage.removeItem(STORE); } catch { /* none */ }
      A.app = A.token = null;
      if (A.session) A.session.close();
      A.session = null;
      return false;
    }
    throw e;
  }
  await follow();
  return true;
}

/** follow shows the application's status and subscribes to its events from the first. */
async function follow() {
  await refresh();
  await A.session.request({ type: 'issuance', name: 'subscribe', act: A.app, seq: 0 });
}

// refresh asks for the status; the events that arrive meanwhile (a replay
// brings many) make one more ask, not one each.
let refreshing = null;
let again = false;
function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    try {
      do {
        again = false;
        A.st = (await ask('status')).body;
      } while (again);
    } finally {
      refreshing = null;
    }
    render();
  })();
  return refreshing;
}

// ---- rendering ----

const STEPS = ['start', 'phone', 'identity', 'application', 'keys'];

function stepOf(phase) {
  switch (phase) {
    case undefined: case null: case '': return 'start';
    case 'phone': case 'registration_waiting': case 'registration_call': return 'phone';
    case 'identity': case 'moderation': return 'identity';
    case 'application': case 'approvals': return 'application';
    default: return 'keys';
  }
}

function renderSteps() {
  const now = STEPS.indexOf(stepOf(A.st && A.st.phase));
  $('steps').replaceChildren(...STEPS.map((s, i) => el('li', {
    class: i < now ? 'done' : i === now ? 'now' : undefined, 'aria-current': i === now ? 'step' : undefined,
  }, t('iss.step.' + s))));
  const st = A.st;
  $('caStatus').textContent = st ? t('iss.ca_status', { status: t('iss.status.' + st.status) }) : '';
  $('who').textContent = st ? t('iss.who', { iin: st.iin }) : '';
}

/** viewKey says what the screen shows: it is rebuilt only when that changes (typed text stays). */
function viewKey() {
  const s = A.st;
  if (!s) return 'start';
  return JSON.stringify([s.phase, s.phone, !!A.seen.phone_not_found, !!A.seen.registration_recorded, s.code_expires_at, s.code_tries_left, s.document, s.uploads, !!s.recognised, s.confirmed,
    s.problem, (s.waiting || []).filter((w) => w !== 'mail'), s.next_approval, s.rejection, s.certificates, !!A.call, A.stores.length, i18n.current()]);
}

function render(force) {
  renderSteps();
  document.title = t('iss.title');
  const key = viewKey();
  if (!force && key === A.view) return;
  A.view = key;
  const s = A.st;
  const parts = [];
  // The e-mail after the issue waits for its relay alone: the applicant has nothing to wait for.
  if (s && (s.waiting || []).some((w) => w !== 'mail')) parts.push(tx('p', 'iss.waiting', null, { class: 'notice' }));
  if (!s) parts.push(...startView());
  else {
    const views = {
      phone: phoneView, registration_waiting: queueView, registration_call: callView, identity: identityView,
      moderation: () => [tx('h2', 'iss.moderation.title'), tx('p', 'iss.moderation.text', null, { class: 'waiting' })],
      application: keysView,
      approvals: () => [tx('h2', 'iss.approvals.title'), tx('p', 'iss.approvals.' + (s.next_approval || 'hr'), null, { class: 'waiting' })],
      identified: () => [tx('h2', 'iss.status.identified'), tx('p', 'iss.signing.text', null, { class: 'waiting' })],
      signing: () => [tx('h2', 'iss.status.signing'), tx('p', 'iss.signing.text', null, { class: 'waiting' })],
      issued: issuedView,
      rejected: () => [tx('h2', 'iss.rejected.title'), el('p', { class: 'bad' }, t('iss.rejected.reason', { reason: s.rejection || '' }))],
      expired: () => [tx('h2', 'iss.expired.title'), tx('p', 'iss.expired.text')],
    };
    parts.push(...(views[s.phase] || (() => []))());
    parts.push(el('div', { class: 'danger-zone' }, button('iss.forget', async () => forget(), { kind: 'secondary', confirm: 'iss.forget.confirm' })));
  }
  // A camera left on by a card that is gone is turned off.
  for (const st of A.streams) st.getTracks().forEach((tr) => tr.stop());
  A.streams.clear();
  $('view').replaceChildren(...parts);
  renderCall();
}

function field(id, key, input, withErr) {
  input.id = id;
  return el('div', { class: 'field' }, el('label', { for: id, 'data-k': key, text: t(key) }), input,
    withErr ? el('span', { class: 'err', id: id + 'Err' }) : null);
}

// ---- start ----

const TEMPLATES = ['first_head', 'signing_rights', 'financial', 'hr', 'employee', 'treasury_client'];

function startView() {
  const err = el('span', { class: 'err', id: 'startErr', role: 'alert' });
  const kind = (v) => el('div', { class: 'field check' },
    el('input', { type: 'radio', name: 'kind', id: 'kind-' + v, value: v, checked: v === 'individual' }),
    el('label', { for: 'kind-' + v, 'data-k': 'iss.kind.' + v, text: t('iss.kind.' + v) }));
  const template = el('select', {}, ...TEMPLATES.map((x) => el('option', { value: x, text: t('iss.template.' + x) })));
  const legal = el('div', { id: 'legal', hidden: true },
    field('template', 'iss.template', template),
    field('bin', 'iss.bin', el('input', { inputmode: 'numeric', maxlength: 12, autocomplete: 'off', 'aria-describedby': 'binErr' }), true));
  const form = el('form', { id: 'startForm', novalidate: true },
    el('fieldset', {}, el('legend', { 'data-k': 'iss.kind', text: t('iss.kind') }), kind('individual'), kind('legal_entity')),
    legal,
    field('iin', 'iss.iin', el('input', { inputmode: 'numeric', maxlength: 12, autocomplete: 'off', 'aria-describedby': 'iinErr startErr' }), true),
    el('button', { type: 'submit', 'data-k': 'iss.start', text: t('iss.start') }), err);
  form.addEventListener('change', () => { legal.hidden = !$('kind-legal_entity').checked; });
  // A wrong IIN or BIN (its shape here, or the server's refusal, a
  // mistyped check digit apart) is told next to its field.
  const fields = [['iin', /^(iss_iin_|bad_iin)/], ['bin', /^(iss_bin_|bad_bin)/]];
  form.addEventListener('submit', (e) => { e.preventDefault(); run(byField(start, fields), err, 'iss.progress.start'); });
  return [tx('h2', 'iss.start.title'), tx('p', 'iss.start.text', null, { class: 'muted' }), form];
}

function checkNumber(value, what) {
  const p = validIIN(value);
  if (p) throw Object.assign(new Error(p), { code: 'iss_' + what + '_' + p });
}

async function start() {
  const legal = $('kind-legal_entity').checked;
  const iin = $('iin').value.replace(/\s/g, '');
  checkNumber(iin, 'iin');
  const body = { kind: legal ? 'legal_entity' : 'individual', iin };
  if (legal) {
    body.template = $('template').value;
    body.bin = $('bin').value.replace(/\s/g, '');
    checkNumber(body.bin, 'bin');
  }
  const ans = await ask('start', body);
  A.app = ans.body.application;
  A.token = ans.body.token;
  remember();
  await follow();
  $('issTitle').focus();
}

// ---- the phone ----

function secondsLeft() {
  const at = A.st && A.st.code_expires_at;
  return at ? Math.max(0, Math.ceil((new Date(at).getTime() - Date.now() - A.skew) / 1000)) : 0;
}

function countdownText() {
  const n = secondsLeft();
  return n > 0 ? t('iss.code.countdown', { s: n }) : t('iss.code.expired');
}

function phoneView() {
  const s = A.st;
  const err = el('span', { class: 'err', id: 'codeErr', role: 'alert' });
  const out = [tx('h2', 'iss.phone.title')];
  if (s.phone) {
    out.push(el('p', {}, t('iss.code.sent', { phone: s.phone })));
    const form = el('form', { id: 'codeForm', novalidate: true },
      field('code', 'iss.code', el('input', { inputmode: 'numeric', maxlength: 6, autocomplete: 'one-time-code', 'aria-describedby': 'countdown codeErr' })),
      el('p', { id: 'countdown', class: 'muted', text: countdownText() }),
      s.code_tries_left ? el('p', { class: 'muted' }, t('iss.code.tries', { n: s.code_tries_left })) : null,
      el('button', { type: 'submit', 'data-k': 'iss.code.verify', text: t('iss.code.verify') }), err);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      run(async () => {
        const code = $('code').value.replace(/\s/g, '');
        if (!/^[0-9]{6}$/.test(code)) throw Object.assign(new Error('code'), { code: 'iss_code_six' });
        await ask('verify_code', { code });
        await refresh();
      }, err, 'iss.progress.verify');
    });
    out.push(form);
    const left = secondsLeft();
    out.push(el('div', { id: 'resendBox' }, button('iss.code.resend', async () => { await ask('resend'); await refresh(); },
      { kind: 'secondary', disabled: left > 0 ? 'iss.code.resend_after' : undefined })));
  } else if (A.seen.phone_not_found) {
    out.push(tx('p', 'err.phone_unknown', null, { class: 'notice' }));
  } else {
    out.push(tx('p', 'iss.phone.looking', null, { class: 'waiting' }));
  }
  const rec = A.seen.registration_recorded;
  if (rec && !rec.success) out.push(el('p', { class: 'bad' }, t('iss.registration.failed', { reason: rec.reason || '' })));
  out.push(el('div', { class: 'danger-zone' }, tx('p', 'iss.registration.why'),
    button('iss.registration.request', async () => { await ask('request_registration'); await refresh(); }, { kind: 'secondary' })));
  return out;
}

// The countdown ticks every second; the resend button opens when it ends.
setInterval(() => {
  if (!A.st || A.st.phase !== 'phone' || !$('countdown')) return;
  $('countdown').textContent = countdownText();
  if (secondsLeft() === 0 && document.querySelector('#resendBox button[disabled]')) render(true);
}, 1000);

// Some changes come without an event (an outside service being retried,
// "try again later", and its end before the next event): the status is
// asked again every few seconds while the application is open.
const FINAL = ['issued', 'rejected', 'expired'];
setInterval(() => {
  if (A.app && A.st && !FINAL.includes(A.st.phase) && document.visibilityState !== 'hidden') refresh().catch(() => {});
}, 5000);

function queueView() {
  return [tx('h2', 'iss.registration.title'), tx('p', 'iss.registration.waiting', null, { class: 'waiting' }),
    tx('p', 'iss.registration.prepare', null, { class: 'muted' })];
}

function callView() {
  return [tx('h2', 'iss.registration.title'), tx('p', 'iss.registration.call', null, { class: 'waiting' }),
    tx('p', 'iss.registration.prepare', null, { class: 'muted' })];
}

function renderCall() {
  const inCall = A.st && A.st.phase === 'registration_call';
  if (!inCall && A.call) hangUp();
  $('call').hidden = !inCall;
  if (!inCall) return;
  $('localLabel').textContent = t('call.you');
  $('remoteLabel').textContent = t('iss.registration.operator') + ' · ' + call.stateText(A.call);
  $('callControls').replaceChildren(A.call
    ? button('call.leave', async () => { A.session.signal(A.app, { kind: 'leave' }); hangUp(); }, { kind: 'secondary' })
    : button('call.join', async () => { A.call = await call.join(A.session, A.app, false, () => renderCall()); render(); }, { busy: 'progress.camera' }));
}

function hangUp() {
  const c = A.call;
  A.call = null;
  call.hangUp(c);
  if (A.st) render();
}

// ---- Digital ID ----

const PAGES = { id_card: ['document_front', 'document_back'], passport: ['passport_page'] };

function identityView() {
  const s = A.st;
  const out = [tx('h2', 'iss.identity.title')];
  if (!s.document) {
    out.push(tx('p', 'iss.document.choose'),
      el('div', { class: 'row' }, ...['id_card', 'passport'].map((k) => button('iss.document.' + k, async () => {
        await ask('choose_document', { kind: k });
        await refresh();
      }))));
    return out;
  }
  const have = new Set(s.uploads || []);
  // The document's pages are taken again when they could not be read, are
  // another person's, or of the other kind; every problem has its sentence.
  const retake = ['document_unreadable', 'identity_mismatch', 'bad_document_kind'].includes(s.problem);
  if (s.problem) out.push(el('p', { class: 'notice' }, i18n.has('iss.problem.' + s.problem) ? t('iss.problem.' + s.problem) : i18n.errorText(s.problem)));
  const purposes = ['selfie', 'liveness', ...PAGES[s.document]];
  out.push(el('ul', { class: 'checks', id: 'uploads' }, ...purposes.map((p) => el('li', { class: have.has(p) ? 'ok' : 'muted', 'data-purpose': p },
    (have.has(p) ? '✓ ' : '○ ') + t('iss.upload.' + p)))));
  for (const p of purposes) {
    if (!have.has(p) || (retake && PAGES[s.document].includes(p))) out.push(p === 'liveness' ? livenessCard() : photoCard(p));
  }
  if (s.recognised && !s.confirmed) out.push(fieldsCard(s.recognised));
  else if (purposes.every((p) => have.has(p)) && !s.recognised && !retake) out.push(tx('p', 'iss.identity.recognising', null, { class: 'waiting' }));
  else if (s.confirmed) out.push(tx('p', 'iss.identity.matching', null, { class: 'waiting' }));
  return out;
}

/** upload posts a file (Blob) for purpose with the application token. */
async function upload(purpose, blob) {
  const r = await fetch('/issuance/' + A.app + '/uploads/' + purpose, {
    method: 'POST', headers: { Authorization: 'Bearer ' + A.token }, body: blob,
  });
  if (!r.ok) {
    let code = 'internal';
    try { code = (await r.json()).code || code; } catch { /* not JSON */ }
    throw new ProtocolError(code, 'upload ' + purpose + ': HTTP ' + r.status);
  }
  await refresh();
}

function fileInput(purpose, accept, err) {
  const id = 'file-' + purpose;
  const input = el('input', { type: 'file', id, accept, 'aria-describedby': err.id });
  input.addEventListener('change', () => {
    if (input.files && input.files[0]) run(() => upload(purpose, input.files[0]), err, 'iss.progress.upload');
  });
  return el('div', { class: 'field' }, el('label', { for: id, 'data-k': 'iss.upload.file', text: t('iss.upload.file') }), input);
}

async function camera(facing) {
  const st = await navigator.mediaDevices.getUserMedia({ video: { facingMode: facing, width: { ideal: 1280 } }, audio: false });
  A.streams.add(st);
  return st;
}

function photoCard(purpose) {
  const err = el('span', { class: 'err', id: 'err-' + purpose, role: 'alert' });
  const preview = el('video', { class: 'preview', autoplay: true, playsinline: true, muted: true, hidden: true, 'aria-hidden': 'true' });
  let stream = null;
  const stop = () => { if (stream) stream.getTracks().forEach((tr) => tr.stop()); stream = null; preview.hidden = true; };
  const shoot = el('span', { hidden: true }, button('iss.camera.shoot', async () => {
    const c = document.createElement('canvas');
    c.width = preview.videoWidth;
    c.height = preview.videoHeight;
    c.getContext('2d').drawImage(preview, 0, 0);
    const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.9));
    stop();
    await upload(purpose, blob);
  }));
  const open = button('iss.camera.open', async () => {
    stream = await camera(purpose === 'selfie' ? 'user' : 'environment');
    preview.srcObject = stream;
    preview.hidden = false;
    shoot.hidden = false;
    await preview.play().catch(() => {});
  }, { kind: 'secondary', busy: 'progress.camera' });
  return el('section', { class: 'capture', 'data-capture': purpose },
    tx('h3', 'iss.upload.' + purpose), tx('p', 'iss.howto.' + purpose, null, { class: 'muted' }),
    preview, el('div', { class: 'row' }, open, shoot), fileInput(purpose, 'image/jpeg,image/png', err), err);
}

const LIVENESS_MS = 4000;

function livenessCard() {
  const err = el('span', { class: 'err', id: 'err-liveness', role: 'alert' });
  const preview = el('video', { class: 'preview', autoplay: true, playsinline: true, muted: true, hidden: true, 'aria-hidden': 'true' });
  const rec = button('iss.liveness.record', async () => {
    const stream = await camera('user');
    preview.srcObject = stream;
    preview.hidden = false;
    try {
      const mr = new MediaRecorder(stream, { mimeType: 'video/webm' });
      const chunks = [];
      mr.ondataavailable = (e) => { if (e.data && e.data.size) chunks.push(e.data); };
      const done = new Promise((r) => { mr.onstop = r; });
      mr.start(500);
      say(t('iss.liveness.recording'));
      await new Promise((r) => setTimeout(r, LIVENESS_MS));
      mr.stop();
      await done;
      await upload('liveness', new Blob(chunks, { type: 'video/webm' }));
    } finally {
      stream.getTracks().forEach((tr) => tr.stop());
      preview.hidden = true;
    }
  }, { busy: 'iss.liveness.recording' });
  return el('section', { class: 'capture', 'data-capture': 'liveness' },
    tx('h3', 'iss.upload.liveness'), tx('p', 'iss.howto.liveness', null, { class: 'muted' }),
    preview, el('div', { class: 'row' }, rec), fileInput('liveness', 'video/webm', err), err);
}

const FIELDS = ['iin', 'surname', 'name', 'patronymic', 'birth_date', 'number', 'valid_until'];

function fieldsCard(f) {
  return el('section', { class: 'capture', id: 'fields' }, tx('h3', 'iss.fields.title'), tx('p', 'iss.fields.text', null, { class: 'muted' }),
    el('dl', { class: 'card-registry' }, ...FIELDS.filter((k) => f[k]).flatMap((k) => [el('dt', {}, t('iss.field.' + k)), el('dd', {}, showDate(f[k]))])),
    el('div', { class: 'row' }, button('iss.fields.confirm', async () => { await ask('confirm_fields', { fields: f }); await refresh(); })));
}

// ---- the keys ----

function keysView() {
  const s = A.st;
  const err = el('span', { class: 'err', id: 'keysErr', role: 'alert' });
  const form = el('form', { id: 'keysForm', novalidate: true },
    field('email', 'iss.email', el('input', { type: 'email', autocomplete: 'email' })),
    tx('p', 'iss.password.rule', null, { class: 'muted', id: 'pwRule' }),
    field('pw1', 'iss.password', el('input', { type: 'password', autocomplete: 'new-password', 'aria-describedby': 'pwRule keysErr' })),
    field('pw2', 'iss.password.repeat', el('input', { type: 'password', autocomplete: 'new-password' })),
    tx('p', 'iss.password.warning', null, { class: 'notice', id: 'pwWarn' }),
    el('button', { type: 'submit', 'data-k': 'iss.keys.make', text: t('iss.keys.make') }), err);
  form.addEventListener('submit', (e) => { e.preventDefault(); run(makeKeys, err, 'iss.progress.keys'); });
  return [tx('h2', 'iss.keys.title'), tx('p', 'iss.keys.text', null, { class: 'muted' }),
    s.kind === 'legal_entity' && s.template !== 'first_head' ? tx('p', 'iss.keys.approvals', null, { class: 'muted' }) : null, form];
}

function passwordCheck(pw) {
  const p = passwordProblem(pw);
  if (p) throw Object.assign(new Error(p), { code: 'iss_password_' + p });
}

async function makeKeys() {
  const pw = $('pw1').value;
  passwordCheck(pw);
  if (pw !== $('pw2').value) throw Object.assign(new Error('repeat'), { code: 'iss_password_differ' });
  const email = $('email').value.trim();
  const s = A.st;
  const keys = await makeApplicantKeys({ iin: s.iin, bin: s.kind === 'legal_entity' ? s.bin : undefined });
  const forge = window.forge;
  const kept = {};
  const mem = {};
  for (const p of ['AUTH', 'SIGN']) {
    const der = await exportPKCS8(keys[p].keyPair);
    const key = forge.pki.privateKeyFromAsn1(forge.asn1.fromDer(forge.util.binary.raw.encode(der)));
    mem[p] = key;
    kept[p] = forge.pki.encryptRsaPrivateKey(key, pw, { algorithm: 'aes256', prfAlgorithm: 'sha256', count: 100000 });
  }
  // Kept before the requests leave: a reload after the submit must still find them.
  try { localStorage.setItem(KEYS + A.app, JSON.stringify(kept)); } catch { /* this page only: do not reload */ }
  A.keys = mem;
  A.password = pw;
  const body = { csrs: ['AUTH', 'SIGN'].map((p) => ({ purpose: p, der: base64(keys[p].csr) })) };
  if (email) body.email = email;
  await ask('submit_requests', body);
  await refresh();
}

// ---- the key stores ----

function issuedView() {
  const err = el('span', { class: 'err', id: 'storeErr', role: 'alert' });
  const out = [tx('h2', 'iss.issued.title'), tx('p', 'iss.issued.text')];
  if (A.stores.length) {
    out.push(el('ul', { class: 'list', id: 'stores' }, ...A.stores.map((x) => el('li', {},
      el('a', { href: x.url, download: x.name, 'data-store': x.purpose }, t('iss.store.' + x.purpose, { name: x.name }))))),
    tx('p', 'iss.issued.next', null, { class: 'muted' }));
    return out;
  }
  let kept = null;
  try { kept = JSON.parse(localStorage.getItem(KEYS + A.app) || 'null'); } catch { /* none */ }
  if (!A.keys && !kept) {
    out.push(tx('p', 'iss.store.no_keys', null, { class: 'bad' }));
    return out;
  }
  const form = el('form', { id: 'storeForm', novalidate: true },
    A.password ? null : field('pw', 'iss.password', el('input', { type: 'password', autocomplete: 'current-password', 'aria-describedby': 'storeErr' })),
    el('button', { type: 'submit', 'data-k': 'iss.store.make', text: t('iss.store.make') }), err);
  form.addEventListener('submit', (e) => { e.preventDefault(); run(() => buildStores(kept), err, 'iss.progress.store'); });
  out.push(form);
  return out;
}

async function buildStores(kept) {
  const forge = window.forge;
  const pw = A.password || $('pw').value;
  passwordCheck(pw);
  const keys = A.keys || {};
  for (const p of ['AUTH', 'SIGN']) {
    if (keys[p]) continue;
    // A wrong password mostly fails the cipher's padding (null), but about
    // one time in 256 it passes and the bytes are not a key at all (forge
    // throws parsing them): either way it is the wrong password.
    let k = null;
    try { k = kept && kept[p] && forge.pki.decryptRsaPrivateKey(kept[p], pw); } catch { k = null; }
    if (!k) throw Object.assign(new Error('password'), { code: 'iss_password_wrong' });
    keys[p] = k;
  }
  const ans = await ask('certificates');
  const stores = [];
  for (const c of ans.body.certificates) {
    const cert = forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.decode64(c.der)));
    const key = keys[c.purpose];
    if (!key || key.n.compareTo(cert.publicKey.n) !== 0) throw Object.assign(new Error('key'), { code: 'iss_store_mismatch' });
    // The chain goes in the store beside the certificate, its issuing CA
    // first, as NUC's own key stores carry it.
    const chain = (c.chain || []).map((d) => forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.decode64(d))));
    const p12 = forge.pkcs12.toPkcs12Asn1(key, [cert, ...chain], pw, { algorithm: 'aes256', prfAlgorithm: 'sha256', count: 100000, friendlyName: c.purpose });
    const bytes = forge.asn1.toDer(p12).getBytes();
    const arr = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) arr[i] = bytes.charCodeAt(i);
    // NUC's file name: the serial in lower-case hex, no leading zeros (pki.KeyStoreFileName).
    const serial = cert.serialNumber.toLowerCase().replace(/^0+(?=.)/, '');
    const name = (c.purpose === 'AUTH' ? 'AUTH_RSA256_' : 'RSA256_') + serial + '.p12';
    const blob = new Blob([arr], { type: 'application/x-pkcs12' });
    stores.push({ purpose: c.purpose, name, blob, url: URL.createObjectURL(blob) });
  }
  A.keys = keys;
  A.password = pw;
  A.stores = stores;
  render();
}

// ---- the page ----

async function main() {
  await i18n.init();
  for (const l of i18n.LANGS) $('lang-' + l).addEventListener('click', () => i18n.setLanguage(l));
  i18n.onLanguage((l) => {
    for (const x of i18n.LANGS) $('lang-' + x).setAttribute('aria-pressed', String(x === l));
    render(true);
  });
  for (const x of i18n.LANGS) $('lang-' + x).setAttribute('aria-pressed', String(x === i18n.current()));
  $('reloadBtn').addEventListener('click', () => location.reload());
  if (!(await resume())) render(true);
  document.body.classList.add('ready');
}

main().catch((e) => { console.error(e); say(e && e.code ? i18n.errorText(e.code) : t('err.unknown'), true); });
