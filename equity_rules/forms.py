"""The admin's rules form: a JSON editor per rules field, strict parsing, and the version the edit is based on."""

import json

from django import forms
from django.core.exceptions import ValidationError

from equity_rules import schemas
from equity_rules.models import EquityType, Security, stale_message


class JSONEditor(forms.Textarea):
    """A monospace textarea holding pretty-printed JSON, checked as you type (static/equity_rules/json_editor.js)."""

    def __init__(self, attrs=None):
        super().__init__({"class": "json-editor", "rows": 14, "cols": 90, "spellcheck": "false", **(attrs or {})})

    class Media:
        css = {"all": ["equity_rules/json_editor.css"]}
        js = ["equity_rules/json_editor.js"]


class StrictJSONField(forms.JSONField):
    """JSON as the standard defines it: no NaN/Infinity, no key given twice; errors say where."""

    widget = JSONEditor

    def to_python(self, value):
        if self.disabled or value in self.empty_values:
            return super().to_python(value)
        if isinstance(value, (dict, list, int, float)):
            return value
        try:
            return schemas.strict_loads(value)
        except json.JSONDecodeError as error:
            raise ValidationError(f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}",
                                  code="invalid") from None
        except ValueError as error:
            raise ValidationError(f"invalid JSON: {error}", code="invalid") from None

    def bound_data(self, data, initial):
        if self.disabled:
            return initial
        try:
            return schemas.strict_loads(data)
        except ValueError:
            return forms.fields.InvalidJSONInput(data)

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class EquityTypeForm(forms.ModelForm):
    based_on_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    change_reason = forms.CharField(required=False, max_length=100, label="Why",
                                    help_text="Kept in the history and sent with the rules_updated event.")

    class Meta:
        model = EquityType
        fields = ["equity_type", "name", "priority_level", "processing_rules", "retry_config", "performance_targets"]
        field_classes = {"processing_rules": StrictJSONField, "retry_config": StrictJSONField,
                         "performance_targets": StrictJSONField}
        help_texts = {
            "processing_rules": "Keys: data_sources, update_frequency (" + ", ".join(schemas.UPDATE_FREQUENCIES)
                                + "), validation_rules, enrichment, quality, queue_limit.",
            "retry_config": "max_retries, backoff_multiplier, base_delay_seconds, max_delay_seconds, jitter (0–1).",
            "performance_targets": "processing_time_ms (judged on the p95), success_rate (percent).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["based_on_version"].initial = self.instance.version
            self.fields["equity_type"].disabled = True

    def changes_rules(self) -> bool:
        return bool(set(self.changed_data) - {"change_reason", "based_on_version"})

    def clean(self):
        cleaned = super().clean()
        based_on = cleaned.get("based_on_version")
        if self.instance.pk:
            current = EquityType.objects.filter(pk=self.instance.pk).values_list("version", flat=True).first()
            if based_on is None:
                raise ValidationError("The form did not say which version it edits; reload the page.")
            if current != based_on:
                raise ValidationError(stale_message(self.instance.pk, based_on))
            self.instance.version = based_on
        return cleaned


class SecurityForm(forms.ModelForm):
    class Meta:
        model = Security
        fields = ["symbol", "name", "equity_type", "exchange", "sector", "aum", "expense_ratio", "nav", "last_close",
                  "average_volume", "shares_outstanding", "dividend_per_share", "sector_weights", "listing_date",
                  "is_active"]
        field_classes = {"sector_weights": StrictJSONField}
        widgets = {"sector_weights": JSONEditor(attrs={"rows": 6})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sector_weights"].required = False
