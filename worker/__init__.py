"""RQ jobs and the sweeps (ARCHITECTURE.md step 4)."""
