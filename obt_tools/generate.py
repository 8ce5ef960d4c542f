"""Synthetic source files in the shapes (and with the dirt) of the real ones in ``shared/data``.

``generate(out, scale, seed)`` writes ``user_purchase.csv`` (UCI Online Retail shape), ``movie_review.csv``
and ``log_reviews.csv`` (the vendor's files). Scale 1 is about the real sizes: 541,908 purchase lines and
100,000 reviews and logs with ids 1..N matching. Rows are produced one at a time and written straight to
disk, so memory does not grow with the scale; the same seed always gives byte-identical files.

The dirt follows ``shared/data/README.md`` so every quarantine rule has rows to act on: missing customers
(~25% of purchase lines), cancellations (``C`` invoices, negative quantities), single-letter stock codes,
exact duplicate lines, padded and empty descriptions, HTML, quotes, commas and newlines inside review
text, exact duplicate vendor rows, and the three misspelled states. Review customers are mostly purchase
customers; a few have no purchases at all (their OBT rows keep NULL purchase metrics).

Session logs fall on the days of 2021-01-01 .. 2021-10-31, the real file's range; ``log_start`` and ``log_days`` move
that window, so a series of daily vendor drops (``id_offset`` apart) can hold each day's own sessions.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import random
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from obt.errors import UserError
from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES

PURCHASE_ROWS = 541_908
REVIEW_ROWS = 100_000
PURCHASE_CUSTOMERS = 4_372
REVIEW_CUSTOMERS_WITH_PURCHASES = 889
REVIEW_CUSTOMERS_WITHOUT_PURCHASES = 20
FIRST_CUSTOMER_ID = 12_346
FIRST_INVOICE = 536_365
MAX_SCALE = 100.0

PURCHASE_HEADER = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
REVIEW_HEADER = ("cid", "review_str", "id_review")
LOG_HEADER = ("id_review", "log")

FILES = {PURCHASES: "user_purchase.csv", MOVIE_REVIEW: "movie_review.csv", LOG_REVIEWS: "log_reviews.csv"}

# Shares measured on the real files (see the module docstring); invoice-level probabilities are tuned so
# the line-level shares come out close to the real ones.
_P_MISSING_CUSTOMER_INVOICE = 0.25
_P_CANCEL_INVOICE = 0.13
_P_ADJUST_INVOICE = 0.0001
_P_DUPLICATE_LINE = 0.01
_P_SINGLE_LETTER_LINE = 0.0013
_P_POSTAGE_LINE = 0.006
_P_EMPTY_DESCRIPTION_LINE = 0.0027
_P_DAMAGED_LINE = 0.0025
_P_POSITIVE_REVIEW = 0.376
_P_VENDOR_DUPLICATE = 0.001
_P_NEWLINE_REVIEW = 0.02
_P_PADDED_REVIEW = 0.01
_PARAGRAPH_BREAK = "<br /><br />"
# Review text length: log-normal parameters and cap fitted so the generated lengths' median, mean and
# tail come out close to the real file's (see ``_review_text``).
_REVIEW_LOG_MEAN = 6.62
_REVIEW_LOG_SD = 0.84
_REVIEW_MAX_CHARS = 9_900

_PURCHASE_START = datetime(2010, 12, 1)
_PURCHASE_DAYS = 374  # 2010-12-01 .. 2011-12-09
_DAY_OPEN_MINUTE = 7 * 60 + 30
_DAY_MINUTES = 12 * 60
_LOG_START = date(2021, 1, 1)
_LOG_DAYS = 304  # 2021-01-01 .. 2021-10-31

_COUNTRIES = (
    ("United Kingdom", 880),
    ("Germany", 22),
    ("France", 20),
    ("EIRE", 15),
    ("Spain", 8),
    ("Netherlands", 6),
    ("Belgium", 6),
    ("Switzerland", 5),
    ("Portugal", 4),
    ("Australia", 3),
    ("Norway", 3),
    ("Italy", 3),
    ("Channel Islands", 2),
    ("Finland", 2),
    ("Cyprus", 2),
    ("Sweden", 2),
    ("Unspecified", 2),
    ("Austria", 1),
    ("Denmark", 1),
    ("Japan", 1),
    ("Poland", 1),
    ("Israel", 1),
    ("USA", 1),
    ("Hong Kong", 1),
    ("Singapore", 1),
    ("Iceland", 1),
    ("Canada", 1),
    ("Greece", 1),
    ("Malta", 1),
    ("RSA", 1),
    ("Lebanon", 1),
    ("Brazil", 1),
)
_COUNTRY_WHEEL = tuple(name for name, weight in _COUNTRIES for _ in range(weight))

_SINGLE_LETTER = (("M", "Manual"), ("D", "Discount"), ("S", "SAMPLES"), ("M", "Manual"), ("m", "Manual"))
_POSTAGE = (("POST", "POSTAGE"), ("DOT", "DOTCOM POSTAGE"), ("C2", "CARRIAGE"))
_DAMAGED = ("", "damaged", "?", "check", "wet damaged", "")
_QUANTITIES = (1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 6, 6, 8, 10, 12, 12, 12, 24, 24, 48)

_ADJECTIVES = (
    "WHITE",
    "RED",
    "PINK",
    "BLUE",
    "GREEN",
    "IVORY",
    "CREAM",
    "VINTAGE",
    "RETRO",
    "ANTIQUE",
    "REGENCY",
    "FELTCRAFT",
    "KNITTED",
    "GLASS",
    "WOODEN",
    "METAL",
    "ENAMEL",
    "PAPER",
    "HANGING",
    "ASSORTED",
    "JUMBO",
    "SMALL",
    "LARGE",
    "SET OF 3",
    "SET 7",
    "PACK OF 12",
    "HEART",
    "POLKA DOT",
    "PAISLEY",
    "SPOTTY",
)
_NOUNS = (
    "T-LIGHT HOLDER",
    "LANTERN",
    "COAT HANGER",
    "HOT WATER BOTTLE",
    "NESTING BOXES",
    "HAND WARMER",
    "MUG COSY",
    "TEASPOONS",
    "JIGSAW BLOCKS",
    "DOORMAT",
    "RECIPE BOX",
    "ALARM CLOCK",
    "LUNCH BAG",
    "CAKE CASES",
    "BUNTING",
    "TEA CUP AND SAUCER",
    "PHOTO FRAME",
    "CANDLE",
    "TISSUES",
    "PLASTERS IN TIN",
    "SHOPPER",
    "NOTEBOOK",
    "WALL ART",
    "CUSHION COVER",
    "DRAWER KNOB",
    "BIRD ORNAMENT",
    "METAL SIGN",
)
_CODE_SUFFIXES = ("", "", "", "A", "B", "C", "D", "E", "G", "L", "P", "S")

_STATES = (
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "Florida",
    "Georgia",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Lousiana",
    "Maine",
    "Maryland",
    "Massachussets",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pensylvania",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virginia",
    "Washington",
    "West Virginia",
    "Wisconsin",
    "Wyoming",
)
_DEVICES = ("Mobile", "Tablet", "Computer")
_OSES = ("Apple MacOS", "Apple iOS", "Linux", "Microsoft Windows", "Google Android")

_SUBJECTS = (
    "The plot",
    "The acting",
    "The director",
    "This film",
    "The script",
    "The soundtrack",
    "The ending",
    "The cast",
    "The cinematography",
    "The dialogue",
    "The lead actress",
    "The villain",
    "The pacing",
    "The first half",
    "The remake",
    "This sequel",
    "The special effects",
    "The editing",
    "The camera work",
)
_VERBS = (
    "felt",
    "was",
    "seemed",
    "looked",
    "came across as",
    "turned out",
    "is",
    "remains",
    "ended up",
)
_COMPLEMENTS = (
    "flat and predictable",
    "strangely moving",
    "far too long",
    "painfully slow",
    "surprisingly clever",
    "a mess, frankly",
    "better than expected",
    "dull, dull, dull",
    "oddly charming",
    "a waste of time",
    "beautiful in places",
    "over the top",
    "confusing, at best",
    "brilliant",
    "awful",
    "forgettable",
    "worth a second look",
    "terribly made",
    "fun for the whole family",
    "a bit short",
    "hard to watch",
)
_OPENERS = (
    "I watched this last night.",
    "I read the book and saw the movie.",
    "Where do I even start?",
    "I kept watching it because it seemed like the plot was going somewhere.",
    "Others have commented on this.",
    "My friends recommended this one.",
    "I saw it at a festival, years ago.",
    'This is not even a "B" movie.',
    "I'm from Hongkong and it's really hard to find films like this.",
    "What a disappointment.",
)
_QUOTED = ('"fighter"', '"wizard"', '"hit point"', '"Chaotic Evil"', '"the twist"', '"classic"', '"masterpiece"')
_TITLES = (
    "Gamers: DR",
    "The Long Night",
    "Sky, Sea and Sand",
    "Midnight Express 2",
    '"Trading Taps"',
    "A Tale of Two Kitchens",
    "Oz",
    "Return of the King's Cat",
    "Liebman & Selby",
    "The Last Train",
)
# Every review with a positive sentence contains the token "good" in one of these spellings; the
# distractors look alike but tokenise to something else, so a tagger that matches substrings is caught.
_POSITIVE = (
    "It was good.",
    "Good, solid fun.",
    "Pretty good, actually.",
    "A good-looking film.",
    "Not good, not bad.",
    "GOOD!",
    "It is good fun (good, not great).",
    "Good acting<br />and a good story.",
    "Really good",
    "The score was good; the rest less so.",
    "Good.",
    "so good",
    "(good)",
    '"Good" is the word.',
)
_DISTRACTORS = (
    "Oh my goodness.",
    "The goods were not delivered.",
    "Goodbye to two hours.",
    "Goodfellas this is not.",
    "A goodly number of scenes drag.",
    "Goodness gracious, the ending.",
    "Nobody says goodnight.",
)


def fingerprint() -> str:
    """Identifies what this generator writes (its own source): files made by another version are stale."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def made_from(**arguments: object) -> str:
    """A stamp for files generated with these arguments by this version of the generator."""
    return json.dumps({**arguments, "generator": fingerprint()})


def is_current(stamp: Path, made: str) -> bool:
    """Whether the files a stamp file stands for were made as ``made`` says, so can be reused."""
    return stamp.is_file() and stamp.read_text() == made


class ScaleError(UserError, ValueError):
    """A bad ``--scale``. Also a ``ValueError`` so that argparse, given ``parse_scale`` as a ``type``,
    reports it as a usage error instead of a traceback."""


@dataclass(frozen=True)
class Sizes:
    """How much one scale produces."""

    purchase_rows: int
    purchase_customers: int
    reviews: int
    review_customers_with_purchases: int
    review_customers_without_purchases: int


def parse_scale(text: str | float) -> float:
    """A positive finite number up to ``MAX_SCALE``; anything else is the user's mistake."""
    try:
        scale = float(text)
    except (TypeError, ValueError):
        raise ScaleError(f"--scale must be a number like 1 or 0.01, got {text!r}") from None
    if not math.isfinite(scale) or scale <= 0 or scale > MAX_SCALE:
        raise ScaleError(f"--scale must be greater than 0 and at most {MAX_SCALE:g}, got {text!r}")
    return scale


def sizes_for(scale: float) -> Sizes:
    scale = parse_scale(scale)
    with_purchases = max(1, round(REVIEW_CUSTOMERS_WITH_PURCHASES * scale))
    return Sizes(
        purchase_rows=max(1, round(PURCHASE_ROWS * scale)),
        purchase_customers=max(with_purchases, round(PURCHASE_CUSTOMERS * scale)),
        reviews=max(1, round(REVIEW_ROWS * scale)),
        review_customers_with_purchases=with_purchases,
        review_customers_without_purchases=max(1, round(REVIEW_CUSTOMERS_WITHOUT_PURCHASES * scale)),
    )


def _rng(seed: int, stream: str) -> random.Random:
    # One independent stream per file: generating one file never shifts another's values.
    return random.Random(f"{seed}:{stream}")


def _mix(value: int, seed: int) -> int:
    """A cheap deterministic hash, so per-customer attributes need no table."""
    return zlib.crc32(f"{seed}:{value}".encode())


def _price_text(thousandths: int) -> str:
    sign = "-" if thousandths < 0 else ""
    whole, frac = divmod(abs(thousandths), 1000)
    text = f"{whole}.{frac:03d}".rstrip("0").rstrip(".")
    return sign + text


@dataclass(frozen=True)
class _Product:
    code: str
    description: str
    price: str


def _catalog(seed: int, size: int = 3_900) -> tuple[_Product, ...]:
    """A fixed catalog (independent of the scale), with the padding and odd spacing of the real one."""
    rng = _rng(seed, "catalog")
    products = []
    codes: set[str] = set()
    while len(products) < size:
        code = f"{rng.randint(10002, 90214)}{rng.choice(_CODE_SUFFIXES)}"
        if code in codes:
            continue
        codes.add(code)
        description = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        roll = rng.random()
        if roll < 0.2:
            description += " "  # trailing pad, as on ~20% of real descriptions
        elif roll < 0.23:
            description = description.replace(" ", "  ", 1)
        elif roll < 0.24:
            description = f"{description}, {rng.choice(_ADJECTIVES)}"  # a comma: the field gets quoted
        elif roll < 0.245:
            description = f'{description} 7" SINGLE SIZE '
        price = rng.choice((290, 420, 550, 650, 850, 1250, 1650, 1850, 2100, 2550, 2750, 3390, 3750, 4250, 4950))
        price = price if rng.random() < 0.9 else rng.randint(100, 9_950)
        products.append(_Product(code, description, _price_text(price)))
    return tuple(products)


def _invoice_time(done_rows: int, total_rows: int) -> str:
    # Invoices advance through business hours of a year as the file fills, like the real export.
    minutes = int(done_rows / total_rows * _PURCHASE_DAYS * _DAY_MINUTES)
    day, minute = divmod(minutes, _DAY_MINUTES)
    moment = _PURCHASE_START + timedelta(days=day, minutes=_DAY_OPEN_MINUTE + minute)
    return f"{moment.month}/{moment.day}/{moment.year} {moment.hour}:{moment.minute:02d}"


def purchase_rows(scale: float, seed: int) -> Iterator[tuple[str, ...]]:
    """``user_purchase.csv`` rows (without the header), exactly ``sizes_for(scale).purchase_rows`` of them."""
    sizes = sizes_for(scale)
    rng = _rng(seed, PURCHASES)
    catalog = _catalog(seed)
    total = sizes.purchase_rows
    n_customers = sizes.purchase_customers
    done = 0
    invoice = FIRST_INVOICE
    while done < total:
        when = _invoice_time(done, total)
        roll = rng.random()
        if roll < _P_ADJUST_INVOICE:
            # "Adjust bad debt": an A invoice with a negative price, no customer, stock code B.
            price = _price_text(rng.choice((-1, 1)) * 11_062_060)
            yield (f"A{invoice}", "B", "Adjust bad debt", "1", when, price, "", "United Kingdom")
            done += 1
            invoice += 1
            continue
        # Skewed towards low indices: a few customers buy a lot, most buy a little.
        k = int(n_customers * rng.random() ** 2)
        customer = str(FIRST_CUSTOMER_ID + k)
        country = _COUNTRY_WHEEL[_mix(k, seed) % len(_COUNTRY_WHEEL)]
        cancelled = roll < _P_ADJUST_INVOICE + _P_CANCEL_INVOICE
        if cancelled:
            number, lines = f"C{invoice}", rng.randint(1, 4)
        else:
            number, lines = str(invoice), min(int(rng.expovariate(1 / 21)) + 1, 600)
            if rng.random() < _P_MISSING_CUSTOMER_INVOICE:
                customer, country = "", "United Kingdom"
        previous: tuple[str, ...] | None = None
        for _ in range(lines):
            if done >= total:
                return
            if previous is not None and rng.random() < _P_DUPLICATE_LINE:
                yield previous
                done += 1
                continue
            row = _purchase_line(rng, catalog, number, when, customer, country, cancelled)
            yield row
            previous = row
            done += 1
        invoice += 1


def _purchase_line(
    rng: random.Random,
    catalog: tuple[_Product, ...],
    number: str,
    when: str,
    customer: str,
    country: str,
    cancelled: bool,
) -> tuple[str, ...]:
    random_ = rng.random
    roll = random_()
    sign = -1 if cancelled else 1
    if roll < _P_SINGLE_LETTER_LINE:
        code, description = rng.choice(_SINGLE_LETTER)
        if cancelled:
            code, description = "D", "Discount"
        return (number, code, description, str(sign), when, _price_text(rng.randint(10, 60_000)), customer, country)
    roll -= _P_SINGLE_LETTER_LINE
    if roll < _P_POSTAGE_LINE:
        code, description = rng.choice(_POSTAGE)
        return (number, code, description, str(sign * rng.randint(1, 3)), when, "18", customer, country)
    roll -= _P_POSTAGE_LINE
    product = catalog[int(len(catalog) * random_() ** 1.5)]
    quantity = _QUANTITIES[int(random_() * len(_QUANTITIES))]
    if not cancelled and roll < _P_EMPTY_DESCRIPTION_LINE:
        # Stock movements logged without a description, price or customer.
        return (number, product.code, "", str(quantity), when, "0", "", country)
    roll -= _P_EMPTY_DESCRIPTION_LINE
    if not cancelled and roll < _P_DAMAGED_LINE:
        # Negative quantity on a normal invoice: write-offs, never attributed to a customer.
        return (number, product.code, rng.choice(_DAMAGED), str(-quantity), when, "0", "", country)
    # A few prices with three decimals, as in the real file.
    price = product.price if random_() < 0.97 else _price_text(1 + int(random_() * 999))
    return (number, product.code, product.description, str(sign * quantity), when, price, customer, country)


def _paragraphs(seed: int, size: int = 4_000) -> tuple[str, ...]:
    """A fixed pool of neutral paragraphs (none holds the token "good"); reviews are drawn from it cheaply."""
    rng = _rng(seed, "paragraphs")

    def sentence() -> str:
        roll = rng.random()
        if roll < 0.55:
            return f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_COMPLEMENTS)}."
        if roll < 0.7:
            return rng.choice(_OPENERS)
        if roll < 0.82:
            return f"You hear terms like {rng.choice(_QUOTED)}, {rng.choice(_QUOTED)} and {rng.choice(_QUOTED)}."
        if roll < 0.92:
            return f"<i>{rng.choice(_TITLES)}</i> is {rng.choice(_COMPLEMENTS)}, in my opinion."
        return rng.choice(_DISTRACTORS)

    return tuple(" ".join(sentence() for _ in range(rng.randint(4, 16))) for _ in range(size))


def _review_text(rng: random.Random, paragraphs: tuple[str, ...], positive: bool) -> str:
    random_ = rng.random
    # Paragraphs until a log-normal target length: the real texts' lengths (median 962, mean 1,307, 1% over
    # 4,800 characters, about two paragraph breaks each). Text is most of the vendor files' bytes, so a
    # scaled-up file is only a faithful multiple of the real one if its texts are as long.
    target = min(_REVIEW_MAX_CHARS, rng.lognormvariate(_REVIEW_LOG_MEAN, _REVIEW_LOG_SD))
    chosen: list[str] = []
    length = 0
    while length < target:
        chosen.append(paragraphs[int(random_() * len(paragraphs))])
        length += len(chosen[-1]) + len(_PARAGRAPH_BREAK)
    if positive:
        at = int(random_() * len(chosen))
        chosen[at] = f"{chosen[at]} {_POSITIVE[int(random_() * len(_POSITIVE))]}"
    separator = "\n\n" if random_() < _P_NEWLINE_REVIEW else _PARAGRAPH_BREAK
    text = separator.join(chosen)
    if random_() < _P_PADDED_REVIEW:
        text = f"  {text} "
    return text


def _review_customers(sizes: Sizes, seed: int) -> Callable[[random.Random], int]:
    """Draws a review's customer: mostly purchase customers, a few who never bought anything."""
    with_purchases = sizes.review_customers_with_purchases
    n = sizes.purchase_customers
    # A stride coprime with the customer count spreads reviewers over distinct purchase customers.
    stride = next(s for s in range(max(1, n // 3), n + 2) if math.gcd(s, n) == 1)
    start = _mix(n, seed)

    def draw(rng: random.Random) -> int:
        slot = rng.randrange(with_purchases + sizes.review_customers_without_purchases)
        if slot >= with_purchases:
            # Beyond every purchase customer id.
            return FIRST_CUSTOMER_ID + n + (slot - with_purchases)
        return FIRST_CUSTOMER_ID + (slot * stride + start) % n

    return draw


def _with_vendor_duplicates(rng: random.Random, rows: Iterable[tuple[str, ...]]) -> Iterator[tuple[str, ...]]:
    for row in rows:
        yield row
        if rng.random() < _P_VENDOR_DUPLICATE:
            yield row


def review_rows(scale: float, seed: int, id_offset: int = 0) -> Iterator[tuple[str, ...]]:
    """``movie_review.csv`` rows: ids ``id_offset+1 .. id_offset+reviews``, plus a few exact duplicate rows."""
    sizes = sizes_for(scale)
    rng = _rng(seed, f"{MOVIE_REVIEW}:{id_offset}")
    draw_customer = _review_customers(sizes, seed)
    paragraphs = _paragraphs(seed)

    def rows() -> Iterator[tuple[str, ...]]:
        for review_id in range(id_offset + 1, id_offset + sizes.reviews + 1):
            customer = draw_customer(rng)
            text = _review_text(rng, paragraphs, rng.random() < _P_POSITIVE_REVIEW)
            yield (str(customer), text, str(review_id))

    return _with_vendor_duplicates(_rng(seed, f"{MOVIE_REVIEW}:dup:{id_offset}"), rows())


def log_xml(log_date: str, device: str, location: str, os_name: str, ip: str, phone: str) -> str:
    """The vendor's XML; ``log_date`` is already ``MM-dd-yyyy``."""
    return (
        f"<reviewlog><log><logDate>{log_date}</logDate><device>{device}</device>"
        f"<location>{location}</location><os>{os_name}</os><ipAddress>{ip}</ipAddress>"
        f"<phoneNumber>{phone}</phoneNumber></log></reviewlog>"
    )


def log_rows(
    scale: float, seed: int, id_offset: int = 0, log_start: date = _LOG_START, log_days: int = _LOG_DAYS
) -> Iterator[tuple[str, ...]]:
    """``log_reviews.csv`` rows for the same ids as ``review_rows``, plus a few exact duplicate rows; each log's
    date is one of the ``log_days`` days from ``log_start``."""
    sizes = sizes_for(scale)
    rng = _rng(seed, f"{LOG_REVIEWS}:{id_offset}")
    ip = f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"

    dates = [f"{log_start + timedelta(days=day):%m-%d-%Y}" for day in range(log_days)]
    random_ = rng.random

    def pick(values: tuple[str, ...] | list[str]) -> str:
        return values[int(random_() * len(values))]

    def rows() -> Iterator[tuple[str, ...]]:
        for review_id in range(id_offset + 1, id_offset + sizes.reviews + 1):
            phone = f"{201 + int(random_() * 789)}-{100 + int(random_() * 900)}-{int(random_() * 10_000):04d}"
            xml = log_xml(pick(dates), pick(_DEVICES), pick(_STATES), pick(_OSES), ip, phone)
            yield (str(review_id), xml)

    return _with_vendor_duplicates(_rng(seed, f"{LOG_REVIEWS}:dup:{id_offset}"), rows())


def expected_rows(scale: float) -> dict[str, int]:
    """Rows each file will hold before the few vendor duplicates: what a progress bar counts towards."""
    sizes = sizes_for(scale)
    return {PURCHASES: sizes.purchase_rows, MOVIE_REVIEW: sizes.reviews, LOG_REVIEWS: sizes.reviews}


def write_csv(
    path: Path,
    header: tuple[str, ...],
    rows: Iterable[tuple[str, ...]],
    on_rows: Callable[[int], None] | None = None,
) -> int:
    """Stream rows to ``path`` through a temporary file, so a failed run never leaves a half file behind."""
    tmp = path.with_name(f".{path.name}.tmp")
    count = 0
    try:
        with tmp.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            for row in rows:
                writer.writerow(row)
                count += 1
                if on_rows is not None and count % 10_000 == 0:
                    on_rows(10_000)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if on_rows is not None:
        on_rows(count % 10_000)
    return count


def generate(
    out: Path,
    scale: float,
    seed: int = 0,
    id_offset: int = 0,
    sources: Iterable[str] = tuple(FILES),
    on_rows: Callable[[int], None] | None = None,
    log_start: date = _LOG_START,
    log_days: int = _LOG_DAYS,
) -> dict[str, int]:
    """Write the chosen source files under ``out``; returns the rows written per source. Session logs fall on the
    ``log_days`` days from ``log_start`` (by default the real file's ten months)."""
    scale = parse_scale(scale)
    if id_offset < 0:
        raise UserError(f"--id-offset must be 0 or more, got {id_offset}")
    if log_days < 1:
        raise UserError(f"log_days must be 1 or more, got {log_days}")
    unknown = sorted(set(sources) - set(FILES))
    if unknown:
        raise UserError(f"unknown source(s) {', '.join(unknown)}; choose from {', '.join(FILES)}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".obt-generate-probe"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to {out}: {exc.strerror or exc}") from None
    makers: dict[str, tuple[tuple[str, ...], Callable[[], Iterator[tuple[str, ...]]]]] = {
        PURCHASES: (PURCHASE_HEADER, lambda: purchase_rows(scale, seed)),
        MOVIE_REVIEW: (REVIEW_HEADER, lambda: review_rows(scale, seed, id_offset)),
        LOG_REVIEWS: (LOG_HEADER, lambda: log_rows(scale, seed, id_offset, log_start, log_days)),
    }
    written = {}
    for source in FILES:
        if source in sources:
            header, rows = makers[source]
            written[source] = write_csv(out / FILES[source], header, rows(), on_rows)
    return written
