from datetime import timedelta

from django import forms
from django.utils import timezone

from tickstock_ops import silences

# The silence popover's presets (hours); any end can also be typed.
DURATION_PRESETS = [(1, "1 h"), (2, "2 h"), (4, "4 h"), (8, "8 h"), (24, "1 day"), (72, "3 days"), (168, "1 week")]


class SilenceForm(forms.Form):
    """A silence as an operator types it: matchers as text, a duration or an end (in the user's clock), a comment."""

    matchers = forms.CharField(max_length=1000, widget=forms.TextInput(attrs={
        "placeholder": "type=volume_spike, source=feed-b", "autocomplete": "off", "spellcheck": "false"}))
    hours = forms.FloatField(required=False, min_value=0.01, max_value=24 * 365, label="for (hours)")
    ends_at = forms.DateTimeField(required=False, label="or until", widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    starts_at = forms.DateTimeField(required=False, label="starts", widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    comment = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"placeholder": "why, e.g. vendor "
                                                                                           "re-sending the day"}))

    def clean(self):
        data = super().clean()
        if "matchers" in data:
            try:
                silences.parse_matchers(data["matchers"])
            except silences.SilenceError as error:
                self.add_error("matchers", str(error))
        starts = data.get("starts_at") or timezone.now()
        if data.get("hours"):
            data["ends_at"] = starts + timedelta(hours=data["hours"])
        elif not data.get("ends_at"):
            raise forms.ValidationError("give a duration or an end time")
        return data

    def save(self, actor, silence=None):
        data = self.cleaned_data
        fields = {"matchers": data["matchers"], "ends_at": data["ends_at"], "comment": data["comment"],
                  "actor": actor, "starts_at": data.get("starts_at")}
        return silences.update(silence, **fields) if silence else silences.create(**fields)
