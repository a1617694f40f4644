"""Unit tests: signed session cookies and CSRF tokens (no server)."""

from __future__ import annotations

import pytest

from liaison.web import csrf
from liaison.web.app import safe_next
from liaison.web.session import Sessions

KEY = b"k" * 32
NOW = 1_800_000_000


def test_a_session_round_trips() -> None:
    sessions = Sessions(KEY, seconds=600)
    cookie, made = sessions.issue("pid-1", "alice", NOW)
    opened = sessions.open(cookie, NOW + 10)
    assert opened == made and opened.signed_in and opened.name == "alice"
    assert opened.expires_at == NOW + 600


def test_an_anonymous_session_is_not_signed_in() -> None:
    cookie, made = Sessions(KEY).issue("", "", NOW)
    assert not made.signed_in and Sessions(KEY).open(cookie, NOW) == made


@pytest.mark.parametrize("mangle", [
    lambda c: c[:-2] + ("A" if c[-2] != "A" else "B") + c[-1],       # signature changed
    lambda c: ("X" if c[5] != "X" else "Y").join((c[:5], c[6:])),    # payload changed
    lambda c: c.replace(".", ""),                                      # no signature
    lambda c: c + ".x",                                                # two dots
    lambda c: "",                                                      # empty
    lambda c: "%%%.%%%",                                               # not base64
])
def test_a_tampered_cookie_is_refused(mangle: object) -> None:
    sessions = Sessions(KEY)
    cookie, _ = sessions.issue("pid-1", "alice", NOW)
    assert sessions.open(mangle(cookie), NOW) is None  # type: ignore[operator]


def test_another_key_is_refused() -> None:
    cookie, _ = Sessions(KEY).issue("pid-1", "alice", NOW)
    assert Sessions(b"x" * 32).open(cookie, NOW) is None


def test_an_expired_session_is_refused() -> None:
    sessions = Sessions(KEY, seconds=60)
    cookie, _ = sessions.issue("pid-1", "alice", NOW)
    assert sessions.open(cookie, NOW + 59) is not None
    assert sessions.open(cookie, NOW + 60) is None


def test_a_session_from_the_future_is_refused() -> None:
    sessions = Sessions(KEY)
    cookie, _ = sessions.issue("pid-1", "alice", NOW + 3600)
    assert sessions.open(cookie, NOW) is None


def test_csrf_tokens_are_bound_to_their_session() -> None:
    sessions = Sessions(KEY)
    _, one = sessions.issue("pid-1", "alice", NOW)
    _, two = sessions.issue("pid-1", "alice", NOW)  # a new sign-in: a new nonce
    token = csrf.token_for(KEY, one)
    assert csrf.check(KEY, one, token)
    assert not csrf.check(KEY, two, token)
    assert not csrf.check(b"x" * 32, one, token)
    assert not csrf.check(KEY, one, None) and not csrf.check(KEY, one, "")
    assert not csrf.check(KEY, None, token)


def test_the_origin_check() -> None:
    assert csrf.same_origin(None, "http://127.0.0.1:8000")
    assert csrf.same_origin("http://127.0.0.1:8000", "http://127.0.0.1:8000")
    assert not csrf.same_origin("https://evil.example", "http://127.0.0.1:8000")


@pytest.mark.parametrize("target, expected", [
    ("/ui/collections/", "/ui/collections/"),
    ("https://evil.example/", "/ui/"),
    ("//evil.example/ui/", "/ui/"),
    ("/ui/\\evil", "/ui/"),
    ("/taxii2/", "/ui/"),
    (None, "/ui/"),
])
def test_only_local_ui_paths_are_followed_after_sign_in(target: str | None,
                                                        expected: str) -> None:
    assert safe_next(target) == expected
