"""Sign-in endpoints: WeChat login, phone binding, logout."""

from flask import request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.api.security import BEARER, current_account
from app.schemas import accounts as schemas
from app.services import auth, sms_login

blp = Blueprint("auth", __name__, description="登录")


@blp.route("/auth/wechat")
class WeChatLogin(MethodView):
    @blp.arguments(schemas.WeChatLoginSchema())
    @blp.response(200, schemas.LoginSchema)
    @blp.alt_response(400, description="invalid_code: 登录凭证无效或已用过")
    @blp.alt_response(403, description="account_frozen")
    @blp.alt_response(503, description="wechat_unavailable")
    def post(self, body):
        """Exchange a wx.login code for our bearer token (the account is created on first login)."""
        return auth.login_with_wechat(body["code"])


@blp.route("/auth/phone")
class PhoneBinding(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(schemas.PhoneCodeSchema())
    @blp.response(200, schemas.AccountSchema)
    @blp.alt_response(400, description="invalid_code")
    @blp.alt_response(409, description="phone_in_use")
    def post(self, body):
        """Bind the phone number verified by WeChat's getPhoneNumber button."""
        return auth.bind_phone(current_account().id, body["code"])


@blp.route("/auth/logout")
class Logout(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(204)
    def post(self):
        """Sign out: every token of the account stops working."""
        auth.logout(current_account().id)


@blp.route("/auth/sms/send")
class SmsSend(MethodView):
    @blp.arguments(schemas.SmsSendSchema())
    @blp.response(200, schemas.SmsSentSchema)
    @blp.alt_response(422, description="invalid_phone / sms_rejected")
    @blp.alt_response(429, description="too_many_requests (+retry_after)")
    @blp.alt_response(503, description="sms_unavailable")
    def post(self, body):
        """Text a 6-digit login code (H5 channel); 1 a minute and 10 a day per phone."""
        return sms_login.send_code(body["phone"], request.remote_addr)


@blp.route("/auth/sms/login")
class SmsLogin(MethodView):
    @blp.arguments(schemas.SmsLoginSchema())
    @blp.response(200, schemas.LoginSchema)
    @blp.alt_response(400, description="invalid_code: wrong, expired, or 5 wrong tries")
    def post(self, body):
        """Sign in with the texted code; the account is created on first login."""
        return sms_login.login(body["phone"], body["code"])
