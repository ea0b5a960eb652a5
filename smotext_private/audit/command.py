"""`smotext-private audit`: audit any synthetic file (from any generator) against the sources."""

from __future__ import annotations

import json
import time
from pathlib import Path

from smotext_private import __version__
from smotext_private.errors import InputError

MIN_SOURCES = 2


def run_audit(sources: str, synthetic: str, *, text_column: str, policy: str, out: str, encoder: str = "minilm",
              seed: int = 0, force: bool = False, templates: str | None = None, pii_detector=None,
              encoder_obj=None) -> dict:
    from smotext_private.audit import Auditor
    from smotext_private.audit.templates import read_templates
    from smotext_private.backends.loading import encoder_description
    from smotext_private.backends.registry import get_encoder
    from smotext_private.bundle.write import audit_jsonl, check_out_dir, write_bundle
    from smotext_private.data.records import load_table_texts
    from smotext_private.policy import load_policy

    out_dir = Path(out)
    check_out_dir(out_dir, force=force)
    pol = load_policy(policy)
    forms = read_templates(templates) if templates else None
    src_texts, _ = load_table_texts(sources, text_column)
    if len(src_texts) < MIN_SOURCES:
        # the distance check is calibrated on the sources' leave-one-out nearest distances: one record has none
        raise InputError(f"{sources}: {len(src_texts)} source record(s); the audit needs at least {MIN_SOURCES} "
                         "to calibrate its distance check")
    syn_texts, syn_ids = load_table_texts(synthetic, text_column, allow_empty_text=True)
    enc = encoder_obj or get_encoder(encoder)
    src_vecs = enc.encode(src_texts)
    syn_vecs = enc.encode(syn_texts)
    auditor = Auditor(pol, enc, pii_detector=pii_detector, seed=seed).fit(src_texts, src_vecs, None, templates=forms)
    verdicts = auditor.audit(syn_texts, syn_vecs, syn_ids)
    summary = auditor.summary(verdicts)
    accepted = [i for i, v in enumerate(verdicts) if v.verdict == "accept"]
    report = {
        "tool": "smotext-private", "version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "policy": {"name": pol.name, "sha256": pol.sha256},
        "sources": {"path": str(sources), "records": len(src_texts)},
        "synthetic": {"path": str(synthetic), "records": len(syn_texts)},
        "encoder": encoder_description(enc),
        "audit": {**summary, "templates": auditor.templates_section(syn_texts, verdicts, accepted)},
        "calibration": "embedding distances calibrated on leave-one-out nearest distances among the sources (no holdout given)",
    }
    write_bundle(out_dir, {
        "audit.jsonl": audit_jsonl(verdicts),
        "report.json": (json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n").encode(),
    })
    return {"out": str(out_dir), **summary}
