"""`smotext-private audit`: audit any synthetic file (from any generator) against the sources."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from smotext_private.errors import InputError

if TYPE_CHECKING:
    from smotext_private.report.schema import Report

MIN_SOURCES = 2


@dataclass
class AuditResult:
    """What ``audit`` wrote to ``out`` (audit.jsonl, report.json) and its counts."""

    out: Path
    total: int
    accepted: int
    rejected: int
    summary: dict  # ``Auditor.summary``: the counts, the rejected share, failures by check
    report: Report

    def to_dict(self) -> dict:
        return {"out": str(self.out), **self.summary}


def audit(sources: str | Path, synthetic: str | Path, out: str | Path, *, text_column: str = "text",
          policy: str = "strict", templates: str | None = None, force: bool = False, seed: int = 0,
          encoder=None, encoder_name: str = "minilm", pii_detector=None) -> AuditResult:
    """Audit the records of ``synthetic`` (any generator's) against ``sources``; writes ``out``/audit.jsonl and
    report.json (an audit report). ``encoder``: an encoder object, else the one named ``encoder_name`` loads."""
    from smotext_private.audit import Auditor
    from smotext_private.audit.templates import read_templates
    from smotext_private.backends.loading import encoder_description
    from smotext_private.backends.registry import get_encoder
    from smotext_private.bundle.write import audit_jsonl, check_out_dir, write_bundle
    from smotext_private.data.records import load_table_texts
    from smotext_private.policy import load_policy
    from smotext_private.report.build import build_audit_report

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
    enc = encoder or get_encoder(encoder_name)
    src_vecs = enc.encode(src_texts)
    syn_vecs = enc.encode(syn_texts)
    auditor = Auditor(pol, enc, pii_detector=pii_detector, seed=seed).fit(src_texts, src_vecs, None, templates=forms)
    verdicts = auditor.audit(syn_texts, syn_vecs, syn_ids)
    report = build_audit_report(policy=pol, sources=str(sources), n_sources=len(src_texts), synthetic=str(synthetic),
                                texts=syn_texts, verdicts=verdicts, auditor=auditor, encoder_info=encoder_description(enc))
    write_bundle(out_dir, {
        "audit.jsonl": audit_jsonl(verdicts),
        "report.json": report.dump_json().encode(),
    })
    summary = auditor.summary(verdicts)
    return AuditResult(out_dir, summary["total"], summary["accepted"], summary["rejected"], summary, report)


def run_audit(sources: str, synthetic: str, *, text_column: str, policy: str, out: str, encoder: str = "minilm",
              seed: int = 0, force: bool = False, templates: str | None = None, pii_detector=None,
              encoder_obj=None) -> dict:
    """``audit`` for the command line: its summary as a dict (``out`` and the counts)."""
    return audit(sources, synthetic, out, text_column=text_column, policy=policy, templates=templates, force=force,
                 seed=seed, encoder=encoder_obj, encoder_name=encoder, pii_detector=pii_detector).to_dict()
