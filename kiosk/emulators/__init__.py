"""Everything that pretends to be the outside world, for demo, simulation and tests."""
