/* devbg: device background tasks for Linux
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The service object: holds the configuration, the store, the manifests
 * and device metadata, and serves org.devbg.Devbg1.Manager on a bus.
 */
#pragma once

#include <gio/gio.h>

#include "devbg-config.h"
#include "devbg-devices.h"
#include "devbg-names.h"

G_BEGIN_DECLS

typedef struct {
  DevbgConfig config;
  char       *state_dir;
  GStrv       manifest_dirs;
  GStrv       metadata_dirs;
  char       *proc_root; /* "/proc"; tests may point elsewhere */
  /* Flatpak installations trusted (devbg-flatpak.h); NULL: none. */
  const char *flatpak_system_dir;
  const char *flatpak_user_dir;  /* a template: %h home, %u uid */
  const char *flatpak_home_dir;  /* homes for task users that have none */
} DevbgDaemonOptions;

#define DEVBG_TYPE_DAEMON (devbg_daemon_get_type ())
G_DECLARE_FINAL_TYPE (DevbgDaemon, devbg_daemon, DEVBG, DAEMON, GObject)

/* Opens the store and loads manifests and metadata (reporting each bad
 * file in the log); fails only when the store cannot be opened. */
DevbgDaemon *devbg_daemon_new (const DevbgDaemonOptions *options,
                               GError                  **error);

/* Exports the manager object on @connection. */
gboolean     devbg_daemon_export (DevbgDaemon     *daemon,
                                  GDBusConnection *connection,
                                  GError         **error);

/* Gives the daemon its devices and starts the task runtime on the exported
 * connection: ends what a previous devbgd left running. */
void         devbg_daemon_set_devices (DevbgDaemon  *daemon,
                                       DevbgDevices *devices);

/* Ends every running task instance (the service is stopping). */
void         devbg_daemon_shutdown (DevbgDaemon *daemon);

G_END_DECLS
