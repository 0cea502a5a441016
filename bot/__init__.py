"""DealCoach's process: configuration, wiring, web server and CLI."""
