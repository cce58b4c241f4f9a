"""Conditions and updates as values: rendered for DynamoDB, evaluated by the in-memory fakes.

A store spells a condition from named clauses (``attr("status").eq("queued") &
lease_expired(now)``), never as an expression string, so the DynamoDB backend and
the fake enforce the very same rule. Placeholders (``#n0``, ``:v0``) are allocated by
``Placeholders``, so reserved words (``status``, ``count``) need no special care.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from chalicelib.store.codec import to_attr


class Placeholders:
    """Names and values of one request (``ExpressionAttributeNames``/``...Values``)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._by_name: dict[str, str] = {}

    def name(self, attribute: str) -> str:
        found = self._by_name.get(attribute)
        if found is None:
            found = self._by_name[attribute] = f"#n{len(self._by_name)}"
            self.names[found] = attribute
        return found

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = to_attr(value)
        return placeholder

    def request(self) -> dict[str, Any]:
        """The names and values to pass along (DynamoDB refuses empty maps)."""
        out: dict[str, Any] = {}
        if self.names:
            out["ExpressionAttributeNames"] = self.names
        if self.values:
            out["ExpressionAttributeValues"] = self.values
        return out


# --------------------------------------------------------------------------- conditions


class Condition:
    def render(self, ph: Placeholders) -> str:
        raise NotImplementedError

    def holds(self, item: dict[str, Any] | None) -> bool:
        """Whether the condition holds for ``item`` (None: there is no item)."""
        raise NotImplementedError

    def __and__(self, other: Condition) -> Condition:
        return _Both(self, other)

    def __or__(self, other: Condition) -> Condition:
        return _Either(self, other)


@dataclass(frozen=True)
class _Both(Condition):
    left: Condition
    right: Condition

    def render(self, ph: Placeholders) -> str:
        return f"({self.left.render(ph)} AND {self.right.render(ph)})"

    def holds(self, item: dict[str, Any] | None) -> bool:
        return self.left.holds(item) and self.right.holds(item)


@dataclass(frozen=True)
class _Either(Condition):
    left: Condition
    right: Condition

    def render(self, ph: Placeholders) -> str:
        return f"({self.left.render(ph)} OR {self.right.render(ph)})"

    def holds(self, item: dict[str, Any] | None) -> bool:
        return self.left.holds(item) or self.right.holds(item)


@dataclass(frozen=True)
class _Exists(Condition):
    attribute: str
    exists: bool

    def render(self, ph: Placeholders) -> str:
        function = "attribute_exists" if self.exists else "attribute_not_exists"
        return f"{function}({ph.name(self.attribute)})"

    def holds(self, item: dict[str, Any] | None) -> bool:
        present = item is not None and self.attribute in item
        return present == self.exists


_OPS = {"=": "eq", "<>": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


@dataclass(frozen=True)
class _Compare(Condition):
    attribute: str
    op: str
    operand: Any

    def render(self, ph: Placeholders) -> str:
        return f"{ph.name(self.attribute)} {self.op} {ph.value(self.operand)}"

    def holds(self, item: dict[str, Any] | None) -> bool:
        if item is None or self.attribute not in item:
            return self.op == "<>"  # DynamoDB: a missing attribute differs from anything
        current, operand = item[self.attribute], self.operand
        numbers = (int, float)
        same_kind = (
            isinstance(current, numbers)
            and not isinstance(current, bool)
            and isinstance(operand, numbers)
            and not isinstance(operand, bool)
        ) or type(current) is type(operand)
        if not same_kind:
            return self.op == "<>"
        method = getattr(current, f"__{_OPS[self.op]}__")
        return bool(method(operand))


@dataclass(frozen=True)
class attr:
    """One attribute, the subject of a clause."""

    name: str

    def eq(self, value: Any) -> Condition:
        return _Compare(self.name, "=", value)

    def ne(self, value: Any) -> Condition:
        return _Compare(self.name, "<>", value)

    def lt(self, value: Any) -> Condition:
        return _Compare(self.name, "<", value)

    def gt(self, value: Any) -> Condition:
        return _Compare(self.name, ">", value)

    def exists(self) -> Condition:
        return _Exists(self.name, True)

    def missing(self) -> Condition:
        return _Exists(self.name, False)


def item_exists() -> Condition:
    return attr("pk").exists()


def item_absent() -> Condition:
    """A put that must not overwrite: the key is new."""
    return attr("pk").missing()


def below(attribute: str, limit: int) -> Condition:
    """A count under its limit (a missing count is zero): the guard of every limit."""
    return attr(attribute).missing() | attr(attribute).lt(limit)


# --------------------------------------------------------------------------- updates


@dataclass
class Update:
    """An update expression built step by step: ``Update().set(...).add(...).remove(...)``."""

    sets: dict[str, Any] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)  # SET a = if_not_exists(a, v)
    increments: dict[str, int | float] = field(default_factory=dict)  # from 0 when missing
    removes: list[str] = field(default_factory=list)

    def set(self, attribute: str, value: Any) -> Update:
        self.sets[attribute] = value
        return self

    def set_all(self, values: dict[str, Any]) -> Update:
        self.sets.update(values)
        return self

    def set_default(self, attribute: str, value: Any) -> Update:
        """Set only when the item has no such attribute yet (a first start, a first wait)."""
        self.defaults[attribute] = value
        return self

    def add(self, attribute: str, amount: int | float = 1) -> Update:
        self.increments[attribute] = amount
        return self

    def remove(self, *attributes: str) -> Update:
        self.removes.extend(attributes)
        return self

    def render(self, ph: Placeholders) -> str:
        clauses = [f"{ph.name(a)} = {ph.value(v)}" for a, v in self.sets.items()]
        clauses += [
            f"{ph.name(a)} = if_not_exists({ph.name(a)}, {ph.value(v)})"
            for a, v in self.defaults.items()
        ]
        for attribute, amount in self.increments.items():
            name = ph.name(attribute)
            clauses.append(f"{name} = if_not_exists({name}, {ph.value(0)}) + {ph.value(amount)}")
        expression = "SET " + ", ".join(clauses) if clauses else ""
        if self.removes:
            removed = ", ".join(ph.name(a) for a in self.removes)
            expression = f"{expression} REMOVE {removed}".strip()
        return expression

    def apply(self, item: dict[str, Any]) -> dict[str, Any]:
        """The item after the update (what DynamoDB does; the fakes call this)."""
        new = copy.deepcopy(item)
        new.update(copy.deepcopy(self.sets))
        for attribute, value in self.defaults.items():
            new.setdefault(attribute, copy.deepcopy(value))
        for attribute, amount in self.increments.items():
            new[attribute] = new.get(attribute, 0) + amount
        for attribute in self.removes:
            new.pop(attribute, None)
        return new
