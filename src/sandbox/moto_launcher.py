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
"""

import inspect
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


def _exit_with_parent():
    try:
        sys.stdin.read()
    finally:
        os._exit(0)


if __name__ == "__main__":
    if "--detach" not in sys.argv[2:]:
        threading.Thread(target=_exit_with_parent, daemon=True).start()
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
