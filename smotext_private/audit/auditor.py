"""The Auditor: fit on the sources once, then judge every synthetic record against the policy."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from smotext_private.audit import registry
from smotext_private.audit.dataset import dataset_metrics
from smotext_private.audit.judge import Batch, judge
from smotext_private.audit.lazy import Rows, StageClock
from smotext_private.audit.neighbours import as_unit, flat_index, leave_one_out_nearest, search
from smotext_private.audit.pii import PiiDetector, PiiFinding
from smotext_private.audit.replay import ReplayIndex
from smotext_private.audit.spans import span_index
from smotext_private.audit.templates import NoteTemplates
from smotext_private.audit.text import tokens
from smotext_private.audit.verdict import Verdict
from smotext_private.errors import InputError
from smotext_private.policy import Policy, load_policy



@dataclass
class Record:
    """What a per-record check reads about one candidate (see ``audit/registry.py``).

    ``distances`` and ``neighbours``: cosine distances to the nearest sources, ascending, and their rows
    (at least two); ``findings``: the PII detector's findings when a check uses them; ``cutoff``: the
    distance under which ``embedding_distance`` rejects; ``auditor``: the fitted auditor (its indexes);
    ``memo``: room for a check to keep what its score found for its reason.
    """

    text: str
    tokens: list[str]
    distances: np.ndarray
    neighbours: np.ndarray
    findings: list[PiiFinding]
    cutoff: float
    auditor: "Auditor"
    memo: dict[str, Any] = field(default_factory=dict)
    _shortlist: list[int] | None = field(default=None, repr=False)

    @property
    def shortlist(self) -> list[int]:
        """Rows of the nearest sources and of those sharing most n-grams with the candidate."""
        if self._shortlist is None:
            self._shortlist = self.auditor.shortlist(self.tokens, self.neighbours)
        return self._shortlist


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
        workers: int | None = None,
    ) -> None:
        self.policy = load_policy(policy) if isinstance(policy, str) else policy
        self.encoder = encoder
        self.pii_detector = pii_detector
        self.progress = progress
        self.seed = seed
        self.workers = workers  # processes for the per-record checks (None: every available CPU; see judge.py)
        self._fitted = False
        self.timings: dict[str, float] = {}  # seconds per stage of the last fit and audit (for benchmarks)

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
        clock = StageClock(self.timings, "fit")
        self._sources = list(sources)
        self._source_findings: list[list[PiiFinding]] | None = None
        self._token_cache: dict[int, list[str]] = {}
        self._source_vecs = self._vectors(self._sources, source_vecs, "source vectors")
        del source_vecs  # the unit copy is kept; the caller's array can go when the caller lets it (1M x 384: 1.5 GB)
        self._index = flat_index(self._source_vecs)
        clock("vectors")

        # boilerplate_sources below 2 leaves every shared window counted; the sources' tokens are read once here
        # and again only for the few sources a check compares a candidate with (``source_tokens``)
        self._spans = span_index(self.policy.checks.get("verbatim_span"), (tokens(s) for s in self._sources),
                                 [tokens(t) for t in holdout_texts or ()],
                                 templates=[tokens(p) for p in templates.pieces] if templates else ())
        self._boilerplate_records = len(self._sources) + len(holdout_texts or ())
        self._templates = templates
        clock("span index")

        # How close real records the generator never saw come to the sources: the holdout, pooled with
        # leave-one-out distances of (a sample of) the sources themselves, so that a 2 % quantile rests on
        # hundreds of records rather than on the smallest of a few dozen holdout distances.
        loo_sample = self._params("embedding_distance").loo_sample
        self._holdout_dist = np.zeros(0, np.float32)
        parts, names = [], []
        if holdout_vecs is not None and len(holdout_vecs) > 0:
            holdout = self._vectors([""] * len(holdout_vecs), holdout_vecs, "holdout vectors")
            self._holdout_dist = np.sort(search(self._index, holdout, 1)[0][:, 0])
            parts.append(self._holdout_dist)
            names.append("holdout-to-source")
        if loo_sample > 0 or not parts:
            rows = None
            if loo_sample > 0 and len(self._source_vecs) > loo_sample:
                rows = np.sort(np.random.default_rng(self.seed).choice(len(self._source_vecs), loo_sample, replace=False))
            parts.append(leave_one_out_nearest(self._source_vecs, rows, self._index))
            names.append("leave-one-out source")
        self._calibrated_on = " + ".join(names)
        self._calibration = np.sort(np.concatenate(parts))
        clock("calibration")

        self._replay: ReplayIndex | None = None
        if self.policy.active("pii_replay") is not None:
            findings = self.source_findings()
            p = self._params("pii_replay")
            self._replay = ReplayIndex(entities=p.entities, min_digits=p.min_digits,
                                       common_share=p.common_share).fit(self._sources, findings)
        clock("pii replay index")
        self._fitted = True
        return self

    def source_findings(self, rows: Sequence[int] | None = None) -> list[list[PiiFinding]]:
        """The PII detector's findings over the sources, or over the sources at ``rows``: found once over them all
        (at ``fit`` when ``pii_replay`` reads them, else at the first call without ``rows``) and kept; a call with
        ``rows`` before that reads those sources alone."""
        if self._source_findings is None:
            if rows is not None:
                return self._detect([self._sources[i] for i in rows], "pii in sources")
            self._source_findings = self._detect(self._sources, "pii in sources")
        return self._source_findings if rows is None else [self._source_findings[i] for i in rows]

    def pii_rule(self) -> tuple[list[str] | None, float]:
        """What the ``pii`` check counts as an identifier: its entity types (None: every type) and lowest score
        (the policy's rule; every finding when the policy has no ``pii`` rule)."""
        rule = self.policy.checks.get("pii")
        return self._params("pii").entities, (rule.threshold if rule is not None else 0.0)

    def _params(self, check: str) -> Any:
        """The typed params of ``check``'s rule (its defaults when the policy has no such rule, or it is off)."""
        rule = self.policy.checks.get(check)
        return registry.get(check).params(rule) if rule is not None else registry.get(check).Params()

    # -- what the per-record checks read ----------------------------------------------------
    @property
    def spans(self):
        """The sources' n-gram index with its boilerplate and template windows (``audit/spans.py``)."""
        return self._spans

    @property
    def templates(self) -> NoteTemplates | None:
        return self._templates

    @property
    def replay(self) -> ReplayIndex | None:
        """The sources' own identifiers (None unless ``pii_replay`` was active at ``fit``)."""
        return self._replay

    @property
    def source_tokens(self) -> Sequence[list[str]]:
        """Each source's tokens (made when asked for: a million sources' token lists would fill gigabytes)."""
        return Rows(len(self._sources), self._source_tokens)

    @property
    def source_joined(self) -> Sequence[str]:
        """Each source's tokens joined by single spaces."""
        return Rows(len(self._sources), lambda j: " ".join(self._source_tokens(j)))

    def _source_tokens(self, j: int) -> list[str]:
        """Source ``j``'s tokens; the last few thousand asked for are kept (a shortlist is read by two checks)."""
        cache = self._token_cache
        toks = cache.get(j)
        if toks is None:
            if len(cache) >= 4096:
                cache.pop(next(iter(cache)))
            toks = cache[j] = tokens(self._sources[j])
        return toks

    @property
    def calibrated_on(self) -> str:
        """What the distance check was calibrated on ("holdout-to-source + leave-one-out source")."""
        return self._calibrated_on

    def shortlist(self, toks: list[str], nn: np.ndarray) -> list[int]:
        """The sources a candidate's text is compared with: its nearest in embedding space and the ``k`` holding
        most of its n-grams, of those holding at least ``min_shared`` of them (``fuzzy_similarity``'s params)."""
        p = self._params("fuzzy_similarity")
        return list(dict.fromkeys([int(j) for j in nn if j >= 0] + self._spans.sharers(toks, p.k, p.min_shared)))

    def _k(self) -> int:
        return self._params("fuzzy_similarity").k

    @property
    def distance_cutoff(self) -> float:
        """Cosine distance under which ``embedding_distance`` rejects: max(floor, calibrated quantile)."""
        rule = self.policy.checks.get("embedding_distance")
        if rule is None:
            return 0.0
        floor = self._params("embedding_distance").min_distance
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

    def nearest_source_distance(self, vecs: np.ndarray) -> np.ndarray:
        """Per vector, its cosine distance to the nearest source (the index the distance check searches)."""
        self._require_fit()
        if not len(vecs):
            return np.zeros(0, dtype=np.float32)
        dist, _ = search(self._index, as_unit(np.asarray(vecs, dtype=np.float32)), 1)
        return dist[:, 0]

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
        clock = StageClock(self.timings, "audit")
        x = self._vectors(texts, vecs, "candidate vectors")
        k = self._k()
        dist, nn = search(self._index, x, max(2, k))
        clock("nearest sources")
        # the active checks in the registry's order, each with its typed params
        active = [(c, rule, c.params(rule)) for c in registry.per_record()
                  if (rule := self.policy.active(c.name)) is not None and c.ready(self)]
        findings = self._detect(list(texts), "pii in candidates") if any(c.uses_pii_findings for c, _, _ in active) else None
        clock("pii detection")
        batch = Batch(self, texts, ids, dist, nn, findings, active, self.distance_cutoff, k)
        out = judge(batch, self.workers, self.progress)
        clock("per-record checks")
        return out

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
        report = dataset_metrics(self._source_vecs, holdout, synth, rng, self._index)
        outcomes = [registry.get(name).run(report, rule, len(holdout)) for name, rule in self.policy.dataset_checks.items()]
        failures = [o.message for o in outcomes if o.status == "fail"]
        warnings = [o.message for o in outcomes if o.status not in ("pass", "fail")]
        report.update({"policy": self.policy.name, "passed": not failures, "failures": failures, "warnings": warnings})
        return report
