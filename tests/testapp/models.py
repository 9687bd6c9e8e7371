"""A small business model used only by the tests of the shared building blocks (scopes, archiving,
dictionary references, jobs).  Installed only when KEHU_TESTING is set."""

from django.conf import settings
from django.db import models

from kehu.core.models import Archivable, dict_fk


class Gadget(Archivable):
    name = models.CharField(max_length=50)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    level = dict_fk("customer_level", "level")

    class Meta:
        app_label = "testapp"

    def __str__(self):
        return self.name


class GadgetPart(models.Model):
    gadget = models.ForeignKey(Gadget, on_delete=models.PROTECT, related_name="parts")

    class Meta:
        app_label = "testapp"

    def __str__(self):
        return f"part of {self.gadget_id}"
