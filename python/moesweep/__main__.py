"""python3 -m moesweep plot CAMPAIGN|--law-file F [--data runs.csv] --out F.svg

Exit codes as `moesweep campaign` (cli/client.h): 0 done; 1 failed; 2 bad
input (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS,
OUT_OF_RANGE); 3 the token was refused (UNAUTHENTICATED, PERMISSION_DENIED);
4 the coordinator is unreachable or did not answer in time (UNAVAILABLE,
DEADLINE_EXCEEDED). Errors print "moesweep plot: CODE: message" to stderr.
"""

import argparse
import sys

from .errors import Error

_EXIT = {"INVALID_ARGUMENT": 2, "NOT_FOUND": 2, "FAILED_PRECONDITION": 2,
         "ALREADY_EXISTS": 2, "OUT_OF_RANGE": 2, "UNAUTHENTICATED": 3,
         "PERMISSION_DENIED": 3, "UNAVAILABLE": 4, "DEADLINE_EXCEEDED": 4}


def _flops(text):
    try:
        values = [float(x) for x in text.split(",") if x]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"a comma-separated list of FLOPs, got '{text}'") from None
    if not values or any(not v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"FLOPs must be > 0, got '{text}'")
    return values


def _parser():
    p = argparse.ArgumentParser(prog="python3 -m moesweep")
    sub = p.add_subparsers(dest="command", required=True)
    plot = sub.add_parser(
        "plot", help="Draw a campaign (or a law file) to SVG or PNG",
        description="Four panels of a campaign: runs with the fitted law, "
        "isoFLOP profiles with the optimum and its interval, the answer's "
        "interval width against FLOPs spent, the out-of-sample error "
        "series; of a law file (chinchilla), the first two.")
    plot.add_argument("campaign", nargs="?", help="campaign id")
    plot.add_argument("--law-file", help="law file (moesweep fit --out) "
                      "instead of a campaign")
    plot.add_argument("--data", help="with --law-file: CSV of runs (N or "
                      "params, D or tokens, loss)")
    plot.add_argument("--out", required=True, help="FILE.svg or FILE.png")
    plot.add_argument("--coordinator", help="host:port (default: "
                      "$MOESWEEP_COORDINATOR, else 127.0.0.1:7480)")
    plot.add_argument("--token-file", help="a token alone, or the "
                      "coordinator's '<role> <token>' file (default: "
                      "$MOESWEEP_TOKEN_FILE, else $MOESWEEP_TOKEN)")
    plot.add_argument("--tls-ca", help="PEM roots: talk TLS (default: "
                      "$MOESWEEP_TLS_CA)")
    plot.add_argument("--flops", type=_flops, help="isoFLOP budgets, "
                      "e.g. 1e13,1e14 (default: from the largest run)")
    plot.add_argument("--points", type=int, default=40,
                      help="points of each law line and profile")
    plot.add_argument("--width", type=int, default=1200, help="pixels")
    plot.add_argument("--height", type=int, default=900, help="pixels")
    plot.add_argument("--dpi", type=int, default=100)
    return p


def _plot(a):
    from . import plot
    size = {"width_px": a.width, "height_px": a.height, "dpi": a.dpi}
    if a.points < 2:
        raise Error("INVALID_ARGUMENT", "--points must be >= 2")
    if (a.campaign is None) == (a.law_file is None):
        raise Error("INVALID_ARGUMENT", "give a campaign id or --law-file")
    if a.law_file:
        plot.plot_law_file(a.law_file, a.out, a.data, a.flops, a.points,
                           **size)
        return
    if a.data:
        raise Error("INVALID_ARGUMENT", "--data goes with --law-file")
    from .client import Client
    with Client(a.coordinator, token_file=a.token_file,
                tls_ca=a.tls_ca) as client:
        plot.plot_campaign(client, a.campaign, a.out, a.flops, a.points,
                           **size)


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        _plot(args)
    except Error as e:
        print(f"moesweep {args.command}: {e}", file=sys.stderr)
        return _EXIT.get(e.code, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
