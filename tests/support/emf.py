"""The CloudWatch Embedded Metric Format specification's required structure, as a checker.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
A record CloudWatch would reject (or silently not turn into metrics) fails here with the rule it breaks.
"""

from __future__ import annotations

from typing import Any

UNITS = frozenset(
    {
        "Seconds",
        "Microseconds",
        "Milliseconds",
        "Bytes",
        "Kilobytes",
        "Megabytes",
        "Gigabytes",
        "Terabytes",
        "Bits",
        "Kilobits",
        "Megabits",
        "Gigabits",
        "Terabits",
        "Percent",
        "Count",
        "Bytes/Second",
        "Kilobytes/Second",
        "Megabytes/Second",
        "Gigabytes/Second",
        "Terabytes/Second",
        "Bits/Second",
        "Kilobits/Second",
        "Megabits/Second",
        "Gigabits/Second",
        "Terabits/Second",
        "Count/Second",
        "None",
    }
)
MAX_DIMENSIONS_PER_SET = 30
MAX_METRICS_PER_DIRECTIVE = 100
MAX_VALUES_PER_METRIC = 100


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def emf_violations(record: Any) -> list[str]:
    """Every way `record` breaks the specification; empty when it is a valid EMF record."""
    if not isinstance(record, dict):
        return ["the root node must be a JSON object"]
    aws = record.get("_aws")
    if not isinstance(aws, dict):
        return ["the root node must have an `_aws` object (metadata)"]
    problems: list[str] = []
    if not isinstance(aws.get("Timestamp"), int) or isinstance(aws.get("Timestamp"), bool):
        problems.append("`_aws.Timestamp` must be an integer, milliseconds since the epoch")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        return [*problems, "`_aws.CloudWatchMetrics` must be an array of MetricDirective objects"]
    for i, directive in enumerate(directives):
        where = f"CloudWatchMetrics[{i}]"
        if not isinstance(directive, dict):
            problems.append(f"{where} must be an object")
            continue
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 1024:
            problems.append(f"{where}.Namespace must be a string of 1 to 1024 characters")
        dimension_sets = directive.get("Dimensions")
        if not isinstance(dimension_sets, list):
            problems.append(f"{where}.Dimensions must be an array of DimensionSet arrays")
            dimension_sets = []
        for j, dimension_set in enumerate(dimension_sets):
            if not isinstance(dimension_set, list) or len(dimension_set) > MAX_DIMENSIONS_PER_SET:
                problems.append(f"{where}.Dimensions[{j}] must be an array of at most 30 dimension names")
                continue
            for name in dimension_set:
                value = record.get(name) if isinstance(name, str) else None
                if not isinstance(value, str) or not 1 <= len(value) <= 1024:
                    problems.append(f"dimension {name!r} must reference a root member holding a string (1-1024)")
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list) or not 1 <= len(metrics) <= MAX_METRICS_PER_DIRECTIVE:
            problems.append(f"{where}.Metrics must be an array of 1 to 100 MetricDefinition objects")
            continue
        for definition in metrics:
            name = definition.get("Name") if isinstance(definition, dict) else None
            if not isinstance(name, str) or not 1 <= len(name) <= 1024:
                problems.append(f"{where}: a MetricDefinition needs a Name of 1 to 1024 characters")
                continue
            unit = definition.get("Unit", "None")
            if unit not in UNITS:
                problems.append(f"metric {name!r}: unit {unit!r} is not a CloudWatch unit")
            if definition.get("StorageResolution", 60) not in (1, 60):
                problems.append(f"metric {name!r}: StorageResolution must be 1 or 60")
            value = record.get(name)
            values = value if isinstance(value, list) else [value]
            if not values or len(values) > MAX_VALUES_PER_METRIC or not all(_number(v) for v in values):
                problems.append(f"metric {name!r} must reference a root member holding a number (or up to 100)")
    return problems
