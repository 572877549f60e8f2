"""The payer's browser and Alipay's notify machinery, through the Alipay stand-in over HTTP; and a
notify receiver standing in for our webhook."""

import threading
import uuid

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


def new_out_trade_no():
    """An out_trade_no no other test uses."""
    return "T" + uuid.uuid4().hex[:24]


class AlipayPayer:
    """What a test does as the payer, or asks of Alipay's notify machinery."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/") + "/sandbox/alipay"

    def open(self, pay_url):
        """Open the cashier link in the browser: the page Alipay shows."""
        return requests.get(pay_url, timeout=10)

    def _post(self, path, body):
        return requests.post(self.base + path, json=body, timeout=10)

    def pay(self, out_trade_no, notify=True):
        """Tap 确认付款; ``{delivered, response_text, trade_no}`` of the notify."""
        response = self._post("/pay", {"out_trade_no": out_trade_no, "notify": notify})
        response.raise_for_status()
        return response.json()

    def redeliver(self, out_trade_no, times=1):
        response = self._post("/redeliver", {"out_trade_no": out_trade_no, "times": times})
        response.raise_for_status()
        return response.json()

    def notify_raw(self, out_trade_no, tamper):
        """A forged or tampered notify, POSTed to the trade's notify_url; returns what was sent."""
        response = self._post("/notify-raw", {"out_trade_no": out_trade_no, "tamper": tamper})
        response.raise_for_status()
        return response.json()

    def fail_next(self, method):
        self._post("/fail-next", {"method": method}).raise_for_status()

    def trade(self, out_trade_no):
        """What Alipay recorded for the trade, or None."""
        response = requests.get(self.base + "/trades/" + out_trade_no, timeout=10)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()


class NotifyReceiver:
    """A webhook on 127.0.0.1 that records each POSTed form and answers ``reply``."""

    def __init__(self, reply="success"):
        self.reply = reply
        self.forms = []
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/alipay"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _app(self, environ, start_response):
        request = Request(environ)
        self.forms.append(request.form.copy())
        return Response(self.reply, content_type="text/plain")(environ, start_response)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=5)
