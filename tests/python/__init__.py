# Tests of python/moesweep:
#   python3 -m unittest discover -s tests/python -t .
