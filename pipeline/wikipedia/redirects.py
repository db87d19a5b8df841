"""Transitive redirect resolution with cycles found, broken and reported."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class RedirectResolution:
    """Where each redirect finally leads.

    `targets` maps every redirect that ends at a page title to that title. Redirects that
    leave the main namespace, or run into a cycle, are in `dead_ends`; a cycle's members
    are listed once in `cycles`, in chain order starting from the smallest title.
    """

    targets: dict[str, str] = field(default_factory=dict)
    dead_ends: set[str] = field(default_factory=set)
    cycles: list[list[str]] = field(default_factory=list)

    def resolve(self, title: str) -> str | None:
        """The article a link to `title` reaches: `title` itself if it is not a redirect."""
        if title in self.dead_ends:
            return None
        return self.targets.get(title, title)

    @property
    def in_cycles(self) -> int:
        return sum(len(c) for c in self.cycles)


def resolve_redirects(redirects: Mapping[str, str | None]) -> RedirectResolution:
    """Follow each redirect (title -> target, None when it leaves namespace 0) to its end.

    Chains of any length are followed; a chain that comes back to a title already on it is a
    cycle: its members and every redirect leading into it resolve to nothing.
    """
    result = RedirectResolution()
    done: dict[str, str | None] = {}
    for start in redirects:
        if start in done:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        current: str | None = start
        while current is not None and current in redirects and current not in done:
            if current in on_path:
                cycle = path[on_path[current] :]
                pivot = cycle.index(min(cycle))
                result.cycles.append(cycle[pivot:] + cycle[:pivot])
                current = None
                break
            on_path[current] = len(path)
            path.append(current)
            current = redirects[current]
        end = done[current] if current is not None and current in done else current
        for title in path:
            done[title] = end
    for title, end in done.items():
        if end is None:
            result.dead_ends.add(title)
        else:
            result.targets[title] = end
    return result
