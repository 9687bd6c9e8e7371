"""Serializers of the product API (``/api/v1/products/``, ``/api/v1/product-categories/``).

The unit is written and read as its dictionary code (``"unit": "set"``) with a read-only
``unit_detail`` ``{"code", "label"}``; the category by id, with a read-only ``category_path``.
Amounts are decimal strings.  The serializers only parse and render: every write goes through
:mod:`kehu.catalog.services`, which checks the rules (unique code, ranges, the duplicate warning).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from kehu.customers.serializers import ApiErrorSerializer, DictCodeField, dict_detail

from . import labels
from .models import Category, Product, ProductImage

__all__ = ["ApiErrorSerializer"]


class ProductImageSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = ProductImage
        fields = ["id", "order", "uploaded_at", "url"]

    def get_url(self, obj) -> str:
        from django.urls import reverse

        request = self.context.get("request")
        path = reverse("catalog:image", args=[obj.pk])
        return request.build_absolute_uri(path) if request else path


class ProductSerializer(serializers.ModelSerializer):
    """A product.  ``confirm_duplicate`` (write only): save even when another product has the same
    name and specification (otherwise 409 ``duplicate`` with the matches in ``details``)."""

    code = serializers.CharField(max_length=40)
    name = serializers.CharField(max_length=120)
    spec = serializers.CharField(max_length=120, required=False, allow_blank=True)
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    category_path = serializers.SerializerMethodField()
    brand = serializers.CharField(max_length=60, required=False, allow_blank=True)
    unit = DictCodeField("unit", required=False, allow_null=True)
    unit_detail = dict_detail("unit")
    quantity_decimals = serializers.IntegerField(required=False)
    list_price = serializers.DecimalField(max_digits=18, decimal_places=4, required=False)
    standard_cost = serializers.DecimalField(max_digits=18, decimal_places=4, required=False)
    tax_rate = serializers.DecimalField(max_digits=10, decimal_places=4, required=False)
    barcode = serializers.CharField(max_length=64, required=False, allow_blank=True)
    tracking = serializers.ChoiceField(choices=Product.Tracking.choices, required=False)
    tracking_label = serializers.CharField(source="get_tracking_display", read_only=True)
    serial_prefix = serializers.CharField(max_length=20, required=False, allow_blank=True)
    warranty_months = serializers.IntegerField(required=False)
    is_active = serializers.BooleanField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True)
    archived = serializers.SerializerMethodField()
    images = ProductImageSerializer(many=True, read_only=True)
    confirm_duplicate = serializers.BooleanField(write_only=True, required=False, default=False)

    class Meta:
        model = Product
        fields = [
            "id",
            "code",
            "name",
            "spec",
            "category",
            "category_path",
            "brand",
            "unit",
            "unit_detail",
            "quantity_decimals",
            "list_price",
            "standard_cost",
            "tax_rate",
            "barcode",
            "tracking",
            "tracking_label",
            "serial_prefix",
            "warranty_months",
            "is_active",
            "avg_cost",
            "notes",
            "pinyin",
            "archived",
            "archived_at",
            "images",
            "created_at",
            "updated_at",
            "confirm_duplicate",
        ]
        read_only_fields = ["avg_cost", "pinyin", "archived_at", "created_at", "updated_at"]
        validators: list = []

    def get_category_path(self, obj) -> str:
        paths = self.context.get("category_paths")
        if paths is None:
            from .selectors import category_paths

            paths = self.context["category_paths"] = category_paths()
        return paths.get(obj.category_id, "") if obj.category_id else ""

    def get_archived(self, obj) -> bool:
        return obj.archived_at is not None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for key in ("list_price", "standard_cost", "tax_rate"):
            value = getattr(instance, key)
            data[key] = f"{value:.2f}" if value is not None else None
        return data


class CategorySerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    path = serializers.SerializerMethodField()
    product_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "order", "path", "product_count"]
        validators: list = []

    def get_path(self, obj) -> str:
        paths = self.context.get("category_paths")
        if paths is None:
            from .selectors import category_paths

            paths = self.context["category_paths"] = category_paths()
        return paths.get(obj.pk, obj.name)


class LabelRequestSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(), min_length=1, max_length=500, help_text=_("Product ids")
    )
    layout = serializers.ChoiceField(choices=list(labels.LAYOUTS), default=labels.DEFAULT_LAYOUT)
    symbology = serializers.ChoiceField(choices=list(labels.SYMBOLOGIES), default="both")
    copies = serializers.IntegerField(default=1)
    skip = serializers.IntegerField(default=0)


class ImageUploadSerializer(serializers.Serializer):
    image = serializers.FileField()
