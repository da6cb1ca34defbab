"""Detection figures: image-level AUROC, AUPR and F1 (`evaluation`), and pixel AUROC
and AUPRO of anomaly maps against masks (`pixel`). Rank-based, from scikit-learn."""
