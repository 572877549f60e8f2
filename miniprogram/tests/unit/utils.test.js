const format = require('../../src/utils/format');
const storage = require('../../src/utils/storage');
const nav = require('../../src/utils/nav');
const qr = require('../../src/utils/qr');
const constants = require('../../src/constants/index');

describe('utils/format', () => {
  test('shows fen as yuan', () => {
    expect(format.yuan(1200)).toBe('¥12.00');
    expect(format.yuan(5)).toBe('¥0.05');
    expect(format.yuan(0)).toBe('¥0.00');
    expect(format.yuan(-250)).toBe('-¥2.50');
  });

  test('works in China dates', () => {
    expect(format.chinaDate(new Date('2026-12-03T16:30:00Z'))).toBe('2026-12-04');
    expect(format.dayLabel('2026-12-04')).toEqual({
      date: '2026-12-04',
      day: '12-04',
      weekday: '周五',
    });
    expect(format.nextDates('2026-12-30', 3)).toEqual(['2026-12-30', '2026-12-31', '2027-01-01']);
    expect(format.dateTime('2026-12-04T08:24:00+08:00')).toBe('2026-12-04 08:24');
    expect(format.clock('2026-12-04T08:24:00+08:00')).toBe('08:24');
  });

  test('counts down to a deadline', () => {
    const now = Date.parse('2026-12-04T08:00:00+08:00');
    expect(format.secondsUntil('2026-12-04T08:15:00+08:00', now)).toBe(900);
    expect(format.secondsUntil('2026-12-04T07:00:00+08:00', now)).toBe(0);
    expect(format.mmss(754)).toBe('12:34');
  });
});

describe('utils/storage', () => {
  test('keeps the token and the elder-mode preference', () => {
    expect(storage.getToken()).toBe('');
    storage.setToken('abc');
    expect(storage.getToken()).toBe('abc');
    storage.clearToken();
    expect(storage.getToken()).toBe('');
    expect(storage.isElder()).toBe(false);
    storage.setElder(true);
    expect(storage.isElder()).toBe(true);
  });

  test('remembers five recent departments, newest first, without duplicates', () => {
    for (let id = 1; id <= 7; id += 1) {
      storage.rememberVisit({ id, name: `科${id}`, hospital_id: 1, hospital_name: '医院' });
    }
    storage.rememberVisit({ id: 4, name: '科4', hospital_id: 1, hospital_name: '医院' });
    expect(storage.recentVisits().map((v) => v.id)).toEqual([4, 7, 6, 5, 3]);
  });
});

describe('utils/nav', () => {
  test('builds page addresses with encoded queries', () => {
    expect(nav.url('department', { id: 3, name: '儿科', empty: '' })).toBe(
      '/packages/booking/pages/department/index?id=3&name=%E5%84%BF%E7%A7%91',
    );
    nav.go('orders');
    expect(wx.__fake.navigations.pop()).toEqual({ kind: 'navigateTo', url: nav.PAGES.orders });
  });
});

describe('utils/qr', () => {
  test('encodes a signed ticket payload and draws its dark modules', () => {
    const payload = 'v1.eyJvIjoxMjMsInMiOjd9.' + 'A'.repeat(86);
    const rows = qr.matrix(payload);
    expect(rows.length).toBeGreaterThanOrEqual(25);
    expect(rows.every((row) => row.length === rows.length)).toBe(true);
    // The finder pattern's corner is dark.
    expect(rows[0][0]).toBe(true);
    const calls = [];
    const ctx = {
      set fillStyle(value) {
        calls.push(['style', value]);
      },
      fillRect: (...args) => calls.push(['rect', ...args]),
    };
    qr.draw(ctx, rows, 200);
    const dark = rows.flat().filter(Boolean).length;
    expect(calls.filter((c) => c[0] === 'rect')).toHaveLength(dark + 1);
    expect(calls[0]).toEqual(['style', '#ffffff']);
  });
});

describe('constants', () => {
  test('mirror the API’s enums', () => {
    expect(Object.keys(constants.ORDER_STATUS_LABEL)).toEqual(
      Object.values(constants.ORDER_STATUS),
    );
    expect(Object.keys(constants.AVAILABILITY_LABEL)).toEqual(
      Object.values(constants.AVAILABILITY),
    );
    expect(Object.values(constants.SUBSCRIPTION_KIND)).toEqual([
      'booking_confirmed',
      'visit_reminder',
      'stop_clinic',
      'refund_result',
      'queue_called',
    ]);
  });
});
