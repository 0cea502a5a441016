"""Calendar feeds: fetching them from the providers (the CalendarFeeds port)."""
