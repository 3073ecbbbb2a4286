"""``vocwatch eval-categories``: the category model's leave-one-domain-out table.

    vocwatch eval-categories --corpora ../shared/data [--split dev|test] [--json]

Trains the category recipe leaving each domain out, on the current labelled sets, and scores
the held-out domain's texts of the split (dev by default; ``test`` is for the published
figures: look at it once). ``--shipped`` prints the figures stored in the shipped model
instead, at once. ``--train-share`` and ``--fewer-domains`` draw a learning curve: how much
the held-out figures owe to the texts per domain and to the number of domains.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from classifiers.category import load_model
from classifiers.features import FeatureConfig
from classifiers.train import corpora
from classifiers.train.categories import DEFAULT_C, Trainer, figures, format_validation
from classifiers.train.fit import featurize, leave_one_domain_out, say


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpora", type=Path, default=corpora.DEFAULT_CORPORA)
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--c", type=float, default=DEFAULT_C)
    parser.add_argument(
        "--shipped",
        action="store_true",
        help="print the shipped model's stored figures, do not recompute",
    )
    parser.add_argument(
        "--train-share",
        type=int,
        default=100,
        metavar="PERCENT",
        help="a learning curve: train on this share of every domain's texts (dev split)",
    )
    parser.add_argument(
        "--fewer-domains",
        type=int,
        default=0,
        metavar="N",
        help="a learning curve: train each fold without N more domains, chosen at random",
    )
    parser.add_argument("--seed", type=int, default=1, help="the random choice of --fewer-domains")
    parser.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.shipped:
        validation = load_model().meta["validation"]
    else:
        examples = [e for e in corpora.labelled(corpora.LABELLED, args.corpora) if e.categories]
        shipped = load_model().features
        matrix = featurize(
            examples, FeatureConfig(bits=shipped.bits, families=shipped.families), teacher=True
        )
        trainer = Trainer(c=args.c)
        curve = corpora.thinned(args.train_share, args.fewer_domains, args.seed)
        dev = matrix.select([e.split == "dev" for e in matrix.examples])
        folds = leave_one_domain_out(
            dev, corpora.DOMAINS, trainer.fit, lambda e: True, say=say, train_on=curve
        )
        validation = {"dev": figures(folds, folds)}
        if args.split == "test":
            test = leave_one_domain_out(
                matrix,
                corpora.DOMAINS,
                trainer.fit,
                lambda e: e.split == "test",
                say=say,
                train_on=curve,
            )
            validation = {"test": figures(test, folds)}
    print(
        json.dumps(validation, ensure_ascii=False) if args.json else format_validation(validation)
    )
    return 0
