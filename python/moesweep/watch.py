"""Watch: a campaign's events as an iterator (CampaignService.Watch)."""

import threading

import grpc

from . import convert
from .errors import Error
from .v1 import campaign_pb2 as cpb


class Watch:
    """The events of one campaign as an iterator of dicts (CampaignEvent).

    Resumes by itself when the coordinator drops a watcher that fell behind
    (RESOURCE_EXHAUSTED), from the last stored event it yielded, as `moesweep
    campaign watch` does; the snapshot is yielded once, not again on resume.
    Ends when the campaign reaches a final state, or on cancel().
    """

    def __init__(self, client, campaign_id, after_event_seq, include_progress):
        self._client = client
        self._request = cpb.WatchCampaignRequest(
            campaign_id=campaign_id, after_event_seq=after_event_seq,
            include_progress=include_progress)
        self._call = None
        self._cancelled = False
        self._lock = threading.Lock()
        self._iter = self._events()

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._iter)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()

    def cancel(self):
        """Ends the stream; the iterator then stops. Safe from any thread."""
        with self._lock:
            self._cancelled = True
            if self._call is not None:
                self._call.cancel()

    def _events(self):
        c = self._client
        first = True
        for resumes in range(1001):
            with self._lock:
                if self._cancelled:
                    return
                self._call = c._stub.Watch(self._request,
                                           metadata=c._metadata("viewer"))
            try:
                for event in self._call:
                    if event.HasField("snapshot") and not first:
                        continue
                    first = False
                    if event.event_seq > 0:
                        self._request.after_event_seq = event.event_seq
                    yield convert.to_dict(event)
                return
            except grpc.RpcError as e:
                if self._cancelled:
                    return
                if (e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and
                        resumes < 1000):
                    continue
                raise Error.from_rpc(e, c.address) from None
