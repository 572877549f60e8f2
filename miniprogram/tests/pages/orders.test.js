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
      'GET /subscriptions': [200, f.consents()],
      'POST /subscriptions': [200, f.consents({ refund_result: 1 })],
    });
    const page = openPage('packages/orders/pages/detail/index', { id: '77' });
    await settled(page);
    await tap(page, '.cancel');
    await waitFor(() => page.data.quote);
    expect(calls.some((c) => c.key === 'POST /orders/77/cancel')).toBe(false);
    expect(text(page, '.quote')).toContain('可退金额：¥40.00');
    expect(text(page, '.quote')).toContain('手续费：¥10.00');
    expect(text(page, '.quote')).toContain('按医院规定收取部分手续费');
    expect(wx.__fake.subscribeRequests).toHaveLength(0);
    await tap(page, '.confirm-cancel');
    await waitFor(() => page.data.order.status === 'cancelled');
    // The confirming tap asked to be told the refund's result, before cancelling.
    expect(wx.__fake.subscribeRequests[0]).toEqual([f.TEMPLATE_IDS.refund_result]);
    const keys = calls.map((c) => c.key);
    expect(keys.indexOf('POST /subscriptions')).toBeLessThan(
      keys.indexOf('POST /orders/77/cancel'),
    );
    expect(find(page, '.hospital-cancel')).toBeFalsy();
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
      'GET /subscriptions': [200, f.consents()],
      'POST /subscriptions': [200, f.consents({ booking_confirmed: 1 })],
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
    expect(wx.__fake.subscribeRequests[0]).toEqual([
      f.TEMPLATE_IDS.booking_confirmed,
      f.TEMPLATE_IDS.visit_reminder,
      f.TEMPLATE_IDS.stop_clinic,
    ]);
  });

  test('an order the hospital cancelled (停诊) says why and that the fee comes back in full', async () => {
    fakeApi({
      'GET /orders/77': [
        200,
        f.order({
          status: 'cancelled',
          status_name: '已取消',
          cancelled_by: 'hospital',
          cancel_reason: '停诊：医生临时外出会诊',
          alternatives: ['12月5日下午 王建国', '12月7日上午 王建国', '12月6日上午 李明'],
          refunds: [
            {
              amount_fen: 5000,
              fee_fen: 0,
              reason: 'hospital_stop',
              reason_text: '医生停诊，全额退款',
              status: 'success',
              status_text: '已退款',
            },
          ],
        }),
      ],
    });
    const page = openPage('packages/orders/pages/detail/index', { id: '77' });
    await settled(page);
    expect(text(page, '.hospital-cancel')).toContain('医院已取消本次预约');
    expect(text(page, '.cancel-reason')).toContain('停诊：医生临时外出会诊');
    expect(text(page, '.full-refund')).toContain('挂号费 ¥50.00 全额退还，不收手续费');
    expect(text(page, '.refunds')).toContain('医生停诊，全额退款');
    expect(text(page, '.refunds')).toContain('手续费 ¥0.00');
    expect(text(page, '.alternatives')).toMatch(
      /可改约以下有号的出诊：\s*12月5日下午 王建国\s*12月7日上午 王建国\s*12月6日上午 李明/,
    );
    expect(find(page, '.ticket')).toBeFalsy();
    expect(find(page, '.cancel')).toBeFalsy();
  });

  test('an unpaid hold the hospital cancelled says there is nothing to refund', async () => {
    fakeApi({
      'GET /orders/78': [
        200,
        f.order({
          id: 78,
          status: 'cancelled',
          status_name: '已取消',
          paid: false,
          cancelled_by: 'hospital',
          cancel_reason: '停诊：设备检修',
        }),
      ],
    });
    const page = openPage('packages/orders/pages/detail/index', { id: '78' });
    await settled(page);
    expect(text(page, '.hospital-cancel')).toContain('停诊：设备检修');
    expect(text(page, '.hospital-cancel')).toContain('该订单未支付，无需退款');
    expect(find(page, '.full-refund')).toBeFalsy();
  });

  test('a patient’s own cancellation shows no hospital notice', async () => {
    fakeApi({
      'GET /orders/77': [
        200,
        f.order({ status: 'cancelled', cancelled_by: 'patient', cancel_reason: '' }),
      ],
    });
    const page = openPage('packages/orders/pages/detail/index', { id: '77' });
    await settled(page);
    expect(find(page, '.hospital-cancel')).toBeFalsy();
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
  const BOOKED = f.queuePlace({
    status: 'booked',
    status_text: '已预约',
    position: null,
    ahead: null,
    estimated_wait_minutes: null,
  });
  const open = (refreshMs = 30) =>
    openPage(
      'packages/orders/pages/visit/index',
      { id: '77' },
      { config: { QUEUE_REFRESH_MS: refreshMs } },
    );
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  test('checks in from the tap (consent for queue_called first), then shows the place', async () => {
    let place = BOOKED;
    const calls = fakeApi({
      'GET /orders/77': [200, f.order()],
      'GET /orders/77/queue': () => [200, place],
      'GET /subscriptions': [200, f.consents()],
      'POST /subscriptions': [200, f.consents({ queue_called: 1 })],
      'POST /orders/77/check-in': () => {
        place = f.queuePlace({ position: 2, ahead: 1, estimated_wait_minutes: 8 });
        return [200, place];
      },
    });
    const page = open(60000);
    await settled(page);
    expect(text(page, '.queue')).toContain('尚未签到');
    expect(text(page, '.order-status')).toContain('已预约');
    await tap(page, '.check-in');
    await waitFor(() => page.data.order.status === 'checked_in');
    expect(wx.__fake.subscribeRequests[0]).toEqual([f.TEMPLATE_IDS.queue_called]);
    const keys = calls.map((c) => c.key);
    expect(calls.find((c) => c.key === 'POST /subscriptions').data).toEqual({
      kinds: ['queue_called'],
    });
    expect(keys.indexOf('POST /subscriptions')).toBeLessThan(
      keys.indexOf('POST /orders/77/check-in'),
    );
    // The check-in's answer is the place: shown without another read.
    expect(keys.filter((k) => k === 'GET /orders/77/queue')).toHaveLength(1);
    expect(text(page, '.order-status')).toContain('已签到');
    expect(text(page, '.queue')).toContain('当前排第 2 位，前面还有 1 人');
    expect(text(page, '.queue')).toContain('预计等待约 8 分钟');
    expect(find(page, '.check-in')).toBeFalsy();
    expect(wx.__fake.toasts).toContain('签到成功');
  });

  test('checks in even when consent is refused', async () => {
    const calls = fakeApi({
      'GET /orders/77': [200, f.order()],
      'GET /orders/77/queue': [200, BOOKED],
      'GET /subscriptions': [200, f.consents()],
      'POST /orders/77/check-in': [200, f.queuePlace({ position: 1, ahead: 0 })],
    });
    wx.__fake.subscribeAnswer = 'reject';
    const page = open(60000);
    await settled(page);
    await tap(page, '.check-in');
    await waitFor(() => page.data.order.status === 'checked_in');
    expect(calls.map((c) => c.key)).not.toContain('POST /subscriptions');
    expect(text(page, '.next')).toContain('下一位就是您');
    expect(text(page, '.queue')).toContain('当前排第 1 位，前面还有 0 人');
  });

  test('polls the place only while shown: stops on hide and unload, reads at once on show', async () => {
    let reads = 0;
    fakeApi({
      'GET /orders/77': [200, f.order({ status: 'checked_in', status_name: '已签到' })],
      'GET /orders/77/queue': () => {
        reads += 1;
        const ahead = Math.max(3 - reads, 0);
        return [200, f.queuePlace({ position: ahead + 1, ahead })];
      },
    });
    const page = open(30);
    await settled(page);
    await waitFor(() => reads >= 3, 2000, 'the timer');
    expect(text(page, '.queue')).toMatch(/当前排第 \d 位/);
    page.instance.onHide();
    const hidden = reads;
    await pause(120);
    expect(reads).toBe(hidden);
    page.instance.onShow();
    await waitFor(() => reads > hidden, 200, 'a read on show');
    await waitFor(() => reads > hidden + 2, 2000, 'the timer again');
    page.instance.onUnload();
    const unloaded = reads;
    await pause(120);
    expect(reads).toBe(unloaded);
  });

  test('a called patient is told to go in, in the server’s words', async () => {
    fakeApi({
      'GET /orders/77': [200, f.order({ status: 'checked_in', status_name: '已签到' })],
      'GET /orders/77/queue': [
        200,
        f.queuePlace({
          status: 'called',
          status_text: '已叫号',
          position: null,
          ahead: null,
          called_at: '2026-12-05T09:01:00+08:00',
          estimated_wait_minutes: 0,
        }),
      ],
    });
    const page = open(60000);
    await settled(page);
    expect(text(page, '.called')).toContain('已叫到您的号（09:01），请尽快到诊室就诊');
    expect(text(page, '.order-status')).toContain('已叫号');
    expect(find(page, '.queue-position')).toBeFalsy();
    expect(find(page, '.check-in')).toBeFalsy();
  });

  test('a visit that is over shows the server’s status and stops polling', async () => {
    let reads = 0;
    fakeApi({
      'GET /orders/77': [200, f.order({ status: 'completed', status_name: '已就诊' })],
      'GET /orders/77/queue': () => {
        reads += 1;
        return [
          200,
          f.queuePlace({
            status: 'completed',
            status_text: '已就诊',
            position: null,
            ahead: null,
            estimated_wait_minutes: null,
          }),
        ];
      },
    });
    const page = open(20);
    await settled(page);
    expect(text(page, '.queue-status')).toContain('已就诊');
    await pause(100);
    expect(reads).toBe(1);
  });

  test.each([
    ['not_visit_day', '今天不是就诊日，请在就诊当天签到'],
    ['check_in_closed', '不在签到时间内：请在就诊时段开始前60分钟至时段结束前签到'],
    ['order_not_checkable', '该挂号单当前状态不能签到'],
  ])('shows the check-in refusal %s in the server’s words', async (code, message) => {
    fakeApi({
      'GET /orders/77': [200, f.order()],
      'GET /orders/77/queue': [200, BOOKED],
      'POST /orders/77/check-in': [409, { code, message }],
    });
    const page = open(60000);
    await settled(page);
    await tap(page, '.check-in');
    await waitFor(() => page.data.checkInMessage);
    expect(text(page, '.check-in-message')).toContain(message);
    expect(page.data.order.status).toBe('booked');
    expect(find(page, '.check-in')).toBeTruthy();
  });

  test('a lost queue read says so and is tried again; another account’s order stops', async () => {
    let answer = ['network', 'unreachable'];
    let reads = 0;
    fakeApi({
      'GET /orders/77': [200, f.order({ status: 'checked_in', status_name: '已签到' })],
      'GET /orders/77/queue': () => {
        reads += 1;
        return answer;
      },
    });
    const page = open(30);
    await settled(page);
    expect(text(page, '.queue-message')).toContain('网络连接失败');
    answer = [200, f.queuePlace()];
    await waitFor(() => page.data.queue, 2000, 'the next read');
    expect(find(page, '.queue-message')).toBeFalsy();
    answer = [404, { code: 'not_found', message: '未找到该挂号单' }];
    await waitFor(() => page.data.queueMessage, 2000, 'the 404');
    expect(text(page, '.queue-message')).toContain('未找到该挂号单');
    const after = reads;
    await pause(100);
    expect(reads).toBe(after);
  });
});
