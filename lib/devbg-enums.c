/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "devbg-enums.h"

#include <string.h>

/* One table per enumeration, indexed by value; the strings are what the
 * D-Bus API, the database and devbgctl use. */
static const char *const trigger_names[] = {
  [DEVBG_TRIGGER_USE] = "use",
  [DEVBG_TRIGGER_SERVICING] = "servicing",
};

static const char *const result_names[] = {
  [DEVBG_RESULT_ALLOWED] = "allowed",
  [DEVBG_RESULT_DENIED_BY_USER] = "denied-by-user",
  [DEVBG_RESULT_DENIED_BY_SYSTEM] = "denied-by-system",
  [DEVBG_RESULT_LOW_BATTERY] = "low-battery",
};

static const char *const cancel_names[] = {
  [DEVBG_CANCEL_ABORT] = "abort",
  [DEVBG_CANCEL_TERMINATING] = "terminating",
  [DEVBG_CANCEL_LOGGING_OFF] = "logging-off",
  [DEVBG_CANCEL_SERVICING_UPDATE] = "servicing-update",
  [DEVBG_CANCEL_IDLE_TASK] = "idle-task",
  [DEVBG_CANCEL_UNINSTALL] = "uninstall",
  [DEVBG_CANCEL_CONDITION_LOSS] = "condition-loss",
  [DEVBG_CANCEL_SYSTEM_POLICY] = "system-policy",
  [DEVBG_CANCEL_QUIET_HOURS_ENTERED] = "quiet-hours-entered",
  [DEVBG_CANCEL_EXECUTION_TIME_EXCEEDED] = "execution-time-exceeded",
  [DEVBG_CANCEL_RESOURCE_REVOCATION] = "resource-revocation",
  [DEVBG_CANCEL_ENERGY_SAVER] = "energy-saver",
};

static const char *const reason_names[] = {
  [DEVBG_REASON_ALLOWED] = "allowed",
  [DEVBG_REASON_ENTRY_POINT_NOT_DECLARED] = "entry-point-not-declared",
  [DEVBG_REASON_NO_SUCH_DEVICE] = "no-such-device",
  [DEVBG_REASON_PROTOCOL_NOT_SUPPORTED] = "protocol-not-supported",
  [DEVBG_REASON_DEVICE_NOT_DECLARED] = "device-not-declared",
  [DEVBG_REASON_ESTIMATE_TOO_LONG] = "estimate-too-long",
  [DEVBG_REASON_NO_DEVICE_METADATA] = "no-device-metadata",
  [DEVBG_REASON_NOT_PRIVILEGED] = "not-privileged",
  [DEVBG_REASON_DEVICE_NOT_ACCESSIBLE] = "device-not-accessible",
  [DEVBG_REASON_NOT_FOREGROUND] = "not-foreground",
  [DEVBG_REASON_SESSION_LOCKED] = "session-locked",
  [DEVBG_REASON_ALREADY_RUNNING] = "already-running",
  [DEVBG_REASON_TOO_MANY_PENDING_EVENTS] = "too-many-pending-events",
  [DEVBG_REASON_DEVICE_BUSY] = "device-busy",
  [DEVBG_REASON_LOW_BATTERY] = "low-battery",
  [DEVBG_REASON_DENIED_BY_USER] = "denied-by-user",
  [DEVBG_REASON_CONSENT_UNAVAILABLE] = "consent-unavailable",
  [DEVBG_REASON_DEVICE_OPEN_FAILED] = "device-open-failed",
  [DEVBG_REASON_SPAWN_FAILED] = "spawn-failed",
  [DEVBG_REASON_CANCELED] = "canceled",
};

static const char *const protocol_names[] = {
  [DEVBG_PROTOCOL_UNKNOWN] = "unknown",
  [DEVBG_PROTOCOL_USB] = "usb",
  [DEVBG_PROTOCOL_HID] = "hid",
  [DEVBG_PROTOCOL_BLUETOOTH_RFCOMM] = "bluetooth-rfcomm",
  [DEVBG_PROTOCOL_BLUETOOTH_GATT] = "bluetooth-gatt",
  [DEVBG_PROTOCOL_MTP] = "mtp",
  [DEVBG_PROTOCOL_NETWORK_WIRED] = "network-wired",
  [DEVBG_PROTOCOL_NETWORK_WIFI] = "network-wifi",
  [DEVBG_PROTOCOL_GENERIC_IOCTL] = "generic-ioctl",
};

static const char *
name_of (const char *const *names, guint n, guint value)
{
  return value < n ? names[value] : NULL;
}

static gboolean
value_of (const char *const *names, guint n, const char *str, guint *out)
{
  if (str == NULL)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      if (names[i] != NULL && strcmp (names[i], str) == 0)
        {
          *out = i;
          return TRUE;
        }
    }
  return FALSE;
}

/**
 * devbg_trigger_type_to_string:
 * @type: a #DevbgTriggerType
 *
 * Returns: (nullable): the word for @type ("use", "servicing", ...), or %NULL for
 *   a value this library does not know
 *
 * Since: 0.1
 */
/**
 * devbg_trigger_type_from_string:
 * @str: (nullable): a word, as devbg_trigger_type_to_string() gives it
 * @out: (out): where the value goes
 *
 * Returns: %TRUE with @out set if @str names a #DevbgTriggerType, %FALSE otherwise
 *
 * Since: 0.1
 */
/**
 * devbg_trigger_result_to_string:
 * @result: a #DevbgTriggerResult
 *
 * Returns: (nullable): the word for @result ("allowed", "denied-by-user", ...), or %NULL for
 *   a value this library does not know
 *
 * Since: 0.1
 */
/**
 * devbg_trigger_result_from_string:
 * @str: (nullable): a word, as devbg_trigger_result_to_string() gives it
 * @out: (out): where the value goes
 *
 * Returns: %TRUE with @out set if @str names a #DevbgTriggerResult, %FALSE otherwise
 *
 * Since: 0.1
 */
/**
 * devbg_cancel_reason_to_string:
 * @reason: a #DevbgCancelReason
 *
 * Returns: (nullable): the word for @reason ("abort", "execution-time-exceeded", ...), or %NULL for
 *   a value this library does not know
 *
 * Since: 0.1
 */
/**
 * devbg_cancel_reason_from_string:
 * @str: (nullable): a word, as devbg_cancel_reason_to_string() gives it
 * @out: (out): where the value goes
 *
 * Returns: %TRUE with @out set if @str names a #DevbgCancelReason, %FALSE otherwise
 *
 * Since: 0.1
 */
/**
 * devbg_protocol_to_string:
 * @protocol: a #DevbgProtocol
 *
 * Returns: (nullable): the word for @protocol ("usb", "bluetooth-gatt", ...), or %NULL for
 *   a value this library does not know
 *
 * Since: 0.1
 */
/**
 * devbg_protocol_from_string:
 * @str: (nullable): a word, as devbg_protocol_to_string() gives it
 * @out: (out): where the value goes
 *
 * Returns: %TRUE with @out set if @str names a #DevbgProtocol, %FALSE otherwise
 *
 * Since: 0.1
 */
/**
 * devbg_request_reason_to_string:
 * @reason: a #DevbgRequestReason
 *
 * Returns: (nullable): the word devbgd sends for @reason ("allowed",
 *   "device-busy", ...), or %NULL for a value this library does not know
 *
 * Since: 0.1
 */
/**
 * devbg_request_reason_from_string:
 * @str: (nullable): a word, as Request's reason carries it
 * @out: (out): where the value goes
 *
 * Returns: %TRUE with @out set if @str names a #DevbgRequestReason, %FALSE
 *   otherwise (a word newer than this library)
 *
 * Since: 0.1
 */
#define DEFINE_ENUM_STRINGS(prefix, Type, table)                        \
  const char *prefix##_to_string (Type value)                           \
  {                                                                     \
    return name_of (table, G_N_ELEMENTS (table), (guint) value);        \
  }                                                                     \
  gboolean prefix##_from_string (const char *str, Type *out)            \
  {                                                                     \
    guint v;                                                            \
    if (!value_of (table, G_N_ELEMENTS (table), str, &v))               \
      return FALSE;                                                     \
    *out = (Type) v;                                                    \
    return TRUE;                                                        \
  }

DEFINE_ENUM_STRINGS (devbg_trigger_type, DevbgTriggerType, trigger_names)
/* DEVBG_RESULT_FAILED, -1, is no index of the table: "failed". */
const char *
devbg_trigger_result_to_string (DevbgTriggerResult value)
{
  if (value == DEVBG_RESULT_FAILED)
    return "failed";
  return name_of (result_names, G_N_ELEMENTS (result_names), (guint) value);
}

gboolean
devbg_trigger_result_from_string (const char *str, DevbgTriggerResult *out)
{
  guint v;

  if (g_strcmp0 (str, "failed") == 0)
    {
      *out = DEVBG_RESULT_FAILED;
      return TRUE;
    }
  if (!value_of (result_names, G_N_ELEMENTS (result_names), str, &v))
    return FALSE;
  *out = (DevbgTriggerResult) v;
  return TRUE;
}
DEFINE_ENUM_STRINGS (devbg_cancel_reason, DevbgCancelReason, cancel_names)
DEFINE_ENUM_STRINGS (devbg_protocol, DevbgProtocol, protocol_names)
DEFINE_ENUM_STRINGS (devbg_request_reason, DevbgRequestReason, reason_names)

/**
 * devbg_request_reason_get_result:
 * @reason: a #DevbgRequestReason
 *
 * The result that goes with @reason: allowed, low-battery and
 * denied-by-user have their own; every other reason is
 * %DEVBG_RESULT_DENIED_BY_SYSTEM.
 *
 * Returns: the #DevbgTriggerResult devbgd answers with @reason
 *
 * Since: 0.1
 */
DevbgTriggerResult
devbg_request_reason_get_result (DevbgRequestReason reason)
{
  switch (reason)
    {
    case DEVBG_REASON_ALLOWED:
      return DEVBG_RESULT_ALLOWED;
    case DEVBG_REASON_LOW_BATTERY:
      return DEVBG_RESULT_LOW_BATTERY;
    case DEVBG_REASON_DENIED_BY_USER:
      return DEVBG_RESULT_DENIED_BY_USER;
    default:
      return DEVBG_RESULT_DENIED_BY_SYSTEM;
    }
}
