/** Display helpers: money in yuan, China-time dates, countdowns. */

const WEEKDAYS = ['周日', '周一', '周二', '周三', '周四', '周五', '周六'];
const CHINA_OFFSET_MS = 8 * 3600 * 1000;

/** 1200 fen → '¥12.00'. */
function yuan(fen) {
  const value = Number(fen) || 0;
  const sign = value < 0 ? '-' : '';
  const abs = Math.abs(value);
  const cents = String(abs % 100).padStart(2, '0');
  return `${sign}¥${Math.floor(abs / 100)}.${cents}`;
}

/** A Date's calendar date in China time, 'YYYY-MM-DD'. */
function chinaDate(date) {
  return new Date(date.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 10);
}

/** '2026-12-04' → {date, day: '12-04', weekday: '周五'}. */
function dayLabel(isoDate) {
  const [y, m, d] = isoDate.split('-').map(Number);
  const weekday = WEEKDAYS[new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return { date: isoDate, day: isoDate.slice(5), weekday };
}

/** The next `count` dates from `start` ('YYYY-MM-DD'), inclusive. */
function nextDates(start, count) {
  const [y, m, d] = start.split('-').map(Number);
  const out = [];
  for (let i = 0; i < count; i += 1) {
    out.push(new Date(Date.UTC(y, m - 1, d + i)).toISOString().slice(0, 10));
  }
  return out;
}

/** '2026-12-04T08:24:00+08:00' → '2026-12-04 08:24' (the server already speaks China time). */
function dateTime(iso) {
  if (!iso) return '';
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** '2026-12-04T08:24:00+08:00' → '08:24'. */
function clock(iso) {
  return iso ? iso.slice(11, 16) : '';
}

/** Seconds left until an ISO time, never negative. */
function secondsUntil(iso, now = Date.now()) {
  const left = Math.floor((Date.parse(iso) - now) / 1000);
  return left > 0 ? left : 0;
}

/** 754 → '12:34'. */
function mmss(seconds) {
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

module.exports = {
  yuan,
  chinaDate,
  dayLabel,
  nextDates,
  dateTime,
  clock,
  secondsUntil,
  mmss,
};
