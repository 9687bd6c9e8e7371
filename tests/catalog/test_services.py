"""Product services: validation, the unique code, the duplicate warning, images, the category tree."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kehu.catalog import services
from kehu.catalog.models import Category, Product, ProductImage
from kehu.core.errors import DomainError, InUse, PermissionDeniedError, ValidationFailed

pytestmark = pytest.mark.django_db


def _png(size=(8, 8), fmt="PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def test_create_normalises_and_rounds(make_product):
    p = make_product(
        code=" IPC-610L ",
        name="  研华   工控机 ",
        spec="IPC-610L  i5",
        list_price=Decimal("6800.005"),
        standard_cost="5200.124",
        tax_rate="13",
        serial_prefix="ipc",
        tracking="serial",
        warranty_months=36,
    )
    p.refresh_from_db()
    assert p.code == "IPC-610L"
    assert p.name == "研华 工控机"
    assert p.list_price == Decimal("6800.01")  # half-up
    assert p.standard_cost == Decimal("5200.12")
    assert p.serial_prefix == "IPC"
    assert p.pinyin == "yhgkj"
    assert p.name_key == "研华工控机|ipc610li5"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": ""}, "code"),
        ({"code": "A B"}, "code"),
        ({"code": "X" * 41}, "code"),
        ({"name": "  "}, "name"),
        ({"quantity_decimals": 5}, "quantity_decimals"),
        ({"quantity_decimals": -1}, "quantity_decimals"),
        ({"quantity_decimals": "1.5"}, "quantity_decimals"),
        ({"list_price": Decimal("-0.01")}, "list_price"),
        ({"standard_cost": "-3"}, "standard_cost"),
        ({"list_price": "abc"}, "list_price"),
        ({"list_price": Decimal("1e15")}, "list_price"),
        ({"tax_rate": Decimal("100.01")}, "tax_rate"),
        ({"tax_rate": Decimal("-1")}, "tax_rate"),
        ({"tax_rate": "NaN"}, "tax_rate"),
        ({"tracking": "weird"}, "tracking"),
        ({"barcode": "12 34"}, "barcode"),
        ({"barcode": "条码"}, "barcode"),
        ({"warranty_months": 601}, "warranty_months"),
        ({"tracking": "serial", "serial_prefix": "SN 1"}, "serial_prefix"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(make_product, fields, field):
    before = Product.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        make_product(**fields)
    assert exc.value.details["field"] == field
    assert exc.value.status == 400
    assert Product.objects.count() == before


def test_unit_must_be_a_unit(make_product):
    from kehu.core.models import DictEntry

    other = DictEntry.objects.exclude(type="unit").first()
    with pytest.raises(ValidationFailed) as exc:
        make_product(unit=other)
    assert exc.value.details["field"] == "unit"


def test_duplicate_code_is_refused_whatever_the_case(make_product):
    make_product(code="IPC-610L")
    with pytest.raises(services.DuplicateCode) as exc:
        make_product(code="ipc-610l")
    assert exc.value.code == "duplicate_code"
    assert exc.value.status == 409
    assert "IPC-610L" in str(exc.value)
    assert Product.objects.filter(code__iexact="ipc-610l").count() == 1


def test_duplicate_barcode_is_refused(make_product):
    make_product(barcode="6901234567892")
    with pytest.raises(services.DuplicateCode) as exc:
        make_product(barcode="6901234567892")
    assert exc.value.code == "duplicate_barcode"


def test_same_name_and_spec_warns_and_can_be_confirmed(make_product):
    first = make_product(name="激光打印机", spec="LQ-630K")
    with pytest.raises(services.DuplicateProduct) as exc:
        make_product(name="激光打印机 ", spec="ＬＱ630k")  # full-width, other case, no dash
    assert exc.value.code == "duplicate"
    assert exc.value.details["duplicates"][0]["id"] == first.pk
    second = make_product(name="激光打印机", spec="LQ-630K", confirm_duplicate=True)
    assert second.pk != first.pk


def test_update_checks_only_what_changes(make_product, demo):
    a = make_product(name="扫码枪", spec="1902")
    b = make_product(name="扫码枪", spec="1472")
    services.update_product(b, by=demo["admin"], list_price=Decimal("9.999"))
    b.refresh_from_db()
    assert b.list_price == Decimal("10.00")
    with pytest.raises(services.DuplicateProduct):
        services.update_product(b, by=demo["admin"], spec="1902")
    with pytest.raises(services.DuplicateCode):
        services.update_product(b, by=demo["admin"], code=a.code.lower())
    b.refresh_from_db()
    assert b.spec == "1472"
    with pytest.raises(ValidationFailed):
        services.update_product(b, by=demo["admin"], avg_cost=Decimal("1"))


def test_change_guard_can_veto(make_product, demo):
    p = make_product(tracking="none")
    seen = []

    def guard(product, changes):
        seen.append((product.tracking, dict(changes)))
        if "tracking" in changes:
            raise DomainError("stock exists", code="has_stock")

    services.register_change_guard(guard)
    try:
        with pytest.raises(DomainError):
            services.update_product(p, by=demo["admin"], tracking="serial")
        services.update_product(p, by=demo["admin"], name="改名")
    finally:
        services.CHANGE_GUARDS.remove(guard)
    p.refresh_from_db()
    assert p.tracking == "none" and p.name == "改名"
    assert seen[0] == ("none", {"tracking": "serial"})


def test_rights(make_product, demo):
    with pytest.raises(PermissionDeniedError):
        make_product(by=demo["manager"])  # account managers read products only
    with pytest.raises(PermissionDeniedError):
        make_product(by=demo["executive"])  # read-only
    assert make_product(by=demo["warehouse"]).pk
    assert make_product(by=demo["supervisor"]).pk


def test_discontinue_archive_restore(make_product, demo):
    p = make_product()
    services.discontinue_product(p, by=demo["warehouse"])
    p.refresh_from_db()
    assert not p.is_active
    services.reactivate_product(p, by=demo["warehouse"])
    services.archive_product(p, by=demo["warehouse"])
    p.refresh_from_db()
    assert p.is_archived and p.is_active
    services.restore_product(p, by=demo["warehouse"])
    p.refresh_from_db()
    assert not p.is_archived
    with pytest.raises(PermissionDeniedError):
        services.archive_product(p, by=demo["manager"])


def test_history_names_the_user(make_product, demo):
    from kehu.core.selectors import history_for

    p = make_product(by=demo["warehouse"])
    services.update_product(p, by=demo["supervisor"], list_price=Decimal("120"))
    entries = list(history_for(p))
    assert [e.actor.username for e in entries] == ["supervisor", "warehouse"]
    assert "list_price" in entries[0].changes_dict


def test_images(make_product, demo, settings):
    p = make_product()
    img = services.add_product_image(
        p, upload=SimpleUploadedFile("a.png", _png(), content_type="image/png"), by=demo["admin"]
    )
    second = services.add_product_image(
        p, upload=SimpleUploadedFile("b.jpg", _png(fmt="JPEG")), by=demo["admin"]
    )
    assert img.image.name.endswith(".png") and second.image.name.endswith(".jpg")
    services.make_main_image(second, by=demo["admin"])
    assert list(p.images.order_by("order").values_list("pk", flat=True)) == [second.pk, img.pk]
    services.remove_product_image(img, by=demo["admin"])
    assert list(p.images.values_list("pk", flat=True)) == [second.pk]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("fake.png", b"not an image at all", "not an image"),
        ("doc.pdf", b"%PDF-1.4 hello", "not an image"),
        ("empty.png", b"", "empty"),
    ],
)
def test_bad_images_are_refused(make_product, demo, name, data, message):
    p = make_product()
    with pytest.raises(ValidationFailed) as exc:
        services.add_product_image(p, upload=SimpleUploadedFile(name, data), by=demo["admin"])
    assert message in str(exc.value)
    assert not ProductImage.objects.exists()


def test_too_big_and_too_many_images(make_product, demo, monkeypatch):
    p = make_product()
    monkeypatch.setattr(services, "MAX_IMAGE_BYTES", 50)
    with pytest.raises(ValidationFailed, match="at most"):
        services.add_product_image(p, upload=SimpleUploadedFile("a.png", _png((64, 64))), by=demo["admin"])
    monkeypatch.setattr(services, "MAX_IMAGE_BYTES", 5 * 1024 * 1024)
    monkeypatch.setattr(services, "MAX_IMAGES", 1)
    services.add_product_image(p, upload=SimpleUploadedFile("a.png", _png()), by=demo["admin"])
    with pytest.raises(ValidationFailed, match="at most 1 images"):
        services.add_product_image(p, upload=SimpleUploadedFile("b.png", _png()), by=demo["admin"])


# --- categories -----------------------------------------------------------------------------------


def test_category_tree_rules(tree, demo, make_product):
    admin = demo["admin"]
    with pytest.raises(ValidationFailed) as exc:
        services.create_category(name="工控机", parent=tree["pc"], by=admin)
    assert exc.value.details["field"] == "name"
    services.create_category(name="工控机", parent=tree["supplies"], by=admin)  # another place: fine
    with pytest.raises(ValidationFailed) as exc:
        services.update_category(tree["pc"], parent=tree["ipc"], by=admin)
    assert exc.value.details["field"] == "parent"
    with pytest.raises(ValidationFailed):
        services.update_category(tree["pc"], parent=tree["pc"], by=admin)
    services.update_category(tree["monitors"], parent=tree["supplies"], name="显示器件", by=admin)
    tree["monitors"].refresh_from_db()
    assert tree["monitors"].parent_id == tree["supplies"].pk
    with pytest.raises(InUse) as exc:
        services.delete_category(tree["pc"], by=admin)
    assert exc.value.code == "has_children"
    p = make_product(category=tree["ipc"])
    services.archive_product(p, by=admin)
    with pytest.raises(InUse) as exc:
        services.delete_category(tree["ipc"], by=admin)
    assert exc.value.code == "has_products"
    services.delete_category(tree["monitors"], by=admin)
    assert not Category.objects.filter(pk=tree["monitors"].pk).exists()
    with pytest.raises(PermissionDeniedError):
        services.create_category(name="X", by=demo["manager"])


def test_selectors_tree_and_descendants(tree, make_product):
    from kehu.catalog.selectors import category_path, category_tree, descendant_ids

    make_product(category=tree["ipc"])
    make_product(category=tree["pc"])
    assert set(descendant_ids(tree["pc"].pk)) == {tree["pc"].pk, tree["ipc"].pk, tree["monitors"].pk}
    rows = category_tree(with_counts=True)
    assert [(c.name, d) for c, d in rows][:3] == [("电脑设备", 0), ("工控机", 1), ("显示器", 1)]
    pc = rows[0][0]
    assert (pc.product_count, pc.total_count) == (1, 2)
    assert category_path(tree["ipc"]) == "电脑设备 / 工控机"


def test_search_provider(make_product, demo):
    from kehu.core.selectors import global_search

    make_product(code="HW-1902G", name="霍尼韦尔扫码枪", spec="1902GSR", barcode="6901234500073")
    for text in ("HW-1902", "扫码枪", "1902GSR", "hnwesmq", "6901234500073"):
        sections = global_search(demo["manager"], text)
        titles = [h["title"] for s in sections for h in s["hits"]]
        assert any("HW-1902G" in t for t in titles), text
    assert not any("HW-1902G" in h["title"] for s in global_search(demo["manager"], "zzz") for h in s["hits"])
