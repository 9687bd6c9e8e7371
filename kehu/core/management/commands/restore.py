from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Bring a backup written by “kehu backup” back into an empty, migrated database. "
        "The file is checked completely first; a failure leaves the database unchanged."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the backup file")
        parser.add_argument(
            "--force",
            action="store_true",
            help="restore even though the database holds data: everything in it is replaced",
        )

    def handle(self, *args, file, force=False, **options):
        from kehu.core.backup import BackupError, restore_backup

        try:
            result = restore_backup(file, force=force)
        except BackupError as exc:
            raise CommandError(str(exc))
        rows, files = result["rows"], result["media_files"]
        self.stdout.write(
            self.style.SUCCESS(f"Restored {rows} rows and {files} uploaded files from {result['path']}")
        )
        self.stdout.write(
            f"  backup of {result['created_at']}, Kehu {result['kehu_version']}, from {result['vendor']}"
        )
        if result["replaced_users"]:
            self.stdout.write(f"  replaced a database that had {result['replaced_users']} users (--force)")
        if options["verbosity"] >= 2:
            for label, n in result["counts"].items():
                if n:
                    self.stdout.write(f"  {label:<40} {n:>9}")
