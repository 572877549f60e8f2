/** Each service function calls its endpoint: method, path, query or body, and auth. */
const { fakeApi } = require('../support/fake-api');
const storage = require('../../src/utils/storage');
const auth = require('../../src/services/auth');
const catalogue = require('../../src/services/catalogue');
const patients = require('../../src/services/patients');
const orders = require('../../src/services/orders');
const f = require('../support/fixtures');

const CASES = [
  [() => auth.getMe(), 'GET /me', undefined, true],
  [() => auth.bindPhone('c1'), 'POST /auth/phone', { code: 'c1' }, true],
  [() => auth.logout(), 'POST /auth/logout', undefined, true],
  [() => auth.updateMe({ nickname: '小王' }), 'PATCH /me', { nickname: '小王' }, true],
  [() => auth.exportMe(), 'GET /me/export', undefined, true],
  [() => auth.deleteMe(), 'DELETE /me', undefined, true],
  [() => catalogue.listHospitals({ q: '京华' }), 'GET /hospitals', { q: '京华' }, false],
  [() => catalogue.getHospital(1), 'GET /hospitals/1', undefined, false],
  [() => catalogue.getDepartments(1), 'GET /hospitals/1/departments', undefined, false],
  [() => catalogue.getCalendar(2), 'GET /departments/2/calendar', { days: 7 }, false],
  [
    () => catalogue.getCalendar(2, 7, '2026-12-04'),
    'GET /departments/2/calendar',
    { start: '2026-12-04', days: 7 },
    false,
  ],
  [
    () => catalogue.getSchedules(2, '2026-12-04'),
    'GET /departments/2/schedules',
    { date: '2026-12-04' },
    false,
  ],
  [() => catalogue.getDoctor(5), 'GET /doctors/5', undefined, false],
  [() => catalogue.getDoctorSchedules(5), 'GET /doctors/5/schedules', { days: 7 }, false],
  [() => catalogue.search('咳嗽'), 'GET /search', { q: '咳嗽' }, false],
  [() => patients.listPatients(), 'GET /patients', { per_page: 20 }, true],
  [() => patients.getPatient(3), 'GET /patients/3', undefined, true],
  [() => patients.addPatient({ name: '甲' }), 'POST /patients', { name: '甲' }, true],
  [() => patients.updatePatient(3, { name: '乙' }), 'PATCH /patients/3', { name: '乙' }, true],
  [() => patients.removePatient(3), 'DELETE /patients/3', undefined, true],
  [() => orders.listOrders(), 'GET /orders', { page: 1, per_page: 20 }, true],
  [
    () => orders.listOrders('booked'),
    'GET /orders',
    { page: 1, per_page: 20, status: 'booked' },
    true,
  ],
  [() => orders.getOrder(7), 'GET /orders/7', undefined, true],
  [() => orders.createPayment(7), 'POST /orders/7/payments', { channel: 'wechat' }, true],
  [() => orders.getRefundQuote(7), 'GET /orders/7/refund-quote', undefined, true],
  [() => orders.cancelOrder(7), 'POST /orders/7/cancel', undefined, true],
  [() => orders.rescheduleOrder(7, 9), 'POST /orders/7/reschedule', { schedule_id: 9 }, true],
  [() => orders.getTicket(7), 'GET /orders/7/ticket', undefined, true],
  [() => orders.checkIn(7), 'POST /orders/7/check-in', undefined, true],
  [() => orders.getQueue(7), 'GET /orders/7/queue', undefined, true],
];

const BY_ENDPOINT = CASES.map(([run, key, data, signed]) => [key, run, data, signed]);

test.each(BY_ENDPOINT)('%s', async (key, run, data, signed) => {
  storage.setToken('t1');
  const calls = fakeApi({ [key]: [200, { ok: true }] });
  await expect(run()).resolves.toEqual({ ok: true });
  expect(calls).toHaveLength(1);
  expect(calls[0].key).toBe(key);
  expect(calls[0].data).toEqual(data);
  expect(Boolean(calls[0].header.Authorization)).toBe(signed);
});

test('createOrder sends the schedule, the patient and an Idempotency-Key', async () => {
  storage.setToken('t1');
  const calls = fakeApi({ 'POST /orders': [201, { id: 1 }] });
  await orders.createOrder(100, 31, 'key-12345678');
  expect(calls[0].data).toEqual({ schedule_id: 100, patient_id: 31 });
  expect(calls[0].header['Idempotency-Key']).toBe('key-12345678');
  expect(orders.newIdempotencyKey()).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
  expect(orders.newIdempotencyKey()).not.toBe(orders.newIdempotencyKey());
});

describe('subscriptions', () => {
  let subscriptions;
  beforeEach(() => {
    jest.resetModules(); // a new session: nothing remembered
    subscriptions = require('../../src/services/subscriptions');
    require('../../src/utils/storage').setToken('t1');
  });

  test('GET /subscriptions → the items of every kind, and their template ids remembered', async () => {
    const calls = fakeApi({ 'GET /subscriptions': [200, f.consents({ queue_called: 2 })] });
    expect(subscriptions.cachedTemplates()).toBeNull();
    const items = await subscriptions.listConsents();
    expect(items.map((c) => c.kind)).toEqual([
      'booking_confirmed',
      'visit_reminder',
      'stop_clinic',
      'refund_result',
      'queue_called',
    ]);
    expect(items[4]).toEqual({
      kind: 'queue_called',
      name: '叫号提醒',
      template_id: f.TEMPLATE_IDS.queue_called,
      remaining: 2,
    });
    expect(calls[0].header.Authorization).toBe('Bearer t1');
    expect(subscriptions.cachedTemplates()).toEqual(f.TEMPLATE_IDS);
  });

  test('POST /subscriptions {kinds} → the same list after the grants', async () => {
    const calls = fakeApi({
      'POST /subscriptions': [200, f.consents({ visit_reminder: 1 }, { queue_called: 'tq' })],
    });
    const items = await subscriptions.recordConsents(['visit_reminder']);
    expect(calls[0].data).toEqual({ kinds: ['visit_reminder'] });
    expect(items.find((c) => c.kind === 'visit_reminder').remaining).toBe(1);
    expect(subscriptions.cachedTemplates()).toEqual({ queue_called: 'tq' });
  });

  test('the template ids are read once; a failed read is tried again', async () => {
    let fail = true;
    const calls = fakeApi({
      'GET /subscriptions': () =>
        fail
          ? [503, { code: 'service_unavailable', message: '服务暂不可用' }]
          : [200, f.consents()],
    });
    await expect(subscriptions.loadTemplates()).rejects.toMatchObject({ status: 503 });
    fail = false;
    const [a, b] = await Promise.all([
      subscriptions.loadTemplates(),
      subscriptions.loadTemplates(),
    ]);
    expect(a).toEqual(f.TEMPLATE_IDS);
    expect(b).toBe(a);
    await subscriptions.loadTemplates();
    expect(calls).toHaveLength(2);
  });
});
