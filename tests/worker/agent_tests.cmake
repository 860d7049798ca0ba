# Tests of the worker's coordinator client (filled in by the worker loop work).
