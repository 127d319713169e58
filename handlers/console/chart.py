"""The aging chart's geometry (pure): one bar per bucket, drawn by templates/console/_chart.html
as SVG on the server. No script, no inline style: CSS classes and SVG attributes only, which the
console's Content-Security-Policy allows."""

from __future__ import annotations

from dataclasses import dataclass

from bot.credit import Bucket, BucketTotal

WIDTH = 400
HEIGHT = 190
TOP = 26  # room for the amount above the tallest bar
BOTTOM = 44  # room for the bucket's name and retailer count
COLUMN = WIDTH // 5
BAR = 50

LABELS = {
    Bucket.CURRENT: "Not yet due",
    Bucket.D1_30: "1–30 days",
    Bucket.D31_60: "31–60 days",
    Bucket.D61_90: "61–90 days",
    Bucket.D90_PLUS: "90+ days",
}


@dataclass(frozen=True)
class Bar:
    key: str  # the bucket's name in the API ("1_30"), also its CSS class
    label: str
    amount: int  # paise
    retailers: int
    x: int
    y: int
    width: int
    height: int
    center: int
    amount_text: str


def compact_inr(paise: int) -> str:
    """A short amount for a chart label: `₹1.25 Cr`, `₹4.5 L`, `₹12k`, `₹950`."""
    rupees = paise / 100
    for size, unit, digits in ((1e7, " Cr", 2), (1e5, " L", 1), (1e3, "k", 0)):
        if rupees >= size:
            text = f"{rupees / size:.{digits}f}"
            if digits:  # "4.50" -> "4.5", "20.0" -> "20"; never "70" -> "7"
                text = text.rstrip("0").rstrip(".")
            return f"₹{text}{unit}"
    return f"₹{rupees:.0f}"


def aging_bars(buckets: dict[Bucket, BucketTotal]) -> list[Bar]:
    """Bars in bucket order, heights in proportion to the largest (a bucket with money in it is
    at least 2 units tall, so it never disappears)."""
    plot = HEIGHT - TOP - BOTTOM
    largest = max((t.amount for t in buckets.values()), default=0)
    bars = []
    for i, (bucket, total) in enumerate(buckets.items()):
        height = (
            0 if largest == 0 else max(2 if total.amount else 0, total.amount * plot // largest)
        )
        x = i * COLUMN + (COLUMN - BAR) // 2
        bars.append(
            Bar(
                key=bucket.value,
                label=LABELS[bucket],
                amount=total.amount,
                retailers=total.retailers,
                x=x,
                y=TOP + plot - height,
                width=BAR,
                height=height,
                center=i * COLUMN + COLUMN // 2,
                amount_text=compact_inr(total.amount),
            )
        )
    return bars
