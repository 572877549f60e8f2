"""Tokens and identity data at rest, against real MariaDB."""

import base64
import os
from datetime import date

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from app.domain.accounts import AccountStatus
from app.extensions import redis_store
from app.infra.crypto import FieldCipher
from app.models import Patient
from app.services import auth, patients, protection
from tests.factories import make_account, resident_id


@pytest.fixture
def account(session):
    return make_account()


class TestTokens:
    def test_issue_and_verify(self, account):
        token, expires_at = auth.issue_token(account)
        assert auth.authenticate(token).id == account.id
        assert expires_at.utcoffset().total_seconds() == 8 * 3600

    def test_revoked_tokens_stop_working(self, account):
        token, _ = auth.issue_token(account)
        auth.revoke_tokens(account)
        with pytest.raises(auth.Unauthorized):
            auth.authenticate(token)
        fresh, _ = auth.issue_token(account)
        assert auth.authenticate(fresh).id == account.id

    def test_expired_tokens_stop_working(self, app, account, monkeypatch):
        token, _ = auth.issue_token(account)
        monkeypatch.setitem(app.config, "TOKEN_TTL_SECONDS", -1)
        with pytest.raises(auth.Unauthorized) as error:
            auth.authenticate(token)
        assert "过期" in error.value.message

    def test_a_token_signed_with_another_key_is_refused(self, app, account, monkeypatch):
        token, _ = auth.issue_token(account)
        monkeypatch.setitem(app.config, "SECRET_KEY", "another-" + "k" * 40)
        with pytest.raises(auth.Unauthorized):
            auth.authenticate(token)

    def test_tokens_are_itsdangerous_tokens_checked_by_one_signer(self, app, account):
        """The signer built once and its key derived once check exactly what the library's own
        serializer checks: its tokens pass, its forgeries and other payloads do not."""
        plain = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=auth.TOKEN_SALT)
        token, _ = auth.issue_token(account)
        assert plain.loads(token) == [account.id, account.token_version]
        assert auth.verify_signature(plain.dumps([account.id, 7])) == auth.Principal(account.id, 7)
        payload, _, signature = plain.dumps([account.id, 7]).rpartition(".")
        for forged in (
            payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:],
            URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="another").dumps([1, 0]),
            plain.dumps({"id": account.id}),
            plain.dumps([str(account.id), 0]),
            "not.a.token",
        ):
            with pytest.raises(auth.Unauthorized) as error:
                auth.verify_signature(forged)
            assert error.value.message == "登录凭证无效，请重新登录"

    def test_a_frozen_account_is_told_so(self, account):
        token, _ = auth.issue_token(account)
        account.status = AccountStatus.FROZEN
        with pytest.raises(auth.AccountFrozen):
            auth.authenticate(token)

    def test_the_cached_state_is_dropped_on_revocation(self, account, redis):
        token, _ = auth.issue_token(account)
        assert auth.authenticate(token).id == account.id
        assert redis.get(f"auth:account:{account.id}") is not None  # cached
        auth.revoke_tokens(account)
        auth.forget_state(account.id)
        with pytest.raises(auth.Unauthorized):
            auth.authenticate(token)

    def test_authentication_works_without_redis(self, app, account, monkeypatch):
        token, _ = auth.issue_token(account)
        dead = redis_store.connect("redis://127.0.0.1:1/0", app.config)
        monkeypatch.setitem(app.extensions, "redis", dead)
        assert auth.authenticate(token).id == account.id

    def test_a_deleted_account_has_no_session(self, account):
        token, _ = auth.issue_token(account)
        account.status = AccountStatus.DELETED
        with pytest.raises(auth.Unauthorized):
            auth.authenticate(token)


class TestAtRest:
    def test_the_raw_columns_hold_no_plain_numbers(self, session, account):
        number = resident_id(birth="19880808")
        patient = patients.add_patient(
            account.id,
            {"name": "赵六", "id_number": number, "relationship": "self", "phone": "13500135000"},
        )
        row = (
            session.execute(sa.text("SELECT * FROM patient WHERE id = :id"), {"id": patient.id})
            .mappings()
            .one()
        )
        dump = " ".join(str(value) for value in row.values())
        assert number not in dump and "13500135000" not in dump
        assert "赵六" not in dump and number[6:14] not in dump.replace("-", "")
        assert row["name_cipher"].startswith("v1:") and row["birth_date_cipher"].startswith("v1:")
        assert "name" not in row and "birth_date" not in row
        session.expire(patient)
        assert (patient.name, patient.birth_date) == ("赵六", date(1988, 8, 8))
        assert number[6:14] not in row["id_number_cipher"]
        assert row["id_number_cipher"].startswith("v1:")
        assert len(row["id_number_hash"]) == 64
        assert row["id_number_masked"] == number[:1] + "*" * 13 + number[-4:]
        assert patients.reveal(patient) == {"id_number": number, "phone": "13500135000"}

    def test_the_ciphertext_belongs_to_its_column(self, session, account):
        patient = patients.add_patient(
            account.id, {"name": "赵六", "id_number": resident_id(), "relationship": "self"}
        )
        with pytest.raises(Exception, match="context"):
            protection.unseal(patient.id_number_cipher, "account.phone")

    def test_rows_stay_readable_after_a_key_rotation(self, app, session, account, monkeypatch):
        number = resident_id(birth="19700101")
        patient = patients.add_patient(
            account.id, {"name": "钱七", "id_number": number, "relationship": "parent"}
        )
        old = app.config["FIELD_ENCRYPTION_KEYS"]
        new_key = base64.b64encode(os.urandom(32)).decode()
        monkeypatch.setitem(app.extensions, "field_cipher", FieldCipher(f"k2:{new_key},{old}"))
        assert patients.reveal(patient)["id_number"] == number
        session.expire(patient)
        assert (patient.name, patient.birth_date) == ("钱七", date(1970, 1, 1))
        newer = patients.add_patient(
            account.id,
            {"name": "孙八", "id_number": resident_id(serial=3), "relationship": "child"},
        )
        assert newer.id_number_cipher.startswith("v1:k2:")

    def test_lookups_find_a_number_without_decrypting(self, session, account):
        number = resident_id(birth="19991231")
        patients.add_patient(
            account.id, {"name": "周九", "id_number": number, "relationship": "self"}
        )
        found = session.scalar(
            sa.select(Patient).where(
                Patient.id_number_hash
                == protection.lookup_hash(f"resident_id:{number}", "id_number")
            )
        )
        assert found is not None and found.name == "周九"

    def test_a_patient_is_found_by_exact_name_without_decrypting(self, session, account):
        patients.add_patient(
            account.id,
            {
                "name": "Anna  Müller",
                "id_number": "E12345678",
                "id_type": "passport",
                "sex": "female",
                "birth_date": date(1990, 1, 2),
                "relationship": "self",
            },
        )
        found = session.scalars(
            sa.select(Patient).where(Patient.name_hash == protection.name_hash("anna müller"))
        ).all()
        assert [p.name for p in found] == ["Anna Müller"]
        assert protection.name_hash("Anna Müller") != protection.name_hash("Anna Mulle")
