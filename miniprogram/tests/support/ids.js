/** Valid 居民身份证 numbers for tests (GB 11643 check digit), by birth date and sex. */

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

function checkDigit(first17) {
  const sum = first17.split('').reduce((acc, digit, i) => acc + Number(digit) * WEIGHTS[i], 0);
  return CHECK[sum % 11];
}

/** residentId('2018-05-01', 'male', 3) → an 18-character number born that day. */
function residentId(birthDate, sex, serial = 1) {
  const order = String(serial * 2 + (sex === 'male' ? 1 : 0)).padStart(3, '0');
  const first17 = '110101' + birthDate.replace(/-/g, '') + order;
  return first17 + checkDigit(first17);
}

module.exports = { residentId, checkDigit };
