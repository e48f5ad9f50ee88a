"""Information-capacity pack (Yuan et al. 2025, arXiv 2511.08066)."""
