"""moesweep.convert: messages become dicts of typed values, absent fields
None, and a oneof names its member."""

import unittest

from moesweep import convert
from moesweep.v1 import campaign_state_pb2 as spb
from moesweep.v1 import common_pb2


class ToDictTest(unittest.TestCase):
    def test_int64_is_int_and_enums_are_names(self):
        spec = common_pb2.TrialSpec(train_tokens=2 ** 40, seed=2 ** 63 + 1,
                                    attempt=3)
        spec.schedule.schedule = common_pb2.LR_SCHEDULE_COSINE
        d = convert.to_dict(spec)
        self.assertEqual(d["train_tokens"], 2 ** 40)
        self.assertIsInstance(d["train_tokens"], int)
        self.assertEqual(d["seed"], 2 ** 63 + 1)
        self.assertEqual(d["schedule"]["schedule"], "LR_SCHEDULE_COSINE")
        self.assertEqual(d["eval_at_tokens"], [])

    def test_absent_optional_and_message_fields_are_none(self):
        d = convert.to_dict(spb.Trial())
        self.assertIsNone(d["final_eval_loss"])
        self.assertIsNone(d["validation"])
        self.assertEqual(d["trained_tokens"], 0)
        d = convert.to_dict(spb.Trial(final_eval_loss=0.0))
        self.assertEqual(d["final_eval_loss"], 0.0)

    def test_oneof_names_its_member(self):
        e = spb.CampaignEvent(event_seq=5)
        e.state_changed.state = spb.CAMPAIGN_STATE_SUCCEEDED
        d = convert.to_dict(e)
        self.assertEqual(d["kind"], "state_changed")
        self.assertIsNone(d["snapshot"])
        self.assertEqual(d["state_changed"]["state"],
                         "CAMPAIGN_STATE_SUCCEEDED")
        self.assertIsNone(convert.to_dict(spb.CampaignEvent())["kind"])

    def test_flatten_joins_keys_and_drops_absent_messages(self):
        t = spb.Trial(final_eval_loss=1.5)
        t.spec.architecture.d_model = 64
        d = convert.to_dict(t)
        flat = convert.flatten(d)
        self.assertEqual(flat["final_eval_loss"], 1.5)
        self.assertEqual(flat["spec.architecture.d_model"], 64)
        self.assertNotIn("validation", flat)


if __name__ == "__main__":
    unittest.main()
