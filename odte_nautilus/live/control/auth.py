"""Who may do what through the control API (design §15).

Risk-reducing actions (the emergency stop, flatten, disable) need nothing more than reaching the port, which
binds to loopback by default: whoever can reach it can only make the node safer. Risk-increasing ones
(reset, enable) need the node's token, compared in constant time (``hmac.compare_digest``), so a wrong guess
learns nothing from how long the answer took. Binding to any other host is refused unless the config says
``allow_remote: true``, and then every route needs the token: the network may be anyone's.

Loopback also checks the ``Host`` header, so a web page that rebinds its own name to 127.0.0.1 cannot read the
status through the visitor's browser.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
TOKEN_HEADER = "x-odte-token"


class ControlConfigError(ValueError):
    """A control API that must not start as configured; the message names the key and what to do."""


def is_loopback(host: str) -> bool:
    name = host.strip().lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    """The rules of one running control API: where it listens and the token, if any."""

    host: str
    token: str | None
    remote: bool  # bound beyond loopback: a token on every route

    @classmethod
    def for_binding(cls, host: str, token: str | None, allow_remote: bool, token_env: str) -> Access:
        token = token or None
        if is_loopback(host):
            return cls(host, token, remote=False)
        if not allow_remote:
            raise ControlConfigError(
                f"control.host: {host} is not loopback; the control API can stop and flatten the node, so it"
                " binds beyond 127.0.0.1 only with control.allow_remote: true (and a token on every route)"
            )
        if token is None:
            raise ControlConfigError(
                f"control.allow_remote: binding to {host} needs a token on every route: set {token_env}"
                " in the node's environment or .env.local"
            )
        return cls(host, token, remote=True)

    def token_matches(self, offered: str | None) -> bool:
        if self.token is None or offered is None:
            return False
        return hmac.compare_digest(offered.encode(), self.token.encode())

    def host_header_ok(self, host_header: str | None) -> bool:
        """On loopback, a request must name a loopback host (DNS rebinding); beyond it, the token guards."""
        if self.remote:
            return True
        if not host_header:
            return False
        name = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
        return is_loopback(name)


def offered_token(authorization: str | None, header: str | None, query: str | None) -> str | None:
    """The token a request carries: ``Authorization: Bearer``, ``X-Odte-Token``, or ``?token=`` (the
    dashboard's event stream, which a browser opens without headers)."""
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return header or query or None
