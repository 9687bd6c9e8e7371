from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.models import DictEntry, dict_type_choices


class DictEntryForm(forms.ModelForm):
    type = forms.ChoiceField(label=_("Type"), choices=dict_type_choices)

    class Meta:
        model = DictEntry
        fields = ["type", "code", "label_zh", "label_en", "order", "enabled"]


class NumberingRuleForm(forms.Form):
    pattern = forms.CharField(
        label=_("Pattern"),
        max_length=60,
        help_text=_("Tokens: {yyyy} {yy} {MM} {dd} {yyyyMMdd} {yyMMdd} {yyyyMM} {yyMM} and one {seq:N}."),
    )


class DictEntryChoiceField(forms.ModelChoiceField):
    """A choice from one dictionary type: enabled entries in their order, plus the current value
    when it has been disabled since (so editing an old record does not fail)."""

    def __init__(self, type_code: str, *args, **kwargs):
        self.type_code = type_code
        kwargs.setdefault("queryset", DictEntry.objects.filter(type=type_code, enabled=True))
        super().__init__(*args, **kwargs)

    def include_current(self, current: DictEntry | None) -> None:
        from django.db.models import Q

        q = Q(type=self.type_code, enabled=True)
        if current is not None:
            q |= Q(pk=current.pk)
        self.queryset = DictEntry.objects.filter(q).order_by("order", "id")

    def label_from_instance(self, obj):
        return obj.label
