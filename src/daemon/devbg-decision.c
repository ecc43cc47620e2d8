/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-decision.h"

static DevbgDecision
deny (DevbgRequestReason reason)
{
  return (DevbgDecision) { .kind = DEVBG_DECISION_DENY,
                           .result = devbg_request_reason_get_result (reason),
                           .reason = reason };
}

gboolean
devbg_decision_power_ok (const DevbgConfig *config, const DevbgPowerFacts *power)
{
  if (power->on_ac || !power->has_battery)
    return TRUE;
  return power->level_known && power->percent > (double) config->min_battery_percent;
}

/* Rows 1 and 2 of the order in devbg-decision.h: the request itself. */
static gboolean
check_request (const DevbgConfig *config, const DevbgDecisionFacts *f, DevbgRequestReason *why)
{
  gboolean servicing = f->trigger == DEVBG_TRIGGER_SERVICING;

  if (!f->entry_point_declared)
    *why = DEVBG_REASON_ENTRY_POINT_NOT_DECLARED;
  else if (!f->device_attached)
    *why = DEVBG_REASON_NO_SUCH_DEVICE;
  else if (!devbg_config_protocol_allowed (config, f->trigger, f->protocol))
    *why = DEVBG_REASON_PROTOCOL_NOT_SUPPORTED;
  else if (!f->device_declared)
    *why = DEVBG_REASON_DEVICE_NOT_DECLARED;
  else if (servicing && f->expected_duration_s >= config->max_expected_duration)
    *why = DEVBG_REASON_ESTIMATE_TOO_LONG;
  else if (servicing && !f->has_metadata)
    *why = DEVBG_REASON_NO_DEVICE_METADATA;
  else if (servicing && !f->privileged)
    *why = DEVBG_REASON_NOT_PRIVILEGED;
  else
    return TRUE;
  return FALSE;
}

/* Rows 3 to 6: the user, the session, devbgd's state, the machine. */
static gboolean
check_conditions (const DevbgConfig *config, const DevbgDecisionFacts *f, DevbgRequestReason *why)
{
  if (!f->device_accessible)
    *why = DEVBG_REASON_DEVICE_NOT_ACCESSIBLE;
  else if (config->require_foreground && (!f->in_session || !f->session_active))
    *why = DEVBG_REASON_NOT_FOREGROUND;
  else if (config->require_foreground && f->session_locked)
    *why = DEVBG_REASON_SESSION_LOCKED;
  else if (f->app_task_running || f->app_consent_waiting)
    *why = DEVBG_REASON_ALREADY_RUNNING;
  else if (f->too_many_pending)
    *why = DEVBG_REASON_TOO_MANY_PENDING_EVENTS;
  else if (f->device_busy)
    *why = DEVBG_REASON_DEVICE_BUSY;
  else if (f->trigger == DEVBG_TRIGGER_SERVICING && !devbg_decision_power_ok (config, &f->power))
    *why = DEVBG_REASON_LOW_BATTERY;
  else
    return TRUE;
  return FALSE;
}

DevbgDecision
devbg_decide (const DevbgConfig *config, const DevbgDecisionFacts *f)
{
  DevbgRequestReason why = DEVBG_REASON_ALLOWED;

  if (!check_request (config, f, &why) || !check_conditions (config, f, &why))
    return deny (why);
  /* Row 7, last. */
  switch (f->consent)
    {
    case DEVBG_CONSENT_GIVEN:
      break;
    case DEVBG_CONSENT_REFUSED:
      return deny (DEVBG_REASON_DENIED_BY_USER);
    case DEVBG_CONSENT_UNAVAILABLE:
      return deny (DEVBG_REASON_CONSENT_UNAVAILABLE);
    case DEVBG_CONSENT_NOT_ASKED:
      /* Servicing consent is never stored: asked every time. */
      if (f->trigger == DEVBG_TRIGGER_SERVICING || !f->consent_stored)
        return (DevbgDecision) { .kind = DEVBG_DECISION_ASK_CONSENT,
                                 .result = DEVBG_RESULT_ALLOWED,
                                 .reason = DEVBG_REASON_ALLOWED };
      break;
    }
  return (DevbgDecision) { .kind = DEVBG_DECISION_ALLOW, .result = DEVBG_RESULT_ALLOWED,
                           .reason = DEVBG_REASON_ALLOWED };
}

char *
devbg_decision_explain (const DevbgConfig *config, const DevbgDecisionFacts *f,
                        DevbgDecision d)
{
  const char *trigger = devbg_trigger_type_to_string (f->trigger);

  if (d.kind == DEVBG_DECISION_ASK_CONSENT)
    return g_strdup_printf ("every policy allows the %s task; the user's consent is needed", trigger);
  switch (d.reason)
    {
    case DEVBG_REASON_ALLOWED:
      return g_strdup_printf ("every policy allows the %s task", trigger);
    case DEVBG_REASON_ENTRY_POINT_NOT_DECLARED:
      return g_strdup_printf ("the manifest declares no such entry point for a %s task", trigger);
    case DEVBG_REASON_NO_SUCH_DEVICE:
      return g_strdup ("the device is not attached");
    case DEVBG_REASON_PROTOCOL_NOT_SUPPORTED:
      return g_strdup_printf ("a %s task may not use a %s device", trigger,
                              devbg_protocol_to_string (f->protocol));
    case DEVBG_REASON_DEVICE_NOT_DECLARED:
      return g_strdup ("no DeviceCapability of the app's manifest covers the device");
    case DEVBG_REASON_ESTIMATE_TOO_LONG:
      return g_strdup_printf ("the expected duration %u s is not under %g s",
                              f->expected_duration_s, config->max_expected_duration);
    case DEVBG_REASON_NO_DEVICE_METADATA:
      return g_strdup ("a servicing task needs device metadata for the device, and none matches it");
    case DEVBG_REASON_NOT_PRIVILEGED:
      return g_strdup ("the device's metadata does not list the app as a privileged app");
    case DEVBG_REASON_DEVICE_NOT_ACCESSIBLE:
      return g_strdup ("the user may not open the device, and polkit does not grant it");
    case DEVBG_REASON_NOT_FOREGROUND:
      return g_strdup (f->in_session ? "the caller's session is not the active one of its seat"
                                     : "the caller is in no logind session");
    case DEVBG_REASON_SESSION_LOCKED:
      return g_strdup ("the caller's session is locked");
    case DEVBG_REASON_ALREADY_RUNNING:
      return g_strdup (f->app_task_running
                       ? "this user's copy of the app already runs a device task; one at a time"
                       : "this user's copy of the app already waits for its user's answer to a "
                         "consent prompt; one at a time");
    case DEVBG_REASON_TOO_MANY_PENDING_EVENTS:
      return g_strdup_printf ("the app has %u or more completion events not acknowledged",
                              config->max_pending_events);
    case DEVBG_REASON_DEVICE_BUSY:
      return g_strdup ("another task holds the device");
    case DEVBG_REASON_LOW_BATTERY:
      if (!f->power.level_known)
        return g_strdup ("on battery, and the battery level is unknown");
      return g_strdup_printf ("on battery at %.0f %%, not above %u %%", f->power.percent,
                              config->min_battery_percent);
    case DEVBG_REASON_DENIED_BY_USER:
      return g_strdup ("the user did not consent");
    case DEVBG_REASON_CONSENT_UNAVAILABLE:
      return g_strdup ("devbgd could not ask for consent");
    case DEVBG_REASON_DEVICE_OPEN_FAILED:
    case DEVBG_REASON_SPAWN_FAILED:
    case DEVBG_REASON_CANCELED:
      break;
    }
  return g_strdup (devbg_request_reason_to_string (d.reason));
}
