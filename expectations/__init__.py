"""Great Expectations suites guarding the warehouse (suites.py) and how they run (runner.py)."""
