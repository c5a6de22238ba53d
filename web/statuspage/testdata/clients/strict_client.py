#!/usr/bin/env python3
"""A strict Statuspage API v2 client, shaped like the Python status checkers
people run against hosted pages: one dataclass per object with every field a
hosted page sends, built with Cls(**obj). A missing field raises TypeError
(as the real checkers do on an update without custom_tweet), and so does a
field no hosted page sends.

usage: strict_client.py BASE_URL
       strict_client.py --files FILE.json...   (saved responses, e.g. captures)
Prints one line per endpoint (or file) and, last, "indicator=<status.indicator>"
(BASE_URL only). Exits non-zero on the first object that does not decode.
"""
import dataclasses
import json
import sys
import urllib.request
from typing import Any, List, Optional


@dataclasses.dataclass
class Page:
    id: str
    name: str
    url: str
    time_zone: str
    updated_at: str


@dataclasses.dataclass
class Status:
    indicator: str
    description: str

    def __post_init__(self):
        if self.indicator not in ("none", "minor", "major", "critical", "maintenance"):
            raise ValueError("unknown indicator %r" % self.indicator)


@dataclasses.dataclass
class Component:
    id: str
    name: str
    status: str
    created_at: str
    updated_at: str
    position: int
    description: Optional[str]
    showcase: bool
    start_date: Optional[str]
    group_id: Optional[str]
    page_id: str
    group: bool
    only_show_if_degraded: bool
    components: Optional[List[str]] = None  # groups only

    def __post_init__(self):
        if self.status not in ("operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"):
            raise ValueError("component %s: unknown status %r" % (self.id, self.status))
        if not isinstance(self.position, int) or self.position < 1:
            raise ValueError("component %s: position %r" % (self.id, self.position))


@dataclasses.dataclass
class AffectedComponent:
    code: str
    name: str
    old_status: str
    new_status: str


@dataclasses.dataclass
class IncidentUpdate:
    id: str
    status: str
    body: str
    incident_id: str
    created_at: str
    updated_at: str
    display_at: str
    affected_components: Optional[List[Any]]
    deliver_notifications: bool
    custom_tweet: Optional[str]
    tweet_id: Optional[str]

    def __post_init__(self):
        if self.affected_components is not None:
            if not self.affected_components:
                raise ValueError("update %s: affected_components is [] (hosted pages send null)" % self.id)
            self.affected_components = [AffectedComponent(**a) for a in self.affected_components]


@dataclasses.dataclass
class Incident:
    id: str
    name: str
    status: str
    created_at: str
    updated_at: str
    monitoring_at: Optional[str]
    resolved_at: Optional[str]
    impact: str
    shortlink: str
    started_at: str
    page_id: str
    incident_updates: List[Any]
    components: List[Any]
    reminder_intervals: Optional[str]

    def __post_init__(self):
        self.incident_updates = [IncidentUpdate(**u) for u in self.incident_updates]
        self.components = [Component(**c) for c in self.components]


@dataclasses.dataclass
class ScheduledMaintenance(Incident):
    scheduled_for: Optional[str] = None
    scheduled_until: Optional[str] = None

    def __post_init__(self):
        super().__post_init__()
        if self.scheduled_for is None or self.scheduled_until is None:
            raise ValueError("maintenance %s: no window" % self.id)
        if self.status == "scheduled" and self.started_at > self.created_at and self.started_at == self.scheduled_for:
            raise ValueError("maintenance %s: started_at is the future scheduled_for" % self.id)


INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")


def check_incident_status(i):
    """Hosted pages' incident statuses; one with a published postmortem is
    "postmortem", resolved, and its newest update is the postmortem."""
    if i.status not in INCIDENT_STATUSES:
        raise ValueError("incident %s: unknown status %r" % (i.id, i.status))
    for u in i.incident_updates:
        if u.status not in INCIDENT_STATUSES:
            raise ValueError("incident %s update %s: unknown status %r" % (i.id, u.id, u.status))
    if i.status == "postmortem":
        if i.resolved_at is None or not i.incident_updates or i.incident_updates[0].status != "postmortem":
            raise ValueError("incident %s: postmortem without resolved_at or a newest postmortem update" % i.id)
        print("postmortem: incident %s" % i.id)


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.load(r)


def decode_files(paths):
    """Decodes saved responses (page, components, incidents) as main does."""
    for path in paths:
        with open(path) as f:
            s = json.load(f)
        Page(**s["page"])
        comps = [Component(**c) for c in s.get("components", [])]
        incs = [Incident(**i) for i in s.get("incidents", [])]
        for i in incs:
            check_incident_status(i)
        print("%s: %d components, %d incidents" % (path.rsplit("/", 1)[-1], len(comps), len(incs)))


def main():
    if sys.argv[1] == "--files":
        decode_files(sys.argv[2:])
        return
    base = sys.argv[1].rstrip("/")
    indicator = None
    s = get(base, "/api/v2/summary.json")
    Page(**s["page"])
    indicator = Status(**s["status"]).indicator
    comps = [Component(**c) for c in s["components"]]
    incs = [Incident(**i) for i in s["incidents"]]
    maint = [ScheduledMaintenance(**m) for m in s["scheduled_maintenances"]]
    print("summary.json: %d components, %d incidents, %d maintenances" % (len(comps), len(incs), len(maint)))
    s = get(base, "/api/v2/status.json")
    Page(**s["page"])
    if Status(**s["status"]).indicator != indicator:
        raise ValueError("status.json and summary.json disagree")
    print("status.json: ok")
    s = get(base, "/api/v2/components.json")
    Page(**s["page"])
    print("components.json: %d" % len([Component(**c) for c in s["components"]]))
    for path in ("/api/v2/incidents.json", "/api/v2/incidents/unresolved.json"):
        s = get(base, path)
        Page(**s["page"])
        incs = [Incident(**i) for i in s["incidents"]]
        for i in incs:
            check_incident_status(i)
        print("%s: %d" % (path[8:], len(incs)))
    for path in ("/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/upcoming.json",
                 "/api/v2/scheduled-maintenances/active.json"):
        s = get(base, path)
        Page(**s["page"])
        print("%s: %d" % (path[8:], len([ScheduledMaintenance(**m) for m in s["scheduled_maintenances"]])))
    print("indicator=%s" % indicator)


if __name__ == "__main__":
    main()
