import time

from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = ("Print the current one-time code of a user's confirmed TOTP device (default: the "
            "demo national admin 'admin'). For the demo and local testing only.")

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?", default="admin")

    def handle(self, *args, username, **options):
        device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is None:
            raise CommandError(f"{username!r} has no confirmed TOTP device.")
        code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits,
                    drift=device.drift)
        self.stdout.write(f"{code:0{device.digits}d} (valid for about "
                          f"{device.step - int(time.time() - device.t0) % device.step} s)")
