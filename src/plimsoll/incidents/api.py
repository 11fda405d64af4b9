"""Alerts', silences', inhibition rules' and incidents' HTTP routes: thin translations to
IncidentService.

GET  /api/v1/alerts[?project=|platform=true&state=&model=&limit=]   alerts as shown now
GET  /api/v1/alerts/{alert_id}                                       one, with its history
POST /api/v1/alerts/{alert_id}/resolve                               a platform alert, by hand
GET|POST /api/v1/silences, GET /api/v1/silences/{silence_id}, POST .../expire
GET|POST /api/v1/inhibitions, DELETE /api/v1/inhibitions/{inhibition_id}
GET  /api/v1/incidents[?project=|platform=true&state=&model=&limit=]
GET  /api/v1/incidents/{incident_id}[/timeline]
POST /api/v1/incidents/{incident_id}/acknowledge|resolve|notes
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.wire import Documented, Flag, Id, JsonInt, Name, between, one_of, text_rules
from plimsoll.incidents.entities import (
    ALERT_STATES,
    INCIDENT_STATES,
    MAX_COMMENT,
    MAX_LIST,
    MAX_SILENCE_S,
    MAX_TEXT,
    SAID_PATTERN,
    SILENCE_STATES,
)
from plimsoll.incidents.matchers import (
    LABEL_NAME_PATTERN,
    MAX_EQUAL,
    MAX_LABEL_VALUE,
    MAX_MATCHERS,
    OPS,
)
from plimsoll.incidents.service import IncidentService

router = APIRouter(prefix="/api/v1", tags=["incidents"])

Incidents = Annotated[IncidentService, Depends(service_of("incidents"))]
Actor = Annotated[str, Depends(current_actor)]
Limit = Annotated[QueryInt, between(1, MAX_LIST)]
LabelName = Annotated[str, Documented(pattern=LABEL_NAME_PATTERN)]
# Text that says something: not empty, not only white space (the service checks it again).
Comment = Annotated[str, Documented(maxLength=MAX_COMMENT, pattern=SAID_PATTERN)]
OptionalComment = Annotated[str, text_rules(MAX_TEXT)]
NoteText = Annotated[str, Documented(minLength=1, maxLength=MAX_TEXT, pattern=SAID_PATTERN)]


class MatcherBody(BaseModel):
    """`name op value`: `=` and `!=` compare the whole value, `=~` and `!~` match a regular
    expression against it (no repeated group, back-reference or look-around)."""

    model_config = ConfigDict(extra="forbid")

    name: LabelName
    op: Annotated[str, one_of(OPS)] = "="
    value: Annotated[str, text_rules(MAX_LABEL_VALUE)]


Matchers = Annotated[list[MatcherBody], Field(min_length=1, max_length=MAX_MATCHERS)]


class SilenceBody(BaseModel):
    """A silence of the project's alerts (the platform's with `platform`): at least one matcher
    must not match an alert that lacks its label (a silence of everything is refused)."""

    model_config = ConfigDict(extra="forbid")

    project: Name = DEFAULT_PROJECT
    platform: Flag = False
    matchers: Matchers
    duration_s: Annotated[JsonInt, between(1, MAX_SILENCE_S)]
    starts_in_s: Annotated[JsonInt, between(0, MAX_SILENCE_S)] = 0
    comment: Comment


class InhibitionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: Name = DEFAULT_PROJECT
    platform: Flag = False
    source: Matchers
    target: Matchers
    equal: Annotated[list[LabelName], Field(max_length=MAX_EQUAL)] = Field(default_factory=list)
    comment: Annotated[str, text_rules(MAX_COMMENT)] = ""


class CommentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: OptionalComment = ""


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: NoteText


# -- alerts ----------------------------------------------------------------------------------------


@router.get("/alerts")
def list_alerts(
    incidents: Incidents,
    project: Name = DEFAULT_PROJECT,
    platform: bool = False,
    state: Annotated[str, one_of(ALERT_STATES)] | None = None,
    model: Name | None = None,
    limit: Limit = 100,
) -> Response:
    """A project's alerts (the platform's own with `platform=true`), the most recently changed
    first; without `state`, all but the inactive ones. Each says what silences it
    (`silenced_by`) and which firing alert inhibits it (`inhibited_by`)."""
    found = incidents.list_alerts(project=project, platform=platform, state=state, model=model, limit=limit)
    return json_response({"alerts": [a.to_dict() for a in found]})


@router.get("/alerts/{alert_id}")
def get_alert(alert_id: Id, incidents: Incidents) -> Response:
    return json_response(incidents.get_alert(alert_id).to_dict())


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(alert_id: Id, body: CommentBody, incidents: Incidents, actor: Actor) -> Response:
    """End a platform alert's firing (a monitor's alert ends when its rule holds again: 409)."""
    return json_response(incidents.resolve_alert(alert_id, comment=body.comment, actor=actor).to_dict())


# -- silences and inhibition rules -----------------------------------------------------------------


@router.get("/silences")
def list_silences(
    incidents: Incidents,
    project: Name = DEFAULT_PROJECT,
    platform: bool = False,
    state: Annotated[str, one_of(SILENCE_STATES)] | None = None,
    limit: Limit = 100,
) -> Response:
    found = incidents.list_silences(project=project, platform=platform, state=state, limit=limit)
    return json_response({"silences": [s.to_dict() for s in found]})


@router.post("/silences", status_code=201)
def create_silence(body: SilenceBody, incidents: Incidents, actor: Actor) -> Response:
    """Hold back the announcements of matching alerts for `duration_s` seconds (from now, or
    `starts_in_s` seconds from now)."""
    silence = incidents.create_silence(
        [m.model_dump() for m in body.matchers],
        duration_s=body.duration_s,
        starts_in_s=body.starts_in_s,
        comment=body.comment,
        project=body.project,
        platform=body.platform,
        actor=actor,
    )
    return json_response(silence.to_dict(), 201)


@router.get("/silences/{silence_id}")
def get_silence(silence_id: Id, incidents: Incidents) -> Response:
    return json_response(incidents.get_silence(silence_id).to_dict())


@router.post("/silences/{silence_id}/expire")
def expire_silence(silence_id: Id, incidents: Incidents, actor: Actor) -> Response:
    """End a silence now (409 if it has ended): what it held is announced."""
    return json_response(incidents.expire_silence(silence_id, actor=actor).to_dict())


@router.get("/inhibitions")
def list_inhibitions(
    incidents: Incidents, project: Name = DEFAULT_PROJECT, platform: bool = False
) -> Response:
    """The built-in rule (`default`), then the project's (or the platform's) own."""
    found = incidents.list_inhibitions(project=project, platform=platform)
    return json_response({"inhibitions": [rule.to_dict() for rule in found]})


@router.post("/inhibitions", status_code=201)
def create_inhibition(body: InhibitionBody, incidents: Incidents, actor: Actor) -> Response:
    """While an alert matching `source` fires, the alerts matching `target` that share the
    values of the `equal` labels are not announced."""
    rule = incidents.create_inhibition(
        [m.model_dump() for m in body.source],
        [m.model_dump() for m in body.target],
        equal=body.equal,
        comment=body.comment,
        project=body.project,
        platform=body.platform,
        actor=actor,
    )
    return json_response(rule.to_dict(), 201)


@router.delete("/inhibitions/{inhibition_id}")
def delete_inhibition(
    inhibition_id: Annotated[str, Documented(pattern="^(?:default|[0-9a-f]{32})$")],
    incidents: Incidents,
    actor: Actor,
) -> Response:
    """Delete a rule (the built-in `default` cannot be: 409)."""
    return json_response(incidents.delete_inhibition(inhibition_id, actor=actor).to_dict())


# -- incidents -------------------------------------------------------------------------------------


@router.get("/incidents")
def list_incidents(
    incidents: Incidents,
    project: Name = DEFAULT_PROJECT,
    platform: bool = False,
    state: Annotated[str, one_of((*INCIDENT_STATES, "unresolved"))] | None = None,
    model: Name | None = None,
    limit: Limit = 100,
) -> Response:
    found = incidents.list_incidents(
        project=project, platform=platform, state=state, model=model, limit=limit
    )
    return json_response({"incidents": [i.to_dict() for i in found]})


@router.get("/incidents/{incident_id}")
def get_incident(incident_id: Id, incidents: Incidents) -> Response:
    """An incident with its alerts (each firing that joined it) and notes."""
    return json_response(incidents.get_incident(incident_id).to_dict())


@router.get("/incidents/{incident_id}/timeline")
def timeline(incident_id: Id, incidents: Incidents) -> Response:
    """What happened around the incident, oldest first: its alerts and actions, alias moves,
    versions registered, gate decisions and dataset versions from a week before it opened."""
    return json_response(incidents.timeline(incident_id).to_dict())


@router.post("/incidents/{incident_id}/acknowledge")
def acknowledge(incident_id: Id, body: CommentBody, incidents: Incidents, actor: Actor) -> Response:
    """open → acknowledged (409 otherwise); a comment becomes a note."""
    return json_response(incidents.acknowledge(incident_id, comment=body.comment, actor=actor).to_dict())


@router.post("/incidents/{incident_id}/resolve")
def resolve(incident_id: Id, body: CommentBody, incidents: Incidents, actor: Actor) -> Response:
    """open or acknowledged → resolved (409 once resolved), saying how in `comment`."""
    return json_response(incidents.resolve(incident_id, comment=body.comment, actor=actor).to_dict())


@router.post("/incidents/{incident_id}/notes", status_code=201)
def add_note(incident_id: Id, body: NoteBody, incidents: Incidents, actor: Actor) -> Response:
    return json_response(incidents.add_note(incident_id, body.text, actor=actor).to_dict(), 201)
