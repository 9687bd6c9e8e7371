from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from kehu.core.api import ScopedMixin
from kehu.core.errors import ValidationFailed
from kehu.core.http import client_ip

from . import services
from .filters import LoginLogFilter
from .models import Department, LoginLog, Role, User
from .serializers import (
    DepartmentSerializer,
    LoginLogSerializer,
    MeSerializer,
    RoleSerializer,
    UserSerializer,
)


class TokenThrottle(AnonRateThrottle):
    scope = "token"


class ObtainTokenView(APIView):
    """Exchange a user name and password for an API token (``Authorization: Token …``)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [TokenThrottle]
    serializer_class = AuthTokenSerializer

    @extend_schema(
        request=AuthTokenSerializer,
        responses=inline_serializer("TokenResponse", {"token": serializers.CharField()}),
    )
    def post(self, request):
        ser = AuthTokenSerializer(data=request.data, context={"request": request._request})  # axes marks it
        ser.is_valid(raise_exception=True)
        user = ser.validated_data["user"]
        token, _created = Token.objects.get_or_create(user=user)
        LoginLog.objects.create(
            event=LoginLog.Event.SUCCESS,
            username=user.get_username(),
            user=user,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            channel="api",
        )
        return Response({"token": token.key})


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class UserViewSet(
    ScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Users in the caller's data scope.  Creating and changing users needs ``system.users``."""

    queryset = User.objects.prefetch_related("roles").order_by("username")
    serializer_class = UserSerializer
    required_right = "accounts.team"
    write_right = "system.users"
    filterset_fields = ["department", "is_active", "roles__code"]
    search_fields = ["username", "full_name", "phone", "email"]
    ordering_fields = ["username", "full_name", "date_joined", "last_login"]

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        if not data.get("password"):
            raise ValidationFailed(_("A password is required."), details={"password": [_("Required.")]})
        serializer.instance = services.create_user(by=self.request.user, **data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        password = data.pop("password", None)
        data.pop("username", None)
        user = services.update_user(serializer.instance, by=self.request.user, **data)
        if password:
            services.set_password(user, password=password, by=self.request.user)
        serializer.instance = user


class DepartmentViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Department.objects.active().order_by("order", "code")
    serializer_class = DepartmentSerializer
    required_right = "accounts.team"
    search_fields = ["name", "code"]
    ordering_fields = ["code", "name", "order"]


class RoleViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Role.objects.prefetch_related("rights").order_by("pk")
    serializer_class = RoleSerializer
    required_right = "system.roles"


class LoginLogViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = LoginLog.objects.all().order_by("-at")
    serializer_class = LoginLogSerializer
    required_right = "system.logs"
    filterset_class = LoginLogFilter
    ordering_fields = ["at", "username"]
