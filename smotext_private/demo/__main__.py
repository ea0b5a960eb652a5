"""``python -m smotext_private.demo``: write the demo notes (the same as ``smotext-private demo-data``)."""

from smotext_private.demo.notes import main

raise SystemExit(main())
