/**
 * A scripted API for unit tests: routes 'METHOD /path' (path after /api/v1, without the query)
 * to [status, body] or to a function of the request returning one. Unrouted calls answer 404
 * with the API's envelope, as the server does.
 */

function fakeApi(routes) {
  const calls = [];
  wx.__fake.requestHandler = (options) => {
    const url = new URL(options.url);
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const key = `${options.method || 'GET'} ${path}`;
    calls.push({ key, data: options.data, header: options.header });
    const route = routes[key];
    let answer = typeof route === 'function' ? route(options) : route;
    if (!answer) answer = [404, { code: 'not_found', message: '请求的资源不存在' }];
    let aborted = false;
    Promise.resolve(answer).then(([statusCode, data]) => {
      if (aborted) return;
      if (statusCode === 'network') {
        options.fail({ errMsg: 'request:fail ' + data });
        return;
      }
      options.success({ statusCode, data: data === undefined ? '' : data, header: {} });
    });
    return {
      abort() {
        aborted = true;
      },
    };
  };
  return calls;
}

module.exports = { fakeApi };
