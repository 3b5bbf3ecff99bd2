"""Who may trade at all: a paper account and broker (seed 003's paper-only safeguards), and a strategy the
profile lists."""

from __future__ import annotations

from odte_nautilus.risk.decision import Decision
from odte_nautilus.risk.decision import ReasonCode as Code
from odte_nautilus.risk.rules.context import CheckContext, applies_when, has_strategies


@applies_when(lambda policy: policy.require_paper)
def paper_account(c: CheckContext) -> Decision | None:
    """Seed 003's paper-only safeguards: reject orders if a live account or a live-mode broker is seen."""
    if not c.policy.require_paper:
        return None
    account = c.state.account
    if not account.is_paper_account:
        return Decision.refuse(
            Code.ACCOUNT_NOT_PAPER, "the account is not a paper account and the profile requires paper (require_paper)"
        )
    if not account.broker_paper_mode:
        return Decision.refuse(
            Code.BROKER_NOT_PAPER,
            "the broker client is not in paper mode and the profile requires paper (require_paper)",
        )
    return None


@applies_when(has_strategies)
def unknown_strategy(c: CheckContext) -> Decision | None:
    """A profile that lists strategies trades only those: an unlisted one has no limits to enforce."""
    if c.policy.strategies and c.limits is None:
        return Decision.refuse(
            Code.UNKNOWN_STRATEGY,
            f"strategy {c.intent.strategy_id} has no limits in profile {c.policy.profile}:"
            f" add strategies.{c.strategy_key} to the risk profile to trade it",
        )
    return None
