"""Calendar import: reading a rep's calendar feed and finding the negotiations in it."""
