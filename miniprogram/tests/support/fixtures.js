/** Answers shaped as the API gives them (see app/schemas), for the pages' unit tests. */

const hospital = {
  id: 1,
  name: '京华第一人民医院',
  level: '3A',
  level_name: '三级甲等',
  region: '北京市',
  district: '西城区',
  address: '北京市西城区复兴门内大街 101 号',
  phone: '010-66001234',
  intro: '综合性三级甲等医院。',
  booking_rules: { release_time: '07:00', booking_window_days: 7, hold_minutes: 15 },
};

const departments = [
  {
    id: 1,
    name: '内科',
    parent_id: null,
    location: '门诊楼 1 层 A 区',
    eligibility: { sex: 'any', min_age: null, max_age: null },
    symptoms: [],
    children: [
      {
        id: 2,
        name: '呼吸内科',
        parent_id: 1,
        location: '门诊楼 2 层 B 区',
        eligibility: { sex: 'any', min_age: null, max_age: null },
        symptoms: ['咳嗽'],
        children: [],
      },
    ],
  },
  {
    id: 9,
    name: '妇科',
    parent_id: null,
    location: '门诊楼 3 层 A 区',
    eligibility: { sex: 'female', min_age: null, max_age: null },
    symptoms: [],
    children: [],
  },
  {
    id: 11,
    name: '儿科',
    parent_id: null,
    location: '门诊楼 4 层 C 区',
    eligibility: { sex: 'any', min_age: null, max_age: 14 },
    symptoms: [],
    children: [],
  },
];

const doctorBrief = {
  id: 5,
  name: '王建国',
  title: 'chief_physician',
  title_name: '主任医师',
  specialty: '小儿呼吸系统疾病',
};

function schedule(overrides = {}) {
  return {
    id: 100,
    date: '2026-12-05',
    period: 'morning',
    period_name: '上午',
    start_time: '08:00',
    end_time: '12:00',
    fee_fen: 5000,
    total: 12,
    remaining: 7,
    status: 'available',
    release_at: '2026-11-28T07:00:00+08:00',
    stop_reason: null,
    doctor: doctorBrief,
    ...overrides,
  };
}

function calendar(statuses) {
  const start = Date.UTC(2026, 11, 4);
  return statuses.map((status, i) => ({
    date: new Date(start + i * 86400000).toISOString().slice(0, 10),
    status,
    total: 40,
    remaining: status === 'available' ? 12 : 0,
  }));
}

const patient = {
  id: 31,
  name: '王小明',
  id_type: 'resident_id',
  id_type_name: '居民身份证',
  id_number_masked: '1*************0011',
  sex: 'male',
  birth_date: '2018-05-01',
  age: 8,
  phone_masked: null,
  relationship: 'child',
  relationship_name: '子女',
  insured: false,
  medical_card_no: null,
};

const selfPatient = {
  ...patient,
  id: 30,
  name: '王建业',
  relationship: 'self',
  relationship_name: '本人',
  birth_date: '1985-02-03',
  age: 41,
};

function order(overrides = {}) {
  return {
    id: 77,
    status: 'booked',
    status_name: '已预约',
    seq: 3,
    suggested_time: '2026-12-05T08:40:00+08:00',
    visit_date: '2026-12-05',
    period: 'morning',
    period_name: '上午',
    amount_fen: 5000,
    expires_at: '2026-12-03T12:15:00+08:00',
    schedule_id: 100,
    hospital: { id: 1, name: '京华第一人民医院' },
    department: { id: 11, name: '儿科', location: '门诊楼 4 层 C 区' },
    doctor: { id: 5, name: '王建国', title: 'chief_physician', title_name: '主任医师' },
    patient: { id: 31, name: '王小明', id_number_masked: '1*************0011' },
    reschedule_count: 0,
    out_trade_no: 'WX77',
    paid: true,
    refunds: [],
    cancelled_by: null,
    cancel_reason: '',
    created_at: '2026-12-03T12:00:00+08:00',
    ...overrides,
  };
}

/** The WeChat stand-in's template ids (config.py SANDBOX_WECHAT_TEMPLATES), by kind. */
const TEMPLATE_IDS = {
  booking_confirmed: 'sandboxTmplBookingConfirmed000000000000001',
  visit_reminder: 'sandboxTmplVisitReminder0000000000000000002',
  stop_clinic: 'sandboxTmplStopClinic0000000000000000000003',
  refund_result: 'sandboxTmplRefundResult00000000000000000004',
  queue_called: 'sandboxTmplQueueCalled00000000000000000005',
};

const KIND_NAMES = {
  booking_confirmed: '预约成功通知',
  visit_reminder: '就诊提醒',
  stop_clinic: '停诊通知',
  refund_result: '退款结果通知',
  queue_called: '叫号提醒',
};

/** GET / POST /subscriptions: every kind, with `remaining` {kind: n} (0 otherwise). */
function consents(remaining = {}, templateIds = TEMPLATE_IDS) {
  return {
    items: Object.keys(KIND_NAMES).map((kind) => ({
      kind,
      name: KIND_NAMES[kind],
      template_id: templateIds[kind] === undefined ? null : templateIds[kind],
      remaining: remaining[kind] || 0,
    })),
  };
}

/** GET /orders/{id}/queue (and POST …/check-in): a waiting place by default. */
function queuePlace(overrides = {}) {
  return {
    order_id: 77,
    status: 'checked_in',
    status_text: '已签到',
    position: 4,
    ahead: 3,
    called_at: null,
    estimated_wait_minutes: 24,
    ...overrides,
  };
}

function page(items) {
  return { items, page: 1, per_page: 20, total: items.length };
}

module.exports = {
  hospital,
  departments,
  doctorBrief,
  schedule,
  calendar,
  patient,
  selfPatient,
  order,
  TEMPLATE_IDS,
  consents,
  queuePlace,
  page,
};
