// The app's shared state and the few steps every screen uses: commands,
// queries, and signing the exact bytes the server will check.

import { current, t } from './i18n.js';
import { signer } from './signer.js';
import { progress } from './ui.js';

/** S is the page's state; window.senim exposes it to tests and the curious. */
export const S = {
  session: null, me: null, act: null, state: null, events: [], offers: new Map(),
  call: null, operator: 'away', inProgress: null, queue: null, rerender: () => {},
};
window.senim = S;

/** query asks the server (act may be empty). */
export const query = (name, act, body) => S.session.query(name, act, body);

/** command sends a command to an act. */
export const command = (act, name, body) => S.session.command(act, name, body);

/**
 * signBytes signs base64 bytes with the signer in use, showing progress.
 * what names the same bytes for the server (the sign_link body), for a
 * signer that signs elsewhere (eGov mobile).
 */
export async function signBytes(b64, purpose, what) {
  const s = signer();
  const done = s.dialog ? () => {} : progress('progress.signing', { signer: t(s.label) });
  try {
    return await s.sign(b64, purpose, current(), { session: S.session, what });
  } finally {
    done();
  }
}

/** signStep signs what the server will check for a signed step of act. */
export async function signStep(act, what, revision) {
  const link = { what, act, revision: revision || 0 };
  if (signer().dialog) return signBytes(null, 'sign', link);
  const ts = await query('to_sign', act, { what, revision: revision || 0 });
  return signBytes(ts.data, 'sign', link);
}

/** FINAL are the phases after which nothing more happens to an act. */
export const FINAL = ['signed', 'refused', 'cancelled', 'revoked', 'consent_refused', 'chain_broken', 'storage_corrupt'];

/** current revision of state s, or undefined. */
export const lastRevision = (s) => s && s.revisions && s.revisions[s.revisions.length - 1];

/** paid says whether the act's open invoice is paid. */
export const paid = (s) => !!(s && s.invoice && (s.payments || []).some((p) => p.invoice_id === s.invoice.id));

/** decodeText turns base64 bytes (UTF-8) into text. */
export function decodeText(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}
