"""The A/B demo: orchestration, live terminal view, analysis looks and the final summary.

- :mod:`~abgate.demo.runner` — :func:`run_demo`, models → gateway → load → report
- :mod:`~abgate.demo.gateway` — ``abgate serve`` as a child process on a free loopback port
- :mod:`~abgate.demo.monitor` — analysis looks and the live snapshots
- :mod:`~abgate.demo.snapshot` — the plain data one frame of the live view shows
- :mod:`~abgate.demo.view` — the pure render function of the live view
- :mod:`~abgate.demo.display` — refreshing it (rich ``Live`` or plain lines)
- :mod:`~abgate.demo.summary` — headline, plain-language recommendation, terminal summary
"""
