/**
 * The API's enumerations, mirrored once (values as on the wire, labels as patients read them).
 * Keep in step with app/domain on the server.
 */

const ORDER_STATUS = {
  PENDING_PAYMENT: 'pending_payment',
  BOOKED: 'booked',
  CHECKED_IN: 'checked_in',
  CALLED: 'called',
  COMPLETED: 'completed',
  EXPIRED: 'expired',
  CANCELLED: 'cancelled',
  NO_SHOW: 'no_show',
  RESCHEDULED: 'rescheduled',
};

const ORDER_STATUS_LABEL = {
  pending_payment: '待支付',
  booked: '已预约',
  checked_in: '已签到',
  called: '已叫号',
  completed: '已就诊',
  expired: '已过期',
  cancelled: '已取消',
  no_show: '爽约',
  rescheduled: '已改约',
};

/** The tabs of the order list: a label and the ?status= it asks for (empty: all). */
const ORDER_TABS = [
  { status: '', label: '全部' },
  { status: ORDER_STATUS.PENDING_PAYMENT, label: '待支付' },
  { status: ORDER_STATUS.BOOKED, label: '待就诊' },
  { status: ORDER_STATUS.COMPLETED, label: '已就诊' },
  { status: ORDER_STATUS.CANCELLED, label: '已取消' },
];

/** A day's or a schedule's availability. */
const AVAILABILITY = {
  AVAILABLE: 'available',
  FULL: 'full',
  NOT_RELEASED: 'not_released',
  STOPPED: 'stopped',
  NONE: 'none',
};

const AVAILABILITY_LABEL = {
  available: '有号',
  full: '约满',
  not_released: '未放号',
  stopped: '停诊',
  none: '无排班',
};

const PERIOD_LABEL = { morning: '上午', afternoon: '下午', evening: '晚间' };

const RELATIONSHIP = [
  { value: 'self', label: '本人' },
  { value: 'child', label: '子女' },
  { value: 'parent', label: '父母' },
  { value: 'spouse', label: '配偶' },
  { value: 'other', label: '其他' },
];

const ID_TYPE = [
  { value: 'resident_id', label: '居民身份证' },
  { value: 'passport', label: '护照' },
  { value: 'hk_macau_permit', label: '港澳居民来往内地通行证' },
  { value: 'mainland_travel_permit_hk_macau', label: '往来港澳通行证' },
  { value: 'taiwan_permit', label: '台湾居民来往大陆通行证' },
  { value: 'foreign_permanent_resident', label: '外国人永久居留身份证' },
];

const SEX = [
  { value: 'male', label: '男' },
  { value: 'female', label: '女' },
];

const PAYMENT_CHANNEL = { WECHAT: 'wechat', ALIPAY: 'alipay' };

/** Subscription message kinds, as /subscriptions names them (their names come with the answer). */
const SUBSCRIPTION_KIND = {
  BOOKING_CONFIRMED: 'booking_confirmed',
  VISIT_REMINDER: 'visit_reminder',
  STOP_CLINIC: 'stop_clinic',
  REFUND_RESULT: 'refund_result',
  QUEUE_CALLED: 'queue_called',
};

/** Who cancelled an order (`cancelled_by`). */
const CANCELLED_BY = { PATIENT: 'patient', HOSPITAL: 'hospital', SYSTEM: 'system' };

/** Why GET /orders/{id}/refund-quote answers as it does, in the patient's words. */
const REFUND_QUOTE_REASON = {
  unpaid: '订单未支付，取消后号源将释放',
  free_cancellation: '距就诊时间充足，可全额退款',
  cancellation_fee: '距就诊时间较近，按医院规定收取部分手续费',
  cancel_window_closed: '距就诊时间过近，已不能取消',
  visit_started: '就诊已开始，不能取消',
  not_cancellable: '该订单当前不能取消',
};

/** What a patient can do about a booking refusal, by the refusal's `reason` (422 not_eligible). */
const NOT_ELIGIBLE_HINT = {
  sex_restricted: '请更换就诊人，或选择其他科室。',
  age_restricted: '请更换就诊人，或选择适合年龄的科室。',
  birth_date_invalid: '请在“就诊人管理”中删除该就诊人后重新添加。',
};

/** Order states in which the visit is still ahead (cancel, reschedule, ticket, check-in). */
const ACTIVE_STATUSES = ['pending_payment', 'booked', 'checked_in', 'called'];

module.exports = {
  ORDER_STATUS,
  ORDER_STATUS_LABEL,
  ORDER_TABS,
  AVAILABILITY,
  AVAILABILITY_LABEL,
  PERIOD_LABEL,
  RELATIONSHIP,
  ID_TYPE,
  SEX,
  PAYMENT_CHANNEL,
  SUBSCRIPTION_KIND,
  CANCELLED_BY,
  REFUND_QUOTE_REASON,
  NOT_ELIGIBLE_HINT,
  ACTIVE_STATUSES,
};
