"""app/api/observed.py: what the layer every request passes through says about the setup."""

from app.api.observed import Observed


def test_a_request_through_an_untrusted_proxy_is_warned_about_once(caplog):
    def app(environ, start_response):
        start_response("200 OK", [])
        return [b""]

    observed = Observed(app, log_requests=False, trusted_proxies=0)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/livez", "REMOTE_ADDR": "10.0.0.5"}
    with caplog.at_level("WARNING", logger="app.api.observed"):
        observed(dict(environ), lambda *args: None)
        assert caplog.records == []  # straight from a client: nothing to say
        for _ in range(3):
            observed({**environ, "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, lambda *args: None)
    (warning,) = caplog.records
    assert "TRUSTED_PROXIES" in warning.getMessage() and "10.0.0.5" in warning.getMessage()
    trusted = Observed(app, log_requests=False, trusted_proxies=1)
    caplog.clear()
    trusted({**environ, "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, lambda *args: None)
    assert caplog.records == []
