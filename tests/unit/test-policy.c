/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each runtime policy row of DESIGN section 3, driven with plain data.
 */
#include <string.h>

#include "devbg-policy.h"
#include "devbg-runtime.h"

static DevbgConfig
defaults (void)
{
  DevbgConfig c;
  devbg_config_init_defaults (&c);
  return c;
}

static void
assert_verdict (DevbgVerdict v, gboolean cancel, DevbgCancelReason reason, const char *detail_part)
{
  g_assert_cmpint (v.cancel, ==, cancel);
  if (cancel)
    {
      g_assert_cmpint (v.reason, ==, reason);
      g_assert_nonnull (strstr (v.detail, detail_part));
    }
  devbg_verdict_clear (&v);
}

static void
test_wall_clock (void)
{
  DevbgConfig c = defaults ();

  g_assert_cmpfloat (devbg_policy_wall_clock_limit (&c, DEVBG_TRIGGER_USE), ==, 600);
  g_assert_cmpfloat (devbg_policy_wall_clock_limit (&c, DEVBG_TRIGGER_SERVICING), ==, 1800);
  assert_verdict (devbg_policy_check_wall_clock (&c, DEVBG_TRIGGER_USE, 599.9), FALSE, 0, NULL);
  assert_verdict (devbg_policy_check_wall_clock (&c, DEVBG_TRIGGER_USE, 600), TRUE,
                  DEVBG_CANCEL_EXECUTION_TIME_EXCEEDED, "600 s");
  assert_verdict (devbg_policy_check_wall_clock (&c, DEVBG_TRIGGER_SERVICING, 1000), FALSE, 0, NULL);
  assert_verdict (devbg_policy_check_wall_clock (&c, DEVBG_TRIGGER_SERVICING, 1800), TRUE,
                  DEVBG_CANCEL_EXECUTION_TIME_EXCEEDED, "servicing");
}

static void
test_io (void)
{
  DevbgConfig c = defaults ();

  g_assert_true (devbg_policy_requires_io (DEVBG_TRIGGER_USE));
  g_assert_false (devbg_policy_requires_io (DEVBG_TRIGGER_SERVICING));
  assert_verdict (devbg_policy_check_io (&c, DEVBG_TRIGGER_USE, 10, 11), FALSE, 0, NULL);
  assert_verdict (devbg_policy_check_io (&c, DEVBG_TRIGGER_USE, 10, 10), TRUE,
                  DEVBG_CANCEL_IDLE_TASK, "no I/O to the device in 5 s");
  assert_verdict (devbg_policy_check_io (&c, DEVBG_TRIGGER_SERVICING, 10, 10), FALSE, 0, NULL);
}

static void
test_cpu (void)
{
  DevbgConfig c = defaults ();

  /* 400 ms at 1 GHz: 400 ms on a 1 GHz CPU, 200 ms on a 2 GHz one. */
  g_assert_cmpuint (devbg_policy_cpu_floor_us (&c, 1000), ==, 400000);
  g_assert_cmpuint (devbg_policy_cpu_floor_us (&c, 2000), ==, 200000);
  g_assert_cmpuint (devbg_policy_cpu_floor_us (&c, 0), ==, 400000); /* unknown: unscaled */
  g_assert_cmpfloat (devbg_policy_cpu_window (&c, TRUE), ==, 60);
  g_assert_cmpfloat (devbg_policy_cpu_window (&c, FALSE), ==, 300);
  assert_verdict (devbg_policy_check_cpu (&c, 200000, 2000), FALSE, 0, NULL);
  assert_verdict (devbg_policy_check_cpu (&c, 199999, 2000), TRUE, DEVBG_CANCEL_IDLE_TASK, "floor");
}

static void
test_removal (void)
{
  assert_verdict (devbg_policy_check_removal (DEVBG_TRIGGER_USE, "usb-1"), TRUE,
                  DEVBG_CANCEL_CONDITION_LOSS, "usb-1 was removed");
  /* A servicing task's device may reboot and disconnect. */
  assert_verdict (devbg_policy_check_removal (DEVBG_TRIGGER_SERVICING, "usb-1"), FALSE, 0, NULL);
}

static void
test_visibility (void)
{
  DevbgInstanceRecord task = { .app_id = (char *) "org.a.App", .uid = 1000 };
  DevbgCaller same_app_other_uid = { .app_id = "org.a.App", .uid = 1001 };
  DevbgCaller other_app_same_uid = { .app_id = "org.b.App", .uid = 1000 };
  DevbgCaller shell_same_uid = { .app_id = NULL, .uid = 1000 };
  DevbgCaller shell_other_uid = { .app_id = NULL, .uid = 1001 };
  DevbgCaller root_shell = { .app_id = NULL, .uid = 0 };
  DevbgCaller root_app = { .app_id = "org.b.App", .uid = 0 };
  DevbgCaller root_same_app = { .app_id = "org.a.App", .uid = 0 };
  DevbgCaller owner = { .app_id = "org.a.App", .uid = 1000 };

  /* An app's instances belong to (user, app): the owner sees them, the
   * same app run by another user does not, even as root. */
  g_assert_true (devbg_runtime_may_see (&owner, &task));
  g_assert_false (devbg_runtime_may_see (&same_app_other_uid, &task));
  g_assert_false (devbg_runtime_may_see (&root_same_app, &task));
  /* One app never sees another's, even of the same user, even as root. */
  g_assert_false (devbg_runtime_may_see (&other_app_same_uid, &task));
  g_assert_false (devbg_runtime_may_see (&root_app, &task));
  /* The person at the computer sees what runs as them; root sees all. */
  g_assert_true (devbg_runtime_may_see (&shell_same_uid, &task));
  g_assert_false (devbg_runtime_may_see (&shell_other_uid, &task));
  g_assert_true (devbg_runtime_may_see (&root_shell, &task));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/policy/wall-clock", test_wall_clock);
  g_test_add_func ("/policy/io", test_io);
  g_test_add_func ("/policy/cpu", test_cpu);
  g_test_add_func ("/policy/removal", test_removal);
  g_test_add_func ("/policy/visibility", test_visibility);
  return g_test_run ();
}
