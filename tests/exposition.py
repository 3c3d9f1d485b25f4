"""Reading a Prometheus text exposition back, for the tests that pin what ``/metrics`` says."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def families(text: str) -> dict[str, tuple[str, str, set[str]]]:
    """Each family's name (as written after ``# TYPE``), type, help and the label names its
    samples carry."""
    found = {}
    for family in text_string_to_metric_families(text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        labels = {key for sample in family.samples for key in sample.labels}
        found[name] = (family.type, family.documentation, labels)
    return found


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` with exactly ``labels`` (None when there is none)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return None
