"""The chaos suite (`python -m bench.chaos`, `make chaos`): money is never lost or doubled.

N buyers go through one-time purchases, Payment Links, subscriptions with renewals, past_due,
cancellations, refunds and disputes, while the local Stripe server delivers every event with
duplicates and reorderings (and redelivers failures with backoff) and the suite pauses the
Stripe API and stops and restarts the database. Then each buyer's truth, read from the local
Stripe server's final state, is compared with the paywall's database; one table says how it
went. `run.py` wires it together; `buyers.py` the scenarios, `outages.py` the outages,
`postgres.py` the private cluster, `paywall_server.py` `kp serve`, `truth.py` and
`verify.py` the judgement, `report.py` the table.
"""
