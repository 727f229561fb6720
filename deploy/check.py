#!/usr/bin/env python3
"""Checks deploy/ without a container runtime (run by .ci/run).

- compose.yaml parses; every service has a health check, or is a one-off job; every build context
  and Dockerfile it names exists; every `depends_on` names a service, with a condition.
- Dockerfile: its `cargo build` is the project's release build (`--release --locked`), names only
  workspace packages, and every binary it copies out is one of theirs (`[[bin]]`).
- Kubernetes: every overlay renders with `kubectl kustomize` and validates offline against the
  Kubernetes schemas (`kubernetes-validate --strict`); the Deployment has both probes, a restricted
  securityContext and a grace period that covers `server.shutdown_grace_secs`, and secrets only as
  references; every key of the ConfigMap's TOML files is one config/default.toml documents.
"""

import pathlib
import re
import shlex
import subprocess
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
failures = []


def fail(message):
    failures.append(message)


def workspace_binaries():
    """Package name -> its binary names, for every workspace member."""
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())
    packages = {}
    for member in workspace["workspace"]["members"]:
        for path in ROOT.glob(member):
            manifest = path / "Cargo.toml"
            if not manifest.exists():
                continue
            crate = tomllib.loads(manifest.read_text())
            name = crate["package"]["name"]
            bins = [entry["name"] for entry in crate.get("bin", [])]
            if (path / "src" / "main.rs").exists() and not bins:
                bins = [name]
            packages[name] = bins
    return packages


def check_dockerfile():
    text = (DEPLOY / "Dockerfile").read_text()
    builds = re.findall(r"^RUN (cargo build[^\n]*)$", text, re.M)
    if len(builds) != 1:
        fail(f"Dockerfile: expected one `RUN cargo build`, found {len(builds)}")
        return
    words = shlex.split(builds[0])
    for flag in ("--release", "--locked"):
        if flag not in words:
            fail(f"Dockerfile: the build lacks {flag} (the project builds with it)")
    packages = workspace_binaries()
    named = [words[i + 1] for i, word in enumerate(words) if word == "-p"]
    binaries = set()
    for package in named:
        if package not in packages:
            fail(f"Dockerfile: builds `{package}`, which is not a workspace package")
        binaries.update(packages.get(package, []))
    for copied in re.findall(r"^COPY --from=build /src/target/release/(\S+) ", text, re.M):
        if copied not in binaries:
            fail(f"Dockerfile: copies `{copied}`, which the build does not produce")
    if not re.search(r"^USER (?!0\b|root\b)", text, re.M):
        fail("Dockerfile: the runtime stage must run as a non-root user")
    if "HEALTHCHECK" not in text:
        fail("Dockerfile: no HEALTHCHECK")


def check_compose():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose.get("services", {})
    for name, service in services.items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            if not context.is_dir():
                fail(f"compose: {name}: build context {context} does not exist")
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            if not dockerfile.is_file():
                fail(f"compose: {name}: {dockerfile} does not exist")
        one_off = service.get("restart") == "no"
        if not one_off and "healthcheck" not in service:
            fail(f"compose: {name} has no health check")
        for dependency, condition in (service.get("depends_on") or {}).items():
            if dependency not in services:
                fail(f"compose: {name} depends on unknown service {dependency}")
            if "condition" not in (condition or {}):
                fail(f"compose: {name} depends on {dependency} without a condition")
    gateway = services.get("gateway", {})
    needs = gateway.get("depends_on", {})
    if needs.get("migrate", {}).get("condition") != "service_completed_successfully":
        fail("compose: the gateway must wait for the migration to complete")
    if gateway.get("environment", {}).get("PAYGATE_DATABASE__MIGRATE_ON_START") != "false":
        fail("compose: the gateway must not migrate on start (the migrate service does)")


def flatten(table, prefix=""):
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from flatten(value, path + ".")
        else:
            yield path


def documented_keys():
    """Every key of config/default.toml and of each provider crate's documented section
    (crates/*/config.toml, layered under it by the gateway)."""
    keys = set(flatten(tomllib.loads((ROOT / "config" / "default.toml").read_text())))
    for section in (ROOT / "crates").glob("*/config.toml"):
        keys |= set(flatten(tomllib.loads(section.read_text())))
    return keys


def check_kubernetes():
    documented = documented_keys()
    for toml in (DEPLOY / "k8s").rglob("*.toml"):
        for key in flatten(tomllib.loads(toml.read_text())):
            if key not in documented:
                fail(f"{toml.relative_to(ROOT)}: `{key}` is not a setting (config/default.toml, crates/*/config.toml)")
    grace = tomllib.loads((DEPLOY / "k8s" / "base" / "paygate.toml").read_text())["server"][
        "shutdown_grace_secs"
    ]
    for overlay in sorted((DEPLOY / "k8s" / "overlays").iterdir()):
        rendered = subprocess.run(
            ["kubectl", "kustomize", str(overlay)], capture_output=True, text=True
        )
        if rendered.returncode != 0:
            fail(f"k8s {overlay.name}: kustomize failed: {rendered.stderr.strip()}")
            continue
        out = DEPLOY / "k8s" / f".rendered-{overlay.name}.yaml"
        out.write_text(rendered.stdout)
        try:
            validated = subprocess.run(
                ["kubernetes-validate", "--strict", "--quiet", "-k", "1.30.0", str(out)],
                capture_output=True,
                text=True,
            )
        finally:
            out.unlink()
        if validated.returncode != 0:
            fail(f"k8s {overlay.name}: {validated.stdout.strip()} {validated.stderr.strip()}")
        documents = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
        kinds = {doc["kind"] for doc in documents}
        for kind in (
            "Deployment",
            "Service",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "ConfigMap",
            "Job",
        ):
            if kind not in kinds:
                fail(f"k8s {overlay.name}: no {kind}")
        for doc in documents:
            if doc["kind"] == "Secret":
                fail(f"k8s {overlay.name}: a Secret with values is in the manifests")
            if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "paygate":
                check_gateway_deployment(overlay.name, doc, grace)


def check_gateway_deployment(overlay, deployment, grace):
    pod = deployment["spec"]["template"]
    spec = pod["spec"]
    container = spec["containers"][0]
    where = f"k8s {overlay}: Deployment paygate"
    if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        fail(f"{where}: readiness probe must be /readyz")
    if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        fail(f"{where}: liveness probe must be /healthz")
    if "resources" not in container or "requests" not in container["resources"]:
        fail(f"{where}: no resource requests")
    security = container.get("securityContext", {})
    if security.get("allowPrivilegeEscalation") is not False or security.get(
        "capabilities", {}
    ).get("drop") != ["ALL"]:
        fail(f"{where}: the container's securityContext is not restricted")
    if spec.get("securityContext", {}).get("runAsNonRoot") is not True:
        fail(f"{where}: the pod must run as non-root")
    stop = 0
    pre_stop = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command")
    if pre_stop and pre_stop[0] == "sleep":
        stop = int(pre_stop[1])
    if spec.get("terminationGracePeriodSeconds", 30) <= stop + grace:
        fail(
            f"{where}: terminationGracePeriodSeconds must exceed preStop ({stop} s) + "
            f"server.shutdown_grace_secs ({grace} s)"
        )
    for variable in container.get("env", []):
        if "value" in variable and re.search(
            r"SECRET|KEY|PASSWORD|DATABASE__URL", variable["name"]
        ):
            fail(f"{where}: {variable['name']} must be a secretKeyRef, not a value")
    annotations = pod["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/scrape") != "true":
        fail(f"{where}: no Prometheus scrape annotations")


check_dockerfile()
check_compose()
check_kubernetes()
if failures:
    for failure in failures:
        print(f"deploy: {failure}", file=sys.stderr)
    sys.exit(1)
print("deploy: Dockerfile, compose.yaml and every Kubernetes overlay check out")
