"""Realism: how much the released records read like real ones (report.json's ``realism``).

Computed on the released (accepted) records against real records: the holdout plus a seeded sample of
training records of the same size (``real_sample``). Four groups of figures, all deterministic at a seed:

- detection: classifiers that try to tell real from synthetic (TF-IDF word 1-2-grams + logistic regression,
  TF-IDF char 2-4-grams + LR, LR on the encoder's embeddings), each scored by the ROC AUC of its out-of-fold
  probabilities under stratified k-fold (k = min(5, smaller group)); 0.5 means they cannot be told apart;
- structure: words per record, sentences per record and words per sentence (real and synthetic means and
  medians, two-sample Kolmogorov-Smirnov statistic), and the share of records ending on a sentence boundary;
- semantic: the Frechet distance between the real and synthetic embeddings, in a PCA space fitted on the real
  vectors with at most ``FRECHET_DIMS`` dimensions and fewer than either group's size (so both covariances are
  full rank), a small ridge on each covariance; beside it the same distance between the two halves of the real
  records (holdout and training sample), the figure two real samples give; and label fidelity: the share of
  synthetic records whose label a classifier trained on the real training records agrees with;
- diversity: distinct-2 and the mean cosine of each record to its nearest other record, synthetic and real,
  each over a seeded sample of the same size (both figures grow or shrink with the number of records).
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from smotext_private.evaluation.fidelity import distinct_n, sample_indices
from smotext_private.util import unit_rows

MIN_PER_GROUP = 4  # fewer real or synthetic records than this: no detection AUC
MAX_FOLDS = 5
FRECHET_DIMS = 16
RIDGE = 1e-6
DETECTORS = {
    "auc_word_ngrams": "TF-IDF word 1-2-grams + logistic regression",
    "auc_char_ngrams": "TF-IDF character 2-4-grams + logistic regression",
    "auc_embeddings": "logistic regression on the encoder's embeddings",
}
SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
REAL_RECORDS = "the holdout plus a seeded sample of as many training records"


def real_sample(n_train: int, n_holdout: int, seed: int) -> np.ndarray:
    """Positions of the training records that join the holdout as the real side (as many as the holdout, seeded)."""
    return sample_indices(n_train, n_holdout, np.random.default_rng([seed, 101]))


def _r(v) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 4)


# -- structure ---------------------------------------------------------------------------------
def sentences(text: str) -> list[str]:
    """The text cut after ``.``, ``!`` or ``?`` followed by space and a capital or digit (a plain rule: "Dr. Lee" cuts)."""
    return [s for s in SENTENCE_SPLIT.split(text.strip()) if s.strip()]


def ends_on_boundary(text: str) -> bool:
    """Whether the text ends with ``.``, ``!`` or ``?`` (a closing quote or bracket after it allowed)."""
    return bool(SENTENCE_END.search(text.rstrip()))


def _distribution(real: Sequence[float], syn: Sequence[float], keep: bool = False) -> dict:
    from scipy.stats import ks_2samp

    a, b = np.asarray(real, dtype=float), np.asarray(syn, dtype=float)
    out = {"real_mean": _r(a.mean()), "real_median": _r(np.median(a)), "synthetic_mean": _r(b.mean()),
           "synthetic_median": _r(np.median(b)), "ks": _r(ks_2samp(a, b).statistic)}
    if keep:  # counts only, sorted: their distribution for the report's plot, not which record is which
        out.update(real_sorted=sorted(int(v) for v in a), synthetic_sorted=sorted(int(v) for v in b))
    return out


def structure(real: Sequence[str], syn: Sequence[str]) -> dict:
    """Words per record, sentences per record, words per sentence, real beside synthetic; boundary shares."""
    def per(texts):
        sents = [sentences(t) for t in texts]
        return ([len(t.split()) for t in texts], [len(s) for s in sents], [len(x.split()) for s in sents for x in s])

    (rw, rs, rws), (sw, ss, sws) = per(real), per(syn)
    return {
        "words_per_record": _distribution(rw, sw, keep=True),
        "sentences_per_record": _distribution(rs, ss),
        "words_per_sentence": _distribution(rws or [0], sws or [0]),
        "ends_on_sentence_boundary": {"real": _r(np.mean([ends_on_boundary(t) for t in real])),
                                      "synthetic": _r(np.mean([ends_on_boundary(t) for t in syn]))},
    }


# -- detection ---------------------------------------------------------------------------------
def _detector(name: str, seed: int):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    lr = LogisticRegression(C=1.0, max_iter=2000, random_state=seed)
    if name == "auc_word_ngrams":
        return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), lr)
    if name == "auc_char_ngrams":
        return make_pipeline(TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True), lr)
    return lr


def _splits(texts: list[str], y: np.ndarray, seed: int) -> list | None:
    """Stratified group k-fold splits, k = min(5, smaller side) or fewer until every training part has both sides
    (None when no k >= 2 gives that). The same text on both sides is one group, in one fold: a copy scores as its
    original does (a tie), instead of being called the opposite of the copy the detector learnt from."""
    from sklearn.model_selection import StratifiedGroupKFold

    ids: dict[str, int] = {}
    groups = np.array([ids.setdefault(t, len(ids)) for t in texts])
    smaller = min(len(set(groups[y == 0])), len(set(groups[y == 1])), MAX_FOLDS)
    for folds in range(smaller, 1, -1):
        splits = list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(texts, y, groups))
        if all(len(set(y[train])) == 2 for train, _ in splits):
            return splits
    return None


def detection(real: Sequence[str], syn: Sequence[str], real_x: np.ndarray, syn_x: np.ndarray, seed: int) -> dict:
    """Each detector's cross-validated AUC at telling synthetic (1) from real (0), and the highest."""
    smaller = min(len(real), len(syn))
    if smaller < MIN_PER_GROUP:
        return {**{k: None for k in DETECTORS}, "auc_highest": None, "folds": None,
                "skipped": f"too few records to cross-validate ({len(real)} real, {len(syn)} synthetic; "
                           f"at least {MIN_PER_GROUP} of each needed)"}
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    texts = list(real) + list(syn)
    y = np.r_[np.zeros(len(real), dtype=int), np.ones(len(syn), dtype=int)]
    splits = _splits(texts, y, seed)
    if splits is None:
        return {**{k: None for k in DETECTORS}, "auc_highest": None, "folds": None,
                "skipped": "too few distinct records to cross-validate (every split left one side out of training)"}
    inputs = {"auc_word_ngrams": np.array(texts, dtype=object),
              "auc_embeddings": unit_rows(np.vstack([real_x, syn_x]).astype(np.float64))}
    inputs["auc_char_ngrams"] = inputs["auc_word_ngrams"]
    out: dict = {}
    for name in DETECTORS:
        proba = cross_val_predict(_detector(name, seed), inputs[name], y, cv=splits, method="predict_proba")[:, 1]
        out[name] = _r(roc_auc_score(y, proba))
    out["auc_highest"] = max(out[k] for k in DETECTORS)
    out["folds"] = len(splits)
    return out


# -- semantic ----------------------------------------------------------------------------------
def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to the rows of ``a`` and ``b`` (ridge ``RIDGE`` on each covariance)."""
    d = a.shape[1]
    ca = np.cov(a, rowvar=False).reshape(d, d) + RIDGE * np.eye(d)
    cb = np.cov(b, rowvar=False).reshape(d, d) + RIDGE * np.eye(d)
    root = _sqrt_psd(ca)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ cb @ root), 0, None)).sum()
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca) + np.trace(cb) - 2 * cross)


def semantic(real_x: np.ndarray, syn_x: np.ndarray, n_holdout: int) -> dict:
    """Frechet distance real vs synthetic, and holdout vs training sample, in a PCA space fitted on the real vectors."""
    dims = min(FRECHET_DIMS, real_x.shape[1], len(syn_x) - 1, n_holdout - 1, len(real_x) - n_holdout - 1)
    if dims < 2:
        return {"frechet_distance": None, "frechet_real_halves": None, "frechet_dims": None,
                "frechet_skipped": f"too few records for a Frechet distance ({len(real_x)} real, {len(syn_x)} synthetic)"}
    real, syn = unit_rows(real_x.astype(np.float64)), unit_rows(syn_x.astype(np.float64))
    mean = real.mean(0)
    basis = np.linalg.svd(real - mean, full_matrices=False)[2][:dims]
    r, s = (real - mean) @ basis.T, (syn - mean) @ basis.T
    return {"frechet_distance": _r(frechet(r, s)), "frechet_real_halves": _r(frechet(r[:n_holdout], r[n_holdout:])),
            "frechet_dims": int(dims)}


def label_fidelity(train_x: np.ndarray, train_y: Sequence[str], syn_x: np.ndarray, syn_y: Sequence[str], seed: int):
    """Share of synthetic records whose label the classifier trained on the real training records agrees with (the
    label gate's reading, ``generation.label_gate.LabelGate``)."""
    from smotext_private.generation.label_gate import LabelGate

    if len(set(train_y)) < 2 or not len(syn_y):
        return None
    return _r(np.mean(LabelGate(train_x, train_y, seed).agrees(syn_x, syn_y)))


# -- diversity ---------------------------------------------------------------------------------
def nearest_other_cosine(x: np.ndarray) -> float | None:
    """Mean cosine of each row to its nearest other row (None for fewer than two rows)."""
    if len(x) < 2:
        return None
    u = unit_rows(x.astype(np.float64))
    sims = u @ u.T
    np.fill_diagonal(sims, -np.inf)
    return _r(sims.max(1).mean())


def diversity(real: Sequence[str], syn: Sequence[str], real_x: np.ndarray, syn_x: np.ndarray, seed: int) -> dict:
    """Distinct-2 and nearest-other cosine, synthetic and real, each over a seeded sample of the same size."""
    n = min(len(real), len(syn))
    rp = sample_indices(len(real), n, np.random.default_rng([seed, 102]))
    sp = sample_indices(len(syn), n, np.random.default_rng([seed, 103]))
    return {"n_each": int(n),
            "distinct_2": {"real": distinct_n([real[i] for i in rp]), "synthetic": distinct_n([syn[i] for i in sp])},
            "nearest_cosine": {"real": nearest_other_cosine(real_x[rp]), "synthetic": nearest_other_cosine(syn_x[sp])}}


# -- all of it ---------------------------------------------------------------------------------
def measure_realism(holdout: Sequence[str], train_sample: Sequence[str], syn: Sequence[str], *, real_x: np.ndarray,
                    syn_x: np.ndarray, syn_y: Sequence[str], train_x: np.ndarray, train_y: Sequence[str],
                    seed: int = 0, masked: tuple[Sequence[str], np.ndarray, Sequence[str], np.ndarray] | None = None) -> dict:
    """report.json's ``realism``: the real side is ``holdout`` then ``train_sample`` (``real_x`` their vectors, in
    that order); ``syn`` the released records. ``skipped`` (with the reason) when either side is empty.

    ``masked``: (real texts, their vectors, synthetic texts, their vectors) with every identifier the audit counts
    replaced by a placeholder on both sides; detection is run on them too (``detection_identifiers_masked``). A
    released record may never carry an identifier and every real note does, so the plain detectors can key on the
    identifiers alone; the masked figure compares everything else."""
    real = list(holdout) + list(train_sample)
    head = {"n_real": len(real), "n_synthetic": len(syn), "real_records": REAL_RECORDS}
    if not syn or not holdout:
        why = "no synthetic record passed the audit" if not syn else "no held-out real records to compare with"
        return {**head, "skipped": why}
    syn, syn_x = list(syn), np.asarray(syn_x)
    return {
        **head,
        "detection": detection(real, syn, real_x, syn_x, seed),
        **({"detection_identifiers_masked": detection(masked[0], masked[2], masked[1], masked[3], seed)}
           if masked is not None else {}),
        "structure": structure(real, syn),
        "semantic": {**semantic(real_x, syn_x, len(holdout)),
                     "label_fidelity": label_fidelity(train_x, train_y, syn_x, syn_y, seed)},
        "diversity": diversity(real, syn, real_x, syn_x, seed),
    }
