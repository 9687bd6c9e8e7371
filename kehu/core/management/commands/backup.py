from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Write every record and every uploaded file to one backup file (a zip). "
        "Without FILE: DATA_DIR/backups/kehu-backup-YYYYmmdd-HHMMSS.zip."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="the file (or an existing folder) to write")

    def handle(self, *args, file=None, **options):
        from kehu.core.backup import BackupError, create_backup, read_manifest

        try:
            path = create_backup(file)
            manifest = read_manifest(path)
        except BackupError as exc:
            raise CommandError(str(exc))
        counts = manifest["counts"]
        media = manifest["media"]
        self.stdout.write(self.style.SUCCESS(f"Backup written to {path}"))
        self.stdout.write(
            f"  {sum(counts.values())} rows in {sum(1 for n in counts.values() if n)} tables, "
            f"{len(media)} uploaded files ({sum(m['size'] for m in media)} bytes), "
            f"{path.stat().st_size} bytes in all"
        )
        for label, n in counts.items():
            if n and options["verbosity"] >= 1:
                self.stdout.write(f"  {label:<40} {n:>9}")
