"""Bind certificates on issuer + serial (issue 16, item 11).

Rows bound before this migration did not store the issuer's whole name (only its CN, in
`issuer`), and their DER is not kept: they get "legacy:" + the CN, which lookups also try
(accounts/selectors.py binding_for_certificate), so those accounts keep signing in and their
certificates still cannot be bound twice. A renewal re-binds them with the whole name.
"""

from django.db import migrations, models


def backfill(apps, schema_editor):
    binding = apps.get_model("accounts", "CertificateBinding")
    for row in binding.objects.filter(issuer_dn="").only("pk", "issuer").iterator():
        binding.objects.filter(pk=row.pk).update(issuer_dn=f"legacy:{row.issuer}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_signupdraft"),
    ]

    operations = [
        migrations.AddField(
            model_name="certificatebinding",
            name="issuer_dn",
            field=models.CharField(default="", max_length=500, verbose_name="발급기관 DN"),
            preserve_default=False,
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="certificatebinding",
            constraint=models.UniqueConstraint(
                fields=("issuer_dn", "serial"), name="certificatebinding_issuer_serial_unique"
            ),
        ),
    ]
