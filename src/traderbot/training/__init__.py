"""Per-pair training: walk-forward folds, window metrics and objectives, overfitting statistics, the promotion gate."""
