"""A release made with fake models, to exercise the membership attack end to end without the real decoder.

    python -m audits.membership.smoke_bundle --input data/demo_notes.csv --out /tmp/smoke-release

The "generator" is ``FakeDecoder`` over a phrasebook of demo notes drawn with another
seed and no identifiers (``make_demo_notes(seed + 1, identifier_rate=0)``), with the
deterministic ``HashingEncoder`` and the regex PII detector, under the ``research``
policy so that the release is not blocked. It never sees the training records' text,
only their (interpolated) vectors, but it picks the phrasebook notes nearest to them,
so some membership signal leaks through that choice. This is a smoke test of the
attack's plumbing, not a measurement of the real generator.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m audits.membership.smoke_bundle", description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", default="data/demo_notes.csv")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-class", type=int, default=20)
    ap.add_argument("--text-column", default="text")
    ap.add_argument("--label-column", default="label")
    args = ap.parse_args(argv)

    from smotext_private.audit import RegexPiiDetector
    from smotext_private.demo.notes import make_demo_notes
    from smotext_private.pipeline import release
    from smotext_private.testing import FakeDecoder, HashingEncoder

    enc = HashingEncoder(dim=256)
    phrases = [r["text"] for r in make_demo_notes(40, args.seed + 1, identifier_rate=0.0)]
    cmd = ["python", "-m", "audits.membership.smoke_bundle"] + list(argv if argv is not None else sys.argv[1:])
    cmd += ["--text-column", args.text_column, "--label-column", args.label_column]
    res = release(args.input, args.out, text_column=args.text_column, label_column=args.label_column, policy="research",
                  per_class=args.per_class, seed=args.seed, progress=False, fidelity_sample=0, force=True, command=cmd,
                  encoder=enc, decoder=FakeDecoder(enc, phrases), pii_detector=RegexPiiDetector())
    print(json.dumps({"out": str(res.out), "released": res.released, "accepted": res.n_accepted}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
