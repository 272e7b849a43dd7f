"""The state machine of a whitelist application (行业规范条件申报).

::

    draft ──submit──► submitted ──approve──► provincially_approved ──announce──► announced
      │                   │                        │
      │                   └──reject──► provincially_rejected
      │                   │                        │             │
      └───────────────────┴────withdraw────────────┴─────────────┴──► withdrawn

The province (省级工业和信息化主管部门) reviews; the ministry announces approved applications by
batch (公告批次). ``announced`` and ``withdrawn`` are final: a rejected enterprise withdraws and
applies again. An action not allowed in the current state is an :class:`IllegalTransition` that
names the state.
"""

from __future__ import annotations

from typing import Final

from battrace.domain.errors import InvalidInput

DRAFT: Final = "draft"
SUBMITTED: Final = "submitted"
APPROVED: Final = "provincially_approved"
REJECTED: Final = "provincially_rejected"
ANNOUNCED: Final = "announced"
WITHDRAWN: Final = "withdrawn"
STATES: Final = (DRAFT, SUBMITTED, APPROVED, REJECTED, ANNOUNCED, WITHDRAWN)

APPLY: Final = "apply"
SUBMIT: Final = "submit"
APPROVE: Final = "approve"
REJECT: Final = "reject"
ANNOUNCE: Final = "announce"
WITHDRAW: Final = "withdraw"

#: action -> {from state: to state}
TRANSITIONS: Final[dict[str, dict[str, str]]] = {
    SUBMIT: {DRAFT: SUBMITTED},
    APPROVE: {SUBMITTED: APPROVED},
    REJECT: {SUBMITTED: REJECTED},
    ANNOUNCE: {APPROVED: ANNOUNCED},
    WITHDRAW: {DRAFT: WITHDRAWN, SUBMITTED: WITHDRAWN, APPROVED: WITHDRAWN, REJECTED: WITHDRAWN},
}
ACTIONS: Final = (APPLY, *TRANSITIONS)


class IllegalTransition(InvalidInput):
    """An action the application's current state does not allow (field ``state``)."""

    def __init__(self, action: str, state: str) -> None:
        allowed = ", ".join(TRANSITIONS.get(action, {})) or "no state"
        super().__init__(
            "state", f"cannot {action} an application that is {state} (only from: {allowed})"
        )
        self.action = action
        self.state = state


def next_state(state: str, action: str) -> str:
    """The state after ``action``; :class:`IllegalTransition` if ``state`` does not allow it."""
    if action not in TRANSITIONS:
        raise InvalidInput("action", f"{action!r} is not one of: {', '.join(TRANSITIONS)}")
    if state not in STATES:
        raise InvalidInput("state", f"{state!r} is not one of: {', '.join(STATES)}")
    to = TRANSITIONS[action].get(state)
    if to is None:
        raise IllegalTransition(action, state)
    return to


def allowed_actions(state: str) -> tuple[str, ...]:
    return tuple(a for a, moves in TRANSITIONS.items() if state in moves)
