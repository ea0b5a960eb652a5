"""The identifiers planted into demo notes: which kinds a note carries and their values.

Values come from Faker (names, cities, e-mail domains) and the run's numpy Generator (record
numbers, phones, dates, NPIs with a valid check digit), written as they appear in the text.
"""

from __future__ import annotations

import datetime as _dt
import re

import numpy as np

from smotext_private.demo.bank import Content, pick

# Planting rates: the share of notes that carry identifiers, then each kind's chance within such a note.
_KIND_RATES = {
    "name": 0.8, "mrn": 0.55, "dob": 0.4, "date_of_service": 0.45, "phone": 0.3, "email": 0.2,
    "hospital": 0.3, "ward": 0.15, "referring_doctor": 0.25, "age": 0.1,
}
_MAX_KINDS = 6


def _npi(rng: np.random.Generator) -> str:
    """A 10-digit NPI with a valid Luhn check digit (prefix 80840, as the NPI standard defines)."""
    body = [int(rng.integers(1, 3))] + [int(d) for d in rng.integers(0, 10, size=8)]
    digits = [8, 0, 8, 4, 0] + body
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:  # these are doubled once the check digit is appended
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    check = (10 - total % 10) % 10
    return "".join(map(str, body)) + str(check)


def _phone(rng: np.random.Generator) -> str:
    area, exch, line = int(rng.integers(201, 990)), int(rng.integers(201, 1000)), int(rng.integers(0, 10000))
    fmt = pick(rng, ("({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}"))
    return fmt.format(a=area, e=exch, l=f"{line:04d}")


def _date(d: _dt.date, rng: np.random.Generator) -> str:
    return d.strftime(pick(rng, ("%m/%d/%Y", "%Y-%m-%d", "%d %b %Y", "%B %d, %Y")))


def draw_identifiers(fake, rng: np.random.Generator, c: Content, dos: _dt.date) -> dict[str, str]:
    """Draw which kinds to plant for one note and their values (all strings, as they appear in the text)."""
    kinds = [k for k in _KIND_RATES if rng.random() < _KIND_RATES[k]]
    if not kinds:
        kinds = [pick(rng, ("name", "mrn"))]
    if len(kinds) > _MAX_KINDS:
        kinds = [kinds[int(i)] for i in sorted(rng.choice(len(kinds), size=_MAX_KINDS, replace=False))]
    first = fake.first_name_female() if c.female else fake.first_name_male()
    last = fake.last_name()
    if "age" in kinds:  # HIPAA treats ages over 89 as identifying
        c.age = int(rng.integers(90, 104))
    dob = dos - _dt.timedelta(days=int(c.age * 365.25 + rng.integers(1, 364)))
    ids: dict[str, str] = {}
    for k in kinds:
        if k == "name":
            ids[k] = f"{first} {last}"
        elif k == "mrn":
            digits = int(rng.integers(7, 9))
            ids[k] = str(int(rng.integers(10 ** (digits - 1), 10**digits)))
        elif k == "dob":
            ids[k] = _date(dob, rng)
        elif k == "age":
            ids[k] = str(c.age)
        elif k == "date_of_service":
            ids[k] = _date(dos, rng)
        elif k == "phone":
            ids[k] = _phone(rng)
        elif k == "email":
            local = re.sub(r"[^a-z]", "", first.lower()) + pick(rng, (".", "_", "")) + re.sub(r"[^a-z]", "", last.lower())
            if rng.random() < 0.5:
                local += str(int(rng.integers(1, 99)))
            ids[k] = f"{local}@{fake.free_email_domain()}"
        elif k == "hospital":
            base = pick(rng, (fake.last_name(), fake.city(), f"St. {fake.first_name()}"))
            ids[k] = f"{base} {pick(rng, ('General Hospital', 'Medical Center', 'Memorial Hospital', 'Regional Hospital'))}"
        elif k == "ward":
            ids[k] = pick(rng, ("Ward {n}{x}", "Unit {n} {y}", "Ward {n} {y}")).format(
                n=int(rng.integers(1, 12)), x=pick(rng, "ABCD"), y=pick(rng, ("East", "West", "North", "South")))
        elif k == "referring_doctor":
            ids[k] = f"{fake.first_name()} {fake.last_name()}"
            ids["npi"] = _npi(rng)
    return ids

