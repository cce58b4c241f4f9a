"""The dated price table and the arithmetic of monthly estimates.

``prices.json`` beside this module is THE one price data file of the project
(the platform's own cost script imports :func:`load_prices` too). Its schema:

    {
      "schema_version": 1,
      "region": "us-east-1", "currency": "USD", "pricing_model": "on-demand",
      "hours_per_month": 730,
      "as_of": "YYYY-MM-DD",                 # when the table was last checked
      "notes": "...",
      "assumptions": {                        # usage figures estimates rely on
        "<name>": {"value": <number>, "unit": "...", "why": "..."}
      },
      "items": {                              # one unit price per item id
        "<item id>": {
          "unit": "hour" | "GB-month" | "1M requests" | ...,
          "price": <USD per unit>,
          "source": "where the figure comes from",
          "date": "YYYY-MM",                  # when the figure was gathered
          "free_tier": {                      # optional
            "kind": "always" | "12_months_legacy",
            "amount": <units free per month>, "unit": "...", "note": "..."
          }
        }
      }
    }

Item ids are dotted names such as ``ec2.t3.micro``, ``vpc.public_ipv4``,
``alb.lcu``, ``sqs.standard.requests``, ``dynamodb.ondemand.write``.
Only ``always`` free-tier allowances are subtracted in the free-tier figure:
accounts created after 2025-07-15 get credits instead of the 12-month tier.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.models.templates import CostLine

PRICES_PATH = Path(__file__).with_name("prices.json")


class PriceDataError(Exception):
    """The price data file is missing, malformed or lacks an item."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FreeTier(_Frozen):
    kind: Literal["always", "12_months_legacy"]
    amount: float = Field(ge=0)
    unit: str
    note: str | None = None


class PriceItem(_Frozen):
    unit: str
    price: float = Field(ge=0)
    source: str
    date: str
    free_tier: FreeTier | None = None


class Assumption(_Frozen):
    value: float = Field(ge=0)
    unit: str
    why: str


class PriceTable(_Frozen):
    schema_version: Literal[1]
    region: str
    currency: str
    pricing_model: str
    hours_per_month: float = Field(gt=0)
    as_of: str
    notes: str
    assumptions: dict[str, Assumption]
    items: dict[str, PriceItem]

    def item(self, item_id: str) -> PriceItem:
        try:
            return self.items[item_id]
        except KeyError:
            raise PriceDataError(f"prices.json has no item {item_id!r}") from None

    def assumption(self, name: str) -> float:
        try:
            return self.assumptions[name].value
        except KeyError:
            raise PriceDataError(f"prices.json has no assumption {name!r}") from None

    def line(
        self,
        resource: str,
        item_id: str,
        quantity: float,
        *,
        note: str | None = None,
        free_quantity: float | None = None,
    ) -> CostLine:
        """One estimate line: ``quantity`` units of ``item_id`` a month.

        ``free_quantity`` is how much of this usage the item's always-free
        allowance covers (callers pass it when one allowance is shared between
        lines, e.g. data transfer); by default the item's own allowance applies.
        """
        item = self.item(item_id)
        list_usd = quantity * item.price
        if free_quantity is None:
            always_free = item.free_tier is not None and item.free_tier.kind == "always"
            free_quantity = item.free_tier.amount if always_free and item.free_tier else 0.0
        billable = max(0.0, quantity - free_quantity)
        return CostLine(
            resource=resource,
            item=item_id,
            quantity=round(quantity, 6),
            unit=item.unit,
            unit_price_usd=item.price,
            monthly_usd=round(list_usd, 2),
            monthly_free_tier_usd=round(billable * item.price, 2),
            source=item.source,
            price_date=item.date,
            note=note,
        )

    def hourly_line(
        self, resource: str, item_id: str, count: float = 1.0, note: str | None = None
    ) -> CostLine:
        """A resource billed every hour of the month (an instance, an address, a balancer)."""
        return self.line(resource, item_id, count * self.hours_per_month, note=note)


def parse_prices(raw: bytes | str) -> PriceTable:
    try:
        return PriceTable.model_validate(json.loads(raw))
    except ValueError as exc:  # JSONDecodeError and ValidationError are both ValueErrors
        raise PriceDataError(f"invalid price data: {exc}") from exc


@lru_cache(maxsize=1)
def load_prices(path: str | None = None) -> PriceTable:
    """The project's price table, read and validated once per process."""
    source = Path(path) if path else PRICES_PATH
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise PriceDataError(f"cannot read price data {source}: {exc}") from exc
    return parse_prices(raw)
