/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The one place for devbg's names and limits: devbgd, libdevbg, devbgctl
 * and devbg-sim all take them from here, so that they cannot drift apart.
 * Plain macros, no symbols: including it costs nothing.
 */
#pragma once

/**
 * SECTION:devbg-names
 * @title: Names and limits
 * @short_description: D-Bus names, argument limits and the task's fds
 *
 * The names devbgd owns on the system bus, the limits it applies to each
 * argument (libdevbg checks the same limits before it sends anything, so
 * that a bad argument is a clear local error), the file descriptors a
 * task process is started with, and the GVariant type of a completion
 * event. devbgd, libdevbg, devbgctl and devbg-sim all use these.
 */

/**
 * DEVBG_DBUS_SERVICE:
 *
 * The well-known name devbgd owns on the system bus.
 *
 * Since: 0.1
 */
#define DEVBG_DBUS_SERVICE "org.devbg.Devbg1"

/**
 * DEVBG_DBUS_PATH:
 *
 * The object path of devbgd's interfaces.
 *
 * Since: 0.1
 */
#define DEVBG_DBUS_PATH "/org/devbg/Devbg1"

/**
 * DEVBG_DBUS_MANAGER_INTERFACE:
 *
 * devbgd's main interface: registrations, requests, events, tasks.
 *
 * Since: 0.1
 */
#define DEVBG_DBUS_MANAGER_INTERFACE "org.devbg.Devbg1.Manager"

/**
 * DEVBG_DBUS_DEVICES_INTERFACE:
 *
 * devbgd's interface listing and watching devices.
 *
 * Since: 0.1
 */
#define DEVBG_DBUS_DEVICES_INTERFACE "org.devbg.Devbg1.Devices"

/**
 * DEVBG_DBUS_CONSENT_AGENT_INTERFACE:
 *
 * The interface a consent agent exports (RequestConsent, CancelConsent)
 * and registers with RegisterConsentAgent.
 *
 * Since: 0.1
 */
#define DEVBG_DBUS_CONSENT_AGENT_INTERFACE "org.devbg.Devbg1.ConsentAgent1"

/**
 * DEVBG_CONSENT_AGENT_PATH:
 *
 * The object path a #DevbgConsentAgent is exported at unless told
 * otherwise (any path will do: devbgd is told it at registration).
 *
 * Since: 0.2
 */
#define DEVBG_CONSENT_AGENT_PATH "/org/devbg/ConsentAgent"

/**
 * DEVBG_POLKIT_ACTION_USE_DEVICE:
 *
 * The polkit action that lets a user's app use a device the user could
 * not open themselves.
 *
 * Since: 0.1
 */
#define DEVBG_POLKIT_ACTION_USE_DEVICE "org.devbg.Devbg1.use-device"

/**
 * DEVBG_DBUS_ERROR_PREFIX:
 *
 * The prefix of every D-Bus error name devbgd returns; the #DevbgError
 * code follows it (for example "org.devbg.Devbg1.Error.UnknownApp").
 *
 * Since: 0.1
 */
#define DEVBG_DBUS_ERROR_PREFIX "org.devbg.Devbg1.Error."

/**
 * DEVBG_SIM_DBUS_SERVICE:
 *
 * The well-known name of devbg-sim, the device simulator, on the bus it
 * shares with devbgd.
 *
 * Since: 0.1
 */
#define DEVBG_SIM_DBUS_SERVICE "org.devbg.Sim1"

/**
 * DEVBG_SIM_DBUS_PATH:
 *
 * The object path of devbg-sim's interface.
 *
 * Since: 0.1
 */
#define DEVBG_SIM_DBUS_PATH "/org/devbg/Sim1"

/**
 * DEVBG_SIM_DBUS_INTERFACE:
 *
 * devbg-sim's interface.
 *
 * Since: 0.1
 */
#define DEVBG_SIM_DBUS_INTERFACE "org.devbg.Sim1"

/**
 * DEVBG_MAX_NAME:
 *
 * The longest task name or entry point, in bytes, that devbgd registers.
 *
 * Since: 0.1
 */
#define DEVBG_MAX_NAME 255

/**
 * DEVBG_MAX_DISPLAY_NAME:
 *
 * The longest display name, in characters, that an app's manifest may
 * give itself (`<VisualElements DisplayName="..."/>`): the name a consent
 * prompt shows after the app ID. Short enough that the ID before it and
 * the rest of the prompt stay on a notification's first lines. Beyond its
 * length devbgd refuses a name that could hide or fake the ID: invisible,
 * filler and format characters, spaces other than single U+0020 between
 * words, more than 2 combining marks in a row, and the characters
 * `( ) [ ] < > : "` (in any width); see docs/manifests.md.
 *
 * Since: 0.2
 */
#define DEVBG_MAX_DISPLAY_NAME 40

/**
 * DEVBG_MAX_EVENT_LISTENERS:
 *
 * The most connections of one app of one user (uid, app ID) that may
 * watch its events (WatchEvents) at once: a client of libdevbg is one.
 *
 * Since: 0.2
 */
#define DEVBG_MAX_EVENT_LISTENERS 16

/**
 * DEVBG_MAX_TASK_WATCHERS:
 *
 * The most connections of one user that may watch tasks (WatchTasks,
 * `devbgctl tasks --watch`, `devbgctl monitor`) at once.
 *
 * Since: 0.2
 */
#define DEVBG_MAX_TASK_WATCHERS 16

/**
 * DEVBG_MAX_LIST_CHANNELS:
 *
 * The most list channels (OpenListChannel) one user may have open at
 * once: libdevbg opens one per client, for its History and
 * ListPermissions pages.
 *
 * Since: 0.2
 */
#define DEVBG_MAX_LIST_CHANNELS 4

/**
 * DEVBG_MAX_ENTRY_POINTS:
 *
 * The most entry points one app manifest may declare (distinct
 * `EntryPoint` names of its `windows.backgroundTasks` extensions); a
 * manifest declaring more is refused, as a malformed one is.
 *
 * Since: 0.2
 */
#define DEVBG_MAX_ENTRY_POINTS 256

/**
 * DEVBG_MAX_DEVICE_DECLARATIONS:
 *
 * The most `<Device>` elements one app manifest may hold, in all its
 * `<DeviceCapability>` elements together; a manifest holding more is
 * refused, as a malformed one is.
 *
 * Since: 0.2
 */
#define DEVBG_MAX_DEVICE_DECLARATIONS 256

/**
 * DEVBG_MAX_DEVICE_FUNCTIONS:
 *
 * The most `<Function>` elements one `<Device>` of an app manifest may
 * hold; a manifest with more is refused, as a malformed one is.
 *
 * Since: 0.2
 */
#define DEVBG_MAX_DEVICE_FUNCTIONS 64

/**
 * DEVBG_MAX_DEVICE_ID:
 *
 * The longest device ID, in bytes.
 *
 * Since: 0.1
 */
#define DEVBG_MAX_DEVICE_ID 1024

/**
 * DEVBG_MAX_ARGUMENTS:
 *
 * The longest arguments string, in bytes of UTF-8, that a request hands
 * to its task.
 *
 * Since: 0.1
 */
#define DEVBG_MAX_ARGUMENTS 16384

/**
 * DEVBG_MAX_ID:
 *
 * The longest task or instance ID, in bytes, that a call may name.
 *
 * Since: 0.1
 */
#define DEVBG_MAX_ID 255

/**
 * DEVBG_MAX_EXPECTED_DURATION_S:
 *
 * The largest expected duration, in seconds, that devbgd accepts in a
 * request at all (its policy may refuse a shorter one: the reason is then
 * "estimate-too-long").
 *
 * Since: 0.1
 */
#define DEVBG_MAX_EXPECTED_DURATION_S (24 * 3600)

/**
 * DEVBG_MAX_ACK_IDS:
 *
 * The most event IDs that one AcknowledgeEvents call may carry.
 *
 * Since: 0.1
 */
#define DEVBG_MAX_ACK_IDS 1024

/**
 * DEVBG_PAGE_MAX_ENTRIES:
 *
 * The most entries in one page of a typed list (an array of structs).
 * Every long list is now a packed page with its own bound
 * (%DEVBG_PERMISSIONS_PAGE_MAX_ENTRIES and the like); kept for programs
 * built against 0.1.
 *
 * Since: 0.1
 */
#define DEVBG_PAGE_MAX_ENTRIES 500

/**
 * DEVBG_PAGE_MAX_BYTES:
 *
 * The most bytes of entries in one page of a typed list. Every long list
 * is now a packed page, bounded by %DEVBG_PACKED_PAGE_MAX_BYTES; kept for
 * programs built against 0.1.
 *
 * Since: 0.1
 */
#define DEVBG_PAGE_MAX_BYTES (64 * 1024)

/**
 * DEVBG_PACKED_PAGE_MAX_BYTES:
 *
 * The most bytes in one page of a packed list (`ListRegistrations`,
 * `History`, `WatchEvents`, `ListEvents`, `ListPermissions`: an `ay` of
 * records) by default:
 * a page holds as many whole records as fit. devbgd's `[Service]
 * MaxReplyBytes` sets it lower (or higher) to suit the bus's
 * max_message_size.
 *
 * Since: 0.2
 */
#define DEVBG_PACKED_PAGE_MAX_BYTES (1024 * 1024)

/**
 * DEVBG_REGISTRATION_FIELDS:
 *
 * The fields of one record of `ListRegistrations`' packed page, in order:
 * task ID, name, entry point, trigger ("use" or "servicing").
 *
 * Since: 0.2
 */
#define DEVBG_REGISTRATION_FIELDS 4

/**
 * DEVBG_HISTORY_FIELDS:
 *
 * The fields of one record of `History`'s packed page, in order: instance
 * ID, task ID, app ID, name, entry point, trigger ("use" or "servicing"),
 * device ID, uid, started-us, finished-us (numbers in decimal ASCII),
 * success ("0" or "1"), error message, cancel reason (each "" when none).
 *
 * Since: 0.2
 */
#define DEVBG_HISTORY_FIELDS 13

/**
 * DEVBG_HISTORY_PAGE_MAX_ENTRIES:
 *
 * The most entries in one page of `History` (a larger @limit is cut to
 * this). A page is bounded by %DEVBG_PACKED_PAGE_MAX_BYTES too: a typical
 * entry packs into about 200 bytes, so a full page is under 1 MiB, and
 * one of long error messages ends sooner.
 *
 * Since: 0.2
 */
#define DEVBG_HISTORY_PAGE_MAX_ENTRIES 4096

/**
 * DEVBG_EVENT_FIELDS:
 *
 * The fields of one record of the packed pages of `WatchEvents` and
 * `ListEvents` (an app's pending completion events), in order: event ID,
 * task ID, instance ID, success ("0" or "1"), error message, cancel
 * reason word (each "" when none), finished-us (decimal ASCII,
 * microseconds since the Unix epoch): the fields of
 * %DEVBG_EVENT_TUPLE_TYPE, in its order.
 *
 * Since: 0.2
 */
#define DEVBG_EVENT_FIELDS 7

/**
 * DEVBG_EVENTS_PAGE_MAX_ENTRIES:
 *
 * The most events in one page of `WatchEvents` or `ListEvents`. A page is
 * bounded by %DEVBG_PACKED_PAGE_MAX_BYTES too: a typical event packs into
 * about 130 bytes, so a full page is far under it, and one of long error
 * messages ends sooner.
 *
 * Since: 0.2
 */
#define DEVBG_EVENTS_PAGE_MAX_ENTRIES 4096

/**
 * DEVBG_PERMISSION_FIELDS:
 *
 * The fields of one record of `ListPermissions`' packed page, in order:
 * uid (decimal ASCII), app ID, device model ID ("" for devices with none),
 * created-us (decimal ASCII, microseconds since the Unix epoch).
 *
 * Since: 0.2
 */
#define DEVBG_PERMISSION_FIELDS 4

/**
 * DEVBG_PERMISSIONS_PAGE_MAX_ENTRIES:
 *
 * The most stored consents in one page of `ListPermissions`. A page is
 * bounded by %DEVBG_PACKED_PAGE_MAX_BYTES too: a typical consent packs
 * into under 60 bytes, so a full page is far under it.
 *
 * Since: 0.2
 */
#define DEVBG_PERMISSIONS_PAGE_MAX_ENTRIES 4096

/**
 * DEVBG_DEVICES_PAGE_MAX_ENTRIES:
 *
 * The most devices in one page of `ListDevices`. A page is bounded by
 * devbgd's `[Service] MaxReplyBytes` too (%DEVBG_PACKED_PAGE_MAX_BYTES
 * unless set): a typical device serializes into about 370 bytes, so a
 * full page of them is under 1.5 MiB, and one of long properties ends
 * sooner. A page always holds at least one device, so that it advances.
 *
 * Since: 0.2
 */
#define DEVBG_DEVICES_PAGE_MAX_ENTRIES 4096

/**
 * DEVBG_DEVICES_PAGE_TYPE:
 *
 * The GVariant type string of one `ListDevices` page, sent as the bytes of
 * its serialized form (little-endian, normal form): each device's ID and
 * its properties, in ID order.
 *
 * Since: 0.2
 */
#define DEVBG_DEVICES_PAGE_TYPE "a(sa{sv})"

/**
 * DEVBG_TASK_DEVICE_FD:
 *
 * The file descriptor of the granted device in a task process.
 *
 * Since: 0.1
 */
#define DEVBG_TASK_DEVICE_FD 3

/**
 * DEVBG_TASK_CHANNEL_FD:
 *
 * The file descriptor of the control channel to devbgd in a task process
 * (a SOCK_SEQPACKET socket; see docs/task-channel.md).
 *
 * Since: 0.1
 */
#define DEVBG_TASK_CHANNEL_FD 4

/**
 * DEVBG_EVENT_TUPLE_TYPE:
 *
 * The GVariant type string of one completion event, as the Completed
 * signal carries it (WatchEvents and ListEvents pack the same fields in
 * the same order, %DEVBG_EVENT_FIELDS): event ID, task ID, instance ID,
 * success, error message, cancel reason word, finished time (microseconds
 * since the Unix epoch).
 *
 * Since: 0.1
 */
#define DEVBG_EVENT_TUPLE_TYPE "(sssbssx)"

/**
 * DEVBG_PROGRESS_TUPLE_TYPE:
 *
 * The GVariant type string of the Progress signal: task ID, instance ID,
 * progress.
 *
 * Since: 0.1
 */
#define DEVBG_PROGRESS_TUPLE_TYPE "(ssu)"
