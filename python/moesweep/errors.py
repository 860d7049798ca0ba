"""The one exception the client raises."""


class Error(Exception):
    """A failed call, or bad input to one, with its gRPC code.

    `code` is the canonical code's name ("NOT_FOUND", "UNAUTHENTICATED",
    "UNAVAILABLE", ...: google.rpc.Code, as the coordinator picks them, see
    STYLE.md H4) and `message` the coordinator's (or the client's) message.
    Input the client rejects before any call gets INVALID_ARGUMENT, a token
    file it cannot read NOT_FOUND, as `moesweep campaign` does.
    """

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @classmethod
    def from_rpc(cls, error, address):
        """From a grpc.RpcError; UNAVAILABLE names the coordinator's address,
        as the CLI's message does."""
        code = error.code().name if error.code() is not None else "UNKNOWN"
        message = error.details() or ""
        if code == "UNAVAILABLE":
            message = f"coordinator at {address} unavailable: {message}"
        return cls(code, message)
