/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The service's configuration: every policy number of DESIGN section 3,
 * read from a keyfile. Plain data, so the policy code can be tested with a
 * config built in the test.
 */
#pragma once

#include <glib.h>

#include "devbg-enums.h"

G_BEGIN_DECLS

typedef enum {
  DEVBG_HEADLESS_CONSENT_DENY = 0,
  DEVBG_HEADLESS_CONSENT_ALLOW = 1,
} DevbgHeadlessConsent;

#define DEVBG_CONFIG_MAX_PATH 512
#define DEVBG_CONFIG_MAX_USER 33 /* 32 bytes, as useradd allows, and a NUL */

typedef struct {
  /* [Service] */
  guint    max_registrations_per_app;
  gboolean enable_virtual_backend;
  /* Real devices through udev (where sysfs is and devbgd was built with
   * GUdev). */
  gboolean enable_udev_backend;
  /* Paired Bluetooth devices through bluetoothd (org.bluez); only its
   * name is watched while it is not on the bus. */
  gboolean enable_bluez_backend;
  /* DNS-SD devices on the local network through avahi-daemon
   * (org.freedesktop.Avahi); idle while it is not on the bus. */
  gboolean enable_network_backend;
  /* The most bytes of packed records one reply carries (ListRegistrations,
   * History, WatchEvents, ListEvents pages; at least one whole record):
   * below the bus's max_message_size, which would otherwise refuse a reply
   * and drop devbgd's connection with it. */
  guint    max_reply_bytes;
  /* Completion events kept for one (user, app) before its requests are
   * refused (too-many-pending-events); none is ever dropped. */
  guint    max_pending_events;
  /* The history keeps each (user, app)'s newest HistoryMaxPerApp entries,
   * none older than HistoryMaxAge seconds. */
  guint    history_max_per_app;
  double   history_max_age;
  /* The cgroup v2 directory under which each task instance gets its own;
   * "" means automatic (see devbg_cgroup_default_parent()). */
  char     task_cgroup_parent[DEVBG_CONFIG_MAX_PATH];
  /* The user whose uid, gid and groups a root caller's task gets: tasks
   * never run as root. A user that resolves to uid or gid 0, or does not
   * exist, refuses root callers' requests. */
  char     task_user_for_root[DEVBG_CONFIG_MAX_USER];

  /* [Policy]: times in seconds */
  double   use_wall_clock_limit;
  double   servicing_wall_clock_limit;
  double   max_expected_duration;
  guint    min_battery_percent;
  double   io_activity_window;
  guint    cpu_floor_ms;
  guint    cpu_reference_mhz;
  double   cpu_window_locked;
  double   cpu_window_unlocked;
  double   cancel_grace_period;
  gboolean require_foreground;
  DevbgHeadlessConsent headless_consent;
  /* How long a consent agent has to answer a prompt; then it is a denial. */
  double   consent_timeout;
  guint32  use_protocols;       /* bit (1 << DevbgProtocol) per protocol */
  guint32  servicing_protocols;
} DevbgConfig;

/* Fills @config with the defaults of DESIGN section 3. */
void     devbg_config_init_defaults (DevbgConfig *config);

/* Reads keyfile text over the defaults in @config. @origin names the source
 * in messages. Unknown groups and keys, and bad values, are errors
 * (DEVBG_ERROR_BAD_CONFIG) that name the key; on error @config is unchanged. */
gboolean devbg_config_load_data (DevbgConfig *config,
                                 const char  *data,
                                 gsize        length,
                                 const char  *origin,
                                 GError     **error);

gboolean devbg_config_load_file (DevbgConfig *config,
                                 const char  *path,
                                 GError     **error);

gboolean devbg_config_protocol_allowed (const DevbgConfig *config,
                                        DevbgTriggerType   trigger,
                                        DevbgProtocol      protocol);

/* The whole configuration as keyfile text, defaults included. */
char    *devbg_config_to_data (const DevbgConfig *config);

G_END_DECLS
