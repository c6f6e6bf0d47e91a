# The approval queue is no longer cached per body version: the counter goes.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('institutions', '0003_approving_body_queue_version'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='approvingbody',
            name='queue_version',
        ),
    ]
