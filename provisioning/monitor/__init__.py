"""Fleet monitoring on the dealer service: the fleet at a glance, history charts, alert rules, alerts and their
delivery by webhook and e-mail, all built on the heartbeats terminals send."""
