// Signers turn bytes into a CMS SignedData (attached) with the person's
// key. A signer is { id, label (catalog key), sign(b64, purpose, locale) }:
// NCALayer today; eGov mobile by QR is meant to sit beside it in SIGNERS.
// purpose is 'auth' (sign-in, the AUTH key) or 'sign' (every signed step).

/* global NCALayerClient */

import { ProtocolError } from './proto.js';

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

/** SIGNERS are the ways to sign, in the order offered. */
export const SIGNERS = [ncalayer];

/** signer is the one in use (the first, until a second exists to choose). */
export function signer() { return SIGNERS[0]; }
