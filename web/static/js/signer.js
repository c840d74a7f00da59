// Signers turn bytes into a CMS SignedData (attached) with the person's
// key. A signer is { id, label (catalog key), sign(b64, purpose, locale,
// ctx) }: NCALayer signs the bytes b64 on this computer; eGov mobile signs
// on the phone what ctx.what names (the sign_link body: the server computes
// the same bytes) through ctx.session. purpose is 'auth' (sign-in, the AUTH
// key) or 'sign' (every signed step).

/* global NCALayerClient */

import { ProtocolError } from './proto.js';
import { signByLink, onPhone } from './egov.js';

const OIDS = { auth: ['1.3.6.1.5.5.7.3.2'], sign: ['1.3.6.1.5.5.7.3.4'] };

// The real NCALayer and `senim dev ncalayer` listen on wss; `--plain` on ws.
// ?ncalayer=ws://127.0.0.1:PORT points the page at another signer.
function urls() {
  const u = new URLSearchParams(location.search).get('ncalayer');
  return u ? [u] : ['wss://127.0.0.1:13579', 'ws://127.0.0.1:13579'];
}

/** ncalayer signs through NCALayer with the vendored ncalayer-js-client. */
export const ncalayer = {
  id: 'ncalayer',
  label: 'signer.ncalayer',
  async sign(b64, purpose, locale) {
    let client = null;
    for (const url of urls()) {
      const c = new NCALayerClient(url, false);
      try {
        await c.connect();
        client = c;
        break;
      } catch { /* try the next address */ }
    }
    if (!client) throw new ProtocolError('ncalayer_unavailable', 'NCALayer is not running');
    try {
      const cms = await client.basicsSignCMS(NCALayerClient.basicsStorageAll, b64,
        NCALayerClient.basicsCMSParamsAttached, { extKeyUsageOids: OIDS[purpose], chain: [] }, locale === 'en' ? 'en' : (locale === 'kk' ? 'kk' : 'ru'));
      return Array.isArray(cms) ? cms[0] : cms;
    } catch (e) {
      throw new ProtocolError(e && e.canceledByUser ? 'signing_cancelled' : 'signing_failed', String(e && e.message));
    } finally {
      if (client.wsConnection) client.wsConnection.close();
    }
  },
};

/** egov signs in eGov mobile by QR or deep link; it shows its own dialog. */
export const egov = {
  id: 'egov',
  label: 'signer.egov',
  dialog: true,
  sign(b64, purpose, locale, ctx) { return signByLink(ctx.session, ctx.what); },
};

/** SIGNERS are the ways to sign, in the order offered. */
export const SIGNERS = [ncalayer, egov];

const STORE = 'senim.signer';

// On a phone NCALayer cannot run: eGov mobile is the way there. Only a
// touch screen or a phone's browser count: a narrow desktop window keeps
// NCALayer.
function fallback() {
  return matchMedia('(pointer: coarse)').matches || /Android|iPhone|iPad|Mobile/i.test(navigator.userAgent) ? egov : ncalayer;
}

/** signer is the one in use: the person's choice (kept on this device, it names no one), else the device's usual one. */
export function signer() {
  let id = null;
  try { id = localStorage.getItem(STORE); } catch { /* storage may be off: the device decides */ }
  return SIGNERS.find((s) => s.id === id) || fallback();
}

/** choose makes the signer with id the one in use. */
export function choose(id) {
  try { localStorage.setItem(STORE, id); } catch { /* for this page only */ }
}

export { onPhone };
