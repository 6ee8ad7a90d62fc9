"""The convergence soak: a seeded random workload on both CRMs and the directory at once,
under injected faults, killed workers and a restarted Redis; then, at rest, checks that
everything agrees as the sync rules say it must (``python -m bench soak``).

Modules: ``services`` (its own Redis, the crmsync processes), ``harness`` (set-up helpers,
draining), ``workload``, ``chaos``, ``history`` (the log the checks print), ``crm_state``
and ``checks``, ``run`` (one soak end to end), ``report``.
"""

from __future__ import annotations
