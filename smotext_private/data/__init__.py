"""Input: reading an export through Hugging Face ``datasets`` (``readers``, ``textfiles``), checking its
cells (``columns``), dropping duplicates on Arrow buffers (``dedupe``), the load stage (``load``), the
``Records`` and their split (``records``), and the caps on what is read (``limits``)."""
