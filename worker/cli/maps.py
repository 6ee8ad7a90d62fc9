"""What ``connect`` and ``connections set --mapping`` share: checking a map file before
anything is saved, and printing what the CRM setup made and what it still lacks."""

from __future__ import annotations

from connectors.fields import FieldReport
from worker.cli.common import console, fail


def check_map(provider: str, mapping: str, *, nothing: str) -> None:
    """Refuse (exit 2) a map file that is missing or wrong for ``provider``; ``nothing``
    says what was therefore not done ("nothing was saved")."""
    from mappings import MappingError, load_map
    from worker.sync.target import OBJECT_TYPES

    # The map is read at every sync: a bad one is refused now, before anything is saved.
    try:
        for object_type in OBJECT_TYPES[provider]:
            load_map(provider, object_type, override=mapping)
    except MappingError as error:
        fail(f"the map cannot be used, {nothing}: {error}", code=2)
    except OSError as error:
        fail(f"the map cannot be read, {nothing}: {mapping}: {error.strerror}", code=2)


def print_fields(provider: str, reports: list[FieldReport]) -> None:
    """What the setup made and what is still missing, one line each."""
    created = [name for report in reports for name in report.created]
    problems = [problem for report in reports for problem in report.problems]
    for made in created:
        console.print(f"created {provider} property {made}", highlight=False)
    if problems:
        console.print(
            f"not synced until an admin fixes them ({len(problems)}); the other fields sync:",
            style="yellow",
            highlight=False,
        )
        for problem in problems:
            console.print(f"  {problem.describe()}", highlight=False)
