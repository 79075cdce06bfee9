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


MEMBER_ROLES = (
    ("viewer", "Viewer: sees footage and results (read only)"),
    ("editor", "Editor: also uploads and exports"),
)
LINK_LIFETIMES = (("1", "1 day"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"))


class InviteForm(forms.Form):
    identifier = forms.CharField(max_length=254, label="Username or email")
    role = forms.ChoiceField(choices=MEMBER_ROLES)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=MEMBER_ROLES)


class ShareLinkForm(forms.Form):
    role = forms.ChoiceField(choices=MEMBER_ROLES)
    days = forms.TypedChoiceField(choices=LINK_LIFETIMES, coerce=int, initial="7", label="Expires after")
    label = forms.CharField(max_length=200, required=False, label="Note (who it is for)")


class TransferForm(forms.Form):
    user_id = forms.IntegerField(min_value=1)
