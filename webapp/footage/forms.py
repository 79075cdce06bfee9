"""Input checks for footage edits. The recording start arrives as a local date and time plus the IANA time
zone they are in (the browser's, shown next to the fields), and leaves as an aware UTC datetime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import forms
from django.utils import timezone

_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


class VideoDetailsForm(forms.Form):
    """Camera label and recording start of one video. Only the fields present in the request change:
    ``camera_label`` (empty clears it), and ``recording_date`` with ``recording_time`` (both empty clear
    the start; both given set it, and then ``timezone`` says which zone they are in)."""

    camera_label = forms.CharField(max_length=200, required=False, strip=True)
    recording_date = forms.DateField(required=False, input_formats=["%Y-%m-%d"])
    recording_time = forms.TimeField(required=False, input_formats=["%H:%M:%S.%f", "%H:%M:%S", "%H:%M"])
    timezone = forms.CharField(max_length=64, required=False, strip=True)

    def __init__(self, data: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        self.sets_label = "camera_label" in data
        self.sets_start = "recording_date" in data or "recording_time" in data

    def clean_timezone(self) -> ZoneInfo | None:
        name = self.cleaned_data["timezone"]
        if not name:
            return None
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise forms.ValidationError(f"Unknown time zone {name!r}: choose one from the list.") from exc

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.sets_start or self.errors:
            return cleaned
        day, clock = cleaned.get("recording_date"), cleaned.get("recording_time")
        zone = cleaned.get("timezone")
        if day is None and clock is None:
            cleaned["recording_started_at"] = None
            return cleaned
        if day is None or clock is None:
            raise forms.ValidationError(
                "Give both the date and the time of the recording start, or leave both empty to clear it."
            )
        if zone is None:
            raise forms.ValidationError("Say which time zone the recording start is in.")
        local = datetime.combine(day, clock)
        start = local.replace(tzinfo=zone)
        # Around a daylight-saving change a local time may not exist (clocks went forward) or exist twice
        # (clocks went back): refuse rather than guess an hour.
        if start.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
            raise forms.ValidationError(
                f"{local:%Y-%m-%d %H:%M:%S} does not exist in {zone.key} (the clocks went forward): "
                "check the time, or enter it in UTC."
            )
        if start.utcoffset() != local.replace(tzinfo=zone, fold=1).utcoffset():
            raise forms.ValidationError(
                f"{local:%Y-%m-%d %H:%M:%S} happens twice in {zone.key} (the clocks went back): "
                "enter the time in UTC instead."
            )
        start = start.astimezone(UTC)
        if start < _EARLIEST or start > timezone.now() + timedelta(days=1):
            raise forms.ValidationError("The recording start must lie between 1970 and today.")
        cleaned["recording_started_at"] = start
        cleaned["entered_as"] = f"{local.isoformat(sep=' ')} {zone.key}"
        return cleaned

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            label = {"camera_label": "Camera label", "recording_date": "Date", "recording_time": "Time"}.get(
                field, ""
            )
            return f"{label}: {errors[0]}" if label else str(errors[0])
        return "The details are not valid."
