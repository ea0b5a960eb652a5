"""The Auditor: fit on the sources once, then judge every synthetic record against the policy."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from smotext_private.audit import checks
from smotext_private.audit.dataset import dataset_metrics
from smotext_private.audit.neighbours import (
    as_unit,
    flat_index,
    leave_one_out_nearest,
    nearest,
    search,
)
from smotext_private.audit.pii import PiiDetector, PiiFinding
from smotext_private.audit.replay import ReplayIndex
from smotext_private.audit.spans import span_index
from smotext_private.audit.templates import NoteTemplates
from smotext_private.audit.text import tokens
from smotext_private.audit.verdict import CheckResult, Verdict
from smotext_private.errors import InputError
from smotext_private.policy import DATASET_CHECK_DIRECTIONS, Policy, load_policy

DEFAULT_K = 5
# Sources whose leave-one-out nearest distance joins the holdout's in the distance calibration.
DEFAULT_LOO_SAMPLE = 2000


# Dataset checks that only mean something with enough holdout (non-member) records.
MIN_HOLDOUT_TO_BLOCK = {"membership_tpr_at_1pct_fpr": 100}


class Auditor:
    """Per-record privacy checks and dataset-level metrics, as the policy sets them.

    ``fit`` indexes the sources (faiss, hashed n-grams, their own identifiers) and
    calibrates the distance check; ``audit`` returns one :class:`Verdict` per
    candidate; ``dataset_checks`` scores the whole synthetic set against a holdout.
    The PII detector defaults to Presidio, built on first use.
    """

    def __init__(
        self,
        policy: Policy | str,
        encoder: Any,
        *,
        pii_detector: PiiDetector | None = None,
        progress: bool = False,
        seed: int = 0,
    ) -> None:
        self.policy = load_policy(policy) if isinstance(policy, str) else policy
        self.encoder = encoder
        self.pii_detector = pii_detector
        self.progress = progress
        self.seed = seed
        self._fitted = False

    # -- set-up -----------------------------------------------------------------------------

    @property
    def detector(self) -> PiiDetector:
        if self.pii_detector is None:
            from smotext_private.audit.presidio import PresidioPiiDetector

            self.pii_detector = PresidioPiiDetector()
        return self.pii_detector

    def _vectors(self, texts: Sequence[str], vecs: np.ndarray | None, what: str) -> np.ndarray:
        if vecs is None:
            vecs = self.encoder.encode(list(texts))
        x = np.asarray(vecs)
        if x.ndim != 2 or len(x) != len(texts):
            raise InputError(f"{what}: expected {len(texts)} vectors (one per text), got array of shape {x.shape}")
        dim = getattr(self.encoder, "dim", None)
        if dim is not None and x.shape[1] != dim:
            raise InputError(f"{what}: vectors have dimension {x.shape[1]}, encoder '{self.encoder.name}' gives {dim}")
        return as_unit(x)

    def _detect(self, texts: list[str], desc: str, chunk: int = 256) -> list[list[PiiFinding]]:
        """PII findings per text, in chunks so that a progress bar can follow."""
        if not self.progress:
            return self.detector.detect(texts)
        from tqdm.auto import tqdm

        out: list[list[PiiFinding]] = []
        for start in tqdm(range(0, len(texts), chunk), desc=desc, unit="chunk"):
            out.extend(self.detector.detect(texts[start : start + chunk]))
        return out

    def fit(self, sources: list[str], source_vecs: np.ndarray, holdout_vecs: np.ndarray | None = None,
            holdout_texts: list[str] | None = None, templates: NoteTemplates | None = None) -> "Auditor":
        """Index the sources and calibrate; the holdout is real records the generator never saw.

        ``holdout_vecs`` join the distance calibration; ``holdout_texts`` join the count of how many
        real records share a wording (``verbatim_span``'s boilerplate): stock phrasing of the whole
        export, not only of the part the generator saw. The wording of ``templates`` (the
        organisation's note forms) is stock phrasing however few records hold it.
        """
        if len(sources) == 0:
            raise InputError("audit: no source records to audit against")
        self._sources = list(sources)
        self._source_vecs = self._vectors(self._sources, source_vecs, "source vectors")
        self._index = flat_index(self._source_vecs)
        self._tokens = [tokens(s) for s in self._sources]
        self._joined = [" ".join(t) for t in self._tokens]

        # boilerplate_sources below 2 leaves every shared window counted
        self._spans = span_index(self.policy.checks.get("verbatim_span"), self._tokens,
                                 [tokens(t) for t in holdout_texts or ()],
                                 templates=[tokens(p) for p in templates.pieces] if templates else ())
        self._boilerplate_records = len(self._tokens) + len(holdout_texts or ())
        self._templates = templates

        # How close real records the generator never saw come to the sources: the holdout, pooled with
        # leave-one-out distances of (a sample of) the sources themselves, so that a 2 % quantile rests on
        # hundreds of records rather than on the smallest of a few dozen holdout distances.
        dist_rule = self.policy.checks.get("embedding_distance")
        loo_sample = int(dist_rule.params.get("loo_sample", DEFAULT_LOO_SAMPLE)) if dist_rule else DEFAULT_LOO_SAMPLE
        self._holdout_dist = np.zeros(0, np.float32)
        parts, names = [], []
        if holdout_vecs is not None and len(holdout_vecs) > 0:
            holdout = self._vectors([""] * len(holdout_vecs), holdout_vecs, "holdout vectors")
            self._holdout_dist = np.sort(nearest(self._source_vecs, holdout, 1)[0][:, 0])
            parts.append(self._holdout_dist)
            names.append("holdout-to-source")
        if loo_sample > 0 or not parts:
            rows = None
            if loo_sample > 0 and len(self._source_vecs) > loo_sample:
                rows = np.sort(np.random.default_rng(self.seed).choice(len(self._source_vecs), loo_sample, replace=False))
            parts.append(leave_one_out_nearest(self._source_vecs, rows))
            names.append("leave-one-out source")
        self._calibrated_on = " + ".join(names)
        self._calibration = np.sort(np.concatenate(parts))

        self._replay: ReplayIndex | None = None
        replay_rule = self.policy.active("pii_replay")
        if replay_rule is not None:
            findings = self._detect(self._sources, "pii in sources")
            self._replay = ReplayIndex(
                entities=replay_rule.params.get("entities", ()),
                min_digits=int(replay_rule.params.get("min_digits", 5)),
                common_share=float(replay_rule.params.get("common_share", 0.05)),
            ).fit(self._sources, findings)
        self._fitted = True
        return self

    @property
    def distance_cutoff(self) -> float:
        """Cosine distance under which ``embedding_distance`` rejects: max(floor, calibrated quantile)."""
        rule = self.policy.checks.get("embedding_distance")
        if rule is None:
            return 0.0
        floor = float(rule.params.get("min_distance", 1e-6))
        if len(self._calibration) == 0:
            return floor
        return max(floor, float(np.quantile(self._calibration, rule.threshold)))

    def calibration(self) -> dict[str, Any]:
        """What the distance check was calibrated on, for the report."""
        self._require_fit()
        cal = self._calibration
        return {
            "calibrated_on": self._calibrated_on,
            "n": int(len(cal)),
            "median_distance": float(np.median(cal)) if len(cal) else None,
            "cutoff": self.distance_cutoff,
            "replayable_identifiers": len(self._replay) if self._replay is not None else 0,
            "boilerplate_counted_over": self._boilerplate_records,
            "templates": self._templates_info(),
        }

    def _templates_info(self) -> dict | None:
        if self._templates is None:
            return None
        return {**self._templates.describe(), "windows": self._spans.n_template_windows}

    def spared_by_templates(self, texts: Sequence[str], verdicts: Sequence[Verdict]) -> list[bool]:
        """For each text and its verdict (from ``audit``), whether ``verbatim_span`` passed it only because of
        the note templates: without them its longest shared run would reach the threshold (all False without
        templates)."""
        self._require_fit()
        rule = self.policy.active("verbatim_span")
        if rule is None or self._templates is None:
            return [False] * len(texts)
        return [v.scores["verbatim_span"] < rule.threshold
                and self._spans.longest_rare_span(tokens(t), with_templates=False)[0] >= rule.threshold
                for t, v in zip(texts, verdicts)]

    def templates_section(self, texts: Sequence[str], verdicts: Sequence[Verdict], released: Sequence[int]) -> dict | None:
        """The report's account of the note templates: the file, and which ``released`` records (positions in
        ``texts``/``verdicts``) ``verbatim_span`` would have rejected without it (None without templates)."""
        self._require_fit()
        if self._templates is None:
            return None
        spared = self.spared_by_templates([texts[i] for i in released], [verdicts[i] for i in released])
        return {**self._templates_info(),
                "released_only_with_templates": [verdicts[i].id for i, s in zip(released, spared) if s]}

    def calibration_distances(self) -> np.ndarray:
        """The nearest-source cosine distances the distance check was calibrated on, sorted (a copy).

        Holdout-to-source distances pooled with leave-one-out distances among (a sample of up to the
        policy's ``loo_sample``) sources; ``calibration()["calibrated_on"]`` says which were used.
        """
        self._require_fit()
        return self._calibration.copy()

    def holdout_distances(self) -> np.ndarray:
        """Nearest-source cosine distances of the holdout records alone, sorted (empty without a holdout)."""
        self._require_fit()
        return self._holdout_dist.copy()

    def _require_fit(self) -> None:
        if not self._fitted:
            raise InputError("audit: call fit(sources, source_vecs) before audit or dataset_checks")

    # -- per record -------------------------------------------------------------------------

    def audit(self, texts: list[str], vecs: np.ndarray, ids: list[str]) -> list[Verdict]:
        """One verdict per candidate, in input order."""
        self._require_fit()
        if len(ids) != len(texts):
            raise InputError(f"audit: {len(texts)} texts but {len(ids)} ids")
        if len(set(ids)) != len(ids):
            dup = next(i for i, c in Counter(ids).items() if c > 1)
            raise InputError(f"audit: duplicate record id '{dup}'")
        if not texts:
            return []
        x = self._vectors(texts, vecs, "candidate vectors")
        fuzzy = self.policy.checks.get("fuzzy_similarity")
        k = int(fuzzy.params.get("k", DEFAULT_K)) if fuzzy else DEFAULT_K
        dist, nn = search(self._index, x, max(2, k))
        findings = self._detect(list(texts), "pii in candidates") if self.policy.active("pii") else None
        cutoff = self.distance_cutoff

        from tqdm.auto import tqdm

        out = []
        for i in tqdm(range(len(texts)), desc="audit", disable=not self.progress):
            results, scores = self._check_one(texts[i], dist[i], nn[i, :k], findings[i] if findings else [], cutoff, k)
            out.append(self._verdict(ids[i], results, scores))
        return out

    def _check_one(
        self, text: str, dist: np.ndarray, nn: np.ndarray, findings: list[PiiFinding], cutoff: float, k: int
    ) -> tuple[list[CheckResult], dict[str, float]]:
        pol = self.policy
        toks = tokens(text)
        results: list[CheckResult] = []
        scores: dict[str, float] = {}
        if (rule := pol.active("embedding_distance")) is not None:
            results.append(checks.embedding_distance(float(dist[0]), cutoff, rule, self._calibrated_on))
            d2 = float(dist[1]) if len(dist) > 1 else float("nan")
            scores["nndr"] = float(dist[0]) / d2 if d2 > 0 else (0.0 if dist[0] == 0 else 1.0)
        if (rule := pol.active("verbatim_span")) is not None:
            length, _, _ = self._spans.longest_rare_span(toks)
            results.append(checks.verbatim_span(length, rule, self._spans.min_sources, self._templates is not None))
        ngram_rule, fuzzy_rule = pol.active("ngram_overlap"), pol.active("fuzzy_similarity")
        if ngram_rule is not None or fuzzy_rule is not None:
            shortlist = list(dict.fromkeys([int(j) for j in nn if j >= 0] + self._spans.top_sources(toks, k)))
            if ngram_rule is not None:
                n = int(ngram_rule.params.get("n", 3))
                share = max((checks.containment(toks, self._tokens[j], n) for j in shortlist), default=0.0)
                results.append(checks.ngram_overlap(share, ngram_rule))
            if fuzzy_rule is not None:
                joined = " ".join(toks)
                best = max((checks.fuzzy_score(joined, self._joined[j]) for j in shortlist), default=0.0)
                results.append(checks.fuzzy_similarity(best, fuzzy_rule))
        if (rule := pol.active("pii")) is not None:
            results.append(checks.pii(findings, rule))
        if (rule := pol.active("pii_replay")) is not None and self._replay is not None:
            results.append(checks.pii_replay(self._replay.scan(text), rule))
        for r in results:
            scores[r.check] = r.score
        return results, scores

    def _verdict(self, rid: str, results: list[CheckResult], scores: dict[str, float]) -> Verdict:
        failed = [r for r in results if r.failed]
        reject = any(self.policy.checks[r.check].action == "reject" for r in failed)
        ordered = {name: scores[name] for name in ("embedding_distance", "nndr") if name in scores}
        ordered.update({k: v for k, v in scores.items() if k not in ordered})
        return Verdict(rid, "reject" if reject else "accept", tuple(r.reason for r in failed), ordered)

    @staticmethod
    def summary(verdicts: Sequence[Verdict]) -> dict[str, Any]:
        """Counts of accepted and rejected records, and failures by check (warnings apart)."""
        rejections: Counter[str] = Counter()
        warnings: Counter[str] = Counter()
        for v in verdicts:
            rejections.update(v.checks())
            warnings.update(v.checks(warnings=True))
        n = len(verdicts)
        rejected = sum(v.verdict == "reject" for v in verdicts)
        return {
            "total": n,
            "accepted": n - rejected,
            "rejected": rejected,
            "rejected_share": rejected / n if n else 0.0,
            "rejections_by_check": dict(sorted(rejections.items())),
            "warnings_by_check": dict(sorted(warnings.items())),
        }

    # -- whole dataset ----------------------------------------------------------------------

    def dataset_checks(self, synthetic_vecs: np.ndarray, holdout_vecs: np.ndarray) -> dict[str, Any]:
        """DCR share, NNDR ratio, identical matches, membership attack and a 0-10 score, judged by the policy."""
        self._require_fit()
        if len(synthetic_vecs) == 0 or len(holdout_vecs) == 0:
            raise InputError("dataset checks need at least one synthetic and one holdout record")
        synth = self._vectors([""] * len(synthetic_vecs), synthetic_vecs, "synthetic vectors")
        holdout = self._vectors([""] * len(holdout_vecs), holdout_vecs, "holdout vectors")
        rng = np.random.default_rng(self.seed)
        report = dataset_metrics(self._source_vecs, holdout, synth, rng)
        values = {
            "dcr_share": report["dcr_share"],
            "identical_match_share": report["identical_match_share"],
            "membership_auc": report["membership"]["auc"],
            "membership_tpr_at_1pct_fpr": report["membership"]["tpr_at_1pct_fpr"],
            "nndr_ratio": report["nndr_ratio"],
            "privacy_score": report["privacy_score"],
        }
        failures, warnings = [], []
        for name, rule in self.policy.dataset_checks.items():
            value = values[name]
            if value is None:
                warnings.append(f"{name}: could not be computed on {len(holdout)} holdout records")
                continue
            direction = DATASET_CHECK_DIRECTIONS[name]
            bad = value > rule.threshold if direction == "max" else value < rule.threshold
            if bad:
                word = "above the maximum" if direction == "max" else "below the minimum"
                msg = f"{name}: {value:.4g} is {word} {rule.threshold:g}"
                need = MIN_HOLDOUT_TO_BLOCK.get(name, 0)
                if rule.block and len(holdout) < need:
                    # a 1 % false-positive rate is not resolvable with fewer than 100 non-members:
                    # the figure is reported, but it cannot block on noise
                    warnings.append(f"{msg} (not blocking: {len(holdout)} holdout records, {need} needed to resolve it)")
                else:
                    (failures if rule.block else warnings).append(msg)
        report.update({"policy": self.policy.name, "passed": not failures, "failures": failures, "warnings": warnings})
        return report
