"""A kernel decision: allowed + a reason code + a human reason (+ an adjusted size) (design §4).

A refused entry carries its own audit trail: the code says which rule, the reason says why in words a
trader understands, with the numbers that made the rule fire.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ReasonCode(StrEnum):
    ALLOWED = "ALLOWED"
    # an order the gate cannot read
    UNKNOWN_INSTRUMENT = "UNKNOWN_INSTRUMENT"
    MALFORMED_ORDER = "MALFORMED_ORDER"
    # session and lock
    OUTSIDE_SESSION = "OUTSIDE_SESSION"
    EOD_FLATTEN_WINDOW = "EOD_FLATTEN_WINDOW"
    DAY_LOCKED = "DAY_LOCKED"
    KILL_SWITCH = "KILL_SWITCH"
    # account (seed 003 paper-only safeguards)
    ACCOUNT_NOT_PAPER = "ACCOUNT_NOT_PAPER"
    BROKER_NOT_PAPER = "BROKER_NOT_PAPER"
    # strategy switches and breakers
    UNKNOWN_STRATEGY = "UNKNOWN_STRATEGY"
    STRATEGY_DISABLED = "STRATEGY_DISABLED"
    GLOBAL_BREAKER = "GLOBAL_BREAKER"
    STRATEGY_BREAKER = "STRATEGY_BREAKER"
    # daily loss ladder and streak (seed 000)
    HARD_STOP = "HARD_STOP"
    SOFT_STOP_SIZE_CUT = "SOFT_STOP_SIZE_CUT"
    LOSS_STREAK_STOP = "LOSS_STREAK_STOP"
    LOSS_STREAK_SIZE_CUT = "LOSS_STREAK_SIZE_CUT"
    MAX_TRADES_PER_DAY = "MAX_TRADES_PER_DAY"
    # structural invariants
    NOT_FLAT = "NOT_FLAT"
    ONE_POSITION_ONLY = "ONE_POSITION_ONLY"
    LONG_ONLY = "LONG_ONLY"
    NO_NAKED_SHORT = "NO_NAKED_SHORT"
    FORBID_ADD_TO_LOSER = "FORBID_ADD_TO_LOSER"
    FORBID_REVERSE_WITHOUT_FLAT = "FORBID_REVERSE_WITHOUT_FLAT"
    DUPLICATE_POSITION = "DUPLICATE_POSITION"
    # sizing
    POSITION_SIZE_CAPPED = "POSITION_SIZE_CAPPED"
    SIZE_OUT_OF_RANGE = "SIZE_OUT_OF_RANGE"
    # limits (seed 003)
    MAX_OPEN_PACKAGES_PER_SYMBOL = "MAX_OPEN_PACKAGES_PER_SYMBOL"
    MAX_OPEN_PACKAGES_TOTAL = "MAX_OPEN_PACKAGES_TOTAL"
    MAX_OPEN_RISK_PER_SYMBOL = "MAX_OPEN_RISK_PER_SYMBOL"
    MAX_OPEN_RISK_TOTAL = "MAX_OPEN_RISK_TOTAL"
    STRATEGY_DAILY_LOSS = "STRATEGY_DAILY_LOSS"
    GLOBAL_DAILY_LOSS = "GLOBAL_DAILY_LOSS"
    RATE_LIMIT_STRATEGY = "RATE_LIMIT_STRATEGY"
    RATE_LIMIT_TOTAL = "RATE_LIMIT_TOTAL"


@dataclass(frozen=True, slots=True)
class Decision:
    """The kernel's answer (design §4): ``allowed``, the ``code`` of the rule that decided, a ``reason`` a
    trader reads, and the ``size`` the kernel allows - 0 when refused, the adjusted size when a rule cut it."""

    allowed: bool
    code: ReasonCode
    reason: str
    size: int

    @classmethod
    def refuse(cls, code: ReasonCode, reason: str) -> Decision:
        return cls(False, code, reason, 0)

    @classmethod
    def allow(cls, size: int, code: ReasonCode = ReasonCode.ALLOWED, reason: str = "all rules passed") -> Decision:
        return cls(True, code, reason, size)

    def to_dict(self) -> dict:
        return {"allowed": self.allowed, "code": self.code.value, "reason": self.reason, "size": self.size}
