// The act's video call through Senim's SFU: the server leads (it offers,
// the app answers), candidates trickle both ways, TURN servers come with
// joined. The video elements live in index.html and are never re-rendered,
// so a screen update does not cut the picture.

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
    joined = await s.request({ type: 'media', act, body: { kind: 'join' } });
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
      const answer = await c.pc.createAnswer();
      await c.pc.setLocalDescription(answer);
      s.signal(c.act, { kind: 'answer', sdp: answer.sdp });
    } else if (m.kind === 'candidate' && m.candidate) {
      await c.pc.addIceCandidate(m.candidate);
    } else if (m.kind === 'closed') {
      onClosed();
    }
  }).catch((e) => console.warn('call', e));
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
