"""The payer's phone and our notify endpoint against the WeChat Pay stand-in, over HTTP."""

import threading
import uuid
from dataclasses import dataclass

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def new_out_trade_no():
    """An out_trade_no no other test uses."""
    return "T" + uuid.uuid4().hex[:24]


def new_out_refund_no():
    """An out_refund_no no other test uses."""
    return "R" + uuid.uuid4().hex[:24]


class WeChatPayer:
    """What a test does as the payer, and as WeChat's notifier, through the control endpoints."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/") + "/sandbox/wechatpay"

    def _post(self, path, body, expect=200):
        response = requests.post(self.base + path, json=body, timeout=20)
        assert response.status_code == expect, response.text
        return response.json() if response.content else None

    def pay(self, out_trade_no, notify=True, expect=200):
        """The payer pays; the stand-in notifies (unless ``notify`` is false)."""
        return self._post("/pay", {"out_trade_no": out_trade_no, "notify": notify}, expect)

    def redeliver(self, times=1, **subject):
        """Send the last notification of ``out_trade_no=`` or ``out_refund_no=`` again."""
        return self._post("/redeliver", {**subject, "times": times})["deliveries"]

    def settle_refund(self, out_refund_no, status="SUCCESS"):
        """WeChat settles the refund and sends its REFUND.* notification."""
        return self._post("/refund-result", {"out_refund_no": out_refund_no, "status": status})

    def notify_raw(self, out_trade_no, tamper):
        """Send a deliberately broken payment notification."""
        return self._post("/notify-raw", {"out_trade_no": out_trade_no, "tamper": tamper})

    def tamper_next_bill(self):
        """Make the next bill download differ from its announced hash."""
        self._post("/tamper-next-bill", {}, expect=204)

    def inspect(self, out_trade_no):
        """What the stand-in holds for ``out_trade_no``."""
        response = requests.get(f"{self.base}/transactions/{out_trade_no}", timeout=10)
        response.raise_for_status()
        return response.json()


@dataclass(frozen=True)
class Received:
    """One notification as it arrived: its headers and raw body."""

    headers: dict
    body: bytes


class NotifyReceiver:
    """A stand-in for our /webhooks/wechatpay on its own port: records every POST, answers
    ``status`` (204 by default, as our webhook will)."""

    def __init__(self, status=204):
        self.status = status
        self.received: list[Received] = []
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhooks/wechatpay"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _app(self, environ, start_response):
        request = Request(environ)
        self.received.append(Received(dict(request.headers), request.get_data()))
        body = b"" if self.status == 204 else b'{"code":"FAIL","message":"test"}'
        return Response(body, status=self.status)(environ, start_response)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(timeout=5)
