"""DealCoach's platform-neutral coaching engine: commands in, neutral messages and nudges out."""
