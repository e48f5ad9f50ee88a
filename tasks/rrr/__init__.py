"""Recognition / recall / retention pack (Orhan 2023)."""
