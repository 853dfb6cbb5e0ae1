"""Real devices: bill validators, receipt printer, hotplug."""
