"""Densing-law pack (Xiao et al. 2024, arXiv 2412.04315): capacity density."""
