"""Sensitivity labels from document properties (Microsoft Purview / MIP), as a METADATA part.

Office files carry ``MSIP_Label_<guid>_Name`` and ``MSIP_Label_<guid>_Enabled``
custom properties (PDFs exported from Office carry the same keys in their
metadata). Each enabled label becomes a line ``Sensitivity label: <name>``
that the label recognizer reads; whether a label matters is the policy's call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from detectors.findings import Layout, Part

_MSIP = re.compile(r"^/?MSIP_Label_([0-9a-fA-F\-]{36})_(\w+)$")
_CLASSIFICATION_KEYS = ("classification", "sensitivity", "klassificering", "classificatie", "rubricering")


def label_part(properties: Mapping[str, str], origin: str) -> Part | None:
    labels: dict[str, dict[str, str]] = {}
    lines: list[str] = []
    for key, value in properties.items():
        match = _MSIP.match(key.strip())
        if match:
            labels.setdefault(match.group(1).lower(), {})[match.group(2).lower()] = str(value).strip()
        elif key.strip().lstrip("/").lower() in _CLASSIFICATION_KEYS and str(value).strip():
            lines.append(f"Sensitivity label: {str(value).strip()}")
    for fields in labels.values():
        if fields.get("enabled", "true").lower() != "false" and fields.get("name"):
            lines.append(f"Sensitivity label: {fields['name']}")
    if not lines:
        return None
    return Part("\n".join(dict.fromkeys(lines)), f"{origin} › properties", Layout.METADATA)
