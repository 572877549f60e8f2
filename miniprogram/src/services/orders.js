/** Orders (挂号单): booking, paying, cancelling, rescheduling, the e-ticket and the visit day. */

const api = require('./request');
const { PAYMENT_CHANNEL } = require('../constants/index');

/** A fresh Idempotency-Key (8–64 of A-Z a-z 0-9 _ -), one per booking attempt. */
function newIdempotencyKey() {
  const random = Math.random().toString(36).slice(2, 12);
  return `mp-${Date.now().toString(36)}-${random}`;
}

/**
 * POST /orders {schedule_id, patient_id} with Idempotency-Key → 201 the held order
 * {id, status: pending_payment, seq, suggested_time, amount_fen, expires_at, ...}.
 * Refusals: 409 slot_sold_out / duplicate_booking / not_released, 422 not_eligible (+reason),
 * 429 booking_limit, 403 account_blocked. Retry a failed network call with the same key.
 */
function createOrder(scheduleId, patientId, idempotencyKey = newIdempotencyKey()) {
  return api.post(
    '/orders',
    { schedule_id: scheduleId, patient_id: patientId },
    { header: { 'Idempotency-Key': idempotencyKey } },
  );
}

/** GET /orders?status=&page= → {items, page, per_page, total}, only the account's. */
function listOrders(status, page = 1) {
  const query = { page, per_page: 20 };
  if (status) query.status = status;
  return api.get('/orders', query);
}

/** GET /orders/{id}: status, refunds, out_trade_no once a payment was asked for. */
function getOrder(id) {
  return api.get(`/orders/${id}`);
}

/** POST /orders/{id}/payments {channel: wechat} → {params} for wx.requestPayment. */
function createPayment(id) {
  return api.post(`/orders/${id}/payments`, { channel: PAYMENT_CHANNEL.WECHAT });
}

/** GET /orders/{id}/refund-quote → {refundable, refund_fen, fee_fen, reason}. */
function getRefundQuote(id) {
  return api.get(`/orders/${id}/refund-quote`);
}

/** POST /orders/{id}/cancel → the cancelled order (409 cancel_window_closed). */
function cancelOrder(id) {
  return api.post(`/orders/${id}/cancel`);
}

/** POST /orders/{id}/reschedule {schedule_id} → the moved order (409 reschedule_limit). */
function rescheduleOrder(id, scheduleId) {
  return api.post(`/orders/${id}/reschedule`, { schedule_id: scheduleId });
}

/** GET /orders/{id}/ticket → {order, qr_payload} (Ed25519-signed payload for the QR code). */
function getTicket(id) {
  return api.get(`/orders/${id}/ticket`);
}

/**
 * POST /orders/{id}/check-in: 签到, join the queue on the visit day → the place, as getQueue
 * answers it (checking in again answers the same place). 409 not_visit_day / check_in_closed /
 * order_not_checkable, 404 for another account's order.
 */
function checkIn(id) {
  return api.post(`/orders/${id}/check-in`);
}

/**
 * GET /orders/{id}/queue → {order_id, status, status_text, position, ahead, called_at,
 * estimated_wait_minutes}: position (1 is next) and ahead only while checked in and waiting,
 * the wait 0 once called and null when not waiting, called_at ISO 8601 or null.
 */
function getQueue(id) {
  return api.get(`/orders/${id}/queue`);
}

module.exports = {
  newIdempotencyKey,
  createOrder,
  listOrders,
  getOrder,
  createPayment,
  getRefundQuote,
  cancelOrder,
  rescheduleOrder,
  getTicket,
  checkIn,
  getQueue,
};
