"""The portal's authentication backend.

Django's ModelBackend, except for the user it loads on every signed-in request. That user
comes with what every portal page shows or checks about them: the institution (the header),
the officer role with its approving body and region (the approvals pages, the staff menu)
and whether they hold an approved permission of each menu area (the '메뉴보기' tree and the
area checks). All of it is read by one SQL statement built once per process from the
models' metadata, so a signed-in page pays one short query for the user instead of the
ORM's per-request query compilation plus up to three lazy lookups; on PostgreSQL it is a
prepared statement (kdcis/prepared.py). Values pass through the same database converters
the ORM applies, so the objects are the ones the ORM would build.

On a request, the session store reads the same columns joined to the session row
(kdcis/sessions.py), so a signed-in page pays one query for both. `AuthenticationMiddleware`
lends the request's session to the backend while Django's `auth.get_user` runs; everything
else in Django's check (the backend named in the session, the session hash) is unchanged.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from functools import cache

from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthMiddleware
from django.db import connections, router
from django.utils.functional import SimpleLazyObject

from kdcis import prepared
from kdcis.ids import parse_id

BACKEND_PATH = "kdcis.auth.PortalBackend"


#: The session of the request whose user `auth.get_user` is finding, in this context only.
_request_session: contextvars.ContextVar = contextvars.ContextVar("kdcis_request_session")


class PortalBackend(ModelBackend):
    def get_user(self, user_id):
        user_id = parse_id(user_id)  # sessions are signed, but never a 500 for a bad id
        if user_id is None:
            return None
        session = _request_session.get(None)
        found, user = (session.user_read_with_session(user_id)
                       if hasattr(session, "user_read_with_session") else (False, None))
        if not found:
            user = load_portal_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


def _get_user(request):
    if not hasattr(request, "_cached_user"):
        token = _request_session.set(request.session)
        try:
            request._cached_user = auth.get_user(request)
        finally:
            _request_session.reset(token)
    return request._cached_user


class AuthenticationMiddleware(DjangoAuthMiddleware):
    """Django's, letting the backend take the user the session row brought along."""

    def process_request(self, request):
        super().process_request(request)  # checks that sessions come first; sets auser
        request.user = SimpleLazyObject(lambda: _get_user(request))


@dataclass(frozen=True)
class _Part:
    """One model's columns in the statement: alias, model, (field, converters, column) per
    column, the attribute names for `from_db` and where the primary key is."""

    alias: str
    model: type
    fields: tuple
    attnames: tuple[str, ...]
    pk_index: int


@dataclass(frozen=True)
class _Statement:
    """The user's columns and joins, for the statement by id here and for the session
    statement (kdcis/sessions.py) that reads the same columns joined to the session row."""

    select: str  # the columns, then one flag per menu area
    table: str  # the user table, aliased `u` by the caller
    pk: str  # its primary-key column
    joins: str  # the LEFT JOINs from `u` to the institution, officer, body and region
    sql: str  # the user by id
    parts: tuple[_Part, ...]
    areas: tuple[str, ...]


def column_converters(field, alias: str, connection) -> tuple:
    """(column, converters): what the ORM applies to `field`'s raw database value."""
    column = field.get_col(alias)
    return column, tuple(connection.ops.get_db_converters(column)
                         + column.get_db_converters(connection))


def convert(value, column, converters, connection):
    """A raw database value as the ORM would hand it over."""
    for converter in converters:
        value = converter(value, column, connection)
    return value


def _part(alias: str, model, connection) -> _Part:
    fields = []
    for field in model._meta.concrete_fields:
        column, converters = column_converters(field, alias, connection)
        fields.append((field, converters, column))
    return _Part(alias, model, tuple(fields), tuple(f.attname for f, _c, _col in fields),
                 [f.primary_key for f, _c, _col in fields].index(True))


@cache
def portal_user_statement(alias: str) -> _Statement:
    from institutions.models import ApprovingBody, Institution, Region
    from permissions.menus import FOLDERS
    from permissions.models import Grant, Officer, PermissionType

    connection = connections[alias]
    qn = connection.ops.quote_name
    user_model = get_user_model()
    parts = (
        _part("u", user_model, connection), _part("i", Institution, connection),
        _part("o", Officer, connection), _part("b", ApprovingBody, connection),
        _part("r", Region, connection),
    )
    columns = ", ".join(f"{part.alias}.{qn(field.column)}"
                        for part in parts for field, _c, _col in part.fields)
    areas = tuple(FOLDERS)
    grant, ptype = qn(Grant._meta.db_table), qn(PermissionType._meta.db_table)
    flags = "".join(
        f", EXISTS (SELECT 1 FROM {grant} g JOIN {ptype} t ON t.id = g.permission_type_id "
        f"WHERE g.user_id = u.{qn(user_model._meta.pk.column)} AND g.status = 'approved' "
        f"AND t.menu_area = '{area}')"
        for area in areas
    )
    table, pk = qn(user_model._meta.db_table), qn(user_model._meta.pk.column)
    joins = (
        f"LEFT JOIN {qn(Institution._meta.db_table)} i "
        f"ON i.id = u.{qn(user_model._meta.get_field('institution').column)} "
        f"LEFT JOIN {qn(Officer._meta.db_table)} o ON o.user_id = u.id "
        f"LEFT JOIN {qn(ApprovingBody._meta.db_table)} b ON b.id = o.body_id "
        f"LEFT JOIN {qn(Region._meta.db_table)} r ON r.code = b.region_id"
    )
    select = columns + flags
    sql = f"SELECT {select} FROM {table} u {joins} WHERE u.{pk} = %s"
    return _Statement(select=select, table=table, pk=pk, joins=joins, sql=sql, parts=parts,
                      areas=areas)


def _build(part: _Part, row, start: int, connection, alias: str):
    """The model instance for `part` from `row[start:]`, or None for an unmatched join."""
    values = [convert(row[start + offset], column, converters, connection)
              for offset, (_field, converters, column) in enumerate(part.fields)]
    if values[part.pk_index] is None:
        return None
    return part.model.from_db(alias, part.attnames, values)


def load_portal_user(user_id):
    """The user with institution, officer (with body and region) and menu-area flags, or
    None when there is no such user."""
    alias = router.db_for_read(get_user_model())
    connection = connections[alias]
    statement = portal_user_statement(alias)
    with connection.cursor() as cursor:
        prepared.execute(connection, cursor, "kdcis_portal_user", statement.sql, [user_id])
        row = cursor.fetchone()
    return None if row is None else portal_user_from_row(row, 0, alias)


def portal_user_from_row(row, start: int, alias: str):
    """The user read by `portal_user_statement`'s columns from `row[start:]`, with its
    related objects and menu-area flags in place; None when the row's user part is empty
    (an outer join that found nobody)."""
    from institutions.models import ApprovingBody
    from permissions.models import Officer

    user_model = get_user_model()
    connection = connections[alias]
    statement = portal_user_statement(alias)
    built = []
    for part in statement.parts:
        built.append(_build(part, row, start, connection, alias))
        start += len(part.fields)
    user, institution, officer, body, region = built
    if user is None:
        return None
    user_model.institution.field.set_cached_value(user, institution)
    user_model.officer.related.set_cached_value(user, officer)
    if officer is not None:
        Officer.user.field.set_cached_value(officer, user)
        Officer.body.field.set_cached_value(officer, body)
        ApprovingBody.region.field.set_cached_value(body, region)
    user._approved_areas = {area for area, flag in zip(statement.areas, row[start:],
                                                       strict=True) if flag}
    return user
