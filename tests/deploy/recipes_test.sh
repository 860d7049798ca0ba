#!/usr/bin/env bash
# deploy_recipes (issue 15): the cluster recipes under deploy/ are well formed
# and say what the coordinator and the workers need.
#   - deploy/k8s renders with `kubectl kustomize` (without kubectl: every file
#     the kustomization lists exists and parses) into a Namespace, a 1-replica
#     StatefulSet with a volumeClaimTemplate holding --db, a Service with
#     ports grpc and metrics, a Secret mounted for --tokens and --token-file,
#     native gRPC probes, prometheus.io/* annotations, non-root read-only
#     containers, and a worker Deployment that requests nvidia.com/gpu, points
#     at the Service and has a terminationGracePeriodSeconds >= 30;
#   - every flag a recipe passes to `moesweep coordinator` or `moesweep
#     worker` is one the CLI defines (cli/*_command.cc);
#   - shellcheck on the Slurm script and every shell script under deploy/ and
#     tests/deploy/;
#   - yamllint (deploy/.yamllint) on deploy/k8s and deploy/docker/compose.yaml,
#     or a YAML parse where yamllint is missing;
#   - each deploy/docker/Dockerfile.* has a FROM with a pinned tag (not
#     latest, not left out) and ends as a non-root USER.
# Needs bash, python3 with PyYAML and shellcheck; kubectl and yamllint when
# present. Usage: recipes_test.sh REPO_ROOT. Exits 1 naming each failed check.
set -uo pipefail  # not -e: every check runs, and each failure is reported

root=${1:?usage: recipes_test.sh REPO_ROOT}
cd "$root" || { echo "FAIL: cannot cd to $root"; exit 2; }

passed=0
failed=0
pass() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }

# check NAME COMMAND...: passes when COMMAND exits 0; otherwise fails and
# shows what COMMAND printed, indented.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    pass "$name"
  else
    fail "$name"
    printf '%s\n' "$out" | sed 's/^/    /'
  fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The structural checks, in Python: `python3 -c "$checker" VERB ARGS...`
# prints one line a problem and exits 1 when there is any.
read -r -d '' checker <<'PY'
import os, re, sys, yaml

problems = []
def bad(msg): problems.append(msg)

def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]

def cli_flags(subcommand):
    # Flags of `moesweep <subcommand>`, from add_option/add_flag calls.
    with open(f"cli/{subcommand}_command.cc") as f:
        text = f.read()
    if "AddConnectionFlags(" in text:  # --coordinator, --token-file, --tls-ca
        with open("cli/client.cc") as f:
            text += f.read()
    return set(re.findall(r'add_(?:option|flag)\(\s*"(--[a-z0-9-]+)"', text))

def check_args(where, args):
    # args: [subcommand, --flag=value | --flag value ...]
    if not args or args[0] not in ("coordinator", "worker"):
        bad(f"{where}: expected `coordinator` or `worker` first, got {args[:1]}")
        return
    known = cli_flags(args[0])
    for a in args[1:]:
        if isinstance(a, str) and a.startswith("--"):
            flag = a.split("=", 1)[0]
            if flag not in known:
                bad(f"{where}: `moesweep {args[0]}` has no flag {flag} "
                    f"(it has {' '.join(sorted(known))})")

def flag_value(args, flag):
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
        if a == flag and i + 1 < len(args):
            return args[i + 1]
    return None

def under(path, mounts):
    return [m for m in mounts if path == m["mountPath"] or
            path.startswith(m["mountPath"].rstrip("/") + "/")]

def pod_checks(kind, obj, secrets):
    name = f"{kind} {obj['metadata']['name']}"
    tmpl = obj["spec"]["template"]
    spec = tmpl["spec"]
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    psc = spec.get("securityContext", {})
    for c in spec["containers"]:
        where = f"{name}: container {c['name']}"
        args = [str(a) for a in c.get("command", [])[1:] + c.get("args", [])]
        if c.get("command", [None])[0] not in ("moesweep", None):
            bad(f"{where}: command is not moesweep")
        check_args(where, args)
        csc = c.get("securityContext", {})
        if not (csc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            bad(f"{where}: runAsNonRoot is not set")
        if not csc.get("readOnlyRootFilesystem"):
            bad(f"{where}: readOnlyRootFilesystem is not true")
        if csc.get("allowPrivilegeEscalation") is not False:
            bad(f"{where}: allowPrivilegeEscalation is not false")
        mounts = c.get("volumeMounts", [])
        for flag in ("--tokens", "--token-file"):
            path = flag_value(args, flag)
            if path is None:
                continue
            ok = [m for m in under(path, mounts)
                  if volumes.get(m["name"], {}).get("secret", {})
                  .get("secretName") in secrets]
            if not ok:
                bad(f"{where}: {flag}={path} is not in a mounted Secret of "
                    f"this kustomization ({sorted(secrets)})")
    return args, spec, tmpl

def check_k8s(mode, rendered):
    docs = load_all(rendered)
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d.get("kind"), []).append(d)
    if mode == "rendered":
        if not any(d["metadata"]["name"] == "moesweep"
                   for d in by_kind.get("Namespace", [])):
            bad("no Namespace moesweep")
        for d in docs:
            if d.get("kind") != "Namespace" and \
                    d["metadata"].get("namespace") != "moesweep":
                bad(f"{d['kind']} {d['metadata']['name']}: not in namespace moesweep")
    secrets = {d["metadata"]["name"] for d in by_kind.get("Secret", [])}
    if not secrets:
        bad("no Secret")
    services = by_kind.get("Service", [])
    svc_ports = {}
    for s in services:
        ports = {p.get("name"): p["port"] for p in s["spec"].get("ports", [])}
        svc_ports[s["metadata"]["name"]] = ports
        for want in ("grpc", "metrics"):
            if want not in ports:
                bad(f"Service {s['metadata']['name']}: no port named {want}")
    if not services:
        bad("no Service")

    sts = by_kind.get("StatefulSet", [])
    if len(sts) != 1:
        bad(f"want one StatefulSet (the coordinator), got {len(sts)}")
    for s in sts:
        name = f"StatefulSet {s['metadata']['name']}"
        if s["spec"].get("replicas") != 1:
            bad(f"{name}: replicas must be 1 (one RocksDB store)")
        if s["spec"].get("serviceName") not in svc_ports:
            bad(f"{name}: serviceName names no Service")
        vcts = [v["metadata"]["name"] for v in s["spec"].get("volumeClaimTemplates", [])]
        if not vcts:
            bad(f"{name}: no volumeClaimTemplates")
        args, spec, tmpl = pod_checks("StatefulSet", s, secrets)
        c = spec["containers"][0]
        db = flag_value(args, "--db")
        if db is None or not [m for m in under(db, c.get("volumeMounts", []))
                              if m["name"] in vcts]:
            bad(f"{name}: --db={db} is not on a volumeClaimTemplate's volume")
        for probe in ("livenessProbe", "readinessProbe"):
            if "grpc" not in c.get(probe, {}):
                bad(f"{name}: {probe} is not a native grpc probe")
        ann = tmpl["metadata"].get("annotations", {})
        if ann.get("prometheus.io/scrape") != "true":
            bad(f"{name}: pod template lacks prometheus.io/scrape: \"true\"")
        ports = {p["containerPort"] for p in c.get("ports", [])}
        if not str(ann.get("prometheus.io/port", "")).isdigit() or \
                int(ann["prometheus.io/port"]) not in ports:
            bad(f"{name}: prometheus.io/port is not a container port")
        if ann.get("prometheus.io/path") != "/metrics":
            bad(f"{name}: prometheus.io/path is not /metrics")
        metrics = flag_value(args, "--metrics") or ""
        if not metrics.startswith(("0.0.0.0:", "[::]:")):
            bad(f"{name}: --metrics={metrics} is not reachable from outside the pod")
        listen = flag_value(args, "--listen") or ""
        if not listen.startswith(("0.0.0.0:", "[::]:")):
            bad(f"{name}: --listen={listen} is not reachable from outside the pod")

    deps = by_kind.get("Deployment", [])
    if not deps:
        bad("no Deployment (the workers)")
    for d in deps:
        name = f"Deployment {d['metadata']['name']}"
        args, spec, _ = pod_checks("Deployment", d, secrets)
        gpu = [c for c in spec["containers"]
               if int(c.get("resources", {}).get("limits", {})
                      .get("nvidia.com/gpu", 0)) >= 1]
        if not gpu:
            bad(f"{name}: no container requests nvidia.com/gpu in its limits")
        grace = spec.get("terminationGracePeriodSeconds")
        if not isinstance(grace, int) or grace < 30:
            bad(f"{name}: terminationGracePeriodSeconds is {grace}; a worker "
                "needs time to report its run preempted on SIGTERM")
        coord = flag_value(args, "--coordinator") or ""
        host, _, port = coord.rpartition(":")
        svc = host.split(".")[0]
        if svc not in svc_ports or not port.isdigit() or \
                int(port) != svc_ports[svc].get("grpc"):
            bad(f"{name}: --coordinator={coord} is not a Service's grpc port")

def check_kustomization(out):
    # Without kubectl: every listed file exists and parses; writes the
    # resources (and a Secret for each secretGenerator) to `out`.
    k = load_all("deploy/k8s/kustomization.yaml")[0]
    docs = []
    for r in k.get("resources", []):
        path = os.path.join("deploy/k8s", r)
        if not os.path.isfile(path):
            bad(f"kustomization.yaml lists {r}, which does not exist")
            continue
        try:
            docs += load_all(path)
        except yaml.YAMLError as e:
            bad(f"{path}: not YAML: {e}")
    for g in k.get("secretGenerator", []):
        for f in g.get("files", []):
            path = os.path.join("deploy/k8s", f.split("=", 1)[-1])
            if not os.path.isfile(path):
                bad(f"secretGenerator {g['name']}: {path} does not exist")
        docs.append({"kind": "Secret", "metadata": {"name": g["name"]}})
    with open(out, "w") as f:
        yaml.safe_dump_all(docs, f)

def check_k8s_extras():
    k = load_all("deploy/k8s/kustomization.yaml")[0]
    if "servicemonitor.yaml" in k.get("resources", []):
        bad("servicemonitor.yaml is listed in kustomization.yaml "
            "(it needs the Prometheus Operator's CRDs: keep it optional)")
    sm = load_all("deploy/k8s/servicemonitor.yaml")[0]
    if sm.get("kind") != "ServiceMonitor" or \
            [e.get("port") for e in sm["spec"]["endpoints"]] != ["metrics"]:
        bad("servicemonitor.yaml: want a ServiceMonitor on port metrics")
    # The example Secret's worker token is the tokens file's worker line.
    tokens = worker = None
    for g in k.get("secretGenerator", []):
        for f in g.get("files", []):
            key, path = f.split("=", 1)
            with open(os.path.join("deploy/k8s", path)) as fh:
                lines = [l.split("#")[0].split() for l in fh]
            lines = [l for l in lines if l]
            if key == "tokens":
                tokens = {l[1] for l in lines if l[0] == "worker"}
            elif key == "worker-token":
                worker = lines[0][0] if lines else None
    if not tokens or worker not in tokens:
        bad("the Secret's worker-token is not the worker line of its tokens")

def check_compose(path):
    c = load_all(path)[0]
    services = c.get("services", {})
    for want in ("coordinator", "prometheus", "grafana"):
        if want not in services:
            bad(f"{path}: no service {want}")
    workers = [n for n, s in services.items()
               if s.get("command", [None])[0] == "worker"]
    if len(workers) < 2:
        bad(f"{path}: want 2 workers, got {workers}")
    for n, s in services.items():
        cmd = s.get("command")
        if cmd and cmd[0] in ("coordinator", "worker"):
            check_args(f"{path}: {n}", [str(a) for a in cmd])
        image = s.get("image", "")
        if image.startswith("moesweep/"):
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.split("/")[-1] else ""
        if tag in ("", "latest") and "@sha256:" not in image:
            bad(f"{path}: {n}: image {image!r} is not pinned to a tag")
    vols = " ".join(v for s in services.values() for v in s.get("volumes", []))
    for want in ("../prometheus:", "../grafana/provisioning:"):
        if want not in vols:
            bad(f"{path}: nothing mounts {want.rstrip(':')}")

def check_text_flags(path, subcommand, start, end):
    # Flags in the lines from `start` to `end` (regexes) of a script or unit.
    with open(path) as f:
        text = f.read()
    m = re.search(start + r"(.*?)" + end, text, re.S)
    if not m:
        bad(f"{path}: no `moesweep {subcommand}` call found")
        return
    args = [subcommand] + re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", m.group(1))
    check_args(path, args)

def check_dockerfile(path):
    lines, cur = [], ""
    with open(path) as f:
        for raw in f:
            s = raw.rstrip("\n")
            if not cur and (not s.strip() or s.lstrip().startswith("#")):
                continue
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            lines.append(cur + s)
            cur = ""
    stages, user = [], None
    for l in lines:
        words = l.split()
        op = words[0].upper()
        if op == "FROM":
            words = [w for w in words[1:] if not w.startswith("--")]
            image = words[0]
            if image.lower() not in stages and image != "scratch":
                if "@sha256:" in image:
                    pass
                elif ":" not in image.split("/")[-1]:
                    bad(f"{path}: FROM {image} has no tag (that is latest)")
                elif image.rsplit(":", 1)[1] == "latest":
                    bad(f"{path}: FROM {image}: pin a tag, not latest")
            if len(words) >= 3 and words[1].upper() == "AS":
                stages.append(words[2].lower())
            user = None
        elif op == "USER":
            user = words[1]
    if not stages and not any(l.split()[0].upper() == "FROM" for l in lines):
        bad(f"{path}: no FROM")
    if user is None:
        bad(f"{path}: the final stage sets no USER (it would run as root)")
    elif user.split(":")[0] in ("root", "0"):
        bad(f"{path}: the final stage runs as {user}")

verb, args = sys.argv[1], sys.argv[2:]
try:
    if verb == "k8s":
        check_k8s(*args)
    elif verb == "kustomization":
        check_kustomization(*args)
    elif verb == "k8s-extras":
        check_k8s_extras()
    elif verb == "compose":
        check_compose(*args)
    elif verb == "text-flags":
        check_text_flags(*args)
    elif verb == "dockerfile":
        check_dockerfile(*args)
    elif verb == "parse":
        for path in args:
            load_all(path)
    else:
        bad(f"unknown verb {verb}")
except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError,
        ValueError, AttributeError) as e:
    bad(f"{type(e).__name__}: {e}")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PY
py() { python3 -c "$checker" "$@"; }

have_yaml=0
if python3 -c 'import yaml' 2>/dev/null; then
  have_yaml=1
else
  fail "python3 with PyYAML (Debian: python3-yaml) is needed for the checks below"
fi

# --- Kubernetes -------------------------------------------------------------
if command -v kubectl >/dev/null; then
  render() { kubectl kustomize deploy/k8s > "$tmp/k8s.yaml"; }
  check "kubectl kustomize deploy/k8s" render
  mode=rendered
else
  echo "note: no kubectl; checking deploy/k8s/kustomization.yaml's files instead"
  if ((have_yaml)); then
    check "deploy/k8s: every listed file exists and parses" \
      py kustomization "$tmp/k8s.yaml"
  fi
  mode=raw
fi
if ((have_yaml)) && [[ -s "$tmp/k8s.yaml" ]]; then
  check "deploy/k8s: coordinator, Service, Secret, workers ($mode)" \
    py k8s "$mode" "$tmp/k8s.yaml"
  check "deploy/k8s: optional ServiceMonitor, example tokens agree" \
    py k8s-extras
fi

# --- Flags in the Slurm script, the systemd unit and compose ----------------
if ((have_yaml)); then
  check "deploy/slurm/worker-array.sbatch: worker flags exist" \
    py text-flags deploy/slurm/worker-array.sbatch worker \
    'args=\(worker' 'exec '
  check "deploy/slurm/moesweep-coordinator.service: coordinator flags exist" \
    py text-flags deploy/slurm/moesweep-coordinator.service coordinator \
    'ExecStart=\S*moesweep coordinator' '\n[^ \n]'
  check "deploy/docker/compose.yaml: services, flags, pinned images" \
    py compose deploy/docker/compose.yaml
fi

# --- Shell scripts ----------------------------------------------------------
scripts=()
while IFS= read -r -d '' f; do
  case $f in
    *.sh | *.sbatch) scripts+=("$f") ;;
    *) if head -n1 "$f" | grep -qE '^#!.*\b(ba|da)?sh\b'; then scripts+=("$f"); fi ;;
  esac
done < <(find deploy tests/deploy -type f -print0 | sort -z)
if ! command -v shellcheck >/dev/null; then
  fail "shellcheck is not installed (Debian: shellcheck)"
elif ((${#scripts[@]} == 0)); then
  fail "no shell scripts found under deploy/ and tests/deploy/"
else
  check "shellcheck ${scripts[*]}" shellcheck "${scripts[@]}"
fi

# --- YAML -------------------------------------------------------------------
yaml_files=(deploy/k8s/*.yaml deploy/docker/compose.yaml)
if command -v yamllint >/dev/null; then
  check "yamllint ${yaml_files[*]}" \
    yamllint --strict -c deploy/.yamllint "${yaml_files[@]}"
elif ((have_yaml)); then
  echo "note: no yamllint; parsing the YAML instead"
  check "YAML parses: ${yaml_files[*]}" py parse "${yaml_files[@]}"
fi

# --- Dockerfiles ------------------------------------------------------------
dockerfiles=()
for f in deploy/docker/Dockerfile.*; do
  [[ $f == *.dockerignore ]] || dockerfiles+=("$f")
done
if ((${#dockerfiles[@]} == 0)); then
  fail "no deploy/docker/Dockerfile.*"
elif ((have_yaml)); then
  for f in "${dockerfiles[@]}"; do
    check "$f: pinned FROM, non-root USER" py dockerfile "$f"
  done
fi

echo "deploy_recipes: $passed passed, $failed failed"
((failed == 0))
