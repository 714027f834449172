"""Starts moto's server (the local AWS emulator) for login-release's tests and sandbox.

Usage: python moto_launcher.py PORT [--detach]

Two additions to a plain `moto_server`:

1. moto 5.2.x stores Auto Scaling scheduled actions by name only, across all groups: putting
   `RecycleOnce.asg-recycle` on prod-worker silently replaces the one on prod-idp, and deleting by
   (group, name) removes whichever copy is stored. AWS keeps them per group, and our recycle puts
   the same names on several groups. The two wrappers below key them by (group, name). They check
   moto's signatures first and refuse to start if moto changed, rather than emulate the wrong thing.
2. moto accepts SetInstanceProtection for instances in any lifecycle state; AWS refuses it for
   instances that are not InService or Standby (Pending, Pending:Wait while lifecycle hooks hold
   them). The wrapper below refuses as AWS does, so a command that tries is seen failing.
3. The server exits when its parent's end of stdin closes, so a crashed test run leaves no server
   (unless --detach: the sandbox's server outlives `login-release sandbox up`).
3. The sandbox's world simulator (`login-release sandbox world-run`) plays the instances, which moto
   does not: moto launches every instance InService and every registered target healthy at once.
   A small control API under /login-release-sandbox/ (loopback only, like the server) lets it
   (a) hold new group instances in Pending (`hold-pending`), (b) move an instance through its
   lifecycle and health (`instance`), (c) say what the load balancer reports for a target
   (`target-health`). moto counts only InService instances toward a group's capacity; AWS counts
   Pending ones too, so the group's `active_instances` is widened accordingly (otherwise every
   capacity change while instances provision would launch extras).
4. Logs Insights aggregates. moto implements StartQuery and GetQueryResults but understands only
   `fields`, `sort` and `limit`; it silently ignores `filter`, `stats` and `by`, so a counting
   query (what monitor-deploy sends) comes back as raw events the monitor cannot read. A query
   with `stats` is answered here instead, from the log events moto holds (the traffic the world
   wrote), by a small evaluator of the language's subset the monitor uses: `fields` with
   `expr as alias` (with `*`, `/` and `floor()`), `filter` with `and`/`or`/`not`, comparisons,
   `in [...]` and `ispresent()`,
   and `stats` with count(*), count, sum, min, max, avg and count_distinct, `by` fields. JSON
   messages are flattened to dotted fields as Logs Insights discovers them (booleans count as 1
   and 0). Anything else in such a query is refused with MalformedQueryException rather than
   answered wrongly. Queries without `stats` keep moto's own answer.
"""

import inspect
import json
import math
import os
import sys
import threading

from moto.autoscaling import models as asg
from moto.autoscaling.exceptions import ValidationError

Backend = asg.AutoScalingBackend
_original_put = Backend.put_scheduled_update_group_action
_PUT_PARAMS = [
    "self", "name", "desired_capacity", "max_size", "min_size", "scheduled_action_name",
    "start_time", "end_time", "recurrence", "timezone",
]
_DELETE_PARAMS = ["self", "auto_scaling_group_name", "scheduled_action_name"]
_original_protect = Backend.set_instance_protection
_PROTECT_PARAMS = ["self", "group_name", "instance_ids", "protected_from_scale_in"]
for fn, want in ((_original_put, _PUT_PARAMS), (Backend.delete_scheduled_action, _DELETE_PARAMS),
                 (_original_protect, _PROTECT_PARAMS)):
    got = list(inspect.signature(fn).parameters)
    if got != want:
        sys.exit(f"moto_launcher: moto changed {fn.__name__}{got}; update the shim in {__file__}")


def put_scheduled_update_group_action(self, name, desired_capacity, max_size, min_size,
                                      scheduled_action_name, start_time, end_time, recurrence,
                                      timezone):
    action = _original_put(self, name, desired_capacity, max_size, min_size,
                           scheduled_action_name, start_time, end_time, recurrence, timezone)
    # The original stored it under the bare name; move it under (group, name).
    self.scheduled_actions.pop(scheduled_action_name, None)
    self.scheduled_actions[(name, scheduled_action_name)] = action
    return action


def delete_scheduled_action(self, auto_scaling_group_name, scheduled_action_name):
    if self.scheduled_actions.pop((auto_scaling_group_name, scheduled_action_name), None) is None:
        raise ValidationError("Scheduled action name not found")


def set_instance_protection(self, group_name, instance_ids, protected_from_scale_in):
    group = self.autoscaling_groups[group_name]
    for state in group.instance_states:
        if state.instance.id in instance_ids and state.lifecycle_state not in ("InService", "Standby"):
            raise ValidationError(
                f"The instance {state.instance.id} is not in InService or Standby.")
    return _original_protect(self, group_name, instance_ids, protected_from_scale_in)


Backend.put_scheduled_update_group_action = put_scheduled_update_group_action
Backend.set_instance_protection = set_instance_protection
Backend.delete_scheduled_action = delete_scheduled_action

# --- 3. the world simulator's control API ------------------------------------------------------

from moto.elbv2 import models as elbv2

_STATE_PARAMS = ["self", "instance", "lifecycle_state", "health_status", "protected_from_scale_in",
                 "autoscaling_group"]
_HEALTH_PARAMS = ["self", "target", "ec2_backend"]
for fn, want in ((asg.InstanceState.__init__, _STATE_PARAMS),
                 (elbv2.FakeTargetGroup.health_for, _HEALTH_PARAMS),
                 (asg.FakeAutoScalingGroup.active_instances, ["self"])):
    got = list(inspect.signature(fn).parameters)
    if got != want:
        sys.exit(f"moto_launcher: moto changed {fn.__qualname__}{got}; update the shim in {__file__}")

_HOLD = {"on": False}
# instance id -> (state, reason, description) the load balancer reports while it is registered.
_TARGET_HEALTH = {}
# AWS counts these toward capacity; moto counts only InService.
_COUNTED = ("Pending", "Pending:Wait", "Pending:Proceed", "InService")

_original_state_init = asg.InstanceState.__init__


def _state_init(self, instance, lifecycle_state=None, health_status="Healthy",
                protected_from_scale_in=False, autoscaling_group=None):
    if lifecycle_state is None:
        lifecycle_state = "Pending" if _HOLD["on"] else "InService"
    _original_state_init(self, instance, lifecycle_state, health_status, protected_from_scale_in,
                         autoscaling_group)


def _active_instances(self):
    return [x for x in self.instance_states if x.lifecycle_state in _COUNTED]


_original_health_for = elbv2.FakeTargetGroup.health_for


def _health_for(self, target, ec2_backend):
    status = _original_health_for(self, target, ec2_backend)
    override = _TARGET_HEALTH.get(target["Id"])
    if override and target["Id"] in self.targets:
        state, reason, description = override
        return elbv2.FakeHealthStatus(target["Id"], status.port, status.health_check_port, state,
                                      reason, description)
    return status


asg.InstanceState.__init__ = _state_init
asg.FakeAutoScalingGroup.active_instances = _active_instances
elbv2.FakeTargetGroup.health_for = _health_for

CONTROL = "/login-release-sandbox/"


def _instance_state(region, instance_id):
    backend = asg.autoscaling_backends[os.environ.get("MOTO_ACCOUNT_ID", "123456789012")][region]
    for group in backend.autoscaling_groups.values():
        for state in group.instance_states:
            if state.instance.id == instance_id:
                return state
    return None


def _control(path, body):
    """One control request: (HTTP status, JSON answer)."""
    if path == "hold-pending":
        _HOLD["on"] = bool(body["on"])
        return 200, {"hold_pending": _HOLD["on"]}
    if path == "instance":
        state = _instance_state(body.get("region", "us-west-2"), body["instance_id"])
        if state is None:
            return 404, {"error": f"no group instance {body['instance_id']}"}
        if "lifecycle_state" in body:
            state.lifecycle_state = body["lifecycle_state"]
        if "health_status" in body:
            state.health_status = body["health_status"]
        return 200, {"lifecycle_state": state.lifecycle_state, "health_status": state.health_status}
    if path == "target-health":
        if body.get("state") in (None, "healthy"):
            _TARGET_HEALTH.pop(body["instance_id"], None)
        else:
            _TARGET_HEALTH[body["instance_id"]] = (body["state"], body.get("reason"),
                                                   body.get("description"))
        return 200, {"instance_id": body["instance_id"], "state": body.get("state", "healthy")}
    return 404, {"error": f"unknown control path {path}"}


def _with_control(app):
    def wrapped(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(CONTROL):
            return app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = json.loads(environ["wsgi.input"].read(length) or b"{}")
            code, answer = _control(path[len(CONTROL):], body)
        except (KeyError, ValueError, TypeError) as e:
            code, answer = 400, {"error": f"bad control request: {e!r}"}
        data = json.dumps(answer).encode()
        reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[code]
        start_response(f"{code} {reason}", [("Content-Type", "application/json"),
                                            ("Content-Length", str(len(data)))])
        return [data]
    return wrapped


# --- 4. Logs Insights aggregates ---------------------------------------------------------------

import datetime
import re

from moto.logs import models as logs_models
from moto.logs.exceptions import LogsClientError


class MalformedQueryException(LogsClientError):
    def __init__(self, msg):
        self.code = 400
        super().__init__("MalformedQueryException", msg)

_EXEC_PARAMS = ["log_groups", "query", "start_time", "end_time"]
got = list(inspect.signature(logs_models.execute_query).parameters)
if got != _EXEC_PARAMS:
    sys.exit(f"moto_launcher: moto changed execute_query{got}; update the shim in {__file__}")
_original_execute_query = logs_models.execute_query

_TOKEN = re.compile(r"""\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>>=|<=|!=|=|<|>|\(|\)|\[|\]|,|\*|/)|(?P<word>[@A-Za-z_][\w.@]*))""")


class Malformed(Exception):
    pass


def _tokens(text):
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Malformed(f"cannot read {text[pos:pos + 20]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "str":
            value = bytes(value[1:-1], "utf-8").decode("unicode_escape")
        elif kind == "num":
            value = float(value) if "." in value else int(value)
        out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, value=None):
        if self.i >= len(self.toks):
            return None
        tok = self.toks[self.i]
        if value is not None:
            return tok if tok[1] == value and tok[0] in ("op", "word") else None
        return tok

    def take(self, value=None):
        tok = self.peek(value)
        if tok is None:
            raise Malformed(f"expected {value or 'more'} at token {self.i}")
        self.i += 1
        return tok

    def done(self):
        return self.i >= len(self.toks)

    # expr := or ; or := and ('or' and)* ; and := not ('and' not)* ; not := 'not' not | cmp
    def expr(self):
        left = self.conj()
        while self.peek("or"):
            self.take()
            right = self.conj()
            left = ("or", left, right)
        return left

    def conj(self):
        left = self.neg()
        while self.peek("and"):
            self.take()
            right = self.neg()
            left = ("and", left, right)
        return left

    def neg(self):
        if self.peek("not"):
            self.take()
            return ("not", self.neg())
        return self.cmp()

    def cmp(self):
        left = self.term()
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in ("=", "!=", "<", ">", "<=", ">="):
            self.take()
            return ("cmp", tok[1], left, self.term())
        if self.peek("in"):
            self.take()
            self.take("[")
            items = []
            while not self.peek("]"):
                items.append(self.atom())
                if self.peek(","):
                    self.take()
            self.take("]")
            return ("in", left, items)
        return left

    # term := atom (('*' | '/') atom)*  (the monitor computes `floor(status / 500)`)
    def term(self):
        left = self.atom()
        while self.peek("/") or self.peek("*"):
            op = self.take()[1]
            left = ("arith", op, left, self.atom())
        return left

    def atom(self):
        kind, value = self.take()
        if kind in ("num", "str"):
            return ("lit", value)
        if (kind, value) == ("op", "("):
            e = self.expr()
            self.take(")")
            return e
        if kind == "word" and self.peek("("):
            self.take("(")
            args = []
            while not self.peek(")"):
                if self.peek("*"):
                    self.take()
                    args.append(("star",))
                else:
                    args.append(self.expr())
                if self.peek(","):
                    self.take()
            self.take(")")
            return ("call", value.lower(), args)
        if kind == "word":
            return ("field", value)
        raise Malformed(f"unexpected {value!r}")

    def items(self):
        """`expr [as alias], ...` up to `by` or the end."""
        out = []
        while not self.done() and not self.peek("by"):
            e = self.expr()
            alias = None
            if self.peek("as"):
                self.take()
                alias = self.take()[1]
            out.append((e, alias))
            if self.peek(","):
                self.take()
        return out


def _split_commands(query):
    parts, depth, quote, cur = [], 0, None, ""
    for ch in query:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    parts.append(cur.strip())
    return [p for p in parts if p]


def _flatten(value, prefix, out):
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{prefix}{k}.", out)
    elif isinstance(value, bool):
        out[prefix[:-1]] = 1 if value else 0
    elif value is not None and not isinstance(value, list):
        out[prefix[:-1]] = value


def _eval(e, row):
    op = e[0]
    if op == "lit":
        return e[1]
    if op == "field":
        return row.get(e[1])
    if op == "and":
        return bool(_eval(e[1], row)) and bool(_eval(e[2], row))
    if op == "or":
        return bool(_eval(e[1], row)) or bool(_eval(e[2], row))
    if op == "not":
        return not _eval(e[1], row)
    if op == "in":
        v = _eval(e[1], row)
        return v is not None and v in [_eval(x, row) for x in e[2]]
    if op == "cmp":
        a, b = _eval(e[2], row), _eval(e[3], row)
        if a is None or b is None:
            return False
        if isinstance(a, (int, float)) != isinstance(b, (int, float)):
            try:
                a, b = float(a), float(b)
            except (TypeError, ValueError):
                a, b = str(a), str(b)
        return {"=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b,
                ">=": a >= b}[e[1]]
    if op == "arith":
        a, b = _eval(e[2], row), _eval(e[3], row)
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            return None
        if e[1] == "*":
            return a * b
        return a / b if b else None
    if op == "call" and e[1] == "ispresent" and len(e[2]) == 1:
        return _eval(e[2][0], row) is not None
    if op == "call" and e[1] == "floor" and len(e[2]) == 1:
        v = _eval(e[2][0], row)
        return math.floor(v) if isinstance(v, (int, float)) else None
    raise Malformed(f"{e[1] if op == 'call' else op} is not understood here")


_AGGREGATES = ("count", "sum", "min", "max", "avg", "count_distinct")


def _insights_time(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(ms) % 1000:03d}"


def _aggregate(name, arg, rows):
    if name == "count":
        if arg == ("star",):
            return len(rows)
        return sum(1 for r in rows if _eval(arg, r) is not None)
    values = [v for v in (_eval(arg, r) for r in rows) if v is not None]
    if name == "count_distinct":
        return len(set(values))
    nums = []
    for v in values:
        try:
            nums.append(float(v) if isinstance(v, str) else v)
        except ValueError:
            continue
    if not nums:
        return None
    if name == "sum":
        total = sum(nums)
        return int(total) if float(total).is_integer() else total
    if name == "avg":
        return sum(nums) / len(nums)
    best = min(nums) if name == "min" else max(nums)
    if arg == ("field", "@timestamp"):
        return _insights_time(best)
    return best


def insights_query(log_groups, query, start_time, end_time):
    """Evaluates a query with `stats` over the groups' events in [start_time, end_time] (whole
    seconds, both included)."""
    commands = _split_commands(query)
    rows = []
    lo, hi = (start_time or 0) * 1000, ((end_time + 1) * 1000 if end_time else float("inf"))
    for group in log_groups:
        for stream in group.streams.values():
            for event in stream.events:
                if not lo <= event.timestamp < hi:
                    continue
                row = {}
                try:
                    message = json.loads(event.message)
                except ValueError:
                    message = None
                if isinstance(message, dict):
                    _flatten(message, "", row)
                row.update({"@timestamp": event.timestamp, "@message": event.message,
                            "@logStream": stream.log_stream_name, "@log": group.name})
                rows.append(row)
    result, limit = None, None
    for command in commands:
        verb, _, rest = command.partition(" ")
        verb = verb.lower()
        if verb == "fields":
            for e, alias in _Parser(rest).items():
                name = alias or (e[1] if e[0] == "field" else None)
                if name is None:
                    raise Malformed("a computed field needs `as NAME`")
                for r in rows:
                    r[name] = _eval(e, r)
        elif verb == "filter":
            p = _Parser(rest)
            cond = p.expr()
            if not p.done():
                raise Malformed("trailing words in filter")
            rows = [r for r in rows if _eval(cond, r)]
        elif verb == "stats":
            if result is not None:
                raise Malformed("one stats command only")
            p = _Parser(rest)
            aggs = p.items()
            by = []
            if p.peek("by"):
                p.take()
                by = [e for e, _ in p.items()]
            groups = {}
            for r in rows:
                key = tuple(_eval(b, r) for b in by)
                groups.setdefault(key, []).append(r)
            result = []
            for key, members in groups.items():
                out = {}
                for b, v in zip(by, key):
                    if v is not None:
                        out[b[1] if b[0] == "field" else str(b)] = v
                for e, alias in aggs:
                    if e[0] != "call" or e[1] not in _AGGREGATES or len(e[2]) != 1:
                        what = f"{e[1]}()" if e[0] == "call" else e[0]
                        raise Malformed(f"{what} is not an aggregate understood here")
                    v = _aggregate(e[1], e[2][0], members)
                    if v is not None:
                        out[alias or f"{e[1]}(...)"] = v
                result.append(out)
        elif verb == "sort":
            continue
        elif verb == "limit":
            limit = int(rest.strip())
        else:
            raise Malformed(f"`{verb}` is not understood here")
    result = result or []
    return result[:limit] if limit else result


def _execute_query(log_groups, query, start_time, end_time):
    if not any(c.lower().startswith("stats ") for c in _split_commands(query)):
        return _original_execute_query(log_groups, query, start_time, end_time)
    try:
        return insights_query(log_groups, query, start_time, end_time)
    except Malformed as e:
        raise MalformedQueryException(str(e))


logs_models.execute_query = _execute_query


def _exit_with_parent():
    try:
        sys.stdin.read()
    finally:
        os._exit(0)


if __name__ == "__main__":
    if "--detach" not in sys.argv[2:]:
        threading.Thread(target=_exit_with_parent, daemon=True).start()
    from moto.moto_server import werkzeug_app

    _original_call = werkzeug_app.DomainDispatcherApplication.__call__

    def _dispatch(self, environ, start_response):
        return _with_control(lambda e, s: _original_call(self, e, s))(environ, start_response)

    werkzeug_app.DomainDispatcherApplication.__call__ = _dispatch
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
