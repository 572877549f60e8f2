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

const TICKET = { order: f.order(), qr_payload: 'v1.eyJvIjo3NywicyI6M30.' + 'Q'.repeat(86) };

describe('order list page', () => {
  test('lists orders by status tab', async () => {
    const calls = fakeApi({
      'GET /orders': (req) =>
        req.data.status === 'cancelled'
          ? [200, f.page([])]
          : [
              200,
              f.page([
                f.order(),
                f.order({ id: 78, status: 'pending_payment', status_name: '待支付' }),
              ]),
            ],
    });
    const page = openPage('packages/orders/pages/list/index');
    await settled(page);
    expect(page.querySelectorAll('.order')).toHaveLength(2);
    expect(text(page, '.order')).toContain('王小明');
    expect(text(page, '.order')).toContain('¥50.00');
    await tapText(page, '.tab', '已取消');
    await settled(page);
    expect(calls[calls.length - 1].data).toMatchObject({ status: 'cancelled' });
    expect(text(page)).toContain('暂无订单');
  });

  test('loads the next page at the end of the list', async () => {
    const calls = fakeApi({
      'GET /orders': (req) =>
        req.data.page === 1
          ? [200, { items: [f.order()], page: 1, per_page: 20, total: 2 }]
          : [200, { items: [f.order({ id: 79 })], page: 2, per_page: 20, total: 2 }],
    });
    const page = openPage('packages/orders/pages/list/index');
    await settled(page);
    expect(text(page, '.list-end')).toContain('上拉加载更多');
    await page.instance.onReachBottom();
    expect(page.data.orders.map((o) => o.id)).toEqual([77, 79]);
    expect(text(page, '.list-end')).toContain('没有更多了');
    await page.instance.onReachBottom();
    expect(calls).toHaveLength(2);
  });

  test('opens an order', async () => {
    fakeApi({ 'GET /orders': [200, f.page([f.order()])] });
    const page = openPage('packages/orders/pages/list/index');
    await settled(page);
    await tap(page, '.order');
    expect(lastNavigation().url).toBe('/packages/orders/pages/detail/index?id=77');
  });
});

describe('order detail page', () => {
  test('shows the e-ticket: QR from the signed payload, number, arrival time and place', async () => {
    fakeApi({ 'GET /orders/77': [200, f.order()], 'GET /orders/77/ticket': [200, TICKET] });
    const page = openPage('packages/orders/pages/detail/index', { id: '77' });
    await settled(page);
    expect(page.data.qrModules).toBeGreaterThanOrEqual(25);
    expect(find(page, '#ticket-qr')).toBeTruthy();
    expect(text(page, '.ticket')).toContain('就诊序号 3 号');
    expect(text(page, '.ticket')).toContain('2026-12-05 08:40');
    expect(text(page, '.ticket')).toContain('门诊楼 4 层 C 区');
    expect(find(page, '.reschedule')).toBeTruthy();
    await tap(page, '.visit');
    expect(lastNavigation().url).toBe('/packages/orders/pages/visit/index?id=77');
  });

  test('shows the refund quote before cancelling, then the refund', async () => {
    let cancelled = false;
    const calls = fakeApi({
      'GET /orders/77': () =>
        cancelled
          ? [
              200,
              f.order({
                status: 'cancelled',
                status_name: '已取消',
                refunds: [
                  {
                    amount_fen: 4000,
                    fee_fen: 1000,
                    reason: 'patient_cancel',
                    reason_text: '患者取消',
                    status: 'pending',
                    status_text: '退款处理中',
                  },
                ],
              }),
            ]
          : [200, f.order()],
      'GET /orders/77/ticket': [200, TICKET],
      'GET /orders/77/refund-quote': [
        200,
        { refundable: true, refund_fen: 4000, fee_fen: 1000, reason: 'cancellation_fee' },
      ],
      'POST /orders/77/cancel': () => {
        cancelled = true;
        return [200, f.order({ status: 'cancelled' })];
      },
    });
    const page = openPage('packages/orders/pages/detail/index', { id: '77' });
    await settled(page);
    await tap(page, '.cancel');
    await waitFor(() => page.data.quote);
    expect(calls.some((c) => c.key === 'POST /orders/77/cancel')).toBe(false);
    expect(text(page, '.quote')).toContain('可退金额：¥40.00');
    expect(text(page, '.quote')).toContain('手续费：¥10.00');
    expect(text(page, '.quote')).toContain('按医院规定收取部分手续费');
    await tap(page, '.confirm-cancel');
    await waitFor(() => page.data.order.status === 'cancelled');
    expect(text(page, '.refunds')).toContain('退款处理中');
    expect(text(page, '.refunds')).toContain('¥40.00');
    expect(find(page, '.cancel')).toBeFalsy();
  });

  test('a visit too close to cancel shows why and offers no confirm button', async () => {
    fakeApi({
      'GET /orders/77': [200, f.order()],
      'GET /orders/77/ticket': [200, TICKET],
      'GET /orders/77/refund-quote': [
        200,
        { refundable: false, refund_fen: 0, fee_fen: 0, reason: 'cancel_window_closed' },
      ],
    });
    const page = openPage('packages/orders/pages/detail/index', { id: '77' });
    await settled(page);
    await tap(page, '.cancel');
    await waitFor(() => page.data.quote);
    expect(text(page, '.quote')).toContain('距就诊时间过近，已不能取消');
    expect(find(page, '.confirm-cancel')).toBeFalsy();
  });

  test('an unpaid hold can be paid from here, with its countdown', async () => {
    fakeApi({
      'GET /orders/78': [
        200,
        f.order({
          id: 78,
          status: 'pending_payment',
          status_name: '待支付',
          paid: false,
          expires_at: new Date(Date.now() + 600000).toISOString(),
        }),
      ],
      'POST /subscriptions': [201, {}],
      'POST /orders/78/payments': [
        200,
        { params: { timeStamp: '1', nonceStr: 'n', package: 'p', signType: 'RSA', paySign: 's' } },
      ],
    });
    const page = openPage('packages/orders/pages/detail/index', { id: '78' });
    await settled(page);
    expect(find(page, '.ticket')).toBeFalsy();
    expect(text(page, '.countdown')).toMatch(/(09:59|10:00)/);
    await tap(page, '.pay');
    await waitFor(() => lastNavigation() && lastNavigation().url.includes('pay-result'));
    expect(lastNavigation().url).toBe('/packages/booking/pages/pay-result/index?id=78');
  });

  test('another account’s order answers 404: shown, not broken', async () => {
    fakeApi({ 'GET /orders/5': [404, { code: 'not_found', message: '未找到该订单' }] });
    const page = openPage('packages/orders/pages/detail/index', { id: '5' });
    await settled(page);
    expect(text(page)).toContain('未找到该订单');
  });
});

describe('reschedule page', () => {
  test('offers the doctor’s other times at the same fee and moves the order', async () => {
    const calls = fakeApi({
      'GET /orders/77': [200, f.order()],
      'GET /doctors/5/schedules': [
        200,
        [
          f.schedule({ id: 100 }),
          f.schedule({ id: 103, date: '2026-12-07', period: 'afternoon', period_name: '下午' }),
          f.schedule({ id: 104, date: '2026-12-08', status: 'full', remaining: 0 }),
          f.schedule({ id: 105, date: '2026-12-09', fee_fen: 3000 }),
        ],
      ],
      'POST /orders/77/reschedule': [200, f.order({ schedule_id: 103, reschedule_count: 1 })],
    });
    const page = openPage('packages/orders/pages/reschedule/index', { id: '77' });
    await settled(page);
    expect(page.data.options.map((o) => o.id)).toEqual([103]);
    expect(text(page, '.option')).toContain('12-07 周一 下午');
    await tap(page, '.option');
    await waitFor(() => lastNavigation() && lastNavigation().kind === 'redirectTo');
    expect(wx.__fake.modals[0].content).toContain('12-07');
    expect(calls.find((c) => c.key === 'POST /orders/77/reschedule').data).toEqual({
      schedule_id: 103,
    });
  });

  test('says so when there is no other time', async () => {
    fakeApi({
      'GET /orders/77': [200, f.order()],
      'GET /doctors/5/schedules': [200, [f.schedule()]],
    });
    const page = openPage('packages/orders/pages/reschedule/index', { id: '77' });
    await settled(page);
    expect(text(page)).toContain('没有其他可预约的时间');
  });
});

describe('visit-day page', () => {
  const QUEUE = {
    status: 'checked_in',
    position: 4,
    ahead: 3,
    called_at: null,
    estimated_wait_minutes: 24,
  };

  test('checks in, then shows the position and the wait, refreshed while shown', async () => {
    let checkedIn = false;
    let queueCalls = 0;
    const calls = fakeApi({
      'GET /orders/77': [200, f.order()],
      'GET /orders/77/queue': () => {
        queueCalls += 1;
        return [
          200,
          checkedIn
            ? { ...QUEUE, position: 5 - Math.min(queueCalls, 4) }
            : {
                ...QUEUE,
                status: 'booked',
                position: null,
                ahead: null,
                estimated_wait_minutes: null,
              },
        ];
      },
      'POST /subscriptions': [201, {}],
      'POST /orders/77/check-in': () => {
        checkedIn = true;
        return [200, f.order({ status: 'checked_in', status_name: '已签到' })];
      },
    });
    const page = openPage(
      'packages/orders/pages/visit/index',
      { id: '77' },
      { config: { QUEUE_REFRESH_MS: 30 } },
    );
    await settled(page);
    expect(text(page, '.queue')).toContain('尚未签到');
    await tap(page, '.check-in');
    await waitFor(() => page.data.order.status === 'checked_in');
    expect(wx.__fake.subscribeRequests[0]).toHaveLength(1);
    await waitFor(() => page.data.queue && page.data.queue.position !== null);
    expect(text(page, '.queue')).toMatch(/当前排第 \d 位，前面还有 3 人/);
    expect(text(page, '.queue')).toContain('预计等待约 24 分钟');
    const before = queueCalls;
    await waitFor(() => queueCalls >= before + 2, 2000, 'the timer');
    page.instance.onHide();
    const hidden = queueCalls;
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(queueCalls).toBe(hidden);
    page.instance.onShow();
    await waitFor(() => queueCalls > hidden, 2000, 'the timer again');
    page.instance.onUnload();
    expect(calls.some((c) => c.key === 'POST /orders/77/check-in')).toBe(true);
  });

  test('a server without check-in and queue answers 404: a graceful Chinese message', async () => {
    fakeApi({
      'GET /orders/77': [200, f.order()],
      'POST /subscriptions': [404, { code: 'not_found', message: '未找到' }],
    });
    const page = openPage(
      'packages/orders/pages/visit/index',
      { id: '77' },
      { config: { QUEUE_REFRESH_MS: 20 } },
    );
    await settled(page);
    expect(text(page, '.queue-message')).toContain('暂时查询不到候诊信息，请留意诊区叫号屏');
    await tap(page, '.check-in');
    await waitFor(() => page.data.checkInMessage);
    expect(text(page, '.check-in-message')).toContain(
      '医院暂未开通线上签到，请到分诊台或自助机签到',
    );
  });

  test('shows the server’s refusal outside the visit day', async () => {
    fakeApi({
      'GET /orders/77': [200, f.order()],
      'GET /orders/77/queue': [
        200,
        {
          status: 'booked',
          position: null,
          ahead: null,
          called_at: null,
          estimated_wait_minutes: null,
        },
      ],
      'POST /subscriptions': [201, {}],
      'POST /orders/77/check-in': [409, { code: 'not_visit_day', message: '请在就诊当天签到' }],
    });
    const page = openPage('packages/orders/pages/visit/index', { id: '77' });
    await settled(page);
    await tap(page, '.check-in');
    await waitFor(() => page.data.checkInMessage);
    expect(text(page, '.check-in-message')).toContain('请在就诊当天签到');
  });

  test('tells a called patient to go in', async () => {
    fakeApi({
      'GET /orders/77': [200, f.order({ status: 'called', status_name: '已叫号' })],
      'GET /orders/77/queue': [
        200,
        {
          ...QUEUE,
          status: 'called',
          position: 1,
          ahead: 0,
          called_at: '2026-12-05T09:01:00+08:00',
          estimated_wait_minutes: 0,
        },
      ],
    });
    const page = openPage('packages/orders/pages/visit/index', { id: '77' });
    await settled(page);
    expect(text(page, '.queue')).toContain('已叫到您的号');
    expect(find(page, '.check-in')).toBeFalsy();
  });
});
