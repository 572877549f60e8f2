"""Local stand-ins for outside systems, served under /sandbox in development and test only.

Each stand-in speaks its provider's real wire protocol, so the production adapters in
``app/integrations`` are tested by pointing their base URL here. The stand-ins use only flask,
Redis, the standard library, ``cryptography`` and pure protocol rules shared with the adapters
(``app.domain``, ``app.protocols.wechatpay``): they play the providers' servers, not our code.
"""

from app.sandbox import alipay, sms, wechat, wechatpay


def register(app):
    """Mount the stand-ins on ``app``; call only when ``SANDBOX_ENABLED`` is true."""
    app.register_blueprint(wechat.bp, url_prefix="/sandbox/wechat")
    app.register_blueprint(sms.bp, url_prefix="/sandbox/sms")
    app.register_blueprint(wechatpay.bp, url_prefix="/sandbox/wechatpay")
    app.register_blueprint(alipay.bp, url_prefix="/sandbox/alipay")
