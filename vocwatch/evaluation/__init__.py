"""Evaluation sets and their commands: how well the service's decisions match known answers
(``vocwatch eval-customers``: customer_risk alerts on customer journeys)."""
