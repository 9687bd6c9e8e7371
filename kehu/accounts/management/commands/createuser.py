import getpass

from django.core.management.base import BaseCommand, CommandError

from kehu.accounts import services
from kehu.accounts.models import Department, Role
from kehu.core.errors import DomainError


class Command(BaseCommand):
    help = "Create a user. Without --password, asks for it."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password")
        parser.add_argument("--full-name", default="")
        parser.add_argument("--email", default="")
        parser.add_argument("--department", help="department code")
        parser.add_argument(
            "--role",
            action="append",
            default=[],
            help="role code (repeatable), e.g. administrator, supervisor, account_manager",
        )

    def handle(self, *args, username, password, full_name, email, department, role, **options):
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        dept = None
        if department:
            dept = Department.objects.filter(code=department).first()
            if dept is None:
                raise CommandError(f"No department with code {department!r}.")
        roles = list(Role.objects.filter(code__in=role))
        missing = set(role) - {r.code for r in roles}
        if missing:
            raise CommandError(f"Unknown role(s): {', '.join(sorted(missing))}")
        try:
            user = services.create_user(
                by=None,
                username=username,
                password=password,
                full_name=full_name,
                email=email,
                department=dept,
                roles=roles,
            )
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created user {user.username}."))
