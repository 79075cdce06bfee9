from django import forms

from webapp.cases.models import Case


class CaseForm(forms.ModelForm[Case]):
    class Meta:
        model = Case
        fields = ("title", "description")
        widgets = {  # noqa: RUF012 - Django reads Meta attributes once; never mutated
            "title": forms.TextInput(
                attrs={"autofocus": True, "placeholder": "e.g. Missing person, Central Station"}
            ),
            "description": forms.Textarea(
                attrs={"rows": 4, "placeholder": "What the case is about (optional)"}
            ),
        }
