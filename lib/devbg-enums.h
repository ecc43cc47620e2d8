/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * SECTION:devbg-enums
 * @title: Enumerations
 * @short_description: triggers, results, cancel reasons, protocols
 *
 * The model's enumerations, with the numbers Windows gives them so that a
 * port of a Windows device app keeps its values. Each has a string form,
 * the word the D-Bus API, the database and devbgctl use.
 */

/**
 * DevbgTriggerType:
 * @DEVBG_TRIGGER_USE: DeviceUseTrigger: data sync
 * @DEVBG_TRIGGER_SERVICING: DeviceServicingTrigger: firmware update
 *
 * The kind of work a task does, which decides the limits it runs under.
 *
 * Since: 0.1
 */
typedef enum {
  DEVBG_TRIGGER_USE = 0,
  DEVBG_TRIGGER_SERVICING = 1,
} DevbgTriggerType;

/**
 * DevbgTriggerResult:
 * @DEVBG_RESULT_ALLOWED: the task instance was started
 * @DEVBG_RESULT_DENIED_BY_USER: the user refused consent
 * @DEVBG_RESULT_DENIED_BY_SYSTEM: devbgd's policy refused (the reason word
 *   says which rule)
 * @DEVBG_RESULT_LOW_BATTERY: the battery is too low for this task
 * @DEVBG_RESULT_FAILED: not an answer: the request was not made (a bad
 *   argument) or not answered (devbgd unreachable, a bad call); the
 *   #GError says why. Never sent by devbgd, not a Windows value.
 *
 * The answer to a request (Windows' DeviceTriggerResult), or
 * %DEVBG_RESULT_FAILED, so that a failed call is never mistaken for a
 * denial.
 *
 * Since: 0.1
 */
typedef enum {
  DEVBG_RESULT_ALLOWED = 0,
  DEVBG_RESULT_DENIED_BY_USER = 1,
  DEVBG_RESULT_DENIED_BY_SYSTEM = 2,
  DEVBG_RESULT_LOW_BATTERY = 3,
  DEVBG_RESULT_FAILED = -1,
} DevbgTriggerResult;

/**
 * DevbgCancelReason:
 * @DEVBG_CANCEL_ABORT: the app canceled it, or unregistered it with cancel
 * @DEVBG_CANCEL_TERMINATING: the app (or devbgd) went away
 * @DEVBG_CANCEL_LOGGING_OFF: the user's session ended
 * @DEVBG_CANCEL_SERVICING_UPDATE: the app is being updated
 * @DEVBG_CANCEL_IDLE_TASK: the task neither computed nor did I/O for too long
 * @DEVBG_CANCEL_UNINSTALL: the app was uninstalled
 * @DEVBG_CANCEL_CONDITION_LOSS: a condition it ran under no longer holds
 *   (the device left, the session locked)
 * @DEVBG_CANCEL_SYSTEM_POLICY: devbgd's policy ended it (also the reason
 *   for one newer than this library)
 * @DEVBG_CANCEL_QUIET_HOURS_ENTERED: obsolete on Windows, never sent
 * @DEVBG_CANCEL_EXECUTION_TIME_EXCEEDED: it ran longer than its trigger allows
 * @DEVBG_CANCEL_RESOURCE_REVOCATION: the system needed its resources
 * @DEVBG_CANCEL_ENERGY_SAVER: the battery ran low or the system went to sleep
 *
 * Why a task instance was canceled (Windows'
 * BackgroundTaskCancellationReason).
 *
 * Since: 0.1
 */
typedef enum {
  DEVBG_CANCEL_ABORT = 0,
  DEVBG_CANCEL_TERMINATING = 1,
  DEVBG_CANCEL_LOGGING_OFF = 2,
  DEVBG_CANCEL_SERVICING_UPDATE = 3,
  DEVBG_CANCEL_IDLE_TASK = 4,
  DEVBG_CANCEL_UNINSTALL = 5,
  DEVBG_CANCEL_CONDITION_LOSS = 6,
  DEVBG_CANCEL_SYSTEM_POLICY = 7,
  DEVBG_CANCEL_QUIET_HOURS_ENTERED = 8,
  DEVBG_CANCEL_EXECUTION_TIME_EXCEEDED = 9,
  DEVBG_CANCEL_RESOURCE_REVOCATION = 10,
  DEVBG_CANCEL_ENERGY_SAVER = 11,
} DevbgCancelReason;

/**
 * DevbgProtocol:
 * @DEVBG_PROTOCOL_UNKNOWN: not known
 * @DEVBG_PROTOCOL_USB: USB
 * @DEVBG_PROTOCOL_HID: HID
 * @DEVBG_PROTOCOL_BLUETOOTH_RFCOMM: Bluetooth RFCOMM
 * @DEVBG_PROTOCOL_BLUETOOTH_GATT: Bluetooth LE GATT
 * @DEVBG_PROTOCOL_MTP: MTP
 * @DEVBG_PROTOCOL_NETWORK_WIRED: a wired network device
 * @DEVBG_PROTOCOL_NETWORK_WIFI: a Wi-Fi network device
 * @DEVBG_PROTOCOL_GENERIC_IOCTL: a device driven by ioctl()s
 *
 * The protocol a device is reached by; it decides which triggers may use it.
 *
 * Since: 0.1
 */
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

const char *devbg_protocol_to_string (DevbgProtocol protocol);
gboolean    devbg_protocol_from_string (const char    *str,
                                        DevbgProtocol *out);

G_END_DECLS
