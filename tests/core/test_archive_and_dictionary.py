import pytest
from django.urls import reverse

from kehu.core import services
from kehu.core.errors import InUse, PermissionDeniedError, ValidationFailed
from kehu.core.models import DictEntry
from kehu.core.selectors import history_for
from tests.testapp.models import Gadget, GadgetPart


@pytest.fixture
def gadget(demo):
    return Gadget.objects.create(name="扫描枪", owner=demo["manager"])


def test_archived_records_leave_active_lists_and_can_be_restored(demo, gadget):
    services.archive(gadget, by=demo["manager"])
    assert not Gadget.objects.active().filter(pk=gadget.pk).exists()
    assert Gadget.objects.archived().get(pk=gadget.pk).archived_by == demo["manager"]
    services.restore(gadget, by=demo["manager"])
    assert Gadget.objects.active().filter(pk=gadget.pk).exists()
    from auditlog.models import LogEntry

    updates = [e for e in history_for(gadget) if e.action == LogEntry.Action.UPDATE]
    assert [("archived_at" in e.changes_dict) for e in updates] == [True, True]  # archived, then restored
    assert updates[0].changes_dict["archived_at"][1] in (None, "None")  # newest first: the restore


def test_hard_delete_only_by_an_administrator(demo, gadget):
    with pytest.raises(PermissionDeniedError):
        services.hard_delete(gadget, by=demo["supervisor"])
    assert Gadget.objects.filter(pk=gadget.pk).exists()


def test_hard_delete_refuses_a_referenced_record(demo, gadget):
    GadgetPart.objects.create(gadget=gadget)
    with pytest.raises(InUse, match="still referenced"):
        services.hard_delete(gadget, by=demo["admin"])
    assert Gadget.objects.filter(pk=gadget.pk).exists()


def test_hard_delete_of_an_unreferenced_record(demo, gadget):
    services.hard_delete(gadget, by=demo["admin"])
    assert not Gadget.objects.filter(pk=gadget.pk).exists()


def test_dictionary_is_seeded_in_both_languages(db):
    levels = DictEntry.objects.filter(type="customer_level")
    assert levels.count() >= 4
    vip = levels.get(code="vip")
    assert (vip.label_zh, vip.label_en) == ("战略客户", "Strategic")
    for t in [
        "region",
        "industry",
        "customer_source",
        "credit_rating",
        "service_type",
        "return_reason",
        "lost_reason",
        "unit",
        "payment_method",
    ]:
        assert DictEntry.objects.filter(type=t, enabled=True).exists(), t


def test_an_entry_in_use_cannot_be_deleted_only_disabled(demo):
    level = DictEntry.objects.get(type="customer_level", code="vip")
    Gadget.objects.create(name="x", owner=demo["manager"], level=level)
    with pytest.raises(InUse, match="in use"):
        services.delete_dict_entry(level, by=demo["admin"])
    assert DictEntry.objects.filter(pk=level.pk).exists()
    services.set_dict_entry_enabled(level, enabled=False, by=demo["admin"])
    level.refresh_from_db()
    assert level.enabled is False


def test_an_unused_entry_can_be_deleted(demo):
    entry = DictEntry.objects.create(
        type="region", code="hk", label_zh="港澳台", label_en="HK, Macao, Taiwan"
    )
    services.delete_dict_entry(entry, by=demo["admin"])
    assert not DictEntry.objects.filter(pk=entry.pk).exists()


def test_duplicate_code_in_the_same_type_is_refused(demo):
    with pytest.raises(ValidationFailed, match="already exists"):
        services.save_dict_entry(
            DictEntry(type="region", code="north", label_zh="北", label_en="N"), by=demo["admin"]
        )


def test_dictionary_ui_delete_in_use_shows_message_and_keeps_entry(demo, client_for):
    level = DictEntry.objects.get(type="customer_level", code="key")
    Gadget.objects.create(name="x", owner=demo["manager"], level=level)
    c = client_for("admin")
    resp = c.post(reverse("core:dict_delete", args=[level.pk]), follow=True)
    assert resp.status_code == 200
    assert "disable it instead" in resp.content.decode()
    assert DictEntry.objects.filter(pk=level.pk).exists()


def test_dictionary_ui_create_edit_and_history(demo, client_for):
    c = client_for("admin")
    resp = c.post(
        reverse("core:dict_create"),
        {
            "type": "industry",
            "code": "energy",
            "label_zh": "能源",
            "label_en": "Energy",
            "order": 5,
            "enabled": "on",
        },
    )
    entry = DictEntry.objects.get(type="industry", code="energy")
    assert resp.status_code == 302
    c.post(
        reverse("core:dict_edit", args=[entry.pk]),
        {
            "type": "industry",
            "code": "energy",
            "label_zh": "新能源",
            "label_en": "New energy",
            "order": 5,
            "enabled": "on",
        },
    )
    page = c.get(reverse("core:dict_edit", args=[entry.pk])).content.decode()
    assert "新能源" in page and "能源" in page  # old → new in the history panel
    listing = c.get(reverse("core:dict_list"), {"type": "industry"}).content.decode()
    assert "energy" in listing and "manufacturing" in listing


def test_dictionary_ui_bad_input_shows_the_field_error(demo, client_for):
    c = client_for("admin")
    resp = c.post(
        reverse("core:dict_create"),
        {"type": "region", "code": "north", "label_zh": "x", "label_en": "x", "order": 1},
    )
    assert resp.status_code == 200
    assert "already exists" in resp.content.decode()
    assert DictEntry.objects.filter(type="region", code="north").count() == 1


def test_dictionary_pages_need_the_right(demo, client_for):
    assert client_for("manager").get(reverse("core:dict_list")).status_code == 403
    assert client_for("executive").get(reverse("core:dict_list")).status_code == 403


def test_dictionary_excel_export_contains_the_filtered_rows(demo, client_for):
    import io

    from openpyxl import load_workbook

    resp = client_for("admin").get(reverse("core:dict_list"), {"type": "unit", "export": "xlsx"})
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][1] in ("Code", "编码", "代码")
    codes = {r[1] for r in rows[1:]}
    assert codes == set(DictEntry.objects.filter(type="unit").values_list("code", flat=True))


def test_dictionary_choice_field_offers_enabled_entries_and_keeps_a_disabled_current_value(db):
    from kehu.core.forms import DictEntryChoiceField

    north = DictEntry.objects.get(type="region", code="north")
    field = DictEntryChoiceField("region")
    assert north in field.queryset
    services.set_dict_entry_enabled(north, enabled=False, by=None)
    field = DictEntryChoiceField("region")
    assert north not in field.queryset
    field.include_current(north)
    assert north in field.queryset
    assert field.clean(str(north.pk)) == north
    assert set(field.queryset.values_list("type", flat=True)) == {"region"}


def test_a_service_called_outside_a_request_records_who_acted(demo):
    """Jobs, imports and the command line call services directly: the audit entry still names the user."""
    entry = services.save_dict_entry(
        DictEntry(type="region", code="hk", label_zh="港澳台", label_en="HK"), by=demo["supervisor"]
    )
    services.set_dict_entry_enabled(entry, enabled=False, by=demo["admin"])
    actors = [e.actor for e in history_for(entry)]
    assert actors == [demo["admin"], demo["supervisor"]]
