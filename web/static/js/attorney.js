// The attorney's cabinet: the acts waiting for their consent first, then
// every power of attorney naming them; consent by EDS, or a refusal.

import { t } from './i18n.js';
import { $, el, tx, button } from './ui.js';
import { command, query, signStep } from './state.js';
import { actItem } from './client.js';
import { signedBlock } from './client.js';

/** home lists the acts naming the attorney, those awaiting consent apart. */
export async function home() {
  $('attorneyHome').hidden = false;
  const r = await query('attorney_acts');
  const acts = r.acts || [];
  const waiting = acts.filter((a) => a.phase === 'awaiting_consent');
  const others = acts.filter((a) => a.phase !== 'awaiting_consent');
  const empty = () => [tx('li', 'list.empty', null, { class: 'muted' })];
  $('attorneyWaiting').replaceChildren(...(waiting.length ? waiting.map(actItem) : empty()));
  $('attorneyActs').replaceChildren(...(others.length ? others.map(actItem) : empty()));
}

/** actions: consent or refuse while asked; the document once signed. */
export function actions(s) {
  const out = [];
  if (s.phase === 'awaiting_consent') {
    out.push(el('section', { class: 'consent', 'aria-labelledby': 'consentTitle' },
      el('h3', { id: 'consentTitle', text: t('attorney.consent.title') }),
      el('p', { text: t('attorney.consent.text', { principal: s.principal.name || s.principal.iin }) }),
      el('div', { class: 'row' },
        button('attorney.consent', async () => command(s.id, 'give_consent', { cms: await signStep(s.id, 'consent') })),
        button('attorney.refuse', (reason) => command(s.id, 'refuse_consent', { reason }), { kind: 'danger', confirm: 'confirm.refuse_consent', reason: true }))));
  }
  if (s.phase === 'signed') out.push(signedBlock(s, false));
  return out;
}

/** onEvent keeps the list fresh. */
export function onEvent() { home().catch(() => {}); }
