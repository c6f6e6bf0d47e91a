from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import SignupError, helpdesk_assign
from institutions.models import ApprovingBody
from permissions.services import GrantError, officer_assign


class Command(BaseCommand):
    help = (
        "Give a signed-up user a staff role, for scripted setup (national admins use the Django "
        "admin): 'officer --body CODE' makes them the officer of that approving body "
        "(health-center code such as HC-11110-1, or KDCA-VPM for the central department); "
        "'helpdesk' makes them a helpdesk agent. Writes one audit row; idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("role", choices=["officer", "helpdesk"])
        parser.add_argument("--body", help="approving body code (for 'officer')")

    def handle(self, *args, username, role, body=None, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user with the ID {username!r}.")
        try:
            if role == "officer":
                if not body:
                    raise CommandError("'officer' needs --body CODE.")
                approving_body = ApprovingBody.objects.filter(code=body).first()
                if approving_body is None:
                    raise CommandError(f"No approving body with the code {body!r}.")
                officer_assign(user=user, body=approving_body)
                self.stdout.write(f"{username} is now an officer of {approving_body}.")
            else:
                helpdesk_assign(user=user)
                self.stdout.write(f"{username} is now a helpdesk agent.")
        except (GrantError, SignupError) as exc:
            raise CommandError(str(exc.message)) from None
