// The act's video call through Senim's SFU. The app offers once, first,
// for what it sends (camera and microphone; the camera in three simulcast
// layers of its own sendEncodings, rids q, h, f: about 180p, 360p, 720p),
// and the server answers (a=simulcast:recv). After that the server leads:
// it offers the other participant's tracks and ICE restarts, the app
// answers. One side offers at a time (the server makes no offer before its
// answer and takes no offer after), so there is no glare. Candidates
// trickle both ways, TURN servers come with joined. The video elements
// live in index.html and are never re-rendered, so a screen update does
// not cut the picture.
//
// Chromium sends simulcast only for an offer it makes itself: answering an
// offer that asks for layers, it makes the camera's m-line inactive. The
// server sends each participant the best layer their connection carries,
// and a "network" message when it is too weak for video at all.

import { $ } from './ui.js';
import { t } from './i18n.js';

/**
 * join enters the act's call on session s and returns the call:
 * { act, pc, stream, queue }. onChange is called when its state changes.
 */
export async function join(s, act, relayOnly, onChange) {
  // On a phone the front camera: the notary must see the person's face
  // (a computer's single camera satisfies this too).
  // 720p where the camera has it: the simulcast's best layer.
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 } }, audio: true,
  });
  // The server's answer (to the offer made below) and its offers come
  // after joined; media messages wait on the call's queue until the peer
  // connection has made its offer.
  let ready;
  const call = { act, pc: null, stream, state: 'new', queue: new Promise((r) => { ready = r; }), onChange };
  let joined;
  try {
    joined = await s.request({ type: 'media', act, body: { kind: 'join', offers: true } });
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
  for (const tr of stream.getTracks()) {
    const init = { direction: 'sendonly', streams: [stream] };
    if (tr.kind === 'video') init.sendEncodings = ENCODINGS;
    pc.addTransceiver(tr, init);
  }
  pc.ontrack = (e) => {
    const remote = e.streams[0];
    if (remote && e.track.kind === 'video') $('remoteVideo').srcObject = remote;
  };
  pc.onicecandidate = (e) => { if (e.candidate) s.signal(act, { kind: 'candidate', candidate: e.candidate.toJSON() }); };
  pc.onconnectionstatechange = () => { call.state = pc.connectionState; onChange(call); };
  // The one offer of the app: the server's answer comes as a media
  // message, through the queue like the rest.
  try {
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    s.signal(act, { kind: 'offer', sdp: offer.sdp });
  } finally {
    ready();
  }
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
    if (m.kind === 'answer') {
      await c.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
    } else if (m.kind === 'offer') {
      await c.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
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

// The camera's simulcast encodings, lowest first: scaled down from the
// camera's picture (720p on most phones) and capped in bitrate.
const ENCODINGS = [
  { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: 150000 },
  { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: 500000 },
  { rid: 'f', scaleResolutionDownBy: 1, maxBitrate: 1500000 },
];

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
