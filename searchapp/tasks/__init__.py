"""RQ jobs and what keeps them honest: queue helpers, the search, baselines and suite jobs,
numbered broadcasts, leases, the reconciler and the worker."""
