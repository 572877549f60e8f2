"""The patient's phone against the SMS stand-in, through its control endpoints over HTTP."""

import secrets

import requests


def new_phone():
    """A mainland mobile number no other test uses."""
    return "139" + f"{secrets.randbelow(10**8):08d}"


class SmsPhone:
    """What a test sees on, or scripts for, a phone that receives text messages."""

    def __init__(self, base_url):
        self.base = base_url.rstrip("/") + "/sandbox/sms"

    def messages(self, phone):
        """The text messages the stand-in delivered to ``phone``, oldest first."""
        response = requests.get(self.base + "/messages", params={"phone": phone}, timeout=10)
        response.raise_for_status()
        return response.json()["items"]

    def fail_next(self, phone, code):
        """Make the next send to ``phone`` fail for that number with Tencent status ``code``."""
        response = requests.post(
            self.base + "/fail-next", json={"phone": phone, "code": code}, timeout=10
        )
        response.raise_for_status()
