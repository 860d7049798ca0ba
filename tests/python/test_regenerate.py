"""The checked-in messages and stubs are what python/regenerate.sh makes from
today's protos, byte for byte: a proto change without a regeneration fails."""

import shutil
import subprocess
import unittest

from . import harness

V1 = harness.PYTHON_DIR / "moesweep" / "v1"


def generated(folder):
    return sorted(p.name for p in folder.iterdir()
                  if p.name.endswith(("_pb2.py", "_pb2_grpc.py")))


class RegenerateTest(unittest.TestCase):
    def test_regenerating_gives_the_checked_in_files(self):
        for tool in ("protoc", "bash"):
            if shutil.which(tool) is None:
                self.skipTest(f"no {tool} (Debian: protobuf-compiler)")
        out = harness.temp_dir(self.addCleanup)
        p = subprocess.run([str(harness.PYTHON_DIR / "regenerate.sh"),
                            str(out)], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        fresh = out / "moesweep" / "v1"
        self.assertEqual(generated(fresh), generated(V1))
        protos = sorted((harness.ROOT / "proto" / "moesweep" / "v1").glob(
            "*.proto"))
        self.assertEqual(len(generated(V1)), 2 * len(protos))
        for name in generated(V1):
            self.assertEqual((fresh / name).read_bytes(),
                             (V1 / name).read_bytes(),
                             f"{name} is stale: run python/regenerate.sh")


if __name__ == "__main__":
    unittest.main()
