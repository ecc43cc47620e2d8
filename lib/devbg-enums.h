/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The model's enumerations, with the numbers Windows gives them so that a
 * port of a Windows device app keeps its values.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  DEVBG_TRIGGER_USE = 0,       /* DeviceUseTrigger: data sync */
  DEVBG_TRIGGER_SERVICING = 1, /* DeviceServicingTrigger: firmware update */
} DevbgTriggerType;

/* DeviceTriggerResult */
typedef enum {
  DEVBG_RESULT_ALLOWED = 0,
  DEVBG_RESULT_DENIED_BY_USER = 1,
  DEVBG_RESULT_DENIED_BY_SYSTEM = 2,
  DEVBG_RESULT_LOW_BATTERY = 3,
} DevbgTriggerResult;

/* BackgroundTaskCancellationReason */
typedef enum {
  DEVBG_CANCEL_ABORT = 0,
  DEVBG_CANCEL_TERMINATING = 1,
  DEVBG_CANCEL_LOGGING_OFF = 2,
  DEVBG_CANCEL_SERVICING_UPDATE = 3,
  DEVBG_CANCEL_IDLE_TASK = 4,
  DEVBG_CANCEL_UNINSTALL = 5,
  DEVBG_CANCEL_CONDITION_LOSS = 6,
  DEVBG_CANCEL_SYSTEM_POLICY = 7,
  DEVBG_CANCEL_QUIET_HOURS_ENTERED = 8, /* obsolete on Windows, never sent */
  DEVBG_CANCEL_EXECUTION_TIME_EXCEEDED = 9,
  DEVBG_CANCEL_RESOURCE_REVOCATION = 10,
  DEVBG_CANCEL_ENERGY_SAVER = 11,
} DevbgCancelReason;

/* Why a request got its DevbgTriggerResult: the one list of reasons. Its
 * strings (devbg_request_reason_to_string) are the words devbgd sends with
 * Request's result; the D-Bus XML, libdevbg's docs and the README's table
 * are tested against this list (tests/unit/test-decision.c). The numbers
 * are devbg's own (no Windows counterpart) and only ever grow. */
typedef enum {
  DEVBG_REASON_ALLOWED = 0,
  DEVBG_REASON_ENTRY_POINT_NOT_DECLARED,
  DEVBG_REASON_NO_SUCH_DEVICE,
  DEVBG_REASON_PROTOCOL_NOT_SUPPORTED,
  DEVBG_REASON_DEVICE_NOT_DECLARED,
  DEVBG_REASON_ESTIMATE_TOO_LONG,
  DEVBG_REASON_NO_DEVICE_METADATA,
  DEVBG_REASON_NOT_PRIVILEGED,
  DEVBG_REASON_DEVICE_NOT_ACCESSIBLE,
  DEVBG_REASON_NOT_FOREGROUND,
  DEVBG_REASON_SESSION_LOCKED,
  DEVBG_REASON_ALREADY_RUNNING,
  DEVBG_REASON_TOO_MANY_PENDING_EVENTS,
  DEVBG_REASON_DEVICE_BUSY,
  DEVBG_REASON_LOW_BATTERY,
  DEVBG_REASON_DENIED_BY_USER,
  DEVBG_REASON_CONSENT_UNAVAILABLE,
  DEVBG_REASON_DEVICE_OPEN_FAILED,
  DEVBG_REASON_SPAWN_FAILED,
  DEVBG_REASON_CANCELED,
} DevbgRequestReason;

#define DEVBG_REASON_LAST DEVBG_REASON_CANCELED

/* The protocol a device is reached by; decides which triggers may use it. */
typedef enum {
  DEVBG_PROTOCOL_UNKNOWN = 0,
  DEVBG_PROTOCOL_USB,
  DEVBG_PROTOCOL_HID,
  DEVBG_PROTOCOL_BLUETOOTH_RFCOMM,
  DEVBG_PROTOCOL_BLUETOOTH_GATT,
  DEVBG_PROTOCOL_MTP,
  DEVBG_PROTOCOL_NETWORK_WIRED,
  DEVBG_PROTOCOL_NETWORK_WIFI,
  DEVBG_PROTOCOL_GENERIC_IOCTL,
} DevbgProtocol;

const char *devbg_trigger_type_to_string (DevbgTriggerType type);
gboolean    devbg_trigger_type_from_string (const char       *str,
                                            DevbgTriggerType *out);

const char *devbg_trigger_result_to_string (DevbgTriggerResult result);
gboolean    devbg_trigger_result_from_string (const char         *str,
                                              DevbgTriggerResult *out);

const char *devbg_cancel_reason_to_string (DevbgCancelReason reason);
gboolean    devbg_cancel_reason_from_string (const char        *str,
                                             DevbgCancelReason *out);

const char *devbg_request_reason_to_string (DevbgRequestReason reason);
gboolean    devbg_request_reason_from_string (const char         *str,
                                              DevbgRequestReason *out);
/* The result that goes with @reason: allowed, low-battery and
 * denied-by-user have their own; every other reason is DeniedBySystem. */
DevbgTriggerResult devbg_request_reason_get_result (DevbgRequestReason reason);

const char *devbg_protocol_to_string (DevbgProtocol protocol);
gboolean    devbg_protocol_from_string (const char    *str,
                                        DevbgProtocol *out);

G_END_DECLS
