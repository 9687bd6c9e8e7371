from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Department, Right, Role, User


class UserForm(forms.ModelForm):
    password = forms.CharField(
        label=_("Password"),
        widget=forms.PasswordInput(render_value=False),
        required=False,
        help_text=_("At least 8 characters. Leave empty to keep the current password."),
    )

    class Meta:
        model = User
        fields = [
            "username",
            "full_name",
            "email",
            "phone",
            "department",
            "manager",
            "roles",
            "language",
            "is_active",
        ]
        widgets = {"roles": forms.CheckboxSelectMultiple}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.active()
        self.fields["manager"].queryset = User.objects.filter(is_active=True)
        if self.instance.pk:
            self.fields["username"].disabled = True
        else:
            self.fields["password"].required = True
            self.fields["password"].help_text = _("At least 8 characters.")


class DepartmentForm(forms.ModelForm):
    class Meta:
        model = Department
        fields = ["name", "code", "parent", "head", "order"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        qs = Department.objects.active()
        if self.instance.pk:
            qs = qs.exclude(pk=self.instance.pk)
        self.fields["parent"].queryset = qs
        self.fields["head"].queryset = User.objects.filter(is_active=True)


class RoleForm(forms.ModelForm):
    rights = forms.ModelMultipleChoiceField(
        label=_("Rights"), queryset=Right.objects.all(), required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = Role
        fields = ["code", "name", "description", "scope", "read_only"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["rights"].initial = list(self.instance.rights.all())
            if self.instance.is_builtin:
                self.fields["code"].disabled = True
