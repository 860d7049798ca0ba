"""moesweep.tokens reads token files as `moesweep campaign` does
(cli/client.cc): a '<role> <token>' file by role, an admin token standing
in for a viewer's, or a file of one bare token."""

import os
import unittest
from unittest import mock

import moesweep
from moesweep.tokens import token_for

from . import harness

ADMIN = "a" * 40
VIEWER = "v" * 40
WORKER = "w" * 40


class TokenFileTest(unittest.TestCase):
    def write(self, text):
        path = harness.temp_dir(self.addCleanup) / "tokens"
        path.write_text(text)
        return str(path)

    def code(self, call):
        with self.assertRaises(moesweep.Error) as e:
            call()
        return e.exception.code

    def test_tokens_file_gives_each_role_its_token(self):
        path = self.write(f"# moesweep coordinator tokens\nadmin {ADMIN}\n"
                          f"worker {WORKER}\nviewer {VIEWER}  # reads\n\n")
        self.assertEqual(token_for(path, "viewer"), VIEWER)
        self.assertEqual(token_for(path, "admin"), ADMIN)

    def test_admin_token_stands_in_for_a_viewer(self):
        path = self.write(f"worker {WORKER}\nadmin {ADMIN}\n")
        self.assertEqual(token_for(path, "viewer"), ADMIN)

    def test_worker_token_alone_serves_no_reader(self):
        path = self.write(f"worker {WORKER}\n")
        self.assertEqual(self.code(lambda: token_for(path, "viewer")),
                         "INVALID_ARGUMENT")

    def test_viewer_token_alone_serves_no_admin(self):
        path = self.write(f"viewer {VIEWER}\n")
        self.assertEqual(token_for(path, "viewer"), VIEWER)
        with self.assertRaises(moesweep.Error) as e:
            token_for(path, "admin")
        self.assertIn("no admin token", e.exception.message)

    def test_bare_token_file(self):
        path = self.write(f"# my token\n\n  {VIEWER}  \n")
        self.assertEqual(token_for(path, "viewer"), VIEWER)
        self.assertEqual(token_for(path, "admin"), VIEWER)

    def test_short_bare_token_is_refused(self):
        path = self.write("short\n")
        self.assertEqual(self.code(lambda: token_for(path, "viewer")),
                         "INVALID_ARGUMENT")

    def test_unknown_role_is_no_token(self):
        path = self.write(f"superuser {ADMIN}\n")
        self.assertEqual(self.code(lambda: token_for(path, "viewer")),
                         "INVALID_ARGUMENT")

    def test_missing_file_is_not_found(self):
        path = str(harness.temp_dir(self.addCleanup) / "absent")
        self.assertEqual(self.code(lambda: token_for(path, "viewer")),
                         "NOT_FOUND")
        self.assertEqual(self.code(lambda: moesweep.Client(
            "127.0.0.1:1", token_file=path)), "NOT_FOUND")

    def test_client_prefers_flags_then_token_file_then_token(self):
        path = self.write(f"viewer {VIEWER}\n")
        env = {"MOESWEEP_TOKEN_FILE": path, "MOESWEEP_TOKEN": ADMIN}
        with mock.patch.dict(os.environ, env, clear=True):
            c = moesweep.Client()
            self.addCleanup(c.close)
            self.assertEqual(c.address, "127.0.0.1:7480")
            self.assertEqual(c._metadata("viewer"),
                             (("authorization", "Bearer " + VIEWER),))
            c = moesweep.Client("h:1", token=WORKER)
            self.addCleanup(c.close)
            self.assertEqual(c._metadata("admin"),
                             (("authorization", "Bearer " + WORKER),))
        with mock.patch.dict(os.environ, {"MOESWEEP_TOKEN": ADMIN},
                             clear=True):
            c = moesweep.Client()
            self.addCleanup(c.close)
            self.assertEqual(c._metadata("viewer"),
                             (("authorization", "Bearer " + ADMIN),))

    def test_malformed_token_is_invalid_argument(self):
        self.assertEqual(self.code(lambda: moesweep.Client(
            "127.0.0.1:1", token="has a space in it ....")),
                         "INVALID_ARGUMENT")


if __name__ == "__main__":
    unittest.main()
