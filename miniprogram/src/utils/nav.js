/** Page addresses in one place, so a moved page is changed once. */

const PAGES = {
  home: '/pages/home/index',
  search: '/pages/search/index',
  me: '/pages/me/index',
  hospital: '/packages/booking/pages/hospital/index',
  department: '/packages/booking/pages/department/index',
  doctor: '/packages/booking/pages/doctor/index',
  confirm: '/packages/booking/pages/confirm/index',
  payResult: '/packages/booking/pages/pay-result/index',
  orders: '/packages/orders/pages/list/index',
  orderDetail: '/packages/orders/pages/detail/index',
  reschedule: '/packages/orders/pages/reschedule/index',
  visit: '/packages/orders/pages/visit/index',
  family: '/packages/family/pages/list/index',
  familyEdit: '/packages/family/pages/edit/index',
  settings: '/packages/me/pages/settings/index',
};

/** '/a/b' + {x: 1, y: 'z'} → '/a/b?x=1&y=z' (values URI-encoded, empty ones left out). */
function url(page, query = {}) {
  const pairs = Object.keys(query)
    .filter((key) => query[key] !== undefined && query[key] !== null && query[key] !== '')
    .map((key) => `${key}=${encodeURIComponent(query[key])}`);
  return pairs.length ? `${PAGES[page]}?${pairs.join('&')}` : PAGES[page];
}

function go(page, query) {
  return wx.navigateTo({ url: url(page, query) });
}

function replace(page, query) {
  return wx.redirectTo({ url: url(page, query) });
}

function tab(page) {
  return wx.switchTab({ url: PAGES[page] });
}

module.exports = { PAGES, url, go, replace, tab };
