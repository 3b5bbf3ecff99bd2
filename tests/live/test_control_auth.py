"""Who may reach the control API (design §15), without a node: the binding rules and the request checks."""

from __future__ import annotations

import pytest

from odte_nautilus.live.control.auth import Access, ControlConfigError, is_loopback, offered_token


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_hosts_bind_without_a_flag_or_token(host):
    access = Access.for_binding(host, None, allow_remote=False, token_env="T")
    assert is_loopback(host) and not access.remote and access.token is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "node.example"])
def test_any_other_host_needs_the_flag_and_then_a_token(host):
    with pytest.raises(ControlConfigError, match="allow_remote"):
        Access.for_binding(host, "secret", allow_remote=False, token_env="T")
    with pytest.raises(ControlConfigError, match="set T"):
        Access.for_binding(host, "", allow_remote=True, token_env="T")
    assert Access.for_binding(host, "secret", allow_remote=True, token_env="T").remote


def test_the_token_matches_only_itself():
    access = Access("127.0.0.1", "s3cret", remote=False)
    assert access.token_matches("s3cret")
    assert not access.token_matches("s3cre") and not access.token_matches("") and not access.token_matches(None)
    assert not Access("127.0.0.1", None, remote=False).token_matches("anything")


@pytest.mark.parametrize(
    ("host_header", "ok"),
    [("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True), ("localhost", True),
     ("evil.example:8000", False), ("127.0.0.1.evil.example", False), (None, False)],
)  # fmt: skip
def test_on_loopback_a_request_must_be_addressed_to_loopback(host_header, ok):
    assert Access("127.0.0.1", None, remote=False).host_header_ok(host_header) is ok


def test_the_token_is_read_from_bearer_header_or_query():
    assert offered_token("Bearer abc", None, None) == "abc"
    assert offered_token(None, "abc", None) == "abc"
    assert offered_token(None, None, "abc") == "abc"
    assert offered_token("Basic xyz", None, None) is None
