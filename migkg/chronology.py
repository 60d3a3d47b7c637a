"""Dates that cannot all be true: an end before its start, a treaty action before the treaty's adoption, a figure or
treaty action dated after the source that reports it, a web page read before it was issued. Each is refused with the
statements and files to look at.

Dates come at three precisions (xsd:gYear, xsd:gYearMonth, xsd:date; a dateTime counts by its day): one date is
before another only when the whole of its year or month ends before the other begins ("2005" is not before
"2005-03-01"). A date a source gives for what is still to come (a meeting announced, a term that will end) can
be true: only facts that a source can report once they have happened are held against the source's own date.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from pyoxigraph import Literal, NamedNode

from .namespaces import DCTERMS, MIG, XSD
from .sources import ParsedInputs

START, END = MIG + "startDate", MIG + "endDate"
ACTION_DATE, ACTION_ON, ADOPTED_ON = MIG + "actionDate", MIG + "actionOn", MIG + "adoptedOn"
AS_OF = MIG + "asOf"
IS_PART_OF = DCTERMS + "isPartOf"
# A source's own date: the date it states (dcterms:issued) or, for a stored web page, the day it was read.
SOURCE_DATES = (DCTERMS + "issued", MIG + "readOn")
# What a source can state only once it has happened: a figure true as of a date, a signature or ratification.
REPORTED_AFTER_THE_FACT = {AS_OF: "a figure as of", ACTION_DATE: "a treaty action on"}
_COMPARED = {START, END, ACTION_DATE, ADOPTED_ON, *SOURCE_DATES, *REPORTED_AFTER_THE_FACT}
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_PRECISIONS = {XSD + name for name in ("gYear", "gYearMonth", "date", "dateTime")}


@dataclass(frozen=True)
class Dated:
    """One dated statement: the span of days its literal can mean, and where it was stated."""

    subject: str
    predicate: str
    text: str
    first: date
    last: date
    graph: str

    def before(self, other: "Dated") -> bool:
        """Certainly before: this span ends before the other's begins."""
        return self.last < other.first

    def __str__(self) -> str:
        return f"{_short(self.predicate)} {self.text} (graph <{self.graph}>)"


def span(literal: Literal) -> tuple[date, date] | None:
    """The first and last day a date literal can mean; None for other literals (and years before 1)."""
    if not isinstance(literal, Literal) or literal.datatype.value not in _PRECISIONS:
        return None
    match = _DATE.match(literal.value)
    if match is None or int(match.group(1)) < 1:
        return None
    year, month, day = (int(part) if part else None for part in match.groups())
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    if day is None:
        return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    return date(year, month, day), date(year, month, day)


def impossible_dates(inputs: ParsedInputs) -> list[str]:
    """Every combination of the data's dates that cannot be true, in words, with the files to fix."""
    dated: dict[str, list[Dated]] = defaultdict(list)  # predicate → its dated statements
    action_on: dict[str, str] = {}
    part_of: dict[str, str] = {}
    for quad in inputs.data:
        subject, predicate = quad.subject.value, quad.predicate.value
        if predicate == ACTION_ON and isinstance(quad.object, NamedNode):
            action_on[subject] = quad.object.value
        elif predicate == IS_PART_OF:
            part_of[subject] = quad.object.value
        elif predicate in _COMPARED and (days := span(quad.object)) is not None:
            dated[predicate].append(Dated(subject, predicate, quad.object.value, *days, quad.graph_name.value))
    problems: list[str] = []
    starts: dict[str, list[Dated]] = defaultdict(list)
    for start in dated[START]:
        starts[start.subject].append(start)
    for end in dated[END]:
        for start in starts.get(end.subject, ()):
            if end.before(start):
                problems.append(_problem(inputs, end.subject, f"ends before it starts: {end} is before {start}",
                                         "correct the date that the source does not give"))
    adopted: dict[str, list[Dated]] = defaultdict(list)
    for adoption in dated[ADOPTED_ON]:
        adopted[adoption.subject].append(adoption)
    for action in dated[ACTION_DATE]:
        instrument = action_on.get(action.subject)
        for adoption in adopted.get(instrument, ()):
            if action.before(adoption):
                problems.append(_problem(
                    inputs, action.subject, f"is dated before its treaty was adopted: {action} is before "
                    f"<{instrument}> {adoption}", "check the action's date and that it names the right instrument"))
    source_dates: dict[str, list[Dated]] = defaultdict(list)
    for predicate in SOURCE_DATES:
        for stated in dated[predicate]:
            source_dates[stated.subject].append(stated)
    issued, read_on = SOURCE_DATES
    for document, own in source_dates.items():
        for read in (d for d in own if d.predicate == read_on):
            for publication in (d for d in own if d.predicate == issued and read.before(d)):
                problems.append(_problem(inputs, document, f"was read before it was issued: {read} is before "
                                         f"{publication}", "correct the date the page states or the day it was read"))
    for predicate, what in REPORTED_AFTER_THE_FACT.items():
        for fact in dated[predicate]:
            document = part_of.get(fact.graph)
            own = source_dates.get(document, ())
            if own and all(latest.before(fact) for latest in own):
                problems.append(_problem(
                    inputs, fact.subject, f"{what} a date after its source's own: {fact} is after "
                    + " and ".join(f"<{document}> {latest}" for latest in own),
                    "a source reports this only once it has happened: correct the date, or the graph it is in"))
    return problems


def _problem(inputs: ParsedInputs, subject: str, what: str, fix: str) -> str:
    return f"{inputs.file_of(subject)}: <{subject}> {what}: {fix}"


def _short(iri: str) -> str:
    for prefix, namespace in (("mig", MIG), ("dcterms", DCTERMS)):
        if iri.startswith(namespace):
            return f"{prefix}:{iri.removeprefix(namespace)}"
    return f"<{iri}>"
