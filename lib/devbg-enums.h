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
 * DevbgRequestReason:
 * @DEVBG_REASON_ALLOWED: the task runs
 * @DEVBG_REASON_ENTRY_POINT_NOT_DECLARED: the app's manifest does not declare the task for this trigger
 * @DEVBG_REASON_NO_SUCH_DEVICE: no such device is attached
 * @DEVBG_REASON_PROTOCOL_NOT_SUPPORTED: the trigger may not use the device's protocol
 * @DEVBG_REASON_DEVICE_NOT_DECLARED: the app's manifest does not declare the device
 * @DEVBG_REASON_ESTIMATE_TOO_LONG: the expected duration is not under MaxExpectedDuration
 * @DEVBG_REASON_NO_DEVICE_METADATA: servicing needs the device's metadata
 * @DEVBG_REASON_NOT_PRIVILEGED: the device's metadata does not name the app
 * @DEVBG_REASON_DEVICE_NOT_ACCESSIBLE: the calling user may not open the device
 * @DEVBG_REASON_NOT_FOREGROUND: the app is not in the active session at the seat
 * @DEVBG_REASON_SESSION_LOCKED: the session is locked
 * @DEVBG_REASON_ALREADY_RUNNING: the app (of this user) already runs a device task
 * @DEVBG_REASON_TOO_MANY_PENDING_EVENTS: the app left too many completions unacknowledged
 * @DEVBG_REASON_DEVICE_BUSY: another task holds the device
 * @DEVBG_REASON_LOW_BATTERY: on battery at or below MinBatteryPercent
 * @DEVBG_REASON_DENIED_BY_USER: the person (or HeadlessConsent) said no
 * @DEVBG_REASON_CONSENT_UNAVAILABLE: devbgd could not ask for consent
 * @DEVBG_REASON_DEVICE_OPEN_FAILED: the device could not be opened
 * @DEVBG_REASON_SPAWN_FAILED: the task program could not be started
 * @DEVBG_REASON_CANCELED: canceled while it started
 *
 * Why a request got its #DevbgTriggerResult: the one list of reasons. Its
 * strings (devbg_request_reason_to_string()) are the words devbgd sends
 * with Request's result; the D-Bus XML, libdevbg's docs and the README's
 * table are tested against this list. The numbers are devbg's own (no
 * Windows counterpart) and only ever grow.
 *
 * Since: 0.1
 */
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

/**
 * DEVBG_REASON_LAST:
 *
 * The last #DevbgRequestReason this library knows.
 *
 * Since: 0.1
 */
#define DEVBG_REASON_LAST DEVBG_REASON_CANCELED

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

const char *devbg_request_reason_to_string (DevbgRequestReason reason);
gboolean    devbg_request_reason_from_string (const char         *str,
                                              DevbgRequestReason *out);
DevbgTriggerResult devbg_request_reason_get_result (DevbgRequestReason reason);

const char *devbg_protocol_to_string (DevbgProtocol protocol);
gboolean    devbg_protocol_from_string (const char    *str,
                                        DevbgProtocol *out);

G_END_DECLS
