"""Software updates: the TUF repository, releases and channels, and each terminal's update state."""
