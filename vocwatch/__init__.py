"""vocwatch core: the pieces every package shares — settings, errors, metrics.

The work itself lives in three packages: ``classifiers`` (pure text intelligence),
``alerts`` (windows, rules, alert state) and ``streams`` (the Faust app, event
contracts, agents and the command line).
"""

__version__ = "0.1.0"
