"""The patient's phone against the WeChat stand-in, through its control endpoints over HTTP."""

import uuid

import requests

from app.extensions import redis_store


def new_openid():
    """An openid no other test uses."""
    return "o" + uuid.uuid4().hex


class WeChatPhone:
    """What a test does on the user's phone: wx.login, the phone button, allowing subscriptions."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/") + "/sandbox/wechat"

    def _post(self, path, body):
        response = requests.post(self.base + path, json=body, timeout=10)
        response.raise_for_status()
        return response.json() if response.content else None

    def login_code(self, openid, unionid=None):
        """A wx.login code for ``openid``."""
        body = {"openid": openid}
        if unionid:
            body["unionid"] = unionid
        return self._post("/login-code", body)["code"]

    def phone_code(self, phone):
        """A getPhoneNumber-button code for ``phone``."""
        return self._post("/phone-code", {"phone": phone})["code"]

    def allow(self, openid, template_id, count=1):
        """Tap 允许 in wx.requestSubscribeMessage ``count`` times."""
        body = {"openid": openid, "template_id": template_id, "count": count}
        return self._post("/consents", body)

    def messages(self, openid):
        """The subscription messages WeChat accepted for ``openid``, oldest first."""
        response = requests.get(self.base + "/messages", params={"openid": openid}, timeout=10)
        response.raise_for_status()
        return response.json()["items"]

    def expire_token(self):
        """Make WeChat revoke every access token issued so far."""
        self._post("/expire-token", {})


def tokens_issued():
    """How many access tokens the stand-in has issued (inside an app context)."""
    return int(redis_store.client.get("sandbox:wechat:stats:tokens_issued") or 0)
