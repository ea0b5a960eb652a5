"""smotext-private: synthetic text releases made with SMOTExT and audited for privacy leaks."""

__version__ = "0.1.0"
