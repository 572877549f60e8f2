"""The WeChat mini-program server API: login, phone number, subscription messages.

Built over wechatpy 1.8.18 from config. Every call goes under WECHAT_API_BASE
(https://api.weixin.qq.com/ in production, the /sandbox/wechat/ stand-in elsewhere), so tests run
this very code. The access token comes from ``cgi-bin/stable_token`` and is shared by every
process through Redis (wechatpy's RedisStorage); a call WeChat rejects for its token is refreshed
and retried once. Failures raise the typed errors below; ``session_key`` never leaves
WeChatSession.

Usage: ``wechat.code_to_session(code)``, ``wechat.phone_number(code)``,
``wechat.send_subscribe_message(openid, template_id, data, page=...)`` inside an app context, or
``WeChat.from_config(config)`` for an adapter on other settings.
"""

import logging
from dataclasses import dataclass, field

import requests
from flask import current_app
from wechatpy.client import WeChatClient
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from app.extensions import redis_store
from app.integrations import kept

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
STORAGE_PREFIX = "wechat"  # the shared token is at Redis key wechat:<appid>_access_token
WECHAT_ORIGIN = "https://api.weixin.qq.com/"
# 40001 invalid credential, 40014 invalid access_token, 42001 access_token expired.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


class WeChatError(Exception):
    """WeChat refused the call: ``errcode`` and ``errmsg`` as it answered."""

    def __init__(self, errcode, errmsg):
        super().__init__(f"WeChat error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class InvalidCode(WeChatError):
    """The code is unknown, expired or for another app (40029)."""


class CodeAlreadyUsed(InvalidCode):
    """The code was already exchanged once (40163)."""


class NoConsent(WeChatError):
    """The user has no subscription consent left for this template (43101); permanent."""


class InvalidOpenid(WeChatError):
    """The openid is empty or not one of this app's users (40003); permanent."""


class InvalidTemplate(WeChatError):
    """The subscription template id is empty or not one of this app's (40037); permanent."""


class InvalidData(WeChatError):
    """A keyword of the message is missing or breaks its type's rule (47003; ``errmsg`` names
    it); permanent."""


class InvalidPage(WeChatError):
    """The message's page is not in the released mini-program (41030); permanent."""


class RateLimited(WeChatError):
    """Too many calls for now (45009, 45011); try again later."""


class WeChatUnavailable(WeChatError):
    """WeChat was unreachable, timed out, was busy (-1) or answered something other than JSON."""


_ERRORS = {
    -1: WeChatUnavailable,
    40003: InvalidOpenid,
    40029: InvalidCode,
    40037: InvalidTemplate,
    40163: CodeAlreadyUsed,
    41030: InvalidPage,
    43101: NoConsent,
    45009: RateLimited,
    45011: RateLimited,
    47003: InvalidData,
}


@dataclass(frozen=True)
class WeChatSession:
    """Who logged in: the user's openid, unionid if the app has one, and the session key."""

    openid: str
    unionid: str | None
    session_key: str = field(repr=False)  # for decrypting wx data server-side; never send it out


class _Client(WeChatClient):
    """wechatpy's client with every URL under ``api_base`` and the token from stable_token."""

    def __init__(self, appid, secret, api_base, session, timeout):
        super().__init__(appid, secret, session=session, timeout=timeout, auto_retry=False)
        # wechatpy's own 40001 retry has no bound (it recurses while WeChat keeps refusing), so it
        # is off and call_with_token retries once instead.
        self.api_base = api_base
        self.API_BASE_URL = api_base + "cgi-bin/"
        # Endpoint groups (client.wxa, client.card, ...) carry absolute bases: move them too.
        for endpoint in vars(self).values():
            base = getattr(endpoint, "API_BASE_URL", "")
            if isinstance(endpoint, BaseWeChatAPI) and base.startswith(WECHAT_ORIGIN):
                endpoint.API_BASE_URL = api_base + base[len(WECHAT_ORIGIN) :]

    def without_token(self, method, url, **kwargs):
        """A call that takes no access token (jscode2session, stable_token)."""
        # wechatpy adds ?access_token= to dict params; params given as pairs are left alone.
        params = list((kwargs.pop("params", None) or {}).items())
        return self._request(method, self.api_base + url, params=params, **kwargs)

    def fetch_access_token(self, force_refresh=False):
        """Fetch the stable access token and share it through the session storage."""
        # wechatpy hard-codes https://api.weixin.qq.com/cgi-bin/token here, with no timeout.
        result = self.without_token(
            "post",
            "cgi-bin/stable_token",
            data={
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force_refresh,
            },
        )
        if not isinstance(result, dict) or not result.get("access_token"):
            raise WeChatUnavailable(None, "stable_token answered without an access_token")
        expires_in = max(int(result.get("expires_in") or 7200), 1)
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        return result

    @property
    def access_token(self):
        # The Redis TTL is the token's lifetime for every process; wechatpy's per-instance
        # expires_at would make each process refetch on its own clock.
        return self.session.get(self.access_token_key) or self.fetch_access_token()["access_token"]

    def refresh_access_token(self, rejected):
        """A token other than ``rejected``: another process's newer one, else WeChat's current one,
        else a forced new one (force_refresh has a daily quota, so it comes last)."""
        stored = self.session.get(self.access_token_key)
        if stored and stored != rejected:
            return stored
        token = self.fetch_access_token()["access_token"]
        if token == rejected:
            token = self.fetch_access_token(force_refresh=True)["access_token"]
        return token

    def call_with_token(self, method, url, **kwargs):
        """``method`` ``url`` with the access token; a rejected token is refreshed, retried once."""
        token = self.access_token
        try:
            return self._request(method, url, params={"access_token": token}, **kwargs)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRCODES:
                raise
            log.info("WeChat rejected the access token (errcode %s); refreshing once", exc.errcode)
        token = self.refresh_access_token(token)
        return self._request(method, url, params={"access_token": token}, **kwargs)


class WeChat:
    """The WeChat mini-program server API for one appid."""

    def __init__(self, appid, secret, api_base, redis, timeout=TIMEOUT_SECONDS):
        storage = RedisStorage(redis, prefix=STORAGE_PREFIX)
        self._client = _Client(appid, secret, api_base.rstrip("/") + "/", storage, timeout)

    @classmethod
    def from_config(cls, config=None):
        """An adapter on ``config`` (default: the current app's), tokens in the app's Redis."""
        config = current_app.config if config is None else config
        return cls(
            config["WECHAT_APPID"],
            config["WECHAT_SECRET"],
            config["WECHAT_API_BASE"],
            redis_store.client,
        )

    def close_connections(self) -> None:
        """Close the kept connections (wechatpy's session); a later call opens a new one."""
        self._client._http.close()

    def code_to_session(self, code) -> WeChatSession:
        """Exchange a wx.login code for the user's openid, unionid and session key."""
        result = self._call(
            self._client.without_token,
            "get",
            "sns/jscode2session",
            params={
                "appid": self._client.appid,
                "secret": self._client.secret,
                "js_code": code,
                "grant_type": "authorization_code",
            },
        )
        if not result.get("openid") or not result.get("session_key"):
            raise WeChatUnavailable(None, "jscode2session answered without openid")
        return WeChatSession(result["openid"], result.get("unionid"), result["session_key"])

    def phone_number(self, code) -> str:
        """Exchange a getPhoneNumber-button code for the phone number, without country code."""
        result = self._call(
            self._client.call_with_token,
            "post",
            self._client.api_base + "wxa/business/getuserphonenumber",
            data={"code": code},
        )
        phone = (result.get("phone_info") or {}).get("purePhoneNumber")
        if not phone:
            raise WeChatUnavailable(None, "getuserphonenumber answered without phone_info")
        return phone

    def send_subscribe_message(
        self, openid, template_id, data, page=None, state="formal", lang="zh_CN"
    ) -> int | None:
        """Send a subscription message (spends one of the user's consents); return WeChat's msgid.

        ``data`` maps keywords to values, plain (``{"thing1": "复诊提醒"}``) or as WeChat wants them
        (``{"thing1": {"value": "复诊提醒"}}``). ``state`` opens the developer, trial or formal
        version of the mini-program when the user taps the message.
        """
        body = {
            "touser": openid,
            "template_id": template_id,
            "data": {
                key: value if isinstance(value, dict) else {"value": str(value)}
                for key, value in data.items()
            },
            "miniprogram_state": state,
            "lang": lang,
        }
        if page:
            body["page"] = page
        result = self._call(
            self._client.call_with_token, "post", "message/subscribe/send", data=body
        )
        return result.get("msgid")

    @staticmethod
    def _call(func, *args, **kwargs):
        """Run one wechatpy call; turn its failures into this module's errors."""
        try:
            result = func(*args, **kwargs)
        except WeChatClientException as exc:
            if exc.errcode is None:  # an HTTP error status
                status = getattr(exc.response, "status_code", None)
                raise WeChatUnavailable(None, f"HTTP {status}") from exc
            raise _ERRORS.get(exc.errcode, WeChatError)(exc.errcode, exc.errmsg) from exc
        except requests.RequestException as exc:
            raise WeChatUnavailable(None, type(exc).__name__) from exc
        if not isinstance(result, dict):  # wechatpy hands back the response when it is not JSON
            raise WeChatUnavailable(None, "answer is not JSON")
        return result


def client() -> WeChat:
    """The current app's adapter (app/integrations/kept.py), rebuilt when its settings change."""
    config = current_app.config
    settings = (config["WECHAT_APPID"], config["WECHAT_SECRET"], config["WECHAT_API_BASE"])
    return kept.current("wechat", settings, lambda: WeChat.from_config(config))


def code_to_session(code) -> WeChatSession:
    """Exchange a wx.login code for the user's openid, unionid and session key."""
    return client().code_to_session(code)


def phone_number(code) -> str:
    """Exchange a getPhoneNumber-button code for the phone number, without country code."""
    return client().phone_number(code)


def send_subscribe_message(openid, template_id, data, page=None, state="formal") -> int | None:
    """Send a subscription message to ``openid`` (spends one consent); return WeChat's msgid."""
    return client().send_subscribe_message(openid, template_id, data, page=page, state=state)
