#!/usr/bin/env python3
"""One line per interesting event of `moesweep campaign watch` (JSON lines)."""
import json
import sys

for line in sys.stdin:
    e = json.loads(line)
    if "snapshot" in e:
        print(f"campaign {e['campaignId']}: {e['snapshot'].get('state')}")
    elif "trialFinished" in e:
        f = e["trialFinished"]
        loss = f.get("finalEvalLoss")
        what = f"eval loss {loss:.4f}" if loss is not None else f.get("message", "")
        print(f"  {f['trialId']} attempt {f.get('attempt', 1)}: {f['state']} {what}")
    elif "answerUpdated" in e:
        a = e["answerUpdated"]["answer"]
        i = a.get("interval", {})
        print(f"  answer {a.get('value', 0):.4f} [{i.get('lower', 0):.4f}, "
              f"{i.get('upper', 0):.4f}] (law v{a.get('lawVersion')})")
    elif "stateChanged" in e:
        s = e["stateChanged"]
        print(f"campaign {e['campaignId']}: {s['state']}: {s.get('reason', '')}")
    elif "validated" in e:
        v = e["validated"]
        i = v.get("predictedInterval", {})
        obs = v.get("observedLoss")
        seen = f"observed {obs:.4f}" if obs is not None else "not observed"
        print(f"  validation {v['trialId']} at {v.get('flopsMultiple', 0):.1f}x the largest "
              f"run's FLOPs: predicted {v.get('predictedLoss', 0):.4f} "
              f"[{i.get('lower', 0):.4f}, {i.get('upper', 0):.4f}], {seen}, "
              f"log error {v.get('logError', 0):+.4f}, "
              f"{'inside' if v.get('inside') else 'OUTSIDE'} the 95% new-run interval")
