"""TC3-HMAC-SHA256 signing against Tencent Cloud's worked example in "签名方法 v3"."""

import pytest

from app.protocols import tc3

# The documentation's example: CVM DescribeInstances in ap-guangzhou, at 2019-02-25 16:44:25 UTC.
DOC_SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_HOST = "cvm.tencentcloudapi.com"
DOC_TIMESTAMP = 1551113065
DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
DOC_HASHED_PAYLOAD = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
DOC_HASHED_CANONICAL_REQUEST = "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
DOC_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
DOC_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Host": DOC_HOST}


def doc_canonical_request():
    return tc3.canonical_request(
        "POST", "/", "", DOC_HEADERS, ("content-type", "host"), DOC_PAYLOAD
    )


def test_canonical_request_matches_the_documentation():
    assert doc_canonical_request() == (
        "POST\n"
        "/\n"
        "\n"
        "content-type:application/json; charset=utf-8\n"
        f"host:{DOC_HOST}\n"
        "\n"
        "content-type;host\n"
        f"{DOC_HASHED_PAYLOAD}"
    )


def test_string_to_sign_matches_the_documentation():
    scope = tc3.credential_scope(tc3.credential_date(DOC_TIMESTAMP), "cvm")

    assert scope == "2019-02-25/cvm/tc3_request"
    assert tc3.string_to_sign(DOC_TIMESTAMP, scope, doc_canonical_request()) == (
        f"TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n{DOC_HASHED_CANONICAL_REQUEST}"
    )


def test_authorization_matches_the_documentation():
    authorization = tc3.sign_tc3(
        DOC_SECRET_ID, DOC_SECRET_KEY, "cvm", DOC_HOST, DOC_PAYLOAD, DOC_TIMESTAMP
    )

    assert authorization == (
        f"TC3-HMAC-SHA256 Credential={DOC_SECRET_ID}/2019-02-25/cvm/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={DOC_SIGNATURE}"
    )


def test_the_date_is_utc_even_when_china_has_moved_on():
    # 1551113065 is 2019-02-26 00:44:25 in Beijing: the scope still says the 25th.
    assert tc3.credential_date(DOC_TIMESTAMP) == "2019-02-25"
    assert tc3.credential_date(1551139199) == "2019-02-25"
    assert tc3.credential_date(1551139200) == "2019-02-26"


def test_header_values_are_lowercased_and_trimmed():
    canonical = tc3.canonical_request(
        "post",
        "/",
        "",
        {"Host": " CVM.TencentCloudAPI.com ", "X-TC-Action": "DescribeInstances"},
        ("host", "x-tc-action"),
        b"",
    )

    assert canonical.split("\n")[:5] == [
        "POST",
        "/",
        "",
        "host:cvm.tencentcloudapi.com",
        "x-tc-action:describeinstances",
    ]


# --- Parsing and verifying, as the server does ---------------------------------------------------


def doc_authorization():
    return tc3.parse_authorization(
        tc3.sign_tc3(DOC_SECRET_ID, DOC_SECRET_KEY, "cvm", DOC_HOST, DOC_PAYLOAD, DOC_TIMESTAMP)
    )


def test_parse_gives_the_parts():
    assert doc_authorization() == tc3.Authorization(
        secret_id=DOC_SECRET_ID,
        date="2019-02-25",
        service="cvm",
        signed_headers=("content-type", "host"),
        signature=DOC_SIGNATURE,
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "Bearer abc",
        "TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request, Signature=" + "0" * 64,
        "TC3-HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request, SignedHeaders=host, "
        "Signature=XYZ",
        "HMAC-SHA256 Credential=AKID/2019-02-25/cvm/tc3_request, SignedHeaders=host, "
        "Signature=" + "0" * 64,
    ],
)
def test_parse_refuses_what_is_not_tc3(value):
    with pytest.raises(tc3.MalformedAuthorization):
        tc3.parse_authorization(value)


def test_verify_accepts_the_documented_request():
    assert tc3.verify_tc3(
        doc_authorization(), DOC_SECRET_KEY, DOC_HEADERS, DOC_PAYLOAD, DOC_TIMESTAMP
    )


@pytest.mark.parametrize(
    ("secret_key", "headers", "payload", "timestamp"),
    [
        ("Gu5t9xGARNpq86cd98joQYCN3EXAMPLF", DOC_HEADERS, DOC_PAYLOAD, DOC_TIMESTAMP),
        (
            DOC_SECRET_KEY,
            {**DOC_HEADERS, "Host": "sms.tencentcloudapi.com"},
            DOC_PAYLOAD,
            DOC_TIMESTAMP,
        ),
        (
            DOC_SECRET_KEY,
            {**DOC_HEADERS, "Content-Type": "application/json"},
            DOC_PAYLOAD,
            DOC_TIMESTAMP,
        ),
        (DOC_SECRET_KEY, DOC_HEADERS, DOC_PAYLOAD.replace(b"1", b"2"), DOC_TIMESTAMP),
        (DOC_SECRET_KEY, DOC_HEADERS, DOC_PAYLOAD, DOC_TIMESTAMP + 1),
        (DOC_SECRET_KEY, {"Content-Type": DOC_HEADERS["Content-Type"]}, DOC_PAYLOAD, DOC_TIMESTAMP),
    ],
    ids=["secret key", "host", "content type", "payload", "timestamp", "no host header"],
)
def test_verify_refuses_any_change(secret_key, headers, payload, timestamp):
    assert not tc3.verify_tc3(doc_authorization(), secret_key, headers, payload, timestamp)


def test_verify_refuses_a_scope_date_other_than_the_timestamps():
    # Signed consistently for the 26th, but the timestamp is on the 25th (UTC).
    canonical = doc_canonical_request()
    scope = tc3.credential_scope("2019-02-26", "cvm")
    forged = tc3.Authorization(
        secret_id=DOC_SECRET_ID,
        date="2019-02-26",
        service="cvm",
        signed_headers=("content-type", "host"),
        signature=tc3.signature(
            DOC_SECRET_KEY,
            "2019-02-26",
            "cvm",
            tc3.string_to_sign(DOC_TIMESTAMP, scope, canonical),
        ),
    )

    assert not tc3.verify_tc3(forged, DOC_SECRET_KEY, DOC_HEADERS, DOC_PAYLOAD, DOC_TIMESTAMP)


def test_verify_requires_content_type_and_host_to_be_signed():
    canonical = tc3.canonical_request("POST", "/", "", DOC_HEADERS, ("host",), DOC_PAYLOAD)
    scope = tc3.credential_scope("2019-02-25", "cvm")
    host_only = tc3.Authorization(
        secret_id=DOC_SECRET_ID,
        date="2019-02-25",
        service="cvm",
        signed_headers=("host",),
        signature=tc3.signature(
            DOC_SECRET_KEY,
            "2019-02-25",
            "cvm",
            tc3.string_to_sign(DOC_TIMESTAMP, scope, canonical),
        ),
    )

    assert not tc3.verify_tc3(host_only, DOC_SECRET_KEY, DOC_HEADERS, DOC_PAYLOAD, DOC_TIMESTAMP)


def test_verify_accepts_extra_signed_headers():
    headers = {**DOC_HEADERS, "X-TC-Action": "DescribeInstances"}
    signed = ("content-type", "host", "x-tc-action")
    canonical = tc3.canonical_request("POST", "/", "", headers, signed, DOC_PAYLOAD)
    scope = tc3.credential_scope("2019-02-25", "cvm")
    authorization = tc3.Authorization(
        secret_id=DOC_SECRET_ID,
        date="2019-02-25",
        service="cvm",
        signed_headers=signed,
        signature=tc3.signature(
            DOC_SECRET_KEY, "2019-02-25", "cvm", tc3.string_to_sign(DOC_TIMESTAMP, scope, canonical)
        ),
    )

    assert tc3.verify_tc3(authorization, DOC_SECRET_KEY, headers, DOC_PAYLOAD, DOC_TIMESTAMP)
    assert not tc3.verify_tc3(
        authorization,
        DOC_SECRET_KEY,
        {**headers, "X-TC-Action": "RunInstances"},
        DOC_PAYLOAD,
        DOC_TIMESTAMP,
    )
