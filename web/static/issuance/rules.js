// rules.js holds the checks the applicant's page makes before asking the
// server: an IIN's or BIN's shape and check digit (as domain/iin), and
// NUC's rule for a key-store password (as pki.ValidateKeyStorePassword).
// Each answers '' when the value passes, else the name of what is wrong,
// which the page turns into a catalog sentence (err.iss_iin_<problem>,
// err.iss_password_<problem>).

export { validIIN } from '../js/iin.js';

/**
 * passwordProblem checks NUC's key-store password rule: 6 to 32
 * characters; at least one of a-z and one of 0-9; A-Z and @ # % & * ~ _ - .
 * allowed; nothing else. Answers 'length', 'chars', 'lower', 'digit' or ''.
 */
export function passwordProblem(pw) {
  const s = String(pw || '');
  if (s.length < 6 || s.length > 32) return 'length';
  if (!/^[a-zA-Z0-9@#%&*~_.-]+$/.test(s)) return 'chars';
  if (!/[a-z]/.test(s)) return 'lower';
  if (!/[0-9]/.test(s)) return 'digit';
  return '';
}

/** showDate writes a document's YYYY-MM-DD date as people read it: dd.mm.yyyy. */
export function showDate(v) {
  return /^\d{4}-\d{2}-\d{2}$/.test(String(v)) ? String(v).split('-').reverse().join('.') : String(v);
}
