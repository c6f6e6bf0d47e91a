"""The version of each approving body's queue, which keys the officers' cached queue pages.

Every domain operation that changes what a body's queue page shows (a request made, decided,
cancelled, revoked or erased; an applicant's institution renamed) calls `touch_queues` in its
own transaction, so the next page view renders afresh. The cached pages also expire after
`APPROVAL_QUEUE_CACHE_SECONDS`, which bounds how long a change made outside these operations
(a raw SQL fix by an operator) can stay unseen.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Q

from institutions.models import ApprovingBody
from permissions.models import Grant


def touch_queues(*, body_ids: Iterable[int] = (), grant_ids: Iterable[int] = (),
                 user_ids: Iterable[int] = (), institution_id: int | None = None) -> int:
    """Bump the queue version of the given bodies, of the bodies of the given grants and of
    every body holding a request of the given users or of the given institution's users;
    return how many bodies were bumped.

    One UPDATE; it locks the body rows until the caller's transaction ends, so two changes
    to one body's queue are ordered.
    """
    body_ids, grant_ids, user_ids = set(body_ids), set(grant_ids), set(user_ids)
    which = Q(pk__in=body_ids) if body_ids else Q()
    if grant_ids:
        which |= Q(pk__in=Grant.objects.filter(pk__in=grant_ids).values("body_id"))
    if user_ids:
        which |= Q(pk__in=Grant.objects.filter(user_id__in=user_ids).values("body_id"))
    if institution_id is not None:
        which |= Q(pk__in=Grant.objects.filter(user__institution_id=institution_id)
                   .values("body_id"))
    if not which:
        return 0
    return ApprovingBody.objects.filter(which).update(queue_version=F("queue_version") + 1)
