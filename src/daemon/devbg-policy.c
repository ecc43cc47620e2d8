/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "devbg-policy"

#include "devbg-policy.h"

void
devbg_verdict_clear (DevbgVerdict *verdict)
{
  g_clear_pointer (&verdict->detail, g_free);
  verdict->cancel = FALSE;
}

static DevbgVerdict
keep (void)
{
  return (DevbgVerdict) { .cancel = FALSE };
}

static DevbgVerdict
cancel (DevbgCancelReason reason, char *detail)
{
  return (DevbgVerdict) { .cancel = TRUE, .reason = reason, .detail = detail };
}

double
devbg_policy_wall_clock_limit (const DevbgConfig *config, DevbgTriggerType trigger)
{
  return trigger == DEVBG_TRIGGER_SERVICING ? config->servicing_wall_clock_limit
                                            : config->use_wall_clock_limit;
}

gboolean
devbg_policy_requires_attached (DevbgTriggerType trigger)
{
  return trigger == DEVBG_TRIGGER_USE;
}

gboolean
devbg_policy_requires_io (DevbgTriggerType trigger)
{
  return trigger == DEVBG_TRIGGER_USE;
}

DevbgVerdict
devbg_policy_check_wall_clock (const DevbgConfig *config, DevbgTriggerType trigger,
                               double elapsed_s)
{
  double limit = devbg_policy_wall_clock_limit (config, trigger);

  if (elapsed_s < limit)
    return keep ();
  return cancel (DEVBG_CANCEL_EXECUTION_TIME_EXCEEDED,
                 g_strdup_printf ("a %s task may run %g s", devbg_trigger_type_to_string (trigger),
                                  limit));
}

DevbgVerdict
devbg_policy_check_io (const DevbgConfig *config, DevbgTriggerType trigger,
                       guint64 counter_before, guint64 counter_after)
{
  if (!devbg_policy_requires_io (trigger) || counter_after != counter_before)
    return keep ();
  return cancel (DEVBG_CANCEL_IDLE_TASK,
                 g_strdup_printf ("no I/O to the device in %g s", config->io_activity_window));
}

guint64
devbg_policy_cpu_floor_us (const DevbgConfig *config, double cpu_mhz)
{
  if (cpu_mhz <= 0)
    cpu_mhz = config->cpu_reference_mhz; /* unknown clock: no scaling */
  return (guint64) ((double) config->cpu_floor_ms * 1000.0 * config->cpu_reference_mhz / cpu_mhz);
}

double
devbg_policy_cpu_window (const DevbgConfig *config, gboolean screen_locked)
{
  return screen_locked ? config->cpu_window_locked : config->cpu_window_unlocked;
}

DevbgVerdict
devbg_policy_check_cpu (const DevbgConfig *config, guint64 cpu_used_us, double cpu_mhz)
{
  guint64 floor_us = devbg_policy_cpu_floor_us (config, cpu_mhz);

  if (cpu_used_us >= floor_us)
    return keep ();
  return cancel (DEVBG_CANCEL_IDLE_TASK,
                 g_strdup_printf ("used %" G_GUINT64_FORMAT " us of CPU in the window, "
                                  "under the floor of %" G_GUINT64_FORMAT " us",
                                  cpu_used_us, floor_us));
}

DevbgVerdict
devbg_policy_check_removal (DevbgTriggerType trigger, const char *device_id)
{
  if (!devbg_policy_requires_attached (trigger))
    return keep ();
  return cancel (DEVBG_CANCEL_CONDITION_LOSS,
                 g_strdup_printf ("device %s was removed", device_id));
}
