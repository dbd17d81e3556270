"""moodflow's test suite (a package: helpers are imported as ``tests.helpers.<module>``)."""
