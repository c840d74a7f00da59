// The act's video call through Senim's SFU: the server leads (it offers,
// the app answers), candidates trickle both ways, TURN servers come with
// joined. The video elements live in index.html and are never re-rendered,
// so a screen update does not cut the picture.
//
// Simulcast: if this browser sends simulcast when answering an offer that
// asks for it (answersSimulcast, tried on two local connections: Chromium
// does not, it makes the camera's m-line inactive), the app joins with
// simulcast and the server's offers ask for three layers (rids q, h, f),
// which layers() sizes (about 180p, 360p, 720p). Otherwise the camera goes
// as one layer. The server sends each participant the best layer their
// connection carries, and a "network" message when it is too weak for
// video at all.

import { $ } from './ui.js';
import { t } from './i18n.js';

/**
 * join enters the act's call on session s and returns the call:
 * { act, pc, stream, queue }. onChange is called when its state changes.
 */
export async function join(s, act, relayOnly, onChange) {
  // On a phone the front camera: the notary must see the person's face
  // (a computer's single camera satisfies this too).
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'user' }, audio: true });
  // The server's offer comes right after joined; media messages wait on
  // the call's queue until the peer connection exists.
  let ready;
  const call = { act, pc: null, stream, state: 'new', queue: new Promise((r) => { ready = r; }), onChange };
  let joined;
  try {
    const simulcast = await answersSimulcast();
    joined = await s.request({ type: 'media', act, body: simulcast ? { kind: 'join', simulcast } : { kind: 'join' } });
  } catch (e) {
    stream.getTracks().forEach((tr) => tr.stop());
    ready();
    throw e;
  }
  const ice = joined.body.ice_servers || [];
  const pc = new RTCPeerConnection({
    iceServers: ice.map((x) => ({ urls: x.urls, username: x.username, credential: x.credential })),
    iceTransportPolicy: relayOnly ? 'relay' : 'all',
  });
  call.pc = pc;
  $('localVideo').srcObject = stream;
  for (const tr of stream.getTracks()) pc.addTrack(tr, stream);
  pc.ontrack = (e) => {
    const remote = e.streams[0];
    if (remote && e.track.kind === 'video') $('remoteVideo').srcObject = remote;
  };
  pc.onicecandidate = (e) => { if (e.candidate) s.signal(act, { kind: 'candidate', candidate: e.candidate.toJSON() }); };
  pc.onconnectionstatechange = () => { call.state = pc.connectionState; onChange(call); };
  ready();
  call.notice = joined.body.notice || '';
  onChange(call);
  return call;
}

/** onMedia handles the server's signaling for call c. */
export function onMedia(s, c, env, onClosed) {
  if (!c || env.act !== c.act) return;
  const m = env.body;
  c.queue = c.queue.then(async () => {
    if (!c.pc) return; // the join failed
    if (m.kind === 'offer') {
      await c.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      await layers(c.pc);
      const answer = await c.pc.createAnswer();
      await c.pc.setLocalDescription(answer);
      s.signal(c.act, { kind: 'answer', sdp: answer.sdp });
    } else if (m.kind === 'candidate' && m.candidate) {
      await c.pc.addIceCandidate(m.candidate);
    } else if (m.kind === 'closed') {
      onClosed();
    } else if (m.kind === 'network') {
      c.network = m.state === 'ok' ? '' : m.state;
      c.onChange(c);
    }
  }).catch((e) => console.warn('call', e));
}

// The simulcast layers, by rid: scaled down from the camera's picture
// (720p on most phones) and capped in bitrate.
const LAYERS = {
  q: { scaleResolutionDownBy: 4, maxBitrate: 150000 },
  h: { scaleResolutionDownBy: 2, maxBitrate: 500000 },
  f: { scaleResolutionDownBy: 1, maxBitrate: 1500000 },
};

/** layers sizes the camera's simulcast encodings the offer asked for. */
async function layers(pc) {
  for (const tr of pc.getTransceivers()) {
    const sender = tr.sender;
    if (!sender || !sender.track || sender.track.kind !== 'video') continue;
    const p = sender.getParameters();
    if (!p.encodings || p.encodings.length < 2) continue;
    let changed = false;
    for (const e of p.encodings) {
      const want = LAYERS[e.rid];
      if (!want) continue;
      for (const [k, v] of Object.entries(want)) {
        if (e[k] !== v) { e[k] = v; changed = true; }
      }
    }
    if (changed) {
      try { await sender.setParameters(p); } catch (e) { console.warn('simulcast layers', e); }
    }
  }
}

let simulcastProbe = null;

/**
 * answersSimulcast tells (once) whether this browser, answering an offer
 * with a=simulcast:recv, sends its camera in those layers: a loopback
 * negotiation between two local connections, no network.
 */
function answersSimulcast() {
  if (!simulcastProbe) simulcastProbe = probeSimulcast().catch(() => false);
  return simulcastProbe;
}

async function probeSimulcast() {
  const a = new RTCPeerConnection();
  const b = new RTCPeerConnection();
  const canvas = document.createElement('canvas');
  canvas.width = 64; canvas.height = 64;
  canvas.getContext('2d').fillRect(0, 0, 64, 64);
  const track = canvas.captureStream(1).getVideoTracks()[0];
  try {
    a.addTransceiver('video', { direction: 'recvonly' });
    const offer = await a.createOffer();
    const ask = 'a=rid:q recv\r\na=rid:h recv\r\na=rid:f recv\r\na=simulcast:recv q;h;f\r\n';
    b.addTrack(track);
    await b.setRemoteDescription({ type: 'offer', sdp: offer.sdp.replace(/\r\n$/, '\r\n' + ask) });
    const answer = await b.createAnswer();
    const sender = b.getSenders().find((x) => x.track === track);
    return /a=simulcast:send/.test(answer.sdp) && /a=sendonly|a=sendrecv/.test(answer.sdp)
      && !!sender && sender.getParameters().encodings.length === 3;
  } finally {
    track.stop();
    a.close();
    b.close();
  }
}

/** networkText is what the call's network state means to the person, or ''. */
export function networkText(c) {
  return c && c.network ? t('call.network.' + c.network) : '';
}

/** hangUp stops the camera and the connection of call c. */
export function hangUp(c) {
  if (!c) return;
  c.stream.getTracks().forEach((tr) => tr.stop());
  if (c.pc) c.pc.close();
  $('localVideo').srcObject = null;
  $('remoteVideo').srcObject = null;
}

/** stateText is the connection state in words. */
export function stateText(c) {
  if (!c) return t('call.state.off');
  return t('call.state.' + (c.state || 'new'));
}
