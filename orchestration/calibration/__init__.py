"""Scoring calibration: replaying the MQL rule on history (SPEC §9)."""
