"""Deployments and serving: a deployment serves a model's stable version, a canary and a shadow;
rollouts advance or roll back by background jobs; every served prediction goes through the
monitoring capability's logging path. docs/serving.md."""
