"""The evaluation harness: the guide's two-step evaluation of retrieval Q&A, and classification metrics.

`python -m evals --help` (or `make eval`). See evals/README section in the project README.
"""
