"""A small Kubernetes API server stand-in for rel's tests.

It speaks the Kubernetes REST wire protocol on loopback over plain HTTP:
discovery (/api, /api/v1, /apis/GROUP/VERSION), GET and LIST with equality
label selectors, server-side apply (PATCH application/apply-patch+yaml with
fieldManager, force and dryRun; managedFields in FieldsV1; conflicts as
409 Status with causes), merge PATCH as an "Update" manager (what
`kubectl edit` and `kubectl scale` amount to), DELETE (a namespace takes
its objects with it), and the defaults and status a real server adds for
the kinds rel emits.

What it does not do (see README): authentication, watches, admission,
OpenAPI validation, schema-aware list merging (every list is atomic, as
`x-kubernetes-list-type: atomic` lists are; a real server merges
containers, ports and env by key), quantity normalisation, immutable
fields other than a Job's template and selector, finalizers and graceful
deletion (a delete is immediate; a namespace takes its objects at once),
resourceVersion preconditions on apply, controllers (no pods run; a
workload's status is set at once: ready, or never ready when its image
contains the --unready-image text).

Usage: python3 kube_standin.py --port PORT [--unready-image TEXT]
"""

import copy
import datetime
import json
import threading
import uuid
from urllib.parse import parse_qs, urlparse

from loopback import JsonHandler, serve

# group/version -> [(plural, kind, namespaced)]
RESOURCES = {
    "v1": [
        ("namespaces", "Namespace", False),
        ("secrets", "Secret", True),
        ("configmaps", "ConfigMap", True),
        ("services", "Service", True),
        ("serviceaccounts", "ServiceAccount", True),
    ],
    "apps/v1": [
        ("deployments", "Deployment", True),
        ("statefulsets", "StatefulSet", True),
        ("daemonsets", "DaemonSet", True),
    ],
    "batch/v1": [("jobs", "Job", True), ("cronjobs", "CronJob", True)],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True)],
    "rbac.authorization.k8s.io/v1": [
        ("roles", "Role", True),
        ("rolebindings", "RoleBinding", True),
        ("clusterroles", "ClusterRole", False),
        ("clusterrolebindings", "ClusterRoleBinding", False),
    ],
}

LOCK = threading.Lock()
OBJECTS = {}  # (group_version, plural, namespace or "", name) -> object
OWNERS = {}  # same key -> {manager: (operation, set of paths)}
STATE = {"rv": 1000, "unready": None, "ip": 10}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def status(code, reason, message, causes=None):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure" if code >= 400 else "Success",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if causes:
        body["details"] = {"causes": causes}
    return code, body


def leaves(value, prefix=()):
    """Paths to every leaf; lists and empty maps are leaves (atomic)."""
    if isinstance(value, dict) and value:
        out = set()
        for k, v in value.items():
            out |= leaves(v, prefix + (k,))
        return out
    return {prefix}


def get_path(obj, path):
    for k in path:
        if not isinstance(obj, dict) or k not in obj:
            return None, False
        obj = obj[k]
    return obj, True


def delete_path(obj, path):
    parents = []
    for k in path[:-1]:
        if not isinstance(obj, dict) or k not in obj:
            return
        parents.append((obj, k))
        obj = obj[k]
    if isinstance(obj, dict):
        obj.pop(path[-1], None)
    # Drop maps left empty by the removal.
    for parent, k in reversed(parents):
        if parent[k] == {}:
            del parent[k]
        else:
            break


def set_path(obj, path, value):
    for k in path[:-1]:
        if not isinstance(obj.get(k), dict):
            obj[k] = {}
        obj = obj[k]
    obj[path[-1]] = copy.deepcopy(value)


def subset(want, have):
    """Whether everything in `want` is in `have` (server defaults aside)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(subset(v, have.get(k)) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(have, list) and len(want) == len(have) and all(subset(a, b) for a, b in zip(want, have))
    return want == have


def fields_v1(paths):
    tree = {}
    for p in sorted(paths):
        node = tree
        for k in p:
            node = node.setdefault("f:" + k, {})
    return tree


IGNORED = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}


def owned(paths):
    return {p for p in paths if p not in IGNORED and p and p[0] != "status"}


def managed_fields(key, obj):
    out = []
    for manager, (operation, paths) in sorted(OWNERS.get(key, {}).items()):
        if not paths:
            continue
        out.append(
            {
                "manager": manager,
                "operation": operation,
                "apiVersion": obj["apiVersion"],
                "time": now(),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(paths),
            }
        )
    return out


def container_defaults(spec):
    for c in spec.get("containers", []) or []:
        image = c.get("image", "")
        c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        for p in c.get("ports", []) or []:
            p.setdefault("protocol", "TCP")
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})


def images(obj):
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return [c.get("image", "") for c in spec.get("containers", []) or []]


def defaults(kind, obj):
    """What a real API server adds."""
    spec = obj.setdefault("spec", {}) if kind not in ("Secret", "ConfigMap", "ServiceAccount") else None
    if kind == "Namespace":
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        spec.setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind == "Service":
        if "clusterIP" not in spec:
            STATE["ip"] += 1
            spec["clusterIP"] = "10.96.0.%d" % STATE["ip"]
            spec["clusterIPs"] = [spec["clusterIP"]]
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilies", ["IPv4"])
        for p in spec.get("ports", []) or []:
            p.setdefault("protocol", "TCP")
        obj["status"] = {"loadBalancer": {}}
    elif kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        template = spec.setdefault("template", {}).setdefault("spec", {})
        container_defaults(template)
        if kind == "Deployment":
            spec.setdefault("replicas", 1)
            spec.setdefault("revisionHistoryLimit", 10)
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault(
                "strategy",
                {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            )
        if kind == "Job":
            spec.setdefault("completions", 1)
            spec.setdefault("parallelism", 1)
            spec.setdefault("backoffLimit", 6)


def workload_status(kind, obj):
    """What the controllers report, at once: ready, or never ready."""
    spec = obj.get("spec", {})
    if kind in ("Deployment", "StatefulSet", "DaemonSet"):
        unready = STATE["unready"] and any(STATE["unready"] in i for i in images(obj))
        generation = obj["metadata"]["generation"]
        n = spec.get("replicas", 1)
        if kind == "Deployment":
            ready = not unready
            name = obj["metadata"]["name"]
            counts = {"readyReplicas": n, "availableReplicas": n} if ready else {"unavailableReplicas": n}
            obj["status"] = dict(
                {"observedGeneration": generation, "replicas": n, "updatedReplicas": n},
                **counts,
                conditions=[
                    {"type": "Available", "status": str(ready),
                     "reason": "MinimumReplicasAvailable" if ready else "MinimumReplicasUnavailable",
                     "message": "Deployment %s minimum availability." % ("has" if ready else "does not have")},
                    {"type": "Progressing", "status": str(ready),
                     "reason": "NewReplicaSetAvailable" if ready else "ProgressDeadlineExceeded",
                     "message": 'ReplicaSet "%s-7d4b9c" has %s.' % (
                         name, "successfully progressed" if ready else "timed out progressing")},
                ],
            )
        elif kind == "StatefulSet":
            ready = 0 if unready else n
            obj["status"] = {"observedGeneration": generation, "replicas": n, "updatedReplicas": n,
                             "readyReplicas": ready, "availableReplicas": ready}
        elif kind == "DaemonSet":
            ready = 0 if unready else 2
            obj["status"] = {"observedGeneration": generation, "desiredNumberScheduled": 2,
                             "currentNumberScheduled": 2, "updatedNumberScheduled": 2,
                             "numberAvailable": ready, "numberReady": ready}


def locate(path):
    """URL path -> (group_version, plural, namespace, name) or a discovery answer."""
    parts = [p for p in path.split("/") if p]
    if parts[:1] == ["api"]:
        gv, rest = "v1", parts[2:]
        if len(parts) == 1:
            return ("discovery", {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
    elif parts[:1] == ["apis"] and len(parts) >= 3:
        gv, rest = parts[1] + "/" + parts[2], parts[3:]
    elif parts[:1] == ["apis"]:
        groups = sorted({g.split("/")[0] for g in RESOURCES if "/" in g})
        return ("discovery", {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": g + "/v1", "version": "v1"}],
             "preferredVersion": {"groupVersion": g + "/v1", "version": "v1"}} for g in groups]})
    else:
        return None
    if gv not in RESOURCES:
        return None
    if not rest:
        return ("discovery", {
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": [{"name": plural, "singularName": kind.lower(), "namespaced": ns, "kind": kind,
                           "verbs": ["create", "delete", "get", "list", "patch", "update"]}
                          for plural, kind, ns in RESOURCES[gv]]})
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    plural = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if len(rest) > 2:
        return None  # subresources are not served
    for p, kind, namespaced in RESOURCES[gv]:
        if p == plural:
            return ("object", gv, plural, kind, namespaced, namespace, name)
    return None


def selector_matches(obj, selector):
    if not selector:
        return True
    labels = obj.get("metadata", {}).get("labels", {}) or {}
    for term in selector.split(","):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k) == v:
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k) != v:
                return False
        elif labels.get(term) is None:
            return False
    return True


def finish(key, kind, obj, spec_before):
    STATE["rv"] += 1
    meta = obj["metadata"]
    meta["resourceVersion"] = str(STATE["rv"])
    obj.pop("status", None)
    defaults(kind, obj)
    if spec_before is not None and spec_before != obj.get("spec"):
        meta["generation"] = meta.get("generation", 1) + 1
    workload_status(kind, obj)
    meta["managedFields"] = managed_fields(key, obj)


def apply(loc, body, manager, force, dry_run):
    _, gv, plural, kind, namespaced, namespace, name = loc
    key = (gv, plural, namespace, name)
    if body.get("kind") != kind or body.get("apiVersion") != gv:
        return status(400, "BadRequest", "the body's apiVersion and kind must be %s %s" % (gv, kind))
    if body.get("metadata", {}).get("name") != name:
        return status(400, "BadRequest", "metadata.name does not match the URL")
    if namespaced and not namespace:
        return status(400, "BadRequest", "a namespaced object needs a namespace")
    if namespaced and body.get("metadata", {}).get("namespace", namespace) != namespace:
        return status(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
    if namespaced and ("v1", "namespaces", "", namespace) not in OBJECTS:
        return status(404, "NotFound", 'namespaces "%s" not found' % namespace)
    applied = copy.deepcopy(body)
    applied.pop("status", None)
    for m in ("managedFields", "resourceVersion", "uid", "generation", "creationTimestamp"):
        applied.get("metadata", {}).pop(m, None)
    mine = owned(leaves(applied))
    existing = OBJECTS.get(key)
    owners = copy.deepcopy(OWNERS.get(key, {}))
    if existing is None:
        obj = applied
        obj["metadata"]["uid"] = str(uuid.uuid4())
        obj["metadata"]["creationTimestamp"] = now()
        obj["metadata"]["generation"] = 1
        owners = {manager: ("Apply", mine)}
        spec_before = None
    else:
        obj = copy.deepcopy(existing)
        spec_before = copy.deepcopy(obj.get("spec"))
        if kind == "Job":
            for field in ("template", "selector"):
                want = applied.get("spec", {}).get(field)
                if want is not None and not subset(want, obj.get("spec", {}).get(field)):
                    return status(422, "Invalid", 'Job.batch "%s" is invalid: spec.%s: Invalid value: field is immutable' % (name, field))
        conflicts = []
        for other, (operation, paths) in sorted(owners.items()):
            if other == manager:
                continue
            for p in sorted(mine & paths):
                live, _ = get_path(obj, p)
                want, _ = get_path(applied, p)
                if live != want:
                    conflicts.append((other, p))
        if conflicts and not force:
            causes = [{"reason": "FieldManagerConflict", "message": 'conflict with "%s"' % o,
                       "field": "." + ".".join(p)} for o, p in conflicts]
            text = "Apply failed with %d conflict%s: %s" % (
                len(conflicts), "" if len(conflicts) == 1 else "s",
                "; ".join('conflict with "%s" using %s: .%s' % (o, gv, ".".join(p)) for o, p in conflicts))
            return status(409, "Conflict", text, causes)
        # A field applied with the value it has is shared with its other
        # owners; one whose value changes (forced) is taken from them.
        for other in list(owners):
            if other != manager:
                operation, paths = owners[other]
                taken = {p for p in paths & mine if get_path(obj, p)[0] != get_path(applied, p)[0]}
                owners[other] = (operation, paths - taken)
        before = owners.get(manager, ("Apply", set()))[1]
        others = set()
        for other, (_, paths) in owners.items():
            if other != manager:
                others |= paths
        for p in sorted(before - mine, key=len, reverse=True):
            if p not in others:
                delete_path(obj, p)
        for p in mine:
            value, _ = get_path(applied, p)
            set_path(obj, p, value)
        owners[manager] = ("Apply", mine)
    if dry_run:
        saved = OWNERS.get(key)
        OWNERS[key] = owners
        finish(key, kind, obj, spec_before)
        if saved is None:
            OWNERS.pop(key, None)
        else:
            OWNERS[key] = saved
        return 200, obj
    OWNERS[key] = owners
    finish(key, kind, obj, spec_before)
    OBJECTS[key] = obj
    return (201 if existing is None else 200), obj


def merge_patch(loc, body, manager):
    _, gv, plural, kind, _, namespace, name = loc
    key = (gv, plural, namespace, name)
    existing = OBJECTS.get(key)
    if existing is None:
        return status(404, "NotFound", '%s "%s" not found' % (plural, name))
    obj = copy.deepcopy(existing)
    spec_before = copy.deepcopy(obj.get("spec"))
    changed = set()

    def merge(target, patch, prefix):
        for k, v in patch.items():
            if v is None:
                target.pop(k, None)
                changed.add(prefix + (k,))
            elif isinstance(v, dict) and isinstance(target.get(k), dict):
                merge(target[k], v, prefix + (k,))
            else:
                if target.get(k) != v:
                    changed.update(leaves(v, prefix + (k,)))
                target[k] = copy.deepcopy(v)

    merge(obj, body, ())
    owners = OWNERS.setdefault(key, {})
    for other in list(owners):
        operation, paths = owners[other]
        owners[other] = (operation, {p for p in paths if not any(p[: len(c)] == c for c in changed)})
    operation, paths = owners.get(manager, ("Update", set()))
    owners[manager] = ("Update", paths | owned({c for c in changed if get_path(obj, c)[1]}))
    finish(key, kind, obj, spec_before)
    OBJECTS[key] = obj
    return 200, obj


class Handler(JsonHandler):
    @staticmethod
    def configure(args):
        STATE["unready"] = args.unready_image

    def internal_error(self, e):
        return status(500, "InternalError", "stand-in error: %r" % e)

    def body(self):
        raw = self.read_body()
        return json.loads(raw) if raw.strip() else {}

    def handle_any(self, method):
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        try:
            body = self.body() if method in ("PATCH", "POST", "DELETE") else None
        except ValueError as e:
            return self.reply(*status(400, "BadRequest", "the body is not JSON: %s" % e))
        with LOCK:
            if url.path == "/_standin/objects":
                return self.reply(200, {"items": [OBJECTS[k] for k in sorted(OBJECTS)]})
            if url.path == "/_standin/unready" and method == "POST":
                STATE["unready"] = (body or {}).get("image") or None
                return self.reply(200, {})
            loc = locate(url.path)
            if loc is None:
                return self.reply(*status(404, "NotFound", "the server could not find the requested resource"))
            if loc[0] == "discovery":
                return self.reply(200, loc[1]) if method == "GET" else self.reply(*status(405, "MethodNotAllowed", "read only"))
            _, gv, plural, kind, namespaced, namespace, name = loc
            key = (gv, plural, namespace, name)
            if method == "GET" and name is None:
                items = [copy.deepcopy(o) for k, o in sorted(OBJECTS.items())
                         if k[0] == gv and k[1] == plural and (not namespace or k[2] == namespace)
                         and selector_matches(o, query.get("labelSelector"))]
                return self.reply(200, {"kind": kind + "List", "apiVersion": gv,
                                        "metadata": {"resourceVersion": str(STATE["rv"])}, "items": items})
            if name is None:
                return self.reply(*status(405, "MethodNotAllowed", "collections are read only here"))
            if method == "GET":
                if key not in OBJECTS:
                    return self.reply(*status(404, "NotFound", '%s "%s" not found' % (plural, name)))
                return self.reply(200, OBJECTS[key])
            if method == "DELETE":
                if key not in OBJECTS:
                    return self.reply(*status(404, "NotFound", '%s "%s" not found' % (plural, name)))
                uid = ((body or {}).get("preconditions") or {}).get("uid")
                if uid and uid != OBJECTS[key]["metadata"]["uid"]:
                    return self.reply(*status(409, "Conflict", "Precondition failed: UID in precondition: %s, UID in object meta: %s" % (uid, OBJECTS[key]["metadata"]["uid"])))
                del OBJECTS[key]
                OWNERS.pop(key, None)
                if plural == "namespaces":
                    for k in [k for k in OBJECTS if k[2] == name]:
                        del OBJECTS[k]
                        OWNERS.pop(k, None)
                return self.reply(*status(200, "", "deleted"))
            if method == "PATCH":
                content_type = (self.headers.get("Content-Type") or "").split(";")[0]
                manager = query.get("fieldManager")
                if content_type == "application/apply-patch+yaml":
                    if not manager:
                        return self.reply(*status(422, "Invalid", "fieldManager is required for apply"))
                    return self.reply(*apply(loc, body, manager, query.get("force") == "true",
                                             query.get("dryRun") == "All"))
                if content_type == "application/merge-patch+json":
                    return self.reply(*merge_patch(loc, body, manager or "unknown"))
                return self.reply(*status(415, "UnsupportedMediaType", "unsupported patch type %s" % content_type))
            return self.reply(*status(405, "MethodNotAllowed", "method not served"))


if __name__ == "__main__":
    serve(Handler, [("--unready-image", None)])
