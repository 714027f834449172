"""Starts moto's server (the local AWS emulator) for login-release's tests and sandbox.

Usage: python moto_launcher.py PORT [--detach]

Two additions to a plain `moto_server`:

1. moto 5.2.x stores Auto Scaling scheduled actions by name only, across all groups: putting
   `RecycleOnce.asg-recycle` on prod-worker silently replaces the one on prod-idp, and deleting by
   (group, name) removes whichever copy is stored. AWS keeps them per group, and our recycle puts
   the same names on several groups. The two wrappers below key them by (group, name). They check
   moto's signatures first and refuse to start if moto changed, rather than emulate the wrong thing.
2. The server exits when its parent's end of stdin closes, so a crashed test run leaves no server
   (unless --detach: the sandbox's server outlives `login-release sandbox up`).
3. The sandbox's world simulator (`login-release sandbox world-run`) plays the instances, which moto
   does not: moto launches every instance InService and every registered target healthy at once.
   A small control API under /login-release-sandbox/ (loopback only, like the server) lets it
   (a) hold new group instances in Pending (`hold-pending`), (b) move an instance through its
   lifecycle and health (`instance`), (c) say what the load balancer reports for a target
   (`target-health`). moto counts only InService instances toward a group's capacity; AWS counts
   Pending ones too, so the group's `active_instances` is widened accordingly (otherwise every
   capacity change while instances provision would launch extras).
"""

import inspect
import json
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
for fn, want in ((_original_put, _PUT_PARAMS), (Backend.delete_scheduled_action, _DELETE_PARAMS)):
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


Backend.put_scheduled_update_group_action = put_scheduled_update_group_action
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
