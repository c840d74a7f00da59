// csr.js makes the applicant's keys and PKCS#10 certificate requests in the
// browser, for remote EDS issuance: an RSA-2048 key pair per purpose (AUTH
// to sign in, SIGN to sign documents), made by WebCrypto on this device, and
// a DER PKCS#10 request per key. Only the request leaves the device; the
// server builds the certificate's subject itself and checks the request's
// signature, key size and that its key is new (ca.ParseCSR).
//
// The request asks for serialNumber=IIN… (and OU=BIN… for a legal entity's
// employee) and for the purpose's usage, as NUC sets it: AUTH
// digitalSignature + keyEncipherment with clientAuth, SIGN digitalSignature
// + nonRepudiation with emailProtection. The DER is encoded here (a small
// encoder for the few types a request needs); the signature is WebCrypto's
// (RSASSA-PKCS1-v1_5 with SHA-256).
//
// Extractable keys, by decision: what the applicant takes home is a
// PKCS#12 key store for NCALayer (seed 002, step 6), and a key store needs
// the private key's bytes, which WebCrypto gives only for an extractable key.
// A non-extractable key would stay locked in this browser profile and be
// lost with it. So makeApplicantKeys makes extractable keys by default,
// keeps them in memory only (never in storage, never sent), and the page
// exports each once, with exportPKCS8, to build the key store when the
// certificates arrive. { extractable: false } is there for a page that only
// needs the request (a test, a demonstration); its keys cannot become a key
// store.

const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
};

// ---- DER ----

function concat(parts) {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function length(n) {
  if (n < 0x80) return [n];
  const bytes = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

/** tlv encodes one DER element: tag, length, the contents (byte arrays). */
function tlv(tag, ...contents) {
  const body = concat(contents);
  return concat([new Uint8Array([tag, ...length(body.length)]), body]);
}

const seq = (...c) => tlv(0x30, ...c);
const set = (...c) => tlv(0x31, ...c);
const int0 = () => tlv(0x02, new Uint8Array([0]));
const nul = () => tlv(0x05);
const bool = (v) => tlv(0x01, new Uint8Array([v ? 0xff : 0]));
const octets = (b) => tlv(0x04, b);
const bits = (unused, b) => tlv(0x03, new Uint8Array([unused]), b);
const printable = (s) => tlv(0x13, new TextEncoder().encode(s));
const utf8 = (s) => tlv(0x0c, new TextEncoder().encode(s));

function oid(dotted) {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const b = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) b.unshift(0x80 | (v & 0x7f));
    out.push(...b);
  }
  return tlv(0x06, new Uint8Array(out));
}

// ---- the request ----

const OID = {
  country: '2.5.4.6',
  serialNumber: '2.5.4.5',
  orgUnit: '2.5.4.11',
  extensionRequest: '1.2.840.113549.1.9.14',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  sha256WithRSA: '1.2.840.113549.1.1.11',
};

// The usage each purpose asks for: KeyUsage bits (unused bits, byte) and
// the extended key usage.
const USAGE = {
  AUTH: { ku: [5, 0xa0], eku: OID.clientAuth }, // digitalSignature, keyEncipherment
  SIGN: { ku: [6, 0xc0], eku: OID.emailProtection }, // digitalSignature, nonRepudiation
};

const DIGITS = /^[0-9]{12}$/;

function subject({ iin, bin }) {
  if (!DIGITS.test(iin || '')) throw new Error('csr: iin must be 12 digits');
  const rdn = (type, value) => set(seq(oid(type), value));
  const rdns = [rdn(OID.country, printable('KZ')), rdn(OID.serialNumber, printable('IIN' + iin))];
  if (bin) {
    if (!DIGITS.test(bin)) throw new Error('csr: bin must be 12 digits');
    rdns.push(rdn(OID.orgUnit, utf8('BIN' + bin)));
  }
  return seq(...rdns);
}

function extensions(purpose) {
  const u = USAGE[purpose];
  if (!u) throw new Error('csr: purpose must be AUTH or SIGN');
  const ku = seq(oid(OID.keyUsage), bool(true), octets(bits(u.ku[0], new Uint8Array([u.ku[1]]))));
  const eku = seq(oid(OID.extKeyUsage), octets(seq(oid(u.eku))));
  return seq(oid(OID.extensionRequest), set(seq(ku, eku)));
}

/**
 * makeCSR returns the DER PKCS#10 request (Uint8Array) of keyPair for
 * purpose ('AUTH' or 'SIGN') and the holder { iin, bin? }.
 */
export async function makeCSR(keyPair, purpose, holder) {
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keyPair.publicKey));
  const info = seq(int0(), subject(holder), spki, tlv(0xa0, extensions(purpose)));
  const sig = new Uint8Array(await crypto.subtle.sign(RSA.name, keyPair.privateKey, info));
  return seq(info, seq(oid(OID.sha256WithRSA), nul()), bits(0, sig));
}

/** generateKeyPair makes one RSA-2048 signing key pair. */
export function generateKeyPair({ extractable = true } = {}) {
  return crypto.subtle.generateKey(RSA, extractable, ['sign', 'verify']);
}

/**
 * makeApplicantKeys makes the AUTH and the SIGN key pair of the holder
 * { iin, bin? } and their requests: { AUTH: { keyPair, csr }, SIGN: {…} },
 * csr being DER.
 */
export async function makeApplicantKeys(holder, { extractable = true } = {}) {
  const out = {};
  for (const purpose of ['AUTH', 'SIGN']) {
    const keyPair = await generateKeyPair({ extractable });
    out[purpose] = { keyPair, csr: await makeCSR(keyPair, purpose, holder) };
  }
  return out;
}

/** exportPKCS8 returns the private key's PKCS#8 DER, for the key store. */
export async function exportPKCS8(keyPair) {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', keyPair.privateKey));
}

/** base64 encodes DER for JSON (the protocol's byte fields are base64). */
export function base64(der) {
  let s = '';
  for (const b of der) s += String.fromCharCode(b);
  return btoa(s);
}
