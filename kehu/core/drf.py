"""Pagination and permissions that DRF settings name (kept apart from views to avoid import cycles)."""

from rest_framework import permissions
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 200


class HasRights(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        if not user or not user.is_authenticated:
            return False
        if not user.has_right(getattr(view, "required_right", None)):
            return False
        if request.method not in permissions.SAFE_METHODS:
            if user.is_read_only:
                return False
            return user.has_right(getattr(view, "write_right", None) or getattr(view, "required_right", None))
        return True
