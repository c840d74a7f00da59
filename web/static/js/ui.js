// Small DOM helpers shared by the screens: elements, buttons that say why
// they are disabled, errors next to their control and in the live region,
// progress for long waits, and a confirmation dialog for dangerous steps.

import { t, errorText } from './i18n.js';

/** $ is document.getElementById. */
export const $ = (id) => document.getElementById(id);

/** el builds an element: attrs (on* are listeners), then children (strings are text). */
export function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat(Infinity)) if (k !== null && k !== undefined && k !== false) e.append(k);
  return e;
}

/** tx is an element whose text is the catalog's key (data-k lets tests find it). */
export function tx(tag, key, vars, attrs) {
  return el(tag, { ...(attrs || {}), 'data-k': key, text: t(key, vars) });
}

let errSeq = 0;

/**
 * button is a button labelled by key that runs fn with errors shown beside
 * it. opts: vars (label placeholders), kind ('secondary' | 'danger'),
 * disabled (a catalog key saying why it cannot work yet), confirm (a
 * catalog key: ask first; with reason: true the dialog asks for a reason,
 * passed to fn), busy (a catalog key shown while fn runs).
 */
export function button(key, fn, opts) {
  const o = opts || {};
  const id = 'b' + (++errSeq);
  const err = el('span', { class: 'err', id: id + '-err', role: 'alert' });
  const why = o.disabled ? el('span', { class: 'why', id: id + '-why', text: t(o.disabled) }) : null;
  const b = el('button', {
    type: 'button', 'data-k': key, class: o.kind || undefined,
    disabled: !!o.disabled, 'aria-describedby': why ? id + '-why' : id + '-err', title: why ? t(o.disabled) : undefined,
  });
  b.textContent = t(key, o.vars);
  b.addEventListener('click', async () => {
    let arg;
    if (o.confirm) {
      arg = await confirmDialog(o.confirm, o.vars, o.reason);
      if (!arg) return;
    }
    await run(() => fn(arg), err, o.busy);
  });
  return el('span', { class: 'control' }, b, why, err);
}

/** say puts a message in the page's live region (polite: progress; assertive: errors). */
export function say(text, urgent) {
  const r = $(urgent ? 'alerts' : 'status');
  if (r) r.textContent = text;
}

/** explain is the person's sentence for an error: a known code, or the generic one. */
export function explain(e) {
  if (e && e.code) return errorText(e.code);
  return t('err.unknown');
}

/** run calls fn, showing busyKey meanwhile and an error next to errEl and in the live region. */
export async function run(fn, errEl, busyKey) {
  if (errEl) errEl.replaceChildren();
  say('', true); // an old alert must not stand for this attempt
  const prog = busyKey ? progress(busyKey) : null;
  try {
    await fn();
    return true;
  } catch (e) {
    if (e && e.code === 'cancelled') return false;
    console.warn(e);
    const msg = explain(e);
    if (errEl) {
      errEl.replaceChildren(msg);
      if (e && e.code === 'ncalayer_unavailable') {
        errEl.append(' ', el('a', { href: 'https://pki.gov.kz/ncalayer/', target: '_blank', rel: 'noopener', text: t('ncalayer.get') }));
      }
    }
    say(msg, true);
    return false;
  } finally {
    if (prog) prog();
  }
}

/** progress shows a spinner with key's text until the returned function is called. */
export function progress(key, vars) {
  const box = $('progress');
  const item = el('div', { class: 'progress-item', role: 'status' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), t(key, vars));
  box.append(item);
  say(t(key, vars));
  return () => { item.remove(); };
}

/** confirmDialog asks before a dangerous step; resolves true on yes. */
export function confirmDialog(key, vars, withReason) {
  return new Promise((resolve) => {
    const dlg = $('dialog');
    const reason = withReason ? el('textarea', { id: 'dlgReason', required: true, rows: 3 }) : null;
    const err = el('span', { class: 'err', role: 'alert' });
    const yes = el('button', { type: 'button', class: 'danger', 'data-k': 'dialog.yes', text: t('dialog.yes') });
    const no = el('button', { type: 'button', class: 'secondary', 'data-k': 'dialog.no', text: t('dialog.no') });
    dlg.replaceChildren(el('form', { method: 'dialog' },
      el('h2', { id: 'dlgTitle', text: t(key, vars) }),
      reason ? el('label', { for: 'dlgReason', text: t('dialog.reason') }) : null, reason, err,
      el('div', { class: 'row' }, yes, no)));
    dlg.setAttribute('aria-labelledby', 'dlgTitle');
    const done = (v) => { dlg.close(); resolve(v); };
    yes.addEventListener('click', () => {
      if (reason && !reason.value.trim()) { err.textContent = t('err.reason_required'); reason.focus(); return; }
      done(reason ? reason.value.trim() : true);
    });
    no.addEventListener('click', () => done(false));
    dlg.addEventListener('cancel', () => resolve(false), { once: true });
    dlg.showModal();
    (reason || no).focus();
  });
}

/** cancelled is the error run() stays quiet about. */
export function cancelled() { return Object.assign(new Error('cancelled'), { code: 'cancelled' }); }

/**
 * byField wraps fn for run(): an error about one field (fields are
 * [id, code pattern] pairs) is shown next to that field, in '<id>Err', and
 * in the live region; the field is marked invalid and focused. Other errors
 * go on to run()'s errEl.
 */
export function byField(fn, fields) {
  return async () => {
    for (const [id] of fields) {
      if ($(id)) $(id).removeAttribute('aria-invalid');
      if ($(id + 'Err')) $(id + 'Err').replaceChildren();
    }
    try {
      return await fn();
    } catch (e) {
      const f = e && e.code && fields.find(([id, re]) => re.test(e.code) && $(id + 'Err'));
      if (!f) throw e;
      const msg = explain(e);
      $(f[0] + 'Err').replaceChildren(msg);
      $(f[0]).setAttribute('aria-invalid', 'true');
      $(f[0]).focus();
      say(msg, true);
      throw cancelled();
    }
  };
}
