"""API shapes of the inventory resources.  Writes are validated by the services; the serializers only
parse.  Quantities and money are decimal strings."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from kehu.catalog.models import Category, Product

from .models import (
    ISSUE_REASONS,
    RECEIPT_REASONS,
    SERIAL_CARD_FIELDS,
    Reason,
    SafetyStock,
    SerialEvent,
    SerialUnit,
    StockBalance,
    StockMove,
    StockNote,
    StockNoteLine,
    Stocktake,
    StocktakeLine,
    Transfer,
    TransferLine,
    Warehouse,
)

QTY = {"max_digits": 18, "decimal_places": 4}


class HidesCost:
    """Leaves out ``cost_fields`` for a user without the right to see stock costs and values
    (``inventory.cost``), as the pages do."""

    cost_fields: tuple[str, ...] = ()

    def to_representation(self, instance):
        data = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not request.user.has_right("inventory.cost"):
            for f in self.cost_fields:
                data.pop(f, None)
        return data


class WarehouseSerializer(serializers.ModelSerializer):
    keeper = serializers.SlugRelatedField(slug_field="username", read_only=True)
    keeper_id = serializers.IntegerField(required=False, allow_null=True, write_only=True)

    class Meta:
        model = Warehouse
        fields = [
            "id",
            "code",
            "name",
            "address",
            "keeper",
            "keeper_id",
            "notes",
            "archived_at",
            "created_at",
        ]
        read_only_fields = ["archived_at", "created_at"]
        extra_kwargs = {"code": {"validators": []}}


class ProductRef(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["id", "code", "name", "spec", "tracking"]


class WarehouseRef(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["id", "code", "name"]


class BalanceSerializer(HidesCost, serializers.ModelSerializer):
    cost_fields = ("value",)
    product = ProductRef(read_only=True)
    warehouse = WarehouseRef(read_only=True)
    available = serializers.DecimalField(read_only=True, **QTY)

    class Meta:
        model = StockBalance
        fields = [
            "id",
            "product",
            "warehouse",
            "batch",
            "quantity",
            "reserved",
            "available",
            "value",
            "updated_at",
        ]


class MoveSerializer(HidesCost, serializers.ModelSerializer):
    cost_fields = ("unit_cost", "amount")
    product = ProductRef(read_only=True)
    warehouse = WarehouseRef(read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    customer = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = StockMove
        fields = [
            "id",
            "created_at",
            "product",
            "warehouse",
            "batch",
            "quantity",
            "unit_cost",
            "amount",
            "balance_after",
            "reason",
            "is_reversal",
            "doc_type",
            "doc_id",
            "doc_number",
            "customer",
            "user",
        ]


class LineInSerializer(serializers.Serializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    quantity = serializers.CharField(
        help_text=_("Positive, with no more decimals than the product's unit allows.")
    )
    batch = serializers.CharField(required=False, allow_blank=True, default="")
    unit_cost = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None)
    production_date = serializers.DateField(required=False, allow_null=True, default=None)
    production_line = serializers.CharField(required=False, allow_blank=True, default="")
    serials = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text=_("Serial numbers, exactly one per unit for serial-tracked products."),
    )

    def to_internal_value(self, data):
        v = super().to_internal_value(data)
        v["serials"] = "\n".join(v["serials"])
        return v


class NoteLineSerializer(HidesCost, serializers.ModelSerializer):
    cost_fields = ("unit_cost",)
    product = ProductRef(read_only=True)
    serials = serializers.SerializerMethodField()

    class Meta:
        model = StockNoteLine
        fields = [
            "id",
            "product",
            "batch",
            "quantity",
            "unit_cost",
            "production_date",
            "production_line",
            "serials",
        ]

    def get_serials(self, obj) -> list[str]:
        return obj.serial_list


class NoteSerializer(serializers.ModelSerializer):
    lines = NoteLineSerializer(many=True, read_only=True)
    warehouse = WarehouseRef(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    posted_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = StockNote
        fields = [
            "id",
            "kind",
            "number",
            "status",
            "warehouse",
            "reason",
            "partner",
            "customer",
            "notes",
            "reverses",
            "created_by",
            "created_at",
            "posted_by",
            "posted_at",
            "lines",
        ]
        read_only_fields = fields


class NoteWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=StockNote.Kind.choices, required=False)
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    reason = serializers.ChoiceField(choices=[r.value for r in RECEIPT_REASONS + ISSUE_REASONS])
    partner = serializers.CharField(required=False, allow_blank=True, default="")
    customer = serializers.IntegerField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    lines = LineInSerializer(many=True)
    post = serializers.BooleanField(
        required=False, default=False, help_text=_("Post at once (all or nothing).")
    )


class TransferLineSerializer(serializers.ModelSerializer):
    product = ProductRef(read_only=True)
    serials = serializers.SerializerMethodField()

    class Meta:
        model = TransferLine
        fields = ["id", "product", "batch", "quantity", "serials"]

    def get_serials(self, obj) -> list[str]:
        return obj.serial_list


class TransferSerializer(serializers.ModelSerializer):
    lines = TransferLineSerializer(many=True, read_only=True)
    from_warehouse = WarehouseRef(read_only=True)
    to_warehouse = WarehouseRef(read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "number",
            "status",
            "from_warehouse",
            "to_warehouse",
            "notes",
            "created_by",
            "created_at",
            "posted_at",
            "lines",
        ]
        read_only_fields = fields


class TransferWriteSerializer(serializers.Serializer):
    from_warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    to_warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    lines = LineInSerializer(many=True)
    post = serializers.BooleanField(required=False, default=False)


class StocktakeLineSerializer(serializers.ModelSerializer):
    product = ProductRef(read_only=True)
    expected = serializers.DecimalField(read_only=True, **QTY)
    variance = serializers.DecimalField(read_only=True, allow_null=True, **QTY)

    class Meta:
        model = StocktakeLine
        fields = [
            "id",
            "product",
            "batch",
            "book_quantity",
            "moved_quantity",
            "expected",
            "counted_quantity",
            "variance",
            "counted_at",
        ]


class StocktakeSerializer(serializers.ModelSerializer):
    lines = StocktakeLineSerializer(many=True, read_only=True)
    warehouse = WarehouseRef(read_only=True)
    serials_in_book = serializers.SerializerMethodField()
    serials_counted = serializers.SerializerMethodField()

    class Meta:
        model = Stocktake
        fields = [
            "id",
            "number",
            "status",
            "warehouse",
            "category",
            "frozen_at",
            "notes",
            "posted_at",
            "lines",
            "serials_in_book",
            "serials_counted",
        ]
        read_only_fields = fields

    def get_serials_in_book(self, obj) -> int:
        return obj.serials.filter(in_book=True).count()

    def get_serials_counted(self, obj) -> int:
        return obj.serials.filter(counted=True).count()


class StocktakeStartSerializer(serializers.Serializer):
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())
    category = serializers.PrimaryKeyRelatedField(
        queryset=Category.objects.all(), required=False, allow_null=True
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class CountSerializer(serializers.Serializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    batch = serializers.CharField(required=False, allow_blank=True, default="")
    quantity = serializers.CharField()


class CountsSerializer(serializers.Serializer):
    counts = CountSerializer(many=True, required=False, default=list)
    serials = serializers.ListField(child=serializers.CharField(), required=False, default=list)


class SerialEventSerializer(serializers.ModelSerializer):
    warehouse = WarehouseRef(read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = SerialEvent
        fields = [
            "id",
            "at",
            "kind",
            "status",
            "warehouse",
            "customer",
            "doc_type",
            "doc_id",
            "doc_number",
            "note",
            "user",
        ]


class SerialUnitSerializer(serializers.ModelSerializer):
    product = ProductRef(read_only=True)
    warehouse = WarehouseRef(read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True, default=None)

    class Meta:
        model = SerialUnit
        fields = ["id", "product", "warehouse", "customer", "customer_name", *SERIAL_CARD_FIELDS]


class SafetyStockSerializer(serializers.ModelSerializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    warehouse = serializers.PrimaryKeyRelatedField(queryset=Warehouse.objects.all())

    class Meta:
        model = SafetyStock
        fields = ["id", "product", "warehouse", "minimum", "maximum"]
        validators = []


class AlertSerializer(serializers.Serializer):
    product = ProductRef()
    warehouse = WarehouseRef()
    quantity = serializers.DecimalField(**QTY)
    minimum = serializers.DecimalField(**QTY)
    shortage = serializers.DecimalField(**QTY)
    suggested = serializers.DecimalField(**QTY)


class MonthlyRowSerializer(HidesCost, serializers.Serializer):
    cost_fields = ("opening_value", "received_value", "issued_value", "closing_value")
    product = ProductRef()
    warehouse = WarehouseRef()
    opening = serializers.DecimalField(**QTY)
    received = serializers.DecimalField(**QTY)
    issued = serializers.DecimalField(**QTY)
    closing = serializers.DecimalField(**QTY)
    opening_value = serializers.DecimalField(max_digits=18, decimal_places=2)
    received_value = serializers.DecimalField(max_digits=18, decimal_places=2)
    issued_value = serializers.DecimalField(max_digits=18, decimal_places=2)
    closing_value = serializers.DecimalField(max_digits=18, decimal_places=2)


class RecallUnitSerializer(SerialUnitSerializer):
    delivery_number = serializers.CharField(read_only=True, allow_null=True)

    class Meta(SerialUnitSerializer.Meta):
        fields = SerialUnitSerializer.Meta.fields + ["delivery_number"]


class SerialCheckSerializer(serializers.Serializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    serial = serializers.CharField()
    mode = serializers.ChoiceField(choices=["in", "out", "transfer"], default="in")
    reason = serializers.ChoiceField(choices=Reason.choices, required=False)
    warehouse = serializers.IntegerField(required=False, allow_null=True)
