// The protocol client: one websocket (senim.v1), JSON envelopes, answers
// matched to requests by id (transport/protocol/PROTOCOL.md). It knows
// nothing of screens: pushes (events, offers, media) go to handlers.

let counter = 0;
const newId = () => 'w' + Date.now().toString(36) + '-' + (++counter);

/** ProtocolError is a refusal from the server: code is the stable code. */
export class ProtocolError extends Error {
  constructor(code, message) {
    super(code + ': ' + message);
    this.code = code;
  }
}

/** Session is one signed-in websocket session. */
export class Session {
  constructor(handlers) {
    this.ws = null;
    this.pending = new Map();
    this.watchers = new Map(); // query id → fn: pushes that answer a query later (sign_link)
    this.handlers = handlers; // onEvent, onOffer, onOfferGone, onOperatorState, onMedia, onClose, onError
    this.challenge = null;
  }

  /** connect opens the websocket and resolves with the server's challenge. */
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws', 'senim.v1');
      let greeted = false;
      ws.onerror = () => { if (!greeted) reject(new ProtocolError('connection_failed', 'cannot reach the server')); };
      // A close reason ("revoked: …", "account_removed: …") says why the server ended the session.
      ws.onclose = (e) => {
        this.ws = null;
        for (const p of this.pending.values()) p.reject(new ProtocolError('connection_closed', 'closed'));
        this.pending.clear();
        for (const fn of this.watchers.values()) fn({ type: 'error', code: 'connection_closed' });
        this.watchers.clear();
        if (greeted) this.handlers.onClose && this.handlers.onClose(String(e.reason || '').split(':')[0]);
      };
      ws.onmessage = (e) => {
        const env = JSON.parse(e.data);
        if (env.type === 'challenge') { greeted = true; this.challenge = env.body; resolve(env.body); return; }
        this.dispatch(env);
      };
      this.ws = ws;
    });
  }

  dispatch(env) {
    const h = this.handlers;
    switch (env.type) {
      case 'event': h.onEvent && h.onEvent(env); return;
      case 'offer': h.onOffer && h.onOffer(env); return;
      case 'offer_gone': h.onOfferGone && h.onOfferGone(env); return;
      case 'operator_state': h.onOperatorState && h.onOperatorState(env); return;
      case 'media': if (!env.id || !this.pending.has(env.id)) { h.onMedia && h.onMedia(env); return; } break;
    }
    // A push under a query's id once its answer came: a sign_link's
    // `signed`, or the error that the link expired unused.
    if (env.id && !this.pending.has(env.id) && this.watchers.has(env.id)) { this.watchers.get(env.id)(env); return; }
    const p = env.id && this.pending.get(env.id);
    if (p) {
      this.pending.delete(env.id);
      if (env.type === 'error') p.reject(new ProtocolError(env.code, env.message));
      else p.resolve(env);
      return;
    }
    if (env.type === 'error') h.onError && h.onError(new ProtocolError(env.code, env.message));
  }

  /** request sends env and resolves with the answer of the same id. */
  request(env) {
    env.id = env.id || newId();
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) { reject(new ProtocolError('connection_closed', 'not connected')); return; }
      this.pending.set(env.id, { resolve, reject });
      this.ws.send(JSON.stringify(env));
    });
  }

  command(act, name, body) { return this.request({ type: 'command', act, name, body: body || {} }); }

  query(name, act, body) { return this.request({ type: 'query', name, act: act || undefined, body: body || {} }).then((e) => e.body); }

  /**
   * watchQuery sends a query whose id later carries pushes (sign_link: the
   * `signed` push, or link_expired); onPush gets each until unwatch(id).
   * Resolves with { id, body }.
   */
  watchQuery(name, body, onPush) {
    const id = newId();
    this.watchers.set(id, onPush);
    return this.request({ id, type: 'query', name, body: body || {} }).then((e) => ({ id, body: e.body }),
      (e) => { this.watchers.delete(id); throw e; });
  }

  /** unwatch stops the pushes of a watched query. */
  unwatch(id) { this.watchers.delete(id); }

  operator(name, act) { return this.request({ type: 'operator', name, act: act || undefined }); }

  signal(act, body) { if (this.ws) this.ws.send(JSON.stringify({ type: 'media', act, body })); }

  close() { if (this.ws) this.ws.close(1000, 'signed out'); }
}
