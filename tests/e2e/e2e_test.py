#!/usr/bin/python3
"""End-to-end test of the real frontdoor-server process, from Python.

    /usr/bin/python3 tests/e2e/e2e_test.py --server BUILD/services/server/frontdoor-server \
        --cli BUILD/services/cli/frontdoor

(or the environment variables FRONTDOOR_SERVER_BIN and FRONTDOOR_CLI). Run it
from the source tree (rule set and examples are read by relative path) with
Debian's /usr/bin/python3: python3-grpcio and python3-protobuf are installed
for that interpreter only (build-notes pitfall 7).

Nothing generated from Frontdoor's protos is used: the test asks the server
for its API through gRPC server reflection (v1alpha) and builds the message
classes from the FileDescriptorProtos that come back, as grpcurl would. Only
the reflection and health protocols have stubs, generated at test time with
protoc and grpc_python_plugin into a temporary directory.

Every server it starts is given a tokens file made with `frontdoor admin
token create` (a clinician, an auditor, two referrers and a service identity);
the test's calls carry the clinician's token unless a check says otherwise,
and the CLI gets it through FRONTDOOR_TOKEN.

What it checks, each step against a real process on a free loopback port
with a temporary data directory:
  1. reflection lists every service; health is SERVING for "" and each;
  2. a NEWS2 7 referral is triaged ACUTE / IMMEDIATE; the same request_id
     again is a replay of the same record;
  3. a fall that needs a home assessment goes to UCR between 08:00 and 20:00
     UK time (the server stamps received_at itself, so outside those hours the
     expected outcome is the out-of-hours one); the server's decision equals
     `frontdoor rules explain` on the stored referral, and the CLI sends the
     10:00 example to UCR;
  4. GetReferral and ListReferralEvents return what was stored;
  5. the frontdoor CLI's submit and get verbs against the server (when the
     CLI has them);
  5a. authentication: no token, or an unknown one, is UNAUTHENTICATED (health
     needs none); a referrer's token on the clinician's referral is
     PERMISSION_DENIED with the same message as for a reference that does
     not exist; a referrer sees their own referral, another referrer does
     not; the auditor finds the refusals in the audit trail;
  6. SIGTERM: exit code 0; a restart on the same data directory has every
     record and event;
  7. never lost: a server with the referral and directory roles whose
     triage target is a port where nothing listens acknowledges a
     submission as AWAITING_TRIAGE; once a triage-role process starts on
     that port the referral becomes TRIAGED within a bounded wait (the
     referral process authenticates to it with --service_token_file).
Ends with "N passed, N failed"; exit status 0 only if every check passed.
"""

import argparse
import collections
import copy
import datetime
import json
import os
import re
import select
import uuid
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zoneinfo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RULES = "triage-rules/community-spa"
NEWS2_EXAMPLE = "examples/referrals/news2-7-acute-deterioration.json"
FALL_EXAMPLE = "examples/referrals/ucr-fall-morning.json"
LONDON = zoneinfo.ZoneInfo("Europe/London")
# The SLA sweeper retries referrals awaiting triage every 5 s; the channel to
# the triage target reconnects with exponential backoff after failures.
TRIAGE_RECOVERY_LIMIT_S = 90

PASSED = []
FAILED = []


class CheckFailed(Exception):
    pass


def check(cond, what):
    if cond:
        PASSED.append(what)
        print(f"ok    {what}", flush=True)
    else:
        FAILED.append(what)
        print(f"FAIL  {what}", flush=True)
        raise CheckFailed(what)


# --- stubs for reflection and health ------------------------------------------------


def generate_stubs(gen_dir):
    """Generates Python stubs for reflection and health into gen_dir."""
    cmd = [
        "protoc",
        "-I", os.path.join(ROOT, "tests/e2e/protos"),
        "-I", os.path.join(ROOT, "protos"),
        f"--python_out={gen_dir}",
        f"--grpc_python_out={gen_dir}",
        "--plugin=protoc-gen-grpc_python=/usr/bin/grpc_python_plugin",
        "grpc/reflection/v1alpha/reflection.proto",
        "grpc/health/v1/health.proto",
    ]
    subprocess.run(cmd, check=True)


def import_grpc(gen_dir):
    global grpc, reflection_pb2, reflection_pb2_grpc, health_pb2, health_pb2_grpc
    global descriptor_pb2, descriptor_pool, json_format, message_factory
    import grpc  # noqa: F401  (Debian python3-grpcio)

    # Generated modules of packages grpc.* land in gen_dir/grpc, which the
    # installed grpc package shadows: extend its path (pitfall 7).
    grpc.__path__.append(os.path.join(gen_dir, "grpc"))
    from grpc.health.v1 import health_pb2, health_pb2_grpc
    from grpc.reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


# --- the API through reflection -----------------------------------------------------


class ReflectedApi:
    """Message classes and callables for the server's services, built from
    the FileDescriptorProtos that reflection returns."""

    def __init__(self, channel):
        self.channel = channel
        self.stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        self.pool = descriptor_pool.DescriptorPool()
        self.files = {}  # name -> FileDescriptorProto

    def _ask(self, **request):
        req = reflection_pb2.ServerReflectionRequest(**request)
        (resp,) = list(self.stub.ServerReflectionInfo(iter([req]), timeout=10))
        if resp.HasField("error_response"):
            raise RuntimeError(f"reflection {request}: {resp.error_response.error_message}")
        return resp

    def list_services(self):
        resp = self._ask(list_services="")
        return sorted(s.name for s in resp.list_services_response.service)

    def load_symbol(self, symbol):
        resp = self._ask(file_containing_symbol=symbol)
        for raw in resp.file_descriptor_response.file_descriptor_proto:
            fdp = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self.files.setdefault(fdp.name, fdp)
        self._add_pending()

    def _add_pending(self):
        # Dependencies first: a pool refuses a file whose imports it lacks.
        added = set()
        try:
            for name in self.files:
                self.pool.FindFileByName(name)
                added.add(name)
        except KeyError:
            pass
        pending = {n: f for n, f in self.files.items() if n not in added}
        while pending:
            progress = False
            for name, fdp in list(pending.items()):
                if all(self._has_file(d) for d in fdp.dependency):
                    self.pool.Add(fdp)
                    del pending[name]
                    progress = True
            if not progress:
                raise RuntimeError(f"reflection: unresolved imports in {sorted(pending)}")

    def _has_file(self, name):
        try:
            self.pool.FindFileByName(name)
            return True
        except KeyError:
            return False

    def message(self, full_name):
        desc = self.pool.FindMessageTypeByName(full_name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(self.pool).GetPrototype(desc)

    def method(self, service, name, channel=None):
        """The request class and a callable for one unary method, on this
        API's channel or on `channel` (another caller's)."""
        sd = self.pool.FindServiceByName(service)
        md = sd.methods_by_name[name]
        req_cls = self.message(md.input_type.full_name)
        resp_cls = self.message(md.output_type.full_name)
        call = (channel or self.channel).unary_unary(
            f"/{service}/{name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=resp_cls.FromString,
        )
        return req_cls, call


def field_bytes(msg, field):
    """The wire bytes of one field of `msg`."""
    copy_ = type(msg)()
    if msg.DESCRIPTOR.fields_by_name[field].label == 3:  # repeated
        getattr(copy_, field).MergeFrom(getattr(msg, field))
    elif msg.DESCRIPTOR.fields_by_name[field].message_type is not None:
        if msg.HasField(field):
            getattr(copy_, field).CopyFrom(getattr(msg, field))
    else:
        setattr(copy_, field, getattr(msg, field))
    return copy_.SerializeToString(deterministic=True)


def enum_name(msg, field):
    fd = msg.DESCRIPTOR.fields_by_name[field]
    return fd.enum_type.values_by_number[getattr(msg, field)].name


# --- processes --------------------------------------------------------------------


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A frontdoor-server process. Its stdout banner gives the address."""

    def __init__(self, binary, name, workdir, data_dir, tokens_file, listen="127.0.0.1:0",
                 extra=()):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.log = open(self.log_path, "ab")
        args = [binary, f"--listen={listen}", "--http_listen=", f"--data_dir={data_dir}",
                f"--tokens_file={tokens_file}", "--shutdown_grace=5s", *extra]
        self.proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=self.log)
        self.address = self._read_banner(timeout=30)

    def _read_banner(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                m = re.search(rb"listening on grpc://([0-9.]+:[0-9]+)", buf)
                if m:
                    return m.group(1).decode()
            elif self.proc.poll() is not None:
                break
        raise RuntimeError(f"{self.name} did not start (exit {self.proc.poll()}):\n"
                           f"{buf.decode(errors='replace')}\n{self.tail()}")

    def tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def wait_serving(channel, services, timeout=30):
    stub = health_pb2_grpc.HealthStub(channel)
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            statuses = {s: stub.Check(health_pb2.HealthCheckRequest(service=s), timeout=2).status
                        for s in services}
            if all(v == health_pb2.HealthCheckResponse.SERVING for v in statuses.values()):
                return statuses
            last = statuses
        except grpc.RpcError as e:
            last = e.code()
        time.sleep(0.05)
    raise RuntimeError(f"not SERVING after {timeout}s: {last}")


# Every ReferralService call made through an authenticated channel here:
# (method, request id, status code). The audit trail must hold an entry for
# each one that reached patient data (OK) or was refused (PERMISSION_DENIED).
PATIENT_DATA_CALLS = []


def bearer_interceptor(token):
    """A client interceptor adding `authorization: Bearer <token>` and a fresh
    x-request-id to every unary call, and noting ReferralService calls in
    PATIENT_DATA_CALLS (grpc is imported at run time, hence the classes
    here)."""

    class CallDetails(collections.namedtuple(
            "CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                            "compression")), grpc.ClientCallDetails):
        pass

    class Bearer(grpc.UnaryUnaryClientInterceptor):
        def intercept_unary_unary(self, continuation, details, request):
            request_id = uuid.uuid4().hex
            metadata = list(details.metadata or []) + [("authorization", f"Bearer {token}"),
                                                       ("x-request-id", request_id)]
            outcome = continuation(CallDetails(
                details.method, details.timeout, metadata, details.credentials,
                getattr(details, "wait_for_ready", None), getattr(details, "compression", None)),
                request)
            if details.method.startswith("/frontdoor.v1.ReferralService/"):
                PATIENT_DATA_CALLS.append((details.method, request_id, outcome.code()))
            return outcome

    return Bearer()


def connect(address, token=None):
    """A channel to address; with a token, every unary call carries
    `authorization: Bearer <token>` (reflection and health need none)."""
    channel = grpc.insecure_channel(address)
    grpc.channel_ready_future(channel).result(timeout=15)
    if token is None:
        return channel
    return grpc.intercept_channel(channel, bearer_interceptor(token))


# --- referrals ---------------------------------------------------------------------


def load_referral(api, path):
    """The example referral as a message, its times moved to now (the
    server refuses observation times in the future)."""
    with open(os.path.join(ROOT, path)) as f:
        doc = json.load(f)
    received = datetime.datetime.fromisoformat(doc["received_at"].replace("Z", "+00:00"))
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    if "observations" in doc and "taken_at" in doc["observations"]:
        taken = datetime.datetime.fromisoformat(
            doc["observations"]["taken_at"].replace("Z", "+00:00"))
        doc["observations"]["taken_at"] = (now - (received - taken)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc["received_at"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    referral_cls = api.message("frontdoor.v1.Referral")
    return json_format.ParseDict(doc, referral_cls())


def cli_explain(cli, referral_json_path):
    out = subprocess.run([cli, "rules", "explain", RULES, referral_json_path, "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"frontdoor rules explain exit {out.returncode}: {out.stderr}")
    return json.loads(out.stdout)


def cli_has_verb(cli, verb):
    out = subprocess.run([cli, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    text = out.stdout + out.stderr
    return re.search(rf"^\s+{verb}\b", text, re.MULTILINE) is not None


# --- tokens -------------------------------------------------------------------------

# name -> (role, principal): the callers of the test, all in one tokens file
# that every server reads (the split-role processes of step 7 share it, so
# the service identity is known to both).
CALLERS = {
    "clinician": ("clinician", "e2e-clinician"),
    "auditor": ("auditor", "e2e-auditor"),
    "referrer": ("referrer", "dr-a"),
    "referrer2": ("referrer", "dr-b"),
    "service": ("service", "e2e-service"),
}


def make_tokens(cli, work):
    """Creates the tokens file with the CLI. Returns its path, the tokens by
    caller name, and a file holding the service token (mode 0600)."""
    tokens_file = os.path.join(work, "tokens.txtpb")
    tokens = {}
    for name, (role, principal) in CALLERS.items():
        out = subprocess.run([cli, "admin", "token", "create", f"--tokens_file={tokens_file}",
                              f"--role={role}", f"--principal={principal}"],
                             cwd=ROOT, capture_output=True, text=True, timeout=30)
        if out.returncode != 0 or not out.stdout.strip():
            raise RuntimeError(f"frontdoor admin token create --role={role}: exit "
                               f"{out.returncode}: {out.stderr.strip()}")
        tokens[name] = out.stdout.strip()
    service_token_file = os.path.join(work, "service.token")
    fd = os.open(service_token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(tokens["service"] + "\n")
    return tokens_file, tokens, service_token_file


def rpc_error(call, *args, **kwargs):
    """The grpc.RpcError that call raises, or None if it succeeds."""
    try:
        call(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    return None


# --- the test -----------------------------------------------------------------------


def check_audit_trail(api, address, auditor_token, cli):
    """Every patient-data call made so far against this data directory (before
    and after the restart) has its audit entry, and the chain verifies."""
    auditor = connect(address, auditor_token)
    api.load_symbol("frontdoor.v1.AuditService")
    QueryReq, query = api.method("frontdoor.v1.AuditService", "Query", channel=auditor)
    entries, token = [], ""
    while True:
        page = query(QueryReq(page_size=1000, page_token=token), timeout=30)
        entries.extend(page.entries)
        token = page.next_page_token
        if not token:
            break
    logged = {e.request_id: e for e in entries}
    wanted = [(m, rid, code) for m, rid, code in PATIENT_DATA_CALLS
              if code in (grpc.StatusCode.OK, grpc.StatusCode.PERMISSION_DENIED)]
    missing = [(m, rid) for m, rid, _ in wanted if rid not in logged]
    wrong = [(m, logged[rid].action) for m, rid, _ in wanted
             if rid in logged and logged[rid].action != m]
    print(f"      audit trail: {len(entries)} entries; {len(wanted)} patient-data calls made here")
    check(len(wanted) >= 10 and not missing,
          f"an audit entry for every patient-data call of the run (missing: {missing[:5]})")
    check(not wrong, f"each entry names its call's method (wrong: {wrong[:5]})")
    check(all(e.outcome == "PERMISSION_DENIED" for m, rid, code in wanted
              if code == grpc.StatusCode.PERMISSION_DENIED for e in [logged[rid]]),
          "refused calls are recorded as PERMISSION_DENIED")
    seqs = [e.seq for e in entries]
    check(seqs == list(range(1, len(entries) + 1)), "audit entries are numbered 1..n, no gaps")
    env = dict(os.environ, FRONTDOOR_TOKEN=auditor_token)
    out = subprocess.run([cli, "audit", "verify", f"--server={address}"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60, env=env)
    check(out.returncode == 0, f"frontdoor audit verify: exit 0 ({out.stdout.strip()[:200]})")
    auditor.close()


def run(server_bin, cli, work):
    data = os.path.join(work, "data")
    tokens_file, tokens, service_token_file = make_tokens(cli, work)
    # The CLI's calls are the clinician's.
    cli_env = dict(os.environ, FRONTDOOR_TOKEN=tokens["clinician"])
    cli_env.pop("FRONTDOOR_TOKEN_FILE", None)
    server = Server(server_bin, "server", work, data, tokens_file)
    servers = [server]
    try:
        channel = connect(server.address, tokens["clinician"])
        api = ReflectedApi(channel)

        # 1. Reflection and health.
        services = api.list_services()
        print(f"      reflection: {services}")
        for s in ("frontdoor.v1.ReferralService", "frontdoor.v1.TriageService",
                  "frontdoor.v1.DirectoryService", "grpc.health.v1.Health",
                  "grpc.reflection.v1alpha.ServerReflection"):
            check(s in services, f"reflection lists {s}")
        api.load_symbol("frontdoor.v1.ReferralService")
        statuses = wait_serving(channel, ["", "frontdoor.v1.ReferralService",
                                          "frontdoor.v1.TriageService",
                                          "frontdoor.v1.DirectoryService"])
        check(len(statuses) == 4, "health: '' and every hosted service SERVING")

        SubmitReq, submit = api.method("frontdoor.v1.ReferralService", "SubmitReferral")
        GetReq, get = api.method("frontdoor.v1.ReferralService", "GetReferral")
        EventsReq, list_events = api.method("frontdoor.v1.ReferralService", "ListReferralEvents")

        # 2. NEWS2 7.
        news2 = load_referral(api, NEWS2_EXAMPLE)
        rid = f"e2e-news2-{os.getpid()}"
        r1 = submit(SubmitReq(request_id=rid, referral=news2, submitted_by="e2e"), timeout=10)
        rec1 = r1.record
        print(f"      NEWS2 7 -> {rec1.id} {enum_name(rec1, 'status')} "
              f"{enum_name(rec1, 'pathway')} {enum_name(rec1, 'urgency')}")
        check(enum_name(rec1, "status") == "REFERRAL_STATUS_TRIAGED", "NEWS2 7: TRIAGED")
        check(enum_name(rec1, "pathway") == "PATHWAY_ACUTE", "NEWS2 7: pathway ACUTE")
        check(enum_name(rec1, "urgency") == "URGENCY_IMMEDIATE", "NEWS2 7: urgency IMMEDIATE")
        check(not r1.replayed and rec1.id != "", "NEWS2 7: stored with a reference")
        again = submit(SubmitReq(request_id=rid, referral=news2, submitted_by="e2e"), timeout=10)
        check(again.replayed and again.record.id == rec1.id,
              "same request_id again: replayed, same reference")
        other = copy.deepcopy(news2)
        other.free_text = other.free_text + " (changed)"
        try:
            submit(SubmitReq(request_id=rid, referral=other, submitted_by="e2e"), timeout=10)
            check(False, "same request_id with a different referral: ALREADY_EXISTS")
        except grpc.RpcError as e:
            check(e.code() == grpc.StatusCode.ALREADY_EXISTS,
                  "same request_id with a different referral: ALREADY_EXISTS")

        # 3. A fall needing a home assessment.
        fall = load_referral(api, FALL_EXAMPLE)
        r2 = submit(SubmitReq(request_id=f"e2e-fall-{os.getpid()}", referral=fall,
                              submitted_by="e2e"), timeout=10)
        rec2 = r2.record
        received = rec2.received_at.ToDatetime().replace(tzinfo=datetime.timezone.utc)
        local = received.astimezone(LONDON)
        in_hours = 8 * 60 <= local.hour * 60 + local.minute < 20 * 60
        print(f"      fall at {local:%H:%M} UK time -> {rec2.id} {enum_name(rec2, 'pathway')} "
              f"{enum_name(rec2, 'urgency')} ({rec2.decision.decisive_row})")
        if in_hours:
            check(enum_name(rec2, "pathway") == "PATHWAY_UCR",
                  "fall received in UCR hours: pathway UCR")
        else:
            check(enum_name(rec2, "pathway") != "PATHWAY_UCR"
                  and rec2.decision.decisive_row.endswith("r60_ucr_closed"),
                  "fall received outside UCR hours (08:00-20:00 UK): not UCR, r60_ucr_closed")
        stored = os.path.join(work, "fall-stored.json")
        with open(stored, "w") as f:
            f.write(json_format.MessageToJson(rec2.referral))
        explained = cli_explain(cli, stored)
        check(explained["pathway"] == enum_name(rec2, "pathway")
              and explained["urgency"] == enum_name(rec2.decision, "urgency")
              and explained["decisive_row"] == rec2.decision.decisive_row,
              "server decision == `frontdoor rules explain` of the stored referral")
        at_ten = cli_explain(cli, os.path.join(ROOT, FALL_EXAMPLE))
        check(at_ten["pathway"] == "PATHWAY_UCR", "CLI: the fall at 10:00 goes to UCR")

        # 4. Reads.
        g1 = get(GetReq(id=rec1.id), timeout=10)
        g2 = get(GetReq(id=rec2.id.replace("-", "").lower()), timeout=10)
        check(g1.id == rec1.id and g1.referral == rec1.referral and g1.version == rec1.version,
              "GetReferral returns the NEWS2 record as submitted")
        check(g2.id == rec2.id and g2.decision == rec2.decision,
              "GetReferral (lower case, no separators) returns the fall record")
        ev1 = list_events(EventsReq(id=rec1.id), timeout=10).events
        types = [enum_name(e, "type") for e in ev1]
        check(types[:2] == ["EVENT_TYPE_SUBMITTED", "EVENT_TYPE_TRIAGED"],
              f"events of the NEWS2 referral: {types}")
        try:
            get(GetReq(id="0000-0000-000"), timeout=10)
            check(False, "GetReferral of an unknown reference: NOT_FOUND")
        except grpc.RpcError as e:
            check(e.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT),
                  f"GetReferral of an unknown reference: {e.code().name}")

        # 5. The CLI against the server.
        records = {rec1.id: g1, rec2.id: g2}
        if cli_has_verb(cli, "submit") and cli_has_verb(cli, "get"):
            out = subprocess.run([cli, "submit", f"--server={server.address}", NEWS2_EXAMPLE],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60,
                                 env=cli_env)
            print("      frontdoor submit: " + (out.stdout.strip().splitlines() or [""])[0])
            check(out.returncode == 0, f"frontdoor submit: exit 0 ({out.stderr.strip()[:200]})")
            # Shown for reading out, e.g. "MCK1 - N1A5 - 8VJ"; the last
            # character is the check symbol, which may be one of *~$=.
            refs = ["-".join(m) for m in re.findall(
                r"\b([0-9A-Z]{4}) ?- ?([0-9A-Z]{4}) ?- ?([0-9A-Z]{2}[0-9A-Z*~$=])(?![0-9A-Z*~$=])",
                out.stdout)]
            check(refs != [], "frontdoor submit prints the reference")
            g3 = get(GetReq(id=refs[0]), timeout=10)
            check(g3.id == refs[0], "the CLI's referral is stored")
            records[g3.id] = g3
            out = subprocess.run([cli, "get", f"--server={server.address}", refs[0]],
                                 cwd=ROOT, capture_output=True, text=True, timeout=60,
                                 env=cli_env)
            check(out.returncode == 0 and refs[0].replace("-", "") in re.sub(r"[\s-]", "", out.stdout),
                  "frontdoor get: exit 0 and shows the reference")
            out = subprocess.run([cli, "submit", f"--server={server.address}", "--json",
                                  FALL_EXAMPLE], cwd=ROOT, capture_output=True, text=True,
                                 timeout=60, env=cli_env)
            check(out.returncode == 0, "frontdoor submit --json: exit 0")
            doc = json.loads(out.stdout)
            g4 = get(GetReq(id=doc["record"]["id"]), timeout=10)
            check(enum_name(g4, "pathway") == doc["record"]["pathway"],
                  "frontdoor submit --json: the record as stored")
            records[g4.id] = g4
        else:
            print("      (the CLI has no submit/get verbs yet: `rules explain` checked above)")

        # 5a. Authentication, and who may see which referral.
        RS = "frontdoor.v1.ReferralService"
        bare = connect(server.address)
        _, get_bare = api.method(RS, "GetReferral", channel=bare)
        _, submit_bare = api.method(RS, "SubmitReferral", channel=bare)
        e = rpc_error(get_bare, GetReq(id=rec1.id), timeout=10)
        check(e is not None and e.code() == grpc.StatusCode.UNAUTHENTICATED,
              f"no token: GetReferral is UNAUTHENTICATED ({e.code().name if e else 'OK'})")
        e = rpc_error(submit_bare, SubmitReq(request_id=f"e2e-anon-{os.getpid()}",
                                             referral=news2), timeout=10)
        check(e is not None and e.code() == grpc.StatusCode.UNAUTHENTICATED,
              f"no token: SubmitReferral is UNAUTHENTICATED ({e.code().name if e else 'OK'})")
        check(len(wait_serving(bare, ["", RS], timeout=10)) == 2,
              "no token: health Check answers SERVING")
        forged = connect(server.address, "fd_" + "A" * 43)
        _, get_forged = api.method(RS, "GetReferral", channel=forged)
        e = rpc_error(get_forged, GetReq(id=rec1.id), timeout=10)
        check(e is not None and e.code() == grpc.StatusCode.UNAUTHENTICATED,
              f"an unknown token: UNAUTHENTICATED ({e.code().name if e else 'OK'})")

        referrer = connect(server.address, tokens["referrer"])
        _, get_a = api.method(RS, "GetReferral", channel=referrer)
        _, submit_a = api.method(RS, "SubmitReferral", channel=referrer)
        ListReq, list_a = api.method(RS, "ListReferrals", channel=referrer)
        denied = rpc_error(get_a, GetReq(id=rec1.id), timeout=10)
        check(denied is not None and denied.code() == grpc.StatusCode.PERMISSION_DENIED,
              "a referrer's token on the clinician's referral: PERMISSION_DENIED "
              f"({denied.code().name if denied else 'OK'})")
        missing = "0000-0000-000"  # well formed (check character 0), never issued here
        absent = rpc_error(get_a, GetReq(id=missing), timeout=10)
        check(absent is not None and absent.code() == grpc.StatusCode.PERMISSION_DENIED,
              "a referrer's token on a reference that does not exist: PERMISSION_DENIED "
              f"({absent.code().name if absent else 'OK'})")
        print(f"      refused: {denied.details()!r} / {absent.details()!r}")
        check(denied.details().replace(rec1.id, "REF") == absent.details().replace(missing, "REF"),
              "PERMISSION_DENIED does not reveal existence: the same message but for the reference")
        fall_a = load_referral(api, FALL_EXAMPLE)
        ra = submit_a(SubmitReq(request_id=f"e2e-referrer-{os.getpid()}", referral=fall_a),
                      timeout=10).record
        own = get_a(GetReq(id=ra.id), timeout=10)
        check(own.id == ra.id and own.submitted_by == CALLERS["referrer"][1],
              f"a referrer sees their own referral (submitted_by {own.submitted_by!r})")
        listed = [r.id for r in list_a(ListReq(), timeout=10).referrals]
        check(listed == [ra.id], f"a referrer's ListReferrals has only their own ({listed})")
        _, get_b = api.method(RS, "GetReferral", channel=connect(server.address,
                                                                  tokens["referrer2"]))
        e = rpc_error(get_b, GetReq(id=ra.id), timeout=10)
        check(e is not None and e.code() == grpc.StatusCode.PERMISSION_DENIED,
              f"another referrer on that referral: PERMISSION_DENIED ({e.code().name if e else 'OK'})")
        records[ra.id] = own

        auditor = connect(server.address, tokens["auditor"])
        _, get_auditor = api.method(RS, "GetReferral", channel=auditor)
        e = rpc_error(get_auditor, GetReq(id=rec1.id), timeout=10)
        check(e is not None and e.code() == grpc.StatusCode.PERMISSION_DENIED,
              f"the auditor may not read referrals: PERMISSION_DENIED ({e.code().name if e else 'OK'})")
        api.load_symbol("frontdoor.v1.AuditService")
        QueryReq, query = api.method("frontdoor.v1.AuditService", "Query", channel=auditor)
        e = rpc_error(query, QueryReq(principal=CALLERS["referrer"][1]), timeout=10)
        check(e is None, f"the auditor queries the audit trail ({e.code().name if e else 'OK'})")
        entries = query(QueryReq(principal=CALLERS["referrer"][1]), timeout=10).entries
        seen = {(x.action, x.referral_id, x.outcome) for x in entries}
        print(f"      audit trail of {CALLERS['referrer'][1]}: {sorted(seen)}")
        check(any(x.referral_id == rec1.id and x.outcome == "PERMISSION_DENIED" for x in entries),
              "the audit trail has the referrer's refused read of the clinician's referral")
        _, query_clin = api.method("frontdoor.v1.AuditService", "Query")
        e = rpc_error(query_clin, QueryReq(principal=CALLERS["referrer"][1]), timeout=10)
        check(e is not None and e.code() == grpc.StatusCode.PERMISSION_DENIED,
              f"a clinician may not query the audit trail ({e.code().name if e else 'OK'})")
        for c in (bare, forged, referrer, auditor):
            c.close()

        # 6. SIGTERM, restart on the same data directory.
        # As stored just before the stop (later submissions of the same
        # patient and problem were linked to earlier records, changing them).
        records = {i: get(GetReq(id=i), timeout=10) for i in records}
        events = {i: [e.SerializeToString(deterministic=True)
                      for e in list_events(EventsReq(id=i), timeout=10).events]
                  for i in records}
        channel.close()
        code = server.stop()
        check(code == 0, f"SIGTERM: frontdoor-server exits 0 (got {code})")
        server = Server(server_bin, "server-restarted", work, data, tokens_file)
        servers.append(server)
        channel = connect(server.address, tokens["clinician"])
        api = ReflectedApi(channel)
        api.load_symbol("frontdoor.v1.ReferralService")
        wait_serving(channel, [""])
        GetReq, get = api.method("frontdoor.v1.ReferralService", "GetReferral")
        EventsReq, list_events = api.method("frontdoor.v1.ReferralService", "ListReferralEvents")
        check_audit_trail(api, server.address, tokens["auditor"], cli)
        for rid_, before in records.items():
            after = get(GetReq(id=rid_), timeout=10)
            # Classes from another reflection pool: compare the wire bytes.
            changed = [f.name for f in before.DESCRIPTOR.fields
                       if field_bytes(after, f.name) != field_bytes(before, f.name)]
            check(changed == [], f"after restart: {rid_} is unchanged (changed: {changed})")
            ev = [e.SerializeToString(deterministic=True)
                  for e in list_events(EventsReq(id=rid_), timeout=10).events]
            check(ev == events[rid_], f"after restart: {rid_} has its {len(ev)} events")
        channel.close()
        code = server.stop()
        check(code == 0, f"SIGTERM again: exit 0 (got {code})")

        # 7. Never lost: triage unreachable at submission.
        triage_port = free_port()
        data2 = os.path.join(work, "data2")
        referral_srv = Server(server_bin, "referral-only", work, data2, tokens_file,
                              extra=["--roles=referral,directory",
                                     f"--triage_target=127.0.0.1:{triage_port}",
                                     f"--service_token_file={service_token_file}"])
        servers.append(referral_srv)
        channel = connect(referral_srv.address, tokens["clinician"])
        api = ReflectedApi(channel)
        api.load_symbol("frontdoor.v1.ReferralService")
        wait_serving(channel, ["", "frontdoor.v1.ReferralService"])
        SubmitReq, submit = api.method("frontdoor.v1.ReferralService", "SubmitReferral")
        GetReq, get = api.method("frontdoor.v1.ReferralService", "GetReferral")
        EventsReq, list_events = api.method("frontdoor.v1.ReferralService", "ListReferralEvents")
        news2 = load_referral(api, NEWS2_EXAMPLE)
        r = submit(SubmitReq(request_id=f"e2e-lost-{os.getpid()}", referral=news2,
                             submitted_by="e2e"), timeout=30)
        print(f"      triage down: {r.record.id} {enum_name(r.record, 'status')} "
              f"({r.record.status_reason})")
        check(enum_name(r.record, "status") == "REFERRAL_STATUS_AWAITING_TRIAGE",
              "triage unreachable: the submission is acknowledged as AWAITING_TRIAGE")
        triage_srv = Server(server_bin, "triage-only", work, os.path.join(work, "data3"),
                            tokens_file, listen=f"127.0.0.1:{triage_port}",
                            extra=["--roles=triage",
                                   f"--service_token_file={service_token_file}"])
        servers.append(triage_srv)
        started = time.monotonic()
        rec = None
        while time.monotonic() - started < TRIAGE_RECOVERY_LIMIT_S:
            rec = get(GetReq(id=r.record.id), timeout=10)
            if enum_name(rec, "status") != "REFERRAL_STATUS_AWAITING_TRIAGE":
                break
            time.sleep(0.25)
        waited = time.monotonic() - started
        print(f"      after the triage process started: {enum_name(rec, 'status')} "
              f"{enum_name(rec, 'pathway')} {enum_name(rec, 'urgency')} in {waited:.1f} s")
        check(enum_name(rec, "status") == "REFERRAL_STATUS_TRIAGED"
              and enum_name(rec, "pathway") == "PATHWAY_ACUTE",
              f"triage back: the referral is TRIAGED (ACUTE) within {TRIAGE_RECOVERY_LIMIT_S} s "
              f"(took {waited:.1f} s)")
        types = [enum_name(e, "type") for e in list_events(EventsReq(id=rec.id), timeout=10).events]
        check(types[:3] == ["EVENT_TYPE_SUBMITTED", "EVENT_TYPE_AWAITING_TRIAGE",
                            "EVENT_TYPE_TRIAGED"], f"its events: {types}")
        channel.close()
        check(referral_srv.stop() == 0, "referral-role process: SIGTERM exit 0")
        check(triage_srv.stop() == 0, "triage-role process: SIGTERM exit 0")
    except Exception as e:  # noqa: BLE001  report, then show the servers' logs
        if not isinstance(e, CheckFailed):
            FAILED.append(f"error: {e!r}")
            print(f"FAIL  {e!r}", flush=True)
        for s in servers:
            print(f"--- {s.name} log (last lines):\n{s.tail()}", flush=True)
    finally:
        for s in servers:
            if s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("FRONTDOOR_SERVER_BIN"),
                        help="frontdoor-server binary (env FRONTDOOR_SERVER_BIN)")
    parser.add_argument("--cli", default=os.environ.get("FRONTDOOR_CLI"),
                        help="frontdoor CLI binary (env FRONTDOOR_CLI)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if not args.server or not args.cli:
        parser.error("--server and --cli (or FRONTDOOR_SERVER_BIN and FRONTDOOR_CLI) are required")
    server_bin = os.path.abspath(args.server)
    cli = os.path.abspath(args.cli)
    work = tempfile.mkdtemp(prefix="frontdoor-e2e-")
    try:
        gen = os.path.join(work, "gen")
        os.makedirs(gen)
        generate_stubs(gen)
        import_grpc(gen)
        run(server_bin, cli, work)
    finally:
        if args.keep or FAILED:
            print(f"e2e: files kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    return 0 if PASSED and not FAILED else 1


if __name__ == "__main__":
    sys.exit(main())
