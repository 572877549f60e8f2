const { fakeApi } = require('../support/fake-api');
const {
  openPage,
  settled,
  waitFor,
  text,
  tap,
  tapText,
  find,
  lastNavigation,
} = require('../support/pages');
const f = require('../support/fixtures');
const storage = require('../../src/utils/storage');

beforeEach(() => storage.setToken('t1'));

const SEARCH = {
  hospitals: [],
  departments: [
    {
      id: 2,
      name: '呼吸内科',
      hospital_id: 1,
      hospital_name: '京华第一人民医院',
      matched_symptoms: ['咳嗽'],
    },
  ],
  doctors: [
    {
      ...f.doctorBrief,
      fee_fen: 5000,
      department: { id: 2, name: '呼吸内科', hospital_id: 1, hospital_name: '京华第一人民医院' },
    },
  ],
};

describe('search page', () => {
  test('finds departments by symptom and opens one', async () => {
    const calls = fakeApi({ 'GET /search': [200, SEARCH] });
    const page = openPage('pages/search/index', { q: '咳嗽' });
    await settled(page);
    expect(calls[0].data).toEqual({ q: '咳嗽' });
    expect(text(page, '.department')).toContain('呼吸内科');
    expect(text(page, '.department')).toContain('对应症状：咳嗽');
    expect(text(page, '.doctor')).toContain('王建国');
    await tap(page, '.department');
    expect(lastNavigation().url).toContain('/packages/booking/pages/department/index?id=2&name=');
  });

  test('says so when nothing is found', async () => {
    fakeApi({ 'GET /search': [200, { hospitals: [], departments: [], doctors: [] }] });
    const page = openPage('pages/search/index', { q: '火星病' });
    await settled(page);
    expect(text(page)).toContain('没有找到相关的医院、科室或医生');
  });
});

describe('hospital page', () => {
  test('shows the booking rules and the department tree with its rules', async () => {
    fakeApi({
      'GET /hospitals/1': [200, f.hospital],
      'GET /hospitals/1/departments': [200, f.departments],
    });
    const page = openPage('packages/booking/pages/hospital/index', { id: '1' });
    await settled(page);
    expect(text(page, '.notices')).toContain('每日 07:00 放号，可预约未来 7 天内的号源');
    expect(text(page, '.notices')).toContain('15 分钟内完成支付');
    expect(text(page, '.tree')).toContain('仅限女性');
    expect(text(page, '.tree')).toContain('14岁及以下');
    await tapText(page, '.top-department', '内科');
    expect(text(page, '.child-department')).toContain('呼吸内科');
    await tap(page, '.child-department');
    expect(lastNavigation().url).toContain('department/index?id=2');
    await tapText(page, '.top-department', '儿科');
    expect(lastNavigation().url).toContain('department/index?id=11');
  });

  test('shows an unknown hospital’s 404 message', async () => {
    fakeApi({});
    const page = openPage('packages/booking/pages/hospital/index', { id: '99' });
    await settled(page);
    expect(text(page)).toContain('请求的资源不存在');
  });
});

describe('department page', () => {
  const query = { id: '11', name: '儿科', hospital_id: '1', hospital_name: '京华第一人民医院' };

  test('colours the 7 days by status and lists the first available day’s doctors', async () => {
    const calls = fakeApi({
      'GET /departments/11/calendar': [
        200,
        f.calendar([
          'full',
          'available',
          'not_released',
          'stopped',
          'none',
          'available',
          'available',
        ]),
      ],
      'GET /departments/11/schedules': [
        200,
        [
          f.schedule(),
          f.schedule({
            id: 101,
            remaining: 0,
            status: 'full',
            doctor: { ...f.doctorBrief, id: 6, name: '李秀英' },
          }),
        ],
      ],
    });
    const page = openPage('packages/booking/pages/department/index', query);
    await settled(page);
    expect(page.querySelectorAll('.day')).toHaveLength(7);
    expect(find(page, '.day-full')).toBeTruthy();
    expect(text(page, '.day-not_released')).toContain('未放号');
    expect(text(page, '.day-stopped')).toContain('停诊');
    expect(page.data.date).toBe('2026-12-05');
    expect(calls.find((c) => c.key === 'GET /departments/11/schedules').data).toEqual({
      date: '2026-12-05',
    });
    expect(text(page, '.schedule-available')).toContain('余 7');
    expect(text(page, '.schedule-available')).toContain('¥50.00');
    expect(text(page, '.schedule-full')).toContain('约满');
    expect(find(page, '.schedule-full .book-btn')).toBeFalsy();
    expect(storage.recentVisits()[0]).toMatchObject({ id: 11, name: '儿科' });
    await tap(page, '.schedule-available .book-btn');
    expect(lastNavigation().url).toBe(
      '/packages/booking/pages/confirm/index?schedule_id=100&department_id=11&date=2026-12-05',
    );
  });

  test('shows a day without schedules and a day that failed', async () => {
    let fail = false;
    fakeApi({
      'GET /departments/11/calendar': [
        200,
        f.calendar(['none', 'none', 'none', 'none', 'none', 'none', 'none']),
      ],
      'GET /departments/11/schedules': () =>
        fail ? [503, { code: 'busy', message: '系统繁忙' }] : [200, []],
    });
    const page = openPage('packages/booking/pages/department/index', query);
    await settled(page);
    await waitFor(() => !page.data.schedulesLoading);
    expect(text(page)).toContain('当天没有出诊安排');
    fail = true;
    await tap(page, '#day-2026-12-06');
    await waitFor(() => page.data.schedulesError);
    expect(text(page, '.schedules-state')).toContain('系统繁忙');
  });

  test('in elder mode one tap on a doctor goes straight to booking', async () => {
    storage.setElder(true);
    fakeApi({
      'GET /departments/11/calendar': [200, f.calendar(['available'])],
      'GET /departments/11/schedules': [200, [f.schedule()]],
    });
    const page = openPage('packages/booking/pages/department/index', query);
    await settled(page);
    expect(find(page, '.elder')).toBeTruthy();
    await tap(page, '.schedule');
    expect(lastNavigation().url).toContain('/packages/booking/pages/confirm/index?schedule_id=100');
  });
});

describe('doctor page', () => {
  test('shows the profile and the schedules, and books an available one', async () => {
    fakeApi({
      'GET /doctors/5': [
        200,
        {
          ...f.doctorBrief,
          intro: '从事儿科临床工作多年。',
          fee_fen: 5000,
          department: { id: 11, name: '儿科', hospital_id: 1, hospital_name: '京华第一人民医院' },
        },
      ],
      'GET /doctors/5/schedules': [
        200,
        [f.schedule({ status: 'full', remaining: 0 }), f.schedule({ id: 102, date: '2026-12-06' })],
      ],
    });
    const page = openPage('packages/booking/pages/doctor/index', { id: '5' });
    await settled(page);
    expect(text(page, '.profile')).toContain('王建国');
    expect(text(page, '.profile')).toContain('¥50.00');
    await tap(page, '.schedule-full');
    expect(wx.__fake.toasts).toContain('该时段号源已约满');
    await tap(page, '.schedule-available');
    expect(lastNavigation().url).toContain('schedule_id=102&department_id=11&date=2026-12-06');
  });
});

describe('confirm page', () => {
  const query = { schedule_id: '100', department_id: '11', date: '2026-12-05' };
  const held = () =>
    f.order({
      status: 'pending_payment',
      status_name: '待支付',
      paid: false,
      expires_at: new Date(Date.now() + 14 * 60000 + 30000).toISOString(),
    });

  function api(orderAnswer, schedule = f.schedule(), routes = {}) {
    return fakeApi({
      'GET /departments/11/schedules': [200, [schedule]],
      'GET /patients': [200, f.page([f.selfPatient, f.patient])],
      'POST /orders': orderAnswer,
      'GET /subscriptions': [200, f.consents()],
      'POST /subscriptions': (req) => [
        200,
        f.consents(Object.fromEntries(req.data.kinds.map((k) => [k, 1]))),
      ],
      'POST /orders/77/payments': [
        200,
        {
          channel: 'wechat',
          out_trade_no: 'WX77',
          params: {
            timeStamp: '1',
            nonceStr: 'n',
            package: 'prepay_id=1',
            signType: 'RSA',
            paySign: 'sig',
          },
        },
      ],
      ...routes,
    });
  }

  test('holds a number for the chosen member, counts down, asks consent on the pay tap and pays', async () => {
    const calls = api([201, held()]);
    const page = openPage('packages/booking/pages/confirm/index', query);
    await settled(page);
    expect(text(page, '.summary')).toContain('¥50.00');
    expect(text(page, '.patient-selected')).toContain('王建业');
    await tapText(page, '.patient', '王小明');
    await tap(page, '.submit');
    await waitFor(() => page.data.order);
    const hold = calls.find((c) => c.key === 'POST /orders');
    expect(hold.data).toEqual({ schedule_id: 100, patient_id: 31 });
    expect(hold.header['Idempotency-Key']).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(text(page, '.held')).toContain('3 号');
    expect(text(page, '.countdown')).toMatch(/14:(29|30)/);
    expect(wx.__fake.subscribeRequests).toHaveLength(0); // only a tap asks
    await tap(page, '.pay');
    await waitFor(() => lastNavigation().kind === 'redirectTo');
    // The server's template ids (read when the page loaded), at most 3, then only the accepted.
    expect(wx.__fake.subscribeRequests[0]).toEqual([
      f.TEMPLATE_IDS.booking_confirmed,
      f.TEMPLATE_IDS.visit_reminder,
      f.TEMPLATE_IDS.stop_clinic,
    ]);
    const keys = calls.map((c) => c.key);
    expect(keys.filter((k) => k === 'GET /subscriptions')).toHaveLength(1);
    expect(keys.indexOf('POST /subscriptions')).toBeLessThan(
      keys.indexOf('POST /orders/77/payments'),
    );
    expect(calls.find((c) => c.key === 'POST /subscriptions').data.kinds).toEqual([
      'booking_confirmed',
      'visit_reminder',
      'stop_clinic',
    ]);
    expect(wx.__fake.payments[0].paySign).toBe('sig');
    expect(lastNavigation().url).toBe('/packages/booking/pages/pay-result/index?id=77');
  });

  test('pays even when consent cannot be recorded, or is refused', async () => {
    api([201, held()], f.schedule(), {
      'POST /subscriptions': [503, { code: 'service_unavailable', message: '服务暂不可用' }],
    });
    const page = openPage('packages/booking/pages/confirm/index', query);
    await settled(page);
    await tap(page, '.submit');
    await waitFor(() => page.data.order);
    await tap(page, '.pay');
    await waitFor(() => wx.__fake.payments.length === 1 && !page.data.paying);
    wx.__fake.subscribeAnswer = 'reject';
    await tap(page, '.pay');
    await waitFor(() => wx.__fake.payments.length === 2);
    expect(wx.__fake.subscribeRequests).toHaveLength(2);
  });

  test('a free number (fee 0) is booked by the confirm tap, which asks consent, and not paid', async () => {
    const calls = api(
      [201, f.order({ status: 'booked', status_name: '已预约', amount_fen: 0, paid: false })],
      f.schedule({ fee_fen: 0 }),
    );
    const page = openPage('packages/booking/pages/confirm/index', query);
    await settled(page);
    await tap(page, '.submit');
    await waitFor(() => lastNavigation() && lastNavigation().kind === 'redirectTo');
    expect(lastNavigation().url).toBe('/packages/booking/pages/pay-result/index?id=77');
    expect(wx.__fake.subscribeRequests[0]).toHaveLength(3);
    const keys = calls.map((c) => c.key);
    expect(keys.indexOf('POST /subscriptions')).toBeLessThan(keys.indexOf('POST /orders'));
    expect(keys).not.toContain('POST /orders/77/payments');
    expect(wx.__fake.payments).toHaveLength(0);
  });

  test('explains an eligibility refusal in the server’s words', async () => {
    api([
      422,
      { code: 'not_eligible', message: '该科室仅接诊 14 岁及以下患者', reason: 'age_restricted' },
    ]);
    const page = openPage('packages/booking/pages/confirm/index', query);
    await settled(page);
    await tap(page, '.submit');
    await waitFor(() => page.data.refusal);
    expect(text(page, '.refusal')).toContain('该科室仅接诊 14 岁及以下患者');
    expect(text(page, '.refusal-hint')).toContain('请更换就诊人');
    expect(page.data.order).toBeNull();
  });

  test('retries with the same key after a lost answer, a new one after a refusal', async () => {
    let answer = ['network', 'timeout'];
    const calls = api(() => answer);
    const page = openPage('packages/booking/pages/confirm/index', query);
    await settled(page);
    await tap(page, '.submit');
    await waitFor(() => page.data.refusal);
    expect(page.data.refusal).toBe('网络超时，请稍后重试');
    answer = [409, { code: 'slot_sold_out', message: '该时段号源已约满' }];
    await tap(page, '.submit');
    await waitFor(() => page.data.refusal === '该时段号源已约满');
    await tap(page, '.submit');
    await waitFor(() => calls.filter((c) => c.key === 'POST /orders').length === 3);
    const keys = calls
      .filter((c) => c.key === 'POST /orders')
      .map((c) => c.header['Idempotency-Key']);
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[1]);
  });

  test('asks to add a family member when there is none', async () => {
    fakeApi({
      'GET /departments/11/schedules': [200, [f.schedule()]],
      'GET /patients': [200, f.page([])],
    });
    const page = openPage('packages/booking/pages/confirm/index', query);
    await settled(page);
    expect(text(page)).toContain('还没有就诊人，请先添加');
    expect(page.data.patientId).toBeNull();
    await tap(page, '.add-patient');
    expect(lastNavigation().url).toBe('/packages/family/pages/edit/index?from=confirm');
  });

  test('a hold that runs out says so and cannot be paid', async () => {
    api([201, { ...held(), expires_at: new Date(Date.now() - 1000).toISOString() }]);
    const page = openPage('packages/booking/pages/confirm/index', query);
    await settled(page);
    await tap(page, '.submit');
    await waitFor(() => page.data.order);
    expect(text(page, '.expired')).toContain('支付超时，号源已释放');
    expect(page.data.expired).toBe(true);
  });
});

describe('pay-result page', () => {
  test('polls the order until the server has the payment', async () => {
    let polls = 0;
    fakeApi({
      'GET /orders/77': () => {
        polls += 1;
        return polls < 3
          ? [200, f.order({ status: 'pending_payment', status_name: '待支付', paid: false })]
          : [200, f.order()];
      },
    });
    const page = openPage(
      'packages/booking/pages/pay-result/index',
      { id: '77' },
      { config: { PAYMENT_POLL: { intervalMs: 20 } } },
    );
    expect(text(page)).toContain('正在确认支付结果');
    await waitFor(() => page.data.state === 'booked');
    expect(polls).toBe(3);
    expect(text(page)).toContain('挂号成功');
    expect(text(page)).toContain('3 号');
    await tap(page, '.view-order');
    expect(lastNavigation()).toEqual({
      kind: 'redirectTo',
      url: '/packages/orders/pages/detail/index?id=77',
    });
  });

  test('stops after the last attempt without trusting the client', async () => {
    const calls = fakeApi({
      'GET /orders/77': [200, f.order({ status: 'pending_payment', paid: false })],
    });
    const page = openPage(
      'packages/booking/pages/pay-result/index',
      { id: '77' },
      { config: { PAYMENT_POLL: { intervalMs: 5, attempts: 4 } } },
    );
    await waitFor(() => page.data.state === 'unknown');
    expect(calls).toHaveLength(4);
    expect(text(page)).toContain('支付结果确认中');
  });

  test('an order closed meanwhile is reported with the refund promise', async () => {
    fakeApi({ 'GET /orders/77': [200, f.order({ status: 'expired', status_name: '已过期' })] });
    const page = openPage('packages/booking/pages/pay-result/index', { id: '77' });
    await waitFor(() => page.data.state === 'failed');
    expect(text(page)).toContain('如已扣款将原路全额退回');
  });
});
