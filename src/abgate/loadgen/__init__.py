"""The load generator: real held-out market days replayed against a V2 endpoint.

- :mod:`~abgate.loadgen.scenarios` — seeded sampling of held-out days, market-regime labels
- :mod:`~abgate.loadgen.client` — closed-loop workers or open-loop rate, feedback batches
- :mod:`~abgate.loadgen.tally` — client-side tallies and the exact comparison with the gateway
- :mod:`~abgate.loadgen.arms` — routing per arm and the sufficient statistics for the analysis
"""
