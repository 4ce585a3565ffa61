//! Stable diagnostic codes: each has an id, a name that says the problem, and documentation.
//!
//! Codes never change meaning once released. `rel explain CODE` prints the docs.

use serde::{Serialize, Serializer};

/// A stable diagnostic code such as `E0201 unresolved-name`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Code {
    pub id: &'static str,
    pub name: &'static str,
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.id)
    }
}

/// Documentation of one code: what it means, why it is an error, an example.
pub struct CodeDoc {
    pub code: Code,
    pub what: &'static str,
    pub why: &'static str,
    pub example: &'static str,
}

macro_rules! codes {
    ($( $konst:ident = $id:literal $name:literal { what: $what:literal, why: $why:literal, example: $ex:literal } )*) => {
        $( pub const $konst: Code = Code { id: $id, name: $name }; )*
        /// Every code, in id order.
        pub const ALL: &[CodeDoc] = &[ $( CodeDoc { code: $konst, what: $what, why: $why, example: $ex } ),* ];
    };
}

codes! {
    INVALID_UTF8 = "E0001" "invalid-utf8" {
        what: "The file is not valid UTF-8.",
        why: "rel source is UTF-8 text; anything else cannot be parsed reliably.",
        example: "A file saved as Latin-1 with an `é` in a string."
    }
    BINARY_FILE = "E0002" "binary-file" {
        what: "The file contains NUL bytes.",
        why: "NUL bytes never appear in text; the file is most likely binary.",
        example: "An image or archive saved with a `.rel` extension."
    }
    FILE_TOO_LARGE = "E0003" "file-too-large" {
        what: "The file is larger than the 16 MiB limit for one source file.",
        why: "Such files are generated data, not source, and would slow every command down.",
        example: "A 50 MB dump renamed to `big.rel`."
    }
    EMPTY_FILE = "E0004" "empty-file" {
        what: "The file holds nothing but white space.",
        why: "An empty module is almost always a mistake (a truncated write or a wrong path).",
        example: "A zero-byte `app.rel`."
    }
    UNREADABLE_FILE = "E0005" "unreadable-file" {
        what: "A file or folder could not be read.",
        why: "rel cannot check what it cannot read.",
        example: "`rel check missing.rel`"
    }
    NO_SOURCE_FILES = "E0006" "no-source-files" {
        what: "A folder given on the command line holds no `.rel` files.",
        why: "Checking nothing and reporting success would hide a wrong path.",
        example: "`rel check src/` where the sources live in `infra/`."
    }
    UNEXPECTED_TOKEN = "E0101" "unexpected-token" {
        what: "The parser found something other than what the grammar allows here.",
        why: "The text does not follow `grammar/rel.ebnf`.",
        example: "`param region string` (missing `:`)"
    }
    UNTERMINATED_STRING = "E0102" "unterminated-string" {
        what: "A string literal has no closing quote.",
        why: "Everything after the opening quote would otherwise become part of the string.",
        example: "`let name = \"shop`"
    }
    UNTERMINATED_COMMENT = "E0103" "unterminated-comment" {
        what: "A `/*` block comment has no closing `*/`.",
        why: "The rest of the file would silently become a comment.",
        example: "`/* TODO`"
    }
    UNKNOWN_ESCAPE = "E0104" "unknown-escape" {
        what: "A backslash escape in a string is not one rel knows.",
        why: "Known escapes are \\n \\r \\t \\\\ \\\" \\$ and \\u{...}; others are usually a mistyped path or regex.",
        example: "`\"C:\\data\"` (write `\"C:\\\\data\"`)"
    }
    NESTING_TOO_DEEP = "E0105" "nesting-too-deep" {
        what: "Brackets, braces or parentheses are nested more than 128 levels deep.",
        why: "No real template needs such depth, and a limit keeps rel's memory and stack bounded.",
        example: "`let x = [[[[ ... ]]]]` nested ten thousand times"
    }
    INVALID_NUMBER = "E0106" "invalid-number" {
        what: "A number literal is malformed or does not fit in 64 bits.",
        why: "rel integers are signed 64-bit; floats are IEEE doubles.",
        example: "`replicas = 99999999999999999999`"
    }
    ATTRIBUTE_OUTSIDE_BLOCK = "E0107" "attribute-outside-block" {
        what: "An attribute (`name = value`) appears at the top level of a file.",
        why: "Top-level names are introduced by `let`, `param` and the other items.",
        example: "`region = \"us-east-1\"` at the top of a file (write `let region = ...`)"
    }
    UNCLOSED_DELIMITER = "E0108" "unclosed-delimiter" {
        what: "An opening `{`, `[` or `(` has no matching closing one.",
        why: "The parser cannot tell where the block or list ends.",
        example: "`app store {` with no `}`"
    }
    UNRESOLVED_NAME = "E0201" "unresolved-name" {
        what: "A name is used that no item, parameter or local variable in scope defines.",
        why: "References become graph edges; a reference to nothing cannot be compiled.",
        example: "`hostname = \"${servce}.example.com\"`"
    }
    DUPLICATE_DEFINITION = "E0202" "duplicate-definition" {
        what: "Two items in the same scope have the same name.",
        why: "References would be ambiguous and resource addresses would collide.",
        example: "Two `service shoes` blocks in one app."
    }
    UNRESOLVED_IMPORT = "E0203" "unresolved-import" {
        what: "An import names a module that does not exist.",
        why: "The imported names cannot be resolved.",
        example: "`import \"std/awz\" as aws`"
    }
    IMPORT_CYCLE = "E0204" "import-cycle" {
        what: "Modules import each other in a cycle.",
        why: "Module order must be well founded so that every name has one meaning.",
        example: "`a.rel` imports `b.rel`, which imports `a.rel`."
    }
    IMPORT_OUTSIDE_ROOT = "E0205" "import-outside-root" {
        what: "A relative import points outside the project root.",
        why: "A project must be self-contained so that builds are reproducible.",
        example: "`import \"../../shared/net.rel\" as net`"
    }
    UNKNOWN_MEMBER = "E0206" "unknown-member" {
        what: "A module has no item of the given name.",
        why: "Only items defined at a module's top level can be referenced through its alias.",
        example: "`aws.ekss` instead of `aws.eks`"
    }
    NOT_A_COMPONENT = "E0207" "not-a-component" {
        what: "An instance names something that is not a component.",
        why: "Only components can be instantiated with `KIND NAME = COMPONENT { ... }`.",
        example: "`cluster main = aws.Nodes { }` where `Nodes` is a schema"
    }
    NOT_A_TYPE = "E0208" "not-a-type" {
        what: "A type annotation names something that is not a type.",
        why: "Types are the builtin ones (`string`, `int`, ...) or schemas.",
        example: "`param nodes: nodez`"
    }
    NOT_AN_APP = "E0209" "not-an-app" {
        what: "An environment derives from something that is not an `app`.",
        why: "Environments are copies of an application template.",
        example: "`environment \"pr-1\" from shop { }` where `shop` is a domain"
    }
    TYPE_MISMATCH = "E0301" "type-mismatch" {
        what: "A value has a different type from the one expected here.",
        why: "Wrong types would produce invalid cloud templates or manifests.",
        example: "`replicas = \"two\"` where `replicas: int`"
    }
    MISSING_FIELD = "E0302" "missing-field" {
        what: "A required field or parameter is not set.",
        why: "The schema or component declares it without a default.",
        example: "`service shoes { port = 8080 }` without `image`"
    }
    UNKNOWN_FIELD = "E0303" "unknown-field" {
        what: "A field or parameter is set that the schema or component does not declare.",
        why: "It would be silently ignored, which usually hides a typo.",
        example: "`service shoes { replica = 2 }`"
    }
    CONSTRAINT_VIOLATION = "E0304" "constraint-violation" {
        what: "A value breaks a constraint of its field (range, pattern, one of, non-empty).",
        why: "Constraints encode what the cloud or cluster accepts; catching them early saves a failed apply.",
        example: "`port = 70000` where `port: int @range(1, 65535)`"
    }
    WRONG_ARGUMENT_COUNT = "E0305" "wrong-argument-count" {
        what: "A builtin function is called with too few or too many arguments.",
        why: "Each builtin has a fixed signature.",
        example: "`cidrsubnet(\"10.0.0.0/16\", 8)`"
    }
    UNKNOWN_FUNCTION = "E0306" "unknown-function" {
        what: "A call names a function that is not a builtin.",
        why: "rel has no user-defined functions; components are the unit of reuse.",
        example: "`uper(\"x\")`"
    }
    INVALID_RESOURCE_TYPE = "E0307" "invalid-resource-type" {
        what: "A raw resource's type string is not a CloudFormation, Kubernetes or GCP type.",
        why: "The type decides which emitter and provider handle the resource.",
        example: "`resource b \"S3Bucket\" { }` (write `\"AWS::S3::Bucket\"`)"
    }
    KIND_MISMATCH = "E0308" "kind-mismatch" {
        what: "An instance's kind word differs from the kind its component declares.",
        why: "The kind word documents what the instance is; a mismatch is a wrong component.",
        example: "`database db = aws.eks { }` where `aws.eks` is a `cluster`"
    }
    INVALID_CONSTRAINT = "E0309" "invalid-constraint" {
        what: "A constraint is unknown, has wrong arguments, or does not apply to the field's type.",
        why: "Constraints must be checkable.",
        example: "`name: string @range(1, 3)` or `@pattern(\"[\")`"
    }
    DUPLICATE_FIELD = "E0310" "duplicate-field" {
        what: "The same field is set twice in one block or map.",
        why: "Only one value can win; rel does not pick one silently.",
        example: "`{ port = 80, port = 8080 }`"
    }
    INVALID_OVERRIDE = "E0311" "invalid-override" {
        what: "An environment override names a field that the application template does not have.",
        why: "Overrides replace template values; a path to nothing is a typo.",
        example: "`shoes.replcas = 3` in an environment derived from an app with a service `shoes`"
    }
    MISPLACED_ITEM = "E0312" "misplaced-item" {
        what: "An item appears in a block where it has no meaning.",
        why: "Each block kind allows certain nested items (a `service` inside an `app`, a `param` inside a `component`).",
        example: "`service shoes { }` inside a `domain` block"
    }
    MISSING_FILE = "E0313" "missing-file" {
        what: "`file(..)` or `template(..)` names a file that does not exist.",
        why: "The file's content becomes part of the compiled artifacts.",
        example: "`file(\"./policy.jsn\")`"
    }
    INVALID_TEMPLATE = "E0314" "invalid-template" {
        what: "A `template(..)` file is not a valid template.",
        why: "Templates are rendered with tera at evaluation; a syntax error would fail every build.",
        example: "`{{ name` without the closing braces"
    }
    INVALID_PROJECT = "E0315" "invalid-project" {
        what: "A `project` declaration's name is not a valid project name, or is written with interpolation.",
        why: "The project's name is the root of every name rel creates (stacks, exports, deployments, namespaces, labels, state keys); it must be fixed text that fits every provider's limits.",
        example: "`project \"Acme_Shop\"` (write `project \"acme-shop\"`)"
    }
    EVALUATION_FAILED = "E0401" "evaluation-failed" {
        what: "An expression failed while being evaluated: division by zero, an index out of range, a missing key, or a builtin given a value it cannot use.",
        why: "The value is needed to build the artifacts.",
        example: "`cidrsubnet(\"10.0.0.0/16\", 8, 300)` (300 does not fit in 8 bits)"
    }
    UNKNOWN_BEFORE_APPLY = "E0402" "unknown-before-apply" {
        what: "A value known only after apply is used where rel needs it now.",
        why: "Loops, conditions on structure and map keys decide what is built; they cannot wait for the cloud.",
        example: "`[for id in vpc.subnet_ids: ...]` where the IDs come from a resource"
    }
    SECRET_AS_TEXT = "E0403" "secret-as-text" {
        what: "A secret would become part of a string or a comparison.",
        why: "rel never handles secret values; they are passed whole, by reference, to where they are used.",
        example: "`\"postgres://app:${secret(\"db\")}@host\"`"
    }
    UNKNOWN_ENVIRONMENT = "E0404" "unknown-environment" {
        what: "No environment, or more than one, has the name asked for.",
        why: "A build compiles exactly one environment.",
        example: "`rel build --env pr-42` where the template declares `environment \"pr-${branch}\"` and no `--set branch=42`"
    }
    MISSING_PARAMETER = "E0405" "missing-parameter" {
        what: "A parameter without a default was not given a value.",
        why: "Every parameter needs a value to compile an environment.",
        example: "`param account: string` and no `--set account=...`"
    }
    DEPENDENCY_CYCLE = "E0406" "dependency-cycle" {
        what: "Resources depend on each other in a cycle.",
        why: "Nothing in a cycle can be created first.",
        example: "A security group whose rule names a second group whose rule names the first"
    }
    WRONG_TARGET = "E0407" "wrong-target" {
        what: "A resource belongs to another cloud than the build's target.",
        why: "A build emits one cloud's stacks; a GCP resource cannot go into a CloudFormation template.",
        example: "`resource b \"gcp:google_storage_bucket\" {}` built with `--target aws`"
    }
    EMIT_FAILED = "E0408" "emit-failed" {
        what: "A resource's properties could not be written in the artifact's format.",
        why: "An artifact is written whole or not at all; a document that cannot be serialised would leave the file incomplete.",
        example: "None known: every value rel evaluates can be written; seeing this is a bug in rel, worth reporting with the input"
    }
    MISSING_PROJECT = "E0409" "missing-project" {
        what: "The files being built declare no `project`.",
        why: "Every name rel creates derives from the project, app and environment; without a project two folders with an app and environment of the same names would write over each other's stacks and objects.",
        example: "a `main.rel` with `app store { ... }` and `environment \"production\" from store { }` but no `project \"acme-shop\"` line"
    }
    STATE_LOCKED = "E0501" "state-locked" {
        what: "Another plan, apply or destroy holds the environment's state lock.",
        why: "Two runs changing one environment at once would each act on what the other is changing.",
        example: "Two CI jobs running `rel apply --env pr-42` at the same time; the second names the first's lock id and holder"
    }
    STALE_PLAN = "E0502" "stale-plan" {
        what: "A saved plan no longer matches the state or the templates it was made from.",
        why: "Applying it would carry out changes a reviewer never saw; a new plan shows what would happen now.",
        example: "`rel apply plan.out` after another apply moved the state on, or after the .rel files changed"
    }
    STATE_UNREADABLE = "E0503" "state-unreadable" {
        what: "A state file or saved plan cannot be read: not JSON, not rel's, or from a newer version of rel.",
        why: "rel never guesses what is deployed; it stops instead of overwriting a record it does not understand.",
        example: "A state file truncated by hand, or written by a later rel with state version 2"
    }
    STATE_CONFLICT = "E0504" "state-conflict" {
        what: "The state was written by someone else between rel reading it and writing it.",
        why: "Writing anyway would lose the other writer's record; conditional writes refuse instead.",
        example: "A state edited by hand, or a writer that ignored the lock"
    }
    PROVIDER_ERROR = "E0505" "provider-error" {
        what: "A call to the cloud provider or the state backend failed (after retries).",
        why: "rel cannot know what is deployed, or change it, without the provider.",
        example: "Expired credentials, a missing bucket, no network, or an API refusing the request"
    }
    STACK_FAILED = "E0506" "stack-failed" {
        what: "CloudFormation could not carry out a stack's change; its events say why.",
        why: "A failed stack is rolled back by CloudFormation; what depends on it is not started.",
        example: "A bucket name already taken in another account"
    }
    APPROVAL_REQUIRED = "E0507" "approval-required" {
        what: "apply or destroy needs a confirmation, and there is no terminal to ask on.",
        why: "A change to live infrastructure is never made without a person or a flag saying yes.",
        example: "`rel apply` in CI without `--auto-approve` or a saved plan"
    }
    BACKEND_INVALID = "E0508" "backend-invalid" {
        what: "The state backend is not one rel knows.",
        why: "State must be kept somewhere rel can lock and write atomically.",
        example: "`--state gs://bucket` (write a folder, or s3://BUCKET/PREFIX)"
    }
    TEMPLATE_TOO_LARGE = "E0509" "template-too-large" {
        what: "A CloudFormation template is larger than CloudFormation accepts inline (51,200 bytes) and no template bucket is set, or larger than it accepts at all (1 MB from S3).",
        why: "Larger templates are read from S3: rel uploads them to the bucket given by --template-bucket (or the S3 state backend's).",
        example: "An environment with hundreds of services in one stack, applied with local state and no --template-bucket"
    }
    DEPLOY_UNSUPPORTED = "E0510" "deploy-unsupported" {
        what: "This target cannot be planned or applied by this version of rel.",
        why: "rel plans and applies CloudFormation stacks; Kubernetes and GCP deployments come later, and `rel build` writes their artifacts meanwhile.",
        example: "`rel plan --target gcp`"
    }
    LOCK_NOT_FOUND = "E0511" "lock-not-found" {
        what: "No lock with that id exists.",
        why: "Unlocking by id makes sure the lock removed is the one that was reported.",
        example: "`rel state unlock 0123abcd` after the lock was released"
    }
    SHARED_IN_USE = "E0512" "shared-in-use" {
        what: "The shared stack cannot be destroyed while environments that use it have state.",
        why: "Environments import the shared stack's exports; CloudFormation refuses to delete exports in use, and the environments would break.",
        example: "`rel destroy --env staging --include-shared` while production is still deployed"
    }
    INTERRUPTED = "E0513" "interrupted" {
        what: "The operation was interrupted (Ctrl-C or SIGTERM) and stopped.",
        why: "Stopping releases the locks; a change CloudFormation had already started goes on there and is recorded in state as in flight.",
        example: "Ctrl-C during `rel apply`: run apply again to record what finished and carry on"
    }
    WRITE_FAILED = "E0514" "write-failed" {
        what: "A file could not be written (a formatted source, a build artifact, a saved plan).",
        why: "Files are written whole through a temporary file and a rename, so the old file, if any, is left as it was.",
        example: "`rel build --out /read-only/folder`, or a full disk"
    }
    KUBE_CONFIG = "E0515" "kube-config" {
        what: "No Kubernetes cluster could be reached with the configuration given: no kubeconfig, an unknown context, or a server that does not answer.",
        why: "rel connects the way kubectl does (KUBECONFIG or ~/.kube/config, the current or chosen context, in-cluster configuration); it cannot apply manifests without a cluster.",
        example: "`rel apply --env pr-42 --kube-context staging` with no context `staging` in the kubeconfig"
    }
    KUBE_CONFLICT = "E0516" "kube-conflict" {
        what: "Server-side apply found fields rel sets that another field manager owns with a different value.",
        why: "Taking fields over silently would undo someone's change (a `kubectl edit`, an autoscaler); rel reports the fields and their managers and takes them only with --force-conflicts.",
        example: "`kubectl scale deployment shoes --replicas 5` then `rel apply` with `replicas = 2`"
    }
    KUBE_ROLLOUT = "E0517" "kube-rollout" {
        what: "A Deployment, StatefulSet or DaemonSet did not become ready within --wait-timeout.",
        why: "With --wait, apply succeeds only when the new version runs; the conditions the cluster reported say why it does not.",
        example: "an image that cannot be pulled, or a readiness probe that never passes"
    }
    SECRET_UNAVAILABLE = "E0518" "secret-unavailable" {
        what: "A secret a manifest refers to (`secret(\"NAME\")`) could not be read from the secret store.",
        why: "Kubernetes Secrets are filled at apply time from AWS Secrets Manager; rel never stores a secret's value, so it must read it there.",
        example: "`secret(\"shop/db-password\")` with no such secret in the account and region"
    }
    KUBE_UNSERVED = "E0519" "kube-unserved" {
        what: "The cluster does not serve a kind the manifests or the state name (its API group or version is not installed).",
        why: "rel applies each object through the API the cluster serves for its kind; a custom resource needs its definition first, and a version removed by an upgrade cannot be read.",
        example: "a `monitoring.coreos.com/v1` ServiceMonitor on a cluster without the Prometheus operator"
    }
    DRIFT_IGNORE_INVALID = "E0520" "drift-ignore-invalid" {
        what: "A `drift_ignore` rule's `expires` is not a calendar date.",
        why: "An expiry is what makes an ignore rule temporary; rel must know the day it stops ignoring, so `2027-02-30` is refused rather than read as some other day.",
        example: "`drift_ignore = [{ path = \"Deployment/*/shoes.spec.replicas\", reason = \"autoscaled\", expires = \"2027-13-01\" }]`"
    }
    DRIFT_NO_STATE = "E0521" "drift-no-state" {
        what: "`rel drift` found no recorded state to compare the live environment with.",
        why: "Drift is what changed since rel last applied; an environment never applied (or whose state is elsewhere: `--state`) has nothing to compare.",
        example: "`rel drift . --env pr-7` before `rel apply . --env pr-7`"
    }
    NOT_OWNED = "E0522" "not-owned" {
        what: "A stack, deployment or Kubernetes object that rel would write exists, and no state of this environment records it as rel's: it belongs to another project, app or environment, or was made outside rel.",
        why: "rel never changes, prunes or deletes what it does not own. Taking over a resource silently could overwrite another team's environment.",
        example: "`rel apply . --env production` where a stack named like this environment's was made by hand; pass `--adopt` to take it over on purpose"
    }
}

/// Looks a code up by id (`E0201`) or name (`unresolved-name`).
pub fn lookup(key: &str) -> Option<&'static CodeDoc> {
    ALL.iter()
        .find(|d| d.code.id.eq_ignore_ascii_case(key) || d.code.name == key)
}
