"""Reading a /metrics answer as Prometheus does (prometheus_client's own parser), for every tier.

    samples = parse(text)
    samples.value("ctigw_queue_calls_waiting", queue="billing")   # None when the series is absent
"""
from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


class Samples:
    def __init__(self, text: str):
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self._values = {}
        for family in self.families.values():
            for sample in family.samples:
                self._values[(sample.name, frozenset(sample.labels.items()))] = sample.value

    def value(self, name: str, **labels) -> float | None:
        return self._values.get((name, frozenset(labels.items())))

    def series(self, name: str) -> dict[frozenset, float]:
        """Every series of one sample name: {frozenset(labels): value}."""
        return {labels: v for (n, labels), v in self._values.items() if n == name}


def parse(text: str) -> Samples:
    return Samples(text)
