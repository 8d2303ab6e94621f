"""A code people pick from a list, with its label in both of the product's languages."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelledCode:
    code: str
    tr: str
    en: str

    def label(self, language: str) -> str:
        return self.tr if language == "tr" else self.en
