"""E-ticket QR signing of app.infra.crypto: TicketSigner, verify_ticket and their refusals."""

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from app.infra.crypto import (
    CryptoConfigError,
    CryptoError,
    TicketInvalid,
    TicketSigner,
    verify_ticket,
)

# RFC 8032 section 7.1, test 1.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")

SEED = bytes(range(32))
SEED_B64 = base64.b64encode(SEED).decode()
OTHER_SEED_B64 = base64.b64encode(bytes(range(1, 33))).decode()

PAYLOAD = {"order_id": 1024, "schedule_id": 77, "seq": 5, "patient": "张*", "date": "2026-11-22"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def forge(version: str, body: str, seed: bytes = SEED) -> str:
    """A ticket with any version and body, validly signed by ``seed``."""
    signed = f"{version}.{body}"
    return f"{signed}.{b64url(Ed25519PrivateKey.from_private_bytes(seed).sign(signed.encode()))}"


def flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


@pytest.fixture
def signer():
    return TicketSigner(SEED_B64)


class TestSigner:
    def test_public_key_is_base64_of_32_raw_bytes(self, signer):
        raw = base64.b64decode(signer.public_key, validate=True)
        assert len(raw) == 32
        expected = Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
        assert raw == expected

    def test_public_key_of_rfc_8032_vector(self):
        signer = TicketSigner(base64.b64encode(RFC_SEED).decode())
        assert signer.public_key == base64.b64encode(RFC_PUBLIC).decode()

    def test_different_seeds_give_different_keys(self, signer):
        assert TicketSigner(OTHER_SEED_B64).public_key != signer.public_key

    def test_repr_hides_the_key(self, signer):
        assert SEED_B64 not in repr(signer)
        assert repr(signer) == "<TicketSigner>"

    @pytest.mark.parametrize(
        "seed",
        [
            "not base64!!",
            "",
            base64.b64encode(bytes(31)).decode(),
            base64.b64encode(bytes(33)).decode(),
            base64.b64encode(bytes(64)).decode(),
            SEED_B64[:-1],  # bad padding
            SEED_B64[:20] + "!" + SEED_B64[20:],  # a stray character is not skipped
            SEED_B64 + "\n",
            None,
            32,
        ],
    )
    def test_bad_signing_key_is_a_config_error(self, seed):
        with pytest.raises(CryptoConfigError):
            TicketSigner(seed)

    def test_signing_key_uses_the_standard_alphabet(self):
        seed = base64.b64encode(bytes([0xFB, 0xFF] * 16)).decode()
        assert "+" in seed or "/" in seed
        TicketSigner(seed)
        urlsafe = seed.replace("+", "-").replace("/", "_")
        with pytest.raises(CryptoConfigError):
            TicketSigner(urlsafe)

    def test_config_error_does_not_reveal_the_key(self):
        seed = base64.b64encode(bytes(31)).decode()
        with pytest.raises(CryptoConfigError) as info:
            TicketSigner(seed)
        assert seed not in str(info.value)

    def test_non_ascii_signing_key_is_a_config_error(self):
        with pytest.raises(CryptoConfigError):
            TicketSigner("签名密钥" + SEED_B64[4:])


class TestFormat:
    def test_three_dot_separated_ascii_parts_without_padding(self, signer):
        text = signer.sign(PAYLOAD)
        assert text.isascii()
        assert "=" not in text
        version, _, signature = text.split(".")
        assert version == "T1"
        assert len(from_b64url(signature)) == 64

    def test_body_is_compact_sorted_json(self, signer):
        body = signer.sign({"b": 1, "a": [1, 2], "c": {"y": 2, "x": 1}}).split(".")[1]
        assert from_b64url(body) == b'{"a":[1,2],"b":1,"c":{"x":1,"y":2}}'

    def test_body_is_the_json_of_the_payload(self, signer):
        body = signer.sign(PAYLOAD).split(".")[1]
        assert json.loads(from_b64url(body)) == PAYLOAD

    def test_signature_covers_version_and_body(self, signer):
        version, body, signature = signer.sign(PAYLOAD).split(".")
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(signer.public_key))
        public.verify(from_b64url(signature), f"{version}.{body}".encode())

    def test_same_payload_same_ticket(self, signer):
        assert signer.sign(PAYLOAD) == signer.sign(dict(PAYLOAD))

    def test_key_order_does_not_matter(self, signer):
        reordered = dict(reversed(list(PAYLOAD.items())))
        assert list(reordered) != list(PAYLOAD)
        assert signer.sign(reordered).split(".")[1] == signer.sign(PAYLOAD).split(".")[1]

    def test_another_signer_same_body_other_signature(self, signer):
        mine = signer.sign(PAYLOAD).split(".")
        theirs = TicketSigner(OTHER_SEED_B64).sign(PAYLOAD).split(".")
        assert mine[1] == theirs[1]
        assert mine[2] != theirs[2]

    def test_different_payloads_different_bodies(self, signer):
        assert (
            signer.sign({"order_id": 1}).split(".")[1] != signer.sign({"order_id": 2}).split(".")[1]
        )


class TestVerify:
    @pytest.mark.parametrize(
        "payload",
        [
            PAYLOAD,
            {},
            {"name": "欧阳·娜娜", "note": "a.b=c"},
            {"n": 2**40, "f": 1.5, "t": True, "none": None, "nested": {"list": [1, "二"]}},
        ],
    )
    def test_round_trip(self, signer, payload):
        assert verify_ticket(signer.public_key, signer.sign(payload)) == payload

    def test_forged_helper_matches_the_signer(self, signer):
        body = signer.sign(PAYLOAD).split(".")[1]
        assert forge("T1", body) == signer.sign(PAYLOAD)

    def test_ticket_invalid_is_a_crypto_error(self):
        assert issubclass(TicketInvalid, CryptoError)

    def test_wrong_public_key(self, signer):
        with pytest.raises(TicketInvalid):
            verify_ticket(TicketSigner(OTHER_SEED_B64).public_key, signer.sign(PAYLOAD))

    def test_body_swapped_for_another_payload(self, signer):
        version, _, signature = signer.sign(PAYLOAD).split(".")
        other = b64url(json.dumps({**PAYLOAD, "seq": 6}, separators=(",", ":")).encode())
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, f"{version}.{other}.{signature}")

    @pytest.mark.parametrize("index", [0, 10, -1])
    def test_tampered_body(self, signer, index):
        version, body, signature = signer.sign(PAYLOAD).split(".")
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, f"{version}.{flip(body, index)}.{signature}")

    @pytest.mark.parametrize("index", [0, 40, 84])
    def test_tampered_signature(self, signer, index):
        version, body, signature = signer.sign(PAYLOAD).split(".")
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, f"{version}.{body}.{flip(signature, index)}")

    def test_signature_spelled_non_canonically(self, signer):
        # 64 bytes leave 4 unused bits in the last character: the same bytes, another spelling.
        version, body, signature = signer.sign(PAYLOAD).split(".")
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(signature[-1])
        respelled = signature[:-1] + alphabet[last | 0b0001]
        if respelled == signature:
            respelled = signature[:-1] + alphabet[last & ~0b0001]
        assert from_b64url(respelled) == from_b64url(signature)
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, f"{version}.{body}.{respelled}")

    def test_truncated_signature(self, signer):
        text = signer.sign(PAYLOAD)
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, text[:-4])

    def test_other_version_prefix(self, signer):
        text = signer.sign(PAYLOAD)
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, "T2" + text[2:])

    @pytest.mark.parametrize("version", ["T2", "T0", "t1", ""])
    def test_other_version_validly_signed(self, signer, version):
        body = signer.sign(PAYLOAD).split(".")[1]
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, forge(version, body))

    @pytest.mark.parametrize(
        "body",
        [
            b64url(b"not json"),
            b64url(b'{"order_id": 1'),
            b64url(b"\xff\xfe\x00"),  # not UTF-8
            "!!!",  # not base64url
            "body=",  # padded
        ],
    )
    def test_signed_but_unreadable_body(self, signer, body):
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, forge("T1", body))

    def test_non_ascii_body(self, signer):
        _, _, signature = signer.sign(PAYLOAD).split(".")
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, f"T1.票据.{signature}")

    @pytest.mark.parametrize(
        "text",
        [
            None,
            "",
            "garbage",
            "T1",
            "T1.",
            "T1..",
            "T1.e30",
            "T1.e30.",
            "T1.e30.AAAA",
            "....",
            12345,
        ],
    )
    def test_garbage(self, signer, text):
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, text)

    def test_extra_part(self, signer):
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, signer.sign(PAYLOAD) + ".extra")

    def test_bytes_are_not_a_ticket(self, signer):
        with pytest.raises(TicketInvalid):
            verify_ticket(signer.public_key, signer.sign(PAYLOAD).encode())

    @pytest.mark.parametrize(
        "public_key",
        [
            "not base64!!",
            base64.b64encode(bytes(31)).decode(),
            base64.b64encode(bytes(33)).decode(),
            "公钥",
        ],
    )
    def test_unusable_public_key(self, signer, public_key):
        with pytest.raises(TicketInvalid):
            verify_ticket(public_key, signer.sign(PAYLOAD))
