"""Local stand-ins for outside systems, served under /sandbox in development and test only.

Each stand-in speaks its provider's real wire protocol, so the production adapters in
``app/integrations`` are tested by pointing their base URL here. The stand-ins use only flask,
Redis and the standard library: they play the provider's servers, not our code.
"""

from app.sandbox import wechat


def register(app):
    """Mount the stand-ins on ``app``; call only when ``SANDBOX_ENABLED`` is true."""
    app.register_blueprint(wechat.bp, url_prefix="/sandbox/wechat")
