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
