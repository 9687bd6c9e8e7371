from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"

    def ready(self):
        from auditlog.registry import auditlog

        from kehu.core.jobs import job

        from .models import Gadget

        auditlog.register(Gadget)

        @job("testapp.count_gadgets")
        def count_gadgets(ctx, *, fail=False):
            total = Gadget.objects.count()
            ctx.progress(0, total, "counting")
            for i, _g in enumerate(Gadget.objects.all(), start=1):
                ctx.progress(i, total)
            if fail:
                raise ValueError("asked to fail")
            return {"summary": f"{total} gadgets", "count": total}
