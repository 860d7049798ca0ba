"""Bearer tokens, read as `moesweep campaign` reads them (cli/client.cc).

A token file is either the coordinator's tokens file, one `<role> <token>`
pair a line (role admin, worker or viewer; `#` comments and blank lines
ignored), or a file holding one bare token. From a tokens file a call takes the
token of its role, and an admin token stands in for a viewer's. A token is 16
to 256 printable ASCII characters without spaces.
"""

from .errors import Error

ROLES = ("admin", "worker", "viewer")


def check_token(token, where):
    """Raises Error(INVALID_ARGUMENT) unless `token` is 16..256 printable
    ASCII characters without spaces."""
    if not 16 <= len(token) <= 256:
        raise Error("INVALID_ARGUMENT",
                    f"{where}: a token has 16 to 256 characters")
    if any(not ("!" <= c <= "~") for c in token):
        raise Error("INVALID_ARGUMENT",
                    f"{where}: a token is printable ASCII, no spaces")


def _fields(line):
    return line.split("#", 1)[0].split()


def _read_lines(path):
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        raise Error("NOT_FOUND",
                    f"{path}: cannot read the token file") from None


def _tokens_file(lines):
    """[(role, token)] when every non-blank line is '<role> <token>' with a
    known role and a valid token, else None (then it is a bare-token file)."""
    pairs = []
    for line in lines:
        fields = _fields(line)
        if not fields:
            continue
        if len(fields) != 2 or fields[0] not in ROLES:
            return None
        if not 16 <= len(fields[1]) <= 256 or any(
                not ("!" <= c <= "~") for c in fields[1]):
            return None
        pairs.append((fields[0], fields[1]))
    return pairs or None


def token_for(path, role):
    """The token `role` ("viewer" or "admin") uses from the file at `path`.

    Errors (Error): NOT_FOUND when the file cannot be read; INVALID_ARGUMENT
    when a tokens file has no token of the role (nor an admin one), or a bare
    token file has no valid token.
    """
    lines = _read_lines(path)
    pairs = _tokens_file(lines)
    if pairs is not None:
        for wanted in (role, "admin"):
            for r, token in pairs:
                if r == wanted:
                    return token
        wanted = role if role == "admin" else f"{role} or admin"
        raise Error("INVALID_ARGUMENT", f"{path}: no {wanted} token")
    for line in lines[:1000]:
        fields = _fields(line)
        if not fields:
            continue
        if len(fields) > 1:
            break
        check_token(fields[0], path)
        return fields[0]
    raise Error("INVALID_ARGUMENT",
                f"{path}: no token (a token alone, or '<role> <token>' lines)")
