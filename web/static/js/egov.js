// eGov mobile signs by a link that the server makes (the sign_link query,
// transport/protocol/PROTOCOL.md): a QR on a computer, the app's deep link
// on a phone. The server computes the bytes itself, so the page only names
// what is signed; the CMS comes back as the `signed` push under the
// query's id, and the page goes on with it exactly as with NCALayer.

import { t } from './i18n.js';
import { $, el } from './ui.js';
import { ProtocolError } from './proto.js';

/**
 * onPhone says whether eGov mobile is on this device: a touch screen, a
 * narrow screen or a phone's browser open the deep link; elsewhere the
 * phone scans a QR.
 */
export function onPhone() {
  return matchMedia('(pointer: coarse)').matches || matchMedia('(max-width: 600px)').matches ||
    /Android|iPhone|iPad|Mobile/i.test(navigator.userAgent);
}

// clock is a countdown as m:ss (digits read the same in every language).
function clock(seconds) {
  const s = Math.max(0, seconds);
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

function desktopView(r) {
  return [
    el('img', { class: 'qr', src: r.qr_png, alt: t('egov.qr_alt'), width: 240, height: 240, 'data-link': r.qr }),
    el('p', { text: t('egov.scan') }),
  ];
}

// A link opens another app only from a tap on it, so the deep link is a
// real link the person taps, not a script's navigation.
function phoneView(r) {
  return [
    el('p', {}, el('a', { class: 'button', id: 'egovOpen', href: r.deep_link, target: '_blank', rel: 'noopener', 'data-k': 'egov.open', text: t('egov.open') })),
    el('p', { text: t('egov.phone') }),
  ];
}

/**
 * signByLink asks for a signing link for what (the sign_link body), shows
 * it until the phone signs and resolves with the CMS. An expired code is
 * offered anew ("New code"); Cancel rejects with signing_cancelled.
 */
export function signByLink(session, what) {
  return new Promise((resolve, reject) => {
    const dlg = $('dialog');
    let cur = null; // { id, expires } of the link on screen
    let timer = 0;
    const body = el('div', { class: 'egov-body' });
    const status = el('p', { class: 'muted', role: 'status' });
    const err = el('p', { class: 'err', role: 'alert' });
    const renew = el('button', { type: 'button', 'data-k': 'egov.renew', text: t('egov.renew'), hidden: true });
    const cancel = el('button', { type: 'button', class: 'secondary', 'data-k': 'egov.cancel', text: t('egov.cancel') });
    dlg.replaceChildren(el('div', { class: 'egov' }, el('h2', { id: 'dlgTitle', text: t('egov.title') }), body, status, err, el('div', { class: 'row' }, renew, cancel)));
    dlg.setAttribute('aria-labelledby', 'dlgTitle');
    const drop = () => {
      clearInterval(timer);
      if (cur) session.unwatch(cur.id);
      cur = null;
    };
    const finish = (fn, v) => {
      drop();
      if (dlg.open) dlg.close();
      fn(v);
    };
    const expired = () => {
      drop();
      body.replaceChildren();
      status.textContent = t('egov.expired');
      renew.hidden = false;
      renew.focus();
    };
    // The server's link_expired push decides; the countdown only shows it.
    const tick = () => {
      if (!cur) return;
      const left = Math.round((cur.expires - Date.now()) / 1000);
      if (left <= 0) { expired(); return; }
      status.textContent = t('egov.expires', { time: clock(left) }) + ' ' + t('egov.waiting');
    };
    const onPush = (env) => {
      if (env.type === 'signed' && env.body && env.body.cms) finish(resolve, env.body.cms);
      else if (env.type === 'error' && env.code === 'link_expired') expired();
      else if (env.type === 'error') finish(reject, new ProtocolError(env.code, env.message || ''));
    };
    const ask = async () => {
      renew.hidden = true;
      err.textContent = '';
      try {
        const r = await session.watchQuery('sign_link', what, onPush);
        cur = { id: r.id, expires: Date.parse(r.body.expires_at) };
        body.replaceChildren(...(onPhone() ? phoneView(r.body) : desktopView(r.body)));
        const open = body.querySelector('#egovOpen');
        if (open) open.focus(); // the next step on a phone
        clearInterval(timer);
        timer = setInterval(tick, 1000);
        tick();
      } catch (e) {
        finish(reject, e);
      }
    };
    renew.addEventListener('click', ask);
    cancel.addEventListener('click', () => finish(reject, new ProtocolError('signing_cancelled', 'cancelled')));
    dlg.oncancel = (e) => { e.preventDefault(); cancel.click(); };
    dlg.showModal();
    cancel.focus();
    ask();
  });
}
