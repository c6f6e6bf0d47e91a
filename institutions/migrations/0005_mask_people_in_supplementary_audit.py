"""Mask the people's values that earlier supplementary-info saves wrote into audit rows
(representative, 예진의사/접종자 names, mobile, e-mail): the audit keeps which fields
changed and masked values, never the value itself."""

from django.db import migrations

ACTION = "institution.supplementary_saved"


def _name(value):
    value = str(value or "")
    if len(value) <= 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def _mobile(value):
    value = str(value or "")
    if len(value) == 11:
        return f"{value[:3]}-****-{value[7:]}"
    return "*" * max(len(value) - 4, 0) + value[-4:] if len(value) >= 4 else "*" * len(value)


def _email(value):
    local, at, domain = str(value or "").partition("@")
    return f"{local[:1]}***{at}{domain}" if local else ""


MASKS = {
    "representative_name": _name,
    "predoctor_names": lambda names: [_name(n) for n in names or []],
    "vaccinator_names": lambda names: [_name(n) for n in names or []],
    "mobile": _mobile,
    "email": _email,
}


def _masked(values):
    if not isinstance(values, dict):
        return values
    out = {}
    for key, value in values.items():
        already = isinstance(value, str) and "*" in value
        out[key] = MASKS[key](value) if key in MASKS and value and not already else value
    return out


def mask_rows(apps, schema_editor):
    AuditEvent = apps.get_model("kdcis", "AuditEvent")
    for event in AuditEvent.objects.filter(action=ACTION).only("id", "old", "new").iterator():
        old, new = _masked(event.old), _masked(event.new)
        if (old, new) != (event.old, event.new):
            AuditEvent.objects.filter(pk=event.pk).update(old=old, new=new)


class Migration(migrations.Migration):
    dependencies = [
        ("institutions", "0004_remove_approvingbody_queue_version"),
        ("kdcis", "0001_initial"),
    ]

    operations = [migrations.RunPython(mask_rows, migrations.RunPython.noop)]
