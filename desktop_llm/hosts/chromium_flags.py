"""Merging Chromium command-line flags.

Chromium keeps only the last `--enable-features=` (and `--disable-features=`) it is given, so two
lists from two places must become one switch, or the first list is silently lost.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable

_LIST_SWITCHES = ("--enable-features", "--disable-features")


def merge_flags(*groups: Iterable[str]) -> list[str]:
    """Join flag lists in order; feature lists are united, other duplicates keep the last value."""
    plain: dict[str, str] = {}
    features: dict[str, list[str]] = {switch: [] for switch in _LIST_SWITCHES}
    for group in groups:
        for flag in group:
            name, _, value = flag.partition("=")
            if name in features:
                for feature in filter(None, value.split(",")):
                    if feature not in features[name]:
                        features[name].append(feature)
            else:
                plain.pop(name, None)
                plain[name] = flag
    merged = list(plain.values())
    for switch, names in features.items():
        if names:
            merged.append(f"{switch}={','.join(names)}")
    return merged


def merge_flag_string(*parts: str) -> str:
    return " ".join(merge_flags(*(shlex.split(part) for part in parts)))
