from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import Department, LoginLog, Role, User


class RoleSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    rights = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Role
        fields = ["id", "code", "display_name", "description", "scope", "read_only", "is_builtin", "rights"]


class DepartmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Department
        fields = ["id", "code", "name", "parent", "head", "order", "archived_at"]
        read_only_fields = ["archived_at"]


class UserSerializer(serializers.ModelSerializer):
    roles = serializers.SlugRelatedField(
        slug_field="code", many=True, queryset=Role.objects.all(), required=False
    )
    password = serializers.CharField(
        write_only=True, required=False, min_length=8, help_text=_("Required when creating a user.")
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "full_name",
            "email",
            "phone",
            "department",
            "manager",
            "roles",
            "language",
            "is_active",
            "last_login",
            "date_joined",
            "password",
        ]
        read_only_fields = ["last_login", "date_joined"]

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list):
            fields["username"].read_only = True
        return fields


class MeSerializer(serializers.ModelSerializer):
    roles = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    rights = serializers.SerializerMethodField()
    data_scope = serializers.CharField(read_only=True)
    is_read_only = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "full_name",
            "email",
            "department",
            "roles",
            "rights",
            "data_scope",
            "is_read_only",
            "language",
        ]

    def get_rights(self, obj) -> list[str]:
        return sorted(obj.rights)


class LoginLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoginLog
        fields = ["id", "at", "event", "username", "user", "ip", "user_agent", "channel"]
