"""moesweep: a Python client of the moesweep coordinator, and plots.

    import moesweep
    with moesweep.Client("127.0.0.1:7480",
                         token_file="build/demo/db.tokens") as c:
        law = c.law("c000001")
        trials = c.trials("c000001")          # a pandas DataFrame

Client (client.py) talks to CampaignService (proto/moesweep/v1/campaign.proto);
Error (errors.py) is the one exception it raises; moesweep.law evaluates a
law file in Python; moesweep.plot draws a campaign or a law file (matplotlib).
`python3 -m moesweep plot` is the command line. See python/README.md.
"""

from .client import Client, Watch
from .errors import Error

__all__ = ["Client", "Error", "Watch"]
__version__ = "0.1.0"
