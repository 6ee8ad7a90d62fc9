"""Every benchmark on this machine, and the convergence soak: the one entry point.

    uv run python -m bench [--large] [--only full] [--records N] [--workers 2] [--out DIR]
    uv run python -m bench soak [--seed 7] [--seconds 60] [--json soak.json]
    uv run python -m bench profile [--records 3000] [--postgres] [--no-cprofile]

Benchmarks run with real PostgreSQL, Redis, worker processes and the sandboxes, and print
one table; the same figures go to JSON with two PNGs. Sections: full (inbound sync, with
its references: the sandbox alone, PostgreSQL alone and the naive peer), incremental,
outbound, webhooks, memory, embedded, prune (old webhook events deleted by the retention
prune, ``--prune-rows``). incremental, outbound and memory run the full sync first. Writes
bench-results/<timestamp>/results.json (or --out DIR), webhook_latency.png and
inbound_throughput.png. Needs PostgreSQL (CRMSYNC_TEST_POSTGRES_URL, a scratch database is
made and dropped) and Redis (the two databases given are flushed). Figures are printed,
never asserted.

The harness ships with the source checkout only; the product's CLI does not offer it.
"""

from bench.cli import app

app(prog_name="python -m bench")
