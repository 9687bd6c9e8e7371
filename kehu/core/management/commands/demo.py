from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Load the demo company (idempotent). With --once, skip when it is loaded already."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="do nothing if the demo users exist")

    def handle(self, *args, once=False, **options):
        from kehu.accounts.demo import DEMO_LOGINS
        from kehu.accounts.models import User
        from kehu.core.demo import DEMO_PASSWORD, run_demo

        if once and User.objects.filter(username="admin").exists():
            self.stdout.write("The demo company is loaded already; keeping the data.")
        else:
            run_demo(self.stdout)
            self.stdout.write(self.style.SUCCESS("Demo company loaded."))
        self.stdout.write(f"\nDemo log-ins (password {DEMO_PASSWORD}):")
        from kehu.accounts.models import BUILTIN_ROLE_LABELS

        for username, role in DEMO_LOGINS:
            self.stdout.write(f"  {username:<11} {BUILTIN_ROLE_LABELS[role]}")
