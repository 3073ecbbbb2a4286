"""Offline tools for the text models: reading corpora, training, evaluating.

The one part of ``classifiers`` that does I/O (reads corpora, writes model files). The
service never imports it: it only loads the model files these tools write into
``classifiers/data/``. Each module here has ``configure(parser)`` and ``run(args)`` and is
reached through the CLI (``vocwatch train-sentiment``, ``vocwatch eval-sentiment``,
``vocwatch train-categories``, ``vocwatch eval-categories``).
"""
