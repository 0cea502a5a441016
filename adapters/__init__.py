"""Platform adapters: Slack, Teams and the terminal console. Each translates to and from the coach."""
