"""Hyperparameter search: search spaces shared by both drivers (``space``), the native Optuna runner
(``runner``), model recycling (``recycling``), pruning (``pruning``), study outputs (``outputs``),
progress display (``progress``) and aggregation of multiruns (``aggregate``).

Nothing heavy is imported here; import the submodules.
"""
