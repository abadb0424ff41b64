"""Reference values for llmops's Cohen's kappa (src/judge/calibrate.rs), from scikit-learn.

Run: python3 tests/reference/kappa.py   (needs scikit-learn)
"""
from sklearn.metrics import cohen_kappa_score

# Unweighted, binary: the 2x2 table [[20, 5], [10, 15]] (rows: person, columns: judge).
person = [0] * 25 + [1] * 25
judge = [0] * 20 + [1] * 5 + [0] * 10 + [1] * 15
print("binary", repr(cohen_kappa_score(person, judge)))

# Quadratic-weighted, 1-5 scale.
print("quadratic", repr(cohen_kappa_score([1, 2, 3, 4, 5, 1, 2], [1, 2, 3, 5, 4, 2, 2], weights="quadratic")))
