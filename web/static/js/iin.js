// iin.js checks an IIN's or BIN's shape and check digit in the page, as
// domain/iin does on the server, so that a mistyped digit is told before
// anything is signed or sent. The client's application form and the
// issuance pages (through issuance/rules.js) share it.

const W1 = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const W2 = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

/** validIIN checks a 12-digit IIN or BIN: 'length', 'digits', 'check' or ''. */
export function validIIN(s) {
  if (String(s).length !== 12) return 'length';
  if (!/^[0-9]{12}$/.test(s)) return 'digits';
  for (const w of [W1, W2]) {
    let sum = 0;
    for (let i = 0; i < 11; i++) sum += Number(s[i]) * w[i];
    const d = sum % 11;
    if (d !== 10) return d === Number(s[11]) ? '' : 'check';
  }
  return 'check';
}
