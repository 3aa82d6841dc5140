"""A live view of a simulated fleet for a terminal (rich): each truck's progress, the fixes the gateways
confirmed and the monitoring took, the alarms open by rule, and where to look.

`FleetView` is a rich renderable; `run_fleet` reports into it (`FleetView.progressed`), and whoever runs
it refreshes the platform's side (`FleetView.platform`) as often as it likes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table

from tamga.simulate.runner import SealSpec, TruckResult
from tamga.simulate.trucks import Track


@dataclass
class PlatformSide:
    """What the platform made of the fleet so far: fixes stored and monitored, alarms by rule (raised,
    and still open)."""

    stored: int = 0
    monitored: int = 0
    alarms_open: Mapping[str, int] = field(default_factory=dict)
    alarms_raised: Mapping[str, int] = field(default_factory=dict)

    @property
    def alarms_total(self) -> int:
        return sum(self.alarms_raised.values())


def alarm_table(side: PlatformSide) -> Table:
    """Give the alarms by rule: raised so far, open now."""
    table = Table("rule", "raised", "open", box=None)
    for rule, count in sorted(side.alarms_raised.items()):
        table.add_row(rule, str(count), str(side.alarms_open.get(rule, 0)))
    if not side.alarms_raised:
        table.add_row("[dim]none yet[/dim]", "", "")
    return table


@dataclass
class FleetView:
    """The fleet's progress as a rich renderable."""

    plans: Sequence[tuple[SealSpec, Track]]
    totals: Sequence[int]
    title: str = "simulated trucks"
    footer: str = ""
    results: dict[int, TruckResult] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)
    platform: PlatformSide = field(default_factory=PlatformSide)

    def progressed(self, index: int, result: TruckResult, note: str | None) -> None:
        """Take a truck's report (the `run_fleet` callback)."""
        self.results[index] = result
        if note:
            self.notes[index] = note

    @property
    def confirmed(self) -> int:
        """Fixes the gateways confirmed to the devices (each truck sends only once confirmed)."""
        return sum(r.live + r.black_box for r in self.results.values())

    def __rich__(self) -> RenderableType:
        trucks = Table("seal", "protocol", "corridor", "", "confirmed", "now", box=None, expand=False)
        for i, (seal, track) in enumerate(self.plans):
            result = self.results.get(i)
            sent = result.live + result.black_box if result else 0
            total = max(self.totals[i], 1)
            note = self.notes.get(i, "")
            style = "red" if note == "failed" else ("green" if note == "arrived" else "yellow")
            trucks.add_row(
                seal.device_id,
                seal.protocol,
                track.corridor.key,
                ProgressBar(total=total, completed=sent, width=24),
                f"{sent}/{self.totals[i]}",
                f"[{style}]{note}[/{style}]",
            )
        side = self.platform
        summary = (
            f"fixes confirmed to the seals [bold]{self.confirmed}[/bold]   stored [bold]{side.stored}[/bold]"
            f"   taken by monitoring [bold]{side.monitored}[/bold]   alarms raised [bold]{side.alarms_total}[/bold]"
        )
        parts: list[RenderableType] = [
            trucks,
            summary,
            Panel(alarm_table(side), title="alarms by rule", expand=False),
        ]
        if self.footer:
            parts.append(self.footer)
        return Panel(Group(*parts), title=self.title)
