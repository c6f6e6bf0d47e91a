"""Chain the audit trail: every row gets its position (`seq`), the previous row's hash and its
own, and the chain head (`AuditChain`) and the `verify_audit` results get their tables.

The rows written before are chained in the order they were written (`id`). The masking of
supplementary-info rows (institutions 0005) runs first, so they are chained as masked.
The canonical form is a frozen copy of kdcis.audit's (a stored format; migrations do not
import app code); tests check that rows chained here verify.
"""

import datetime as dt
import hashlib
import ipaddress
import json

import django.utils.timezone
from django.db import migrations, models

GENESIS = "0" * 64
BATCH = 5000


def _content(seq, at, actor_ref, action, target_type, target_id, subject_ref, old, new,
             reason, ip) -> bytes:
    return json.dumps(
        [seq, at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
         actor_ref or "", action, target_type, str(target_id), subject_ref or "", old or {},
         new or {}, reason or "", str(ipaddress.ip_address(ip)) if ip else None],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    ).encode()


def chain_rows(apps, schema_editor):
    AuditEvent = apps.get_model("kdcis", "AuditEvent")
    AuditChain = apps.get_model("kdcis", "AuditChain")
    fields = ("actor_ref", "action", "target_type", "target_id", "subject_ref", "old", "new",
              "reason", "ip")
    prev, seq, last_id = GENESIS, 0, 0
    while True:
        batch = list(AuditEvent.objects.filter(pk__gt=last_id).order_by("pk")
                     .only("id", "at", *fields)[:BATCH])
        if not batch:
            break
        for row in batch:
            seq += 1
            row.seq = seq
            row.prev_hash = prev
            content = _content(seq, row.at, *(getattr(row, name) for name in fields))
            row.hash = prev = hashlib.sha256(prev.encode() + b"\x1e" + content).hexdigest()
        AuditEvent.objects.bulk_update(batch, ["seq", "prev_hash", "hash"], batch_size=1000)
        last_id = batch[-1].pk
    AuditChain.objects.update_or_create(pk=1, defaults={"seq": seq, "hash": prev})


class Migration(migrations.Migration):

    dependencies = [
        ("kdcis", "0006_job_lease"),
        ("institutions", "0005_mask_people_in_supplementary_audit"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChain",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("seq", models.BigIntegerField(default=0)),
                ("hash", models.CharField(max_length=64)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("pk", 1)),
                                                       name="auditchain_single_row")],
            },
        ),
        migrations.CreateModel(
            name="AuditVerification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("started_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField()),
                ("ok", models.BooleanField()),
                ("rows_checked", models.BigIntegerField(default=0)),
                ("head_seq", models.BigIntegerField(default=0)),
                ("head_hash", models.CharField(blank=True, max_length=64)),
                ("bad_row_id", models.BigIntegerField(blank=True, null=True)),
                ("bad_seq", models.BigIntegerField(blank=True, null=True)),
                ("problem", models.TextField(blank=True)),
            ],
            options={
                "verbose_name": "감사 기록 검증",
                "verbose_name_plural": "감사 기록 검증",
                "ordering": ["-finished_at", "-id"],
            },
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(null=True),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(default="", max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_rows, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(unique=True),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(condition=models.Q(("seq__gte", 1)),
                                              name="audit_seq_positive"),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(condition=models.Q(("hash__regex", "^[0-9a-f]{64}$")),
                                              name="audit_hash_hex"),
        ),
    ]
