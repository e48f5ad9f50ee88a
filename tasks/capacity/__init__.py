"""Knowledge-capacity pack (Allen-Zhu & Li 2024, Physics of LMs 3.3)."""
