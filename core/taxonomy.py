"""Anomaly taxonomies: hierarchical categories with definitions, causes, effects, severity."""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from vadagent.errors import UsageError
from vadagent.yamlio import load_yaml_model


class TaxonomyCategory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_.-]{1,64}$")
    name: str = Field(min_length=1)
    definition: str = Field(min_length=1)
    parent: str | None = None
    typical_causes: list[str] = Field(default_factory=list)
    typical_effects: list[str] = Field(default_factory=list)
    severity: str = Field("", description="guidance on the 0–4 severity scale for this category")
    typical_severity: int | None = Field(None, ge=0, le=4)


class Taxonomy(BaseModel):
    """A named set of categories. `normal` is always present: it is what rejection maps to."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    version: str = "1"
    source: str = ""
    categories: list[TaxonomyCategory] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [c.id for c in self.categories]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate category ids: {duplicates}")
        if "normal" not in ids:
            raise ValueError("a taxonomy needs a 'normal' category (what a rejected candidate is)")
        for category in self.categories:
            if category.parent is not None and category.parent not in ids:
                raise ValueError(f"category {category.id!r} has unknown parent {category.parent!r}")
        return self

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.categories]

    def get(self, category_id: str) -> TaxonomyCategory:
        self.require(category_id)
        return next(c for c in self.categories if c.id == category_id)

    def require(self, category_id: str) -> None:
        if category_id not in self.ids:
            raise ValueError(
                f"unknown taxonomy id {category_id!r} for taxonomy {self.name!r}; valid ids: {', '.join(self.ids)}"
            )

    def children(self, category_id: str | None) -> list[TaxonomyCategory]:
        return [c for c in self.categories if c.parent == category_id]

    @classmethod
    def from_yaml(cls, path: str | Path) -> Taxonomy:
        return load_yaml_model(cls, Path(path))


def shipped_taxonomies() -> dict[str, Path]:
    """Taxonomies that ship with vadagent, by name."""
    from importlib.resources import files

    folder = files("vadagent.prompts") / "taxonomies"
    return {Path(str(p)).stem: Path(str(p)) for p in folder.iterdir() if str(p).endswith(".yaml")}


def load_taxonomy(name_or_path: str) -> Taxonomy:
    """A shipped taxonomy by name (e.g. `generic`, `ucf_crime`) or a user's YAML file."""
    shipped = shipped_taxonomies()
    if name_or_path in shipped:
        return Taxonomy.from_yaml(shipped[name_or_path])
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml"}:
        return Taxonomy.from_yaml(path)
    raise UsageError(f"unknown taxonomy {name_or_path!r}: use one of {', '.join(sorted(shipped))} or a .yaml file")
