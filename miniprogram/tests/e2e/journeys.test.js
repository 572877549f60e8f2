/**
 * Patient journeys through the pages against the real backend (see support/backend.js): the
 * pages' own code calls the API over loopback; WeChat login, payment and subscription consent
 * go through the backend's sandbox stand-ins. No worker runs beside the backend: a journey that
 * waits for a message runs the queued jobs itself (backendProcess.runJobs).
 */
const backendProcess = require('../support/backend');
const { call, installBridge, apiLogin } = require('../support/bridge');
const { residentId } = require('../support/ids');
const {
  openPage,
  settled,
  waitFor,
  text,
  tap,
  tapText,
  type,
  find,
  lastNavigation,
} = require('../support/pages');
const { chinaDate, nextDates } = require('../../src/utils/format');

jest.setTimeout(60000);

let backend;
const DAY2 = nextDates(chinaDate(new Date()), 3)[2]; // free cancellation: ≥ 24 h before the visit

beforeAll(async () => {
  backend = await backendProcess.start();
}, backendProcess.LOCK_WAIT_MS + 90000); // another run of the journeys may hold Redis first

afterAll(() => {
  backendProcess.stop(backend);
});

/** The template ids the server gives for wx.requestSubscribeMessage, by kind. */
async function templateIds(token) {
  const answer = await api('GET', '/subscriptions', undefined, token);
  return Object.fromEntries(answer.data.items.map((item) => [item.kind, item.template_id]));
}

async function remainingByKind(token) {
  const answer = await api('GET', '/subscriptions', undefined, token);
  expect(answer.statusCode).toBe(200);
  return Object.fromEntries(answer.data.items.map((item) => [item.kind, item.remaining]));
}

/** The subscription messages the WeChat stand-in accepted for `openid`. */
async function wechatMessages(openid) {
  const answer = await call(backend, 'GET', `/sandbox/wechat/messages?openid=${openid}`);
  expect(answer.statusCode).toBe(200);
  return answer.data.items;
}

/** The messages of one template WeChat accepted for `openid`, which must be `count`. */
async function sentMessages(openid, templateId, count) {
  const sent = (await wechatMessages(openid)).filter((m) => m.template_id === templateId);
  if (sent.length !== count) {
    const log = backendProcess.tasksLog(backend);
    throw new Error(
      `${sent.length} message(s) of ${templateId}, not ${count}; the jobs said:\n${log}`,
    );
  }
  return sent;
}

/** A signed-in account with its own 本人, its token also the pages'. */
async function patientAccount(openid, name, idNumber) {
  installBridge(backend, { openid });
  const token = await apiLogin(backend, openid);
  const added = await api(
    'POST',
    '/patients',
    { name, id_number: idNumber, relationship: 'self' },
    token,
  );
  expect(added.statusCode).toBe(201);
  wx.setStorageSync('auth.token', token);
  return token;
}

async function api(method, path, body, token, headers = {}) {
  const auth = token ? { Authorization: `Bearer ${token}` } : {};
  return call(backend, method, `/api/v1${path}`, body, { ...auth, ...headers });
}

async function departmentOf(hospitalName, name) {
  const hospitals = await api('GET', '/hospitals');
  const hospital = hospitals.data.items.find((h) => h.name === hospitalName);
  const tree = await api('GET', `/hospitals/${hospital.id}/departments`);
  const all = tree.data.flatMap((d) => [d, ...d.children]);
  return { hospital, department: all.find((d) => d.name === name) };
}

async function openDepartmentDay(department, hospital, date) {
  const page = openPage('packages/booking/pages/department/index', {
    id: String(department.id),
    name: department.name,
    hospital_id: String(hospital.id),
    hospital_name: hospital.name,
  });
  await settled(page, 10000);
  await tap(page, `#day-${date}`);
  await waitFor(() => page.data.date === date && !page.data.schedulesLoading, 10000, 'the day');
  return page;
}

test('a parent adds a child, books 儿科, pays, sees it booked, cancels and sees the refund', async () => {
  installBridge(backend, { openid: 'o_e2e_parent' });

  // Home → hospital → its department tree.
  let page = openPage('pages/home/index');
  await settled(page, 10000);
  expect(text(page)).toContain('京华第一人民医院');
  await tapText(page, '.hospital', '京华第一人民医院');
  page = openPage(lastNavigation().url);
  await settled(page, 10000);
  expect(text(page, '.notices')).toContain('07:00 放号');
  await tapText(page, '.top-department', '儿科');
  const departmentUrl = lastNavigation().url;
  expect(departmentUrl).toContain('name=' + encodeURIComponent('儿科'));

  // Add the child: a wrong check digit first, refused in the server's words.
  page = openPage('packages/family/pages/edit/index');
  await settled(page);
  const childId = residentId('2018-05-01', 'male', 1);
  const wrongDigit = childId.slice(0, 17) + (childId[17] === '0' ? '1' : '0');
  await type(page, '.name-input', '王小明');
  await type(page, '.id-input', wrongDigit);
  find(page, '.relationship-picker').dispatchEvent('change', { detail: { value: 1 } });
  await tap(page, '.save');
  await waitFor(() => page.data.errors.id_number, 10000, 'the ID refusal');
  expect(text(page, '.id-error')).toContain('身份证号码校验位错误');
  await type(page, '.id-input', childId);
  await tap(page, '.save');
  await waitFor(() => lastNavigation().kind === 'navigateBack', 10000, 'the saved patient');

  // The department's calendar, the day after tomorrow, a doctor with numbers left.
  page = openPage(departmentUrl);
  await settled(page, 10000);
  expect(page.data.days).toHaveLength(7);
  await tap(page, `#day-${DAY2}`);
  await waitFor(() => page.data.date === DAY2 && page.data.schedules.length, 10000, 'schedules');
  const index = page.data.schedules.findIndex((s) => s.bookable);
  expect(index).toBeGreaterThanOrEqual(0);
  expect(text(page, '.schedule-available')).toContain('余');
  await tap(page, '.schedule-available .book-btn');
  expect(lastNavigation().url).toContain('/packages/booking/pages/confirm/index?schedule_id=');

  // Confirm: choose the child, hold, see the countdown, pay.
  page = openPage(lastNavigation().url);
  await settled(page, 10000);
  await tapText(page, '.patient', '王小明');
  expect(page.data.patients.find((p) => p.id === page.data.patientId).name).toBe('王小明');
  await tap(page, '.submit');
  await waitFor(() => page.data.order, 10000, 'the hold');
  expect(page.data.order.status).toBe('pending_payment');
  expect(text(page, '.countdown')).toMatch(/1[45]:\d\d/);
  await tap(page, '.pay');
  await waitFor(() => lastNavigation().kind === 'redirectTo', 15000, 'the payment');
  const resultUrl = lastNavigation().url;
  expect(resultUrl).toContain('/packages/booking/pages/pay-result/index?id=');
  expect(wx.__fake.payments[0].signType).toBe('RSA');

  // The result page asks the server, which has the verified notification.
  page = openPage(resultUrl);
  await waitFor(() => page.data.state !== 'waiting', 15000, 'the booked order');
  expect(page.data.state).toBe('booked');
  expect(text(page)).toContain('挂号成功');
  await tap(page, '.view-order');

  // The order: e-ticket, then cancel with the refund quote first.
  page = openPage(lastNavigation().url);
  await settled(page, 10000);
  expect(page.data.order.status).toBe('booked');
  expect(page.data.ticket.qr_payload.length).toBeGreaterThan(20);
  expect(page.data.qrModules).toBeGreaterThan(20);
  expect(text(page, '.ticket')).toContain('就诊序号');
  await tap(page, '.cancel');
  await waitFor(() => page.data.quote, 10000, 'the refund quote');
  expect(text(page, '.quote')).toContain('可全额退款');
  expect(text(page, '.quote')).toContain(page.data.order.amount);
  await tap(page, '.confirm-cancel');
  await waitFor(() => page.data.order && page.data.order.status === 'cancelled', 10000, 'cancel');
  expect(text(page, '.refunds')).toContain(page.data.order.amount);
  expect(text(page, '.refunds')).toMatch(/退款处理中|已退款/);

  // The order list shows it under 已取消.
  page = openPage('packages/orders/pages/list/index', { status: 'cancelled' });
  await settled(page, 10000);
  expect(text(page, '.order')).toContain('王小明');
});

test('a male patient booking 妇科 reads the server’s refusal', async () => {
  installBridge(backend, { openid: 'o_e2e_male' });
  const token = await apiLogin(backend, 'o_e2e_male');
  const added = await api(
    'POST',
    '/patients',
    { name: '李建国', id_number: residentId('1980-03-04', 'male', 2), relationship: 'self' },
    token,
  );
  expect(added.statusCode).toBe(201);
  wx.setStorageSync('auth.token', token);
  const { hospital, department } = await departmentOf('京华第一人民医院', '妇科');

  let page = await openDepartmentDay(department, hospital, DAY2);
  await tap(page, '.schedule-available .book-btn');
  page = openPage(lastNavigation().url);
  await settled(page, 10000);
  expect(text(page, '.patient-selected')).toContain('李建国');
  await tap(page, '.submit');
  await waitFor(() => page.data.refusal, 10000, 'the refusal');
  expect(text(page, '.refusal')).toContain('该科室仅接诊女性患者');
  expect(text(page, '.refusal-hint')).toContain('请更换就诊人'); // the server's reason: sex_restricted
  expect(page.data.order).toBeNull();
});

test('a sold-out schedule shows 约满, and booking it shows the server’s sold-out message', async () => {
  const { hospital, department } = await departmentOf('京华第一人民医院', '呼吸内科');
  // Find the small clinic (5 numbers) of the demo data and hold all of them from two accounts.
  let small = null;
  for (const date of nextDates(chinaDate(new Date()), 8).slice(2)) {
    const day = await api('GET', `/departments/${department.id}/schedules?date=${date}`);
    small = day.data.find((s) => s.total === 5 && s.status === 'available');
    if (small) break;
  }
  expect(small).toBeTruthy();
  let serial = 10;
  for (const [openid, count] of [
    ['o_e2e_fill_a', 3],
    ['o_e2e_fill_b', small.remaining - 3],
  ]) {
    const token = await apiLogin(backend, openid);
    for (let i = 0; i < count; i += 1) {
      serial += 1;
      const patient = await api(
        'POST',
        '/patients',
        {
          name: `张${'一二三四五'[i]}`,
          id_number: residentId('1985-06-0' + (i + 1), 'female', serial),
          relationship: i === 0 ? 'self' : 'spouse',
        },
        token,
      );
      expect(patient.statusCode).toBe(201);
      const order = await api(
        'POST',
        '/orders',
        { schedule_id: small.id, patient_id: patient.data.id },
        token,
        { 'Idempotency-Key': `e2e-fill-${openid}-${i}` },
      );
      expect(order.statusCode).toBe(201);
    }
  }

  installBridge(backend, { openid: 'o_e2e_late' });
  const token = await apiLogin(backend, 'o_e2e_late');
  await api(
    'POST',
    '/patients',
    { name: '赵丽华', id_number: residentId('1990-01-02', 'female', 40), relationship: 'self' },
    token,
  );
  wx.setStorageSync('auth.token', token);

  let page = await openDepartmentDay(department, hospital, small.date);
  const index = page.data.schedules.findIndex((s) => s.id === small.id);
  expect(page.data.schedules[index].status).toBe('full');
  expect(text(page, '.schedule-full')).toContain('约满');
  expect(find(page, '.schedule-full .book-btn')).toBeFalsy();
  await tap(page, '.schedule-full');
  expect(lastNavigation().url).toContain('/packages/booking/pages/doctor/index?id=');

  // Someone who opened the confirm page before it sold out: the server says so.
  page = openPage('packages/booking/pages/confirm/index', {
    schedule_id: String(small.id),
    department_id: String(department.id),
    date: small.date,
  });
  await settled(page, 10000);
  await tap(page, '.submit');
  await waitFor(() => page.data.refusal, 10000, 'the refusal');
  expect(text(page, '.refusal')).toContain('该时段号源已约满');
});

test('paying asks for reminders: the grants are kept, the booking confirmation reaches WeChat, and a stopped clinic explains its full refund', async () => {
  const openid = 'o_e2e_consent';
  const token = await patientAccount(openid, '孙雨桐', residentId('1992-07-08', 'female', 50));
  const { department } = await departmentOf('京华第一人民医院', '皮肤科');
  let schedule = null;
  for (const date of nextDates(DAY2, 5)) {
    const day = await api('GET', `/departments/${department.id}/schedules?date=${date}`);
    schedule = day.data.find((s) => s.status === 'available' && s.fee_fen > 0);
    if (schedule) break;
  }
  expect(schedule).toBeTruthy();
  const ids = await templateIds(token);
  expect(ids.booking_confirmed).toMatch(/^sandboxTmpl/); // the WeChat stand-in's, in development
  expect(await remainingByKind(token)).toMatchObject({ booking_confirmed: 0, visit_reminder: 0 });

  // Hold, then the pay tap: WeChat's prompt with the server's template ids, accepted.
  let page = openPage('packages/booking/pages/confirm/index', {
    schedule_id: String(schedule.id),
    department_id: String(department.id),
    date: schedule.date,
  });
  await settled(page, 10000);
  await tap(page, '.submit');
  await waitFor(() => page.data.order, 10000, 'the hold');
  const orderId = page.data.order.id;
  expect(wx.__fake.subscribeRequests).toHaveLength(0);
  await tap(page, '.pay');
  await waitFor(() => lastNavigation().kind === 'redirectTo', 15000, 'the payment');
  expect(wx.__fake.subscribeRequests).toEqual([
    [ids.booking_confirmed, ids.visit_reminder, ids.stop_clinic],
  ]);
  expect(await remainingByKind(token)).toEqual({
    booking_confirmed: 1,
    visit_reminder: 1,
    stop_clinic: 1,
    refund_result: 0,
    queue_called: 0,
  });
  page = openPage(lastNavigation().url);
  await waitFor(() => page.data.state !== 'waiting', 15000, 'the booked order');
  expect(page.data.state).toBe('booked');

  // The backend's job sends the booking confirmation.
  backendProcess.runJobs(backend);
  const confirmations = await sentMessages(openid, ids.booking_confirmed, 1);
  expect(confirmations[0].page).toBe(`packages/orders/pages/detail/index?id=${orderId}`);
  expect(JSON.stringify(confirmations[0].data)).toContain('孙雨桐');
  expect(await remainingByKind(token)).toMatchObject({ booking_confirmed: 0, stop_clinic: 1 });

  // The hospital stops the clinic (停诊): the order page says why, and that the fee comes back.
  backendProcess.flask(backend, [
    'stop-clinic',
    String(schedule.id),
    '--reason',
    '医生临时外出会诊',
  ]);
  page = openPage('packages/orders/pages/detail/index', { id: String(orderId) });
  await settled(page, 10000);
  expect(page.data.order.status).toBe('cancelled');
  expect(page.data.order.cancelled_by).toBe('hospital');
  expect(text(page, '.cancel-reason')).toContain('停诊：医生临时外出会诊');
  expect(text(page, '.full-refund')).toContain(`挂号费 ${page.data.order.amount} 全额退还`);
  expect(text(page, '.refunds')).toContain('医生停诊，全额退款');
  expect(text(page, '.refunds')).toContain('手续费 ¥0.00');
  expect(find(page, '.ticket')).toBeFalsy();
  backendProcess.runJobs(backend);
  const notices = await sentMessages(openid, ids.stop_clinic, 1);
  await sentMessages(openid, ids.booking_confirmed, 1); // once, however often the jobs ran
  expect(JSON.stringify(notices[0].data)).toContain('医生临时外出会诊');
});

test('on the visit day a patient books a free number of a clinic under way, checks in from the visit page and is next', async () => {
  const openid = 'o_e2e_visit';
  const token = await patientAccount(openid, '周明远', residentId('1975-11-20', 'male', 60));
  const { hospital, department } = await departmentOf('京华第一人民医院', '眼科');
  const clinic = backendProcess.clinicNow(backend, department.id, 0);
  const today = chinaDate(new Date());
  expect(clinic.date).toBe(today);
  const ids = await templateIds(token);

  // The clinic is on the department's today, free.
  let page = await openDepartmentDay(department, hospital, today);
  const shown = page.data.schedules.find((s) => s.id === clinic.schedule_id);
  expect(shown).toBeTruthy();
  expect(shown.fee_fen).toBe(0);

  // A free number is booked by the confirm tap itself, which asks for the reminders.
  page = openPage('packages/booking/pages/confirm/index', {
    schedule_id: String(clinic.schedule_id),
    department_id: String(department.id),
    date: today,
  });
  await settled(page, 10000);
  await tap(page, '.submit');
  await waitFor(() => lastNavigation().kind === 'redirectTo', 10000, 'the free booking');
  expect(wx.__fake.payments).toHaveLength(0);
  expect(wx.__fake.subscribeRequests[0]).toEqual([
    ids.booking_confirmed,
    ids.visit_reminder,
    ids.stop_clinic,
  ]);
  page = openPage(lastNavigation().url);
  await waitFor(() => page.data.state !== 'waiting', 10000, 'the booked order');
  expect(page.data.state).toBe('booked');
  const orderId = page.data.order.id;

  // The visit page: not checked in yet; the tap asks for queue_called, then checks in.
  page = openPage(
    'packages/orders/pages/visit/index',
    { id: String(orderId) },
    { config: { QUEUE_REFRESH_MS: 200 } },
  );
  await settled(page, 10000);
  expect(text(page, '.queue')).toContain('尚未签到');
  expect(text(page, '.order-status')).toContain('已预约');
  await tap(page, '.check-in');
  await waitFor(() => page.data.order.status === 'checked_in', 10000, 'the check-in');
  expect(page.data.checkInMessage).toBe('');
  expect(wx.__fake.subscribeRequests[1]).toEqual([ids.queue_called]);
  expect(await remainingByKind(token)).toMatchObject({ queue_called: 1 });
  expect(page.data.queue).toMatchObject({ order_id: orderId, position: 1, ahead: 0 });
  expect(text(page, '.order-status')).toContain('已签到');
  expect(text(page, '.queue')).toContain('当前排第 1 位，前面还有 0 人');
  expect(text(page, '.next')).toContain('下一位就是您');
  expect(find(page, '.check-in')).toBeFalsy();

  // The place is read again on the timer while the page is shown, and no more once hidden.
  const reads = () =>
    wx.__fake.requests.filter((r) => r.url.endsWith(`/orders/${orderId}/queue`)).length;
  const before = reads();
  await waitFor(() => reads() >= before + 2, 5000, 'the queue polled');
  expect(page.data.queue).toMatchObject({ status: 'checked_in', position: 1, ahead: 0 });
  page.instance.onHide();
  const hidden = reads();
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(reads()).toBe(hidden);

  // Checking in again answers the same place; first in line, the queue_called notice goes out.
  const again = await api('POST', `/orders/${orderId}/check-in`, undefined, token);
  expect(again.statusCode).toBe(200);
  expect(again.data).toMatchObject({ position: 1, ahead: 0, status_text: '已签到' });
  backendProcess.runJobs(backend);
  const called = await sentMessages(openid, ids.queue_called, 1);
  expect(called[0].page).toBe(`packages/orders/pages/visit/index?id=${orderId}`);
});
