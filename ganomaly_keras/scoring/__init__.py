"""Scores, decisions and calibration: what turns a trained detector into an answer.

- `terms`: every score term (paper terms and map terms) and its anomaly map;
- `detector_scores`: the score API every detector mixes in (terms, maps, tiles,
  normal statistics, `with_score`);
- `tiling`: scoring images larger than the networks' input over overlapping tiles;
- `calibration`: the 0..1 scaling and the threshold, fitted on validation data, and
  the calibration head every path and export applies them with;
- `decisions`: the decision API every detector mixes in (`calibrate`,
  `predict_anomaly`);
- `selection`: `score="auto"`, chosen on validation only;
- `files`: scoring image files in batches, read by the one image path.
"""
