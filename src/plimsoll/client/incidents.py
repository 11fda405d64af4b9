"""`client.alerts` and `client.incidents`: alerts, silences, inhibition rules and incidents,
embedded or remote (docs/alerts.md).

alerts = client.alerts
alerts.list(state="firing")                          # a project's alerts, as shown now
alerts.get(alert_id).history                         # every transition of every firing
alerts.silence(["model=churn", "alertname=~drift.*"], hours=2, comment="backfill running")
alerts.expire_silence(silence.id)
alerts.inhibit(["alertname=no_data"], ["severity=warning"], equal=["monitor"])

incidents = client.incidents
incident = incidents.list(state="unresolved")[0]
incidents.acknowledge(incident.id, comment="looking")
incidents.note(incident.id, "the upstream feed sent nulls since 02:00")
incidents.resolve(incident.id, comment="feed fixed, backfilled")
incidents.timeline(incident.id).entries

Matchers are texts (`model=churn`, `model!=churn`, `alertname=~drift.*`, `alertname!~drift.*`)
or `{"name", "op", "value"}` objects. `platform=True` reaches the platform's own alerts,
silences and incidents (site admins).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_id, printable
from plimsoll.incidents.entities import Alert, Incident, Note, Silence, Timeline
from plimsoll.incidents.matchers import Inhibition, Matcher, parse_matcher

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport


class _Remote:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    @property
    def _local(self) -> bool:
        return hasattr(self._transport, "platform")

    def _call(self, method: str, *args: Any, actor: bool = False, **kwargs: Any) -> Any:
        """A service call in this process (as the client's user for a change)."""
        service = self._transport.platform.incidents  # type: ignore[attr-defined]
        if actor:
            kwargs["actor"] = self._transport.actor  # type: ignore[attr-defined]
        return getattr(service, method)(*args, **kwargs)

    def _http(self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None) -> Any:
        send = self._transport._json  # type: ignore[attr-defined]
        options: dict[str, Any] = {"retry": method == "GET"}
        if params is not None:
            options["params"] = {k: v for k, v in params.items() if v is not None}
        if body is not None or method == "POST":
            options["body"] = body if body is not None else {}
        return send(method, path, **options)


def _scope(project: str, platform: bool) -> dict[str, Any]:
    return {"platform": "true"} if platform else {"project": project}


def _matchers(field: str, matchers: Any) -> builtins.list[dict[str, str]]:
    """Texts or objects as the API's objects (parsed here, so that a bad one is refused alike
    embedded and remote)."""
    if isinstance(matchers, str) or not isinstance(matchers, Sequence):
        raise InvalidParameter(
            field, f"must be a list of matchers such as ['model=churn'], got {printable(matchers)!r}"
        )
    return [parse_matcher(f"{field}[{i}]", m).to_dict() for i, m in enumerate(matchers)]


def _duration(hours: float | None, seconds: int | None) -> int:
    if (hours is None) == (seconds is None):
        raise InvalidParameter("hours", "give the silence's length: hours=... or seconds=... (one of them)")
    if seconds is not None:
        return seconds
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not hours > 0:
        raise InvalidParameter("hours", f"must be a positive number of hours, got {printable(hours)!r}")
    return round(hours * 3600)


class Alerts(_Remote):
    def __repr__(self) -> str:
        return f"<plimsoll alerts of {self._transport.destination}>"

    def list(
        self,
        *,
        state: str | None = None,
        model: str | None = None,
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        """A project's alerts (the platform's own with `platform=True`), the most recently changed
        first; `state` pending, firing, resolved or inactive (None: all but inactive)."""
        if self._local:
            found = self._call(
                "list_alerts", project=project, platform=platform, state=state, model=model, limit=limit
            )
            return builtins.list(found)
        params = {**_scope(project, platform), "state": state, "model": model, "limit": limit}
        return [Alert.from_dict(a) for a in self._http("GET", "/alerts", params=params)["alerts"]]

    def get(self, alert_id: str) -> Alert:
        check_id("alert_id", alert_id)
        if self._local:
            return self._call("get_alert", alert_id)  # type: ignore[no-any-return]
        return Alert.from_dict(self._http("GET", f"/alerts/{alert_id}"))

    def resolve(self, alert_id: str, *, comment: str = "") -> Alert:
        """End a platform alert's firing by hand (a monitor's alert ends when its rule holds)."""
        check_id("alert_id", alert_id)
        if self._local:
            return self._call("resolve_alert", alert_id, comment=comment, actor=True)  # type: ignore[no-any-return]
        return Alert.from_dict(self._http("POST", f"/alerts/{alert_id}/resolve", {"comment": comment}))

    # -- silences ----------------------------------------------------------------------------------

    def silence(
        self,
        matchers: Sequence[str | dict[str, str] | Matcher],
        *,
        comment: str,
        hours: float | None = None,
        seconds: int | None = None,
        starts_in_s: int = 0,
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
    ) -> Silence:
        """Hold back the announcements of the alerts `matchers` match, for `hours` (or `seconds`)."""
        found = _matchers("matchers", matchers)
        duration = _duration(hours, seconds)
        if self._local:
            silence: Silence = self._call(
                "create_silence",
                found,
                duration_s=duration,
                starts_in_s=starts_in_s,
                comment=comment,
                project=project,
                platform=platform,
                actor=True,
            )
            return silence
        body = {
            "project": project,
            "platform": platform,
            "matchers": found,
            "duration_s": duration,
            "starts_in_s": starts_in_s,
            "comment": comment,
        }
        return Silence.from_dict(self._http("POST", "/silences", body))

    def silences(
        self,
        *,
        state: str | None = None,
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
        limit: int = 100,
    ) -> builtins.list[Silence]:
        """A scope's silences, the newest first; `state` pending, active or expired."""
        if self._local:
            return builtins.list(
                self._call("list_silences", project=project, platform=platform, state=state, limit=limit)
            )
        params = {**_scope(project, platform), "state": state, "limit": limit}
        return [Silence.from_dict(s) for s in self._http("GET", "/silences", params=params)["silences"]]

    def expire_silence(self, silence_id: str) -> Silence:
        check_id("silence_id", silence_id)
        if self._local:
            return self._call("expire_silence", silence_id, actor=True)  # type: ignore[no-any-return]
        return Silence.from_dict(self._http("POST", f"/silences/{silence_id}/expire"))

    # -- inhibition rules --------------------------------------------------------------------------

    def inhibit(
        self,
        source: Sequence[str | dict[str, str] | Matcher],
        target: Sequence[str | dict[str, str] | Matcher],
        *,
        equal: Sequence[str] = (),
        comment: str = "",
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
    ) -> Inhibition:
        """While an alert matching `source` fires, don't announce those matching `target` that
        share its `equal` labels (project admins)."""
        sources, targets = _matchers("source", source), _matchers("target", target)
        if self._local:
            return self._call(  # type: ignore[no-any-return]
                "create_inhibition",
                sources,
                targets,
                equal=builtins.list(equal),
                comment=comment,
                project=project,
                platform=platform,
                actor=True,
            )
        body = {
            "project": project,
            "platform": platform,
            "source": sources,
            "target": targets,
            "equal": builtins.list(equal),
            "comment": comment,
        }
        return Inhibition.from_dict(self._http("POST", "/inhibitions", body))

    def inhibitions(
        self, *, project: str = DEFAULT_PROJECT, platform: bool = False
    ) -> builtins.list[Inhibition]:
        """The built-in rule (`default`), then the scope's own."""
        if self._local:
            return builtins.list(self._call("list_inhibitions", project=project, platform=platform))
        params = _scope(project, platform)
        return [
            Inhibition.from_dict(r) for r in self._http("GET", "/inhibitions", params=params)["inhibitions"]
        ]

    def delete_inhibition(self, inhibition_id: str) -> Inhibition:
        if inhibition_id != "default":
            check_id("inhibition_id", inhibition_id)
        if self._local:
            return self._call("delete_inhibition", inhibition_id, actor=True)  # type: ignore[no-any-return]
        return Inhibition.from_dict(self._http("DELETE", f"/inhibitions/{inhibition_id}"))


class Incidents(_Remote):
    def __repr__(self) -> str:
        return f"<plimsoll incidents of {self._transport.destination}>"

    def list(
        self,
        *,
        state: str | None = None,
        model: str | None = None,
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
        limit: int = 100,
    ) -> builtins.list[Incident]:
        """A project's incidents (the platform's with `platform=True`), the newest first; `state`
        open, acknowledged, resolved or unresolved (open and acknowledged)."""
        if self._local:
            return builtins.list(
                self._call(
                    "list_incidents",
                    project=project,
                    platform=platform,
                    state=state,
                    model=model,
                    limit=limit,
                )
            )
        params = {**_scope(project, platform), "state": state, "model": model, "limit": limit}
        return [Incident.from_dict(i) for i in self._http("GET", "/incidents", params=params)["incidents"]]

    def get(self, incident_id: str) -> Incident:
        check_id("incident_id", incident_id)
        if self._local:
            return self._call("get_incident", incident_id)  # type: ignore[no-any-return]
        return Incident.from_dict(self._http("GET", f"/incidents/{incident_id}"))

    def timeline(self, incident_id: str) -> Timeline:
        check_id("incident_id", incident_id)
        if self._local:
            return self._call("timeline", incident_id)  # type: ignore[no-any-return]
        return Timeline.from_dict(self._http("GET", f"/incidents/{incident_id}/timeline"))

    def acknowledge(self, incident_id: str, *, comment: str = "") -> Incident:
        check_id("incident_id", incident_id)
        if self._local:
            return self._call("acknowledge", incident_id, comment=comment, actor=True)  # type: ignore[no-any-return]
        return Incident.from_dict(
            self._http("POST", f"/incidents/{incident_id}/acknowledge", {"comment": comment})
        )

    def resolve(self, incident_id: str, *, comment: str = "") -> Incident:
        check_id("incident_id", incident_id)
        if self._local:
            return self._call("resolve", incident_id, comment=comment, actor=True)  # type: ignore[no-any-return]
        return Incident.from_dict(
            self._http("POST", f"/incidents/{incident_id}/resolve", {"comment": comment})
        )

    def note(self, incident_id: str, text: str) -> Note:
        check_id("incident_id", incident_id)
        if self._local:
            return self._call("add_note", incident_id, text, actor=True)  # type: ignore[no-any-return]
        return Note(**self._http("POST", f"/incidents/{incident_id}/notes", {"text": text}))
