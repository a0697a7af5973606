"""Domain errors: every broken rule has its own type, so callers map them without parsing text."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every rule the plan enforces; a rejected command appends nothing."""


class InvalidInput(DomainError):
    """A value the plan cannot hold; `field` names the input at fault."""

    field: str = "_schema"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        if field is not None:
            self.field = field


class InvalidTitle(InvalidInput):
    field = "title"


class InvalidDescription(InvalidInput):
    field = "description"


class InvalidName(InvalidInput):
    field = "name"


class InvalidBudget(InvalidInput):
    field = "budget"


class UnknownCurrency(InvalidInput):
    field = "currency"


class UnknownTimeZone(InvalidInput):
    field = "timezone"


class InvalidRecurrenceRule(InvalidInput):
    field = "rrule"


class InvalidEmail(InvalidInput):
    field = "email"


class InvalidKind(InvalidInput):
    field = "kind"


class InvalidDuration(InvalidInput):
    field = "duration_minutes"


class ReasonRequired(InvalidInput):
    field = "reason"


class EvidenceRequired(InvalidInput):
    field = "evidence"


class InvalidStatement(InvalidInput):
    field = "statement"


class InvalidRole(InvalidInput):
    field = "role"


class NotFound(DomainError):
    """The thing named does not exist (or is not visible to the asker)."""


class PlanNotFound(NotFound):
    pass


class MilestoneNotFound(NotFound):
    pass


class AssumptionNotFound(NotFound):
    pass


class ReviewOccurrenceNotFound(NotFound):
    pass


class MemberNotFound(NotFound):
    pass


class FeedNotFound(NotFound):
    pass


class TransitionForbidden(DomainError):
    """The plan's current state does not allow this change."""


class SameDueDate(TransitionForbidden):
    pass


class MilestoneIsCancelled(TransitionForbidden):
    pass


class MilestoneIsDone(TransitionForbidden):
    pass


class MilestoneNotClosed(TransitionForbidden):
    pass


class AssumptionAlreadyResolved(TransitionForbidden):
    pass


class NothingChanged(TransitionForbidden):
    pass


class OwnerIsFixed(TransitionForbidden):
    """The owner stays the owner: the role cannot be changed or removed."""


class ConcurrentChange(DomainError):
    """Someone else changed the same thing first; reload and try again."""


class AccessDenied(DomainError):
    """A member whose role does not allow this change; only members are told, so it reveals nothing."""



class UserNotFound(NotFound):
    pass


class UserExists(TransitionForbidden):
    pass
