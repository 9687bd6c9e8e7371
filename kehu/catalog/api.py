"""REST API of the product centre (商品中心) under ``/api/v1/``.

* ``products/``: list (filters ``q``, ``category`` with sub-categories, ``brand``, ``tracking``,
  ``is_active``, ``code``, ``barcode``, ``archived``; ``search``, ``ordering``), retrieve, create,
  partial update; actions ``archive``, ``restore``, ``discontinue``, ``reactivate``, ``images``
  (upload), ``images/<id>`` (DELETE) and ``labels`` (POST, answers ``application/pdf``).
* ``product-categories/``: the tree, flat (``parent`` ids and ``path``); create, update, delete
  (409 ``has_children`` / ``has_products``).

Reads need ``catalog.view``; writes ``catalog.edit`` and a role that is not read-only.  Product
data has no owner: no data scope applies, an unknown id answers 404.  Every write goes through
:mod:`kehu.catalog.services`; errors use the shape ``{"code", "message", "details"}``.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from kehu.core.errors import ValidationFailed

from . import labels, services
from .api_filters import ProductFilter
from .models import Category, Product, ProductImage
from .selectors import category_paths, products
from .serializers import (
    ApiErrorSerializer,
    CategorySerializer,
    ImageUploadSerializer,
    LabelRequestSerializer,
    ProductImageSerializer,
    ProductSerializer,
)

ERR = {
    400: OpenApiResponse(ApiErrorSerializer, description=_("invalid: the input is wrong")),
    403: OpenApiResponse(
        ApiErrorSerializer, description=_("permission_denied: a right or the role is missing")
    ),
    404: OpenApiResponse(ApiErrorSerializer, description=_("not_found: unknown id")),
    409: OpenApiResponse(
        ApiErrorSerializer,
        description=_("duplicate_code, duplicate (same name and specification), in_use, …"),
    ),
}


class CanView(BasePermission):
    """For POSTs that change nothing (printing labels): ``catalog.view`` is enough, read-only roles too."""

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.has_right(services.VIEW))


class CatalogApiBase(viewsets.GenericViewSet):
    required_right = services.VIEW
    write_right = services.EDIT

    def _fake(self) -> bool:
        return getattr(self, "swagger_fake_view", False)

    def get_serializer_context(self):
        ctx = super().get_serializer_context()
        if not self._fake():
            ctx["category_paths"] = category_paths()
        return ctx


@extend_schema_view(
    list=extend_schema(summary=_("Products (archived ones only with ?archived=true)")),
    create=extend_schema(
        summary=_("Create a product"),
        description=_(
            "A taken code answers 409 duplicate_code. The same name and specification as another product "
            "answers 409 duplicate with the matches in details.duplicates; send it again with "
            "confirm_duplicate=true to save it anyway."
        ),
        responses={201: ProductSerializer, **ERR},
    ),
    partial_update=extend_schema(responses={200: ProductSerializer, **ERR}),
)
class ProductViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    CatalogApiBase,
):
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    search_fields = ["code", "name", "spec", "brand", "barcode", "pinyin"]
    ordering_fields = ["code", "name", "brand", "list_price", "created_at", "updated_at"]
    ordering = ["code"]
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self):
        if self._fake():
            return Product.objects.none()
        return products().prefetch_related("images")

    def filter_queryset(self, queryset):
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def _respond(self, product, code=status.HTTP_200_OK):
        fresh = self.get_queryset().get(pk=product.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        confirm = data.pop("confirm_duplicate", False)
        serializer.instance = services.create_product(by=self.request.user, confirm_duplicate=confirm, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        confirm = data.pop("confirm_duplicate", False)
        product = services.update_product(
            serializer.instance, by=self.request.user, confirm_duplicate=confirm, **data
        )
        serializer.instance = self.get_queryset().get(pk=product.pk)

    def destroy(self, request, *args, **kwargs):
        return Response(
            {
                "code": "method_not_allowed",
                "message": str(_("Products are archived, not deleted.")),
                "details": {},
            },
            status=status.HTTP_405_METHOD_NOT_ALLOWED,
        )

    @extend_schema(summary=_("Archive the product"), request=None, responses={200: ProductSerializer, **ERR})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self._respond(services.archive_product(self.get_object(), by=request.user))

    @extend_schema(
        summary=_("Restore an archived product"), request=None, responses={200: ProductSerializer, **ERR}
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        return self._respond(services.restore_product(self.get_object(), by=request.user))

    @extend_schema(
        summary=_("Discontinue the product (停售)"), request=None, responses={200: ProductSerializer, **ERR}
    )
    @action(detail=True, methods=["post"])
    def discontinue(self, request, pk=None):
        return self._respond(services.discontinue_product(self.get_object(), by=request.user))

    @extend_schema(
        summary=_("Put the product on sale again"), request=None, responses={200: ProductSerializer, **ERR}
    )
    @action(detail=True, methods=["post"])
    def reactivate(self, request, pk=None):
        return self._respond(services.reactivate_product(self.get_object(), by=request.user))

    @extend_schema(
        summary=_("Upload an image (JPEG, PNG, GIF or WebP, at most 5 MB)"),
        request={"multipart/form-data": ImageUploadSerializer},
        responses={201: ProductImageSerializer, **ERR},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def images(self, request, pk=None):
        product = self.get_object()
        upload = request.FILES.get("image")
        if upload is None:
            raise ValidationFailed(_("Send the image as the form field “image”."), details={"field": "image"})
        image = services.add_product_image(product, upload=upload, by=request.user)
        return Response(ProductImageSerializer(image, context=self.get_serializer_context()).data, status=201)

    @extend_schema(summary=_("Remove an image"), request=None, responses={204: None, **ERR})
    @action(detail=True, methods=["delete"], url_path=r"images/(?P<image_id>\d+)")
    def remove_image(self, request, pk=None, image_id=None):
        product = self.get_object()
        image = ProductImage.objects.filter(pk=image_id, product=product).first()
        if image is None:
            from django.http import Http404

            raise Http404
        services.remove_product_image(image, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary=_("Labels of products as a PDF"),
        description=_("Layouts: %(layouts)s. Symbology: both, code128 or qr.")
        % {"layouts": ", ".join(labels.LAYOUTS)},
        request=LabelRequestSerializer,
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **ERR},
    )
    @action(detail=False, methods=["post"], permission_classes=[CanView])
    def labels(self, request):
        ser = LabelRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = ser.validated_data
        ids = list(dict.fromkeys(data["ids"]))
        found = {p.pk: p for p in Product.objects.filter(pk__in=ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            from django.http import Http404

            raise Http404
        pdf = labels.labels_pdf(
            labels.product_label_items([found[i] for i in ids]),
            layout=data["layout"],
            copies=data["copies"],
            symbology=data["symbology"],
            skip=data["skip"],
            title=str(_("Product labels")),
        )
        resp = HttpResponse(pdf, content_type="application/pdf")
        resp["Content-Disposition"] = f'attachment; filename="labels-{timezone.localtime():%Y%m%d-%H%M}.pdf"'
        return resp


@extend_schema_view(
    create=extend_schema(responses={201: CategorySerializer, **ERR}),
    partial_update=extend_schema(responses={200: CategorySerializer, **ERR}),
    destroy=extend_schema(responses={204: None, **ERR}),
)
class CategoryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    CatalogApiBase,
):
    """Product categories (商品分类), a tree: ``parent`` is the id of the parent category."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    serializer_class = CategorySerializer
    pagination_class = None
    queryset = Category.objects.all()

    def get_queryset(self):
        from django.db.models import Count, Q

        return Category.objects.annotate(
            product_count=Count("products", filter=Q(products__archived_at__isnull=True))
        ).order_by("order", "name", "pk")

    def perform_create(self, serializer):
        d = serializer.validated_data
        serializer.instance = services.create_category(
            name=d.get("name", ""), parent=d.get("parent"), order=d.get("order", 100), by=self.request.user
        )

    def perform_update(self, serializer):
        c = services.update_category(serializer.instance, by=self.request.user, **serializer.validated_data)
        serializer.instance = self.get_queryset().get(pk=c.pk)

    def perform_destroy(self, instance):
        services.delete_category(instance, by=self.request.user)
