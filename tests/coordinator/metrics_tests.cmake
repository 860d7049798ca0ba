# Tests of coordinator/metrics.* (filled in by the metrics work).
