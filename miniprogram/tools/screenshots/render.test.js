/**
 * Renders the main pages in the simulator with answers shaped as the API's (tests/support/
 * fixtures.js) and writes each as a standalone HTML file (app.wxss + the page's compiled WXSS,
 * rpx as px on a 750 px wide screen) into $SCREENSHOT_HTML_DIR; shoot.js turns them into PNGs.
 * The e-ticket's canvas cannot draw in jsdom: an SVG of the same QR modules stands in for it.
 */
const fs = require('fs');
const path = require('path');
const { compile } = require('miniprogram-simulate/src/wxss');
const { fakeApi } = require('../../tests/support/fake-api');
const { SRC, openPage, settled, waitFor, tap } = require('../../tests/support/pages');
const f = require('../../tests/support/fixtures');
const storage = require('../../src/utils/storage');
const qr = require('../../src/utils/qr');

const OUT = process.env.SCREENSHOT_HTML_DIR || path.join(__dirname, 'html');

const BASE_CSS = `
body { margin: 0; width: 750px; font-family: "WenQuanYi Micro Hei", sans-serif; }
wx-view, wx-scroll-view, wx-canvas, wx-picker, main, state-view { display: block; }
wx-text { display: inline; }
wx-button { display: block; text-align: center; padding: 20px 0; margin: 8px 0; line-height: 1.4; }
wx-input { display: block; min-height: 44px; line-height: 44px; }
wx-switch { display: inline-block; width: 84px; height: 48px; border-radius: 24px; background: #c9cdd4; }
wx-scroll-view { overflow: hidden; white-space: nowrap; }
`;

function appCss() {
  const raw = fs
    .readFileSync(path.join(SRC, 'app.wxss'), 'utf8')
    .replace(/(\d+(?:\.\d+)?)rpx/g, '$1px')
    .replace(/^page\s*\{/m, 'body {');
  return compile(raw, { prefix: 'main' }) + compile(raw, { prefix: 'state-view' });
}

function escape(text) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Serialize with the custom components' shadow trees inlined. */
function serialize(node) {
  if (node.nodeType === 3) return escape(node.textContent);
  if (node.nodeType !== 1) return '';
  const tag = node.tagName.toLowerCase();
  const attrs = Array.from(node.attributes)
    .map((a) => ` ${a.name}="${escape(a.value).replace(/"/g, '&quot;')}"`)
    .join('');
  const children = node.shadowRoot ? node.shadowRoot.childNodes : node.childNodes;
  return `<${tag}${attrs}>${Array.from(children).map(serialize).join('')}</${tag}>`;
}

function qrSvg(payload) {
  const rows = qr.matrix(payload);
  const size = rows.length + 8;
  const cells = rows
    .flatMap((row, r) =>
      row.map((dark, c) => (dark ? `<rect x="${c + 4}" y="${r + 4}" width="1" height="1"/>` : '')),
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="400" height="400" style="display:block;margin:0 auto 16px;background:#fff">${cells}</svg>`;
}

function dump(name, page, extra = '') {
  const styles = Array.from(document.querySelectorAll('style'))
    .map((s) => s.textContent)
    .join('\n');
  let body = serialize(page.dom);
  if (page.data.ticket) {
    body = body.replace(/<wx-canvas[^>]*>.*?<\/wx-canvas>/, qrSvg(page.data.ticket.qr_payload));
  }
  const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><style>${BASE_CSS}${appCss()}${styles}${extra}</style></head><body>${body}</body></html>`;
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(path.join(OUT, `${name}.html`), html);
  return html;
}

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
    {
      id: 11,
      name: '儿科',
      hospital_id: 1,
      hospital_name: '京华第一人民医院',
      matched_symptoms: ['小儿咳嗽'],
    },
  ],
  doctors: [],
};
const SCHEDULES = [
  f.schedule(),
  f.schedule({
    id: 101,
    period: 'afternoon',
    period_name: '下午',
    start_time: '13:30',
    end_time: '17:00',
    remaining: 0,
    status: 'full',
    doctor: {
      ...f.doctorBrief,
      id: 6,
      name: '李秀英',
      title_name: '副主任医师',
      specialty: '儿童生长发育',
    },
    fee_fen: 3000,
  }),
];
const CALENDAR = f.calendar([
  'full',
  'available',
  'available',
  'stopped',
  'available',
  'not_released',
  'none',
]);
const TICKET = {
  order: f.order(),
  qr_payload:
    'v1.eyJvIjo3NywicyI6MywiZCI6IjIwMjYtMTItMDUifQ.3q2-7wT0cR1q8n9yXxg8M1vS4g1cZ0K2bJd7Yw9pQfE0aWlZbUxvU1pQeVhrT2p2dUFjWQ',
};

beforeEach(() => storage.setToken('screenshot'));

test('renders the main pages', async () => {
  fakeApi({
    'GET /hospitals': [
      200,
      f.page([
        f.hospital,
        {
          ...f.hospital,
          id: 2,
          name: '上海浦江中心医院',
          region: '上海市',
          district: '浦东新区',
          address: '上海市浦东新区浦江路 888 号',
        },
      ]),
    ],
    'GET /search': [200, SEARCH],
    'GET /hospitals/1': [200, f.hospital],
    'GET /hospitals/1/departments': [200, f.departments],
    'GET /departments/11/calendar': [200, CALENDAR],
    'GET /departments/11/schedules': [200, SCHEDULES],
    'GET /patients': [200, f.page([f.selfPatient, f.patient])],
    'POST /orders': [
      201,
      f.order({
        status: 'pending_payment',
        status_name: '待支付',
        paid: false,
        expires_at: new Date(Date.now() + 14 * 60000 + 32000).toISOString(),
      }),
    ],
    'GET /orders/77': [200, f.order()],
    'GET /orders/77/ticket': [200, TICKET],
    'GET /orders/78': [200, f.order({ id: 78, status: 'checked_in', status_name: '已签到' })],
    'GET /orders/78/queue': [200, f.queuePlace({ order_id: 78 })],
    'GET /me': [
      200,
      {
        id: 1,
        nickname: '',
        phone_masked: '138****8000',
        has_phone: true,
        has_wechat: true,
        status: 'active',
      },
    ],
  });
  storage.rememberVisit({
    id: 11,
    name: '儿科',
    hospital_id: 1,
    hospital_name: '京华第一人民医院',
  });
  const shots = [];

  let page = openPage('pages/home/index');
  await settled(page);
  shots.push(dump('home', page));

  page = openPage('pages/search/index', { q: '咳嗽' });
  await settled(page);
  shots.push(dump('search', page));

  page = openPage('packages/booking/pages/hospital/index', { id: '1' });
  await settled(page);
  await tap(page, '.top-department');
  shots.push(dump('hospital', page));

  const department = {
    id: '11',
    name: '儿科',
    hospital_id: '1',
    hospital_name: '京华第一人民医院',
  };
  page = openPage('packages/booking/pages/department/index', department);
  await settled(page);
  await waitFor(() => page.data.schedules.length);
  shots.push(dump('department', page));

  page = openPage('packages/booking/pages/confirm/index', {
    schedule_id: '100',
    department_id: '11',
    date: '2026-12-05',
  });
  await settled(page);
  shots.push(dump('confirm', page));
  await tap(page, '.submit');
  await waitFor(() => page.data.order && page.data.countdown);
  shots.push(dump('confirm-held', page));

  page = openPage('packages/orders/pages/detail/index', { id: '77' });
  await settled(page);
  shots.push(dump('order-ticket', page));

  page = openPage('packages/orders/pages/visit/index', { id: '78' });
  await settled(page);
  shots.push(dump('visit', page));

  page = openPage('packages/family/pages/list/index');
  await settled(page);
  shots.push(dump('family', page));

  storage.setElder(true);
  page = openPage('pages/me/index');
  await settled(page);
  shots.push(dump('me-elder', page));

  page = openPage('packages/booking/pages/department/index', department);
  await settled(page);
  await waitFor(() => page.data.schedules.length);
  shots.push(dump('department-elder', page));

  expect(shots).toHaveLength(11);
  shots.forEach((html) => expect(html).toMatch(/[\u4e00-\u9fff]/));
});
