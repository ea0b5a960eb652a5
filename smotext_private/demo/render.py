"""The five note types, the identifier header line, and one note fitted to the word budget.

Each note type renders a ``Content`` and consumes the identifiers it places inline; the ones
left over go into a header or footer line. ``fit`` then grows or trims the note until it has
``MIN_WORDS``-``MAX_WORDS`` words.
"""

from __future__ import annotations

import numpy as np

from smotext_private.demo.bank import (
    FILLERS, HEADER_FORMS, IDENTIFIER_KINDS, MAX_WORDS, MIN_WORDS, Content, cap, join, pick, words,
)


# -- note types: each renders content, consuming the identifiers it places inline ---------------
def _clinic_note(c: Content, ids: dict, rng) -> str:
    age = ids.pop("age", None) or str(c.age)
    cc_label = pick(rng, ("CC:", "Chief complaint:", "Reason for visit:"))
    if rng.random() < 0.5:
        hpi = f"{age}yo {c.sex_letter} with {join(c.part('history'), rng)} reports {c.complaint} for {c.duration}."
    else:
        hpi = f"{age}-year-old {c.sex_word} with a history of {join(c.part('history'), rng)}, seen for {c.complaint} ({c.duration})."
    if "name" in ids and rng.random() < 0.5:
        hpi = f"{ids.pop('name')}, {hpi}"
    exam = pick(rng, ("Exam:", "Findings:", "Objective:", "O/E:"))
    meds = pick(rng, ("Meds:", "Medications:", "Current meds:"))
    plan = pick(rng, ("Plan:", "A/P:", "Assessment and plan:"))
    return (f"{cc_label} {cap(c.complaint)}. {hpi} {exam} {'; '.join(c.part('findings'))}. "
            f"{meds} {', '.join(c.part('meds'))}. {plan} {cap(join(c.part('plans'), rng))}.")


def _triage_message(c: Content, ids: dict, rng) -> str:
    opening = pick(rng, ("Phone triage", "Nurse triage call", "Patient portal message"))
    if "date_of_service" in ids:
        opening += f" {ids.pop('date_of_service')}"
    caller = ids.pop("name", None) or pick(rng, ("Patient", "Pt", f"Patient's {pick(rng, ('daughter', 'son', 'partner'))}"))
    reach = f" (callback {ids.pop('phone')})" if "phone" in ids else ""
    return (f"{opening}: {caller}{reach} reports {c.complaint} for {c.duration}. "
            f"Chart: {join(c.part('history'), rng)}; last results {', '.join(c.part('findings'))}. "
            f"Taking {join(c.part('meds'), rng)}. Advised: {join(c.part('plans'), rng)}; "
            f"{pick(rng, ('go to the ED if worse', 'call back if symptoms escalate', 'urgent review if new symptoms'))}.")


def _referral_letter(c: Content, ids: dict, rng) -> str:
    who = ids.pop("name", None) or "this patient"
    age = ids.pop("age", None) or str(c.age)
    dob = f" (DOB {ids.pop('dob')})" if "dob" in ids else ""
    opening = pick(rng, ("Dear Colleague,", "Dear Doctor,", "To the clinic team,"))
    ask = pick(rng, ("Please consider", "I would be grateful for", "Suggested next steps:"))
    if "referring_doctor" in ids:
        sign = f"Sincerely, Dr. {ids.pop('referring_doctor')}" + (f", NPI {ids.pop('npi')}." if "npi" in ids else ".")
    else:
        sign = pick(rng, ("Kind regards, referring physician.", "Many thanks.", "Thank you for seeing them."))
    return (f"{opening} I am referring {who}{dob}, a {age}-year-old {c.sex_word} with {join(c.part('history'), rng)}, "
            f"for {c.complaint} over the past {c.duration}. Recent findings: {'; '.join(c.part('findings'))}. "
            f"Current medications: {', '.join(c.part('meds'))}. {ask} {join(c.part('plans'), rng)}. {sign}")


def _follow_up(c: Content, ids: dict, rng) -> str:
    head = pick(rng, ("Follow-up visit.", "Progress note.", "Return visit."))
    who = ids.pop("name", None) or pick(rng, ("Patient", "Pt"))
    course = pick(rng, ("symptoms improved", "symptoms unchanged", "symptoms somewhat worse", "partial improvement"))
    tol = pick(rng, ("tolerating it well", "mild side effects", "missed some doses"))
    meds = c.part("meds")
    cont = f"Continue {meds[0]}" + (f", add {join(meds[1:], rng)}" if len(meds) > 1 else "")
    return (f"{head} {who} returns {pick(rng, ('4', '6', '8', '12'))} weeks after starting {meds[0]} for {c.complaint}; "
            f"{course}, {tol}. Background {join(c.part('history'), rng)}. Today {', '.join(c.part('findings'))}. "
            f"{cont}. Next: {join(c.part('plans'), rng)}.")


def _discharge_summary(c: Content, ids: dict, rng) -> str:
    where = []
    if "ward" in ids:
        where.append(ids.pop("ward"))
    if "hospital" in ids:
        where.append(ids.pop("hospital"))
    head = "Discharge summary" + (f", {', '.join(where)}" if where else "") + "."
    days = pick(rng, ("1", "2", "3", "4", "5", "7"))
    return (f"{head} Admitted {days} days with {c.complaint}. PMH: {join(c.part('history'), rng)}. "
            f"Key results: {'; '.join(c.part('findings'))}. Discharge medications: {', '.join(c.part('meds'))}. "
            f"Follow-up: {join(c.part('plans'), rng)}.")


_RENDER = {
    "clinic_note": _clinic_note, "triage_message": _triage_message, "referral_letter": _referral_letter,
    "follow_up": _follow_up, "discharge_summary": _discharge_summary,
}


def _header(ids: dict, rng) -> str:
    """The identifiers a note type did not place inline, as a header or footer line."""
    parts = [pick(rng, HEADER_FORMS[k]).format(ids[k]) for k in IDENTIFIER_KINDS if k in ids]
    return pick(rng, (" | ", "; ", ", ")).join(parts)


# -- one note, fitted to the word budget -------------------------------------------------------------
def render(note_type: str, c: Content, ids: dict, rng_seed: int) -> tuple[str, dict]:
    """Text and the identifiers it carries; the same seed gives the same phrasing choices."""
    rng = np.random.default_rng(rng_seed)
    left = dict(ids)
    body = _RENDER[note_type](c, left, rng)
    if c.fillers:
        body += " " + " ".join(c.fillers)
    if left:
        line = _header(left, rng)
        body = f"{line}. {body}" if rng.random() < 0.7 else f"{body} {line}."
    return body, ids


def fit(note_type: str, c: Content, ids: dict, rng: np.random.Generator) -> tuple[str, dict]:
    """Render the note, then show more or less of its content (or drop identifiers) until it fits."""
    seed = int(rng.integers(2**63))
    text, ids = render(note_type, c, ids, seed)
    for _ in range(40):
        wc = words(text)
        if MIN_WORDS <= wc <= MAX_WORDS:
            return text, ids
        if wc > MAX_WORDS:
            key = max((k for k in c.n if c.n[k] > 1), key=lambda k: c.n[k], default=None)
            if key is not None:
                c.n[key] -= 1
            elif c.fillers:
                c.fillers.pop()
            elif len(ids) > 1:  # drop the least important identifier still planted
                drop = [k for k in IDENTIFIER_KINDS if k in ids and k not in ("name", "npi")][-1]
                ids = {k: v for k, v in ids.items() if k != drop and not (drop == "referring_doctor" and k == "npi")}
            else:
                break
        else:
            key = min((k for k in c.n if c.n[k] < c.limits[k]), key=lambda k: c.n[k], default=None)
            if key is not None:
                c.n[key] += 1
            else:
                c.fillers.append(FILLERS[len(c.fillers) % len(FILLERS)])
        text, ids = render(note_type, c, ids, seed)
    raise AssertionError(f"could not fit a {note_type} note into {MIN_WORDS}-{MAX_WORDS} words: {text!r}")

